"""The view model of the run page: plain dataclasses the templates read; no HTML here.

Every string in these objects is data: the templates escape all of it.  The
grid, the timing table, the stability notes and the drift are built here; one
combination's detail is :mod:`.details`'s, the compare page :mod:`.compare_page`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd
from packaging.version import InvalidVersion, Version

from ..errors import TfmatrixError
from ..records import metrics as catalogue
from ..records.model import CombinationRecord
from ..records.quantity import RATIO, Quantity
from ..records.status import Outcome, Status
from ..records.store import Run
from ..stats import paired_ratio
from . import drift as drift_mod
from .data import combinations_frame, metrics_frame
from .details import Detail, anchor, build_detail, css_of
from .loads import build_loads
from .platforms import build_platforms

#: Above this relative spread (stdev / median) a measurement is flagged, as pyperf does.
SPREAD_LIMIT = 0.10
#: Fewer repeated samples than this give no 99 % interval of the median.
MIN_CI_SAMPLES = 8

LEGEND = (("ok", "ok"), ("degraded", "degraded"), ("expected", "expected failure"),
          ("unexpected", "unexpected failure"), ("skipped", "skipped"), ("install-failed", "install-failed"),
          ("interrupted", "interrupted"))


# ---------------------------------------------------------------- the grid

@dataclass(frozen=True)
class GridEntry:
    combination: str
    model: str | None
    outcome: str
    css: str
    failure_class: str | None
    predicted: str
    prediction_held: bool | None  # None when nothing was predicted
    href: str


@dataclass(frozen=True)
class GridRow:
    label: str
    tensorflow: str
    expect: str | None
    cells: list[list[GridEntry]]


@dataclass(frozen=True)
class Grid:
    columns: list[str]
    rows: list[GridRow]


def _version_key(v: str) -> tuple:
    try:
        return (0, Version(v))
    except InvalidVersion:
        return (1, v)


def _prediction_held(predicted: str, outcome: str, failure_class: str | None) -> bool | None:
    if not predicted:
        return None
    if predicted == "ok":
        return outcome in (Outcome.OK, Outcome.UNEXPECTED_PASS)
    return predicted == failure_class or (predicted == "no-gpu" and outcome == Outcome.SKIPPED)


def build_grid(frame: pd.DataFrame) -> Grid:
    """TensorFlow (rows) x stack, and Python where it varies (columns); one entry per model."""
    if frame.empty:
        return Grid([], [])
    several_pythons = frame["python"].nunique() > 1
    col_of = (lambda r: f"{r.stack} · py{r.python}") if several_pythons else (lambda r: r.stack)
    columns = list(dict.fromkeys(col_of(r) for r in frame.sort_values(["stack_kind", "stack", "python"]).itertuples()))
    rows = []
    order = sorted(frame["tensorflow_id"].unique(),
                   key=lambda t: (_version_key(frame.loc[frame.tensorflow_id == t, "tensorflow"].iloc[0]), t))
    for tid in order:
        sub = frame[frame.tensorflow_id == tid]
        cells: list[list[GridEntry]] = [[] for _ in columns]
        for r in sub.itertuples():
            cls = r.failure_class if isinstance(r.failure_class, str) else None
            cells[columns.index(col_of(r))].append(GridEntry(
                r.combination_id, r.model if isinstance(r.model, str) else None, r.outcome, css_of(r.outcome), cls,
                r.predicted, _prediction_held(r.predicted, r.outcome, cls), "#" + anchor(r.combination_id)))
        expect = sub["expect"].iloc[0]
        rows.append(GridRow(tid, sub["tensorflow"].iloc[0], expect if isinstance(expect, str) else None, cells))
    return Grid(columns, rows)


# ---------------------------------------------------------- timing tables

@dataclass(frozen=True)
class TimingCell:
    text: str
    ci: str  # "[lo – hi]", or why there is none
    ratio: str  # to the baseline
    fastest: bool = False
    baseline: bool = False
    noisy: bool = False
    title: str = ""


@dataclass(frozen=True)
class TimingRow:
    combination: str
    model: str | None
    href: str
    cells: list[TimingCell | None]


@dataclass(frozen=True)
class Column:
    key: str  # metric key, plus ":p90"/":p99" for the latency tails
    label: str
    better: str


@dataclass(frozen=True)
class TimingTable:
    columns: list[Column]
    rows: list[TimingRow]
    baseline: str | None


METRIC_ORDER = ["import", "export", "load", "first-inference", "latency", "latency:p90", "latency:p99"]


def _columns(frame: pd.DataFrame) -> list[Column]:
    present = set(frame["metric"])
    cols: list[Column] = []
    for key in METRIC_ORDER:
        base = key.split(":")[0]
        if base in present:
            label = frame.loc[frame.metric == base, "label"].iloc[0]
            suffix = {"latency": " p50", "latency:p90": " p90", "latency:p99": " p99"}.get(key, "")
            cols.append(Column(key, label + suffix, "lower"))
    thr = sorted((k for k in present if k.startswith("throughput[")), key=lambda k: int(k[len("throughput[b"):-1]))
    cols += [Column(k, frame.loc[frame.metric == k, "label"].iloc[0], "higher") for k in thr]
    cols += [Column(k, label, "lower") for k, label in (("peak-rss", "peak host RSS"), ("gpu-memory", "peak GPU memory"))
             if k in present]
    return cols


def _value(row: Mapping[str, Any], column: Column) -> float:
    part = column.key.partition(":")[2]
    return float(row[part]) if part else float(row["median"])


def build_timing(frame: pd.DataFrame, baseline: str | None) -> TimingTable:
    if frame.empty:
        return TimingTable([], [], baseline)
    columns = _columns(frame)
    records = frame.to_dict("records")
    for r in records:
        r["model"] = r["model"] if isinstance(r["model"], str) else None
    by_key = {(r["combination_id"], r["model"], r["metric"]): r for r in records}
    with_model = {r["combination_id"] for r in records if r["model"]}
    # model-free metrics (import) share the rows of their combination's models
    keys = list(dict.fromkeys((r["combination_id"], r["model"]) for r in records
                              if r["model"] or r["combination_id"] not in with_model))

    def lookup(c: str | None, m: str | None, metric: str) -> Mapping[str, Any] | None:
        return by_key.get((c, m, metric)) or by_key.get((c, None, metric))

    best: dict[str, float] = {}
    for col in columns:
        found = [lookup(c, m, col.key.split(":")[0]) for c, m in keys]
        vals = [_value(r, col) for r in found if r is not None]
        if vals:
            best[col.key] = min(vals) if col.better == "lower" else max(vals)
    rows = []
    for c, m in keys:
        cells: list[TimingCell | None] = []
        for col in columns:
            metric = col.key.split(":")[0]
            r = lookup(c, m, metric)
            if r is None:
                cells.append(None)
                continue
            cells.append(_cell(r, col, best.get(col.key), lookup(baseline, m, metric), c == baseline))
        rows.append(TimingRow(c, m, "#" + anchor(c), cells))
    return TimingTable(columns, rows, baseline)


def _cell(r: Mapping[str, Any], col: Column, best: float | None, base: Mapping[str, Any] | None,
          is_baseline: bool) -> TimingCell:
    value = _value(r, col)
    tail = ":" in col.key
    if tail:
        ci = ""
    elif r["ci_low"] is not None and not (isinstance(r["ci_low"], float) and math.isnan(r["ci_low"])):
        ci = f"[{Quantity(r['ci_low'], r['unit'])} – {Quantity(r['ci_high'], r['unit'])}]"
    elif r["n"] == 1:
        ci = "single measurement"
    else:
        ci = f"n={r['n']}, no 99% CI; range {Quantity(r['min'], r['unit'])} – {Quantity(r['max'], r['unit'])}"
    ratio, paired = "", None
    if base is not None and not is_baseline:
        bv = _value(base, col)
        ratio = Quantity(value / bv, RATIO).text if bv else ""
        if not tail:  # measured in interleaved rounds with the baseline: the ratio of the paired rounds
            paired = paired_ratio(base["samples"], base.get("rounds"), r["samples"], r.get("rounds"))
            ratio = f"×{paired.ratio:.3f} [×{paired.low:.3f} – ×{paired.high:.3f}]" if paired else ratio
    spread = r["spread"]
    noisy = bool(r["repeated"] and spread is not None and not math.isnan(spread) and spread > SPREAD_LIMIT)
    cached = " (export reused from the cache; time of the original export)" if r["cached"] else ""
    return TimingCell(Quantity(value, r["unit"]).text + ("*" if r["cached"] else ""), ci, ratio,
                      fastest=best is not None and value == best, baseline=is_baseline, noisy=noisy,
                      title=f"n={r['n']}, min {Quantity(r['min'], r['unit'])}, max {Quantity(r['max'], r['unit'])}{cached}"
                      + (f"; ratio to the baseline over {paired.rounds} interleaved rounds, 99% CI" if paired else ""))


# -------------------------------------------------------------- stability

@dataclass(frozen=True)
class StabilityNote:
    combination: str
    model: str | None
    metric: str
    problem: str
    advice: str


def stability_notes(frame: pd.DataFrame) -> list[StabilityNote]:
    """pyperf's checks on each repeated measurement: spread over 10 % of the median, too few samples."""
    notes = []
    for r in frame[frame.repeated].to_dict("records"):
        r["model"] = r["model"] if isinstance(r["model"], str) else None
        spread = r["spread"]
        if spread is not None and not math.isnan(spread) and spread > SPREAD_LIMIT:
            notes.append(StabilityNote(
                r["combination_id"], r["model"], r["label"],
                f"spread {spread:.0%} of the median (stdev / median over {r['n']} samples; limit {SPREAD_LIMIT:.0%})",
                "Something else ran during the measurement, or the CPU changed frequency: run on an idle machine "
                "(one run at a time; `python -m pyperf system tune` on Linux) and compare again."))
        if r["n"] < MIN_CI_SAMPLES:
            notes.append(StabilityNote(
                r["combination_id"], r["model"], r["label"],
                f"{r['n']} samples: a 99% interval of the median needs at least {MIN_CI_SAMPLES}",
                catalogue.by_key(r["metric"]).more_samples))
    return notes


