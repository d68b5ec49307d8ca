"""The kinds of cure (:mod:`.remedies` holds their types and the facts they are read from).

Each function reads one kind of candidate out of a failed record's facts; :func:`candidates` joins them,
smallest first, none twice.  The kinds and their order are in docs/fix.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from packaging.utils import canonicalize_name
from packaging.version import Version

from . import compat
from .remedies import (
    COMPANIONS,
    INSTALL_CLASSES,
    INSTALL_FAMILY,
    PY,
    TF,
    Candidate,
    Index,
    PinChange,
    Sibling,
    culprit_name,
    declared,
    distance,
    joined,
    nearest_bound,
    pointed,
    range_text,
    requirement_of,
    version_of,
    why_of,
)

if TYPE_CHECKING:
    from ..records.model import Failure
    from .blame import Facts


# --------------------------------------------------------------------------- the kinds


def _into_range(cls: str, culprit: str | None, facts: "Facts", words: str, tried: str = "") -> list[Candidate]:
    """Kind 1: each forced pin the failure points at dropped, the culprit inside the ranges declared for it."""
    combo = facts.combination
    out: list[Candidate] = []
    forced: dict[str, str] = {str(canonicalize_name(r.name)): spec for spec in (combo.force if combo else ())
                              if (r := requirement_of(spec))}
    required = {str(canonicalize_name(r.name)) for spec in (combo.requirements if combo else ()) if (r := requirement_of(spec))}
    targets = [culprit] if culprit and culprit != PY else sorted({c.target for c in facts.conflicts} & set(forced))
    for pkg in targets:
        if pkg is None:
            continue
        ranges = declared(pkg, facts, words)
        spec = joined(ranges)
        installed = facts.pins.get(pkg) or (tried if pkg == culprit else "")  # an install that failed: its attempt
        if ranges and installed and spec.contains(installed, prereleases=True) and pkg not in forced:
            continue  # inside every range already: moving it cannot help
        if ranges and not range_text(spec):
            continue
        after = range_text(spec) if ranges else ""
        if not after and pkg not in forced:
            continue
        if pkg in required and not after:
            continue
        pin = forced.get(pkg, pkg)
        why = why_of(ranges) if ranges else (
            f"{pin} is forced over the resolver's choice, and it could not be installed" if cls in INSTALL_FAMILY
            else f"{pin} is forced over the resolver's choice; no installed package's declared range asks for it")
        out.append(Candidate("into-range", (PinChange(pkg, installed, after, forced.get(pkg, "")),), why,
                             nearest_bound(installed, spec) if ranges else 0.0))
    return out


def _newest_in_range(cls: str, culprit: str | None, facts: "Facts", words: str, index: Index | None) -> list[Candidate]:
    """Kind 2: the newest release of the culprit inside every declared range that has a wheel for the Python (no
    range known: no candidate; a release outside one would only trade this failure for a resolver conflict)."""
    if index is None or culprit is None or culprit == PY:
        return []
    ranges = declared(culprit, facts, words)
    if not ranges:
        return []
    spec = joined(ranges)
    installed = facts.pins.get(culprit) or _attempted_version(culprit, words)
    fits = [v for v in index(culprit, facts.python) if spec.contains(v, prereleases=False) and str(v) != installed]
    if not fits:
        return []
    best = max(fits)
    why = f"the newest {culprit} with a wheel for Python {facts.python} inside {range_text(spec)} ({why_of(ranges)})"
    return [Candidate("newest-in-range", (PinChange(culprit, installed or "", f"=={best}"),), why,
                      distance(installed, str(best)))]


def _attempted_version(package: str, words: str) -> str:
    m = re.search(rf"{re.escape(package)}(?:==| \(?v?)(\d[\w.]*)", words.replace("`", ""), re.IGNORECASE)
    return m.group(1) if m else ""


def _python(cls: str, facts: "Facts", index: Index | None, culprit: str | None,
            available: Callable[[str], bool], tried: str = "") -> list[Candidate]:
    """Kind 3: another Python the pinned TensorFlow (and the culprit release) ship wheels for."""
    if cls not in INSTALL_CLASSES:
        return []
    bc = compat.build_config(facts.tensorflow)
    if bc is None:
        return []
    out: list[Candidate] = []
    low, high = compat.dotted(bc.python_min)[:2], compat.dotted(bc.python_max)[:2]
    pythons = [f"{low[0]}.{m}" for m in range(low[1], high[1] + 1)]
    for py in sorted(pythons, key=lambda p: distance(facts.python, p)):
        if py == facts.python or not available(py):
            continue
        if index is not None:
            if Version(facts.tensorflow) not in index(TF, py):
                continue
            culprit_version = facts.pins.get(culprit or "") or tried  # a build that failed: the release it tried
            if culprit and culprit != PY and culprit_version and Version(culprit_version) not in index(culprit, py):
                continue
        out.append(Candidate("python", (PinChange(PY, facts.python, py),),
                             f"TF {facts.tensorflow} is tested on Python {bc.python_range}",
                             distance(facts.python, py)))
    return out


def _companions(facts: "Facts", index: Index | None) -> list[Candidate]:
    """Kind 4: the Model Garden, tf-keras and tensorflow-text on TensorFlow's own minor."""
    tf = version_of(facts.tensorflow)
    combo = facts.combination
    if tf is None:
        return []
    minor = f"{tf.major}.{tf.minor}"
    out: list[PinChange] = []
    for pkg in COMPANIONS:
        have = facts.pins.get(pkg) or (combo.models_official if combo and pkg == "tf-models-official" else None)
        v = version_of(have)
        if v is None or (v.major, v.minor) == (tf.major, tf.minor):
            continue
        after = f"=={minor}.*"
        if index is not None:
            same = [x for x in index(pkg, facts.python) if (x.major, x.minor) == (tf.major, tf.minor) and not x.is_prerelease]
            if not same:
                continue
            after = f"=={max(same)}"
        out.append(PinChange(pkg, str(have), after))
    if not out:
        return []
    return [Candidate("companions", tuple(out), f"TensorFlow {facts.tensorflow}'s companions are released per minor",
                      sum(distance(c.before, c.after.lstrip("=").rstrip(".*")) for c in out))]


