"""compat.yaml and its queries: the data against its sources, and the version arithmetic."""

from __future__ import annotations

import dataclasses

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tfmatrix.diagnosis import compat
from tfmatrix.errors import TfmatrixError

# tensorflow.org "Tested build configurations", Linux GPU (tensorflow/docs site/en/install/source.md):
# version -> (Python range, compiler, CUDA, cuDNN)
TESTED = {
    "2.10": ("3.7-3.10", "GCC 9.3.1", "11.2", "8.1"),
    "2.11": ("3.7-3.10", "GCC 9.3.1", "11.2", "8.1"),
    "2.12": ("3.8-3.11", "GCC 9.3.1", "11.8", "8.6"),
    "2.13": ("3.8-3.11", "Clang 16.0.0", "11.8", "8.6"),
    "2.14": ("3.9-3.11", "Clang 16.0.0", "11.8", "8.7"),
    "2.15": ("3.9-3.11", "Clang 16.0.0", "12.2", "8.9"),
    "2.16": ("3.9-3.12", "Clang 17.0.6", "12.3", "8.9"),
    "2.17": ("3.9-3.12", "Clang 17.0.6", "12.3", "8.9"),
    "2.18": ("3.9-3.12", "Clang 17.0.6", "12.5", "9.3"),
    "2.19": ("3.9-3.12", "Clang 18.1.8", "12.5", "9.3"),
    "2.20": ("3.9-3.13", "Clang 18.1.8", "12.5", "9.3"),
}


def test_every_release_from_2_10_to_2_20_is_described() -> None:
    assert compat.known_tf_minors() == tuple(TESTED)


@pytest.mark.parametrize("minor", sorted(TESTED, key=Version))
def test_build_config_matches_tensorflow_org(minor: str) -> None:
    b = compat.build_config(minor)
    assert b is not None
    assert (b.python_range, b.compiler, b.cuda, b.cudnn) == TESTED[minor]


def test_build_config_matches_by_major_minor() -> None:
    assert compat.build_config("2.18.1") == compat.build_config("2.18") == compat.build_config("2.18.0rc1")
    assert compat.build_config("2.18.1").tf == "2.18"
    assert compat.build_config("2.21.0") is None
    assert compat.build_config("1.15.5") is None


def test_build_config_refuses_a_non_version() -> None:
    with pytest.raises(TfmatrixError) as err:
        compat.build_config("latest")
    assert "latest" in str(err.value) and "\n" not in str(err.value)


def test_2_10_is_the_last_native_windows_gpu_build() -> None:
    win = compat.build_config("2.10.1").windows_gpu
    assert win is not None
    assert (win.cuda, win.cudnn, win.python, win.compiler) == ("11.2", "8.1", "3.7-3.10", "MSVC 2019")
    assert all(compat.build_config(m).windows_gpu is None for m in TESTED if m != "2.10")


def test_exact_build_versions_where_known() -> None:
    assert compat.build_config("2.20.0").cuda_exact == "12.5.1"
    assert compat.build_config("2.18.0").cudnn_build == "9.3.0"
    assert compat.build_config("2.15.1").cuda_exact == "12.2"
    assert compat.build_config("2.13.1").cuda_exact == "11.8"  # no exact version recorded: major.minor


def test_python_ranges() -> None:
    assert compat.build_config("2.15").supports_python("3.11")
    assert not compat.build_config("2.15").supports_python("3.12")
    assert compat.build_config("2.20").supports_python("3.13.1")
    assert not compat.build_config("2.20").supports_python("3.8")
    assert compat.tf_for_python("3.13") == ("2.20",)
    assert compat.tf_for_python("3.7") == ("2.10", "2.11")


def test_numpy_abi_switches_at_2_18() -> None:
    assert [compat.build_config(m).numpy_abi for m in TESTED] == [1] * 8 + [2] * 3


def test_protobuf_requirements_are_the_wheels_own() -> None:
    spec = SpecifierSet(compat.build_config("2.15").protobuf_requirement)
    assert spec.contains("4.25.9") and not spec.contains("5.29.6")
    assert not SpecifierSet(compat.build_config("2.16").protobuf_requirement).contains("5.29.6")
    assert SpecifierSet(compat.build_config("2.18").protobuf_requirement).contains("5.29.6")
    assert SpecifierSet(compat.build_config("2.20").protobuf_requirement).contains("7.36.2")


