"""Reading records back: older schema versions migrated, every record checked, bad ones skipped.

Each reader of results (report, compare, publish, change points) goes through
:func:`load_run`: a record that is truncated, of an unknown ``schema_version``,
or that fails the JSON Schema once migrated, is left out with a one-line
warning naming the file, and the rest of the run is used.

Migrations run in order, one schema version at a time (asv's way): a record
of version N is passed through ``MIGRATIONS[(kind, N)]`` until it reaches
:data:`~tfmatrix.RECORD_SCHEMA_VERSION`.  Keep a fixture of every version in
``tests/data/records/``.

* v1 -> v2: runs gained ``interruptions`` and ``resumptions`` (both empty for
  a v1 run, which could be neither); combinations gained the ``interrupted``
  status, so a v1 combination is already a valid v2 one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import RECORD_SCHEMA_VERSION
from .errors import ResultsError
from .results import RUN_ID_RE, load_schema, read_json

Record = dict[str, Any]


def _run_v1_to_v2(doc: Record) -> Record:
    doc.setdefault("interruptions", [])
    doc.setdefault("resumptions", [])
    return doc


def _combination_v1_to_v2(doc: Record) -> Record:
    return doc


MIGRATIONS: dict[tuple[str, int], Callable[[Record], Record]] = {
    ("run", 1): _run_v1_to_v2,
    ("combination", 1): _combination_v1_to_v2,
}


class BadRecord(Exception):
    """Why a record was left out (one line, naming the file)."""


def migrate(doc: Record, origin: str = "record") -> Record:
    kind, version = doc.get("kind"), doc.get("schema_version")
    if kind not in ("run", "combination"):
        raise BadRecord(f"{origin}: kind is {kind!r}; expected 'run' or 'combination'")
    if type(version) is not int or version < 1 or version > RECORD_SCHEMA_VERSION:
        raise BadRecord(f"{origin}: schema_version is {version!r}; this tfmatrix reads 1 to {RECORD_SCHEMA_VERSION} "
                        "(a newer tfmatrix wrote it?)")
    while version < RECORD_SCHEMA_VERSION:
        doc = MIGRATIONS[(kind, version)](doc)
        version += 1
        doc["schema_version"] = version
    return doc


@functools.lru_cache(maxsize=None)
def _validator(kind: str) -> Callable[[Record], Any]:
    """The JSON Schema compiled to Python once (fastjsonschema: about 0.1 ms a record, 20x jsonschema)."""
    import fastjsonschema

    schema = dict(load_schema(kind))
    schema.pop("$id", None)  # a relative $id would make fastjsonschema fetch $refs as URLs
    return fastjsonschema.compile(schema)


def check(doc: Record, origin: str) -> Record:
    """Migrate then validate; raise :class:`BadRecord` with a one-line reason."""
    import fastjsonschema

    doc = migrate(doc, origin)
    try:
        _validator(doc["kind"])(doc)
    except fastjsonschema.JsonSchemaException as exc:
        raise BadRecord(f"{origin}: does not match the {doc['kind']} schema: {exc.message}") from None
    return doc


def read(path: Path) -> Record:
    try:
        doc = read_json(path)
    except ResultsError as exc:
        raise BadRecord(str(exc)) from None
    return check(doc, str(path))


@dataclass
class Run:
    """One run folder read back: its run record (``{}`` if unusable), its good records, the warnings."""

    run_id: str
    path: Path
    info: Record
    records: list[Record] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def record_paths(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.json")) if p.name != "run.json" and not p.name.startswith(".tmp-")]


def load_run(folder: Path) -> Run:
    run = Run(folder.name, folder, {})
    if (folder / "run.json").exists():
        try:
            run.info = read(folder / "run.json")
        except BadRecord as exc:
            run.warnings.append(f"skipped: {exc}")
    else:
        run.warnings.append(f"{folder / 'run.json'}: missing; the run's host and commit are unknown")
    for p in record_paths(folder):
        try:
            doc = read(p)
        except BadRecord as exc:
            run.warnings.append(f"skipped: {exc}")
            continue
        if doc["kind"] != "combination":
            run.warnings.append(f"skipped: {p}: a {doc['kind']} record where combination records belong")
            continue
        run.records.append(doc)
    if not run.records:
        run.warnings.append(f"{folder}: no readable combination records (an empty run, or all left out)")
    return run


def run_folders(root: Path) -> list[Path]:
    """Every run folder under ``root``, oldest first (run ids sort by start time)."""
    return sorted(p for p in root.glob("*") if p.is_dir() and RUN_ID_RE.match(p.name))
