"""Change points over the history of runs, found with asv's step detection.

A series is one (combination, model, metric) across the runs, oldest first;
each run contributes the median of its raw samples (asv's value of a
benchmark).  ``asv.step_detect.detect_steps`` fits a piecewise constant
function to it (an L1 Potts model whose penalty is chosen by an information
criterion), unweighted: ``asv publish`` weighs points by their confidence
interval, which hid a plain 1.5x step in about a third of simulated 20-run
histories with 5 % noise (the slower level has wider intervals, so less
weight).  Then, much as asv's ``detect_regressions`` filters those steps,
neighbouring levels are joined unless they differ

* by more than the threshold (``compare``'s 1.10 by default), and
* by more than :data:`tfmatrix.stats.NOISE_FACTOR` (3) times the run-to-run
  noise, :func:`tfmatrix.stats.run_to_run_noise` of the runs within the two
  levels (the median factor between successive runs; compare judges a change
  against the same noise, read from the history before the candidate).  On short
  histories the Potts fit tends to give every run its own level; this gate
  is what joins them back, and it means two runs alone never show a change;

and a single run between two levels that agree is an outlier, not two
changes.  Each remaining boundary is a change point; ``before`` and ``after``
are the medians of the run values on either side.

Why asv's step detection and not E-divisive (signal-processing-algorithms,
apache-otava): asv is already the dependency that publishes the results and
its detector drives asv's own regressions view; with the gate above it gives
an answer on the handful of noisy runs a history holds, where E-divisive's
permutation tests need more points and bring extra dependencies.  (asv's site
works per commit; this history is per run, so the two can differ.)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from asv.step_detect import detect_steps

from ..records.metrics import Metric, by_key
from ..records.model import CombinationRecord
from ..records.runcache import Cache, RunSummary
from ..records.store import load_run, run_folders
from ..stats import beyond_noise, run_to_run_noise
from . import compare

#: (combination id, model or None, metric)
Key = compare.Key
#: one run's metrics: key -> raw samples
RunMetrics = Mapping[Key, Sequence[float]]
#: the history: (run id, its metrics), oldest run first
History = Sequence[tuple[str, RunMetrics]]


@dataclass(frozen=True)
class ChangePoint:
    combination: str
    model: str | None
    metric: Metric
    run_id: str  # the first run at the new level
    before: float  # median of the run values at the old level
    after: float
    ratio: float  # after / before

    @property
    def unit(self) -> str:
        return self.metric.unit

    @property
    def verdict(self) -> str:
        return "regression" if self.metric.worse(self.ratio) else "improvement"


def run_metrics(records: Iterable[CombinationRecord]) -> dict[Key, list[float]]:
    """Every judged metric of one run's combination records (as compare judges them)."""
    return compare.series(records)


def history(results_root: Path) -> list[tuple[str, dict[Key, list[float]]]]:
    """Every run folder under ``results_root``, oldest first; unreadable records are left out."""
    return [(r.run_id, run_metrics(r.records)) for r in map(load_run, run_folders(results_root))]


def change_points_for(results_root: Path, threshold: float = compare.DEFAULT_THRESHOLD) -> list[ChangePoint]:
    return find_change_points(history(results_root), threshold=threshold)


def for_runs(runs: Iterable[Any], threshold: float = compare.DEFAULT_THRESHOLD) -> list[ChangePoint]:
    """Change points of runs already read (:class:`~tfmatrix.records.store.Run`, oldest first)."""
    return find_change_points([(r.run_id, run_metrics(r.records)) for r in runs], threshold=threshold)


def for_summaries(runs: Sequence[RunSummary], cache: Cache | None = None,
                  threshold: float = compare.DEFAULT_THRESHOLD) -> list[ChangePoint]:
    """Change points from the runs' cached summaries (oldest first); ``cache`` keeps each series' fitted
    levels, keyed by the series' (run, value) pairs, so only a series that changed (a new run touched it) is
    fitted again.  The same change points as :func:`find_change_points` over the runs read in full (a test checks it)."""
    series: dict[tuple[str, str | None, str], list[float | None]] = {}
    for i, run in enumerate(runs):
        for key, value in run.medians.items():
            series.setdefault(key, [None] * len(runs))[i] = value
    run_ids = [r.run_id for r in runs]
    at = {rid: i for i, rid in enumerate(run_ids)}
    states = cache.series_states() if cache else {}
    keys = sorted(series, key=lambda k: (k[0], k[1] or "", k[2]))
    steps: dict[tuple[str, str | None, str], list[tuple[int, int]]] = {}
    stale: list[tuple[tuple[str, str | None, str], str, str]] = []
    keys = [k for k in keys if not within(series[k], threshold)]
    for key in keys:
        name = json.dumps(list(key))
        # asv fits the runs that have a value (a gap is skipped), so a run that lacks this series leaves it as is
        sig = hashlib.sha256(json.dumps([(run_ids[i], v) for i, v in enumerate(series[key]) if v is not None])
                             .encode()).hexdigest()
        hit = _cached_steps(states.get(name), sig, at)
        if hit is None:
            stale.append((key, name, sig))
        else:
            steps[key] = hit
    for (key, _, _), fit in zip(stale, fit_all([series[k] for k, _, _ in stale])):
        steps[key] = fit
    if cache and stale:
        cache.put_series([(name, sig, json.dumps([(run_ids[a], run_ids[b - 1]) for a, b in steps[key]]))
                          for key, name, sig in stale])
    out: list[ChangePoint] = []
    for key in keys:
        out += _series_change_points((key[0], key[1], by_key(key[2])), run_ids, series[key], threshold, steps[key])
    return out


