"""What the Ray driver does with what a task returned (no cluster: test_ray_cluster has the real one)."""

from __future__ import annotations

import copy

from real_runs import QUIET_A, real_records

from tfmatrix.executors.ray import keep_returned
from tfmatrix.records.status import Status
from tfmatrix.run.noxside.options import Options


def test_a_returned_record_and_its_logs_land_in_the_run_and_no_log_escapes_it(tmp_path, run_with):
    combos, run = run_with()
    combo = next(c for c in combos if c.id == "tf2.20-cpu")
    doc = copy.deepcopy(real_records(QUIET_A)["tf2.20-cpu"])  # as the node's session wrote it
    node_root = "/tmp/tfmatrix-ray-x/20261129T000000Z-abcdef/logs/tf2.20-cpu"
    for phase in doc["phases"]:
        phase["log"] = f"{node_root}/{phase['name']}.log"
    node = {"node_id": "n" * 56, "node_ip": "10.0.0.7", "hostname": "gpu-07", "gpu_ids": [], "resources": {}}
    keep_returned(run, combo, Options(), {
        "record": doc, "node": node, "exit_code": 0, "log_root": node_root, "error": "", "tail": "",
        "logs": {"probe.log": "probe says hi", "../../../escaped.log": "no", "sub/inner.log": "ok"}})
    rec = run.existing_record("tf2.20-cpu")
    assert rec.placement.node == node and rec.run_id == run.run_id
    assert all(p.log.startswith(str(run.log_dir("tf2.20-cpu"))) for p in rec.phases)
    assert (run.log_dir("tf2.20-cpu") / "probe.log").read_text() == "probe says hi"
    assert (run.log_dir("tf2.20-cpu") / "sub" / "inner.log").read_text() == "ok"
    assert not list(tmp_path.rglob("escaped.log"))


def test_a_task_without_a_record_is_recorded_failed_with_its_output(run_with):
    combos, run = run_with()
    combo = next(c for c in combos if c.id == "tf2.20-cpu")
    keep_returned(run, combo, Options(), {"record": None, "node": None, "exit_code": -9, "logs": {},
                                                 "tail": "nox > Running session bench(tf2.20-cpu)\nKilled", "error": ""})
    rec = run.existing_record("tf2.20-cpu")
    assert rec.status == Status.FAILED and rec.placement.executor == "ray"
    assert "ended with exit status -9 without writing a record" in rec.reason
    assert (run.log_dir("tf2.20-cpu") / "nox-ray.log").read_text().endswith("Killed")
    keep_returned(run, next(c for c in combos if c.id == "tf2.15-cpu"), Options(),
                  {"record": None, "node": None, "exit_code": None, "logs": {}, "tail": "",
                   "error": "/repo/noxfile.py: not on node gpu-07 (abcdef12); the project must be at the same path"})
    assert "not on node gpu-07" in run.existing_record("tf2.15-cpu").reason


def test_a_returned_record_that_does_not_read_is_recorded_failed_not_lost(run_with):
    combos, run = run_with()
    combo = next(c for c in combos if c.id == "tf2.20-cpu")
    keep_returned(run, combo, Options(), {"record": {"kind": "combination", "schema_version": 2}, "node": None,
                                          "exit_code": 0, "logs": {}, "tail": "", "error": ""})
    rec = run.existing_record("tf2.20-cpu")
    assert rec.status == Status.FAILED and "its record could not be read" in rec.reason
