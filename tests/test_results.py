from __future__ import annotations

import json

import jsonschema
import pytest

from tfmatrix.errors import ResultsError
from tfmatrix import RECORD_SCHEMA_VERSION
from tfmatrix.results import RunDir, check_run_id, latest_run, load_schema, new_run_id


def test_run_ids_are_checked():
    rid = new_run_id()
    assert check_run_id(rid) == rid
    for bad in ("../../etc", "latest", "20260101T000000Z-xyz123", ""):
        with pytest.raises(ResultsError):
            check_run_id(bad)


def test_run_record_written_once_and_closed_once(tmp_path):
    calls = []

    def info():
        calls.append(1)
        return {"profile": "default"}

    run = RunDir(tmp_path, new_run_id())
    run.ensure(info)
    run.ensure(info)  # a second session of the same run joins it
    assert len(calls) == 1
    first = run.read_run()
    assert first["ended_at"] is None and first["schema_version"] == RECORD_SCHEMA_VERSION == 2
    run.finish()
    ended = run.read_run()["ended_at"]
    assert ended
    run.finish()  # a later summary does not move the end time
    assert run.read_run()["ended_at"] == ended


def test_combination_records_are_create_only(tmp_path):
    run = RunDir(tmp_path, new_run_id())
    run.ensure(lambda: {})
    run.write_record("tf2.20-cpu", {"status": "ok"})
    with pytest.raises(ResultsError, match="never overwritten"):
        run.write_record("tf2.20-cpu", {"status": "failed"})
    assert json.loads(run.record_path("tf2.20-cpu").read_text()) == {"status": "ok"}
    (run.path / ".tmp-abc.json").write_text("{")  # what a killed writer leaves
    assert list(run.records()) == [{"status": "ok"}]


def test_latest_run_and_empty_results(tmp_path):
    with pytest.raises(ResultsError, match="no runs yet"):
        latest_run(tmp_path)
    a = RunDir(tmp_path, "20260101T000000Z-aaaaaa")
    b = RunDir(tmp_path, "20260102T000000Z-bbbbbb")
    for r in (b, a):
        r.path.mkdir()
    assert latest_run(tmp_path).run_id == b.run_id


def test_schemas_are_valid_json_schema_and_reject_a_bad_status():
    for kind in ("run", "combination"):
        jsonschema.Draft202012Validator.check_schema(load_schema(kind))
    validator = jsonschema.Draft202012Validator(load_schema("combination"))
    errors = list(validator.iter_errors({"schema_version": 1, "kind": "combination", "status": "great"}))
    assert any("great" in e.message for e in errors)
    assert any("required" in e.message for e in errors)
