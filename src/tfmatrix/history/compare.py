"""Compare two runs: regressions gated on a threshold, statistical significance AND run-to-run noise.

A metric (:mod:`tfmatrix.records.metrics`: its name, unit and direction) regresses
only when its median got worse by more than the threshold factor (default 1.10),
the raw samples differ significantly (two-sided Mann-Whitney U, as asv
does), and, where the history has it, the change is larger than the metric's
run-to-run noise: the samples of one run cannot show how much the same
measurement moves between runs on a shared machine, the history can (conbench
judges a change against the history's own spread the same way).  The noise of
a series is :func:`tfmatrix.stats.run_to_run_noise` of its run medians, over up to
``history`` earlier runs of the results folder (the base among them); a change
must exceed :data:`tfmatrix.stats.NOISE_FACTOR` times it.  With fewer than
:data:`MIN_HISTORY` runs the noise is unknown, and the comparison says so.

The upgrade gate, ``--rerun-base``, compares two combinations of one run
(:func:`tfmatrix.history.gate.compare_combinations`).  Only what a comparison may judge is compared: a phase's own samples
(not a cached export's) and no metric derived from another's.  A combination
that went from a working outcome to a failure is a regression, the reverse an
improvement; a combination present in only one run is reported.  Predictions (``nox -s predict``)
are compared by key the same way: installable -> not installable on a platform is a regression.  Exit status:
1 when anything regressed, else 0 (2 on bad input, through the CLI).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ResultsError
from ..records import metrics as catalogue
from ..records import runcache
from ..records.metrics import Metric
from ..records.model import CombinationRecord
from ..records.prediction import PlatformPrediction
from ..records.runcache import SummaryKey
from ..records.status import NOT_RUN, WORKING
from ..records.store import RUN_ID_RE, Run, gc_paused, load_run, load_run_info, paired_slices, read_records, run_folders
from ..stats import run_to_run_noise
from .comparison import MIN_HISTORY, Change, Comparison, StatusChange
from .verdicts import DEFAULT_ALPHA, DEFAULT_THRESHOLD, compare_metric, load_test

DEFAULT_HISTORY = 10  # earlier runs read for the run-to-run noise
SLICE = 2000  # record files of each run compare_folders holds at a time (in each of its processes)
PARALLEL_FROM = 1000  # record files: two runs of fewer are compared in one process (a pool costs more than it saves)

#: (combination id, model or None, metric): one measured series
Key = tuple[str, "str | None", Metric]


def resolve_run(spec: str, root: Path) -> Path:
    """A run id under ``root`` or a folder path."""
    path = Path(spec)
    if path.is_dir():
        return path
    if RUN_ID_RE.match(spec) and (root / spec).is_dir():
        return root / spec
    raise ResultsError(f"{spec}: not a run id under {root} nor a run folder")


def two_latest(root: Path) -> tuple[Path, Path]:
    runs = run_folders(root)
    if len(runs) < 2:
        raise ResultsError(f"{root}: compare needs two runs, found {len(runs)}")
    return runs[-2], runs[-1]


def load_records(folder: Path, warnings: list[str] | None = None) -> dict[str, CombinationRecord]:
    """The run's readable combination records; what was skipped goes to ``warnings``."""
    return readable_run(folder, warnings).by_id()


def readable_run(folder: Path, warnings: list[str] | None = None) -> Run:
    """The run in ``folder``; it must hold combination records (what was skipped goes to ``warnings``)."""
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such run folder")
    run = load_run(folder)
    if warnings is not None:
        warnings.extend(run.warnings)
    if not run.records:
        raise ResultsError(f"{folder}: holds no readable combination records")
    return run


def series(records: Iterable[CombinationRecord]) -> dict[Key, list[float]]:
    """Every judged metric of these records, by (combination, model and its producer, metric)."""
    out: dict[Key, list[float]] = {}
    for rec in records:
        for phase, metric, samples in catalogue.all_measured(rec.phases, judged=True):
            out[(rec.id, rec.benchmark_model(phase.model), metric)] = samples
    return out


def brought_changed(base: CombinationRecord, cand: CombinationRecord) -> list[str]:
    """A line for each SavedModel you bring whose bytes differ between the two records: still one benchmark
    (its model id), but a change of its metrics may be the model's own, not the stack's."""
    out = []
    for b in base.producers:
        c = cand.producer(b.model)
        if b.source == "brought" and c is not None and c.source == "brought" and b.export_sha256 \
                and c.export_sha256 and b.export_sha256 != c.export_sha256:
            out.append(f"{cand.id} {b.model}: the SavedModel you bring changed between the runs (sha256 "
                       f"{b.export_sha256[:12]} -> {c.export_sha256[:12]}); its changes may be the model's own")
    return out


