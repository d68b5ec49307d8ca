"""``nox -s predict`` against the real package index, and its agreement with real Linux installs.

Real uv (``uv pip compile --python-platform``) and PyPI.  Nothing here installs on Windows or macOS: no
machine of this project has run either; what is checked is what the resolver says of them.  Where a
prediction for Linux can be set beside a real install, it must agree with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from matrices import TINY_MODEL_AND_WORKLOAD

from tfmatrix.diagnosis import platforms
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.predicting.predict import predict
from tfmatrix.records.model import CombinationInfo
from tfmatrix.run.noxside.endings import install_failed
from tfmatrix.run.provisioning.install import install, install_args

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.network


def nox_predict(tmp_path: Path, *words: str, matrix: str | None = None, profile: str | None = None) -> dict:
    """Run ``nox -s predict -- WORDS`` as a user does; the records of its run, by key."""
    env = {**os.environ, "TFMATRIX_RESULTS": str(tmp_path / "results")}
    env.pop("TFMATRIX_RUN_ID", None)
    env.update({k: v for k, v in (("TFMATRIX_MATRIX", matrix), ("TFMATRIX_PROFILE", profile)) if v})
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "predict", "--", *words],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (run,) = (tmp_path / "results").iterdir()
    return {p.stem: json.loads(p.read_text()) for p in (run / "predictions").glob("*.json")}


def test_the_windows_profile_installs_every_entry_on_win_amd64(tmp_path):
    found = nox_predict(tmp_path, "--platform", "windows", matrix="examples/windows.yaml", profile="windows")
    expected = combinations(load_matrix(ROOT / "examples" / "windows.yaml"), "windows")
    assert sorted(found) == sorted(f"{c.id}@windows-py{c.python}" for c in expected)
    assert {k: d["status"] for k, d in found.items()} == {k: "installable" for k in found}
    assert all(d["pins"] and not d["statements"] for d in found.values())  # TF 2.10's GPU included: no statement


def test_the_native_windows_gpu_example_resolves_for_win_amd64(tmp_path):
    """TF 2.10.1 and the Model Garden of its minor on Python 3.9: the one native-Windows GPU setting."""
    found = nox_predict(tmp_path, "--platform", "windows", matrix="examples/windows-native.yaml")
    (doc,) = found.values()
    assert doc["status"] == "installable" and doc["statements"] == [], doc["why"]
    assert "tensorflow==2.10.1" in doc["pins"] and "tensorflow-text==2.10.0" in doc["pins"]
    assert "opencv-python-headless==4.5.2.52" in doc["pins"]  # yanked, so pinned in the example itself


def test_on_python_310_it_does_not_and_the_line_says_which_wheel(tmp_path):
    found = nox_predict(tmp_path, "--platform", "windows", "--python", "3.10", matrix="examples/windows-native.yaml")
    (doc,) = found.values()
    assert doc["status"] == "no-wheel"
    assert doc["why"].startswith("opencv-python-headless 4.5.2.52 has no cp310 wheel; the matrix requires it")


# ------------------------------------------------------------------- prediction for Linux against a real install

AGREEMENT = """\
schema_version: 1
pythons: ["3.11"]
tensorflow:
  - id: tfbad                     # tf-models-official 2.15 wants tensorflow~=2.15: unresolvable
    version: "2.20.0"
    models_official: "2.15.0"
  - id: tf2.15-opencv45           # opencv-python-headless 4.5.2.52 has wheels for CPython 3.6-3.9 only
    version: "2.15.1"
    models_official: "2.15.0"
    requires: ["numpy<2", "tensorflow-metadata<1.18", "opencv-python-headless==4.5.2.52"]
stacks:
  - {{id: cpu, kind: cpu}}
models:
  - id: retinanet-mnv2-128
    experiment: retinanet_resnetfpn_coco
    input_size: [128, 128]
""" + TINY_MODEL_AND_WORKLOAD

#: combinations whose real install on this Linux ended ok: their records (tests/data/fix-cases/README.md)
INSTALLED = ["tf2.18-mldtypes032-cpu", "tf2.16-keras215-cpu", "tf2.15-keras3-cpu"]


def test_five_predictions_for_linux_agree_with_real_installs(tmp_path):
    """Three that installed (their real records), and two that failed, installed for real here (each ends in
    the resolve, in seconds): the prediction's verdict and culprit are the install's."""
    data = platforms.load()
    linux = data.platform("linux")
    matrix = tmp_path / "agreement.yaml"
    matrix.write_text(AGREEMENT.format())
    failing = combinations(load_matrix(matrix))
    fixed = {c.id: c for c in combinations(load_matrix(ROOT / "examples" / "fix-cases.yaml"))}

    def real_install(combo):
        venv, args = tmp_path / "venvs" / combo.id, install_args(combo)
        outcome = install(args["requirements"], venv=venv, python=str(venv / "bin" / "python"), backend="uv",
                          project_root=ROOT, timeout=900, log=tmp_path / "logs" / f"{combo.id}.log",
                          force=args["force"], as_of=args["as_of"], make_with=sys.executable)
        assert not outcome.ok and outcome.failed_step == "resolve", outcome.error
        return install_failed(outcome, CombinationInfo.of(combo)).failure

    def predicted(combo):
        return predict(combo, linux, combo.python, data, run_id="agreement", work=tmp_path / "predict")

    with ThreadPoolExecutor(4) as pool:
        real_failures = list(pool.map(real_install, failing))
        predictions = list(pool.map(predicted, [*failing, *(fixed[c] for c in INSTALLED)]))
    by_id = {p.combination.id: p for p in predictions}
    agreed = []
    for combo, failure in zip(failing, real_failures):
        p = by_id[combo.id]
        assert (p.status, p.failure.culprit if p.failure else None) == (failure.cls, failure.culprit), p.why
        agreed.append((combo.id, failure.cls))
    for cid in INSTALLED:
        record = json.loads((ROOT / "tests" / "data" / "fix-cases" / f"{cid}.json").read_text())
        assert record["install"]["ok"] is True
        assert by_id[cid].status == "installable", by_id[cid].why
        tf = next(p for p in record["resolved_pins"] if p.startswith("tensorflow=="))
        assert tf in by_id[cid].pins
        agreed.append((cid, "ok"))
    assert sorted(cls for _, cls in agreed) == ["no-wheel", "ok", "ok", "ok", "resolver-conflict"], agreed
