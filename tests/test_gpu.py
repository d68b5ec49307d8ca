from __future__ import annotations

import pytest
from fakes.fake_pynvml import FakeNvml, NVMLError_LibraryNotFound

from tfmatrix.run.execution import host as gpu


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(gpu.ASSUME_GPU_ENV, raising=False)


def test_nvml_answers_are_used(tmp_path):
    fake = FakeNvml(["NVIDIA GeForce RTX 2080", "NVIDIA H200"], names_as_bytes=True)
    found = gpu.visible_gpus(nvml=fake, proc_root=str(tmp_path / "none"))
    assert [(g.index, g.name, g.source) for g in found] == [
        (0, "NVIDIA GeForce RTX 2080", "nvml"), (1, "NVIDIA H200", "nvml")]
    assert fake.calls == ["init", "shutdown"]


def test_no_driver_falls_back_to_procfs(tmp_path):
    proc = tmp_path / "gpus"
    (proc / "0000:01:00.0").mkdir(parents=True)
    fake = FakeNvml(init_error=NVMLError_LibraryNotFound("NVML Shared Library Not Found"))
    found = gpu.visible_gpus(nvml=fake, proc_root=str(proc))
    assert [(g.name, g.source) for g in found] == [("0000:01:00.0", "procfs")]


def test_nothing_visible_gives_a_reason_and_an_override(tmp_path):
    fake = FakeNvml(init_error=NVMLError_LibraryNotFound("no lib"))
    found = gpu.visible_gpus(nvml=fake, proc_root=str(tmp_path / "none"))
    assert found == []
    reason = gpu.gpu_skip_reason(assume_gpu=False, gpus=found)
    assert reason and "no NVIDIA GPU visible" in reason and "--assume-gpu" in reason
    assert gpu.gpu_skip_reason(assume_gpu=True, gpus=found) is None


def test_env_override(monkeypatch):
    monkeypatch.setenv(gpu.ASSUME_GPU_ENV, "1")
    assert gpu.gpu_skip_reason(assume_gpu=False, gpus=[]) is None


def test_cuda_visible_devices_empty_hides_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu.visible_gpus(nvml=FakeNvml(["NVIDIA H200"])) == []


def test_driver_version_from_nvml_or_the_kernel_module_file(tmp_path):
    assert gpu.driver_version(nvml=FakeNvml(["NVIDIA H200"], names_as_bytes=True)) == "550.54.15"
    f = tmp_path / "version"
    # the first line of /proc/driver/nvidia/version as a 470-series driver writes it
    f.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.57.02  Tue Jul 13 16:14:05 UTC 2021\n"
                 "GCC version:  gcc version 9.3.0 (Ubuntu 9.3.0-17ubuntu1~20.04)\n")
    no_driver = FakeNvml(init_error=NVMLError_LibraryNotFound("no lib"))
    assert gpu.driver_version(nvml=no_driver, proc_file=str(f)) == "470.57.02"
    assert gpu.driver_version(nvml=no_driver, proc_file=str(tmp_path / "absent")) is None
