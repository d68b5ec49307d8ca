"""Records read into pandas DataFrames (reading and checking them is :mod:`tfmatrix.records.store`'s).

The metrics come from the catalogue (:mod:`tfmatrix.records.metrics`), so the
report's names, units and directions are compare's.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from ..records import metrics as catalogue
from ..records.model import CombinationRecord
from ..records.status import PhaseStatus
from ..stats import median_ci, percentile, relative_spread

GRID_COLUMNS = ["combination_id", "model", "tensorflow", "tensorflow_id", "stack", "stack_kind", "python", "status",
                "outcome", "expect", "failure_class", "reason", "predicted"]


def combinations_frame(records: Iterable[CombinationRecord]) -> pd.DataFrame:
    """One row per (combination, model): what the grid shows."""
    rows = []
    for r in records:
        c = r.combination
        for model in c.models or (None,):
            rows.append({
                "combination_id": c.id, "model": model, "tensorflow": c.tensorflow, "tensorflow_id": c.tensorflow_id,
                "stack": c.stack, "stack_kind": c.stack_kind, "python": c.python, "status": str(r.status),
                "outcome": str(r.outcome), "expect": c.expect, "failure_class": r.failure.cls if r.failure else None,
                "reason": r.reason, "predicted": r.preflight.predicted if r.preflight else "",
            })
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


METRIC_COLUMNS = ["run_id", "combination_id", "model", "metric", "label", "unit", "better", "repeated", "repeats_key",
                  "batch", "cached", "n", "median", "ci_low", "ci_high", "min", "max", "p90", "p99", "spread",
                  "samples", "rounds"]


def metrics_frame(records: Iterable[CombinationRecord]) -> pd.DataFrame:
    """One row per (combination, model, metric) with the median, its 99 % CI and the raw samples."""
    rows = []
    for r in records:
        for phase, metric, xs in catalogue.all_measured(r.phases):
            ci = median_ci(xs)
            rows.append({
                "run_id": r.run_id, "combination_id": r.id, "model": phase.model, "metric": metric.key,
                "label": metric.label, "unit": metric.unit, "better": metric.better, "repeated": metric.repeated,
                "repeats_key": metric.repeats_key, "batch": phase.batch,
                "cached": phase.status == PhaseStatus.CACHED, "n": len(xs), "median": float(pd.Series(xs).median()),
                "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None, "min": min(xs), "max": max(xs),
                "p90": percentile(xs, 90), "p99": percentile(xs, 99), "spread": relative_spread(xs), "samples": xs,
                "rounds": phase.rounds if phase.rounds and len(phase.rounds) == len(xs) else None,
            })
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
