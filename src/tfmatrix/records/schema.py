"""The records' JSON Schemas, their versions and the migrations between them.

Every record carries ``schema_version``.  A record of an older version is
migrated one version at a time (asv's way), through ``MIGRATIONS[(kind, N)]``,
until it reaches :data:`~tfmatrix.RECORD_SCHEMA_VERSION`, then checked against
``schemas/<kind>.schema.json``.  Keep a fixture of every version in
``tests/data/records/``.

* v1 -> v2: runs gained ``interruptions`` and ``resumptions`` (both empty for
  a v1 run, which could be neither); combinations gained the ``interrupted``
  status, so a v1 combination is already a valid v2 one.
* v2 -> v3: combinations gained ``producers`` (who made each SavedModel), ``package``
  and a null ``models_official`` (load-only entries), and the ``inspect`` and
  ``shared-export`` phases; a v2 record is a valid v3 one as it is.
* v3 -> v4 -> v5: a phase's ``processes``, then its ``rounds``, both optional.
* v5 -> v6: a failure's optional ``culprit`` and ``blame``; failure classes gained the install family
  (``no-interpreter``, ``no-wheel``, ``build-failed``, ``resolver-conflict``), ``keras-mismatch`` and
  ``python-version`` (classes are strings: an older record reads as it was).
* v6 -> v7: combinations gained the ``pending`` status: cold starts measured, warm phases waiting for the
  interleave session's rounds.  A v6 record written in that state said ``interrupted``, with a reason that
  begins :data:`WAITING_V6`; it becomes ``pending`` (``--resume`` runs it again, as before).
* v7 -> v8: combinations gained the ``reporting`` phase: one case of tfmatrix's own reporting benchmarks
  (``nox -s scale``: the report, compare and asv's publish over synthetic records, raw samples); a v7 record
  is a valid v8 one as it is.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable

from .. import RECORD_SCHEMA_VERSION

SCHEMAS = Path(__file__).parent / "schemas"
KINDS = ("run", "combination", "prediction")
#: the schema version a kind was first written at (a prediction is new in 7: nothing to migrate)
FIRST = {"prediction": 7}

Doc = dict[str, Any]


class BadRecord(Exception):
    """Why a record was left out (one line, naming the file)."""


def _run_v1_to_v2(doc: Doc) -> Doc:
    doc.setdefault("interruptions", [])
    doc.setdefault("resumptions", [])
    return doc


def _unchanged(doc: Doc) -> Doc:
    return doc


#: how a v6 record waiting for the interleaved rounds began its reason (it was written as ``interrupted``)
WAITING_V6 = "waiting for the interleave session's rounds"


def _combination_v6_to_v7(doc: Doc) -> Doc:
    if doc.get("status") == "interrupted" and str(doc.get("reason") or "").startswith(WAITING_V6):
        doc["status"] = doc["outcome"] = "pending"
    return doc


MIGRATIONS: dict[tuple[str, int], Callable[[Doc], Doc]] = {
    ("run", 1): _run_v1_to_v2,
    ("combination", 1): _unchanged,
    ("run", 2): _unchanged,
    ("combination", 2): _unchanged,
    ("run", 3): _unchanged,
    ("combination", 3): _unchanged,  # v4 adds a phase's ``processes``; before, one phase was one process
    ("run", 4): _unchanged,
    ("combination", 4): _unchanged,  # v5 adds a phase's ``rounds``; before, no run was interleaved
    ("run", 5): _unchanged,
    ("combination", 5): _unchanged,  # v6 adds a failure's ``culprit`` and ``blame``; before, none was judged
    ("run", 6): _unchanged,
    ("combination", 6): _combination_v6_to_v7,  # v7 adds ``pending``; v6 wrote it as ``interrupted``
    ("run", 7): _unchanged,
    ("combination", 7): _unchanged,  # v8 adds the ``reporting`` phase (nox -s scale); before, none was recorded
    ("prediction", 7): _unchanged,
}


def load_schema(kind: str) -> Doc:
    return json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))


def migrate(doc: Doc, origin: str = "record") -> Doc:
    kind, version = doc.get("kind"), doc.get("schema_version")
    if kind not in KINDS:
        raise BadRecord(f"{origin}: kind is {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    first = FIRST.get(kind, 1)
    if type(version) is not int or version < first or version > RECORD_SCHEMA_VERSION:
        raise BadRecord(f"{origin}: schema_version is {version!r}; this tfmatrix reads {first} to {RECORD_SCHEMA_VERSION} "
                        "(a newer tfmatrix wrote it?)")
    while version < RECORD_SCHEMA_VERSION:
        doc = MIGRATIONS[(kind, version)](doc)
        version += 1
        doc["schema_version"] = version
    return doc


@functools.lru_cache(maxsize=None)
def _validator(kind: str) -> Callable[[Doc], Any]:
    """The JSON Schema compiled to Python once (fastjsonschema: about 0.1 ms a record, 20x jsonschema)."""
    import fastjsonschema

    schema = dict(load_schema(kind))
    schema.pop("$id", None)  # a relative $id would make fastjsonschema fetch $refs as URLs
    return fastjsonschema.compile(schema)


@functools.lru_cache(maxsize=None)
def _fast_validator(kind: str) -> Callable[[Doc], bool] | None:
    """jsonschema-rs's validator of the schema (compiled Rust, about 10x fastjsonschema: 0.01 ms a record), where
    the ``report`` extra installed it; None without it.  It only says yes: a record it refuses goes to
    fastjsonschema, whose verdict and one-line reason stand, so a refusal reads the same either way."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    schema = dict(load_schema(kind))
    schema.pop("$id", None)
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid


def check(doc: Doc, origin: str) -> Doc:
    """Migrate then validate; raise :class:`BadRecord` with a one-line reason."""
    import fastjsonschema

    doc = migrate(doc, origin)
    fast = _fast_validator(doc["kind"])
    if fast is not None and fast(doc):
        return doc
    try:
        _validator(doc["kind"])(doc)
    except fastjsonschema.JsonSchemaException as exc:
        raise BadRecord(f"{origin}: does not match the {doc['kind']} schema: {getattr(exc, 'message', exc)}") from None
    return doc
