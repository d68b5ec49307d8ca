"""tools/gpu-check.sh: says what the host has, checked against what NVML tells this test on the same host.

Each test reads the host first (NVML, through ``python3`` as the check runs, with the same environment), then
asserts what that host must see: a host without a GPU, a real GPU host, or the recorded NVML answer of a
driver 550 H200 (the explicit fake, tests/fakes/inject/pynvml.py).  None assumes a GPU-less CI box.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKES = str(ROOT / "tests" / "fakes" / "inject")
HOST = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tfmatrix.run.execution import host
from tfmatrix.worker import probe
try:
    import torch
    load = torch.cuda.is_available()
except ImportError:
    try:
        import jax
        load = any(d.platform == "gpu" for d in jax.devices())
    except ImportError:
        load = False
print(json.dumps({"nvml": probe.collect_nvml(), "gpus": len(host.visible_gpus()), "load": load}))
"""


def environment(env_extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    return env


def host_seen(env_extra: dict[str, str]) -> dict:
    """What NVML answers on this host, read by the ``python3`` the check runs under, with its environment."""
    out = subprocess.run(["python3", "-c", HOST, str(ROOT / "src")], env=environment(env_extra), capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def run(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "tools" / "gpu-check.sh"), "--seconds", "0.2"],
                          env=environment(env_extra), capture_output=True, text=True, timeout=300)


def checks(out: str) -> dict[str, str]:
    return {line.split(":")[0][len("CHECK "):]: line.split(": ", 1)[1] for line in out.splitlines()
            if line.startswith("CHECK ")}


def expect_what_the_host_has(env_extra: dict[str, str]) -> dict[str, str]:
    seen = host_seen(env_extra)
    proc = run(env_extra)
    got = checks(proc.stdout)
    assert got["fingerprint"].startswith("PASS"), proc.stdout + proc.stderr
    nvml = seen["nvml"]
    if not (nvml["available"] and seen["gpus"]):  # a host without a GPU: it says so, and exits 3
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert got["nvml-reader"].startswith("SKIP no NVIDIA GPU here")
        assert set(got) == {"nvml-reader", "fingerprint"}
        return got
    assert got["nvml-reader"] == (f"PASS driver {nvml['driver_version']}, CUDA driver {nvml['cuda_driver_version']}, "
                                  f"{seen['gpus']} GPU(s)"), proc.stdout
    if not seen["load"]:
        assert got["telemetry-sampler"].startswith("SKIP neither PyTorch nor JAX")
        assert got["loaded-libraries"].startswith("SKIP")
    else:
        assert got["telemetry-sampler"].split()[0] in ("PASS", "FAIL") and got["loaded-libraries"].split()[0] in (
            "PASS", "FAIL")
    assert proc.returncode == (1 if any(v.startswith("FAIL") for v in got.values()) else 0), proc.stdout
    return got


def test_on_this_host_it_says_what_the_host_has():
    expect_what_the_host_has({})


def test_on_a_recorded_gpu_host_the_reader_passes():
    """The recorded NVML answer of a driver 550 H200 host: what a GPU host sees, whatever this host is."""
    got = expect_what_the_host_has({"PYTHONPATH": FAKES})
    assert got["nvml-reader"] == "PASS driver 550.54.15, CUDA driver 12.4, 1 GPU(s)"


def test_a_real_gpu_host_passes_every_check(host_gpus):
    """On a GPU host with PyTorch or JAX (the lent GPU machine), every check must pass; elsewhere, it says why not."""
    seen = host_seen({})
    if not host_gpus or not seen["gpus"]:
        pytest.skip("no NVIDIA GPU on this host: the GPU host's view is tested against the recorded NVML answer")
    if not seen["load"]:
        pytest.skip("this GPU host has neither PyTorch nor JAX with CUDA: no load for the telemetry check")
    got = expect_what_the_host_has({})
    assert all(v.startswith("PASS") for v in got.values()), got
