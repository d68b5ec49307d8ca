"""records.schema and the one reader: older schema versions migrate on read; truncated, foreign and invalid
records are left out with a one-line warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tfmatrix import RECORD_SCHEMA_VERSION
from tfmatrix.records.model import CombinationRecord, RunRecord
from tfmatrix.records.schema import BadRecord, check, load_schema
from tfmatrix.records.store import load, load_run

DATA = Path(__file__).parent / "data" / "records"
VERSIONS = sorted(int(p.name[1:]) for p in DATA.glob("v*"))


def test_there_is_a_fixture_of_every_version():
    assert VERSIONS == list(range(1, RECORD_SCHEMA_VERSION + 1))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["run", "combination"])
def test_every_version_reads_as_the_current_one(version, kind):
    path = DATA / f"v{version}" / f"{kind}.json"
    assert json.loads(path.read_text())["schema_version"] == version
    record = load(path)
    assert isinstance(record, RunRecord if kind == "run" else CombinationRecord)
    doc = record.to_json()
    assert doc["schema_version"] == RECORD_SCHEMA_VERSION and doc["kind"] == kind
    jsonschema.validate(doc, load_schema(kind))  # the canonical validator agrees with what the model writes
    if kind == "run":
        assert record.interruptions == [] and record.resumptions == []


def test_the_fast_validator_agrees_with_jsonschema_on_broken_records():
    good = check(json.loads((DATA / "v2" / "combination.json").read_text()), "good.json")
    breakages = [("status", "exploded"), ("phases", "none"), ("quick", "yes"), ("combination", None)]
    for key, value in breakages:
        bad = dict(good, **{key: value})
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, load_schema("combination"))
        with pytest.raises(BadRecord, match="does not match the combination schema"):
            check(bad, "x.json")


@pytest.mark.parametrize("content, reason", [
    ('{"kind": "combination", "schema_', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"kind": "combination", "schema_version": 99}', "schema_version is 99; this tfmatrix reads 1 to 8"),
    ('{"kind": "combination", "schema_version": "2"}', "schema_version is '2'"),
    ('{"kind": "bench", "schema_version": 2}', "kind is 'bench'"),
    ('{"kind": "combination", "schema_version": 2}', "does not match the combination schema"),
])
def test_bad_records_are_named_in_one_line(tmp_path, content, reason):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(BadRecord) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_load_run_keeps_the_good_records(tmp_path):
    folder = tmp_path / "20260101T000000Z-abcdef"
    folder.mkdir()
    shutil.copy(DATA / "v1" / "run.json", folder / "run.json")
    shutil.copy(DATA / "v1" / "combination.json", folder / "good.json")
    (folder / "bad.json").write_bytes(b"\xff\xfe not utf-8")
    (folder / ".tmp-123.json").write_text("{")  # an atomic write in progress: not a record yet
    run = load_run(folder)
    assert [r.id for r in run.records] == ["tf2.15-numpy2-cpu"]
    assert run.info is not None and run.info.schema_version == RECORD_SCHEMA_VERSION
    assert run.warnings == [f"skipped: {folder / 'bad.json'}: not UTF-8 text"]


def test_a_run_record_where_a_combination_belongs_is_named(tmp_path):
    folder = tmp_path / "20260101T000000Z-abcdef"
    folder.mkdir()
    shutil.copy(DATA / "v2" / "run.json", folder / "run.json")
    shutil.copy(DATA / "v2" / "run.json", folder / "stray.json")
    run = load_run(folder)
    assert run.records == [] and f"skipped: {folder / 'stray.json'}: a run record" in run.warnings[0]


def test_an_empty_run_folder_is_a_warning_not_an_error(tmp_path):
    folder = tmp_path / "20260101T000000Z-abcdef"
    folder.mkdir()
    run = load_run(folder)
    assert run.records == [] and run.info is None
    assert len(run.warnings) == 2 and "run.json: missing" in run.warnings[0] and "empty run" in run.warnings[1]


def test_a_v6_record_waiting_for_the_interleaved_rounds_reads_as_pending(tmp_path):
    doc = json.loads((DATA / "v6" / "combination.json").read_text())
    waiting = dict(doc, status="interrupted", outcome="interrupted", failure=None,
                   reason="waiting for the interleave session's rounds (after the last bench session); if this "
                          "stays, the run stopped before them")
    stopped = dict(waiting, reason="interrupted by SIGINT during latency-ssd-b1")
    (tmp_path / "waiting.json").write_text(json.dumps(waiting))
    (tmp_path / "stopped.json").write_text(json.dumps(stopped))
    pending, interrupted = load(tmp_path / "waiting.json"), load(tmp_path / "stopped.json")
    assert isinstance(pending, CombinationRecord) and isinstance(interrupted, CombinationRecord)
    assert (pending.status, pending.outcome) == ("pending", "pending")
    assert (interrupted.status, interrupted.outcome) == ("interrupted", "interrupted")  # a real stop stays one
