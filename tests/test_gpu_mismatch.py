"""The gpu-mismatch profile: resolved for real (uv, PyPI), predicted by the pre-flight as cudnn-mismatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfmatrix.diagnosis import preflight
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.model import CombinationInfo
from tfmatrix.run.execution.host import GpuInfo, HostFacts
from tfmatrix.run.provisioning import install

ROOT = Path(__file__).resolve().parents[1]
UV = install.find_uv()
#: a GPU box as the pre-flight sees it (an explicit stand-in: this machine has no GPU)
GPU_HOST = HostFacts(gpus=(GpuInfo(0, "NVIDIA GeForce RTX 2080", "nvml"),), driver_version="550.54.15",
                     cpu_flags=("avx", "avx2", "fma", "sse4_2"), machine="x86_64", system="Linux")
COMBOS = combinations(load_matrix(ROOT / "matrix.yaml"), "gpu-mismatch")


def resolve(combo, tmp_path: Path) -> list[str]:
    import subprocess

    req = tmp_path / "requirements.in"
    req.write_text("\n".join(combo.requirements()) + "\n")
    over = tmp_path / "overrides.txt"
    over.write_text("\n".join(combo.force) + "\n")
    out = subprocess.run([UV, "pip", "compile", str(req), "--override", str(over), "--python-version", "3.11",
                          "--python-platform", "x86_64-manylinux_2_28", "--no-header", "--no-annotate", "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return [ln.strip() for ln in out.stdout.splitlines() if ln.strip() and not ln.startswith("#")]


def test_the_profile_holds_the_documented_mismatches():
    assert [(c.id, c.expect) for c in COMBOS] == [("tf2.18-cudnn8-cuda-pip", "cudnn-mismatch"),
                                                  ("tf2.15-cudnn9-cuda-pip", "cudnn-mismatch")]


@pytest.mark.network  # uv resolves against PyPI
@pytest.mark.skipif(UV is None, reason="uv is not installed (pip install 'nox[uv]')")
@pytest.mark.parametrize("combo", COMBOS, ids=[c.id for c in COMBOS])
def test_preflight_predicts_the_mismatch_from_the_resolved_wheels(combo, tmp_path):
    pins = resolve(combo, tmp_path)
    cudnn = next(p for p in pins if p.startswith("nvidia-cudnn-cu12=="))
    assert cudnn == combo.force[0]  # the override won over TF's own pin
    verdict = preflight.predict(CombinationInfo.of(combo), pins, GPU_HOST)
    assert verdict.predicted == combo.expect, verdict.reasons
    assert any("cudnn-mismatch" in r and cudnn.split("==")[1].split(".")[0] in r for r in verdict.reasons)
    # without the override, the same TF resolves to the cuDNN it was built against: no mismatch predicted
    honest = preflight.predict(CombinationInfo.of(combo), [p for p in pins if not p.startswith("nvidia-cudnn")] +
                               [f"nvidia-cudnn-cu12=={'9.3.0.75' if combo.tf.version.startswith('2.18') else '8.9.7.29'}"],
                               GPU_HOST)
    assert honest.predicted != "cudnn-mismatch", honest.reasons