def status_change(cid: str, base: CombinationRecord, cand: CombinationRecord) -> StatusChange | None:
    bo, co = base.outcome, cand.outcome
    if bo == co or bo is None or co is None or NOT_RUN & {bo, co}:  # nothing to judge: it did not (fully) run
        return None
    verdict = ("regression" if bo in WORKING and co not in WORKING else
               "improvement" if bo not in WORKING and co in WORKING else "changed")
    failed = base if verdict == "improvement" else cand
    f = failed.failure
    why = (f"{f.cls}: {f.evidence}" + (f"; culprit: {f.culprit}" if f.culprit else "")
           + (f"; fix: {f.fix}" if f.fix and verdict != "improvement" else "")) if f else failed.reason
    return StatusChange(cid, bo, co, verdict, why)


def prediction_changes(base: Iterable[PlatformPrediction], cand: Iterable[PlatformPrediction],
                       cmp: Comparison) -> None:
    """Predictions (``nox -s predict``) by key: installable -> not is a regression, the reverse an improvement,
    another class or GPU statement a change; keys predicted on one side only are listed as such."""
    b, c = {p.key: p for p in base}, {p.key: p for p in cand}
    cmp.only_in_base += sorted(set(b) - set(c))
    cmp.only_in_candidate += sorted(set(c) - set(b))
    for key in sorted(set(b) & set(c)):
        bp, cp = b[key], c[key]
        if bp.verdict == cp.verdict:
            continue
        verdict = ("regression" if bp.installable and not cp.installable else
                   "improvement" if cp.installable and not bp.installable else "changed")
        failed = bp if verdict == "improvement" else cp
        fix = failed.failure.fix if failed.failure and verdict != "improvement" else ""
        why = "; ".join(w for w in (f"predicted, not run: {failed.why}" if failed.why else "predicted, not run",
                                    f"fix: {fix}" if fix else "") if w)
        cmp.status_changes.append(StatusChange(key, bp.verdict, cp.verdict, verdict, why))


def compare_runs(base: Mapping[str, CombinationRecord], cand: Mapping[str, CombinationRecord], *,
                 base_run: str = "base", candidate_run: str = "candidate",
                 threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
                 thresholds: Mapping[str, float] | None = None,
                 history: Sequence[tuple[str, Mapping[Key, list[float]]]] = (),
                 base_series: Mapping[Key, list[float]] | None = None) -> Comparison:
    """``thresholds``: per metric key (``throughput[b4]``) or family (``throughput``), else ``threshold``.
    ``history``: earlier runs as (run id, series), oldest first (the base among them), for the run-to-run noise;
    ``base_series``: :func:`series` of ``base``, where the caller has it already (its history entry)."""
    thresholds = dict(thresholds or {})
    known: dict[str, dict[Key, list[float]]] = {}
    for k, samples in (base_series or {}).items():
        known.setdefault(k[0], {})[k] = samples
    cmp = Comparison(base_run, candidate_run,
                     only_in_base=sorted(set(base) - set(cand)), only_in_candidate=sorted(set(cand) - set(base)),
                     history=[rid for rid, _ in history])
    for cid in sorted(set(base) & set(cand)):
        change = status_change(cid, base[cid], cand[cid])
        if change:
            cmp.status_changes.append(change)
        cmp.warnings += brought_changed(base[cid], cand[cid])
        bs = known.get(cid, {}) if base_series is not None else series([base[cid]])
        cs = series([cand[cid]])
        for key in sorted(set(bs) & set(cs), key=lambda k: (k[1] or "", k[2].key)):
            metric = key[2]
            t = catalogue.threshold_for(metric, thresholds, threshold)
            medians = [m for m in (statistics.median(h[key]) for _, h in history if h.get(key)) if m > 0]
            noise = run_to_run_noise(medians) if len(medians) >= MIN_HISTORY else None
            ratio, p, verdict = compare_metric(metric, bs[key], cs[key], threshold=t, alpha=alpha, noise=noise)
            cmp.changes.append(Change(cid, key[1], metric, statistics.median(bs[key]), statistics.median(cs[key]),
                                      ratio, p, verdict, noise, len(medians) if noise is not None else 0))
    return cmp


def earlier_runs(cand: Path, limit: int = DEFAULT_HISTORY) -> list[Path]:
    """Up to ``limit`` runs of the candidate's results folder older than it, oldest first."""
    if limit <= 0:
        return []
    return [f for f in run_folders(cand.parent) if f.name < cand.name][-limit:]


