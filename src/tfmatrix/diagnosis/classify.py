"""Name a failure: the ordered signature rules of ``data/taxonomy.yaml``.

:func:`classify_failure` always returns a class (``python-error`` is the last
resort); :func:`find_degraded` looks for known error text in a run that
succeeded.  The rules are data; this module only applies them.  Their
explanations and fixes name version ranges as ``{placeholders}``, filled from
the compatibility data (:mod:`tfmatrix.diagnosis.compat_text`), never restated.
The evidence is what ended the process (:func:`why_line`); where the pre-flight predicted a class whose
signature the text shows, a generic class gives way to it (:func:`agree_with_prediction`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from packaging.utils import canonicalize_name

from ..records.model import Failure
from . import compat, compat_text, evidence

TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
LOG_HEAD_BYTES = 1 << 20
LOG_TAIL_BYTES = 1 << 20
#: Families that describe how a phase ended rather than text it printed (no-gpu: the CPU-fallback guard decides)
_NOT_DEGRADING = {"install-failed", "timeout", "python-error", "no-gpu"}


@dataclass(frozen=True)
class Rule:
    cls: str
    explanation: str
    fix: str
    statuses: frozenset[str] = frozenset()
    signals: frozenset[str] = frozenset()
    ntstatus: frozenset[str] = frozenset()
    text: tuple[re.Pattern[str], ...] = ()
    gpu_stack_only: bool = False
    family: str = ""  # the class an ``expect:`` of the family matches too ("install-failed"); "" = its own
    suspects: tuple[str, ...] = ()  # the distributions a failure of this class is about (for blame)
    generic: bool = False  # says how the process ended, not why: a prediction with its signature names it better

    @property
    def kin(self) -> str:
        return self.family or self.cls


@dataclass(frozen=True)
class Taxonomy:
    rules: tuple[Rule, ...]
    noise: tuple[re.Pattern[str], ...]

    @property
    def classes(self) -> list[str]:
        return [r.cls for r in self.rules]

    def rule(self, cls: str) -> Rule:
        for r in self.rules:
            if r.cls == cls:
                return r
        raise KeyError(cls)


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def load_taxonomy(path: str | None = None) -> Taxonomy:
    """The taxonomy (``path``, else :data:`TAXONOMY`), its texts filled from the compat data as it is now."""
    return _load(str(path or TAXONOMY), str(compat.COMPAT))


@functools.lru_cache(maxsize=None)
def _load(path: str, compat_path: str) -> Taxonomy:
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    words = compat_text.words(compat.load_compat(compat_path))

    def text(raw: str) -> str:
        return compat_text.fill(" ".join(raw.split()), words)

    rules = tuple(
        Rule(cls=r["class"], explanation=text(r["explanation"]), fix=text(r["fix"]),
             statuses=frozenset(r.get("statuses", ())), signals=frozenset(r.get("signals", ())),
             ntstatus=frozenset(r.get("ntstatus", ())), text=_compile(r.get("text", ())),
             gpu_stack_only=bool(r.get("gpu_stack_only", False)), family=r.get("family", ""),
             suspects=tuple(r.get("suspects", ())), generic=bool(r.get("generic", False)))
        for r in data["rules"])
    return Taxonomy(rules=rules, noise=_compile(data.get("noise", ())))


def failure_classes() -> list[str]:
    """Every class a combination can be expected to end in (for ``expect:``)."""
    return load_taxonomy().classes + ["degraded"]


def suspected_class(package: str) -> str | None:
    """The first class whose ``suspects`` name ``package`` (a canonical distribution name), None without one."""
    return next((r.cls for r in load_taxonomy().rules if package in r.suspects), None)


def family_of(cls: str | None) -> str | None:
    """The family a class belongs to (``no-wheel`` → ``install-failed``); a class outside the taxonomy is its own."""
    if cls is None:
        return None
    try:
        return load_taxonomy().rule(cls).kin
    except KeyError:
        return cls


def evidence_lines(text: str, taxonomy: Taxonomy | None = None) -> Iterator[str]:
    tax = taxonomy or load_taxonomy()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not any(p.search(stripped) for p in tax.noise):
            yield stripped


def _text_match(rule: Rule, lines: list[str]) -> str | None:
    for line in lines:
        for pat in rule.text:
            if pat.search(line):
                return line[:500]
    return None


def classify_failure(*, status: str, text: str = "", signal: str | None = None, ntstatus: str | None = None,
                     gpu_stack: bool = False, taxonomy: Taxonomy | None = None) -> Failure:
    """The first rule that matches a failed phase (or install), with the line that says why."""
    tax = taxonomy or load_taxonomy()
    lines = list(evidence_lines(text, tax))
    for rule in tax.rules:
        if rule.gpu_stack_only and not gpu_stack:
            continue
        matched = _text_match(rule, lines)
        if matched or status in rule.statuses or (signal and signal in rule.signals) \
                or (ntstatus and ntstatus in rule.ntstatus):
            return Failure(rule.cls, why_line(status, text, matched, signal, ntstatus), rule.explanation, rule.fix)
    last = tax.rules[-1]
    return Failure(last.cls, why_line(status, text, None, signal, ntstatus), last.explanation, last.fix)


def agree_with_prediction(failure: Failure, text: str, predicted: str | None) -> Failure:
    """Where the pre-flight predicted a specific class and the failure shows that class's signature, that class
    (a generic class such as ``python-error`` gives way to it); otherwise ``failure`` as it is."""
    if predicted in (None, "ok", "degraded") or failure.cls == predicted:
        return failure
    tax = load_taxonomy()
    try:
        own, want = tax.rule(failure.cls), tax.rule(str(predicted))
    except KeyError:
        return failure
    if not own.generic or not shows_signature(want, text, tax):
        return failure
    return dataclasses.replace(failure, cls=want.cls, explanation=want.explanation, fix=want.fix)


def shows_signature(rule: Rule, text: str, taxonomy: Taxonomy | None = None) -> bool:
    """``text`` shows what a failure of ``rule``'s class looks like: a line its text rules match, or the exception
    (or crash) that ended the process naming one of its suspects, in its message or its frames' distributions."""
    if _text_match(rule, list(evidence_lines(text, taxonomy))):
        return True
    from .blame import dist_of_module  # module -> distribution, as blame names the culprit

    end = evidence.fatal(text)
    message = end.python.message if end and end.python else (evidence.last_exception_line(text) or "")
    named = {dist_of_module(m) for m in evidence.modules_named(message)}
    named |= {f.distribution or dist_of_module(f.module) for f in (end.frames if end else ()) if f.distribution
              or f.module}
    return bool(named & {canonicalize_name(s) for s in rule.suspects})


