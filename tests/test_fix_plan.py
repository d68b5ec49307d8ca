"""A fix probe's matrix entry (tfmatrix.fixing.plan) and a fix search's saved state (tfmatrix.fixing.state)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tfmatrix.diagnosis.remedies import Candidate, PinChange
from tfmatrix.errors import TfmatrixError
from tfmatrix.fixing import state
from tfmatrix.fixing.plan import FixPlan, FixSlot, changed_entry
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix, parse_matrix
from tfmatrix.records.model import Failure
from tfmatrix.records.store import RunDir

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"id": "tf2.15-numpy2", "version": "2.15.1", "models_official": "2.15.0",
         "requires": ["tensorflow-metadata<1.18"], "force": ["numpy>=2"], "expect": "numpy-abi", "stacks": ["cpu"]}


def cand(*changes: PinChange, kind: str = "into-range") -> Candidate:
    return Candidate(kind, changes, "why")


def test_a_dropped_force_goes_and_the_range_becomes_a_requirement():
    out = changed_entry(ENTRY, [PinChange("numpy", "2.4.6", ">=1.23.5,<2.0.0", "numpy>=2")], "tensorflow")
    assert "force" not in out and out["requires"] == ["tensorflow-metadata<1.18", "numpy>=1.23.5,<2.0.0"]
    assert ENTRY["force"] == ["numpy>=2"]  # the user's entry is not changed


def test_a_requirement_of_the_same_package_is_replaced_and_releases_are_set():
    out = changed_entry(ENTRY, [PinChange("tensorflow-metadata", "1.21.0", "==1.17.1"),
                                PinChange("tensorflow", "2.15.1", "2.16.2"),
                                PinChange("tf-models-official", "2.15.0", "==2.16.0"),
                                PinChange("python", "3.11", "3.10")], "tensorflow")
    assert out["requires"] == ["tensorflow-metadata==1.17.1"] and out["force"] == ["numpy>=2"]
    assert (out["version"], out["models_official"]) == ("2.16.2", "2.16.0")


def test_the_probe_matrix_is_a_valid_matrix_with_one_profile_of_the_probes():
    raw = yaml.safe_load((ROOT / "matrix.yaml").read_text())
    template = next(c for c in combinations(load_matrix(ROOT / "matrix.yaml"), "all") if c.id == "tf2.15-numpy2-cpu")
    plan = FixPlan(template, raw, ROOT)
    slots = [FixSlot(3, cand(PinChange("numpy", "2.4.6", "", "numpy>=2"), PinChange("python", "3.11", "3.10")),
                     import_only=True)]
    doc = plan.matrix(slots)
    matrix = parse_matrix(doc, "probe.yaml")
    (combo,) = combinations(matrix, "tfmatrix-bisect")
    assert combo.id == "fix-3-import-cpu" and combo.python == "3.10" and combo.expect is None
    assert combo.tf.force == () and combo.tf.requires == ("tensorflow-metadata<1.18",)
    assert [m.id for m in combo.models] == [m.id for m in template.models]


def test_a_search_is_saved_and_read_back_whole(tmp_path):
    run = RunDir(tmp_path, "20261207T040000Z-000001")
    search = state.FixSearch("c-cpu", run.run_id, "20261207T050000Z-000002", Failure("numpy-abi", "e", "x", "y",
                             "numpy 2.4.6", "b"), "failed", ("tensorflow",), 5,
                             [state.Tried(1, cand(PinChange("numpy", "2.4.6", "<2")), "quick", "r", "fix-1-cpu", "ok")],
                             "fixed", cand(PinChange("numpy", "2.4.6", "<2")), ["p"], [], ["n"])
    path = state.save(run, search)
    assert path == run.path / "fixes" / "c-cpu.json"
    again = state.read(run, "c-cpu")
    assert again == search and again.tried[0].passed
    assert state.verified(run.path) == {"c-cpu": search}


def test_a_state_of_another_schema_is_a_one_line_error(tmp_path):
    run = RunDir(tmp_path, "20261207T040000Z-000001")
    (run.path / "fixes").mkdir(parents=True)
    (run.path / "fixes" / "c-cpu.json").write_text(json.dumps({"schema_version": 99, "kind": "fix"}))
    with pytest.raises(TfmatrixError, match=r"c-cpu.json: schema_version: got 99; expected 1"):
        state.read(run, "c-cpu")
    assert state.verified(run.path) == {}  # the report leaves a bad file out
