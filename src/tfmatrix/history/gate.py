"""The upgrade gate's adaptive re-measure (``nox -s compare -- --rerun-base BASE CANDIDATE``).

The gate's first round measures both combinations in one interleaved run with as many cold starts as a
verdict needs (:func:`tfmatrix.history.verdicts.samples_needed`: 5 at alpha 0.01).  Where a metric measured
once per cold start (import, load, first inference) moved beyond its threshold factor but its p is not yet
below alpha (``not-significant``, or ``undecidable``), the gate measures both combinations again, in a new
interleaved run, with as many more cold starts as it has so far (5, then 10 more), and judges the pooled
samples, up to :data:`MAX_COLD_STARTS` a side; bisect's re-measure does the same with its probes.  Every
round is a plain ``nox -s bench(BASE) bench(CANDIDATE)`` of the nox that runs the gate, so each leaves its
records in a run folder of its own, as any bench run does; the comparison names them.

The judge of a round, :func:`compare_combinations`: the base combination is measured again beside the
candidate, interleaved, in one run; a metric sampled in paired rounds is judged on the interval of its paired
ratio (:func:`tfmatrix.stats.paired_ratio`: a change must exceed the threshold and its 99% interval must
exclude 1), the others on the Mann-Whitney test of the one run (Bencher's relative continuous benchmarking).

Pooling rounds is sound here because each round measures base and candidate side by side, interleaved: a
machine that is slower in one round is slower for both.  Metrics sampled in paired rounds (latency,
throughput) are judged on the first round's paired ratio and never re-measured.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import TfmatrixError
from ..records import metrics as catalogue
from ..records.metrics import COLD_START_PHASES, Metric
from ..records.model import CombinationRecord
from ..records.status import PhaseStatus
from ..records.store import RUN_ID_ENV, RunDir, new_run_id
from ..stats import paired_ratio
from .compare import status_change
from .comparison import Change, Comparison
from .verdicts import DEFAULT_ALPHA, DEFAULT_THRESHOLD, UNDECIDABLE, compare_metric, compare_paired

MAX_COLD_STARTS = 20  # the cap: cold starts a side, all rounds together
WANTING = ("not-significant", UNDECIDABLE)  # verdicts that more samples may turn into a verdict


def compare_combinations(base: CombinationRecord, cand: CombinationRecord, *, threshold: float = DEFAULT_THRESHOLD,
                         alpha: float = DEFAULT_ALPHA, thresholds: Mapping[str, float] | None = None) -> Comparison:
    """Two combinations of one run (``--rerun-base``): by model and metric, paired rounds where they were sampled
    in them.  The comparison's runs are named ``<run>:<combination>``."""
    thresholds = dict(thresholds or {})
    cmp = Comparison(f"{base.run_id}:{base.id}", f"{cand.run_id}:{cand.id}", rerun=True)
    change = status_change(cand.id, base, cand)
    if change:
        cmp.status_changes.append(change)

    def by_model(rec: CombinationRecord) -> dict[tuple[str | None, str], tuple[Metric, list[float], Any]]:
        return {(phase.model, metric.key): (metric, xs, phase.rounds if phase.rounds and len(phase.rounds) == len(xs)
                                            else None)
                for phase, metric, xs in catalogue.all_measured(rec.phases, judged=True)}

    bs, cs = by_model(base), by_model(cand)
    for key in sorted(set(bs) & set(cs), key=lambda k: (k[0] or "", k[1])):
        metric, bx, br = bs[key]
        _, cx, cr = cs[key]
        t = catalogue.threshold_for(metric, thresholds, threshold)
        paired = paired_ratio(bx, br, cx, cr)
        if paired is not None:
            ratio, p, verdict = paired.ratio, None, compare_paired(metric, paired, threshold=t)
        else:
            ratio, p, verdict = compare_metric(metric, bx, cx, threshold=t, alpha=alpha)
        cmp.changes.append(Change(cand.id, key[0], metric, statistics.median(bx), statistics.median(cx), ratio, p,
                                  verdict, paired=paired))
    return cmp


def wanting(cmp: Comparison) -> list[Change]:
    """The changes more cold starts could decide: a cold-start metric beyond its factor, p not below alpha."""
    return [c for c in cmp.changes if c.metric.key in COLD_START_PHASES and c.paired is None
            and c.verdict.split(" ", 1)[0] in WANTING]


