"""A planted load-time regression, caught by compare, by the upgrade gate and in the history (issue 30).

Real nox, uv and TensorFlow 2.21.0 (a load-only entry: TensorFlow alone).  The plant is a SavedModel made
deliberately slower to load: the same detector with 400 more variables its signature never reads
(``tf.saved_model.load`` restores each; on the 2-core machine about 1.3 s against 0.15 s).

* history and compare: the team's model folder holds the plain detector for two nightly runs, then the
  heavier one for two more, as when a retrained model grows.  ``compare`` of the last plain run with the
  first heavy one says load **regression** (exit 1); of the two plain runs, not.  The report's change points
  put a load regression at the first heavy run, and none before it.
* the gate: the same model id given once per stack (the plain SavedModel on ``cpu1``, the heavy one on
  ``cpu2``), ``nox -s compare -- --rerun-base tf2.21-cpu1 tf2.21-cpu2``: load regression, exit 1; the
  other way round, load improvement and no load regression.

Every run takes the default 5 cold starts: with 3 a side no load change could be judged at all.  The gate
may add one round of 5 more (``--max-cold-starts 10`` bounds the test's time) where import or first
inference moved on a busy machine.
Each check is shown able to fail: the same detector on both sides gives no load regression.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from matrices import make_saved_models, python_version, run_nox

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]
BALLAST = 400  # variables the heavy detector adds

MATRIX = """\
schema_version: 1
pythons: ["{python}"]
tensorflow:
  - version: "2.21.0"              # load-only: TensorFlow alone
stacks:                            # one machine; a stack per place the detector comes from
  - {{id: cpu, kind: cpu}}            # the nightly runs
  - {{id: cpu1, kind: cpu}}           # the gate's plain side
  - {{id: cpu2, kind: cpu}}           # the gate's heavy side
models:
  - id: detector
    source: saved_model
    path: detector                 # the team's model folder: plain for two runs, then the heavy one
    input_size: [96, 96]
    stacks: [cpu]
  - id: detector
    source: saved_model
    path: detector-plain
    input_size: [96, 96]
    stacks: [cpu1]
  - id: detector
    source: saved_model
    path: detector-heavy
    input_size: [96, 96]
    stacks: [cpu2]
workload:
  images: 2
  batch_sizes: [1]
  warmup: 1
  latency: {{min_queries: 5, min_seconds: 0.3}}
  fidelity_rounds: 0
  rounds: 2
profiles:
  default:
    stacks: [cpu]
  gate:
    stacks: [cpu1, cpu2]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("planted")
    make_saved_models(d, ["tensorflow==2.21.0"], {"detector-plain": 0, "detector-heavy": BALLAST})
    shutil.copytree(d / "detector-plain", d / "detector")
    (d / "planted.yaml").write_text(MATRIX.format(python=python_version()))
    return d


def runs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "results").iterdir() if p.is_dir())


def tool(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tfmatrix ARGS`` on the test's results and reports."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TFMATRIX_RESULTS=str(workdir / "results"),
               TFMATRIX_REPORTS=str(workdir / "reports"))
    return subprocess.run([sys.executable, "-m", "tfmatrix", *args], capture_output=True, text=True, env=env,
                          cwd=workdir)


def load_row(markdown: str) -> str:
    """The compare table's row of the load metric ("" where load was unchanged, so not listed)."""
    return next((line for line in markdown.splitlines() if "| load |" in line), "")


@pytest.fixture(scope="module")
def history(workdir) -> list[Path]:
    """Four nightly runs: the plain detector twice, then the heavy one twice."""
    for i in range(4):
        if i == 2:
            shutil.rmtree(workdir / "detector")
            shutil.copytree(workdir / "detector-heavy", workdir / "detector")
        proc = run_nox(workdir / "planted.yaml", "-s", "bench")
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    found = runs(workdir)
    assert len(found) == 4
    return found


def test_compare_flags_the_planted_load_regression_and_not_the_same_model(workdir, history):
    plain = tool(workdir, "compare", history[0].name, history[1].name)
    assert "regression" not in load_row(plain.stdout), plain.stdout  # the same detector: could have failed here
    planted = tool(workdir, "compare", history[1].name, history[2].name)
    row = load_row(planted.stdout)
    assert planted.returncode == 1 and "**regression**" in row, planted.stdout + planted.stderr[-2000:]


def test_the_history_puts_a_load_change_point_at_the_first_heavy_run(workdir, history):
    built = tool(workdir, "report")
    assert built.returncode == 0, built.stderr[-3000:]
    with open(workdir / "reports" / "changepoints.csv", newline="") as f:
        points = list(csv.DictReader(f))
    load = [p for p in points if p["metric"] == "load"]
    assert [(p["run_id"], p["verdict"]) for p in load] == [(history[2].name, "regression")], points
    assert float(load[0]["ratio"]) > 2


def test_the_gate_flags_the_planted_load_regression_one_way_only(workdir):
    slower = run_nox(workdir / "planted.yaml", "-s", "compare", "--", "--rerun-base", "tf2.21-cpu1", "tf2.21-cpu2",
                     "--max-cold-starts", "10", profile="gate")
    out = slower.stdout + slower.stderr
    assert slower.returncode == 1 and "**regression**" in load_row(out), out[-6000:]
    assert "5 cold starts each" in out
    faster = run_nox(workdir / "planted.yaml", "-s", "compare", "--", "--rerun-base", "tf2.21-cpu2", "tf2.21-cpu1",
                     "--max-cold-starts", "10", profile="gate")
    out = faster.stdout + faster.stderr
    row = load_row(out)
    assert "**improvement**" in row and "regression" not in row, out[-6000:]  # the gate could have failed here