def within(values: Sequence[float | None], threshold: float) -> bool:
    """Do all the values lie within ``threshold`` of each other (and above 0)?  Then no change point can be
    found, whatever the fit: two levels must differ by more than the threshold, and a level's value is the median
    of some of these values, so between their least and their greatest.  Such a series is not fitted."""
    present = [v for v in values if v is not None]
    return bool(present) and min(present) > 0 and max(present) <= threshold * min(present)


#: fewer series than this are fitted in this process (a pool's start costs more than it saves)
PARALLEL_FROM = 64


def fit(values: list[float | None]) -> list[tuple[int, int]]:
    """asv's fitted levels of one series, as (first, past-the-last) run indices."""
    return [(left, right) for left, right, *_ in detect_steps(values)]


def fit_all(many: list[list[float | None]]) -> list[list[tuple[int, int]]]:
    """:func:`fit` of each series, across processes (bounded by the cores) when there are many."""
    workers = min(os.cpu_count() or 1, len(many) // PARALLEL_FROM)
    if workers <= 1:
        return [fit(v) for v in many]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fit, many, chunksize=max(1, len(many) // (16 * workers))))  # small chunks: even ends


def _cached_steps(state: tuple[str, str] | None, sig: str, at: Mapping[str, int]) -> list[tuple[int, int]] | None:
    """The cached fit of a series whose values are unchanged: its levels by (first, last) run, as indices now."""
    if state is None or state[0] != sig:
        return None
    try:
        return [(at[first], at[last] + 1) for first, last in json.loads(state[1])]
    except (ValueError, TypeError, KeyError):
        return None  # a damaged row: fit again


def find_change_points(runs: History, threshold: float = compare.DEFAULT_THRESHOLD) -> list[ChangePoint]:
    """Change points of every series in ``runs``; a run lacking a metric is a gap, not a zero."""
    run_ids = [rid for rid, _ in runs]
    keys = sorted({k for _, m in runs for k in m}, key=lambda k: (k[0], k[1] or "", k[2].key))
    out: list[ChangePoint] = []
    for key in keys:
        values = [statistics.median(m[key]) if m.get(key) else None for _, m in runs]
        out += _series_change_points(key, run_ids, values, threshold)
    return out


def _series_change_points(key: Key, run_ids: list[str], values: list[float | None], threshold: float,
                          steps: Sequence[tuple[int, int]] | None = None) -> list[ChangePoint]:
    levels = _Levels(values, threshold)
    if steps is None:
        steps = fit(values)
    segments = levels.merge([[i for i in range(left, right) if values[i] is not None] for left, right in steps])
    out = []
    for a, b in zip(segments, segments[1:]):
        before, after = levels.value(a), levels.value(b)
        out.append(ChangePoint(key[0], key[1], key[2], run_ids[b[0]], before, after, after / before))
    return out


class _Levels:
    """The rules that turn asv's fitted levels into change points (see the module docstring)."""

    def __init__(self, values: list[float | None], threshold: float) -> None:
        self.values = values
        self.threshold = threshold

    def run_values(self, seg: list[int]) -> list[float]:
        """The values of a level's runs (a level holds only runs that have one)."""
        return [v for v in (self.values[i] for i in seg) if v is not None]

    def value(self, seg: list[int]) -> float:
        return statistics.median(self.run_values(seg))

    def differ(self, a: list[int], b: list[int]) -> bool:
        x, y = self.value(a), self.value(b)
        noise = run_to_run_noise(self.run_values(a), self.run_values(b))  # within each level, never across
        if x <= 0 or y <= 0 or noise is None:
            return False
        return max(y / x, x / y) > self.threshold and beyond_noise(y / x, noise)

    def outlier(self, segs: list[list[int]], j: int) -> bool:
        """A single run between two levels that agree."""
        return 0 < j < len(segs) - 1 and len(segs[j]) == 1 and not self.differ(segs[j - 1], segs[j + 1])

    def gap(self, a: list[int], b: list[int]) -> float:
        x, y = self.value(a), self.value(b)
        return abs(math.log(y / x)) if x > 0 and y > 0 else 0.0

    def merge(self, segs: list[list[int]]) -> list[list[int]]:
        """Join the closest neighbouring levels that do not differ, then outliers with their neighbours."""
        segs = [s for s in segs if s]
        while True:
            same = [j for j in range(1, len(segs)) if not self.differ(segs[j - 1], segs[j])]
            if same:
                j = min(same, key=lambda j: self.gap(segs[j - 1], segs[j]))
                segs[j - 1:j + 1] = [segs[j - 1] + segs[j]]
                continue
            lone = next((j for j in range(len(segs)) if self.outlier(segs, j)), None)
            if lone is None:
                return segs
            segs[lone - 1:lone + 2] = [segs[lone - 1] + segs[lone] + segs[lone + 1]]
