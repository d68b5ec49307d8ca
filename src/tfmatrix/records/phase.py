"""A phase's record and a failure's: how one worker step ended, what it measured, and why it failed.

Part of the record model (:mod:`tfmatrix.records.model` holds the combination and run records that contain
these); each class owns its ``to_json``/``from_json``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..stats import summarize
from .status import PhaseStatus

Json = dict[str, Any]


def drop_none(doc: Json, *keys: str) -> Json:
    """Leave out the optional ``keys`` whose value is None (the schema does not list them as required)."""
    return {k: v for k, v in doc.items() if v is not None or k not in keys}


@dataclass(frozen=True)
class Failure:
    """A failure's class (``data/taxonomy.yaml``), the line that shows it, why it happens and how to fix it."""

    cls: str
    evidence: str
    explanation: str
    fix: str
    culprit: str = ""  # the package most likely at fault ("keras 3.15.1"), "cannot tell", or "" (not judged: before v6)
    blame: str = ""  # why that package, or why the evidence cannot single one out

    def to_json(self) -> Json:
        doc = {"class": self.cls, "evidence": self.evidence, "explanation": self.explanation, "fix": self.fix}
        return doc | ({"culprit": self.culprit, "blame": self.blame} if self.culprit else {})

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> "Failure | None":
        if not doc:
            return None
        return cls(doc["class"], doc.get("evidence", ""), doc.get("explanation", ""), doc.get("fix", ""),
                   doc.get("culprit", ""), doc.get("blame", ""))


_PHASE_OPTIONAL = ("extra", "exception", "gpu_peak_memory_bytes", "truncated", "warmup", "cached_from", "telemetry",
                   "failure", "throughput_ips", "processes", "rounds")


@dataclass
class PhaseRecord:
    """One phase of a combination: how it ended and what it measured, in the worker processes named in
    ``processes`` (a cold-start phase is sampled once in each chain; a warm phase shares its process)."""

    phase: str  # probe, import, export, shared-export, inspect, load, first-inference, latency, fidelity, throughput,
    # peakmem
    name: str  # the phase, its model and batch: "latency-retinanet-mnv2-256-b1"
    benchmark: str  # the asv-style method it ran: "InferenceSuite.time_inference", or "probe"
    model: str | None
    batch: int | None
    status: PhaseStatus
    exit_code: int | None = None
    signal: str | None = None
    ntstatus: str | None = None
    wall_seconds: float = 0.0
    unit: str | None = None
    samples: list[float] = field(default_factory=list)
    peak_rss_bytes: int | None = None
    setup_seconds: float | None = None
    log: str = ""
    stderr_tail: str = ""
    note: str = ""
    extra: Json | None = None
    exception: Json | None = None
    gpu_peak_memory_bytes: dict[str, int] | None = None
    truncated: str | None = None
    warmup: int | None = None
    cached_from: Json | None = None
    telemetry: Json | None = None
    failure: Failure | None = None
    processes: list[str] | None = None  # the worker processes (their log names) it ran in; None before schema 4
    rounds: list[int] | None = None  # interleaved: the round of each sample, beside ``samples``; None: not interleaved
    # derived from the samples when the phase is recorded, and kept as read (a record is never rewritten):
    summary: dict[str, Any] | None = None
    throughput_ips: float | None = None  # latency and throughput phases: the batch over the median call

    def __post_init__(self) -> None:
        if self.summary is None and self.samples:
            self.summary = summarize(self.samples)
        if self.throughput_ips is None and self.timed_batches and self.summary and self.summary["median"]:
            self.throughput_ips = self.batch / self.summary["median"]

    def joined(self, later: "PhaseRecord") -> "PhaseRecord":
        """This phase with a later process's samples added (a cold start's import, load or first inference).

        A later failure wins the status and brings its exit, log and exception; the samples measured
        before it are kept."""
        base = self if later.status == PhaseStatus.OK else later
        peaks = [p for p in (self.peak_rss_bytes, later.peak_rss_bytes) if p is not None]
        rounds = None  # kept only while every sample has its round
        if (self.rounds is not None or not self.samples) and (later.rounds is not None or not later.samples):
            rounds = (self.rounds or []) + (later.rounds or []) or None
        return dataclasses.replace(base, samples=self.samples + later.samples, summary=None, throughput_ips=None,
                                   wall_seconds=self.wall_seconds + later.wall_seconds, rounds=rounds,
                                   processes=list(dict.fromkeys((self.processes or []) + (later.processes or []))),
                                   extra=self.extra or later.extra,
                                   peak_rss_bytes=max(peaks) if peaks else None)

    @property
    def timed_batches(self) -> bool:
        """A latency or throughput phase: calls of a batch timed one by one."""
        return self.phase in ("latency", "throughput") and bool(self.batch)

    def to_json(self) -> Json:
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        doc.update(status=self.status.value, wall_seconds=round(self.wall_seconds, 6),
                   failure=self.failure.to_json() if self.failure else None)
        optional: tuple[str, ...] = _PHASE_OPTIONAL
        if self.timed_batches:  # there the key is always present, None when nothing was measured
            optional = tuple(k for k in optional if k != "throughput_ips")
        return drop_none(doc, *optional)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "PhaseRecord":
        known = field_names(cls)
        kw = dict(doc) if known.issuperset(doc) else {k: v for k, v in doc.items() if k in known}
        kw.update(status=PhaseStatus(doc["status"]), failure=Failure.from_json(doc.get("failure")),
                  samples=list(doc.get("samples") or []))
        phase = cls(**kw)
        phase.summary, phase.throughput_ips = doc.get("summary"), doc.get("throughput_ips")  # as recorded
        return phase


_FIELD_NAMES: dict[str, frozenset[str]] = {}


def field_names(cls: type) -> frozenset[str]:
    """A record class's field names, once per class (``dataclasses.fields`` per record read was a tenth of it)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _FIELD_NAMES:
        _FIELD_NAMES[key] = frozenset(f.name for f in dataclasses.fields(cls))
    return _FIELD_NAMES[key]
