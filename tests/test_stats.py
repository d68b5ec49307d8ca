"""stats: the 99 % interval of the median and the relative spread."""

from __future__ import annotations

import random

import pytest
from scipy.stats import quantile_test

from tfmatrix.stats import median_ci, relative_spread


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
