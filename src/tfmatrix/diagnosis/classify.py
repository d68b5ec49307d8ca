"""Name a failure: the ordered signature rules of ``data/taxonomy.yaml``.

:func:`classify_failure` always returns a class (``python-error`` is the last
resort); :func:`find_degraded` looks for known error text in a run that
succeeded.  The rules are data; this module only applies them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from ..records.model import Failure

TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
LOG_HEAD_BYTES = 1 << 20
LOG_TAIL_BYTES = 1 << 20
#: Classes that describe how a phase ended rather than text it printed.
_NOT_DEGRADING = {"install-failed", "timeout", "python-error", "no-gpu"}  # no-gpu: the CPU-fallback guard decides


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


@functools.lru_cache(maxsize=None)
def load_taxonomy(path: str = str(TAXONOMY)) -> Taxonomy:
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rules = tuple(
        Rule(cls=r["class"], explanation=" ".join(r["explanation"].split()), fix=" ".join(r["fix"].split()),
             statuses=frozenset(r.get("statuses", ())), signals=frozenset(r.get("signals", ())),
             ntstatus=frozenset(r.get("ntstatus", ())), text=_compile(r.get("text", ())),
             gpu_stack_only=bool(r.get("gpu_stack_only", False)))
        for r in data["rules"])
    return Taxonomy(rules=rules, noise=_compile(data.get("noise", ())))


def failure_classes() -> list[str]:
    """Every class a combination can be expected to end in (for ``expect:``)."""
    return load_taxonomy().classes + ["degraded"]


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
    """The first rule that matches a failed phase (or install)."""
    tax = taxonomy or load_taxonomy()
    lines = list(evidence_lines(text, tax))
    for rule in tax.rules:
        if rule.gpu_stack_only and not gpu_stack:
            continue
        evidence = None
        if status in rule.statuses:
            evidence = _text_match(rule, lines) or f"phase status {status}"
        elif signal and signal in rule.signals:
            evidence = _text_match(rule, lines) or f"ended by signal {signal}"
        elif ntstatus and ntstatus in rule.ntstatus:
            evidence = _text_match(rule, lines) or f"exited with {ntstatus}"
        else:
            evidence = _text_match(rule, lines)
        if evidence:
            return Failure(rule.cls, evidence, rule.explanation, rule.fix)
    last = tax.rules[-1]
    return Failure(last.cls, f"phase status {status}", last.explanation, last.fix)


def find_degraded(text: str, *, gpu_stack: bool = False, taxonomy: Taxonomy | None = None) -> Failure | None:
    """Known error text in the logs of a run that succeeded: ``degraded``, with its cause."""
    tax = taxonomy or load_taxonomy()
    lines = list(evidence_lines(text, tax))
    for rule in tax.rules:
        if rule.cls in _NOT_DEGRADING or (rule.gpu_stack_only and not gpu_stack):
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
