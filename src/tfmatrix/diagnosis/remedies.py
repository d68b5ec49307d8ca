"""Remedies: the pin changes that could make a failed combination pass, computed from its record's facts.

A :class:`Candidate` is a set of :class:`PinChange` s to one combination's pins, made only from facts the
record holds (the culprit blame named, the ranges the installed packages declare for it, the forced and
required pins, the TensorFlow and Python in the record) and, when searching, from the index and the probes'
records.  Their kinds, in this order (:data:`KINDS`; docs/fix.md):

1. ``into-range``: drop a forced pin; the culprit moves into the range the packages requiring it declare.
2. ``newest-in-range``: the newest culprit release (with a wheel for the Python) inside every declared range.
3. ``python``: a Python the pinned releases ship wheels for (no-wheel, build-failed, no-interpreter).
4. ``companions``: tf-models-official, tf-keras and tensorflow-text on TensorFlow's minor; or a package the
   failure names at the version a passing combination of the same release resolved.
5. ``stack``: the cuda-pip stack for a cuda-system library failure (the GPU side).
6. ``older-release``: the newest older release of a library a probe's failure names (the fix session's search).
7. ``tensorflow``: another TensorFlow release (only when allowed; the fix session searches for it).

"Smallest first" is :attr:`Candidate.order`: fewest packages changed, then the smallest version distance,
then the kind's number.  The first candidate computed from the record alone is its fix line
(:func:`with_fix`); the class's fixed sentence stays only where nothing computed applies.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import compat

if TYPE_CHECKING:
    from ..records.model import Failure
    from .blame import Facts

#: (package, python) -> the versions the index has wheels of for that Python, oldest first
Index = Callable[[str, str], Sequence[Version]]
KINDS = ("into-range", "newest-in-range", "python", "companions", "stack", "older-release", "tensorflow")
#: what ``nox -s fix --allow`` may add to the pin changes a search always tries
ALLOWABLE = ("python", "tensorflow")
COMPANIONS = ("tf-models-official", "tf-keras", "tensorflow-text")
#: the classes a Python change can cure: nothing installed for this interpreter
INSTALL_CLASSES = ("no-wheel", "build-failed", "no-interpreter")
#: the classes of an install that failed (nothing installed: no pip check to read)
INSTALL_FAMILY = INSTALL_CLASSES + ("resolver-conflict", "install-failed")
TF = "tensorflow"
PY = "python"


def version_of(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def distance(a: str | None, b: str | None) -> float:
    """How far apart two versions are: majors count 10⁶, minors 10³, micros 1 (unknown: far)."""
    va, vb = version_of(a), version_of(b)
    if va is None or vb is None:
        return 1e9
    pa, pb = (va.release + (0, 0, 0))[:3], (vb.release + (0, 0, 0))[:3]
    return abs((pa[0] - pb[0]) * 1e6 + (pa[1] - pb[1]) * 1e3 + (pa[2] - pb[2]))


@dataclass(frozen=True)
class PinChange:
    """One package changed: from what the record had (``before``: its version, ``""`` not installed) to
    ``after``, a requirement specifier (``">=0.4.0,<1.0.0"``, ``"==1.26.4"``; for ``python`` and
    ``tensorflow`` a version), ``""`` for "the resolver's choice" (a forced pin dropped)."""

    package: str
    before: str
    after: str
    forced: str = ""  # the forced pin this change drops ("numpy>=2")

    @property
    def text(self) -> str:
        was = f"{self.package} {self.before}" if self.before else self.package
        if self.package in (PY, TF) or self.package in COMPANIONS and self.after and self.after[0].isdigit():
            return f"{was} → {self.after}"
        now = self.after or "the resolver's choice"
        return f"{was} → {now}" + (f" (forced {self.forced} dropped)" if self.forced and not self.after else "")

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "PinChange":
        return cls(doc["package"], doc["before"], doc["after"], doc.get("forced", ""))


@dataclass(frozen=True)
class Candidate:
    """A change to a combination's pins that could make it pass, and the facts it comes from."""

    kind: str  # one of KINDS
    changes: tuple[PinChange, ...]
    why: str  # "tensorflow 2.18.1 requires it"
    distance: float = 0.0
    gpu: bool = False  # a GPU-side remedy: proven only where a GPU is visible

    @property
    def key(self) -> frozenset[tuple[str, str]]:
        """What makes two candidates the same change (no candidate is tried twice)."""
        return frozenset((c.package, c.after) for c in self.changes)

    @property
    def order(self) -> tuple[int, float, int]:
        """Smallest first: fewest packages changed, then the smallest version distance, then the kind."""
        return (len(self.changes), self.distance, KINDS.index(self.kind))

    @property
    def line(self) -> str:
        """``"ml-dtypes 0.3.2 → >=0.4.0,<1.0.0 (tensorflow 2.18.1 requires it)"``."""
        return f"{'; '.join(c.text for c in self.changes)} ({self.why})"

    def then(self, later: "Candidate") -> "Candidate":
        """This change with a later one on top (a probe of this one failed another way; the later one cures
        that): the later change wins for a package both change."""
        mine = [c for c in self.changes if c.package not in {x.package for x in later.changes}]
        return Candidate(later.kind, tuple(mine) + later.changes, f"{self.why}; then {later.why}",
                         self.distance + later.distance, self.gpu or later.gpu)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "changes": [c.to_json() for c in self.changes], "why": self.why,
                "distance": self.distance, "gpu": self.gpu, "line": self.line}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Candidate":
        return cls(doc["kind"], tuple(PinChange.from_json(c) for c in doc["changes"]), doc["why"],
                   float(doc.get("distance", 0.0)), bool(doc.get("gpu", False)))


