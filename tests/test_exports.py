"""run.exports: where each model's SavedModel comes from (own, shared, brought), its cache key, its digest,
its sidecar, and the producer every record names; diagnosis.rules.load_relation, the TensorFlow promise behind it.

No TensorFlow, no uv: SavedModels are folders holding byte files, the exporter's resolver is a plain callable.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from matrices import BASE

from tfmatrix.diagnosis.rules import load_relation
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.matrix.model import Combination, Matrix
from tfmatrix.records.model import Producer
from tfmatrix.records.status import PhaseStatus
from tfmatrix.run.execution.runner import PhaseSpec
from tfmatrix.run.provisioning import exports

LOCK = "b" * 64
SEED = 0


def matrix(tmp_path: Path) -> Matrix:
    """BASE, a load-only tf2.21 that loads tf2.20's exports, and a SavedModel brought from ``tmp_path/sm``
    (a relative path: read against the folder of the matrix file)."""
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    data = copy.deepcopy(BASE)
    data["tensorflow"].append({"id": "tf2.21", "version": "2.21.0", "export_with": "tf2.20"})
    data["models"].append({"id": "brought", "source": "saved_model", "path": "sm"})
    return parse_matrix(data, str(tmp_path / "m.yaml"), sha256="0" * 64)


def combos(tmp_path: Path) -> dict[str, Combination]:
    return {c.id: c for c in combinations(matrix(tmp_path), "all")}


class Resolver:
    """FAKE ``resolve_exporter`` as :func:`exports.sources` calls it: the exporter's (lock hash, error)."""

    def __init__(self, lock: str = LOCK, error: str = "") -> None:
        self.lock, self.error, self.asked = lock, error, []

    def __call__(self, exporter: Combination) -> tuple[str, str]:
        self.asked.append(exporter.id)
        return self.lock, self.error


def saved_model(folder: Path, weights: bytes = b"w1") -> Path:
    """A SavedModel-shaped folder: the graph and the variables."""
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.index").write_bytes(b"index")
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(weights)
    return folder


# --------------------------------------------------------------------------- export_dir


def test_export_dir_is_keyed_by_exporter_model_lock_and_seed(tmp_path):
    c = combos(tmp_path)
    cache, tf20 = tmp_path / "cache", c["tf2.20-cpu"]
    small = tf20.models[0]
    path = exports.export_dir(cache, tf20, small, LOCK, SEED)
    assert path == exports.export_dir(cache, tf20, small, LOCK, SEED)
    assert path.parent == cache / "exports" / "tf2.20-cpu" and path.name.startswith("small-")
    assert exports.export_dir(cache, tf20, small, "c" * 64, SEED) != path
    assert exports.export_dir(cache, tf20, small, LOCK, SEED + 1) != path
    other = exports.export_dir(cache, c["tf2.15-cpu"], small, LOCK, SEED)
    assert other.parent == cache / "exports" / "tf2.15-cpu" and other.name == path.name  # same key, its own folder


# --------------------------------------------------------------------------- sources


def test_sources_own_shared_and_brought(tmp_path):
    c, cache = combos(tmp_path), tmp_path / "cache"
    resolver = Resolver()
    own = exports.sources(c["tf2.20-cpu"], cache, "a" * 64, SEED, resolver)
    assert own["small"].kind == "own" and own["small"].exporter is c["tf2.20-cpu"]
    assert own["small"].path == exports.export_dir(cache, c["tf2.20-cpu"], own["small"].model, "a" * 64, SEED)
    assert own["small"].lock_sha256 == "a" * 64 and resolver.asked == []  # its own pins: nothing resolved

    shared = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, resolver)
    small = shared["small"]
    assert small.kind == "shared" and small.exporter is not None and small.exporter.id == "tf2.20-cpu"
    assert small.exporter.tf.version == "2.20.0" and resolver.asked == ["tf2.20-cpu"]
    # the key the exporter's own combination would use: whichever runs first makes it for both
    assert small.path == exports.export_dir(cache, small.exporter, small.model, LOCK, SEED)
    assert small.path == exports.export_dir(cache, c["tf2.20-cpu"], small.model, LOCK, SEED)
    assert small.lock_sha256 == LOCK and small.error == "" and not small.exported

    brought = shared["brought"]
    assert brought.kind == "brought" and brought.exporter is None
    assert brought.path == (tmp_path / "sm").resolve() and brought.exported