def compare_folders(base: Path, cand: Path, *, history: int = DEFAULT_HISTORY, **kw: Any) -> Comparison:
    """Two run folders; the run-to-run noise from up to ``history`` earlier runs beside the candidate.

    The two runs are read and compared :data:`SLICE` record files at a time (memory bounded by a slice, not by the
    runs); of the earlier runs only their medians are needed, which the history cache holds (:func:`earlier_medians`)."""
    for folder in (base, cand):
        if not folder.is_dir():
            raise ResultsError(f"{folder}: no such run folder")
    warnings: list[str] = []
    runs = [load_run_info(f) for f in (base, cand)]
    for run in runs:
        warnings += run.warnings
    earlier = [f for f in earlier_runs(cand, history) if f.resolve() != cand.resolve()]
    if base.resolve() not in {f.resolve() for f in earlier}:
        earlier.append(base)
    others = [f for f in earlier if f.resolve() != base.resolve()]
    medians = dict(zip([f.name for f in others], earlier_medians(cand.parent, others)))
    noise = {f.name: as_series(medians[f.name]) for f in others}
    cmp = Comparison(base.name, cand.name, history=[f.name for f in earlier])
    seen = {base.name: 0, cand.name: 0}
    with gc_paused():  # records and changes make no cycles: a collection would only rescan them
        _compare_slices(base, cand, earlier, noise, cmp, seen, warnings, kw)
    for run in runs:
        if not seen[run.run_id] and not run.predictions:
            raise ResultsError(f"{run.path}: holds no readable combination records or predictions")
    prediction_changes(runs[0].predictions, runs[1].predictions, cmp)
    cmp.warnings = warnings
    return cmp


def _compare_slices(base: Path, cand: Path, earlier: list[Path], noise: Mapping[str, Mapping[Key, list[float]]],
                    cmp: Comparison, seen: dict[str, int], warnings: list[str], kw: Mapping[str, Any]) -> None:
    """:func:`compare_folders`' loop: the two runs a slice at a time, across processes (bounded by the cores) where
    they hold :data:`PARALLEL_FROM` record files or more; each slice's changes added to ``cmp``, in order."""
    cores = os.cpu_count() or 1
    slices = paired_slices(base, cand, SLICE, parts=4 * cores)  # about 4 slices a worker: even ends
    names = sum(len({p.name for p in b} | {p.name for p in c}) for b, c in slices)
    workers = min(cores, len(slices)) if names >= PARALLEL_FROM else 1
    context = (base, cand, earlier, noise, kw)
    if workers <= 1:
        parts: Iterable[tuple[Comparison, int, int]] = (_compare_slice(context, s) for s in slices)
        pool = None
    else:
        load_test()  # a run this large needs tests: imported once here, not once in each forked worker
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=MP_CONTEXT, initializer=_set_context,
                                   initargs=(context,))
        parts = pool.map(_compare_slice, [None] * len(slices), slices)
    try:
        for part, in_base, in_cand in parts:
            seen[base.name] += in_base
            seen[cand.name] += in_cand
            cmp.changes += part.changes
            cmp.status_changes += part.status_changes
            cmp.only_in_base += part.only_in_base
            cmp.only_in_candidate += part.only_in_candidate
            warnings += part.warnings
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


#: what each slice worker compares against (set once per worker process by its pool's initializer)
_SLICE_CONTEXT: list[tuple[Path, Path, list[Path], Mapping[str, Mapping[Key, list[float]]], Mapping[str, Any]]] = []
#: the pool's start method: None is the platform's (fork on Linux, spawn on macOS and Windows; a test takes spawn)
MP_CONTEXT: Any = None


def _set_context(context: Any) -> None:  # a function of this module, so a spawned worker finds it by name
    _SLICE_CONTEXT[:] = [context]


def _compare_slice(context: Any, files: tuple[list[Path], list[Path]]) -> tuple[Comparison, int, int]:
    """One slice of two runs compared, with how many readable records each side had."""
    base, cand, earlier, noise, kw = context or _SLICE_CONTEXT[-1]
    warnings: list[str] = []
    with gc_paused():  # in a worker process too
        b, c = (read_records(paths, warnings) for paths in files)
        own = series(b.values())
        part = compare_runs(b, c, base_run=base.name, candidate_run=cand.name, **kw, base_series=own,
                            history=[(f.name, own if f.resolve() == base.resolve() else noise[f.name])
                                     for f in earlier])
    part.warnings = warnings + part.warnings
    return part, len(b), len(c)


def earlier_medians(root: Path, folders: list[Path]) -> list[dict[SummaryKey, float]]:
    """Each folder's median per series (same order), from the history cache of ``root``
    (:class:`~tfmatrix.records.runcache.Cache`: a folder it does not hold, or holds stale, is read and added);
    a cache that cannot be opened at all (a read-only results folder) means reading them in full."""
    if not folders:
        return []
    try:
        with runcache.Cache(root) as cache:
            return [s.medians for s in cache.summaries(folders)]
    except (sqlite3.Error, OSError):
        return [runcache.run_medians(load_run(f).records) for f in folders]


def as_series(medians: Mapping[SummaryKey, float]) -> dict[Key, list[float]]:
    """A run's medians as :func:`series` keys its samples: one sample each, its median (what the noise needs)."""
    out: dict[Key, list[float]] = {}
    for (cid, model, key), median in medians.items():
        try:
            out[(cid, model, catalogue.by_key(key))] = [median]
        except KeyError:  # a metric this tfmatrix does not judge: no series to compare
            continue
    return out