def _siblings(failure: "Failure", facts: "Facts", siblings: Sequence[Sibling]) -> list[Candidate]:
    """Kind 4, from a passing combination of the same release: each package the failure points at, at the
    version that combination resolved."""
    out: list[Candidate] = []
    for pkg in pointed(failure, facts):
        for sib in siblings:
            theirs = sib.pins.get(pkg)
            if theirs and theirs != facts.pins.get(pkg) and pkg != TF:
                out.append(Candidate("companions", (PinChange(pkg, facts.pins.get(pkg, ""), f"=={theirs}"),),
                                     f"as {sib.label} resolved it", distance(facts.pins.get(pkg), theirs)))
                break
    return out


def _gpu(cls: str, facts: "Facts") -> list[Candidate]:
    """The GPU side: the cuDNN TensorFlow was built for (a pin), where the record's stack pins nvidia wheels."""
    bc = compat.build_config(facts.tensorflow)
    if bc is None or cls not in ("cudnn-mismatch", "dnn-not-found", "cuda-lib-missing"):
        return []
    name = f"nvidia-cudnn-cu{bc.cuda_major}"
    have = facts.pins.get(name)
    if have is None or have.startswith(f"{bc.cudnn}."):
        return []
    return [Candidate("into-range", (PinChange(name, have, f"=={bc.cudnn}.*"),),
                      f"TF {facts.tensorflow} was built against cuDNN {bc.cudnn}", distance(have, bc.cudnn), gpu=True)]


_GPU_CLASSES = ("no-gpu", "cudnn-mismatch", "dnn-not-found", "cuda-lib-missing")


def _gpu_stack(cls: str, facts: "Facts", stacks: Sequence[str]) -> list[Candidate]:
    """The GPU side: a cuda-system combination whose CUDA libraries TensorFlow cannot use, on the matrix's
    cuda-pip stack (the nvidia-* wheels TensorFlow's metadata asks for)."""
    combo = facts.combination
    if combo is None or combo.stack_kind != "cuda-system" or cls not in _GPU_CLASSES[1:] or not stacks:
        return []
    return [Candidate("stack", (PinChange("stack", combo.stack, stacks[0]),),
                      f"tensorflow[and-cuda] {facts.tensorflow} installs the CUDA and cuDNN wheels it was built for",
                      0.0, gpu=True)]


def _driver_release(cls: str, facts: "Facts", driver: str | None, index: Index | None) -> list[Candidate]:
    """The GPU side, with --allow tensorflow: the nearest TensorFlow release whose tested CUDA build (compat data)
    this host's driver runs, where the record's does not."""
    bc = compat.build_config(facts.tensorflow)
    if driver is None or bc is None or cls not in _GPU_CLASSES or compat.driver_ok(driver, bc.cuda_exact):
        return []
    fits = [c for c in compat.load_compat().tensorflow if compat.driver_ok(driver, c.cuda_exact) and c.tf != bc.tf]
    if not fits:
        return []
    best = min(fits, key=lambda c: distance(facts.tensorflow, c.tf))
    minor = Version(best.tf).release[:2]
    releases = [v for v in (index(TF, facts.python) if index else ()) if v.release[:2] == minor and not v.is_prerelease]
    return [Candidate("tensorflow", (PinChange(TF, facts.tensorflow, str(max(releases)) if releases else f"{best.tf}.*"),),
                      f"TF {best.tf} was tested with CUDA {best.cuda_exact}, which driver {driver} runs; TF "
                      f"{bc.tf}'s CUDA {bc.cuda_exact} needs a newer driver", distance(facts.tensorflow, best.tf),
                      gpu=True)]


def candidates(failure: "Failure", facts: "Facts", *, index: Index | None = None, installer_words: str = "",
               allow: Iterable[str] = (), python_available: Callable[[str], bool] = lambda py: True,
               siblings: Sequence[Sibling] = (), driver: str | None = None,
               cuda_pip_stacks: Sequence[str] = ()) -> list[Candidate]:
    """Every candidate the facts give, smallest first, none twice (``allow``: "python" adds kind 3, "tensorflow"
    the GPU side's release for this host's ``driver``; the fix session searches releases itself)."""
    cls = failure.cls
    culprit = culprit_name(failure.culprit)
    tried = failure.culprit.split()[1] if culprit and len(failure.culprit.split()) > 1 else ""
    found = (_into_range(cls, culprit, facts, installer_words, tried) + _gpu(cls, facts)
             + _newest_in_range(cls, culprit, facts, installer_words, index) + _companions(facts, index)
             + _siblings(failure, facts, siblings))
    found += _gpu_stack(cls, facts, cuda_pip_stacks)
    if PY in set(allow):
        found += _python(cls, facts, index, culprit, python_available, tried)
    if TF in set(allow):
        found += _driver_release(cls, facts, driver, index)
    unique: dict[frozenset[tuple[str, str]], Candidate] = {}
    for c in sorted(found, key=lambda c: c.order):
        unique.setdefault(c.key, c)
    return list(unique.values())
