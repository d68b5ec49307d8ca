"""Compare two runs: regressions gated on a threshold AND statistical significance.

A metric (:mod:`tfmatrix.records.metrics`: its name, unit and direction) regresses
only when its median got worse by more than the threshold factor (default 1.10)
and the raw samples differ significantly (two-sided Mann-Whitney U, as asv
does).  Only what a comparison may judge is compared: a phase's own samples
(not a cached export's) and no metric derived from another's.  A combination
that went from a working outcome to a failure is a regression, the reverse an
improvement; a combination present in only one run is reported.  Exit status:
1 when anything regressed, else 0 (2 on bad input, through the CLI).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import ResultsError
from ..records import metrics as catalogue
from ..records.metrics import Metric
from ..records.model import CombinationRecord
from ..records.status import NOT_RUN, WORKING, Outcome
from ..records.store import RUN_ID_RE, load_run, run_folders

DEFAULT_THRESHOLD = 1.10
DEFAULT_ALPHA = 0.01
MIN_SAMPLES = 3  # fewer on either side: the change cannot be shown significant

#: (combination id, model or None, metric): one measured series
Key = tuple[str, "str | None", Metric]


@dataclass(frozen=True)
class Change:
    combination: str
    model: str | None
    metric: Metric
    base_median: float
    cand_median: float
    ratio: float  # candidate / base of the medians (for a higher-is-better metric, below 1 is worse)
    p_value: float | None
    verdict: str  # regression, improvement, unchanged, not-significant, too-few-samples

    @property
    def unit(self) -> str:
        return self.metric.unit

    def to_json(self) -> dict[str, Any]:
        return {"combination": self.combination, "model": self.model, "metric": self.metric.key, "unit": self.unit,
                "better": self.metric.better, "base_median": self.base_median, "cand_median": self.cand_median,
                "ratio": self.ratio, "p_value": self.p_value, "verdict": self.verdict}


@dataclass(frozen=True)
class StatusChange:
    combination: str
    base: Outcome
    candidate: Outcome
    verdict: str  # regression, improvement, changed

    def to_json(self) -> dict[str, Any]:
        return {"combination": self.combination, "base": str(self.base), "candidate": str(self.candidate),
                "verdict": self.verdict}


@dataclass
class Comparison:
    base_run: str
    candidate_run: str
    changes: list[Change] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # records left out, one line each

    @property
    def regressions(self) -> list[Change | StatusChange]:
        return [c for c in [*self.status_changes, *self.changes] if c.verdict == "regression"]

    @property
    def improvements(self) -> list[Change | StatusChange]:
        return [c for c in [*self.status_changes, *self.changes] if c.verdict == "improvement"]

    @property
    def exit_status(self) -> int:
        return 1 if self.regressions else 0


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
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such run folder")
    run = load_run(folder)
    if warnings is not None:
        warnings.extend(run.warnings)
    if not run.records:
        raise ResultsError(f"{folder}: holds no readable combination records")
    return run.by_id()


def series(records: Iterable[CombinationRecord]) -> dict[Key, list[float]]:
    """Every judged metric of these records, by (combination, model and its producer, metric)."""
    out: dict[Key, list[float]] = {}
    for rec in records:
        for phase, metric, samples in catalogue.all_measured(rec.phases, judged=True):
            out[(rec.id, rec.benchmark_model(phase.model), metric)] = samples
    return out


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare_metric(metric: Metric, base: list[float], cand: list[float], *, threshold: float,
                   alpha: float) -> tuple[float, float | None, str]:
    """(ratio candidate/base of medians, p-value, verdict), read in the metric's direction."""
    bm, cm = statistics.median(base), statistics.median(cand)
    ratio = cm / bm if bm > 0 else float("inf")
    if max(ratio, 1 / ratio if ratio > 0 else float("inf")) <= threshold:
        return ratio, None, "unchanged"
    if min(len(base), len(cand)) < MIN_SAMPLES:
        return ratio, None, "too-few-samples"
    p = mann_whitney_p(base, cand)
    if p >= alpha:
        return ratio, p, "not-significant"
    return ratio, p, "regression" if metric.worse(ratio) else "improvement"


