"""GPU check for a lent GPU machine: tfmatrix's GPU-side readers against a real GPU, without TensorFlow.

The lent machine has no network and no TensorFlow, but has nvidia-ml-py and
PyTorch (or JAX).  This checks, for real, what can be checked there:

1. the NVML reader (``probe.collect_nvml``, ``host.visible_gpus``, ``host.driver_version``);
2. the telemetry sampler (``telemetry.Sampler``) beside a PyTorch (or JAX) matmul loop:
   utilization and memory must rise above idle, clocks and power must be read;
3. the loaded-library reader (``probe.collect_loaded_libraries``) in a process that
   really initialised CUDA and cuDNN (a convolution);
4. the host fingerprint (``host.host_fingerprint``).

Each check prints one ``CHECK <name>: PASS|FAIL|SKIP <why>`` line (details as
JSON below it).  Exit status: 0 all passed, 1 a check failed, 3 no NVIDIA GPU here.
Usage: ``bash tools/gpu-check.sh [--seconds 5] [--gpu 0]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from tfmatrix.run.execution import host  # noqa: E402
from tfmatrix.worker import probe, telemetry  # noqa: E402

RESULTS: list[tuple[str, str]] = []


def report(name: str, verdict: str, why: str, details: Any = None) -> None:
    RESULTS.append((name, verdict))
    print(f"CHECK {name}: {verdict} {why}", flush=True)
    if details is not None:
        print(json.dumps(details, indent=1, default=str)[:6000], flush=True)


def matmul_load(index: int, seconds: float) -> Callable[[], str] | None:
    """A function that keeps GPU ``index`` busy for ``seconds`` (PyTorch, else JAX); None if neither is here."""
    try:
        import torch

        if torch.cuda.is_available():
            def run_torch() -> str:
                dev = torch.device(f"cuda:{index}")
                a = torch.randn(8192, 8192, device=dev)
                b = torch.randn(8192, 8192, device=dev)
                x = torch.randn(16, 64, 224, 224, device=dev)
                conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(dev)  # cuDNN, for the library check
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    (a @ b).sum().item()
                    conv(x).sum().item()
                return f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
            return run_torch
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        if any(d.platform == "gpu" for d in jax.devices()):
            def run_jax() -> str:
                dev = [d for d in jax.devices() if d.platform == "gpu"][index]
                a = jax.device_put(jnp.ones((8192, 8192)), dev)
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    (a @ a).block_until_ready()
                return f"jax {jax.__version__}"
            return run_jax
    except ImportError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/gpu-check.sh")
    p.add_argument("--seconds", type=float, default=5.0, help="how long the matmul load runs")
    p.add_argument("--gpu", type=int, default=0)
    args = p.parse_args(argv)

    nvml = probe.collect_nvml()
    gpus = host.visible_gpus()
    details = {"nvml": nvml, "visible_gpus": [g.__dict__ for g in gpus], "driver_version": host.driver_version()}
    if not nvml.get("available") or not gpus:
        report("nvml-reader", "SKIP", f"no NVIDIA GPU here: {nvml.get('reason', 'NVML sees no GPU')}", details)
        report("fingerprint", "PASS", "(collected without a GPU)", host.host_fingerprint())
        return 3
    ok = bool(nvml["driver_version"]) and len(nvml["gpus"]) == len(gpus)
    report("nvml-reader", "PASS" if ok else "FAIL",
           f"driver {nvml['driver_version']}, CUDA driver {nvml['cuda_driver_version']}, {len(gpus)} GPU(s)", details)

    load = matmul_load(args.gpu, args.seconds)
    if load is None:
        report("telemetry-sampler", "SKIP", "neither PyTorch nor JAX with CUDA is installed: no load to watch")
        report("loaded-libraries", "SKIP", "no CUDA process to inspect")
    else:
        with telemetry.Sampler([args.gpu], period=0.05) as sampler:
            idle = time.monotonic()
            time.sleep(0.5)  # idle baseline first
            what = load()
            busy = time.monotonic() - idle
        result = sampler.result()
        summary = (result.get("gpus") or {}).get(str(args.gpu), {}).get("summary", {})
        series = (result.get("gpus") or {}).get(str(args.gpu), {}).get("series", {})
        util, mem = summary.get("utilization_pct") or {}, summary.get("memory_used_bytes") or {}
        first_mem = next((m for m in series.get("memory_used_bytes", []) if m is not None), None)
        expected = summary.get("samples", 0) >= 0.5 * busy / 0.05
        ok = bool(result.get("available") and expected and util.get("peak", 0) >= 50
              and first_mem is not None and mem.get("peak", 0) > first_mem
              and summary.get("sm_clock_mhz") and summary.get("power_w") is not None)
        report("telemetry-sampler", "PASS" if ok else "FAIL",
               f"{summary.get('samples')} samples in {busy:.1f} s under {what}; util peak {util.get('peak')} %, "
               f"memory {first_mem} -> {mem.get('peak')} B, throttle reasons {summary.get('throttle_reasons')}",
               {"summary": summary})
        libs = probe.collect_loaded_libraries()
        names = {lib["name"] for lib in libs}
        ok = any(n.startswith("libcudart") or n.startswith("libcuda") for n in names)
        report("loaded-libraries", "PASS" if ok else "FAIL",
               f"{len(libs)} CUDA-family libraries loaded in this process", libs)
    report("fingerprint", "PASS", "", host.host_fingerprint())
    return 1 if any(v == "FAIL" for _, v in RESULTS) else 0


if __name__ == "__main__":
    sys.exit(main())