def test_sources_carry_the_resolvers_error(tmp_path):
    c, cache = combos(tmp_path), tmp_path / "cache"
    src = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, Resolver("", "No solution found when resolving"))
    small = src["small"]
    assert small.kind == "shared" and small.error == "No solution found when resolving" and small.lock_sha256 == ""
    assert small.path == cache / "exports" / "tf2.20-cpu" / "small" and not small.exported
    assert src["brought"].error == ""  # a brought SavedModel needs no exporter


# --------------------------------------------------------------------------- digest


def test_digest_hashes_the_graph_and_variables_only(tmp_path):
    a, b = saved_model(tmp_path / "a"), saved_model(tmp_path / "b")
    assert exports.digest(a) == exports.digest(b)
    before = exports.digest(a)
    (a / exports.EXPORT_META).write_text('{"run_id": "x"}')
    (a / ".tfmatrix-last-used").touch()
    assert exports.digest(a) == before  # tfmatrix's own files beside the SavedModel are not part of it
    (b / "variables" / "variables.data-00000-of-00001").write_bytes(b"w2")
    assert exports.digest(b) != before


def test_digest_of_a_nested_saved_model_equals_the_top_level_one(tmp_path):
    top = saved_model(tmp_path / "top")
    nested = saved_model(tmp_path / "export" / "saved_model")
    (tmp_path / "export" / exports.EXPORT_META).write_text("{}")
    assert exports.digest(tmp_path / "export") == exports.digest(top)
    (nested / "saved_model.pb").write_bytes(b"another graph")
    assert exports.digest(tmp_path / "export") != exports.digest(top)


# --------------------------------------------------------------------------- remember, meta, cached_export


def test_remember_then_meta_and_a_cached_export_keeps_the_original_samples(tmp_path):
    c = combos(tmp_path)
    path = saved_model(tmp_path / "cache" / "exports" / "tf2.20-cpu" / "small-x")
    exports.remember(path, [2.5, 2.25], "run-1", c["tf2.20-cpu"])
    made = exports.meta(path)
    assert made["combination"] == "tf2.20-cpu" and made["tensorflow"] == "2.20.0"
    assert made["tensorflow_id"] == "tf2.20" and made["run_id"] == "run-1" and made["samples"] == [2.5, 2.25]
    assert made["export_sha256"] == exports.digest(path) and len(made["export_sha256"]) == 64

    spec = PhaseSpec("shared-export", "export", "ExportSuite", "track_export_seconds", ("small",), "small")
    phase = exports.cached_export(spec, path)
    assert phase.status == PhaseStatus.CACHED and phase.samples == [2.5, 2.25] and phase.unit == "seconds"
    assert "made by tf2.20-cpu" in phase.note and str(path) in phase.note
    assert phase.cached_from["run_id"] == "run-1" and phase.cached_from["path"] == str(path)
    assert phase.name == "shared-export-small" and phase.model == "small"


def test_remember_writes_nothing_where_no_export_was_made(tmp_path):
    c = combos(tmp_path)
    exports.remember(tmp_path / "missing", [1.0], "run-1", c["tf2.20-cpu"])
    assert not (tmp_path / "missing").exists() and exports.meta(tmp_path / "missing") == {}


# --------------------------------------------------------------------------- producer


def test_producer_of_a_shared_export_names_its_exporter_and_the_relation(tmp_path):
    c, cache = combos(tmp_path), tmp_path / "cache"
    small = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, Resolver())["small"]
    saved_model(small.path)
    exports.remember(small.path, [1.0], "run-1", c["tf2.20-cpu"])
    p = exports.producer(small, c["tf2.21-cpu"], {"tensorflow_version": "2.20.0", "graph_producer": 2001,
                                                  "input": {"fixed_batch": None}, "noise": 1})
    assert (p.model, p.source, p.combination, p.tensorflow, p.tensorflow_id) == (
        "small", "shared", "tf2.20-cpu", "2.20.0", "tf2.20")
    assert p.relation == "newer" and p.lock_sha256 == LOCK and p.export_sha256 == exports.digest(small.path)
    assert p.saved_model == {"tensorflow_version": "2.20.0", "graph_producer": 2001, "input": {"fixed_batch": None}}
    assert p.identity == "from tf2.20-cpu (2.20.0)" and p.label == "exported by TF 2.20.0 (tf2.20-cpu)"
    older = exports.producer(small, c["tf2.15-cpu"], None)  # a consumer older than the exporter
    assert older.relation == "older-than-producer" and older.saved_model is None