def throttling_notes(records: Iterable[CombinationRecord]) -> list[StabilityNote]:
    """A GPU whose clocks were throttled (power or heat) while a phase was measured: its numbers are low."""
    notes = []
    for r in records:
        for p in r.phases:
            for index, gpu in ((p.telemetry or {}).get("gpus") or {}).items():
                summary = gpu.get("summary") or {}
                if summary.get("throttled"):
                    reasons = ", ".join(summary.get("throttle_reasons") or [])
                    notes.append(StabilityNote(
                        r.id, p.model, p.name or p.phase,
                        f"GPU {index} clocks throttled during the measurement ({reasons})",
                        "The card hit its power or thermal limit: check cooling and the power limit "
                        "(nvidia-smi -q -d PERFORMANCE,POWER), let it cool, and measure again."))
    return notes


# ------------------------------------------------------------------ drift

def build_drift(records: Mapping[str, CombinationRecord], baseline: str | None) -> list[drift_mod.Drift]:
    if baseline is None or baseline not in records:
        return []
    base = records[baseline]
    out = []
    for cid, rec in records.items():
        if cid == baseline or rec.status == Status.SKIPPED:  # nothing ran; the grid says why
            continue
        out += [drift_mod.compare(base, rec, model) for model in rec.combination.models
                if model in base.combination.models]
    return out


