"""A fix search's state: ``results/<run>/fixes/<combo>.json``, written after every probe (``--resume`` reads it).

One :class:`FixSearch` owns the file: the failed combination and its failure, the options it was asked
with, every candidate tried in order (each with its probes' run, combination, status and evidence), and how
the search ended (``fixed`` with the verified change, ``not-found`` within the probes allowed, ``no-candidate``
with why, or ``interrupted``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..atomic import write_json_atomic
from ..diagnosis.remedies import Candidate
from ..errors import TfmatrixError
from ..records.model import Failure
from ..records.store import RunDir, read_json

SCHEMA = 1
ENDINGS = ("searching", "fixed", "not-found", "no-candidate", "interrupted", "unverified")


@dataclass
class Tried:
    """One probe of one candidate: where it ran, how it ended, and the line that says why."""

    number: int
    candidate: Candidate
    stage: str  # "import-only" or "quick"
    run_id: str
    combination: str  # the probe's combination id ("fix-2-cpu")
    status: str  # the probe's status: ok, failed, degraded, install-failed, interrupted, not-run
    evidence: str = ""
    record: str = ""  # its record's path

    @property
    def passed(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "candidate": self.candidate.to_json(), "stage": self.stage,
                "run_id": self.run_id, "combination": self.combination, "status": self.status,
                "evidence": self.evidence, "record": self.record}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Tried":
        return cls(doc["number"], Candidate.from_json(doc["candidate"]), doc["stage"], doc["run_id"],
                   doc["combination"], doc["status"], doc.get("evidence", ""), doc.get("record", ""))


@dataclass
class FixSearch:
    """What one ``nox -s fix`` asks, what it tried, and its answer."""

    combination: str
    run_id: str  # the run holding the failed record
    probe_run: str  # the run holding the probes' records
    failure: Failure
    status: str  # the failed record's status
    allow: tuple[str, ...] = ()
    max_probes: int = 8
    tried: list[Tried] = field(default_factory=list)
    ending: str = "searching"
    fix: Candidate | None = None
    proof: list[str] = field(default_factory=list)  # the records that prove it
    unverified: list[Candidate] = field(default_factory=list)  # GPU-side candidates where no GPU is visible
    notes: list[str] = field(default_factory=list)

    @property
    def probes(self) -> int:
        return len(self.tried)

    def same_question(self, other: "FixSearch") -> bool:
        return (self.combination, self.run_id, tuple(self.allow)) == (other.combination, other.run_id,
                                                                      tuple(other.allow))

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA, "kind": "fix", "combination": self.combination, "run_id": self.run_id,
                "probe_run": self.probe_run, "failure": self.failure.to_json(), "status": self.status,
                "allow": list(self.allow), "max_probes": self.max_probes,
                "tried": [t.to_json() for t in self.tried], "ending": self.ending,
                "fix": self.fix.to_json() if self.fix else None, "proof": self.proof,
                "unverified": [c.to_json() for c in self.unverified], "notes": self.notes}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], path: str = "<fix>") -> "FixSearch":
        if doc.get("schema_version") != SCHEMA or doc.get("kind") != "fix":
            raise TfmatrixError(f"{path}: schema_version: got {doc.get('schema_version')!r}; expected {SCHEMA} "
                                "(a fix search's state)")
        failure = Failure.from_json(doc["failure"])
        assert failure is not None
        return cls(doc["combination"], doc["run_id"], doc["probe_run"], failure, doc["status"],
                   tuple(doc.get("allow") or ()), int(doc.get("max_probes", 8)),
                   [Tried.from_json(t) for t in doc.get("tried") or []], doc.get("ending", "searching"),
                   Candidate.from_json(doc["fix"]) if doc.get("fix") else None, list(doc.get("proof") or []),
                   [Candidate.from_json(c) for c in doc.get("unverified") or []], list(doc.get("notes") or []))


def state_path(run: RunDir, combo_id: str) -> Path:
    return run.path / "fixes" / f"{combo_id}.json"


def save(run: RunDir, search: FixSearch) -> Path:
    path = state_path(run, search.combination)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(str(path), search.to_json())
    return path


def verified(run_path: Path) -> dict[str, FixSearch]:
    """The verified fixes of a run's combinations (``fixes/*.json`` that ended ``fixed``; a bad file is left out:
    the fix command names it when it reads it again)."""
    out: dict[str, FixSearch] = {}
    for path in sorted((run_path / "fixes").glob("*.json")):
        try:
            search = FixSearch.from_json(read_json(path), str(path))
        except (TfmatrixError, KeyError, TypeError, ValueError):
            continue
        if search.ending == "fixed" and search.fix is not None:
            out[search.combination] = search
    return out


def verified_line(search: FixSearch) -> str:
    """``"numpy 2.4.6 → >=1.23.5,<2.0.0 (…), proven by run 2026…"``."""
    assert search.fix is not None
    return f"{search.fix.line}, proven by run {search.probe_run} ({len(search.proof)} probe(s))"


def read(run: RunDir, combo_id: str) -> FixSearch | None:
    """The fix search of a combination of this run, when one was made (a bad file is a one-line error)."""
    path = state_path(run, combo_id)
    if not path.exists():
        return None
    return FixSearch.from_json(read_json(path), str(path))
