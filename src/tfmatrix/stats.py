"""Summaries of raw samples (the raw samples are always kept beside them)."""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between order statistics."""
    if not samples:
        raise ValueError("percentile of no samples")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(samples: Sequence[float]) -> dict[str, float | int]:
    xs = [float(s) for s in samples]
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "mean": statistics.fmean(xs),
        "min": min(xs),
        "max": max(xs),
        "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "p50": percentile(xs, 50),
        "p90": percentile(xs, 90),
        "p99": percentile(xs, 99),
    }


#: The confidence of every interval tfmatrix reports.
CONFIDENCE = 0.99


@functools.lru_cache(maxsize=None)
def _median_ci_ranks(n: int, confidence: float) -> tuple[int, int] | None:
    """0-based order statistics bounding the median with ``confidence``, or None when n is too small.

    The distribution-free interval of ``scipy.stats.quantile_test`` (the
    binomial order-statistic interval); the ranks depend only on n, so they
    are computed once per n and reports over thousands of records stay fast.
    """
    from scipy.stats import quantile_test

    ci = quantile_test(list(range(n)), q=n / 2, p=0.5).confidence_interval(confidence)
    if math.isnan(ci.low) or math.isnan(ci.high):
        return None
    return int(ci.low), int(ci.high)


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The ``confidence`` interval of the median from the raw samples; None below the n it needs (8 at 99%)."""
    ranks = _median_ci_ranks(len(samples), confidence)
    if ranks is None:
        return None
    xs = sorted(samples)
    return xs[ranks[0]], xs[ranks[1]]


def relative_spread(samples: Sequence[float]) -> float | None:
    """Standard deviation over the median (pyperf warns above 10 %); None below two samples."""
    if len(samples) < 2:
        return None
    med = statistics.median(samples)
    return statistics.stdev(samples) / med if med else None


#: A change must exceed this many times the run-to-run noise to count (compare's verdicts and the change points).
#: For normal noise of sigma on the log scale, the median absolute difference of successive runs is about
#: 0.95 sigma (sqrt(2) x 0.6745), so 3x it is a step of about 2.9 sigma: rarely one run's noise alone.
NOISE_FACTOR = 3.0


def run_to_run_noise(*series: Sequence[float]) -> float | None:
    """How much one measurement moves between runs: the median |log| factor between successive values.

    Each series is one measurement's run values (medians) in run order; pairs are taken within each series,
    never across them (the change points pass the two levels on either side of a step).  On the log scale,
    because timing noise is relative: a slower level moves more in seconds, not in proportion, and the
    threshold it is judged with is a factor too.  The median, so one disturbed run does not set it.  None
    without a pair of successive positive values.
    """
    logs = [abs(math.log(b / a)) for xs in series for a, b in zip(xs, xs[1:]) if a > 0 and b > 0]
    return statistics.median(logs) if logs else None


def beyond_noise(ratio: float, noise: float) -> bool:
    """Is a change by the factor ``ratio`` more than :data:`NOISE_FACTOR` times the run-to-run ``noise``?"""
    return 0 < ratio < math.inf and abs(math.log(ratio)) > NOISE_FACTOR * noise


@dataclass(frozen=True)
class PairedRatio:
    """A candidate's ratio to its baseline from interleaved rounds: the geometric mean of the per-round ratios of
    medians, and its ``confidence`` interval (Student's t on their logs) over ``rounds`` paired rounds."""

    ratio: float
    low: float
    high: float
    rounds: int

    @property
    def text(self) -> str:
        return f"×{self.ratio:.3f} [×{self.low:.3f}–×{self.high:.3f}]"


def round_medians(samples: Sequence[float], rounds: Sequence[int] | None) -> dict[int, float]:
    """The median of each round's samples (no rounds, or not one per sample: nothing)."""
    if not rounds or len(rounds) != len(samples):
        return {}
    by: dict[int, list[float]] = {}
    for x, r in zip(samples, rounds):
        by.setdefault(int(r), []).append(float(x))
    return {r: statistics.median(xs) for r, xs in by.items()}


def paired_ratio(base: Sequence[float], base_rounds: Sequence[int] | None, cand: Sequence[float],
                 cand_rounds: Sequence[int] | None, confidence: float = CONFIDENCE) -> PairedRatio | None:
    """The candidate over the base, paired round by round; None below 3 rounds both were measured in."""
    from scipy.stats import t

    b, c = round_medians(base, base_rounds), round_medians(cand, cand_rounds)
    logs = [math.log(c[r] / b[r]) for r in sorted(set(b) & set(c)) if b[r] > 0 and c[r] > 0]
    if len(logs) < 3:
        return None
    mean = statistics.fmean(logs)
    half = float(t.ppf(0.5 + confidence / 2, len(logs) - 1)) * statistics.stdev(logs) / math.sqrt(len(logs))
    return PairedRatio(math.exp(mean), math.exp(mean - half), math.exp(mean + half), len(logs))
