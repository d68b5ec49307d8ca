"""diagnosis.rules: the compatibility rules pre-flight, the doctor and the report all ask (one home)."""

from __future__ import annotations

import pytest

from tfmatrix.diagnosis import compat, rules


@pytest.mark.parametrize("flags, machine, missing", [
    (["sse4_2"], "x86_64", True), (["avx", "avx2"], "x86_64", False), (["SSE4_2"], "", True),
    ([], "x86_64", False), (None, "x86_64", False),  # not read is not "no AVX"
    (["neon"], "aarch64", False),  # AVX is an x86 instruction set
])
def test_avx(flags, machine, missing):
    assert rules.avx_missing(flags, machine) is missing


@pytest.mark.parametrize("built, have, relation", [
    ("9.3", "9.3.0", "same"), ("9.3", "9.1.0", "older-minor"), ("9.3", "9.28.0", "newer-minor"),
    ("9.3", "8.9.7", "other-major"), ("9", "9.1", "same"), ("9.3", "9", "same"), ("9.3", "?", "unknown"),
    ("12.5.1", "12.1", "older-minor"), ("–", "12.1", "unknown"),
])
def test_relation(built, have, relation):
    assert rules.relation(built, have) == relation


def test_cudnn_needs_its_major_and_at_least_its_minor_the_runtime_only_its_major():
    assert rules.match_cudnn("9.3", "9.1.0").broken and rules.match_cudnn("9.3", "8.9.7").predicts == "cudnn-mismatch"
    assert not rules.match_cudnn("9.3", "9.28.0").broken  # accepted by TensorFlow's own check
    assert not rules.match_cuda_runtime("12.5.1", "12.1").broken  # CUDA 12 minor version compatibility
    assert rules.match_cuda_runtime("12.5.1", "11.8").broken
    assert not rules.match_cudnn("9.3", "not loaded").broken  # no evidence, no verdict


def test_driver_floor():
    old = rules.check_driver("470.57.02", "12.5.1")
    assert old.too_old and old.floor == "525.60.13" and old.predicts == "no-gpu"
    assert old.newest_usable("Linux").cuda_major == 11  # a release whose CUDA this driver still runs
    assert not rules.check_driver("525.60.13", "12.5.1").too_old
    assert rules.check_driver("latest", "12.5.1") is None and rules.check_driver("550", "12.5", "Darwin") is None


def test_numpy_protobuf_and_python():
    tf215, tf218 = compat.build_config("2.15.1"), compat.build_config("2.18.1")
    assert rules.numpy_abi_mismatch(tf215, "2.0.2") and not rules.numpy_abi_mismatch(tf218, "2.0.2")
    assert not rules.numpy_abi_mismatch(tf215, None) and not rules.numpy_abi_mismatch(None, "2.0")
    assert rules.protobuf_outside(tf215, "7.36.2") == "<5.0.0dev" and rules.protobuf_outside(tf215, "4.25.9") is None
    assert rules.python_untested(tf215, "3.12") and not rules.python_untested(tf218, "3.12")


@pytest.mark.parametrize("tf, keras, needs", [
    ("2.16.2", "2.15.0", "Keras 3"),   # Keras 2 pinned under a Keras-3 TensorFlow
    ("2.20.0", "2.15.1", "Keras 3"),
    ("2.15.1", "3.15.1", "Keras 2"),   # Keras 3 under a Keras-2 TensorFlow
    ("2.12.1", "3.0.0", "Keras 2"),
    ("2.16.2", "3.0.5", None), ("2.15.1", "2.15.0", None),
    ("2.15.1", None, None), ("9.99.0", "2.15.0", None),  # nothing pinned, or a release compat.yaml does not know
])
def test_keras_major_mismatch_in_both_directions(tf, keras, needs):
    assert rules.keras_major_mismatch(compat.build_config(tf), keras) == needs