# --------------------------------------------------------------------------- the facts, read


def culprit_name(culprit: str) -> str | None:
    """The canonical package a culprit names ("ml-dtypes 0.3.2" → "ml-dtypes"; "Python 3.12" → "python";
    "cannot tell" or "" → None)."""
    if not culprit or culprit.startswith("cannot tell"):
        return None
    first = culprit.split()[0]
    return PY if first == "Python" else canonicalize_name(first)


def requirement_of(spec: str) -> Requirement | None:
    try:
        return Requirement(spec)
    except InvalidRequirement:
        return None


@dataclass(frozen=True)
class Declared:
    """A range one installed package declares for another: ``tensorflow`` (2.18.1) requires ``>=0.4.0,<1.0.0``."""

    by: str
    by_version: str
    spec: SpecifierSet

    @property
    def text(self) -> str:
        who = f"{self.by} {self.by_version}" if self.by_version else self.by
        return f"{who} requires it"


_DEPENDS_ON = re.compile(r"(?P<by>[A-Za-z][\w.-]*)(?: \(?v?(?P<ver>\d[\w.]*)\)?|==(?P<ver2>\d[\w.]*))? depends on "
                         r"(?P<pkg>[A-Za-z][\w.-]*)(?P<spec>(?:[<>=!~]=?[^\s,;]+,?)+)")


def declared(package: str, facts: "Facts", installer_words: str = "") -> list[Declared]:
    """The ranges the installed packages declare for ``package``: pip check's complaints, TensorFlow's own
    requirement (compat data, read from its METADATA), and the resolver's "X depends on Y<spec>" words."""
    out: list[Declared] = []
    for c in facts.conflicts:
        r = requirement_of(c.requirement)
        if c.target == package and r is not None and str(r.specifier):
            version = facts.pins.get(c.package, facts.tensorflow if c.package == TF else "")
            out.append(Declared(c.package, version, r.specifier))
    bc = compat.build_config(facts.tensorflow) if facts.tensorflow else None
    own = bc.requirement(package) if bc is not None and package in ("numpy", "protobuf", "keras") else ""
    if own and not any(d.by == TF for d in out):
        try:
            out.append(Declared(TF, facts.tensorflow, SpecifierSet(own)))
        except InvalidSpecifier:
            pass
    for m in _DEPENDS_ON.finditer(installer_words.replace("`", "")):
        if canonicalize_name(m.group("pkg")) == package:
            try:
                spec = SpecifierSet(m.group("spec").rstrip(","))
            except InvalidSpecifier:
                continue
            by = canonicalize_name(m.group("by"))
            if not any(d.by == by for d in out):
                out.append(Declared(by, m.group("ver") or m.group("ver2") or "", spec))
    return out


