"""The versions a bisection tries: the TensorFlow package's versions between its two ends, from the index.

The index is asked through pip (``pip index versions``, for the template's Python, wheels only), never
scraped: what it lists is what ``uv pip install`` could install for that Python.  The list is ordered by
PEP 440 (``packaging.version.Version``), oldest first, both ends included.  Releases by default;
``--include-pre`` adds release candidates; ``--nightly`` takes ``tf-nightly``'s dev builds instead.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from packaging.version import InvalidVersion, Version

from ..errors import TfmatrixError

NIGHTLY_PACKAGE = "tf-nightly"
_AVAILABLE_RE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)

#: (argv) -> (exit status, stdout + stderr); a seam for tests (the real one runs pip)
Runner = Callable[[Sequence[str]], tuple[int, str]]


def pip_command() -> list[str]:
    """pip of this interpreter, else pip run by uv (``uv tool run pip``) where this interpreter has none."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uv = shutil.which("uv")
    if uv is None:
        raise TfmatrixError("bisect: neither pip (in this Python) nor uv is here to list the package's versions")
    return [uv, "tool", "run", "pip"]


def _run(argv: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def index_versions(package: str, python: str, *, pre: bool, index_url: str | None = None,
                   run: Runner = _run) -> list[Version]:
    """Every version of ``package`` the index has wheels of for ``python``, oldest first."""
    argv = [*pip_command(), "index", "versions", package, "--python-version", python, "--only-binary=:all:",
            "--disable-pip-version-check"]
    if pre:
        argv.append("--pre")
    if index_url:
        argv += ["--index-url", index_url]
    status, out = run(argv)
    found = _AVAILABLE_RE.search(out)
    if status != 0 or found is None:
        last = next((line for line in reversed(out.splitlines()) if line.strip()), "no output")
        raise TfmatrixError(f"bisect: the index lists no {package} wheels for Python {python} ({last.strip()})")
    return sorted(_versions(found.group(1)))


def _versions(text: str) -> list[Version]:
    out = []
    for word in text.split(","):
        try:
            out.append(Version(word.strip()))
        except InvalidVersion:
            continue  # a legacy version string: never a TensorFlow release a bisection could probe
    return out


def kind_of(version: Version) -> str:
    """release, pre (a release candidate) or nightly (a dev build)."""
    if version.is_devrelease:
        return "nightly"
    return "pre" if version.is_prerelease else "release"


@dataclass(frozen=True)
class Candidates:
    """The ordered versions between two ends (both included), of one package."""

    package: str
    versions: tuple[str, ...]

    @property
    def good(self) -> str:
        return self.versions[0]

    @property
    def bad(self) -> str:
        return self.versions[-1]

    def __len__(self) -> int:
        return len(self.versions)


def between(package: str, available: Sequence[Version], good: str, bad: str, *, include_pre: bool = False,
            nightly: bool = False, old_term: str = "good", new_term: str = "bad") -> Candidates:
    """The versions from ``good`` to ``bad`` that the bisection may probe; a one-line error for ends that are
    not versions, not on the index, or in the wrong order."""
    ends = {}
    for term, text in ((old_term, good), (new_term, bad)):
        try:
            ends[term] = Version(text)
        except InvalidVersion:
            raise TfmatrixError(f"bisect --{term}: got {text!r}; expected a {package} version (2.15.1, "
                                "2.23.0.dev20261026)") from None
    lo, hi = ends[old_term], ends[new_term]
    if lo >= hi:
        raise TfmatrixError(f"bisect: --{old_term} {good} is not older than --{new_term} {bad}; expected the "
                            f"{old_term} end first in version order (swap them)")
    kinds = {"nightly"} if nightly else {"release", "pre"} if include_pre else {"release"}
    known = set(available)
    for term, v in ((old_term, lo), (new_term, hi)):
        if v not in known:
            near = ", ".join(str(x) for x in _nearest(available, v))
            raise TfmatrixError(f"bisect --{term}: got {v}; expected a version of {package} on the index with "
                                f"wheels for this Python (nearest: {near or 'none'})")
    inside = [v for v in available if lo < v < hi and kind_of(v) in kinds]
    return Candidates(package, tuple(str(v) for v in [lo, *inside, hi]))


def _nearest(available: Sequence[Version], v: Version, count: int = 2) -> list[Version]:
    older = [x for x in available if x < v][-count:]
    newer = [x for x in available if x > v][:count]
    return [*older, *newer]


def companion(version: str, available: Sequence[Version]) -> str | None:
    """The Model Garden release for a TensorFlow version: the newest ``tf-models-official`` of the same
    major.minor (a release for a release, a pre-release allowed for one); None where there is none (a
    nightly, or a minor the Model Garden skipped): the probe is then load-only."""
    v = Version(version)
    if v.is_devrelease:
        return None
    same = [m for m in available if m.release[:2] == v.release[:2] and not m.is_devrelease
            and (v.is_prerelease or not m.is_prerelease)]
    return str(max(same)) if same else None