def test_compute_capabilities_recorded() -> None:
    assert compat.build_config("2.20").min_compute_capability == "6.0"
    assert compat.build_config("2.15").min_compute_capability == "5.0"
    assert compat.build_config("2.18").min_compute_capability is None  # not recorded
    assert compat.tf_for_compute_capability("5.0") == ("2.10", "2.15")
    assert compat.tf_for_compute_capability("7.5") == ("2.10", "2.15", "2.20")


# --------------------------------------------------------------------------- and-cuda


def test_no_and_cuda_extra_before_2_14() -> None:
    for minor in ("2.10", "2.11", "2.12", "2.13"):
        assert compat.and_cuda_pins(minor) == {}
    assert compat.and_cuda_pins("2.21.0") == {}


def test_and_cuda_pins_per_release() -> None:
    assert compat.and_cuda_pins("2.14.1")["nvidia-cudnn-cu11"] == "==8.7.0.84"
    assert compat.and_cuda_pins("2.15.1")["nvidia-cudnn-cu12"] == "==8.9.4.25"
    assert compat.and_cuda_pins("2.16.2")["nvidia-cudnn-cu12"] == "==8.9.7.29"
    assert compat.and_cuda_pins("2.17.1") == compat.and_cuda_pins("2.16.1")
    assert compat.and_cuda_pins("2.18.0")["nvidia-cudnn-cu12"] == "==9.3.0.75"
    assert compat.and_cuda_pins("2.18.0")["nvidia-nccl-cu12"] == "==2.21.5"
    assert compat.and_cuda_pins("2.19.1")["nvidia-nccl-cu12"] == "==2.23.4"


def test_tensorrt_pins_only_in_2_15_0() -> None:
    assert compat.and_cuda_pins("2.15.0")["tensorrt"] == "==8.6.1.post1"
    assert "tensorrt" not in compat.and_cuda_pins("2.15.1")
    assert compat.and_cuda_pins("2.14.0")["tensorrt"] == "==8.5.3.1"


@pytest.mark.parametrize("minor", ["2.14", "2.15", "2.16", "2.17", "2.18", "2.19"])
def test_pinned_wheels_agree_with_the_tested_configuration(minor: str) -> None:
    b, pins = compat.build_config(minor), compat.and_cuda_pins(minor)
    assert all(spec.startswith("==") for spec in pins.values())
    cudnn = pins[f"nvidia-cudnn-cu{b.cuda_major}"][2:]
    runtime = pins[f"nvidia-cuda-runtime-cu{b.cuda_major}"][2:]
    assert compat.major_minor(compat.cudnn_of_wheel(cudnn)) == b.cudnn
    assert compat.major_minor(runtime) == b.cuda


def test_2_20_gives_ranges_and_what_they_resolve_to_today() -> None:
    pins = compat.and_cuda_pins("2.20.0")
    assert pins["nvidia-cudnn-cu12"] == ">=9.3.0.75,<10.0"
    assert pins["nvidia-cuda-runtime-cu12"] == ">=12.5.82,<13.0"
    assert all(s.startswith(">=") and ",<" in s for s in pins.values())
    today = compat.and_cuda_resolved_today("2.20.0")
    assert set(today) == set(pins)
    assert today["nvidia-cudnn-cu12"] == "9.28.0.42" and today["nvidia-cuda-runtime-cu12"] == "12.9.79"
    assert all(SpecifierSet(pins[n]).contains(v) for n, v in today.items())
    assert compat.and_cuda("2.20").resolved_on == "2026-11-29"
    assert compat.and_cuda_resolved_today("2.18.0") == {}


# --------------------------------------------------------------------------- drivers


@pytest.mark.parametrize("cuda, system, floor", [
    ("12.5.1", "Linux", "525.60.13"),
    ("12.2", "linux", "525.60.13"),
    ("11.2", "Linux", "450.80.02"),
    ("11.8", "Windows", "452.39"),
    ("64_112", "Windows", "452.39"),
    ("13.0", "Linux", "580"),
    ("10.1", "Linux", "418.39"),
    ("10.2", "Windows", "441.22"),
    ("9.0", "Linux", None),
    ("12.5", "Darwin", None),
])
def test_driver_floor(cuda: str, system: str, floor: str | None) -> None:
    assert compat.driver_floor(cuda, system) == floor