def joined(ranges: Sequence[Declared]) -> SpecifierSet:
    spec = SpecifierSet()
    for d in ranges:
        spec &= d.spec
    return spec


def range_text(spec: SpecifierSet) -> str:
    """``>=0.4.0,<1.0.0``: the tightest lower and upper bound of several declared ranges, then any exact or
    pins (a ``~=`` becomes its two bounds); the ``!=`` exclusions of broken patch releases left out."""
    by: dict[str, list] = {}
    for s in spec:
        if s.operator == "~=":  # ~=1.14 is >=1.14 and below the next release of the one-but-last part
            release = Version(s.version).release
            upper = ".".join(map(str, release[:-2] + (release[-2] + 1,)))
            by.setdefault(">=", []).append(Specifier(f">={s.version}"))
            by.setdefault("<", []).append(Specifier(f"<{upper}"))
            continue
        by.setdefault(s.operator, []).append(s)
    lows = by.get(">=", []) + by.get(">", [])
    highs = by.get("<", []) + by.get("<=", [])
    parts = [max(lows, key=lambda s: Version(s.version))] if lows else []
    parts += [min(highs, key=lambda s: Version(s.version))] if highs else []
    parts += sorted({s for op in ("==", "===") for s in by.get(op, [])}, key=str)
    return ",".join(str(s) for s in parts)


def why_of(ranges: Sequence[Declared]) -> str:
    return "; ".join(d.text if len(ranges) == 1 else f"{d.by} {d.by_version} requires {range_text(d.spec)}".replace(
        "  ", " ") for d in ranges[:3])


def nearest_bound(installed: str | None, spec: SpecifierSet) -> float:
    return min((distance(installed, s.version) for s in spec if s.operator != "!="), default=0.0)


@dataclass(frozen=True)
class Sibling:
    """A combination of the same TensorFlow release and Python that passed: what it resolved is a fact too."""

    label: str  # "tf2.15-cpu (ok in run 20261207T…)"
    pins: Mapping[str, str]


_SOURCE_PATH = re.compile(r"(?<![\w.])([A-Za-z_][\w]*)/[\w/.-]+\.(?:py|proto)\b")


def pointed(failure: "Failure", facts: "Facts") -> list[str]:
    """The installed packages the failure's evidence and blame name: with their version ("tensorflow-metadata
    1.21.0"), or by a source file of theirs ("tensorflow_metadata/proto/v0/anomalies.proto"); the culprit first."""
    from .blame import dist_of_module

    said = f"{failure.evidence} {failure.blame}"
    culprit = culprit_name(failure.culprit)
    found = {p for p, v in facts.pins.items() if re.search(rf"(?<![\w.-]){re.escape(p)} {re.escape(v)}\b", said)}
    found |= {d for m in _SOURCE_PATH.finditer(said) if (d := dist_of_module(m.group(1))) in facts.pins}
    return sorted(found | ({culprit} & set(facts.pins) if culprit else set()), key=lambda p: (p != culprit, p))


# --------------------------------------------------------------------------- the record's fix line


def fix_command(combo_id: str) -> str:
    return f"nox -s fix -- {combo_id}"


def with_fix(failure: "Failure", facts: "Facts") -> "Failure":
    """``failure`` with its fix line computed from the facts: the first candidate, not yet verified, and the
    command that verifies it; the class's fixed sentence stays where nothing computed applies."""
    if failure.cls in ("timeout", "host-oom", "install-failed") or facts.combination is None:
        return failure
    words = failure.evidence + "\n" + failure.blame
    from .cures import candidates

    found = candidates(failure, facts, installer_words=words, allow=())
    if not found:
        return failure
    first = found[0]
    where = " (a GPU-side change: proven only where a GPU is visible)" if first.gpu else ""
    line = f"{first.line}; not yet verified{where}: `{fix_command(facts.combination.id)}`"
    return dataclasses.replace(failure, fix=line)
