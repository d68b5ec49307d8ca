"""Placement (issue 7): hardware needs in matrix.yaml, the one predicate that checks a
machine against them, Ray's resource requests, and a bench session on a machine that
cannot satisfy them (a FAKE NVML box: the only stand-in for GPUs here)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fakes.fake_pynvml import A100_40GB, H100_80GB, L4_24GB, GpuBoxNvml
from fakes.fake_session import FakeSession, Skipped
from matrices import BASE, matrix_with

from tfmatrix.errors import MatrixError
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.matrix.model import Hardware
from tfmatrix.records.model import CombinationInfo
from tfmatrix.records.status import Status
from tfmatrix.records.store import RunDir, new_run_id
from tfmatrix.run.execution import host, placement
from tfmatrix.run.execution.host import GpuInfo
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.invocation import run_combination
from tfmatrix.run.noxside.options import parse as parse_options
from tfmatrix.run.provisioning import locks

H100 = GpuInfo(0, H100_80GB[0], "nvml", H100_80GB[1], "GPU-a")
A100 = GpuInfo(1, A100_40GB[0], "nvml", A100_40GB[1], "GPU-b")
L4 = GpuInfo(2, L4_24GB[0], "nvml", L4_24GB[1], "GPU-c")


@pytest.mark.parametrize("gpu_type,name,expected", [
    ("H100", "NVIDIA H100 80GB HBM3", True), ("h100", "NVIDIA H100 PCIe", True),
    ("A100", "NVIDIA A100-SXM4-40GB", True), ("H100", "NVIDIA GH100", False),
    ("A10", "NVIDIA A100-SXM4-40GB", False), ("A10", "NVIDIA A10", True),
    ("RTX-2080", "NVIDIA GeForce RTX-2080", True), ("L4", "NVIDIA L40S", False),
])
def test_gpu_type_matches_whole_words_of_the_nvml_name(gpu_type, name, expected):
    assert placement.type_matches(gpu_type, name) is expected


def test_memory_floor_is_compared_with_nvmls_total():
    assert placement.matching(Hardware(min_gpu_memory_gib=40), [H100, A100, L4], "550.54.15") == [H100, A100]
    # an "80 GB" H100 reports 79.6 GiB: asking for 80 leaves it out, and the reason says what it has
    reason = placement.unmet(Hardware(min_gpu_memory_gib=80), [H100], "550.54.15")
    assert reason.startswith("no matching hardware: needs a GPU with at least 80 GiB")
    assert "79.6 GiB < 80 GiB" in reason


def test_driver_floor():
    hw = Hardware(gpu_type="H100", min_driver="555")
    assert placement.matching(hw, [H100], "550.54.15") == []
    assert "driver 550.54.15 < 555" in placement.unmet(hw, [H100], "550.54.15")
    assert placement.matching(hw, [H100, A100], "560.28.03") == [H100]
    assert "driver version is unknown" in placement.unmet(hw, [H100], None)


def test_no_needs_or_no_gpu_is_not_a_placement_question():
    assert placement.unmet(None, [L4], None) == ""
    assert placement.unmet(Hardware(gpu_type="H100"), [], None) == ""  # "no GPU" is gpu_skip_reason's line
    assert placement.matching(None, [H100, L4], None) == [H100, L4]


def test_ray_requests_and_which_nodes_could_take_them():
    m = matrix_with(stack_hw={"gpu_type": "H100"})
    combos = {c.id: c for c in combinations(m)}
    gpu_req = placement.ray_request(combos["tf2.20-cuda-pip"])
    assert gpu_req == {"num_cpus": 1, "num_gpus": 1, "resources": {"accelerator_type:H100": 0.001}}
    assert placement.ray_request(combos["tf2.20-cpu"], whole_node_cpus=16) == {"num_cpus": 16}  # alone on a node
    assert placement.node_satisfies({"num_cpus": 16}, {"CPU": 16.0}) and not placement.node_satisfies(
        {"num_cpus": 16}, {"CPU": 8.0, "GPU": 1.0})
    h100_node = {"CPU": 8.0, "GPU": 4.0, "accelerator_type:H100": 1.0}
    a100_node = {"CPU": 8.0, "GPU": 4.0, "accelerator_type:A100": 1.0}
    assert placement.node_satisfies(gpu_req, h100_node)
    assert not placement.node_satisfies(gpu_req, a100_node)
    assert not placement.node_satisfies(gpu_req, {"CPU": 8.0, "accelerator_type:H100": 1.0})  # no GPU left
    assert placement.describe_request(gpu_req) == "1 GPU + accelerator_type:H100"


# --------------------------------------------------------------------------- matrix.yaml


def test_needs_merge_profile_then_stack_then_tensorflow_and_apply_to_gpu_stacks_only():
    m = matrix_with(profile_hw={"min_driver": "535", "min_gpu_memory_gib": 16}, stack_hw={"gpu_type": "A100"},
                    tf_hw={"gpu_type": "H100", "min_gpu_memory_gib": 70})
    combos = {c.id: c for c in combinations(m)}
    assert combos["tf2.20-cuda-pip"].hardware == Hardware("H100", 70.0, "535")
    assert combos["tf2.15-cuda-pip"].hardware == Hardware("A100", 16.0, "535")
    assert combos["tf2.15-cuda-system"].hardware == Hardware(None, 16.0, "535")
    assert combos["tf2.20-cpu"].hardware is None
    assert "gpu-h100" in combos["tf2.20-cuda-pip"].tags  # a runner label for CI job matrices
    assert CombinationInfo.of(combos["tf2.20-cuda-pip"]).to_json()["hardware"] == {
        "gpu_type": "H100", "min_gpu_memory_gib": 70.0, "min_driver": "535"}
    assert "hardware" not in CombinationInfo.of(combos["tf2.20-cpu"]).to_json()


@pytest.mark.parametrize("where,hw,key,expected", [
    ("stack", {"gpu_type": "H100; rm -rf ~"}, "stacks[1].hardware.gpu_type", "a GPU model"),
    ("stack", {"min_gpu_memory_gib": -1}, "stacks[1].hardware.min_gpu_memory_gib", "a finite number"),
    ("stack", {"min_driver": "latest"}, "stacks[1].hardware.min_driver", "an NVIDIA driver version"),
    ("stack", {"gpus": 2}, "stacks[1].hardware.gpus", "no such key"),
    ("stack", {}, "stacks[1].hardware", "at least one of"),
    ("tf", {"gpu_type": ["H100"]}, "tensorflow[1].hardware.gpu_type", "a GPU model"),
    ("profile", {"min_driver": True}, "profiles.default.hardware.min_driver", "an NVIDIA driver version"),
])
def test_bad_hardware_is_one_line_naming_file_and_key(where, hw, key, expected):
    with pytest.raises(MatrixError) as err:
        matrix_with(**{f"{where}_hw": hw})
    line = err.value.one_line()
    assert line.startswith(f"m.yaml: {key}:") and expected in line and "\n" not in line


def test_a_cpu_stack_cannot_name_a_gpu():
    data = copy.deepcopy(BASE)
    data["stacks"][0]["hardware"] = {"gpu_type": "H100"}
    with pytest.raises(MatrixError, match=r"stacks\[0\]\.hardware"):
        parse_matrix(data, "m.yaml")


# --------------------------------------------------------------------------- a bench session on a FAKE box


@pytest.fixture
def box(monkeypatch, tmp_path):
    nvml = GpuBoxNvml([L4_24GB, A100_40GB], driver="550.54.15")
    monkeypatch.setattr(host, "_import_nvml", lambda: nvml)
    monkeypatch.setattr(locks, "GPU_LOCK", tmp_path / "locks" / "tfmatrix-gpu.lock")
    (tmp_path / "venv").mkdir()
    return nvml


def bench_context(tmp_path: Path, stack_hw: dict) -> Context:
    return Context(root=Path(__file__).resolve().parents[1], matrix=matrix_with(stack_hw=stack_hw),
                   profile="default", run_id=new_run_id(), results_root=tmp_path / "results")


@pytest.mark.parametrize("posargs,hw,reason", [
    ([], {"gpu_type": "H100"}, "needs a H100 GPU; here GPU 0 is 'NVIDIA L4', not H100; GPU 1 is "
                               "'NVIDIA A100-SXM4-40GB', not H100"),
    (["--gpu", "0"], {"gpu_type": "A100"}, "needs a A100 GPU; here GPU 0 is 'NVIDIA L4', not A100"),
    ([], {"min_driver": "555.42"}, "needs a GPU on driver >= 555.42; here driver 550.54.15 < 555.42"),
])
def test_a_session_without_matching_hardware_records_skipped_and_runs_nothing(box, tmp_path, posargs, hw, reason):
    ctx = bench_context(tmp_path, hw)
    session = FakeSession(tmp_path / "venv", posargs)
    with pytest.raises(Skipped):
        run_combination(session, ctx, ctx.combination("tf2.20-cuda-pip"), parse_options(posargs))
    record = RunDir(ctx.results_root, ctx.run_id).existing_record("tf2.20-cuda-pip")
    assert record.status == Status.SKIPPED and record.install is None and record.phases == []
    assert record.reason == f"no matching hardware: {reason}"
    assert record.combination.hardware["gpu_type"] == hw.get("gpu_type")
    assert record.host["platform"] and record.placement.executor == "local"


def test_lease_paths_are_per_gpu_uuid_and_follow_cuda_visible_devices(box, monkeypatch, tmp_path):
    gpus = host.visible_gpus()
    assert [g.memory_bytes for g in gpus] == [L4_24GB[1], A100_40GB[1]] and gpus[1].uuid.startswith("GPU-fake")
    one = locks.lease_paths(1, gpus, tmp_path)
    assert one == [tmp_path / "tfmatrix-gpu-GPU-fake0001-0000-0000-0000-000000000000.lock"]
    assert len(locks.lease_paths(None, gpus, tmp_path)) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake0001")  # what a batch scheduler hands a job
    assert locks.lease_paths(None, gpus, tmp_path) == one
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert locks.lease_paths(None, gpus, tmp_path) == one
    assert locks.lease_paths(None, [], tmp_path) == [tmp_path / "tfmatrix-gpu.lock"]  # --assume-gpu, no GPU
    with locks.gpu_lease(one) as first, locks.gpu_lease(locks.lease_paths(0, gpus, tmp_path)) as other:
        assert first and other  # two GPUs, two runs side by side
        with locks.gpu_lease(locks.lease_paths(None, gpus, tmp_path)) as both:
            assert not both  # wanting both while GPU 1 is held
