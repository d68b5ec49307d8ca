"""The view model: plain dataclasses the templates read; no HTML here.

Every string in these objects is data: the templates escape all of it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd
from packaging.version import InvalidVersion, Version

from .. import outcomes
from ..errors import TfmatrixError
from . import drift as drift_mod
from ..records import Run
from .data import combinations_frame, metrics_frame, outcome_of

#: Above this relative spread (stdev / median) a measurement is flagged, as pyperf does.
SPREAD_LIMIT = 0.10
#: Fewer repeated samples than this give no 99 % interval of the median.
MIN_CI_SAMPLES = 8

#: Outcome -> the CSS class of its colour; one place, like outcomes.py.
OUTCOME_CSS = {
    outcomes.OK: "ok", outcomes.DEGRADED: "degraded", outcomes.EXPECTED_FAILURE: "expected",
    outcomes.UNEXPECTED_FAILURE: "unexpected", outcomes.FAILED: "unexpected", outcomes.UNEXPECTED_PASS: "unexpected",
    outcomes.SKIPPED: "skipped", outcomes.INSTALL_FAILED: "install-failed", outcomes.INTERRUPTED: "interrupted",
}
LEGEND = (("ok", "ok"), ("degraded", "degraded"), ("expected", "expected failure"),
          ("unexpected", "unexpected failure"), ("skipped", "skipped"), ("install-failed", "install-failed"),
          ("interrupted", "interrupted"))


def anchor(combination: str, model: str | None = None) -> str:
    """A fragment id made of safe characters only."""
    raw = combination if not model else f"{combination}--{model}"
    return "c-" + re.sub(r"[^A-Za-z0-9_-]", "_", raw)


def fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "seconds":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "images/s":
        return f"{value:.2f} img/s"
    return f"{value:g}"


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
        return outcome in (outcomes.OK, outcomes.UNEXPECTED_PASS)
    return predicted == failure_class or (predicted == "no-gpu" and outcome == outcomes.SKIPPED)


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
                r.combination, r.model if isinstance(r.model, str) else None, r.outcome,
                OUTCOME_CSS.get(r.outcome, "unexpected"), cls, r.predicted,
                _prediction_held(r.predicted, r.outcome, cls), "#" + anchor(r.combination)))
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
    by_key = {(r["combination"], r["model"], r["metric"]): r for r in records}
    with_model = {r["combination"] for r in records if r["model"]}
    # model-free metrics (import) share the rows of their combination's models
    keys = list(dict.fromkeys((r["combination"], r["model"]) for r in records
                              if r["model"] or r["combination"] not in with_model))

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
        ci = f"[{fmt(r['ci_low'], r['unit'])} – {fmt(r['ci_high'], r['unit'])}]"
    elif r["n"] == 1:
        ci = "single measurement"
    else:
        ci = f"n={r['n']}, no 99% CI; range {fmt(r['min'], r['unit'])} – {fmt(r['max'], r['unit'])}"
    ratio = ""
    if base is not None and not is_baseline:
        bv = _value(base, col)
        ratio = f"×{value / bv:.2f}" if bv else ""
    spread = r["spread"]
    noisy = bool(r["repeated"] and spread is not None and not math.isnan(spread) and spread > SPREAD_LIMIT)
    cached = " (export reused from the cache; time of the original export)" if r["cached"] else ""
    return TimingCell(fmt(value, r["unit"]) + ("*" if r["cached"] else ""), ci, ratio,
                      fastest=best is not None and value == best, baseline=is_baseline, noisy=noisy,
                      title=f"n={r['n']}, min {fmt(r['min'], r['unit'])}, max {fmt(r['max'], r['unit'])}{cached}")


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
                r["combination"], r["model"], r["label"],
                f"spread {spread:.0%} of the median (stdev / median over {r['n']} samples; limit {SPREAD_LIMIT:.0%})",
                "Something else ran during the measurement, or the CPU changed frequency: run on an idle machine "
                "(one run at a time; `python -m pyperf system tune` on Linux) and compare again."))
        if r["n"] < MIN_CI_SAMPLES:
            notes.append(StabilityNote(
                r["combination"], r["model"], r["label"],
                f"{r['n']} samples: a 99% interval of the median needs at least {MIN_CI_SAMPLES}",
                f"Raise {r['repeats_key']} in matrix.yaml to collect more samples."))
    return notes


def throttling_notes(records: Iterable[Mapping[str, Any]]) -> list[StabilityNote]:
    """A GPU whose clocks were throttled (power or heat) while a phase was measured: its numbers are low."""
    notes = []
    for r in records:
        for p in r.get("phases") or []:
            for index, gpu in ((p.get("telemetry") or {}).get("gpus") or {}).items():
                summary = gpu.get("summary") or {}
                if summary.get("throttled"):
                    reasons = ", ".join(summary.get("throttle_reasons") or [])
                    notes.append(StabilityNote(
                        r["combination"]["id"], p.get("model"), p.get("name") or p["phase"],
                        f"GPU {index} clocks throttled during the measurement ({reasons})",
                        "The card hit its power or thermal limit: check cooling and the power limit "
                        "(nvidia-smi -q -d PERFORMANCE,POWER), let it cool, and measure again."))
    return notes


# ------------------------------------------------------------------ drift

def build_drift(records: Mapping[str, dict[str, Any]], baseline: str | None) -> list[drift_mod.Drift]:
    if baseline is None or baseline not in records:
        return []
    base = records[baseline]
    out = []
    for cid, rec in records.items():
        if cid == baseline or rec["status"] == outcomes.SKIPPED:  # nothing ran; the grid says why
            continue
        for model in rec["combination"].get("models") or []:
            if model in (base["combination"].get("models") or []):
                out.append(drift_mod.compare(base, rec, model))
    return out


# ----------------------------------------------------------------- details

@dataclass(frozen=True)
class PhaseView:
    name: str
    status: str
    wall: str
    ended: str  # exit code, signal or NTSTATUS, when not a plain 0
    note: str
    stderr_tail: str
    log: str


@dataclass(frozen=True)
class PinChange:
    package: str
    baseline: str
    this: str


@dataclass(frozen=True)
class Detail:
    combination: str
    href_id: str
    outcome: str
    css: str
    tensorflow: str
    stack: str
    python: str
    models: list[str]
    requirements: list[str]  # what the matrix asked for (resolved pins are below)
    library_path: list[str]
    reason: str
    failure: dict[str, str] | None
    predicted: str
    predicted_reasons: list[str]
    install: list[tuple[str, str]]
    fingerprint: list[tuple[str, str]]
    loaded_libraries: list[str]
    pins: list[str]
    pin_changes: list[PinChange]
    phases: list[PhaseView]
    is_baseline: bool
    cuda: list[CudaRow] = field(default_factory=list)
    ran_on: str = ""  # the host (and executor, shard, GPU, Ray node) that ran it, when the record says


def ran_on(record: Mapping[str, Any]) -> str:
    """Where a combination ran, from its own record (a merged run's records came from several hosts)."""
    host = record.get("host") or {}
    plat = host.get("platform") or {}
    where = record.get("placement") or {}
    parts = [plat.get("node") or "", f"({plat.get('system', '')} {plat.get('machine', '')})".replace("( )", "")]
    if where.get("executor") and where["executor"] != "local":
        parts.append(f"via {where['executor']}")
    if where.get("shard"):
        parts.append(f"shard {where['shard']}")
    if where.get("gpu_index") is not None:
        parts.append(f"GPU {where['gpu_index']}")
    node = where.get("node") or {}
    if node.get("node_id"):
        parts.append(f"Ray node {node['node_id'][:12]} ({node.get('node_ip', '?')})")
    merged = record.get("merged_from") or {}
    if merged.get("run_id"):
        parts.append(f"from run {merged['run_id']}")
    return " ".join(p for p in parts if p.strip())


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as (dotted key, value) pairs; lists of scalars joined."""
    if isinstance(data, dict):
        out = []
        for k in sorted(data):
            out += flatten(data[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(data, list):
        if all(not isinstance(x, (dict, list)) for x in data):
            return [(prefix, ", ".join(str(x) for x in data) or "–")]
        return [pair for i, x in enumerate(data) for pair in flatten(x, f"{prefix}[{i}]")]
    return [(prefix, "–" if data is None else str(data))]


def _pins(record: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for pin in record.get("resolved_pins") or []:
        name, sep, version = pin.partition("==")
        out[name.strip().lower()] = version.strip() if sep else pin
    return out


def pin_changes(record: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[PinChange]:
    if base is None:
        return []
    mine, theirs = _pins(record), _pins(base)
    return [PinChange(name, theirs.get(name, "–"), mine.get(name, "–"))
            for name in sorted(set(mine) | set(theirs)) if mine.get(name) != theirs.get(name)]


@dataclass(frozen=True)
class CudaRow:
    """One library, three answers: what TensorFlow was built against, what the venv resolved, what loaded."""

    library: str
    built: str
    resolved: str
    loaded: str
    mismatch: bool


def _major_minor(version: str) -> tuple[int, ...]:
    parts = version.split(".")[:2] if version else []
    return tuple(int(p) for p in parts) if parts and all(p.isdigit() for p in parts) else ()


def cuda_rows(record: Mapping[str, Any]) -> list[CudaRow]:
    """For GPU stacks: CUDA runtime and cuDNN as built, resolved (nvidia-* wheels) and loaded (/proc/self/maps)."""
    if (record.get("combination") or {}).get("stack_kind") in (None, "cpu"):
        return []
    from .. import compat

    env = record.get("environment") or {}
    if not env:  # skipped or failed to install: nothing was probed
        return []
    build = ((env.get("tensorflow") or {}).get("build_info")) or {}
    bc = compat.build_config(str(record["combination"].get("tensorflow") or "0"))
    if bc is not None:  # TensorFlow's build_info gives cuDNN's major only; the compatibility data is exact
        build = {"cuda_version": bc.cuda_build or bc.cuda, "cudnn_version": bc.cudnn_build or bc.cudnn, **{
            k: v for k, v in build.items() if k not in ("cuda_version", "cudnn_version")}}
    wheels = env.get("nvidia_wheels") or {}
    loaded = {lib.get("name", "").lower().lstrip("lib").rstrip("0123456789_"): lib.get("version") or "?"
              for lib in env.get("loaded_libraries") or [] if isinstance(lib, dict)}
    rows = []
    for label, built_key, wheel_prefix, lib in (("CUDA runtime", "cuda_version", "nvidia-cuda-runtime-cu", "cudart"),
                                                 ("cuDNN", "cudnn_version", "nvidia-cudnn-cu", "cudnn")):
        built = str(build.get(built_key) or "–")
        resolved = next((v for n, v in sorted(wheels.items()) if n.startswith(wheel_prefix)), "–")
        have = loaded.get(lib, "not loaded")
        seen = [v for v in (resolved, have) if _major_minor(v)]
        # cuDNN must match major.minor-or-newer within the major; flag a different major.minor as the doctor does
        mismatch = bool(_major_minor(built)) and any(_major_minor(v)[:1] != _major_minor(built)[:1] or
                                                     (label == "cuDNN" and _major_minor(v) < _major_minor(built))
                                                     for v in seen)
        rows.append(CudaRow(label, built, resolved, have, mismatch))
    return rows


def _ended(p: Mapping[str, Any]) -> str:
    if p.get("signal"):
        return f"signal {p['signal']}"
    if p.get("ntstatus"):
        return f"NTSTATUS {p['ntstatus']}"
    code = p.get("exit_code")
    return f"exit {code}" if code not in (None, 0) else ""


def build_detail(record: Mapping[str, Any], base: Mapping[str, Any] | None, is_baseline: bool) -> Detail:
    c = record["combination"]
    env = dict(record.get("environment") or {})
    libs = [f"{lib.get('name', '?')} {lib.get('version') or ''} ({lib.get('path', '')})".replace("  ", " ")
            if isinstance(lib, dict) else str(lib) for lib in env.pop("loaded_libraries", []) or []]
    inst = record.get("install") or {}
    install = [(k, str(inst[k])) for k in ("backend", "seconds", "reused", "compile_bytecode", "lock_sha256",
                                           "failed_step", "error") if inst.get(k) not in (None, "")]
    if inst.get("check"):
        install.append(("pip check", "ok" if inst["check"].get("ok") else inst["check"].get("output", "")))
    phases = [PhaseView(p.get("name", p["phase"]), p["status"], f"{p.get('wall_seconds') or 0:.1f} s", _ended(p),
                        p.get("note", ""), p.get("stderr_tail", ""), p.get("log", ""))
              for p in record.get("phases") or []]
    pre = record.get("preflight") or {}
    outcome = outcome_of(record)
    return Detail(
        c["id"], anchor(c["id"]), outcome, OUTCOME_CSS.get(outcome, "unexpected"), c.get("tensorflow", ""),
        c.get("stack", ""), c.get("python", ""), list(c.get("models") or []), list(c.get("requirements") or []),
        list(c.get("library_path") or []), record.get("reason", ""),
        record.get("failure"), pre.get("predicted", ""), list(pre.get("reasons") or []), install, flatten(env), libs,
        list(record.get("resolved_pins") or []), pin_changes(record, base if not is_baseline else None), phases,
        is_baseline, cuda_rows(record), ran_on(record))


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
    legend: tuple = LEGEND
    tolerances: tuple[float, float] = (drift_mod.BOX_TOLERANCE, drift_mod.SCORE_TOLERANCE)


def choose_baseline(records: Iterable[Mapping[str, Any]], wanted: str | None) -> str | None:
    """The named combination, else the oldest TensorFlow that ran ok (what you would upgrade from)."""
    recs = list(records)
    ids = [r["combination"]["id"] for r in recs]
    if wanted:
        if wanted not in ids:
            raise TfmatrixError(f"--baseline: got {wanted!r}; expected one of this run's combinations: {', '.join(ids)}")
        return wanted
    ok = [r for r in recs if outcome_of(r) == outcomes.OK]
    if not ok:
        return None
    ok.sort(key=lambda r: (_version_key(r["combination"].get("tensorflow", "")),
                           r["combination"].get("stack_kind") != "cpu", r["combination"]["id"]))
    return ok[0]["combination"]["id"]


def run_info(run: Run) -> list[tuple[str, str]]:
    info = run.info
    host = info.get("host") or {}
    cpu, plat = host.get("cpu") or {}, host.get("platform") or {}
    gpus = ", ".join(g.get("name", "?") for g in host.get("gpus") or []) or "none visible"
    suite = info.get("suite") or {}
    commit = (suite.get("commit") or "?")[:12] + (" (uncommitted changes)" if suite.get("dirty") else "")
    stops = [f"{i['at']}: {i['signal']} during {i['combination']}" for i in info.get("interruptions") or []]
    resumed = [r["at"] for r in info.get("resumptions") or []]
    merge = info.get("merge") or {}
    merged = [f"{m['run_id']} on {((m.get('host') or {}).get('platform') or {}).get('node', '?')} "
              f"({m.get('records', 0)} records)" for m in merge.get("sources") or []]
    return [*([("merged from", "; ".join(merged))] if merged else []),
            *([("merge duplicates", ", ".join(d["combination"] for d in merge["duplicates"]))]
              if merge.get("duplicates") else []),
            *([("merge conflicts", "; ".join(merge["conflicts"]))] if merge.get("conflicts") else []),
            ("started", info.get("started_at") or "?"), ("ended", info.get("ended_at") or "not finished"),
            *([("interrupted", "; ".join(stops))] if stops else []),
            *([("resumed", ", ".join(resumed))] if resumed else []),
            ("profile", info.get("profile") or "?"), ("suite commit", commit),
            ("tfmatrix", info.get("tfmatrix_version") or "?"),
            ("host", f"{plat.get('system', '?')} {plat.get('release', '')} {plat.get('machine', '')}".strip()),
            ("CPU", f"{cpu.get('model', '?')}, {cpu.get('logical_cores', '?')} logical cores"),
            ("GPUs", gpus), ("matrix", ((info.get("matrix") or {}).get("sha256") or "?")[:12])]


def outcome_counts(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for r in records:
        counts[outcome_of(r)] = counts.get(outcome_of(r), 0) + 1
    return [(o, OUTCOME_CSS.get(o, "unexpected"), n) for o, n in sorted(counts.items())]


def build_run_page(run: Run, *, generated_at: str, baseline: str | None = None,
                   plots: Any = None, change_points: list[Any] | None = None) -> RunPage:
    """Everything the run page shows; ``plots`` draws the figures from the metrics frame (None: no plots)."""
    records = {r["combination"]["id"]: r for r in run.records}
    base_id = choose_baseline(records.values(), baseline)
    metrics = metrics_frame(records.values())
    base = records.get(base_id) if base_id else None
    return RunPage(
        run_id=run.run_id, generated_at=generated_at, info=run_info(run), counts=outcome_counts(records.values()),
        baseline=base_id, grid=build_grid(combinations_frame(records.values())),
        timing=build_timing(metrics, base_id), plots=plots(metrics, list(records.values())) if plots else [],
        drift=build_drift(records, base_id),
        stability=stability_notes(metrics) + throttling_notes(records.values()),
        details=[build_detail(r, base, cid == base_id) for cid, r in records.items()],
        warnings=list(run.warnings), change_points=list(change_points or []))


# ---------------------------------------------------------------- compare

VERDICT_CSS = {"regression": "unexpected", "improvement": "ok", "changed": "degraded"}


@dataclass(frozen=True)
class CompareRow:
    combination: str
    model: str
    metric: str
    base: str
    candidate: str
    ratio: str
    p_value: str
    verdict: str
    css: str


@dataclass
class ComparePage:
    generated_at: str
    base_run: str
    candidate_run: str
    regressed: bool
    summary: str
    status_changes: list[Any]
    notable: list[CompareRow]
    unchanged: list[CompareRow]
    only_in_base: list[str]
    only_in_candidate: list[str]
    warnings: list[str]


def build_compare_page(cmp: Any, generated_at: str) -> ComparePage:
    """The comparison (:class:`tfmatrix.compare.Comparison`) as rows of text."""
    rows = [CompareRow(c.combination, c.model or "–", c.metric, fmt(c.base_median, c.unit),
                       fmt(c.cand_median, c.unit), f"×{c.ratio:.2f}",
                       f"{c.p_value:.3g}" if c.p_value is not None else "–", c.verdict, VERDICT_CSS.get(c.verdict, ""))
            for c in cmp.changes]
    return ComparePage(
        generated_at, cmp.base_run, cmp.candidate_run, bool(cmp.regressions),
        f"{len(cmp.regressions)} regression(s), {len(cmp.improvements)} improvement(s), "
        f"{len(cmp.changes)} metrics compared",
        [(s, VERDICT_CSS.get(s.verdict, "")) for s in cmp.status_changes],
        [r for r in rows if r.verdict != "unchanged"], [r for r in rows if r.verdict == "unchanged"],
        list(cmp.only_in_base), list(cmp.only_in_candidate), list(cmp.warnings))
