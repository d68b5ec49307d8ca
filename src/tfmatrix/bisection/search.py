"""The search: a binary search over ordered candidates, with a prober that says what each version is.

The terms are git bisect's: the *old* end is as things were (``--good``), the *new* end as they became
(``--bad``); the search finds the first version that is like the new end.  With ``--fixed`` the old end
is the one that fails and the new end the one where the failure went away; the search does not care.

A probe that cannot say (its install failed, or its samples could not decide even re-measured) is skipped,
as ``git bisect skip`` does: the search tries the version nearest the middle that it has not tried, and
where only skipped versions are left between the last old and the first new one, it says that the change
may be in any of them, never guesses.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..records.status import _Value


class Verdict(_Value):
    OLD = "old"  # like the old end (good; with --fixed: still failing)
    NEW = "new"  # like the new end (bad; with --fixed: fixed)
    SKIP = "skip"  # could not be probed: the install failed, or the record is not one the criterion can read
    UNDECIDED = "undecided"  # measured, re-measured with more samples, and the samples still cannot decide


@dataclass(frozen=True)
class Probe:
    """What one version turned out to be, and why (the failure class and its line, or the metric's ratio)."""

    version: str
    verdict: Verdict
    evidence: str
    value: float | None = None  # the metric's median (a metric bisection), for the page
    low: float | None = None  # its 99 % interval, or its range where too few samples give one
    high: float | None = None
    record: str = ""  # the combination record it read (results/...)
    remeasured: bool = False

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "verdict": str(self.verdict), "evidence": self.evidence,
                "value": self.value, "low": self.low, "high": self.high, "record": self.record,
                "remeasured": self.remeasured}


class Ending(enum.Enum):
    FOUND = "found"  # first_new and last_old are consecutive candidates
    AMBIGUOUS = "ambiguous"  # only skipped versions lie between them: the change is in one of them
    OLD_END_NOT_OLD = "old-end-not-old"  # the --good end is not good (or could not be probed)
    NEW_END_NOT_NEW = "new-end-not-new"  # the --bad end is not bad


@dataclass
class Bisection:
    """The outcome of one search: its ending, the two versions around the change, every probe in order."""

    candidates: tuple[str, ...]
    probes: list[Probe] = field(default_factory=list)
    ending: Ending = Ending.FOUND
    last_old: Probe | None = None
    first_new: Probe | None = None
    unresolved: tuple[Probe, ...] = ()  # AMBIGUOUS: the skipped versions between the two

    @property
    def bound(self) -> int:
        """The most probes a search of this many candidates may need without skips: ⌈log2 n⌉ + 2 (the ends)."""
        n = len(self.candidates)
        return math.ceil(math.log2(n)) + 2 if n > 1 else n

    @property
    def probed(self) -> int:
        return len(self.probes)

    def probe_of(self, version: str) -> Probe | None:
        return next((p for p in self.probes if p.version == version), None)


def bisect(candidates: Sequence[str], probe: Callable[[str], Probe], log: Callable[[str], None] = lambda line: None,
           out: Bisection | None = None, after: Callable[[Bisection], None] = lambda b: None) -> Bisection:
    """Search ``candidates`` (oldest first, both ends included) for the first version like the new end, filling
    ``out`` (``after`` is told after each probe: the caller saves the state there)."""
    if len(candidates) < 2:
        raise ValueError("a bisection needs two ends")
    out = out if out is not None else Bisection(tuple(candidates))
    lo, hi = 0, len(candidates) - 1
    unusable: set[int] = set()

    def tried(i: int) -> Probe:
        p = probe(candidates[i])
        out.probes.append(p)
        after(out)
        return p

    def told(p: Probe) -> None:
        """The probe's line, with the interval as it stands after its verdict."""
        left = [j for j in range(lo + 1, hi) if j not in unusable]
        log(f"{p.version}: {p.verdict} ({p.evidence})  [{len(out.probes)} probes; {len(left)} untried between "
            f"{candidates[lo]} and {candidates[hi]}]")

    old = tried(lo)
    told(old)
    if old.verdict is not Verdict.OLD:
        out.ending, out.last_old = Ending.OLD_END_NOT_OLD, old
        return out
    new = tried(hi)
    told(new)
    if new.verdict is not Verdict.NEW:
        out.ending, out.last_old, out.first_new = Ending.NEW_END_NOT_NEW, old, new
        return out
    while True:
        inside = [i for i in range(lo + 1, hi) if i not in unusable]
        if not inside:
            break
        middle = (lo + hi) / 2
        i = min(inside, key=lambda j: (abs(j - middle), j))
        p = tried(i)
        if p.verdict is Verdict.OLD:
            lo, old = i, p
        elif p.verdict is Verdict.NEW:
            hi, new = i, p
        else:
            unusable.add(i)
        told(p)
    out.last_old, out.first_new = old, new
    between = [out.probe_of(candidates[i]) for i in range(lo + 1, hi)]
    out.unresolved = tuple(p for p in between if p is not None)
    out.ending = Ending.AMBIGUOUS if out.unresolved else Ending.FOUND
    return out
