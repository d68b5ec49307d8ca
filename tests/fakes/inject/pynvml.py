"""FAKE ``pynvml`` module: put this folder first on a child's PYTHONPATH to give it the explicit NVML fake.

The child (a real tfmatrix worker) then imports this instead of nvidia-ml-py and
reads one H200 under load (``fakes.fake_pynvml.H200_UNDER_LOAD``).  Tests only.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from fakes.fake_pynvml import NVML_CLOCK_MEM, NVML_CLOCK_SM, NVML_TEMPERATURE_GPU, NVMLError, TelemetryNvml  # noqa: E402,F401

_FAKE = TelemetryNvml(["NVIDIA H200"])


def __getattr__(name: str):
    return getattr(_FAKE, name)
