"""The workload's one set of defaults: the contract's Workload fields are the matrix schema of ``workload:``.

Each field declares its YAML key, its lower bound and its ``--quick`` value; the validator reads them, the
manager writes the same object into bench-config.json, and the benchmarks read it back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from matrices import base

from tfmatrix.errors import MatrixError
from tfmatrix.matrix import validate
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.worker.contract import Workload, setting

FIELDS = dataclasses.fields(Workload)


def nested(path: str, value) -> dict:
    """{"latency": {"min_queries": 7}} for "latency.min_queries"."""
    *parents, leaf = path.split(".")
    out: dict = {leaf: value}
    for p in reversed(parents):
        out = {p: out}
    return out


def test_a_matrix_without_workload_gets_the_contracts_defaults():
    assert parse_matrix(base(), "m.yaml").workload == Workload()


@pytest.mark.parametrize("f", FIELDS, ids=[f.name for f in FIELDS])
def test_every_field_is_set_through_its_yaml_key_and_refused_below_its_bound(f):
    default = getattr(Workload(), f.name)
    if isinstance(default, bool):  # a switch: the other value is taken, anything but a YAML boolean refused
        wanted, bad = not default, "yes please"
    else:
        wanted = (2, 3) if isinstance(default, tuple) else type(default)(f.metadata["minimum"]) + 7
        too_low = f.metadata["minimum"] - 1
        bad = [too_low] if isinstance(default, tuple) else too_low
    matrix = parse_matrix(base(workload=nested(f.metadata["yaml"], list(wanted) if isinstance(wanted, tuple)
                                                else wanted)), "m.yaml")
    assert getattr(matrix.workload, f.name) == wanted
    with pytest.raises(MatrixError) as err:
        parse_matrix(base(workload=nested(f.metadata["yaml"], bad)), "m.yaml")
    assert f"m.yaml: workload.{f.metadata['yaml']}" in err.value.one_line()


def test_quick_keeps_the_shape_and_takes_fewer_samples():
    w = Workload()
    q = w.quick()
    assert q.seed == w.seed and q.batch_sizes == w.batch_sizes[:1] and q.warmup == 1
    assert q.latency_min_queries == 10 and q.latency_min_seconds == 1.0 and q.images == 4
    assert Workload(latency_min_queries=3).quick().latency_min_queries == 3  # never more than asked for


def test_a_new_field_needs_no_validator_code(monkeypatch):
    """A setting added to the contract is read from matrix.yaml at once (here: a made-up one)."""
    Extended = dataclasses.make_dataclass(
        "Extended", [("nms_top_k", int, setting(100, "nms.top_k", 1, lambda v: min(v, 10)))], bases=(Workload,),
        frozen=True)
    monkeypatch.setattr(validate, "Workload", Extended)
    matrix = parse_matrix(base(workload={"nms": {"top_k": 50}, "images": 3}), "m.yaml")
    assert (matrix.workload.nms_top_k, matrix.workload.images) == (50, 3)
    assert matrix.workload.quick().nms_top_k == 10
    with pytest.raises(MatrixError, match=r"workload\.nms\.top_k: got 0 \(int\); expected an integer >= 1"):
        parse_matrix(base(workload={"nms": {"top_k": 0}}), "m.yaml")
    with pytest.raises(MatrixError, match=r"workload\.nms\.topk: got 5 \(int\); expected no such key"):
        parse_matrix(base(workload={"nms": {"topk": 5}}), "m.yaml")


def test_the_matrix_reference_lists_every_workload_key_with_its_default():
    text = (Path(__file__).resolve().parents[1] / "docs" / "matrix.md").read_text(encoding="utf-8")
    section = text.split("## workload", 1)[1].split("\n## ", 1)[0]
    for f in FIELDS:
        default = getattr(Workload(), f.name)
        shown = str(list(default)) if isinstance(default, tuple) else str(default).lower() if isinstance(
            default, bool) else str(default)
        assert f"| `{f.metadata['yaml']}` |" in section, f"docs/matrix.md does not list workload.{f.metadata['yaml']}"
        assert f"`{shown}`" in section, (f.name, shown)
