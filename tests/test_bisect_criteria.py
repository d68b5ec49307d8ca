"""What "bad" means, read from records: outcomes, and metrics judged with compare's statistics."""

from __future__ import annotations

import pytest
import synthetic

from tfmatrix.bisection.criteria import MetricCriterion, OutcomeCriterion
from tfmatrix.bisection.search import Verdict
from tfmatrix.errors import TfmatrixError
from tfmatrix.records.model import Failure

NUMPY = Failure("numpy-abi", "ImportError: numpy.core.multiarray failed to import", "x", "y")


def failed(cls_failure=NUMPY, status="failed"):
    return synthetic.record("p", status, failure=cls_failure)


@pytest.mark.parametrize("when, fixed, rec, verdict", [
    ("class=numpy-abi", False, failed(), Verdict.NEW),
    ("class=numpy-abi", False, synthetic.record("p"), Verdict.OLD),
    ("class=numpy-abi", True, failed(), Verdict.OLD),  # --fixed: still failing is the old state
    ("class=numpy-abi", True, synthetic.record("p"), Verdict.NEW),
    ("failed", False, failed(), Verdict.NEW),
    ("degraded", False, synthetic.record("p", "degraded"), Verdict.NEW),
    ("degraded", False, failed(), Verdict.OLD),
    # an install failure is skipped over, unless it is the failure asked about
    ("failed", False, failed(Failure("no-wheel", "no wheel", "x", "y"), "install-failed"), Verdict.SKIP),
    ("class=no-wheel", False, failed(Failure("no-wheel", "no wheel", "x", "y"), "install-failed"), Verdict.NEW),
    ("class=install-failed", False, failed(Failure("no-wheel", "no wheel", "x", "y"), "install-failed"), Verdict.NEW),
    ("failed", False, synthetic.record("p", "skipped", reason="no GPU"), Verdict.SKIP),
])
def test_an_outcome_reads_each_ending(when, fixed, rec, verdict):
    got = OutcomeCriterion.parse(when, fixed).judge("2.17.0", rec, None)
    assert got.verdict is verdict
    if rec.failure is not None:
        assert rec.failure.evidence in got.evidence


@pytest.mark.parametrize("when, expected", [
    ("class=nump-abi", "got class 'nump-abi'; expected a failure class of the taxonomy"),
    ("crashed", "got 'crashed'; expected failed, degraded or class=CLASS"),
])
def test_a_bad_outcome_is_one_line(when, expected):
    with pytest.raises(TfmatrixError, match=expected):
        OutcomeCriterion.parse(when, False)


def imports(*samples, status="ok"):
    return synthetic.record("p", status, [synthetic.phase("import", None, samples=samples)], models=())


BASE = imports(2.2, 2.25, 2.3, 2.21, 2.28)


def test_the_good_end_is_the_reference():
    got = MetricCriterion.parse("import", 1.3, False).judge("2.15.1", BASE, None)
    assert got.verdict is Verdict.OLD and got.value == pytest.approx(2.25) and "reference" in got.evidence


def test_a_significant_slowdown_beyond_the_factor_is_new():
    got = MetricCriterion.parse("import", 1.3, False).judge("2.17.0", imports(4.1, 4.2, 4.15, 4.3, 4.18), BASE)
    assert got.verdict is Verdict.NEW and "×1.8" in got.evidence and "regression" in got.evidence


def test_a_slowdown_under_the_factor_is_old():
    got = MetricCriterion.parse("import", 1.3, False).judge("2.16.1", imports(2.5, 2.55, 2.6, 2.52, 2.58), BASE)
    assert got.verdict is Verdict.OLD


def test_samples_that_cannot_decide_are_undecided():
    noisy = imports(1.0, 6.0, 2.0, 5.0, 3.3)  # median ×1.47, but the samples overlap the base's
    got = MetricCriterion.parse("import", 1.3, False).judge("2.16.2", noisy, BASE)
    assert got.verdict is Verdict.UNDECIDED and "not-significant" in got.evidence


def test_three_samples_a_side_are_too_few_for_p_below_001():
    got = MetricCriterion.parse("import", 1.3, False).judge("2.16.2", imports(4.0, 4.1, 4.2), imports(2.0, 2.1, 2.2))
    assert got.verdict is Verdict.UNDECIDED


def test_fixed_finds_the_improvement():
    got = MetricCriterion.parse("import", 1.3, True).judge("2.19.0", imports(1.1, 1.12, 1.15, 1.13, 1.14), BASE)
    assert got.verdict is Verdict.NEW


def test_a_probe_without_the_metric_is_a_skip_with_its_ending():
    got = MetricCriterion.parse("import", 1.3, False).judge("2.17.0", failed(), BASE)
    assert got.verdict is Verdict.SKIP and "numpy-abi" in got.evidence


@pytest.mark.parametrize("key, factor, expected", [
    ("speed", 1.3, "got 'speed'; expected import, load"),
    ("import", 0.9, "got 0.9; expected a ratio above 1"),
])
def test_a_bad_metric_is_one_line(key, factor, expected):
    with pytest.raises(TfmatrixError, match=expected):
        MetricCriterion.parse(key, factor, False)
