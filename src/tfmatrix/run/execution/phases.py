"""What the phases stage needs around the runner: the stack's environment and the guards.

(Where each model's SavedModel comes from, the export cache included, is :mod:`.exports`.)

* A GPU combination whose TensorFlow sees no GPU keeps no timing: its timings
  would be CPU timings filed under a GPU stack (:func:`cpu_fallback`; what the
  first cold start timed before its probe said so is dropped,
  :func:`discard_device_timings`).
* A failed phase is named from its status, its signal and all it printed
  (:func:`classify_phase`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from ...diagnosis import blame
from ...diagnosis.classify import classify_failure, read_log, tensorflow_gpu_lines
from ...matrix.model import Combination
from ...records.model import Failure, PhaseRecord
from ...records.status import PhaseStatus
from . import runner


def classify_phase(phase: PhaseRecord, gpu_stack: bool, facts: blame.Facts | None = None) -> Failure:
    """A failed phase's class, from its status, signal and everything it printed, and the package to blame
    (from ``facts``: the record's pins, forced pins and pip check; without them, from the text alone)."""
    exc = phase.exception or {}
    text = "\n".join([read_log(phase.log) if phase.log else "", exc.get("traceback", ""), exc.get("message", ""),
                      phase.note])
    failure = classify_failure(status=str(phase.status), text=text, signal=phase.signal, ntstatus=phase.ntstatus,
                               gpu_stack=gpu_stack)
    return blame.assign(failure, text, facts or blame.Facts(python="", tensorflow="", pins={}))


def cpu_fallback(combo: Combination, environment: dict[str, Any] | None) -> str:
    """A GPU combination whose TensorFlow sees no GPU must not be timed at all.

    Its timings would be CPU timings filed under a GPU stack; the combination
    is recorded as failed (``no-gpu``) instead.
    """
    if not combo.needs_gpu:
        return ""
    devices = (environment or {}).get("devices") or {}
    physical = devices.get("physical") if isinstance(devices, dict) else None
    if physical is None:
        return "no-gpu: the probe could not list TensorFlow's devices"
    if not any(d.get("type") == "GPU" for d in physical):
        return ("no-gpu: the stack expects a GPU but TensorFlow sees none (a CPU fallback); "
                "no timings are recorded for it")
    return ""


def cpu_fallback_failure(probe: PhaseRecord, why: str) -> Failure:
    """The failure of a GPU stack on the CPU: the probe's log says why (a library that did not load, say)
    before "no-gpu"."""
    log_text = read_log(probe.log)
    failure = classify_failure(status=PhaseStatus.ERROR, text=f"{log_text}\n{why}", gpu_stack=True)
    said = tensorflow_gpu_lines(log_text)
    if said:  # TensorFlow's own words, even the lines that are noise on a CPU stack
        failure = dataclasses.replace(failure, evidence=f"{failure.evidence}; TensorFlow said: {' | '.join(said)}")
    return failure


def discard_device_timings(recorded: list[PhaseRecord], why: str) -> None:
    """The probe (at the end of the first cold start) found a GPU stack running on the CPU: nothing that
    was timed before it is recorded (a GPU stack's import, export and load on a host without its GPU are
    not what they are on the GPU box either)."""
    for i, p in enumerate(recorded):
        if p.phase in ("import", "export", "load", "first-inference", "latency", "fidelity", "throughput",
                       "peakmem") and p.status == PhaseStatus.OK:
            recorded[i] = dataclasses.replace(p, status=PhaseStatus.SKIPPED, samples=[], summary=None,
                                              throughput_ips=None, peak_rss_bytes=None,
                                              note=f"measured on the CPU, not recorded: {why}")


def import_peak(imported: PhaseRecord) -> PhaseRecord:
    """``--import-only``: the peak host RSS of a process that imported TensorFlow, as the ``peakmem`` phase a
    model would have, one sample per cold start, so ``peak-rss`` is compared and bisected like any metric."""
    spec = runner.PhaseSpec("peakmem", "import", "ImportSuite", "timeraw_import_tensorflow")
    return runner.planned(spec, PhaseStatus.OK, unit="bytes", samples=[float(imported.peak_rss_bytes or 0)],
                          peak_rss_bytes=imported.peak_rss_bytes, log=imported.log, processes=imported.processes,
                          note="the peak host RSS of the process that imported TensorFlow (--import-only)")


def stack_env(combo: Combination, gpu: int | None = None, windows: bool | None = None) -> dict[str, str]:
    """The benchmark processes' environment for this stack.

    GPU stacks: devices in PCI bus order (so CUDA's N is NVML's and nvidia-smi's N), only ``gpu`` visible
    when one is chosen, and TensorFlow's memory growth on, so peak GPU memory is what the model used
    rather than the whole card TensorFlow reserves by default.
    """
    if combo.stack.kind == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}  # a cpu combination never touches a GPU
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if combo.stack.kind == "cuda-system" and combo.stack.library_path:
        # the loader's search path: LD_LIBRARY_PATH on Linux, PATH on Windows (where the CUDA DLLs are found)
        windows = os.name == "nt" if windows is None else windows
        var, sep = ("PATH", ";") if windows else ("LD_LIBRARY_PATH", ":")
        current = os.environ.get(var, "")
        env[var] = sep.join([*combo.stack.library_path, *([current] if current else [])])
    return env


def fit_batch(spec: runner.PhaseSpec, inspected: dict[str, Any] | None) -> tuple[runner.PhaseSpec, str]:
    """A signature that fixes its batch (the TF2 Object Detection API's, at 1) is measured at that batch only:
    the phase as it can run, or why it cannot ("")."""
    fixed = ((inspected or {}).get("input") or {}).get("fixed_batch")
    if not fixed or spec.batch is None or spec.batch == fixed:
        return spec, ""
    if spec.phase == "peakmem":  # the peak of the batch it takes
        return dataclasses.replace(spec, batch=fixed, params=(spec.model, fixed)), ""
    name = inspected["input"]["name"] if inspected else "its input"
    return spec, f"the signature fixes the batch at {fixed} ({name}): batch {spec.batch} is not measured"