# ------------------------------------------------------------------ pages

@dataclass(frozen=True)
class Plot:
    title: str
    alt: str
    data_uri: str


@dataclass
class RunPage:
    run_id: str
    generated_at: str
    info: list[tuple[str, str]]
    counts: list[tuple[str, str, int]]  # (outcome, css, count)
    baseline: str | None
    grid: Grid
    timing: TimingTable
    plots: list[Plot]
    drift: list[drift_mod.Drift]
    stability: list[StabilityNote]
    details: list[Detail]
    warnings: list[str]
    change_points: list[Any] = field(default_factory=list)
    loads: list[Any] = field(default_factory=list)  # loads.LoadGrid: one export loaded across versions
    platforms: Any = None  # platforms.PlatformGrid: nox -s predict's verdicts, never measured
    legend: tuple = LEGEND
    tolerances: tuple[float, float] = (drift_mod.BOX_TOLERANCE, drift_mod.SCORE_TOLERANCE)


def choose_baseline(records: Iterable[CombinationRecord], wanted: str | None) -> str | None:
    """The named combination, else the oldest TensorFlow that ran ok (what you would upgrade from)."""
    recs = list(records)
    ids = [r.id for r in recs]
    if wanted:
        if wanted not in ids:
            raise TfmatrixError(f"--baseline: got {wanted!r}; expected one of this run's combinations: {', '.join(ids)}")
        return wanted
    ok = sorted((r for r in recs if r.outcome == Outcome.OK),
                key=lambda r: (_version_key(r.combination.tensorflow), r.combination.needs_gpu, r.id))
    return ok[0].id if ok else None


