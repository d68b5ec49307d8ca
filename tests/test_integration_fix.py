"""A real fix search (real nox, uv, TensorFlow, PyPI): the known-bad ``numpy>=2`` reproduction is recorded by a
plain ``nox -s bench``, then ``nox -s fix`` finds and proves the change that makes it pass.  Nothing here tells
the search the answer: it reads the record's facts, probes, and the probes' records say what passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matrices import TINY_MATRIX, python_version

from tfmatrix.records.store import load

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]
COMBO = "tf2.15-numpy2-cpu"


def nox(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TFMATRIX_MATRIX=str(workdir / "tiny.yaml"), TFMATRIX_RESULTS=str(workdir / "results"),
               TFMATRIX_CACHE=str(workdir / "cache"), TFMATRIX_PROFILE="known-bad",
               TFMATRIX_REPORTS=str(workdir / "reports"))
    env.pop("TFMATRIX_RUN_ID", None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
                          capture_output=True, text=True, env=env, timeout=3600)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("fix")
    (workdir / "tiny.yaml").write_text(TINY_MATRIX.format(python=python_version()))
    bench = nox(workdir, "-s", f"bench({COMBO})", "--", "--quick")
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-3000:]  # an expected failure
    return workdir, nox(workdir, "-s", "fix", "--", COMBO, "--max-probes", "3")


def test_the_forced_numpy_is_cured_and_proven_within_three_probes(fixed):
    workdir, proc = fixed
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    (failed_run,) = [p for p in (workdir / "results").iterdir() if (p / f"{COMBO}.json").exists()]
    search = json.loads((failed_run / "fixes" / f"{COMBO}.json").read_text())
    assert search["ending"] == "fixed" and len(search["tried"]) <= 3
    changes = {c["package"]: c for c in search["fix"]["changes"]}
    assert set(changes) == {"numpy"} and changes["numpy"]["forced"] == "numpy>=2"
    assert changes["numpy"]["after"] == "" or changes["numpy"]["after"].endswith("<2.0.0")
    # the proof is a real record of a real run that ended ok, with numpy 1.x installed
    (proof,) = [p for p in search["proof"] if "-import" not in Path(p).name]
    record = load(Path(proof))
    assert str(record.status) == "ok" and record.quick
    numpy = next(p for p in record.resolved_pins if p.startswith("numpy=="))
    assert numpy.startswith("numpy==1.")
    assert f"+ {numpy.replace('==', ' ')}" in out and f"{numpy}  # was 2." in out  # the diff, requirements.txt
    assert "- id: tf2.15-numpy2" in out and "force:" not in out.split("matrix.yaml (replaces the entry):")[1]


def test_the_failed_record_now_links_its_verified_fix_in_the_summary(fixed):
    workdir, _ = fixed
    (failed_run,) = [p for p in (workdir / "results").iterdir() if (p / f"{COMBO}.json").exists()]
    proc = nox(workdir, "-s", "summary", "--", failed_run.name)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "verified fix: numpy 2." in proc.stdout and str(failed_run / "fixes" / f"{COMBO}.json") in proc.stdout