def cold_starts(record: CombinationRecord) -> int:
    """The samples of the record's most sampled cold-start phase that ended ok (its cold starts)."""
    return max((len(p.samples) for p in record.phases if p.phase in COLD_START_PHASES
                and p.status == PhaseStatus.OK), default=0)


def pooled(first: CombinationRecord, more: Sequence[CombinationRecord]) -> CombinationRecord:
    """``first`` with the cold-start samples of the same (phase, model) in ``more`` appended."""
    extra: dict[tuple[str, str | None], list[float]] = {}
    for rec in more:
        for p in rec.phases:
            if p.phase in COLD_START_PHASES and p.status == PhaseStatus.OK:
                extra.setdefault((p.phase, p.model), []).extend(p.samples)
    phases = [dataclasses.replace(p, samples=[*p.samples, *extra.get((p.phase, p.model), [])])
              if p.phase in COLD_START_PHASES and p.status == PhaseStatus.OK else p for p in first.phases]
    return dataclasses.replace(first, phases=phases)


@dataclass(frozen=True)
class Remeasure:
    """How the gate runs another round: the nox interpreter and noxfile of the invocation, its bench options."""

    nox_python: str
    noxfile: Path
    bench_args: tuple[str, ...] = ()  # --quick
    cap: int = MAX_COLD_STARTS

    def round(self, base: str, cand: str, cold: int, results: Path) -> RunDir:
        """``nox -s bench(BASE) bench(CANDIDATE) -- --cold-starts N`` into a new run; its run folder."""
        run = RunDir(results, new_run_id())
        argv = [self.nox_python, "-m", "nox", "-f", str(self.noxfile), "-s", f"bench({base})", f"bench({cand})",
                "--", *self.bench_args, "--cold-starts", str(cold)]
        code = subprocess.run(argv, env={**os.environ, RUN_ID_ENV: run.run_id}, check=False).returncode
        if code not in (0, 1):  # 1: a combination failed, which its record says
            raise TfmatrixError(f"compare --rerun-base: re-measuring {base} and {cand} ({run.run_id}) ended with "
                                f"exit status {code}; its log is nox's output above")
        return run


Judge = Callable[[CombinationRecord, CombinationRecord], Comparison]


def adaptive(base: CombinationRecord, cand: CombinationRecord, judge: Judge, remeasure: Remeasure | None,
             results: Path) -> Comparison:
    """Judge the pair; while a cold-start metric wants more samples and the cap allows, measure another round
    (as many more cold starts as so far) and judge the pooled samples.  Says each round in ``cmp.rounds``."""
    cmp = judge(base, cand)
    have = min(cold_starts(base), cold_starts(cand))
    more_base: list[CombinationRecord] = []
    more_cand: list[CombinationRecord] = []
    while remeasure is not None and wanting(cmp) and have < remeasure.cap:
        add = min(have, remeasure.cap - have) if have else remeasure.cap
        why = ", ".join(sorted({f"{c.metric.key} {c.verdict.split(' (')[0]}" for c in wanting(cmp)}))
        run = remeasure.round(base.id, cand.id, add, results)
        got = run.load().by_id()
        if base.id not in got or cand.id not in got:
            cmp.rounds.append(f"{run.run_id}: {add} more cold starts asked ({why}); no readable record of "
                              f"{base.id if base.id not in got else cand.id}, so the first rounds' verdicts stand")
            break
        more_base.append(got[base.id])
        more_cand.append(got[cand.id])
        rounds = list(cmp.rounds)
        pb, pc = pooled(base, more_base), pooled(cand, more_cand)
        if min(cold_starts(pb), cold_starts(pc)) <= have:  # its cold starts failed: asking again would loop
            cmp.rounds.append(f"{run.run_id}: {add} more cold starts asked ({why}); it gave no more samples (its "
                              "records say why), so the verdicts so far stand")
            return cmp
        have = min(cold_starts(pb), cold_starts(pc))
        cmp = judge(pb, pc)
        cmp.rounds = [*rounds, f"{run.run_id}: {add} more cold starts a side ({why}); judged on {have} pooled"]
    if remeasure is not None and wanting(cmp) and have >= remeasure.cap:
        left = ", ".join(sorted({c.metric.key for c in wanting(cmp)}))
        cmp.rounds.append(f"{left}: still undecided at {have} cold starts a side, the cap (--max-cold-starts "
                          f"{remeasure.cap})")
    return cmp
