"""telemetry: the NVML sampler against the explicit fake (tests/fakes/fake_pynvml.py); summaries asserted."""

from __future__ import annotations

import time

import pytest
from fakes.fake_pynvml import H200_UNDER_LOAD, FakeNvml, NVMLError_LibraryNotFound, TelemetryNvml

from tfmatrix.worker import telemetry


def test_sampler_keeps_raw_series_and_summarizes_peak_and_mean():
    fake = TelemetryNvml(["NVIDIA H200"])
    with telemetry.Sampler([0], period=0.01, nvml=fake) as s:
        time.sleep(0.1)
    out = s.result()
    assert out["available"] and out["period_s"] == 0.01
    gpu = out["gpus"]["0"]
    series, summary = gpu["series"], gpu["summary"]
    n = len(series["t"])
    assert n >= 5 and summary["samples"] == n and series["t"] == sorted(series["t"])
    assert summary["memory_used_bytes"]["peak"] == 48_500_000_000
    assert summary["power_w"]["peak"] == 700.0
    assert summary["sm_clock_mhz"]["peak"] == 1980 and summary["temperature_c"]["peak"] == 63
    util = series["utilization_pct"]
    assert summary["utilization_pct"]["mean"] == pytest.approx(sum(util) / n)
    assert summary["throttle_reasons"] == ["gpu-idle", "sw-power-cap"]
    assert summary["throttled"] is True  # the power cap slowed the clocks mid-measurement
    assert fake.calls[0] == "init" and fake.calls[-1] == "shutdown"


def test_idle_is_not_throttling():
    fake = TelemetryNvml(["NVIDIA H200"], script=H200_UNDER_LOAD[:2])
    with telemetry.Sampler([0], period=0.01, nvml=fake) as s:
        time.sleep(0.03)
    summary = s.result()["gpus"]["0"]["summary"]
    assert summary["throttle_reasons"] == ["gpu-idle"] and summary["throttled"] is False


def test_fields_a_board_does_not_support_are_none_not_errors():
    fake = TelemetryNvml(["Tesla T4"], unsupported=("power_mw", "temp"))
    with telemetry.Sampler([0], period=0.01, nvml=fake) as s:
        time.sleep(0.03)
    summary = s.result()["gpus"]["0"]["summary"]
    assert summary["power_w"] is None and summary["temperature_c"] is None
    assert summary["memory_used_bytes"]["peak"] > 0


def test_without_nvml_the_phase_says_why():
    with telemetry.Sampler([0], nvml=FakeNvml(init_error=NVMLError_LibraryNotFound("NVML Shared Library Not Found"))) as s:
        pass
    assert s.result() == {"available": False, "reason": "NVMLError_LibraryNotFound: NVML Shared Library Not Found",
                          "period_s": telemetry.DEFAULT_PERIOD}


def test_throttle_reason_bits():
    assert telemetry.throttle_reasons(0x4 | 0x40) == ["sw-power-cap", "hw-thermal-slowdown"]
    assert telemetry.throttle_reasons(0) == []
