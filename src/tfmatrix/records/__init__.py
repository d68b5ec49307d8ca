"""Records: what a run leaves under results/, typed (:mod:`.model`), stored and read back (:mod:`.store`).

:mod:`.status` names every way a combination or a phase ends, :mod:`.schema`
owns the JSON Schemas and the migrations, and :mod:`.metrics` is the catalogue
of what a phase measured (key, unit, direction) that every reader shares.
"""