def status_change(cid: str, base: CombinationRecord, cand: CombinationRecord) -> StatusChange | None:
    bo, co = base.outcome, cand.outcome
    if bo == co or bo is None or co is None or NOT_RUN & {bo, co}:  # nothing to judge: it did not (fully) run
        return None
    verdict = ("regression" if bo in WORKING and co not in WORKING else
               "improvement" if bo not in WORKING and co in WORKING else "changed")
    return StatusChange(cid, bo, co, verdict)


def compare_runs(base: Mapping[str, CombinationRecord], cand: Mapping[str, CombinationRecord], *,
                 base_run: str = "base", candidate_run: str = "candidate",
                 threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
                 thresholds: Mapping[str, float] | None = None) -> Comparison:
    """``thresholds``: per metric key (``throughput[b4]``) or family (``throughput``), else ``threshold``."""
    thresholds = dict(thresholds or {})
    cmp = Comparison(base_run, candidate_run,
                     only_in_base=sorted(set(base) - set(cand)), only_in_candidate=sorted(set(cand) - set(base)))
    for cid in sorted(set(base) & set(cand)):
        change = status_change(cid, base[cid], cand[cid])
        if change:
            cmp.status_changes.append(change)
        bs, cs = series([base[cid]]), series([cand[cid]])
        for key in sorted(set(bs) & set(cs), key=lambda k: (k[1] or "", k[2].key)):
            metric = key[2]
            t = catalogue.threshold_for(metric, thresholds, threshold)
            ratio, p, verdict = compare_metric(metric, bs[key], cs[key], threshold=t, alpha=alpha)
            cmp.changes.append(Change(cid, key[1], metric, statistics.median(bs[key]), statistics.median(cs[key]),
                                      ratio, p, verdict))
    return cmp


def render_markdown(cmp: Comparison) -> str:
    """A summary fit for a CI comment."""
    fmt = catalogue.fmt
    head = "regressed" if cmp.regressions else "no regression"
    lines = [f"## tfmatrix compare: {head}", "",
             f"base `{cmp.base_run}` → candidate `{cmp.candidate_run}`: {len(cmp.regressions)} regression(s), "
             f"{len(cmp.improvements)} improvement(s), {len(cmp.changes)} metrics compared", ""]
    if cmp.status_changes:
        lines += ["| combination | base | candidate | verdict |", "|---|---|---|---|"]
        lines += [f"| {s.combination} | {s.base} | {s.candidate} | **{s.verdict}** |" for s in cmp.status_changes]
        lines.append("")
    notable = [c for c in cmp.changes if c.verdict != "unchanged"]
    if notable:
        lines += ["| combination | model | metric | base | candidate | ratio | p | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in notable:
            p = f"{c.p_value:.3g}" if c.p_value is not None else "–"
            verdict = f"**{c.verdict}**" if c.verdict in ("regression", "improvement") else c.verdict
            lines.append(f"| {c.combination} | {c.model or '–'} | {c.metric.shown} | "
                         f"{fmt(c.base_median, c.unit)} | {fmt(c.cand_median, c.unit)} | {c.ratio:.2f}× | {p} | "
                         f"{verdict} |")
        lines.append("")
    for label, ids in (("only in base", cmp.only_in_base), ("only in candidate", cmp.only_in_candidate)):
        if ids:
            lines.append(f"- {label}: {', '.join(ids)}")
    for warning in cmp.warnings:
        lines.append(f"- warning: {warning}")
    return "\n".join(lines).rstrip() + "\n"


def compare_folders(base: Path, cand: Path, **kw: Any) -> Comparison:
    warnings: list[str] = []
    cmp = compare_runs(load_records(base, warnings), load_records(cand, warnings), base_run=base.name,
                       candidate_run=cand.name, **kw)
    cmp.warnings = warnings
    return cmp
