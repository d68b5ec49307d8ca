"""Blame: the package most likely at fault for a failure, and why; or an honest "cannot tell".

It joins what a record already holds: the failing frames' distributions and the modules the exception
names (:mod:`.evidence`), ``pip check``'s conflicts, the resolved pins, the pins the matrix forces over
the resolver and those it requires, and the suspects a failure class names in ``data/taxonomy.yaml``.
A package is named only when one of those facts points at it; otherwise the reason says what the
evidence does show, and that it cannot single out a package.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from packaging.utils import canonicalize_name

from ..records.model import Failure
from . import evidence as ev

if TYPE_CHECKING:
    from ..records.model import CombinationInfo, InstallOutcome, Prediction

CANNOT_TELL = "cannot tell"

#: modules whose distribution has another name (the rest: the module name, canonicalized)
_MODULE_DIST = {"google.protobuf": "protobuf", "official": "tf-models-official", "tf_keras": "tf-keras",
                "yaml": "pyyaml", "cv2": "opencv-python-headless", "PIL": "pillow", "sklearn": "scikit-learn",
                "tensorflow_text": "tensorflow-text", "tensorflow_hub": "tensorflow-hub",
                "tensorflow_datasets": "tensorflow-datasets", "ml_dtypes": "ml-dtypes"}


@dataclass(frozen=True)
class Facts:
    """What a record knows about the environment a failure happened in."""

    python: str
    tensorflow: str
    pins: Mapping[str, str]  # resolved {canonical name: version}
    forced: frozenset[str] = frozenset()  # canonical names the matrix forces over the resolver
    required: frozenset[str] = frozenset()  # canonical names the matrix requires
    conflicts: tuple[ev.Conflict, ...] = ()
    combination: "CombinationInfo | None" = None  # the record's combination (its id, force and requires as written)
    predicted: str | None = None  # the pre-flight's class ("ok", "keras-mismatch"); None: no pre-flight ran

    @classmethod
    def of(cls, combo: "CombinationInfo", install: "InstallOutcome | None" = None,
           resolved: Iterable[str] = (), prediction: "Prediction | None" = None) -> "Facts":
        """From a record's combination, its install, its resolved pins (a venv not made: none) and its
        pre-flight."""
        from .preflight import parse_pins

        pins = parse_pins(list(resolved) or (install.resolved if install else []))
        return cls(python=combo.python, tensorflow=combo.tensorflow, pins=pins, forced=frozenset(ev.names(combo.force)),
                   required=frozenset(ev.names(combo.requirements)),
                   conflicts=tuple(ev.check_conflicts(install.check_output if install else "")),
                   combination=combo, predicted=prediction.predicted if prediction else None)

    def named(self, name: str) -> str:
        return f"{name} {self.pins[name]}" if name in self.pins else name


def assign(failure: Failure, text: str, facts: Facts, *, installer: bool = False) -> Failure:
    """``failure`` with its culprit and the reason, from the text it was classified from and the facts, and its
    fix computed from them (:mod:`.remedies`; the class's sentence only where nothing computed applies)."""
    from .classify import agree_with_prediction, classify_failure, load_taxonomy
    from .remedies import with_fix

    failure = agree_with_prediction(failure, text, facts.predicted)
    cls = failure.cls
    if cls == "degraded":  # a run that worked but printed a known error: blame as that error's class
        cls = classify_failure(status="error", text=failure.evidence).cls
    try:
        rule = load_taxonomy().rule(cls)
    except KeyError:
        rule = None
    family = rule.kin if rule else cls
    suspects = rule.suspects if rule else ()
    if installer or family == "install-failed":
        culprit, why = _installer(cls, text, facts)
    else:
        culprit, why = _runtime(cls, text, facts, suspects)
    return with_fix(dataclasses.replace(failure, culprit=culprit, blame=why), facts)


# --------------------------------------------------------------------------- the installer's failures


_NO_WHEEL = re.compile(r"(?:(?:Because|and|that) |^|: )(?:all versions of |Distribution )?`?(?P<pkg>[A-Za-z][\w.-]*?)"
                       r"`?(?:(?P<op>==|<=|>=|<|>)(?P<ver>[^\s,`@]+)(?P<more>(?:,(?:==|<=|>=|<|>|!=)[^\s,`@]+)*))?"
                       r"(?: @ \S+)?`? (?:ha(?:s|ve) no wheels with a matching|"
                       r"is unusable because no wheels|can't be installed because it doesn't have)")
_NO_DIST = re.compile(r"No matching distribution found for (?P<pkg>[A-Za-z][\w.-]*?)(?:==(?P<ver>[^\s(]+))?(?:\s|$)")
_BUILD = re.compile(r"Failed to (?:download and )?build:? `?(?P<pkg>[A-Za-z0-9][\w.-]*?)==(?P<ver>[^\s`]+?)`?"
                    r"(?:\s|$|;|:)|Failed building wheel for (?P<pkg2>[A-Za-z0-9][\w.-]*)")
_DEPENDS = re.compile(r"(?<![\w.-])`?(?P<pkg>[A-Za-z][\w.-]*?)(?:\[[^\]]*\])?`?(?:[=<>!~]=?[^\s,`]+| v?\d[\w.]*)?`? (?:depends on|requires) `?"
                      r"(?P<dep>[A-Za-z][\w.-]*?)(?:[<>=!~\s`;,]|$)")
_REQUIRE = re.compile(r"(?:you require|your project requires|The user requested) `?(?P<pkg>[A-Za-z][\w.-]*?)(?:[<>=!~\s`;,]|$)")
_INTERPRETER = re.compile(r"Python interpreter (?P<v>\S+) not found|No interpreter found for (?:Python |CPython )?"
                          r"(?P<w>\d[\w.]*)")


def _installer(cls: str, text: str, facts: Facts) -> tuple[str, str]:
    cause = ev.installer_cause(text) or ""
    if cls == "no-interpreter":
        m = _INTERPRETER.search(text)
        version = (m.group("v") or m.group("w")) if m else facts.python
        return (f"Python {version}", f"Python {version} is not on this machine, and nox/uv could not make it "
                                     f"(the words above); install it, or drop it from `pythons`")
    if cls == "no-wheel":
        m = _NO_WHEEL.search(cause) or _NO_WHEEL.search(text) or _last(_NO_DIST, text)
        if m:
            return (name := _no_wheel_name(m)), f"{name} has no wheel for Python {facts.python} on this platform: {cause}"
    if cls == "build-failed":
        m = _BUILD.search(cause) or _BUILD.search(text)
        if m:
            name = f"{m.group('pkg')} {m.group('ver')}" if m.group("pkg") else m.group("pkg2")
            return name, f"{name} had to be built from source for Python {facts.python} and its build failed: {cause}"
    involved = _mentioned(cause, facts)
    if cls == "resolver-conflict":
        for label, group in (("forced over the resolver", facts.forced), ("pinned by the matrix", facts.required)):
            hit = sorted(involved & group)
            if len(hit) == 1:
                return hit[0], f"{hit[0]} is {label}, and the resolver cannot satisfy it with the rest: {cause}"
            if hit:
                both = "both" if len(hit) == 2 else "all"
                return CANNOT_TELL, (f"{' and '.join(hit)} are {both} {label} and exclude each other; one of them "
                                     f"must change: {cause}")
    return CANNOT_TELL, (f"the installer's words name {', '.join(sorted(involved))} but do not single one out"
                         f": {cause}" if involved else "the installer's words name no package")


def _no_wheel_name(m: re.Match[str]) -> str:
    """``tensorflow-text 2.15.0`` for one release; ``tensorflow-text>=2.20.0,<=2.20.1`` for a range of them."""
    ver = m.groupdict().get("ver")
    if not ver:
        return m.group("pkg")
    op = m.groupdict().get("op") or "=="
    more = m.groupdict().get("more") or ""
    return f"{m.group('pkg')} {ver}" if op == "==" and not more else f"{m.group('pkg')}{op}{ver}{more}"


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for ln in text.splitlines():
        found = pattern.search(ln.strip()) or found
    return found


def _mentioned(cause: str, facts: Facts) -> set[str]:
    found: set[str] = {canonicalize_name(m.group(g)) for m in _DEPENDS.finditer(cause) for g in ("pkg", "dep")}
    found |= {canonicalize_name(m.group("pkg")) for m in _REQUIRE.finditer(cause)}
    return found


# --------------------------------------------------------------------------- failures of a running process


def dist_of_module(module: str) -> str:
    return _MODULE_DIST.get(module) or canonicalize_name(module)


def _runtime(cls: str, text: str, facts: Facts, suspects: Iterable[str]) -> tuple[str, str]:
    py = ev.python_failure(text)
    crash = ev.native_crash(text)
    frames = py.frames if py else (crash[1] if crash else ())
    lib = next((f for f in reversed(frames) if f.distribution), None)
    where = f"the failure is in {lib.owner} code ({lib.short})" if lib else ""
    message = py.message if py else (ev.last_exception_line(text) or "")
    named = {dist_of_module(m) for m in ev.modules_named(message)}
    suspects = {canonicalize_name(s) for s in suspects}
    framed = {f.distribution for f in frames if f.distribution}
    by_target: dict[str, list[ev.Conflict]] = {}
    for c in facts.conflicts:
        by_target.setdefault(c.target, []).append(c)

    def because(pkg: str, first: str) -> tuple[str, str]:
        conflicts = sorted(by_target.get(pkg, []), key=lambda c: (c.package != "tensorflow", c.package))
        said = [first] + [c.text() for c in conflicts[:2]]
        said += [f"{len(conflicts) - 2} more packages require another {pkg}"] if len(conflicts) > 2 else []
        return facts.named(pkg), "; ".join(said + ([where] if where else []))

    pointed = suspects | named | framed  # what the failure itself points at
    forced = sorted(pointed & facts.forced, key=lambda p: (p not in suspects | named, p not in by_target, p))
    if forced:
        return because(forced[0], f"{facts.named(forced[0])} is forced over the resolver's choice")
    linked = sorted(pointed & set(by_target), key=lambda p: (p not in suspects | named, p))
    if linked:
        return because(linked[0], f"pip check rejects {facts.named(linked[0])}")
    present = sorted(p for p in suspects if p in facts.pins)
    if len(present) == 1:
        pkg = present[0]
        how = "pinned by the matrix" if pkg in facts.required else "resolved as a dependency"
        return because(pkg, f"a {cls} failure is about {pkg}, and {facts.named(pkg)} is {how}")
    if cls == "python-version":
        outside = sorted(n for n in named if n in facts.pins and n.replace("-", "_") not in sys.stdlib_module_names)
        owner = lib.owner if lib is not None else (facts.named(outside[0]) if len(outside) == 1 else "")
        if owner:
            return owner, f"{owner} predates Python {facts.python}: {py.line() if py else ''}".rstrip(": ")
    shown = where or (f"the exception names {', '.join(sorted(named))}" if named else "no traceback names a library")
    aside = sorted(set(by_target) & facts.forced)  # forced and rejected by pip check, but not where it failed
    also = (f"; {', '.join(facts.named(p) for p in aside)} is forced and pip check rejects it, but the failure does "
            f"not point at it") if aside else ""
    return CANNOT_TELL, (f"{shown}; no forced pin, pip check conflict or known suspect of {cls} points at one "
                         f"package{also}")
