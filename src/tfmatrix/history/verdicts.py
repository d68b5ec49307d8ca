"""A metric's verdict between two sets of samples: the factor, Mann-Whitney's p, and whether the counts can
reach it at all.

A change is judged only when the candidate's median is beyond the threshold factor; then, before any test,
:func:`reachable_p` says whether these sample counts can reach ``alpha`` at all (3 against 3: never, its
smallest two-sided p is 0.1); where they cannot, the verdict is :func:`undecidable` with its reason.  Otherwise
the two-sided Mann-Whitney U test (as asv does), then the run-to-run noise where the history knows it.
"""

from __future__ import annotations

import math
import statistics

from ..records.metrics import Metric
from ..stats import PairedRatio, beyond_noise

DEFAULT_THRESHOLD = 1.10
DEFAULT_ALPHA = 0.01
UNDECIDABLE = "undecidable"  # the verdict's first word where the sample counts cannot reach alpha


def load_test() -> None:
    """Import the test's library now (scipy.stats: about 1 s).  Before a pool forks its workers, so they share
    it instead of each importing it on its first test."""
    import scipy.stats  # noqa: F401


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def reachable_p(n_base: int, n_cand: int) -> float:
    """The smallest two-sided p the Mann-Whitney test can give with these sample counts: its p when the two
    sides lie wholly apart (3 against 3: 0.1, whatever the change).  Computed as scipy's ``method="auto"``
    does, without scipy (the nox process asks it too): the exact distribution where a side has 8 samples or
    fewer, 2 / C(n+m, n); else the normal approximation with its continuity correction.  A test holds it
    equal to scipy's own p."""
    if min(n_base, n_cand) == 0:
        return 1.0
    if min(n_base, n_cand) <= 8:
        return min(1.0, 2 / math.comb(n_base + n_cand, n_base))
    mean, sd = n_base * n_cand / 2, math.sqrt(n_base * n_cand * (n_base + n_cand + 1) / 12)
    return min(1.0, math.erfc((mean - 0.5) / sd / math.sqrt(2)))


def samples_needed(alpha: float) -> int:
    """The fewest samples a side with which a change can reach ``p < alpha`` at all."""
    n = 1
    while reachable_p(n, n) >= alpha and n < 1000:
        n += 1
    return n


def undecidable(n_base: int, n_cand: int, alpha: float) -> str:
    """The verdict where the counts cannot reach ``alpha``: "undecidable (n=3 a side; a verdict needs ≥ 5)"."""
    sides = f"n={n_base} a side" if n_base == n_cand else f"n={n_base} against {n_cand}"
    return f"{UNDECIDABLE} ({sides}; a verdict needs ≥ {samples_needed(alpha)})"


def compare_metric(metric: Metric, base: list[float], cand: list[float], *, threshold: float,
                   alpha: float, noise: float | None = None) -> tuple[float, float | None, str]:
    """(ratio candidate/base of medians, p-value, verdict), read in the metric's direction.  Before any test:
    whether these sample counts can reach ``alpha`` at all; where they cannot, the verdict is
    :func:`undecidable`, never a ``not-significant`` that could not have been anything else."""
    bm, cm = statistics.median(base), statistics.median(cand)
    ratio = cm / bm if bm > 0 else float("inf")
    if max(ratio, 1 / ratio if ratio > 0 else float("inf")) <= threshold:
        return ratio, None, "unchanged"
    if reachable_p(len(base), len(cand)) >= alpha:
        return ratio, None, undecidable(len(base), len(cand), alpha)
    p = mann_whitney_p(base, cand)
    if p >= alpha:
        return ratio, p, "not-significant"
    if noise is not None and 0 < ratio < math.inf and not beyond_noise(ratio, noise):
        return ratio, p, "within-noise"
    return ratio, p, "regression" if metric.worse(ratio) else "improvement"


def compare_paired(metric: Metric, paired: PairedRatio, *, threshold: float) -> str:
    """The verdict of a ratio from paired rounds: beyond the threshold, and its interval excludes 1."""
    if max(paired.ratio, 1 / paired.ratio) <= threshold:
        return "unchanged"
    if paired.low <= 1 <= paired.high:
        return "not-significant"
    return "regression" if metric.worse(paired.ratio) else "improvement"
