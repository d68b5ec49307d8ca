"""Records read into pandas DataFrames (reading and checking them is :mod:`tfmatrix.records`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from ..stats import median_ci, relative_spread


@dataclass(frozen=True)
class Metric:
    """A column of the timing tables."""

    key: str  # stable id, also the compare metric name for single-valued ones
    label: str
    unit: str  # seconds, images/s, bytes
    better: str  # lower or higher
    repeated: bool  # measured several times by design (single-shot ones are not judged for spread)
    repeats_key: str = ""  # the matrix.yaml key that raises the sample count


IMPORT = Metric("import", "import", "seconds", "lower", True, "workload.import_repeats")
EXPORT = Metric("export", "export", "seconds", "lower", False)
LOAD = Metric("load", "cold load", "seconds", "lower", True, "workload.load_repeats")
FIRST = Metric("first-inference", "first inference", "seconds", "lower", False)
LATENCY = Metric("latency", "latency b1", "seconds", "lower", True, "workload.latency.min_queries")
PEAK_RSS = Metric("peak-rss", "peak host RSS", "bytes", "lower", False)
GPU_MEMORY = Metric("gpu-memory", "peak GPU memory", "bytes", "lower", False)


def throughput_metric(batch: int) -> Metric:
    return Metric(f"throughput[b{batch}]", f"throughput b{batch}", "images/s", "higher", True,
                  "workload.latency.min_queries" if batch == 1 else "workload.throughput.min_queries")


def outcome_of(record: dict[str, Any]) -> str:
    return record.get("outcome") or record["status"]


def combinations_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (combination, model): what the grid shows."""
    rows = []
    for r in records:
        c = r["combination"]
        failure = r.get("failure") or {}
        for model in c.get("models") or [None]:
            rows.append({
                "combination": c["id"], "model": model, "tensorflow": c.get("tensorflow", ""),
                "tensorflow_id": c.get("tensorflow_id", c["id"]), "stack": c.get("stack", ""),
                "stack_kind": c.get("stack_kind", ""), "python": c.get("python", ""),
                "status": r["status"], "outcome": outcome_of(r), "expect": r.get("expect"),
                "failure_class": failure.get("class"), "reason": r.get("reason", ""),
                "predicted": (r.get("preflight") or {}).get("predicted", ""),
            })
    return pd.DataFrame(rows, columns=["combination", "model", "tensorflow", "tensorflow_id", "stack", "stack_kind",
                                       "python", "status", "outcome", "expect", "failure_class", "reason", "predicted"])


def _phase_metrics(phase: dict[str, Any]) -> list[tuple[Metric, list[float]]]:
    """The metrics one phase record gives, with their raw samples."""
    samples = [float(x) for x in phase.get("samples") or []]
    if phase["status"] not in ("ok", "cached") or not samples:
        return []
    kind, batch = phase["phase"], phase.get("batch")
    if kind == "import":
        return [(IMPORT, samples)]
    if kind == "export":
        return [(EXPORT, samples)]
    if kind == "load":
        return [(LOAD, samples)]
    if kind == "first-inference":
        return [(FIRST, samples)]
    if kind == "peakmem":
        gpu = phase.get("gpu_peak_memory_bytes") or {}  # TensorFlow's get_memory_info, per GPU
        return [(PEAK_RSS, samples)] + ([(GPU_MEMORY, [float(max(gpu.values()))])] if gpu else [])
    if kind in ("latency", "throughput") and batch:
        out = [(throughput_metric(batch), [batch / s for s in samples if s > 0])]
        if batch == 1:
            out.insert(0, (LATENCY, samples))
        return out
    return []


METRIC_COLUMNS = ["run_id", "combination", "model", "metric", "label", "unit", "better", "repeated", "repeats_key",
                  "batch", "cached", "n", "median", "ci_low", "ci_high", "min", "max", "p90", "p99", "spread",
                  "samples"]


def metrics_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (combination, model, metric) with the median, its 99 % CI and the raw samples."""
    from ..stats import percentile

    rows = []
    for r in records:
        for phase in r.get("phases") or []:
            for metric, xs in _phase_metrics(phase):
                if not xs:
                    continue
                ci = median_ci(xs)
                rows.append({
                    "run_id": r.get("run_id", ""), "combination": r["combination"]["id"],
                    "model": phase.get("model"), "metric": metric.key, "label": metric.label, "unit": metric.unit,
                    "better": metric.better, "repeated": metric.repeated, "repeats_key": metric.repeats_key,
                    "batch": phase.get("batch"), "cached": phase["status"] == "cached", "n": len(xs),
                    "median": float(pd.Series(xs).median()), "ci_low": ci[0] if ci else None,
                    "ci_high": ci[1] if ci else None, "min": min(xs), "max": max(xs),
                    "p90": percentile(xs, 90), "p99": percentile(xs, 99), "spread": relative_spread(xs),
                    "samples": xs,
                })
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
