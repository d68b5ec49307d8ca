"""records.model and records.status: typed records that own their JSON, and every ending named once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matrices import matrix_with

from tfmatrix.matrix.expand import combinations
from tfmatrix.records.model import CombinationInfo, CombinationRecord, Failure, InstallOutcome, RunRecord
from tfmatrix.records.schema import check
from tfmatrix.records.status import NOT_RUN, SESSION_FAILS, WORKING, Outcome, PhaseStatus, Status, read_outcome

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(p for p in DATA.rglob("*.json") if json.loads(p.read_text()).get("kind") in ("run", "combination"))


@pytest.mark.parametrize("path", FIXTURES, ids=[str(p.relative_to(DATA)) for p in FIXTURES])
def test_every_recorded_fixture_reads_and_writes_back_unchanged(path):
    """Nothing recorded is lost: what the model reads, it writes back to the letter (migrated once)."""
    doc = check(json.loads(path.read_text()), str(path))
    cls = RunRecord if doc["kind"] == "run" else CombinationRecord
    assert cls.from_json(doc).to_json() == doc


def test_there_are_real_records_of_every_status_among_the_fixtures():
    statuses = {json.loads(p.read_text()).get("status") for p in FIXTURES}
    assert {"ok", "degraded", "failed", "skipped"} <= statuses  # (install-failed: the integration tests)


def test_statuses_are_their_values_in_json_text_and_comparisons():
    assert Status.OK == "ok" and f"{Outcome.EXPECTED_FAILURE}" == "expected-failure"
    assert str(PhaseStatus.NO_RESULT) == "no-result" and json.dumps([Status.INSTALL_FAILED]) == '["install-failed"]'
    assert PhaseStatus.CACHED.measured and not PhaseStatus.SKIPPED.measured
    assert Outcome.UNEXPECTED_PASS in SESSION_FAILS and Outcome.EXPECTED_FAILURE not in SESSION_FAILS
    assert Outcome.DEGRADED in WORKING and Outcome.SKIPPED in NOT_RUN and Outcome.PENDING in NOT_RUN


@pytest.mark.parametrize("status, cls, expect, outcome", [
    (Status.OK, None, None, Outcome.OK), (Status.FAILED, "segfault", None, Outcome.FAILED),
    (Status.FAILED, "numpy-abi", "numpy-abi", Outcome.EXPECTED_FAILURE),
    (Status.FAILED, "segfault", "numpy-abi", Outcome.UNEXPECTED_FAILURE),
    (Status.OK, None, "numpy-abi", Outcome.UNEXPECTED_PASS), (Status.DEGRADED, "degraded", "degraded",
                                                              Outcome.EXPECTED_FAILURE),
    (Status.SKIPPED, None, "numpy-abi", Outcome.SKIPPED), (Status.INTERRUPTED, None, "x", Outcome.INTERRUPTED),
    (Status.PENDING, None, "numpy-abi", Outcome.PENDING),  # not an ending: nothing to read against expect
])
def test_read_outcome(status, cls, expect, outcome):
    assert read_outcome(status, cls, expect) == outcome


def test_a_combination_is_described_once_for_its_record():
    combos = {c.id: c for c in combinations(matrix_with(stack_hw={"gpu_type": "H100"}))}
    info = CombinationInfo.of(combos["tf2.20-cuda-pip"])
    assert (info.id, info.tensorflow, info.stack_kind, info.models) == ("tf2.20-cuda-pip", "2.20.0", "cuda-pip",
                                                                       ("small", "big"))
    assert info.requirements[0] == "tensorflow[and-cuda]==2.20.0" and info.hardware["gpu_type"] == "H100"
    assert info.needs_gpu and not CombinationInfo.of(combos["tf2.20-cpu"]).needs_gpu
    assert CombinationInfo.from_json(json.loads(json.dumps(info.to_json()))) == info


def test_an_install_outcome_keeps_its_shape_and_bounds_its_text():
    inst = InstallOutcome("uv", ok=False, error="x" * 9000, failed_step="resolve", check_output="y" * 5000)
    doc = inst.to_json()
    assert len(doc["error"]) == 8000 and len(doc["check"]["output"]) == 4000 and doc["check"]["ok"] is None
    again = InstallOutcome.from_json(doc, ["numpy==1.26.4"])
    assert again.failed_step == "resolve" and again.resolved == ["numpy==1.26.4"]
    assert InstallOutcome.from_json(None) is None


def expecting(expect: str) -> CombinationRecord:
    combo = next(c for c in combinations(matrix_with()) if c.id == "tf2.20-cpu")
    info = CombinationInfo.of(combo)
    return CombinationRecord(run_id="20260101T000000Z-aaaaaa", combination=CombinationInfo.from_json(
        {**info.to_json(), "expect": expect}))


def test_an_expectation_of_a_family_accepts_each_class_of_it():
    from tfmatrix.run.noxside.endings import Ending

    assert read_outcome(Status.INSTALL_FAILED, "no-wheel", "install-failed", "install-failed") == \
        Outcome.EXPECTED_FAILURE
    assert read_outcome(Status.INSTALL_FAILED, "no-wheel", "build-failed", "install-failed") == \
        Outcome.UNEXPECTED_FAILURE
    no_wheel = Failure("no-wheel", "", "", "")
    assert Ending(Status.INSTALL_FAILED, no_wheel).family == "install-failed"  # the taxonomy's
    for failure, status, outcome in [(no_wheel, Status.INSTALL_FAILED, Outcome.EXPECTED_FAILURE),
                                     (Failure("numpy-abi", "", "", ""), Status.FAILED, Outcome.UNEXPECTED_FAILURE)]:
        rec = expecting("install-failed").end(status, failure, family=Ending(status, failure).family)
        assert rec.outcome == outcome and rec.reason == f"{failure.cls}: " and rec.ended_at
