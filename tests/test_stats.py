"""stats: the 99 % interval of the median and the relative spread."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import quantile_test

from tfmatrix.stats import NOISE_FACTOR, beyond_noise, median_ci, relative_spread, run_to_run_noise


@pytest.mark.parametrize("n", [1, 2, 5, 7, 8, 9, 20, 36, 101])
def test_median_ci_is_scipys_order_statistic_interval(n):
    rng = random.Random(n)
    xs = [rng.lognormvariate(0, 0.2) for _ in range(n)]
    ours = median_ci(xs)
    ref = quantile_test(xs, q=1.0, p=0.5).confidence_interval(0.99)
    if n < 8:  # 2 * 0.5**7 > 0.01: no order statistics bound the median at 99 %
        assert ours is None
    else:
        assert ours == (ref.low, ref.high)
        assert ours[0] <= sorted(xs)[n // 2] <= ours[1]


def test_median_ci_narrows_with_more_samples():
    rng = random.Random(0)
    small = [rng.gauss(1, 0.1) for _ in range(10)]
    large = [rng.gauss(1, 0.1) for _ in range(400)]
    lo_s, hi_s = median_ci(small)
    lo_l, hi_l = median_ci(large)
    assert hi_l - lo_l < (hi_s - lo_s) / 2


def test_relative_spread():
    assert relative_spread([1.0]) is None
    assert relative_spread([1.0, 1.0, 1.0]) == 0.0
    assert relative_spread([0.9, 1.0, 1.1]) == pytest.approx(0.1)


def test_paired_ratio_pairs_the_rounds_and_its_interval_holds_a_steady_ratio_through_drift():
    import random

    from tfmatrix.stats import paired_ratio

    rng = random.Random(0)
    base, cand, rounds = [], [], []
    for r in range(10):
        drift = 1 + 0.3 * r / 10  # the machine slows by 30 % over the run: both sides alike
        for _ in range(5):
            base.append(0.1 * drift * rng.uniform(0.98, 1.02))
            cand.append(0.11 * drift * rng.uniform(0.98, 1.02))
            rounds.append(r)
    got = paired_ratio(base, rounds, cand, rounds)
    assert got is not None and got.rounds == 10
    assert got.low < 1.1 < got.high and got.high / got.low < 1.03  # tight despite the drift
    assert paired_ratio(base, None, cand, rounds) is None  # not interleaved: no pairing
    assert paired_ratio(base[:10], rounds[:10], cand[:10], rounds[:10]) is None  # 2 rounds: too few


def test_round_medians_need_one_round_per_sample():
    from tfmatrix.stats import round_medians

    assert round_medians([1.0, 3.0, 2.0, 5.0], [0, 0, 1, 1]) == {0: 2.0, 1: 3.5}
    assert round_medians([1.0, 2.0], [0]) == {}


def test_run_to_run_noise_is_the_median_factor_between_successive_runs():
    assert run_to_run_noise([1.0, 1.1, 1.0, 1.05]) == pytest.approx(math.log(1.1))
    assert run_to_run_noise([2.0, 2.0, 2.0]) == 0.0
    assert run_to_run_noise([1.0]) is None and run_to_run_noise() is None and run_to_run_noise([0.0, 1.0]) is None
    # relative: the same jitter at ten times the level is the same noise
    assert run_to_run_noise([10.0, 11.0, 10.0]) == pytest.approx(run_to_run_noise([1.0, 1.1, 1.0]))
    # pairs within each series, never across: the step between two levels is not noise
    assert run_to_run_noise([1.0, 1.0], [2.0, 2.0]) == 0.0


def test_a_change_counts_beyond_noise_factor_times_the_noise():
    assert NOISE_FACTOR == 3.0
    assert beyond_noise(1.5, 0.1) and beyond_noise(1 / 1.5, 0.1)  # |log 1.5| = 0.41 > 0.3, either way
    assert not beyond_noise(1.2, 0.1) and not beyond_noise(math.inf, 0.0) and not beyond_noise(0.0, 0.0)
