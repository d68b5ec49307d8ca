"""The shipped Slurm scripts and CI workflow: they parse, the commands they run exist
and are accepted by tfmatrix, and they match the scale-out page of the docs (docs/scale-out.md).
(No `sbatch --test-only` or GitHub runner here: the Slurm scripts run for real under
the environment Slurm would give them, with a FAKE `python3` on PATH that records
what it was asked to run.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tfmatrix.run.noxside.options import parse as parse_options

REPO = Path(__file__).resolve().parents[1]
SLURM = REPO / "tools" / "slurm"
WORKFLOW = REPO / ".github" / "workflows" / "bench-matrix.yml"
README = (REPO / "README.md").read_text(encoding="utf-8")
SCALE_OUT = REPO / "docs" / "scale-out.md"


def scaling_out_section() -> str:
    """The scale-out page, which the README links."""
    assert "docs/scale-out.md" in README, "the README does not link docs/scale-out.md"
    return SCALE_OUT.read_text(encoding="utf-8")


def nox_sessions(matrix: Path | None = None) -> list[dict]:
    env = dict(os.environ)
    if matrix:
        env["TFMATRIX_MATRIX"] = str(matrix)
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(REPO / "noxfile.py"), "-l", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def session_names() -> set[str]:
    """Every session the noxfile defines (``nox -l``: selected ones marked *, the others -)."""
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(REPO / "noxfile.py"), "-l"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"^[*-] ([A-Za-z_]+)", proc.stdout, re.M))


@pytest.mark.parametrize("script", ["bench-array.sbatch", "merge.sbatch"])
def test_slurm_scripts_are_valid_bash_with_sbatch_directives(script):
    path = SLURM / script
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    text = path.read_text()
    directives = re.findall(r"^#SBATCH (--[a-z-]+)(?:=(\S+))?", text, re.M)
    assert directives and all(name in {"--job-name", "--array", "--gres", "--cpus-per-task", "--mem", "--time",
                                       "--output"} for name, _ in directives)
    if script == "bench-array.sbatch":
        assert dict(directives)["--array"] == "0-7" and dict(directives)["--gres"] == "gpu:1"


def run_under_fake_slurm(tmp_path: Path, script: str, env: dict[str, str], *args: str) -> list[list[str]]:
    """Run the script as Slurm would, with a FAKE python3 that records its argv and TFMATRIX_RESULTS."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    (fake_bin / "python3").write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps([sys.argv[1:], os.environ.get('TFMATRIX_RESULTS')]) + '\\n')\n")
    (fake_bin / "python3").chmod(0o755)
    full = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}", SLURM_SUBMIT_DIR=str(tmp_path), **env)
    proc = subprocess.run(["bash", str(SLURM / script), *args], env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_each_array_task_runs_its_shard_into_its_own_folder(tmp_path):
    calls = run_under_fake_slurm(tmp_path, "bench-array.sbatch", {
        "SLURM_ARRAY_JOB_ID": "4242", "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8",
        "SLURM_ARRAY_TASK_MIN": "0"})
    assert calls == [[["-m", "nox", "-s", "bench", "--", "--shard", "3/8"],
                      f"{tmp_path}/results-slurm/4242/shard-3"]]
    opts = parse_options(calls[0][0][5:])  # tfmatrix accepts what the task passes
    assert str(opts.shard) == "3/8"
    assert "bench" in session_names()


def test_an_array_not_starting_at_zero_is_refused(tmp_path):
    env = dict(os.environ, SLURM_SUBMIT_DIR=str(tmp_path), SLURM_ARRAY_JOB_ID="1", SLURM_ARRAY_TASK_ID="1",
               SLURM_ARRAY_TASK_COUNT="8", SLURM_ARRAY_TASK_MIN="1")
    proc = subprocess.run(["bash", str(SLURM / "bench-array.sbatch")], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "must start at 0" in proc.stderr


def test_the_merge_job_merges_the_arrays_folder_then_reports(tmp_path):
    calls = run_under_fake_slurm(tmp_path, "merge.sbatch", {}, "4242")
    assert [c[0] for c in calls] == [["-m", "nox", "-s", "merge", "--", "results-slurm/4242"],
                                     ["-m", "nox", "-s", "report"]]
    assert {"merge", "report"} <= session_names()


def test_the_docs_show_the_same_slurm_commands():
    section = scaling_out_section()
    assert "sbatch --parsable tools/slurm/bench-array.sbatch" in section
    assert 'sbatch --dependency=afterany:"$job" tools/slurm/merge.sbatch "$job"' in section
    assert "sbatch --dependency=afterany:\"$job\" tools/slurm/merge.sbatch \"$job\"" in (SLURM / "bench-array.sbatch").read_text()


# --------------------------------------------------------------------------- the CI workflow


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines() -> list[str]:
    return [line for job in workflow()["jobs"].values() for step in job["steps"] if "run" in step
            for line in step["run"].strip().splitlines()]


def test_the_workflow_parses_and_chains_sessions_bench_merge():
    wf = workflow()
    jobs = wf["jobs"]
    assert list(jobs) == ["sessions", "bench", "merge"]
    assert jobs["bench"]["needs"] == "sessions" and jobs["merge"]["needs"] == "bench"
    assert jobs["bench"]["strategy"]["matrix"]["include"] == "${{ fromJson(needs.sessions.outputs.jobs) }}"
    assert jobs["bench"]["runs-on"] == "${{ matrix.runs-on }}"
    assert jobs["bench"]["strategy"]["fail-fast"] is False and jobs["merge"]["if"] == "always()"
    for line in run_lines():  # no ${{ }} expanded into a shell line: values come in through env
        assert "${{" not in line, line


def test_every_command_the_workflow_runs_exists_and_nox_knows_its_sessions():
    names = session_names()
    assert {"bench", "merge", "report"} <= names
    for line in run_lines():
        argv = line.split()
        assert argv[0] == "python" and shutil.which("python3"), line
        if argv[1:3] == ["-m", "nox"] and "-s" in argv:
            session = argv[argv.index("-s") + 1]
            assert session == '"$SESSION"' or session in names, line
        if argv[1] == "tools/ci_matrix.py":
            assert (REPO / argv[1]).exists()
    assert "python -m nox -l --json -s bench > sessions.json" in run_lines()
    assert "python -m nox -s merge -- shards/*" in run_lines()


def test_the_job_matrix_from_nox_puts_gpu_combinations_on_gpu_runners(tmp_path):
    matrix = tmp_path / "m.yaml"
    data = yaml.safe_load((REPO / "matrix.yaml").read_text())
    for stack in data["stacks"]:
        if stack["id"] == "cuda-pip":
            stack["hardware"] = {"gpu_type": "H100"}
    matrix.write_text(yaml.safe_dump(data))
    listing = tmp_path / "sessions.json"
    listing.write_text(json.dumps(nox_sessions(matrix)))
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "ci_matrix.py"), str(listing)],
                          capture_output=True, text=True, check=True)
    key, _, value = proc.stdout.strip().partition("=")
    jobs = json.loads(value)
    assert key == "jobs"
    bench_sessions = [s for s in json.loads(listing.read_text()) if s["name"] == "bench"]
    assert [j["session"] for j in jobs] == [s["session"] for s in bench_sessions]
    for job in jobs:
        if "cuda" in job["session"]:
            assert job["runs-on"] == ["self-hosted", "linux", "gpu", "gpu-h100"]
        else:
            assert job["runs-on"] == "ubuntu-latest"
        assert re.fullmatch(r"[A-Za-z0-9._-]+", job["slug"]) and job["python"] == "3.11"


def test_the_docs_show_the_workflow():
    section = scaling_out_section()
    assert ".github/workflows/bench-matrix.yml" in section and "nox -l --json" in section
    assert "nox -s merge -- shards/*" in section
