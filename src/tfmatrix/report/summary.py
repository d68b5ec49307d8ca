"""The table `nox -s bench` ends with: one row per combination (and model) of the run.

Plain text for a terminal, from the typed records and the metric catalogue
(standard library only: it runs in nox's own process).
"""

from __future__ import annotations

import statistics
from typing import Iterable, Mapping

from ..matrix.model import Combination
from ..records import metrics as catalogue
from ..records.metrics import Metric
from ..records.model import CombinationRecord, PhaseRecord
from ..records.quantity import BYTES, SECONDS, Quantity
from ..records.status import Outcome, PhaseStatus
from ..stats import percentile

COLUMNS = ("combination", "outcome", "predicted", "install", "import", "export", "load", "first", "p50", "p90", "p99",
           "throughput", "peak RSS")
FOOT = ("times are medians (ms below 1 s); * = export reused from the cache (time of the original export); by X = loads the export "
        "TensorFlow entry X made (export_with); brought = a SavedModel from the matrix (source: saved_model)")


def _measured(record: CombinationRecord, model: str | None, metric: Metric) -> tuple[PhaseRecord | None, list[float]]:
    for phase, m, xs in catalogue.all_measured(record.phases):
        if m == metric and (model is None or phase.model == model):
            return phase, xs
    return None, []


def _missing(record: CombinationRecord, model: str | None, metric: Metric) -> str:
    """Why a cell is empty: the phase's status ("error", "skipped"), or "-" when there was no such phase."""
    phase = record.phase(metric.key, model)
    return str(phase.status) if phase else "-"


def _median(record: CombinationRecord, model: str | None, metric: Metric) -> str:
    phase, xs = _measured(record, model, metric)
    if phase is None:
        return _missing(record, model, metric)
    return Quantity(statistics.median(xs), metric.unit).compact + ("*" if phase.status == PhaseStatus.CACHED else "")


def _export(record: CombinationRecord, model: str) -> str:
    """The export's time, or who made the SavedModel this combination loaded instead of exporting it."""
    made = record.producer(model)
    if made is not None and made.source == "brought":
        return "brought"
    if made is not None and made.source == "shared":
        return f"by {made.tensorflow_id}"
    return _median(record, model, catalogue.EXPORT)


def _latency(record: CombinationRecord, model: str, q: float) -> str:
    phase, xs = _measured(record, model, catalogue.LATENCY)
    return Quantity(percentile(xs, q), SECONDS).compact if phase else _missing(record, model, catalogue.LATENCY)


def label(record: CombinationRecord) -> str:
    """What a row says: the outcome, and the failure class when there is one."""
    outcome = str(record.outcome or record.status)
    cls = record.failure.cls if record.failure else None
    return f"{outcome} ({cls})" if cls and cls != outcome else outcome


def rows(records: Iterable[CombinationRecord], expected: Iterable[Combination] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    seen = set()
    for r in records:
        seen.add(r.id)
        predicted = r.preflight.predicted if r.preflight else "-"
        inst = r.install
        inst_s = "-" if not inst else ("reused" if inst.reused else Quantity(inst.seconds, SECONDS).compact)
        if not r.phases:  # skipped, install-failed: nothing was measured
            out.append((r.id, label(r), predicted, inst_s, *["-"] * 9))
            continue
        if not r.combination.models:  # --import-only: the import alone
            out.append((r.id, label(r), predicted, inst_s, _median(r, None, catalogue.IMPORT), *["-"] * 8))
            continue
        for m in r.combination.models:
            thr = " ".join(f"b{p.batch}:{Quantity(statistics.median(xs), metric.unit).compact}" for p, metric, xs
                           in catalogue.all_measured(r.phases) if p.model == m and metric.family == "throughput")
            rss = [p.peak_rss_bytes for p in r.phases if p.model == m and p.peak_rss_bytes]
            out.append((r.id if len(r.combination.models) == 1 else f"{r.id} {m}", label(r), predicted, inst_s,
                        _median(r, None, catalogue.IMPORT), _export(r, m),
                        _median(r, m, catalogue.LOAD), _median(r, m, catalogue.FIRST_INFERENCE),
                        _latency(r, m, 50), _latency(r, m, 90), _latency(r, m, 99), thr or "-",
                        Quantity(max(rss), BYTES).compact if rss else "-"))
    for c in expected:
        if c.id not in seen:
            out.append((c.id, "not run", *["-"] * 11))
    return out


def format_table(table: list[tuple[str, ...]]) -> str:
    all_rows = [COLUMNS, *table]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in all_rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(run_id: str, records: list[CombinationRecord], expected: Iterable[Combination] = (),
           fixes: Mapping[str, str] | None = None) -> str:
    """The run's table and a line per failure (``fixes``: combination -> its verified fix, where one was found)."""
    counts: dict[str, int] = {}
    for r in records:
        key = str(r.outcome or r.status)
        counts[key] = counts.get(key, 0) + 1
    head = f"tfmatrix run {run_id}: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no records")
    reasons = []
    for r in records:
        if r.reason:
            cls = f"{r.failure.cls}: " if r.failure else ""
            reason = r.reason.replace(cls, "", 1) if cls and cls in r.reason[:80] else r.reason  # the label names it
            reasons.append(f"  {r.id}: {label(r)}: {reason}")
        if r.failure and r.failure.culprit:
            reasons.append(f"      culprit: {r.failure.culprit} ({r.failure.blame})")
        if r.failure and r.failure.fix and r.outcome != Outcome.EXPECTED_FAILURE:
            reasons.append(f"      fix: {r.failure.fix}")
        if (fixes or {}).get(r.id):
            reasons.append(f"      verified fix: {(fixes or {})[r.id]}")
    return "\n".join([head, format_table(rows(records, expected)), FOOT, *reasons])
