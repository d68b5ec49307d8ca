"""potts: asv's step detection with its hot loop in numpy gives asv's own levels, float for float."""

from __future__ import annotations

import math
import random

import pytest
from asv.step_detect import detect_steps as asv_detect_steps

from tfmatrix.history import potts


def series(seed: int, n: int, kind: str) -> list[float | None]:
    rng = random.Random(seed)
    noise = rng.choice([0.005, 0.05, 0.2])
    levels = {"flat": [1.0] * n, "step": [1.0] * (n // 2) + [1.5] * (n - n // 2),
              "two": [1.0] * (n // 3) + [1.3] * (n // 3) + [0.9] * (n - 2 * (n // 3))}
    values: list[float | None] = [lvl * rng.lognormvariate(0, noise) for lvl in levels.get(kind, levels["step"])]
    if kind == "gaps":
        values = [None if rng.random() < 0.2 else v for v in values]
        values[rng.randrange(n)] = math.nan  # asv treats NaN as missing too
    if kind == "constant":
        values = [2.0] * n
    return values


@pytest.mark.parametrize("kind", ["flat", "step", "two", "gaps", "constant"])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 64, 200])
def test_the_levels_are_asvs(kind, n):
    for seed in range(6):
        values = series(seed, n, kind)
        assert potts.detect_steps(values) == [(left, right) for left, right, *_ in asv_detect_steps(values)], seed


def test_an_empty_or_missing_series_has_no_level():
    assert potts.detect_steps([]) == [] == potts.detect_steps([None, None])


def test_a_planted_step_is_a_level_boundary():
    values = [1.0 + 0.001 * (i % 3) for i in range(30)] + [1.5 + 0.001 * (i % 3) for i in range(30)]
    assert [left for left, _ in potts.detect_steps(values)][-1] == 30