def test_producer_of_a_brought_saved_model_reads_its_version_from_the_graph(tmp_path):
    c = combos(tmp_path)
    brought = exports.sources(c["tf2.21-cpu"], tmp_path / "cache", "a" * 64, SEED, Resolver())["brought"]
    p = exports.producer(brought, c["tf2.21-cpu"], {"tensorflow_version": "2.15.1"})
    assert p.source == "brought" and p.combination is None and p.tensorflow_id is None
    assert p.tensorflow == "2.15.1" and p.relation == "newer"
    assert p.export_sha256 == exports.digest(brought.path)
    assert p.identity == "" and p.label == "brought SavedModel (TF 2.15.1)"  # one benchmark whatever its bytes
    unknown = exports.producer(brought, c["tf2.21-cpu"], {})
    assert unknown.tensorflow is None and unknown.relation == "unknown"
    assert unknown.label == "brought SavedModel (TF unknown)"


def test_producer_of_a_combinations_own_export(tmp_path):
    c = combos(tmp_path)
    own = exports.sources(c["tf2.20-cpu"], tmp_path / "cache", "a" * 64, SEED, Resolver())["small"]
    p = exports.producer(own, c["tf2.20-cpu"], None)
    assert p.source == "own" and p.relation == "same" and p.identity == ""
    assert p.export_sha256 is None  # not exported yet: nothing to hash
    assert p.to_json()["combination"] == "tf2.20-cpu"


def test_producer_identity_and_label_strings():
    shared = Producer(model="m", source="shared", path="/p", combination="tf2.20-cpu", tensorflow="2.20.0")
    assert shared.identity == "from tf2.20-cpu (2.20.0)" and shared.label == "exported by TF 2.20.0 (tf2.20-cpu)"
    brought = Producer(model="m", source="brought", path="/p", export_sha256="0123456789abcdef" * 4)
    assert brought.identity == "" and brought.label == "brought SavedModel (TF unknown)"
    own = Producer(model="m", source="own", path="/p", combination="tf2.15-cpu", tensorflow="2.15.1")
    assert own.identity == "" and own.label == "exported by TF 2.15.1 (tf2.15-cpu)"


# --------------------------------------------------------------------------- load_relation


@pytest.mark.parametrize("producer, consumer, relation", [
    ("2.20.0", "2.20.0", "same"),
    ("2.20.0", "2.20.0rc0", "same"),
    ("2.20.0rc0", "2.20.0", "same"),
    ("2.21.0.dev20250301", "2.21.0", "same"),
    ("2.20.0", "2.21.0", "newer"),
    ("2.20.0", "2.20.1", "newer"),
    ("2.15.1", "2.20.0", "newer"),
    ("2.21.0", "2.20.0", "older-than-producer"),
    ("2.20.1", "2.20.0", "older-than-producer"),
    ("1.15.5", "2.20.0", "other-major"),
    ("2.20.0", "1.15.5", "other-major"),
    (None, "2.20.0", "unknown"),
    ("garbage", "2.20.0", "unknown"),
    ("2.20.0", "not a version", "unknown"),
    ("", "2.20.0", "unknown"),
])
def test_load_relation(producer: Any, consumer: str, relation: str):
    assert load_relation(producer, consumer) == relation


@pytest.mark.parametrize("producer, consumer", [("2.20", "2.20.0"), ("2.20.0", "2.20")])
def test_load_relation_pads_short_versions(producer: str, consumer: str):
    """``version: "2.20"`` is a valid entry (PEP 440) and is the 2.20.0 release: the same release either way."""
    assert load_relation(producer, consumer) == "same"
