"""Compare two runs: regressions gated on a threshold AND statistical significance.

A metric regresses only when its median got worse by more than the threshold
factor (default 1.10) and the raw samples differ significantly (two-sided
Mann-Whitney U, as asv does).  A combination that went from a good outcome to
a failure is a regression, the reverse an improvement; a combination present
in only one run is reported.  Exit status: 1 when anything regressed, else 0
(2 on bad input, through the CLI).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ResultsError
from . import records
from .results import RUN_ID_RE

#: Outcomes that count as working for the status comparison.
GOOD = frozenset({"ok", "degraded", "expected-failure"})
DEFAULT_THRESHOLD = 1.10
DEFAULT_ALPHA = 0.01
MIN_SAMPLES = 3  # fewer on either side: the change cannot be shown significant


@dataclass(frozen=True)
class Change:
    combination: str
    model: str | None
    metric: str
    unit: str
    base_median: float
    cand_median: float
    ratio: float
    p_value: float | None
    verdict: str  # regression, improvement, unchanged, not-significant, too-few-samples

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StatusChange:
    combination: str
    base: str
    candidate: str
    verdict: str  # regression, improvement, changed

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


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
    runs = sorted(p for p in root.glob("*") if p.is_dir() and RUN_ID_RE.match(p.name))
    if len(runs) < 2:
        raise ResultsError(f"{root}: compare needs two runs, found {len(runs)}")
    return runs[-2], runs[-1]


def load_records(folder: Path, warnings: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The run's readable combination records; what was skipped goes to ``warnings``."""
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such run folder")
    run = records.load_run(folder)
    if warnings is not None:
        warnings.extend(run.warnings)
    if not run.records:
        raise ResultsError(f"{folder}: holds no readable combination records")
    return {doc["combination"]["id"]: doc for doc in run.records}


def metrics(record: Mapping[str, Any]) -> dict[tuple[str | None, str], tuple[str, list[float]]]:
    """(model, metric) -> (unit, raw samples) for every measured phase."""
    out = {}
    for p in record.get("phases", []):
        if p["phase"] == "probe" or p["status"] != "ok" or not p.get("samples"):
            continue
        name = p["phase"] + (f"[b{p['batch']}]" if p["phase"] in ("latency", "throughput") else "")
        out[(p.get("model"), name)] = (p.get("unit") or "", [float(x) for x in p["samples"]])
    return out


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare_metric(base: list[float], cand: list[float], *, threshold: float, alpha: float) -> tuple[float, float | None, str]:
    """(ratio candidate/base of medians, p-value, verdict); lower is better for every metric."""
    bm, cm = statistics.median(base), statistics.median(cand)
    ratio = cm / bm if bm > 0 else float("inf")
    if max(ratio, 1 / ratio if ratio > 0 else float("inf")) <= threshold:
        return ratio, None, "unchanged"
    if min(len(base), len(cand)) < MIN_SAMPLES:
        return ratio, None, "too-few-samples"
    p = mann_whitney_p(base, cand)
    if p >= alpha:
        return ratio, p, "not-significant"
    return ratio, p, "regression" if ratio > 1 else "improvement"


def compare_runs(base: Mapping[str, dict[str, Any]], cand: Mapping[str, dict[str, Any]], *,
                 base_run: str = "base", candidate_run: str = "candidate",
                 threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
                 thresholds: Mapping[str, float] | None = None) -> Comparison:
    thresholds = thresholds or {}
    cmp = Comparison(base_run, candidate_run,
                     only_in_base=sorted(set(base) - set(cand)), only_in_candidate=sorted(set(cand) - set(base)))
    for cid in sorted(set(base) & set(cand)):
        b, c = base[cid], cand[cid]
        bo, co = b.get("outcome") or b["status"], c.get("outcome") or c["status"]
        if bo != co and not {"skipped", "interrupted"} & {bo, co}:  # nothing to judge: it did not (fully) run
            verdict = ("regression" if bo in GOOD and co not in GOOD else
                       "improvement" if bo not in GOOD and co in GOOD else "changed")
            cmp.status_changes.append(StatusChange(cid, bo, co, verdict))
        bm, cm = metrics(b), metrics(c)
        for key in sorted(set(bm) & set(cm), key=lambda k: (k[0] or "", k[1])):
            unit, bs = bm[key]
            _, cs = cm[key]
            metric = key[1]
            t = thresholds.get(metric.split("[")[0], threshold)
            ratio, p, verdict = compare_metric(bs, cs, threshold=t, alpha=alpha)
            cmp.changes.append(Change(cid, key[0], metric, unit, statistics.median(bs), statistics.median(cs), ratio, p, verdict))
    return cmp


def _fmt(v: float, unit: str) -> str:
    if unit == "seconds":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "bytes":
        return f"{v / 2**20:.0f} MiB"
    return f"{v:g} {unit}".strip()


def render_markdown(cmp: Comparison) -> str:
    """A summary fit for a CI comment."""
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
            lines.append(f"| {c.combination} | {c.model or '–'} | {c.metric} | {_fmt(c.base_median, c.unit)} | "
                         f"{_fmt(c.cand_median, c.unit)} | {c.ratio:.2f}× | {p} | {verdict} |")
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
