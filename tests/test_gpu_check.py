"""tools/gpu-check.sh: honest on a machine without a GPU, and its NVML path runs against the explicit fake."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    return subprocess.run(["bash", str(ROOT / "tools" / "gpu-check.sh"), "--seconds", "0.2"], env=env,
                          capture_output=True, text=True, timeout=120)


def checks(out: str) -> dict[str, str]:
    return {line.split(":")[0][len("CHECK "):]: line.split(": ", 1)[1] for line in out.splitlines()
            if line.startswith("CHECK ")}


def test_without_a_gpu_it_says_so_and_exits_3():
    proc = run({"PATH": os.environ["PATH"]})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    got = checks(proc.stdout)
    assert got["nvml-reader"].startswith("SKIP no NVIDIA GPU here")
    assert got["fingerprint"].startswith("PASS")


def test_against_the_fake_nvml_the_reader_passes(tmp_path):
    """tests/fakes/inject/pynvml.py stands in for a driver 550 H200; no PyTorch here, so no load to watch."""
    fakes = str(ROOT / "tests" / "fakes" / "inject")
    proc = run({"PYTHONPATH": fakes})
    got = checks(proc.stdout)
    assert got["nvml-reader"] == "PASS driver 550.54.15, CUDA driver 12.4, 1 GPU(s)", proc.stdout
    assert got["telemetry-sampler"].startswith("SKIP neither PyTorch nor JAX")
    assert proc.returncode == 0
