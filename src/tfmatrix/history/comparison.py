"""What a comparison found (:class:`Comparison`): its metric changes, its outcome changes, and what it read.

:mod:`tfmatrix.history.compare` makes one from two runs, :mod:`tfmatrix.history.gate` from two combinations of one
run; the compare page, the Markdown summary and the JSON beside the page (:meth:`Comparison.to_json`, every row)
show it.  Where a page or a summary cannot show every row, :meth:`Comparison.most_notable` keeps regressions first, then
improvements, then the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

from ..records.metrics import Metric
from ..stats import NOISE_FACTOR, PairedRatio

MIN_HISTORY = 3  # runs of a series before its run-to-run noise is known
SCHEMA_VERSION = 1  # of :meth:`Comparison.to_json`
#: verdicts kept first where not every row can be shown (the compare page, the Markdown summary); the rest after
RANK = {"regression": 0, "improvement": 1}


def rank(verdict: str) -> int:
    return RANK.get(verdict, len(RANK))


T = TypeVar("T", "Change", "StatusChange")


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class Change:
    combination: str
    model: str | None
    metric: Metric
    base_median: float
    cand_median: float
    ratio: float  # candidate / base of the medians (for a higher-is-better metric, below 1 is worse)
    p_value: float | None
    verdict: str  # regression, improvement, unchanged, not-significant, within-noise, "undecidable (why)"
    noise: float | None = None  # run-to-run noise: the median |log| factor between successive runs (None: unknown)
    history: int = 0  # the runs it was estimated from
    paired: PairedRatio | None = None  # --rerun-base: the ratio of paired interleaved rounds, with its interval

    @property
    def unit(self) -> str:
        return self.metric.unit

    @property
    def noise_shown(self) -> str:
        """"±1.9% (5 runs)", "paired: ×1.03 [×1.01–×1.05], 10 rounds", or "unknown"."""
        if self.paired is not None:
            return f"paired: {self.paired.text}, {self.paired.rounds} rounds"
        return f"±{math.expm1(self.noise):.1%} ({self.history} runs)" if self.noise is not None else "unknown"

    def to_json(self) -> dict[str, Any]:
        """JSON has no infinity nor NaN: such a number (a ratio over a zero base) is null."""
        paired = self.paired
        return {"combination": self.combination, "model": self.model, "metric": self.metric.key, "unit": self.unit,
                "better": self.metric.better, "base_median": _finite(self.base_median),
                "cand_median": _finite(self.cand_median), "ratio": _finite(self.ratio),
                "p_value": _finite(self.p_value), "verdict": self.verdict, "noise": _finite(self.noise),
                "history": self.history,
                "paired": {"ratio": _finite(paired.ratio), "low": _finite(paired.low), "high": _finite(paired.high),
                           "rounds": paired.rounds} if paired else None}


@dataclass(frozen=True)
class StatusChange:
    combination: str  # a combination id, or a prediction's key (``tf2.15-cpu@windows-py3.11``)
    base: str  # an Outcome, or a prediction's verdict (installable, no-wheel, ...)
    candidate: str
    verdict: str  # regression, improvement, changed
    why: str = ""  # the failure of the side that failed (the candidate's; the base's for an improvement)

    def to_json(self) -> dict[str, Any]:
        return {"combination": self.combination, "base": str(self.base), "candidate": str(self.candidate),
                "verdict": self.verdict, "why": self.why}


@dataclass
class Comparison:
    base_run: str
    candidate_run: str
    changes: list[Change] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # records left out, one line each
    history: list[str] = field(default_factory=list)  # the earlier runs the run-to-run noise comes from
    noise_factor: float = NOISE_FACTOR
    rerun: bool = False  # --rerun-base: base and candidate are two combinations measured in one run
    rounds: list[str] = field(default_factory=list)  # --rerun-base: the rounds re-measured for a verdict, a line each

    @property
    def noise_unknown(self) -> list[Change]:
        """Changes judged on one run's samples alone: too little history to know their run-to-run noise."""
        return [c for c in self.changes if c.noise is None]

    @property
    def noise_line(self) -> str:
        """What the run-to-run noise rests on, in one line."""
        if self.rerun:
            paired = sum(c.paired is not None for c in self.changes)
            return (f"base re-measured in the same run as the candidate: {paired} of {len(self.changes)} metrics "
                    "judged on paired interleaved rounds, the others on the samples of that run")
        unknown, total = len(self.noise_unknown), len(self.changes)
        runs = f"{len(self.history)} earlier run(s)"
        if not unknown:
            return f"run-to-run noise: known for every metric, from {runs}"
        return (f"run-to-run noise: unknown for {unknown} of {total} metrics (it needs {MIN_HISTORY} earlier "
                f"runs holding the metric; {runs} read): their verdicts rest on the samples of the two runs alone")

    def verdicts(self, verdict: str) -> list[Change | StatusChange]:
        """The status changes, then the metric changes, whose verdict is this."""
        both: list[Change | StatusChange] = [*self.status_changes, *self.changes]
        return [c for c in both if c.verdict == verdict]

    @property
    def regressions(self) -> list[Change | StatusChange]:
        return self.verdicts("regression")

    @property
    def improvements(self) -> list[Change | StatusChange]:
        return self.verdicts("improvement")

    @property
    def exit_status(self) -> int:
        return 1 if self.regressions else 0

    @staticmethod
    def most_notable(items: Sequence[T], limit: int) -> list[T]:
        """Up to ``limit`` of ``items`` (all of them where they fit): regressions first, then improvements, then
        the rest, each in its order; the ones kept come back in their order."""
        if len(items) <= limit:
            return list(items)
        kept = sorted(range(len(items)), key=lambda i: (rank(items[i].verdict), i))[:max(0, limit)]
        return [items[i] for i in sorted(kept)]

    def to_json(self) -> dict[str, Any]:
        """Every row and what the comparison read: the JSON written beside the compare page."""
        return {"schema_version": SCHEMA_VERSION, "base_run": self.base_run, "candidate_run": self.candidate_run,
                "exit_status": self.exit_status, "regressions": len(self.regressions),
                "improvements": len(self.improvements), "noise": self.noise_line, "noise_factor": self.noise_factor,
                "history": self.history, "rerun": self.rerun, "rounds": self.rounds,
                "status_changes": [s.to_json() for s in self.status_changes],
                "changes": [c.to_json() for c in self.changes], "only_in_base": self.only_in_base,
                "only_in_candidate": self.only_in_candidate, "warnings": self.warnings}
