"""The line that says why: what a failed process or installer printed, read for its cause.

* A Python failure: the last traceback's final exception (type and message) and the frame that raised
  it, each frame mapped to the distribution (and version) whose file it is (:func:`python_failure`).
* A native crash: the faulthandler's top frames, mapped the same way (:func:`native_crash`).
* What ended the process: the last traceback's exception or the crash after it (:func:`fatal`).
* An installer failure: uv's or pip's cause chain, condensed to the packages and constraints involved,
  never a banner line such as ``Using Python 3.11.7 environment at: …`` (:func:`installer_cause`).
* ``pip check``: its conflicts, as (package, requirement, installed) triples (:func:`check_conflicts`).

A frame's distribution is read from the venv's own ``*.dist-info/RECORD`` files when the venv is still
there (:func:`distribution_of`); a record read elsewhere keeps the module path instead.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePath
from typing import Iterable, Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_SITE = re.compile(r"^(?P<site>.*[/\\](?:site|dist)-packages)[/\\](?P<rel>.+)$")
_STDLIB = re.compile(r"[/\\]lib[/\\]python(?P<ver>3\.\d+)[/\\](?P<rel>(?!site-packages)[^/\\]+(?:[/\\][^/\\]+)*)$")
_OWN = re.compile(r"[/\\](?:tfmatrix|benchmarks)[/\\]")
_TB_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_FH_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<func>.+)$')
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|NotFound|Failure)|"
                       r"[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s?(?P<msg>.*))?$")


@dataclass(frozen=True)
class Frame:
    """A traceback frame: where it is, and whose file that is ("tf-models-official 2.15.0", "Python 3.11
    standard library", "tfmatrix"; "" when unknown)."""

    path: str
    line: int
    function: str
    owner: str = ""
    distribution: str = ""  # canonical name of a third-party distribution, "" for the stdlib, tfmatrix, unknown

    @property
    def short(self) -> str:
        m = _SITE.match(self.path) or _STDLIB.search(self.path)
        rel = m.group("rel").replace("\\", "/") if m else PurePath(self.path).name
        return f"{rel}:{self.line}"

    @property
    def module(self) -> str:
        """The top-level module of a file in a site-packages (``google.protobuf`` keeps two parts), else ""."""
        m = _SITE.match(self.path)
        parts = m.group("rel").replace("\\", "/").removesuffix(".py").split("/") if m else [""]
        return ".".join(parts[:2]) if parts[0] == "google" else parts[0]

    def describe(self) -> str:
        return f"{self.short} ({self.owner})" if self.owner else self.short


@dataclass(frozen=True)
class PythonFailure:
    """The last exception of a text: its type and message, and its frames, outermost first."""

    type: str
    message: str
    frames: tuple[Frame, ...]

    @property
    def exception(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type

    @property
    def raised_in(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    @property
    def third_party(self) -> Frame | None:
        """The innermost frame in a third-party distribution (the library whose code failed)."""
        return next((f for f in reversed(self.frames) if f.distribution), None)

    def line(self) -> str:
        """The evidence line: the exception, where it was raised, and the library whose code called it; tfmatrix's
        own errors (a matrix that asks for what a model cannot do) say all in their message."""
        if self.raised_in is not None and self.raised_in.owner == "tfmatrix":
            return self.exception
        where = []
        raised, lib = self.raised_in, self.third_party
        if raised is not None:
            where.append(f"raised in {raised.describe()}")
        if lib is not None and lib is not raised:
            where.append(f"from {lib.describe()}")
        return f"{self.exception} ({'; '.join(where)})" if where else self.exception


@dataclass(frozen=True)
class Conflict:
    """One ``pip check`` complaint: ``package`` requires ``requirement``; ``installed`` is what is there
    ("" when it is not installed)."""

    package: str
    requirement: str
    installed: str

    @property
    def target(self) -> str:
        try:
            return canonicalize_name(Requirement(self.requirement).name)
        except InvalidRequirement:
            return canonicalize_name(re.split(r"[<>=!~;\[ ]", self.requirement, maxsplit=1)[0])

    def text(self) -> str:
        have = f"{self.target} {self.installed} is installed" if self.installed else f"{self.target} is not installed"
        return f"{self.package} requires {self.requirement}, but {have}"


# --------------------------------------------------------------------------- distributions of files


@functools.lru_cache(maxsize=32)
def _site_index(site: str) -> dict[tuple[str, ...], tuple[str, str] | None]:
    """{first one or two path parts: (distribution, version)} from the RECORD files of one site-packages;
    a one-part key several distributions share (a namespace package such as ``google``) maps to None."""
    index: dict[tuple[str, ...], tuple[str, str] | None] = {}
    for dist in metadata.distributions(path=[site]):
        name, version = dist.metadata["Name"], dist.version
        if not name:
            continue
        for f in dist.files or ():
            parts = f.parts
            if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".egg-info")):
                continue
            if len(parts) > 2:
                index.setdefault(parts[:2], (name, version))
            key = parts[:1]
            if index.get(key, (name, version)) != (name, version):
                index[key] = None
            elif key not in index:
                index[key] = (name, version)
    return index


def distribution_of(path: str) -> tuple[str, str] | None:
    """(name, version) of the installed distribution that owns ``path``, when its venv is still there."""
    m = _SITE.match(path)
    if not m or not Path(m.group("site")).is_dir():
        return None
    parts = PurePath(m.group("rel").replace("\\", "/")).parts
    index = _site_index(m.group("site"))
    return index.get(parts[:2]) or index.get(parts[:1])


def frame(path: str, line: int, function: str) -> Frame:
    found = distribution_of(path)
    if found and canonicalize_name(found[0]) != "tfmatrix":
        return Frame(path, line, function, f"{found[0]} {found[1]}", canonicalize_name(found[0]))
    if found or _OWN.search(path):
        return Frame(path, line, function, "tfmatrix")
    std = _STDLIB.search(path)
    if std:
        return Frame(path, line, function, f"Python {std.group('ver')} standard library")
    return Frame(path, line, function)


# --------------------------------------------------------------------------- Python and native failures

_TB_HEAD = "Traceback (most recent call last):"
#: tfmatrix's worker on a ``timeraw`` child that ended without a result (worker/main.py): the child's words came before
_CHILD_ENDED = re.compile(r"\bchild \d+ ended with exit status -?\d+")


@dataclass(frozen=True)
class Fatal:
    """What ended a process, and the lines it spans in the text (indices of its first and last line)."""

    line: str
    first: int
    last: int
    frames: tuple[Frame, ...] = ()
    python: PythonFailure | None = None


def _tracebacks(lines: list[str]) -> Iterator[tuple[int, int, PythonFailure]]:
    """Every traceback, as (its first line, its exception's last line, the failure); numpy's banners print the
    first frame on the header's line, a message may go on over indented lines."""
    for start, head in enumerate(lines):
        if not head.strip().startswith(_TB_HEAD):
            continue
        frames: list[Frame] = []
        for i, ln in itertools.chain([(start, head.strip()[len(_TB_HEAD):])], enumerate(lines[start + 1:], start + 1)):
            m = _TB_FRAME.match(ln)
            if m:
                frames.append(frame(m.group("path"), int(m.group("line")), m.group("func").strip()))
                continue
            if ln.startswith((" ", "\t")) or not ln.strip():
                continue  # the source line of a frame, carets
            e = _EXC_LINE.match(ln.strip())
            if e:
                end = i
                while end + 1 < len(lines) and lines[end + 1].startswith((" ", "\t")) and lines[end + 1].strip():
                    end += 1
                yield start, end, PythonFailure(e.group("type"), (e.group("msg") or "").strip(), tuple(frames))
            break


def python_failure(text: str) -> PythonFailure | None:
    """The last traceback in ``text``: its frames and its final exception line; None without one."""
    found = [failure for *_, failure in _tracebacks(text.splitlines())]
    return found[-1] if found else None


def _crash(lines: list[str], top: int) -> tuple[int, int, str, tuple[Frame, ...]] | None:
    """faulthandler's ``Fatal Python error: …`` (its first and last line) and the top frames of the crashing thread."""
    i = next((i for i, ln in enumerate(lines) if ln.startswith(("Fatal Python error:", "Windows fatal exception:"))), len(lines))
    frames: list[Frame] = []
    end = i
    for end, nxt in enumerate(lines[i + 1:], i + 1):
        m = _FH_FRAME.match(nxt)
        if m:
            frames.append(frame(m.group("path"), int(m.group("line")), m.group("func").strip()))
            if len(frames) == top:
                break
        elif frames and not nxt.strip():
            end -= 1
            break
    return (i, end, lines[i].strip(), tuple(frames)) if i < len(lines) else None


def native_crash(text: str, top: int = 3) -> tuple[str, tuple[Frame, ...]] | None:
    """faulthandler's ``Fatal Python error: …`` and the top frames of the crashing thread."""
    return (found[2], found[3]) if (found := _crash(text.splitlines(), top)) else None


def _described(head: str, frames: tuple[Frame, ...]) -> str:
    return f"{head} (in {', '.join(f.describe() for f in frames)})" if frames else head


def crash_line(text: str) -> str | None:
    found = native_crash(text)
    return _described(*found) if found else None


def fatal(text: str) -> Fatal | None:
    """The last exception of the last traceback, or the crash after it (never a banner's traceback printed before);
    tfmatrix's note that a ``timeraw`` child ended without a result gives way to what the child printed."""
    lines = text.splitlines()
    events = [Fatal(py.line(), first, last, py.frames, py) for first, last, py in _tracebacks(lines)]
    crash = _crash(lines, 3)
    if crash is not None:
        events.append(Fatal(_described(crash[2], crash[3]), crash[0], crash[1], crash[3]))
    events.sort(key=lambda e: e.first)
    while len(events) > 1 and events[-1].python is not None and _CHILD_ENDED.search(events[-1].python.message):
        events.pop()
    return events[-1] if events else None


# --------------------------------------------------------------------------- installers


_BANNER = re.compile(r"^(Using Python \S+ environment at|Using CPython|Resolved \d+ packages?|Prepared \d+|"
                     r"Installed \d+|Uninstalled \d+|Audited \d+|Checked \d+|Downloading|Building|Built|"
                     r"Collecting|Requirement already satisfied|\$ |\[exit |hint: |warning: )")
_BOX = re.compile(r"^[\s×╰├│─▶]+")
_LEAD = re.compile(r"^(error:|cause:|Caused by:)\s*")


def _chain(lines: list[str]) -> list[str]:
    """uv's cause chain as whole sentences: boxed (``×``, ``╰─▶``) or plain (``error:``, ``cause:``); uv wraps a
    sentence over indented lines."""
    out: list[str] = []
    for raw in lines:
        if not raw.strip():
            continue
        head = bool(re.match(r"^\s*(×|├─▶|╰─▶|error:|cause:|Caused by:)", raw))
        text = _LEAD.sub("", _BOX.sub("", raw).strip())
        if head or not out or text.startswith(("Because", "And because", "hint:", "help:")):
            out.append(text)
        else:
            out[-1] += " " + text
    return out


def installer_cause(text: str) -> str | None:
    """uv's or pip's reason an install failed, condensed to one line naming the packages involved."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if re.search(r"Failed to (?:download and )?build\b", ln) and "installable wheels" not in ln:
            return _build_failure(lines, i)
    for i, ln in enumerate(lines):
        s = _BOX.sub("", ln).strip()
        if _LEAD.sub("", s).startswith("No solution found"):
            return _resolution(lines[i:])
        if s.startswith("ERROR: Cannot install") or "ResolutionImpossible" in s:
            return _pip_conflict(lines[i:])
        if re.search(r"Failed building wheel for|did not run successfully|Failed to build installable wheels", s):
            return _pip_build(lines)
        if s.startswith("ERROR: No matching distribution found for"):
            prior = next((p.strip() for p in reversed(lines[:i]) if "Could not find a version" in p), "")
            return s.removeprefix("ERROR: ") + (f" ({prior.removeprefix('ERROR: ')})" if prior else "")
    return next((_BOX.sub("", ln).strip() for ln in lines if re.match(r"^\s*(×\s*)?(error|ERROR):?\s", ln)
                 and not _BANNER.match(ln.strip())), None)


def _resolution(lines: list[str]) -> str:
    sentences = _chain(lines)
    head = sentences[0] if sentences else "No solution found"
    reasons = []
    for s in sentences[1:]:
        if s.startswith("hint:") and "You require" in s:
            reasons.append(s.removeprefix("hint:").strip())
        elif s.startswith(("Because", "And because")):
            clause = re.split(r",? we can conclude that", s, maxsplit=1)[0]
            reasons.append(re.sub(r"^(And because|Because)\s+", "", clause))
        elif reasons and not s.startswith(("hint:", "help:")):
            break
    return f"{head.rstrip(':')}: {'; '.join(reasons)}" if reasons else head


def _build_failure(lines: list[str], at: int) -> str:
    head = re.sub(r"^(Caused by:|error:)\s*", "", _BOX.sub("", lines[at]).strip()).rstrip(":")
    error = last_exception_line("\n".join(lines[at:]))
    included = next((s.removeprefix("help:").strip() for s in _chain(lines[at:]) if "was included because" in s), "")
    parts = [head] + ([error] if error else []) + ([included] if included else [])
    return "; ".join(parts).replace("`", "")


def _pip_conflict(lines: list[str]) -> str:
    head = lines[0].strip().removeprefix("ERROR: ")
    causes: list[str] = []
    for ln in lines[1:]:
        s = ln.strip()
        if s.startswith("The conflict is caused by"):
            continue
        if causes and (not s or s.startswith(("To fix", "Additionally"))):
            break
        if s and (s.startswith("The user requested") or " depends on " in s):
            causes.append(s)
    return f"{head} {'; '.join(causes)}".strip() if causes else head


def _pip_build(lines: list[str]) -> str:
    failed = next((ln.strip().removeprefix("ERROR: ") for ln in lines if "Failed building wheel for" in ln
                   or ln.strip().startswith(("ERROR: Failed to build", "Failed to build"))),
                  next((f"building {m.group(1)} from source failed" for ln in reversed(lines)
                        for m in [re.search(r"Building wheel for (\S+) \(", ln)] if m), "a source build failed"))
    error = last_exception_line("\n".join(lines))
    return f"{failed}: {error}" if error else failed


def last_exception_line(text: str) -> str | None:
    """The last line in ``text`` that reads as a Python exception (``AttributeError: …``)."""
    for ln in reversed(text.splitlines()):
        s = _BOX.sub("", ln).strip()
        m = _EXC_LINE.match(s)
        if m and m.group("msg") is not None:
            return s
    return None


# --------------------------------------------------------------------------- pip check


_UV_CHECK = re.compile(r"The package `(?P<pkg>[^`]+)` requires `(?P<req>[^`]+)`, but "
                       r"(?:`(?P<have>[^`]+)` is installed|it's not installed)")
_PIP_CHECK = re.compile(r"^(?P<pkg>\S+) \S+ (?:requires|has requirement) (?P<req>.+?), "
                        r"(?:but you have \S+ (?P<have>\S+?)\.?|which is not installed\.?)$")


def check_conflicts(output: str) -> list[Conflict]:
    """The conflicts ``uv pip check`` or ``pip check`` reported."""
    out: list[Conflict] = []
    for ln in output.splitlines():
        s = ln.strip()
        m = _UV_CHECK.search(s) or _PIP_CHECK.match(s)
        if m:
            out.append(Conflict(canonicalize_name(m.group("pkg")), m.group("req"), (m.group("have") or "").strip()))
    return out


def modules_named(message: str) -> Iterator[str]:
    """The top-level modules an exception message names (``module 'keras._tf_keras.keras'``, ``from
    'google.protobuf'``, ``No module named 'tf_keras'``), outermost part first (``google.protobuf`` keeps two)."""
    for m in re.finditer(r"(?:module|from|named|<class) '([A-Za-z_][\w.]*)'", message):
        parts = m.group(1).split(".")
        yield ".".join(parts[:2]) if parts[0] == "google" and len(parts) > 1 else parts[0]


def names(requirements: Iterable[str]) -> set[str]:
    """The canonical names of requirement strings (``keras>=3`` → ``keras``); unparsable ones are dropped."""
    out: set[str] = set()
    for r in requirements:
        try:
            out.add(canonicalize_name(Requirement(r).name))
        except InvalidRequirement:
            continue
    return out
