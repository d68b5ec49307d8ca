"""FAKE ``pynvml`` module: put this folder first on a child's PYTHONPATH to give it the explicit NVML fake.

The child (a real tfmatrix worker) then imports this instead of nvidia-ml-py and
reads one H200 under load (``fakes.fake_pynvml.H200_UNDER_LOAD``), or, with
``TFMATRIX_FAKE_GPUS="NAME=BYTES,..."``, a box of those GPUs.  Tests only.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from fakes.fake_pynvml import (  # noqa: E402,F401
    NVML_CLOCK_MEM,
    NVML_CLOCK_SM,
    NVML_TEMPERATURE_GPU,
    NVMLError,
    TelemetryNvml,
    box_from_env,
)

_FAKE = box_from_env(os.environ["TFMATRIX_FAKE_GPUS"]) if os.environ.get("TFMATRIX_FAKE_GPUS") else \
    TelemetryNvml(["NVIDIA H200"])


def __getattr__(name: str):
    return getattr(_FAKE, name)
