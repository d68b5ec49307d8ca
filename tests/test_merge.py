"""``nox -s merge``: results folders from several machines become one run (real records).

A real run of the default matrix is split the way two shards on two hosts would
have written it; the merge must give back every record, each with its own host,
and report, compare and (through the one reader, records.store.load_run) publish read it like any run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from real_runs import QUIET_A, QUIET_B, copy_run, real_records, typed_records

from tfmatrix.errors import TfmatrixError
from tfmatrix.history import merge
from tfmatrix.history.compare import compare_folders
from tfmatrix.records.status import Outcome
from tfmatrix.records.store import load_run
from tfmatrix.report import render

REPO = Path(__file__).resolve().parents[1]
SHARD_0 = {"tf2.15-cpu", "tf2.15-numpy2-cpu", "tf2.20-cuda-pip"}


def on_host(folder: Path, node: str) -> Path:
    info = json.loads((folder / "run.json").read_text())
    info["host"]["platform"]["node"] = node
    (folder / "run.json").write_text(json.dumps(info))
    return folder


def two_machines(tmp_path: Path) -> tuple[Path, Path]:
    """QUIET_A as two machines would have written it: shard 0 on node-a, shard 1 on node-b."""
    a = on_host(copy_run(QUIET_A, tmp_path / "machine-a", "20261129T120000Z-00000a",
                         lambda d: d if d["combination"]["id"] in SHARD_0 else None), "node-a")
    b = on_host(copy_run(QUIET_A, tmp_path / "machine-b", "20261129T120001Z-00000b",
                         lambda d: None if d["combination"]["id"] in SHARD_0 else d), "node-b")
    return a, b


def a_name(tmp_path: Path) -> str:
    return next((tmp_path / "machine-a").iterdir()).name


def test_merged_shards_equal_the_single_machine_run_and_keep_each_host(tmp_path):
    a, b = two_machines(tmp_path)
    result = merge.merge([tmp_path / "machine-a", b], tmp_path / "results")  # a results folder, a run folder
    merged = load_run(result.run.path)
    assert merged.warnings == [] and result.duplicates == [] and result.conflicts == []
    single = typed_records(QUIET_A)
    got = merged.by_id()
    assert set(got) == set(single)
    for cid, rec in got.items():
        original = single[cid]
        for key in ("status", "outcome", "failure", "reason", "resolved_pins", "environment", "install"):
            assert getattr(rec, key) == getattr(original, key), (cid, key)
        # every phase whole; the fixtures carry no log files, so the paths keep naming the source machine's
        assert rec.phases == original.phases
        assert rec.host["platform"]["node"] == ("node-a" if cid in SHARD_0 else "node-b")
        assert rec.merged_from["run_id"] == (a.name if cid in SHARD_0 else b.name)
        assert rec.run_id == result.run.run_id
    info = merged.info
    assert [s["run_id"] for s in info.merge["sources"]] == [a.name, b.name]
    assert [s["records"] for s in info.merge["sources"]] == [3, 3]
    assert info.started_at <= info.ended_at and info.options["merged"] is True


def test_report_and_compare_read_the_merged_run(tmp_path):
    _, b = two_machines(tmp_path)
    result = merge.merge([tmp_path / "machine-a", b], tmp_path / "results")
    built = render.build_report(tmp_path / "results", tmp_path / "reports", result.run.run_id,
                                generated_at="2026-11-29T00:00:00+00:00")
    page = built.run_page.read_text()
    assert built.warnings == []
    for cid in real_records(QUIET_A):
        assert cid in page
    # the header names the sources, and each combination's detail the host that ran it
    assert f"{a_name(tmp_path)} on node-a (3 records); {b.name} on node-b (3 records)" in page
    assert page.count("<dt>ran on</dt><dd>node-a (Linux x86_64) from run ") == 3
    cmp = compare_folders(REPO / "tests" / "data" / "runs" / QUIET_A, result.run.path)
    assert cmp.only_in_base == [] and cmp.only_in_candidate == [] and cmp.exit_status == 0


def test_duplicates_are_set_aside_and_differing_outcomes_are_conflicts(tmp_path):
    a, b = two_machines(tmp_path)

    def skipped_elsewhere(doc):
        if doc["combination"]["id"] != "tf2.20-cpu":
            return None
        doc.update(status="skipped", outcome="skipped", reason="no matching hardware: needs a H100 GPU",
                   phases=[], ended_at="2026-11-29T23:00:00+00:00")
        return doc

    c = on_host(copy_run(QUIET_A, tmp_path / "machine-c", "20261129T120002Z-00000c", skipped_elsewhere), "node-c")
    d = on_host(copy_run(QUIET_B, tmp_path / "machine-d", "20261129T120003Z-00000d",
                         lambda doc: doc if doc["combination"]["id"] == "tf2.15-cpu" else None), "node-d")
    result = merge.merge([a, b, c, d], tmp_path / "results")
    by = {x["combination"]: x for x in result.duplicates}
    assert set(by) == {"tf2.20-cpu", "tf2.15-cpu"}
    # the ok run beats the later skip; the skip is kept in attempts/, named in run.json
    kept = result.run.existing_record("tf2.20-cpu")
    assert kept.outcome == Outcome.OK and kept.merged_from["run_id"] == b.name
    aside = Path(by["tf2.20-cpu"]["set_aside"][0]["file"])
    assert aside.parent.name == "attempts" and json.loads(aside.read_text())["status"] == "skipped"
    assert any(x.startswith("tf2.20-cpu: ok in " + b.name + " but skipped in " + c.name) for x in result.conflicts)
    # the same outcome twice: a duplicate (the later run kept), not a conflict
    assert not any(x.startswith("tf2.15-cpu") for x in result.conflicts)
    later = max([a, d], key=lambda f: json.loads((f / "tf2.15-cpu.json").read_text())["ended_at"])
    assert result.run.existing_record("tf2.15-cpu").merged_from["run_id"] == later.name
    info = json.loads(result.run.run_record.read_text())
    assert info["merge"]["duplicates"] == result.duplicates and info["merge"]["conflicts"] == result.conflicts
    lines = "\n".join(result.lines())
    assert "duplicate: tf2.20-cpu" in lines and "conflict: tf2.20-cpu" in lines


def test_unreadable_records_and_disagreeing_sources_are_named_not_dropped(tmp_path):
    a, b = two_machines(tmp_path)
    (b / "tf2.20-cpu.json").write_text('{"schema_version": 2, "kind": "combin')  # truncated mid-write
    info = json.loads((a / "run.json").read_text())
    info["profile"] = "gpu"
    (a / "run.json").write_text(json.dumps(info))
    result = merge.merge([a, b], tmp_path / "results")
    copied = result.run.path / "unreadable" / f"{b.name}.tf2.20-cpu.json"
    assert copied.read_text().endswith('"kind": "combin')
    assert any(str(copied) in w for w in result.warnings)
    assert any("differ in profile" in c and "gpu" in c for c in result.conflicts)
    assert not result.run.record_path("tf2.20-cpu").exists()


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(TfmatrixError, match="not a folder"):
        merge.merge([tmp_path / "nope"], tmp_path / "results")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TfmatrixError, match="holds no run folder"):
        merge.merge([tmp_path / "empty"], tmp_path / "results")
    a, _ = two_machines(tmp_path)
    merge.merge([a], tmp_path / "results", run_id="20261129T130000Z-000001")
    with pytest.raises(TfmatrixError, match="exists; a merge writes a new run"):
        merge.merge([a], tmp_path / "results", run_id="20261129T130000Z-000001")


def test_cli_merge_prints_what_it_did(tmp_path):
    a, b = two_machines(tmp_path)
    env = dict(os.environ, TFMATRIX_RESULTS=str(tmp_path / "results"), PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "merge", str(a), str(b)], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "6 combinations from 2 runs" in proc.stdout and "on node-a: 3 records" in proc.stdout
    assert "next: nox -s report -- " in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "tfmatrix", "merge", str(tmp_path / "nope")], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a folder" in bad.stderr


def test_logs_are_copied_and_the_record_points_at_the_copies(tmp_path):
    a, b = two_machines(tmp_path)
    logs = a / "logs" / "tf2.15-cpu"
    logs.mkdir(parents=True)
    doc = json.loads((a / "tf2.15-cpu.json").read_text())
    for phase in doc["phases"]:
        (logs / f"{phase['name']}.log").write_text(f"log of {phase['name']}")
        phase["log"] = f"/elsewhere/machine-a/logs/tf2.15-cpu/{phase['name']}.log"
    (a / "tf2.15-cpu.json").write_text(json.dumps(doc))
    result = merge.merge([a, b], tmp_path / "results")
    rec = result.run.existing_record("tf2.15-cpu")
    assert rec.phases and all(Path(p.log).read_text() == f"log of {p.name}" for p in rec.phases)
    assert all(p.log.startswith(str(result.run.log_dir("tf2.15-cpu"))) for p in rec.phases)


def test_a_pending_record_ranks_below_an_interruption_and_above_a_skip():
    """pending (cold starts only, its rounds never ran) is not an interruption: merge ranks it explicitly."""
    from tfmatrix.records.status import Status

    rec = typed_records(QUIET_A)["tf2.20-cpu"]
    ranks = {s: merge._rank(rec.end(s))[0] for s in (Status.SKIPPED, Status.PENDING, Status.INTERRUPTED, Status.OK)}
    assert ranks[Status.SKIPPED] < ranks[Status.PENDING] < ranks[Status.INTERRUPTED] < ranks[Status.OK]


def test_predictions_are_merged_and_a_twice_predicted_key_keeps_the_latest(tmp_path, make_prediction):
    a, b = two_machines(tmp_path)
    run_a, run_b = a, b
    from tfmatrix.records.store import RunDir

    for folder, status in ((run_a, "no-wheel"), (run_b, "installable")):
        RunDir(folder.parent, folder.name).write_prediction(
            make_prediction("tf2.21-cpu", "windows", status, "x has no win_amd64 wheel" if status != "installable"
                            else "", run_id=folder.name))
    RunDir(run_a.parent, run_a.name).write_prediction(make_prediction("tf2.20-cpu", "macos-arm64",
                                                                      run_id=run_a.name))
    result = merge.merge([a, b], tmp_path / "results", run_id="20261129T130000Z-0000ab")
    merged = load_run(result.run.path)
    assert {p.key: p.status for p in merged.predictions} == {"tf2.21-cpu@windows-py3.11": "installable",
                                                             "tf2.20-cpu@macos-arm64-py3.11": "installable"}
    aside = result.run.path / "attempts" / "predictions" / "tf2.21-cpu@windows-py3.11.1.json"
    assert json.loads(aside.read_text())["status"] == "no-wheel"
    assert {"prediction": "tf2.21-cpu@windows-py3.11", "kept": run_b.name,
            "set_aside": [run_a.name]} in result.duplicates
