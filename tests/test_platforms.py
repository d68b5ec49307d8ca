"""Platforms and TensorFlow's own statements about them (tfmatrix.diagnosis.platforms, compat.yaml)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tfmatrix.diagnosis import platforms
from tfmatrix.diagnosis.compat import COMPAT
from tfmatrix.errors import TfmatrixError


@pytest.fixture(scope="module")
def data() -> platforms.PlatformData:
    return platforms.load()


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(COMPAT.read_text(encoding="utf-8"))


def test_each_platform_is_a_uv_target_with_its_wheel_tag(data):
    assert data.platform("windows").python_platform == "x86_64-pc-windows-msvc"
    assert data.platform("windows").wheel_tag == "win_amd64"
    assert data.platform("macos-arm64").python_platform == "aarch64-apple-darwin"
    assert data.platform("linux").python_platform.startswith("x86_64-manylinux_")
    assert {p.os for p in data.platforms.values()} == {"Linux", "Windows", "macOS"}


def test_an_unknown_platform_is_one_line_naming_the_known_ones(data):
    with pytest.raises(TfmatrixError) as err:
        data.platform("win32")
    msg = str(err.value)
    assert "\n" not in msg and "'win32'" in msg and "windows" in msg and "macos-arm64" in msg


@pytest.mark.parametrize("platform,stack,tf,said", [
    # TensorFlow's install page: 2.10 was the last release with GPU on native Windows (its patches included)
    ("windows", "cuda-pip", "2.15.1", "no GPU on native Windows after TF 2.10 (use WSL2)"),
    ("windows", "cuda-system", "2.11.0", "no GPU on native Windows after TF 2.10 (use WSL2)"),
    ("windows", "cuda-system", "2.10.1", None),
    ("windows", "cuda-pip", "2.10.0", None),
    ("windows", "cpu", "2.20.0", None),
    ("windows", "cuda-pip", "2.23.0.dev20261026", "no GPU on native Windows after TF 2.10 (use WSL2)"),
    # "There is currently no official GPU support for MacOS": every release, both architectures
    ("macos-arm64", "cuda-pip", "2.20.0", "no CUDA GPU on macOS"),
    ("macos-x86_64", "cuda-system", "2.10.1", "no CUDA GPU on macOS"),
    ("macos-arm64", "cpu", "2.20.0", None),
    ("linux", "cuda-pip", "2.20.0", None),
    ("linux-aarch64", "cuda-pip", "2.20.0", None),
])
def test_tensorflows_statements_apply_where_its_install_page_says(data, platform, stack, tf, said):
    found = data.statements(platform, stack, tf)
    assert [s.statement for s in found] == ([said] if said else [])
    for s in found:  # each quotes its source, and says what to do instead
        assert s.source.startswith("[tf-pip]") and s.quote and s.advice


def test_a_version_that_does_not_parse_is_never_said_to_match(data):
    assert data.statements("windows", "cuda-pip", "not-a-version") == []


def test_the_advice_for_a_missing_wheel_is_the_platforms_own(data):
    win = data.advice("tensorflow-text", "windows")
    assert win is not None and win.wheels == "<=2.10.0" and "examples/windows.yaml" in win.advice
    arm = data.advice("tensorflow-text", "macos-arm64")
    assert arm is not None and "2.17" in arm.advice
    assert data.advice("tensorflow-text", "linux") is None
    assert data.advice("nvidia-nccl-cu12", "windows") is None


def test_every_source_tag_a_statement_names_is_defined_in_the_files_header(data):
    header = COMPAT.read_text(encoding="utf-8").split("schema_version:")[0]
    for s in data.rules:
        tag = s.source.split("]")[0] + "]"
        assert f"#   {tag}" in header, s.id


@pytest.mark.parametrize("damage,expect", [
    (lambda d: d["platforms"]["windows"].pop("wheel_tag"), "'wheel_tag'"),
    (lambda d: d["platform_rules"][0].update(tensorflow=">2.10 and more"), "InvalidSpecifier"),
    (lambda d: d["platform_rules"][0].update(platforms=["windows", "amiga"]), "unknown platforms ['amiga']"),
    (lambda d: d.pop("platform_rules"), "'platform_rules'"),
])
def test_a_damaged_compat_file_is_one_line_naming_it(raw, damage, expect):
    broken = copy.deepcopy(raw)
    damage(broken)
    with pytest.raises(TfmatrixError) as err:
        platforms.parse(broken, "compat.yaml")
    msg = str(err.value)
    assert msg.startswith("compat.yaml: platforms do not parse") and expect in msg and "\n" not in msg
