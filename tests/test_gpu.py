from __future__ import annotations

import pytest

from tfmatrix import gpu
from fakes.fake_pynvml import FakeNvml, NVMLError_LibraryNotFound


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