def why_line(status: str, text: str, matched: str | None, signal: str | None = None,
             ntstatus: str | None = None) -> str:
    """The evidence: the installer's cause; else what ended the process (the last traceback's exception, the
    crash), with a line a rule matched before it kept as context; the line a rule matched; a status word only
    where the text says nothing at all."""
    if status == "install-failed":
        cause = evidence.installer_cause(text)
        if cause:
            return cause[:1000]
    end = evidence.fatal(text)
    at = _index(text, matched)
    if end is not None:
        if at is None or end.first <= at <= end.last or _repeats(end, matched):  # its exception, its source lines
            return end.line[:1000]
        if at < end.first:
            return f"{end.line[:700]}; printed before it: {paragraph(text, at)}"
    if matched:
        return matched  # printed after the last traceback: the process went on, that traceback did not end it
    last = evidence.last_exception_line(text)
    if last:
        return last[:1000]
    if signal:
        return f"ended by signal {signal}"
    if ntstatus:
        return f"exited with {ntstatus}"
    return f"phase status {status}"


def _index(text: str, matched: str | None) -> int | None:
    """Where in ``text`` the line a rule matched is (the first line it was found in)."""
    if matched is None:
        return None
    return next((i for i, ln in enumerate(text.splitlines()) if ln.strip()[:500] == matched), None)


def _repeats(end: evidence.Fatal, line: str | None) -> bool:
    """``line`` repeats the exception (its message, appended after the log by the caller)."""
    message = end.python.message if end.python else ""
    return line is not None and (line in end.line or bool(message) and line.endswith(message))


def paragraph(text: str, index: int, limit: int = 300) -> str:
    """The sentence a printed message starts at line ``index`` (numpy's banner wraps it over the next lines)."""
    lines = text.splitlines()
    said = lines[index].strip()
    for nxt in lines[index + 1:index + 4]:
        s = nxt.strip()
        if re.search(r"[.!?](\s|$)", said) or not s or s.startswith(("Traceback", "File ")) \
                or re.match(r"^(\d{4}-\d\d-\d\d|[IWEF]\d{4} |[\w.]+(Error|Exception): )", s):
            break
        said += " " + s
    said = re.split(r"(?<=[.!?])\s", said, maxsplit=1)[0]
    return said if len(said) <= limit else said[:limit - 1] + "…"


def find_degraded(text: str, *, gpu_stack: bool = False, taxonomy: Taxonomy | None = None) -> Failure | None:
    """Known error text in the logs of a run that succeeded: ``degraded``, with its cause."""
    tax = taxonomy or load_taxonomy()
    lines = list(evidence_lines(text, tax))
    for rule in tax.rules:
        if rule.kin in _NOT_DEGRADING or (rule.gpu_stack_only and not gpu_stack):
            continue
        hit = _text_match(rule, lines)
        if hit:
            return Failure("degraded", hit,
                                  f"The run succeeded but printed a known {rule.cls} error. {rule.explanation}",
                                  rule.fix)
    return None


def read_log(path: str | Path) -> str:
    """The head and tail of a log (a crash message may sit at either end)."""
    try:
        with open(path, "rb") as f:
            head = f.read(LOG_HEAD_BYTES)
            f.seek(0, 2)
            size = f.tell()
            if size <= LOG_HEAD_BYTES:
                return head.decode("utf-8", "replace")
            f.seek(max(LOG_HEAD_BYTES, size - LOG_TAIL_BYTES))
            tail = f.read()
    except OSError:
        return ""
    return head.decode("utf-8", "replace") + "\n" + tail.decode("utf-8", "replace")


#: what TensorFlow prints when it looks for a GPU and does not get one
_GPU_SEARCH = re.compile(r"cuInit|CUDA_ERROR|cuda_driver|Could not load dynamic library|Cannot dlopen|"
                         r"GPU will not be used|no CUDA-capable device|Could not find cuda drivers")


def tensorflow_gpu_lines(text: str, limit: int = 3) -> list[str]:
    """TensorFlow's own lines about finding a GPU (prefixes such as timestamps dropped), at most ``limit``."""
    out: list[str] = []
    for line in text.splitlines():
        if _GPU_SEARCH.search(line):
            line = re.sub(r"^.*?\.(?:cc|cpp|h):\d+\] ", "", line.strip())  # the log prefix up to "file.cc:51] "
            if line not in out:
                out.append(line)
        if len(out) == limit:
            break
    return out
