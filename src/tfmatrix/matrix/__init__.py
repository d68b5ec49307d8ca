"""The matrix: ``matrix.yaml`` validated (:mod:`.load`, :mod:`.validate`) into frozen dataclasses
(:mod:`.model`), expanded into combinations by one predicate (:mod:`.expand`), sliced into shards
(:mod:`.shard`)."""