def run_info(run: Run) -> list[tuple[str, str]]:
    """The run's header: where and when it ran, from what, what interrupted or merged it."""
    info = run.info
    if info is None:
        return [("run record", "missing or unreadable: host, commit and profile unknown")]
    cpu, plat = info.host.get("cpu") or {}, info.host.get("platform") or {}
    gpus = ", ".join(g.get("name", "?") for g in info.host.get("gpus") or []) or "none visible"
    commit = (info.commit or "?")[:12] + (" (uncommitted changes)" if info.dirty else "")
    stops = [f"{i['at']}: {i['signal']} during {i['combination']}" for i in info.interruptions]
    resumed = [r["at"] for r in info.resumptions]
    merge = info.merge or {}
    merged = [f"{m['run_id']} on {((m.get('host') or {}).get('platform') or {}).get('node', '?')} "
              f"({m.get('records', 0)} records)" for m in merge.get("sources") or []]
    duplicates = ", ".join(d.get("combination", "?") for d in merge.get("duplicates") or [])
    return [*([("merged from", "; ".join(merged))] if merged else []),
            *([("merge duplicates", duplicates)] if duplicates else []),
            *([("merge conflicts", "; ".join(merge["conflicts"]))] if merge.get("conflicts") else []),
            ("started", info.started_at or "?"), ("ended", info.ended_at or "not finished"),
            *([("interrupted", "; ".join(stops))] if stops else []),
            *([("resumed", ", ".join(resumed))] if resumed else []),
            ("profile", info.profile or "?"), ("suite commit", commit), ("tfmatrix", info.tfmatrix_version or "?"),
            ("host", f"{plat.get('system', '?')} {plat.get('release', '')} {plat.get('machine', '')}".strip()),
            ("CPU", f"{cpu.get('model', '?')}, {cpu.get('logical_cores', '?')} logical cores"),
            ("GPUs", gpus), ("matrix", (info.matrix.get("sha256") or "?")[:12])]


def outcome_counts(records: Iterable[CombinationRecord]) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.outcome)] = counts.get(str(r.outcome), 0) + 1
    return [(o, css_of(o), n) for o, n in sorted(counts.items())]


def build_run_page(run: Run, *, generated_at: str, baseline: str | None = None,
                   plots: Any = None, change_points: list[Any] | None = None,
                   fixes: Mapping[str, tuple[str, str]] | None = None) -> RunPage:
    """Everything the run page shows; ``plots`` draws the figures from the metrics frame (None: no plots);
    ``fixes``: combination -> (its verified fix, the link to its search)."""
    records = run.by_id()
    base_id = choose_baseline(records.values(), baseline)
    metrics = metrics_frame(records.values())
    base = records.get(base_id) if base_id else None
    return RunPage(
        run_id=run.run_id, generated_at=generated_at, info=run_info(run), counts=outcome_counts(records.values()),
        baseline=base_id, grid=build_grid(combinations_frame(records.values())),
        timing=build_timing(metrics, base_id), plots=plots(metrics, list(records.values())) if plots else [],
        drift=build_drift(records, base_id),
        stability=stability_notes(metrics) + throttling_notes(records.values()),
        details=[build_detail(r, base, cid == base_id, (fixes or {}).get(cid, ("", ""))) for cid, r in records.items()],
        warnings=list(run.warnings), change_points=list(change_points or []), loads=build_loads(records),
        platforms=build_platforms(run.predictions))