@pytest.mark.parametrize("driver, cuda, ok", [
    ("525.60.13", "12.5.1", True),
    ("525.60.12", "12.5.1", False),
    ("525.105.17", "12.0", True),      # numeric, not text: "105" > "60"
    ("470.57.02", "12.2", False),
    ("470.57.02", "11.8", True),
    ("1000.1", "12.5", True),          # numeric, not text: "1000" > "525"
    ("580", "13.0", True),
    ("579.99", "13.0", False),
    ("580.65.06", "13.0", True),
])
def test_driver_ok_compares_numerically(driver: str, cuda: str, ok: bool) -> None:
    assert compat.driver_ok(driver, cuda) is ok


def test_driver_ok_without_a_floor_is_a_user_error() -> None:
    with pytest.raises(TfmatrixError, match="no known NVIDIA driver floor for CUDA 9.0"):
        compat.driver_ok("550.54.15", "9.0")
    with pytest.raises(TfmatrixError, match="not a dotted numeric version"):
        compat.driver_ok("550.x", "12.5")


# --------------------------------------------------------------------------- helpers


def test_version_helpers() -> None:
    assert compat.dotted("525.60.13") == (525, 60, 13)
    assert compat.compare_dotted("580", "580.0.0") == 0
    assert compat.compare_dotted("9.10", "9.9") == 1
    assert compat.tf_minor("2.20.0") == "2.20"
    assert compat.cudnn_of_wheel("8.9.7.29") == "8.9.7"
    assert compat.wheel_cuda_major("nvidia-cudnn-cu12") == 12
    assert compat.wheel_cuda_major("nvidia-ml-py") is None
    assert compat.cudnn_wheel_names()["nvidia-cudnn-cu11"] == 11


@pytest.mark.parametrize("raw, cuda", [("64_112", "11.2"), ("64_101", "10.1"), ("12.5.1", "12.5.1"),
                                       ("12.2", "12.2"), ("cuda", None), (None, None), ("64_", None)])
def test_normalize_cuda_version(raw: str | None, cuda: str | None) -> None:
    assert compat.normalize_cuda_version(raw) == cuda


def test_normalize_cudnn_version() -> None:
    assert compat.normalize_cudnn_version("64_8") == "8"
    assert compat.normalize_cudnn_version("9") == "9"
    assert compat.normalize_cudnn_version("") is None


def test_compute_capability_parsing() -> None:
    caps = compat.parse_compute_capabilities("['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']")
    assert caps == ("sm_60", "sm_70", "sm_80", "sm_89", "compute_90")
    assert compat.parse_compute_capabilities(["sm_35", "compute_80"]) == ("sm_35", "compute_80")
    assert compat.lowest_compute_capability(caps) == "6.0"
    assert compat.parse_compute_capability("compute_90") == "9.0"
    assert compat.parse_compute_capability("sm_100") == "10.0"
    assert compat.parse_compute_capability("sm_90a") == "9.0"
    assert compat.lowest_compute_capability(()) is None


def test_data_is_loaded_once_and_frozen() -> None:
    assert compat.load_compat() is compat.load_compat()
    b = compat.build_config("2.18")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.cuda = "11.8"  # type: ignore[misc]


def test_broken_data_is_one_line_error() -> None:
    with pytest.raises(TfmatrixError) as err:
        compat.parse_compat({"tensorflow": {"2.99": {"python": "3.9-3.12"}}, "driver_floors": {}, "cudnn_wheels": {}})
    assert "compat data does not parse" in str(err.value) and "\n" not in str(err.value)


def test_cuda_wheels_are_the_nvidia_wheels_built_for_a_cuda_major() -> None:
    installed = {"nvidia-cudnn-cu12": "9.3.0.75", "nvidia-ml-py": "13.615.71", "numpy": "2.0.2",
                 "nvidia-cuda-runtime-cu11": "11.8.89"}
    assert compat.cuda_wheels(installed) == {"nvidia-cudnn-cu12": "9.3.0.75", "nvidia-cuda-runtime-cu11": "11.8.89"}
