"""The optional fast readers (orjson, jsonschema-rs, from the ``report`` extra): what they accept, and the one-line
reason of what they refuse, are the standard library's and fastjsonschema's, so a run reads the same with or
without them."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import pytest

from tfmatrix.errors import ResultsError
from tfmatrix.records import schema, store
from tfmatrix.records.schema import BadRecord, check

DATA = Path(__file__).parent / "data"
RECORDS = sorted(p for p in DATA.rglob("*.json") if p.parent.name != "predictions"
                 and json.loads(p.read_text()).get("kind") in schema.KINDS)


@pytest.fixture(params=["fast", "standard"])
def readers(request, monkeypatch):
    """Each test twice: with orjson and jsonschema-rs (installed in the test venv), and without them."""
    if request.param == "fast":
        assert store.FAST_LOADS is not None and schema._fast_validator("combination") is not None
    else:
        monkeypatch.setattr(store, "FAST_LOADS", None)
        monkeypatch.setattr(schema, "_fast_validator", lambda kind: None)
    return request.param


def test_there_are_records_of_every_kind_to_read():
    assert {json.loads(p.read_text())["kind"] for p in RECORDS} >= {"run", "combination"} and len(RECORDS) > 20


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: str(p.relative_to(DATA)))
def test_every_record_reads_the_same_either_way(path, readers):
    plain = json.loads(path.read_text(encoding="utf-8"))
    doc = store.read_json(path)
    assert doc == plain
    migrated = schema.migrate(json.loads(path.read_text(encoding="utf-8")), str(path))
    try:
        schema._validator(migrated["kind"])(migrated)  # fastjsonschema alone: the reference
        expected: object = migrated
    except fastjsonschema.JsonSchemaException as exc:
        expected = f"{path}: does not match the {migrated['kind']} schema: {exc.message}"
    try:
        got: object = check(doc, str(path))
    except BadRecord as exc:
        got = str(exc)
    assert got == expected


@pytest.mark.parametrize("content, reason", [
    (b'{"kind": "combination", "schema_', "not valid JSON (Unterminated string starting at at line 1)"),
    (b'\xef\xbb\xbf{"a": 1}', "not valid JSON (Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1)"),
    (b'{"a": "\xff"}', "not UTF-8 text"),
    (b"[1, 2]", "expected a JSON object"),
    (b"null", "expected a JSON object"),
])
def test_broken_json_is_named_the_same_either_way(tmp_path, readers, content, reason):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(ResultsError) as err:
        store.read_json(path)
    assert str(err.value) == f"{path}: {reason}"


def test_what_only_the_standard_library_reads_still_reads(tmp_path, readers):
    path = tmp_path / "c.json"
    path.write_text('{"x": NaN, "big": 123456789012345678901234567890, "inf": 1e400, "lone": "\\ud800", "a": 1, "a": 2}')
    doc = store.read_json(path)
    assert doc["x"] != doc["x"] and doc["big"] == 123456789012345678901234567890 and doc["inf"] == float("inf")
    assert doc["lone"] == "\ud800" and doc["a"] == 2


@pytest.mark.parametrize("key, value", [("status", "exploded"), ("phases", "none"), ("quick", "yes"),
                                        ("combination", None), ("started_at", "yesterday")])
def test_a_refused_record_gives_fastjsonschemas_reason_either_way(readers, key, value):
    good = check(json.loads((DATA / "records" / "v7" / "combination.json").read_text()), "good.json")
    with pytest.raises(BadRecord, match=r"^x\.json: does not match the combination schema: data\.") as err:
        check(dict(good, **{key: value}), "x.json")
    assert "\n" not in str(err.value)
