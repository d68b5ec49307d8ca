"""What "bad" means in a bisection, read from a probe's combination record: an outcome, or a metric.

An outcome (``--when failed``, ``--when degraded``, ``--when class=numpy-abi``) holds or not for a record;
without ``--fixed`` a version where it holds is *new* (bad), with ``--fixed`` one where it no longer holds is.
A metric (``--metric import --factor 1.3``) is judged against the good end's samples with the statistics
``compare`` uses (:func:`tfmatrix.history.verdicts.compare_metric`: the median ratio beyond the factor and
the Mann-Whitney test significant).  A record a criterion cannot read (its install failed, the host skipped
it, the metric's phase failed) makes the probe a skip, with the reason.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Protocol

from ..diagnosis.classify import failure_classes, family_of
from ..errors import TfmatrixError
from ..history.verdicts import DEFAULT_ALPHA, UNDECIDABLE, compare_metric
from ..records import metrics as catalogue
from ..records.metrics import Metric
from ..records.model import CombinationRecord
from ..records.quantity import RATIO, Quantity
from ..records.status import Status
from ..stats import median_ci
from .search import Probe, Verdict

OUTCOMES = ("failed", "degraded")


def _why(rec: CombinationRecord) -> str:
    """A record's ending in a line: ``failed/numpy-abi: ImportError: …`` or ``ok``."""
    if rec.failure is not None:
        return f"{rec.status}/{rec.failure.cls}: {rec.failure.evidence}"
    return f"{rec.status}" + (f": {rec.reason}" if rec.reason else "")


class Criterion(Protocol):
    @property
    def fixed(self) -> bool: ...

    def describe(self) -> str: ...

    def judge(self, version: str, rec: CombinationRecord, reference: CombinationRecord | None) -> Probe: ...


@dataclass(frozen=True)
class OutcomeCriterion:
    """``--when failed | degraded | class=CLASS``: does the probe end that way?"""

    when: str
    fixed: bool = False

    @classmethod
    def parse(cls, text: str, fixed: bool) -> "OutcomeCriterion":
        if text in OUTCOMES:
            return cls(text, fixed)
        if text.startswith("class="):
            name = text.split("=", 1)[1]
            known = failure_classes()
            if name not in known:
                raise TfmatrixError(f"bisect --when: got class {name!r}; expected a failure class of the "
                                    f"taxonomy ({', '.join(sorted(known))})")
            return cls(text, fixed)
        raise TfmatrixError(f"bisect --when: got {text!r}; expected failed, degraded or class=CLASS "
                            "(class=numpy-abi)")

    @property
    def cls(self) -> str | None:
        return self.when.split("=", 1)[1] if self.when.startswith("class=") else None

    def describe(self) -> str:
        what = f"ends in class {self.cls}" if self.cls else f"ends {self.when}"
        return f"the first version that no longer {what}" if self.fixed else f"the first version that {what}"

    def holds(self, rec: CombinationRecord) -> bool:
        if self.cls is not None:
            return rec.failure is not None and self.cls in (rec.failure.cls, family_of(rec.failure.cls))
        return rec.status == Status(self.when)

    def judge(self, version: str, rec: CombinationRecord, reference: CombinationRecord | None) -> Probe:
        why = _why(rec)
        if rec.status in (Status.SKIPPED, Status.INTERRUPTED, Status.PENDING) or (
                rec.status == Status.INSTALL_FAILED and not self.holds(rec)):
            return Probe(version, Verdict.SKIP, f"not probed: {why}")
        new = self.holds(rec) != self.fixed
        return Probe(version, Verdict.NEW if new else Verdict.OLD, why)


@dataclass(frozen=True)
class MetricCriterion:
    """``--metric KEY --factor F``: is the probe's metric beyond ``F`` times the good end's, significantly?"""

    metric: Metric
    factor: float
    model: str | None = None  # the model whose samples count (None: the import, or the only model measured)
    alpha: float = DEFAULT_ALPHA
    fixed: bool = False  # --fixed: the first version where it got better by the factor

    @classmethod
    def parse(cls, key: str, factor: float, fixed: bool, model: str | None = None) -> "MetricCriterion":
        try:
            metric = catalogue.by_key(key)
        except KeyError:
            raise TfmatrixError(f"bisect --metric: got {key!r}; expected import, load, first-inference, latency, "
                                "throughput[bN] or peak-rss") from None
        if not factor > 1:
            raise TfmatrixError(f"bisect --factor: got {factor}; expected a ratio above 1 (1.3: 30 % worse)")
        return cls(metric, factor, model, fixed=fixed)

    def describe(self) -> str:
        way = "better" if self.fixed else "worse"
        return f"the first version whose {self.metric.key} is ×{self.factor:g} {way} than the good end's"

    def samples(self, rec: CombinationRecord) -> list[float] | None:
        found = [(p.model, xs) for p, m, xs in catalogue.all_measured(rec.phases, judged=True)
                 if m.key == self.metric.key]
        if self.model is not None:
            found = [f for f in found if f[0] == self.model]
        return found[0][1] if found else None

    def judge(self, version: str, rec: CombinationRecord, reference: CombinationRecord | None) -> Probe:
        xs = self.samples(rec)
        if xs is None:
            return Probe(version, Verdict.SKIP, f"no {self.metric.key} samples: {_why(rec)}")
        ci = median_ci(xs)
        low, high = ci if ci else (min(xs), max(xs))
        median = statistics.median(xs)
        unit = self.metric.unit
        shown = f"{Quantity(median, unit)} [{'99 % CI' if ci else 'range'} {Quantity(low, unit)}–{Quantity(high, unit)}]"
        if reference is None:  # the good end itself: the reference every probe is judged against
            return Probe(version, Verdict.OLD, f"{self.metric.key} {shown} (the reference, {len(xs)} samples)",
                         median, low, high)
        base = self.samples(reference)
        assert base is not None, "the reference was judged first"
        ratio, p, verdict = compare_metric(self.metric, base, xs, threshold=self.factor, alpha=self.alpha)
        tested = f", p={p:.3g}" if p is not None else ""
        line = (f"{self.metric.key} {shown} against {Quantity(statistics.median(base), unit)}: "
                f"{Quantity(ratio, RATIO)}{tested}, {verdict} ({len(xs)} against {len(base)} samples)")
        if verdict == "not-significant" or verdict.startswith(UNDECIDABLE):
            return Probe(version, Verdict.UNDECIDED, line, median, low, high)
        moved = verdict == ("improvement" if self.fixed else "regression")
        return Probe(version, Verdict.NEW if moved else Verdict.OLD, line, median, low, high)
