"""records.store: run ids, the run folder written once and closed once, create-only combination records, a full
disk that loses nothing already recorded."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import jsonschema
import pytest
from real_runs import QUIET_A, typed_records

from tfmatrix import RECORD_SCHEMA_VERSION
from tfmatrix.errors import ResultsError
from tfmatrix.records.schema import load_schema
from tfmatrix.records.status import Status
from tfmatrix.records.store import RunDir, check_run_id, new_run_id


def a_record(run: RunDir, combo_id: str = "tf2.20-cpu", **changes):
    rec = typed_records(QUIET_A)["tf2.20-cpu"]
    return dataclasses.replace(rec, run_id=run.run_id,
                               combination=dataclasses.replace(rec.combination, id=combo_id), **changes)


def test_run_ids_are_checked():
    rid = new_run_id()
    assert check_run_id(rid) == rid
    for bad in ("../../etc", "latest", "20260101T000000Z-xyz123", ""):
        with pytest.raises(ResultsError):
            check_run_id(bad)


def test_run_record_written_once_and_closed_once(tmp_path, make_run_record):
    calls = []

    def info():
        calls.append(1)
        return make_run_record(run.run_id)

    run = RunDir(tmp_path, new_run_id())
    run.ensure(info)
    run.ensure(info)  # a second session of the same run joins it
    assert len(calls) == 1
    first = run.read_run()
    assert first.ended_at is None and first.schema_version == RECORD_SCHEMA_VERSION == 8
    run.finish()
    ended = run.read_run().ended_at
    assert ended
    run.finish()  # a later summary does not move the end time
    assert run.read_run().ended_at == ended


def test_interruptions_and_resumptions_are_added_under_the_lock(new_run):
    run = new_run()
    run.mark_interrupted("tf2.20-cpu", "SIGTERM")
    run.mark_resumed("20260101T000000Z-aaaaaa")
    run.mark_resumed("20260101T000000Z-aaaaaa")  # each session of one resuming invocation: recorded once
    info = run.read_run()
    assert [i["signal"] for i in info.interruptions] == ["SIGTERM"]
    assert [r["invocation"] for r in info.resumptions] == ["20260101T000000Z-aaaaaa"]


def test_combination_records_are_create_only_and_read_back_typed(new_run):
    run = new_run()
    run.write_record(a_record(run))
    with pytest.raises(ResultsError, match="never overwritten"):
        run.write_record(a_record(run, status=Status.FAILED))
    assert run.existing_record("tf2.20-cpu").status == Status.OK
    (run.path / ".tmp-abc.json").write_text("{")  # what a killed writer leaves
    assert [r.id for r in run.load().records] == ["tf2.20-cpu"]
    assert run.existing_record("tf2.15-cpu") is None


def test_set_aside_keeps_every_attempt(new_run):
    run = new_run()
    run.write_record(a_record(run))
    first = run.set_aside("tf2.20-cpu")
    run.write_record(a_record(run))
    second = run.set_aside("tf2.20-cpu")
    assert (first.name, second.name) == ("tf2.20-cpu.1.json", "tf2.20-cpu.2.json")
    assert not run.record_path("tf2.20-cpu").exists()


def test_a_pending_record_is_the_only_one_replaced_and_in_place(new_run):
    run = new_run()
    pending = a_record(run, phases=[]).end(Status.PENDING, reason="cold starts measured; its warm phases wait")
    assert (pending.status, pending.outcome) == (Status.PENDING, "pending")
    run.write_record(pending)
    assert run.pending() == ["tf2.20-cpu"]
    run.write_record(a_record(run))  # its ending, in place
    assert run.existing_record("tf2.20-cpu").status == Status.OK and run.pending() == []
    assert not (run.path / "attempts").exists()
    with pytest.raises(ResultsError, match="records are never overwritten"):
        run.write_record(a_record(run))  # an ended record is never replaced


def test_latest_run_and_empty_results(tmp_path):
    with pytest.raises(ResultsError, match="no runs yet"):
        RunDir.latest(tmp_path)
    a = RunDir(tmp_path, "20260101T000000Z-aaaaaa")
    b = RunDir(tmp_path, "20260102T000000Z-bbbbbb")
    for r in (b, a):
        r.path.mkdir()
    assert RunDir.latest(tmp_path).run_id == b.run_id
    assert RunDir.latest(tmp_path, but=b.run_id).run_id == a.run_id


def test_schemas_are_valid_json_schema_and_reject_a_bad_status():
    for kind in ("run", "combination"):
        jsonschema.Draft202012Validator.check_schema(load_schema(kind))
    validator = jsonschema.Draft202012Validator(load_schema("combination"))
    errors = list(validator.iter_errors({"schema_version": 1, "kind": "combination", "status": "great"}))
    assert any("great" in e.message for e in errors)
    assert any("required" in e.message for e in errors)


def _fill(run: RunDir, n: int = 10_000) -> list[str]:
    """Write records until the device is full; return the ids written."""
    written = []
    for i in range(n):
        try:
            run.write_record(a_record(run, f"c{i}", reason="x" * 4000))
        except ResultsError as exc:
            return written + [str(exc)]
        written.append(f"c{i}")
    raise AssertionError("the device never filled up")


def _check_full_disk(run: RunDir) -> None:
    *written, message = _fill(run)
    assert written, "not even one record fit"
    assert "could not be written (no space left on the device)" in message
    assert f"the records already in {run.path} are kept" in message and "--resume" in message
    assert "\n" not in message
    for cid in written:  # every earlier record whole
        assert json.loads(run.record_path(cid).read_text())["reason"] == "x" * 4000
    assert not list(run.path.glob(".tmp-*"))  # the failed write left nothing half-written


def test_full_disk_on_a_real_tmpfs(tmp_path, make_run_record):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the seam test covers it")
    try:
        run = RunDir(mnt, new_run_id())
        run.ensure(lambda: make_run_record(run.run_id))
        _check_full_disk(run)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_through_the_write_seam(new_run, monkeypatch):
    """The same check where tmpfs cannot be mounted: the 6th write fails as a full device fails it."""
    import errno

    from tfmatrix import atomic

    run = new_run()
    real, calls = atomic.os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    _check_full_disk(run)
