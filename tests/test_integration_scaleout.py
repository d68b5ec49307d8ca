"""Scale-out for real: nox, uv, TensorFlow and the Model Garden, as a user runs them.

* The whole default matrix as two shards (two results folders, as two machines would
  write them), merged, against a single-machine run of the same matrix; the report
  builds from the merged run.
* The ``--gpus`` pool with real nox children (install stage, then measure stage),
  on a FAKE NVML box injected into the driver (this machine has no GPU).
* ``--gpus`` on a machine without GPUs: one at a time, and it says so.

These take minutes (about 12 for the shards: three runs of the default matrix with --quick).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matrices import TINY_MATRIX, python_version

from tfmatrix.history.compare import compare_folders
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.status import PhaseStatus, Status
from tfmatrix.records.store import load_run, run_folders

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]  # real nox, uv and TensorFlow from PyPI
INJECT = Path(__file__).resolve().parent / "fakes" / "inject"


def nox(*args: str, results: Path, reports: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, TFMATRIX_RESULTS=str(results), TFMATRIX_REPORTS=str(reports or results.parent / "reports"),
                **env)
    for k in ("TFMATRIX_RUN_ID", "TFMATRIX_ASSUME_GPU", "TFMATRIX_PROFILE", "TFMATRIX_MATRIX"):
        if k not in env:
            full.pop(k, None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
                          capture_output=True, text=True, env=full, timeout=3000, cwd=ROOT)


def only_run(results: Path) -> Path:
    (run,) = run_folders(results)
    return run


def test_default_matrix_in_two_shards_merges_into_what_one_machine_records(tmp_path):
    expected = {c.id for c in combinations(load_matrix(ROOT / "matrix.yaml"), "default")}
    shards = []
    for i in (0, 1):
        proc = nox("-s", "bench", "--", "--shard", f"{i}/2", "--quick", results=tmp_path / f"shard-{i}")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert "not in shard" in out  # the other shard's sessions: skipped, no record
        shards.append(only_run(tmp_path / f"shard-{i}"))
    single = nox("-s", "bench", "--", "--quick", results=tmp_path / "single")
    assert single.returncode == 0, (single.stdout + single.stderr)[-3000:]

    ids = [{r.id for r in load_run(s).records} for s in shards]
    assert ids[0] and ids[1] and not ids[0] & ids[1] and ids[0] | ids[1] == expected
    for i, s in enumerate(shards):
        assert {r.placement.shard for r in load_run(s).records} == {f"{i}/2"}
        assert json.loads((s / "run.json").read_text())["options"]["shard"] == f"{i}/2"

    merged_proc = nox("-s", "merge", "--", str(tmp_path / "shard-0"), str(tmp_path / "shard-1"),
                      results=tmp_path / "merged")
    assert merged_proc.returncode == 0, merged_proc.stderr[-3000:]
    assert f"{len(expected)} combinations from 2 runs" in merged_proc.stdout
    merged = load_run(only_run(tmp_path / "merged"))
    one = load_run(only_run(tmp_path / "single"))
    assert merged.warnings == [] and one.warnings == []
    got, want = merged.by_id(), one.by_id()
    assert set(got) == set(want) == expected

    def verdicts(record) -> list[tuple[str, str]]:
        # an export the shards built is "cached" for the run after them (the cache is shared): the same verdict
        return [(p.name, "ok" if p.status == PhaseStatus.CACHED else str(p.status)) for p in record.phases]

    for cid in expected:  # the same verdicts, phase by phase
        assert (got[cid].status, got[cid].outcome) == (want[cid].status, want[cid].outcome), cid
        assert verdicts(got[cid]) == verdicts(want[cid]), cid
        assert got[cid].host["platform"]["node"] and got[cid].merged_from["run_id"] in {s.name for s in shards}
    cmp = compare_folders(one.path, merged.path)
    assert cmp.only_in_base == [] and cmp.only_in_candidate == [] and cmp.status_changes == []

    report = nox("-s", "report", "--", merged.run_id, results=tmp_path / "merged", reports=tmp_path / "reports")
    assert report.returncode == 0, report.stderr[-3000:]
    page = (tmp_path / "reports" / merged.run_id / "index.html").read_text()
    assert all(cid in page for cid in expected)


@pytest.fixture
def tiny(tmp_path) -> Path:
    matrix = tmp_path / "tiny.yaml"
    text = TINY_MATRIX.format(python=python_version()).replace(
        "  - {id: cuda-pip, kind: cuda-pip}", "  - {id: cuda-pip, kind: cuda-pip, hardware: {gpu_type: H100}}")
    text += "  pool:\n    tensorflow: [tf2.20]\n    stacks: [cpu, cuda-pip]\n"
    matrix.write_text(text)
    return matrix


def test_gpus_pool_installs_ahead_then_measures_with_real_nox_children(tiny, tmp_path):
    box = "NVIDIA L4=24152899584,NVIDIA A100-SXM4-40GB=42949672960"  # FAKE NVML: no H100 in the pool
    proc = nox("-s", "bench", "--", "--gpus", "0,1", "--quick", results=tmp_path / "results",
               TFMATRIX_MATRIX=str(tiny), TFMATRIX_PROFILE="pool", TFMATRIX_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(INJECT), TFMATRIX_FAKE_GPUS=box)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "queued for the GPU pool 0,1" in out and "Running session dispatch" in out
    assert "installing 1 combination(s) ahead, 1 at a time: tf2.20-cpu" in out  # the H100 one: skipped first
    run = only_run(tmp_path / "results")
    records = load_run(run).by_id()
    cpu = records["tf2.20-cpu"]
    assert cpu.status == Status.OK and cpu.placement.executor == "gpus"
    assert (run / "logs" / "tf2.20-cpu" / "nox-install.log").exists()
    assert "measured later by the pool" in (run / "logs" / "tf2.20-cpu" / "nox-install.log").read_text()
    assert "tfmatrix: tf2.20-cpu: latency" in (run / "logs" / "tf2.20-cpu" / "nox-measure.log").read_text()
    installed = json.loads((run / "logs" / "tf2.20-cpu" / "install-outcome.json").read_text())["install"]
    # the installer ran once, in the install stage: a second install would append its commands again
    commands = [ln for ln in (run / "logs" / "tf2.20-cpu" / "install.log").read_text().splitlines()
                if ln.startswith("$ ")]
    assert len(commands) == len(installed["steps"]) > 0
    assert cpu.install.lock_sha256 == installed["lock_sha256"] and cpu.install.ok
    gpu = records["tf2.20-cuda-pip"]
    assert gpu.status == Status.SKIPPED and gpu.reason.startswith(
        "no matching hardware: needs a H100 GPU; in --gpus 0,1, GPU 0 is 'NVIDIA L4', not H100")
    assert "tf2.20-cpu: ok" in out and "tfmatrix run " in out  # the dispatch's lines, then the summary


def test_gpus_on_a_machine_without_gpus_runs_one_at_a_time_and_says_so(tiny, tmp_path, gpu_less_host):
    proc = nox("-s", "bench(tfbad-cpu)", "--", "--gpus", "0,1", results=tmp_path / "results",
               TFMATRIX_MATRIX=str(tiny), TFMATRIX_CACHE=str(tmp_path / "cache"))
    out = proc.stdout + proc.stderr
    assert "no GPU is visible here, so combinations run one at a time" in out
    assert "Running session dispatch" not in out
    assert load_run(only_run(tmp_path / "results")).by_id()["tfbad-cpu"].status == Status.INSTALL_FAILED
