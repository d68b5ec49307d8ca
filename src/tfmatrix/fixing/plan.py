"""A fix probe's matrix: the user's own, with the failed combination's entry changed by one candidate.

The entry is the user's ``tensorflow:`` entry as written (its requires, force, models_official, export_with,
hardware), given a probe id, its stack alone, no ``expect`` (a probe must pass, not fail as expected), and the
candidate's changes: a forced pin dropped, a package moved into a range (a new ``requires``), a companion or
TensorFlow release, a Python.  Probes then go through exactly what ``nox -s bench`` does (the bisection's
:class:`~tfmatrix.bisection.probes.Prober` runs them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..diagnosis.remedies import Candidate, PinChange
from ..errors import TfmatrixError
from ..matrix.model import Combination

PROFILE = "tfmatrix-bisect"  # the prober's profile (bisection.probes.PROFILE)


@dataclass(frozen=True)
class FixSlot:
    """One probe: the candidate's place in the search (``fix-3``), and its stage (import-only or quick)."""

    number: int
    candidate: Candidate
    import_only: bool = False
    more: bool = False

    @property
    def id(self) -> str:
        return f"fix-{self.number}{'-import' if self.import_only else ''}"

    @property
    def version(self) -> str:
        """The prober's label for it."""
        return f"#{self.number} ({self.candidate.line}){' import only' if self.import_only else ''}"


def _name(spec: str) -> str | None:
    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return None


def changed_entry(entry: Mapping[str, Any], changes: Sequence[PinChange], package: str) -> dict[str, Any]:
    """The ``tensorflow:`` entry with the changes made (``package``: the entry's TensorFlow package)."""
    out = copy.deepcopy(dict(entry))
    for ch in changes:
        if ch.package in ("python", "stack"):
            continue
        if ch.package == canonicalize_name(package):
            out["version"] = ch.after
            continue
        if ch.package == "tf-models-official" and out.get("models_official") and ch.after.startswith("=="):
            out["models_official"] = ch.after[2:]
            continue
        for key in ("force", "requires"):
            kept = [r for r in out.get(key) or [] if _name(r) != ch.package]
            if kept:
                out[key] = kept
            else:
                out.pop(key, None)
        if ch.after:
            out["requires"] = list(out.get("requires") or []) + [f"{ch.package}{ch.after}"]
    return out


def python_of(candidate: Candidate, default: str) -> str:
    return next((c.after for c in candidate.changes if c.package == "python"), default)


def stack_of(candidate: Candidate, default: str) -> str:
    return next((c.after for c in candidate.changes if c.package == "stack"), default)


@dataclass(frozen=True)
class FixPlan:
    """The probes of one fix search: the failed combination (the template) and the user's matrix."""

    template: Combination
    raw: Mapping[str, Any]  # the user's matrix file, as YAML read it
    matrix_dir: Path
    bench_args: tuple[str, ...] = ()

    def written(self) -> Mapping[str, Any] | None:
        """The template's ``tensorflow:`` entry as the user wrote it (by its id, or by its version where the id
        is left to it); None when the matrix no longer has it."""
        tf = self.template.tf
        entries = [e for e in self.raw.get("tensorflow") or [] if isinstance(e, dict)]
        return next((e for e in entries if e.get("id") == tf.id), None) or next(
            (e for e in entries if str(e.get("version")) == tf.version and not e.get("id")), None)

    def entry_of(self, slot: FixSlot) -> dict[str, Any]:
        tf = self.template.tf
        written = self.written()
        if written is None:
            raise TfmatrixError(f"fix: the matrix has no tensorflow entry with id {tf.id!r} any more")
        entry = changed_entry(written, slot.candidate.changes, tf.package)
        entry.pop("expect", None)
        entry.update(id=slot.id, stacks=[stack_of(slot.candidate, self.template.stack.id)])
        return entry

    def matrix(self, slots: Sequence[Any]) -> dict[str, Any]:
        """The user's matrix with the probes' entries and one profile naming them."""
        doc = yaml.safe_load(yaml.safe_dump(dict(self.raw)))  # a deep copy, anchors resolved
        entries = [self.entry_of(slot) for slot in slots]
        doc["tensorflow"] = list(doc.get("tensorflow") or []) + entries
        doc["pythons"] = sorted({python_of(s.candidate, self.template.python) for s in slots})
        for model in doc.get("models") or []:
            if isinstance(model, dict) and isinstance(model.get("path"), str):
                model["path"] = str((self.matrix_dir / model["path"]).resolve())
        probes = {"description": f"probes of a fix for {self.template.id}",
                  "tensorflow": [e["id"] for e in entries],
                  "stacks": sorted({stack_of(s.candidate, self.template.stack.id) for s in slots}),
                  "models": [m.id for m in self.template.models]}
        doc["profiles"] = {"default": probes, PROFILE: probes}
        return doc
