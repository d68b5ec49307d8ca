"""The failure taxonomy against real message text (tests/data/failure_samples.yaml).

Each sample was copied from a public TensorFlow/pip/uv/numpy/protobuf issue
thread or source file (its `source` says where).  Every sample must classify
as its own class, and the noise lines of a GPU-less machine as nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tfmatrix.diagnosis.classify import classify_failure, family_of, find_degraded, load_taxonomy
from tfmatrix.run.execution.exits import describe_exit

SAMPLES = yaml.safe_load((Path(__file__).parent / "data" / "failure_samples.yaml").read_text(encoding="utf-8"))
TAX = load_taxonomy()


def _cases(kind_filter=lambda cls: True):
    for cls, samples in SAMPLES.items():
        if not kind_filter(cls):
            continue
        for i, s in enumerate(samples):
            yield pytest.param(cls, s, id=f"{cls}-{i}")


def _end(sample: dict) -> tuple[str | None, str | None]:
    code = sample.get("exit_code")
    signal = sample.get("signal")
    ntstatus = None
    if code is not None:
        info = describe_exit(code, windows=code < -255 or code > 255)
        ntstatus = info.ntstatus
        signal = signal or info.signal
    return signal, ntstatus


def _status(cls: str, signal: str | None, ntstatus: str | None) -> str:
    if cls == "timeout" or family_of(cls) == "install-failed":
        return "install-failed" if cls != "timeout" else cls
    return "crashed" if (signal or ntstatus) else "error"


NOT_FAILURES = ("degraded", "noise", "noise-cpu-only")


@pytest.mark.parametrize("cls, sample", list(_cases(lambda c: c not in NOT_FAILURES)))
def test_each_real_failure_sample_gets_its_class(cls, sample):
    signal, ntstatus = _end(sample)
    got = classify_failure(status=_status(cls, signal, ntstatus), text=sample["text"], signal=signal,
                           ntstatus=ntstatus, gpu_stack=True)
    assert got.cls == cls, (sample["source"], got.evidence)
    assert got.explanation and got.fix


@pytest.mark.parametrize("cls, sample", list(_cases(lambda c: c not in NOT_FAILURES + ("timeout",))))
def test_no_earlier_rule_claims_another_rules_sample(cls, sample):
    """Rules are ordered; the text of a sample must not be claimed by a rule ranked before its own."""
    own = TAX.classes.index(cls)
    last = TAX.rules[-1]
    for rule in TAX.rules[:own]:
        got = classify_failure(status="error", text=sample["text"], signal=None, ntstatus=None, gpu_stack=True,
                               taxonomy=type(TAX)(rules=(rule, last), noise=TAX.noise))
        assert got.cls != rule.cls, (rule.cls, sample["source"])


@pytest.mark.parametrize("cls, sample", list(_cases(lambda c: c == "degraded")))
def test_degraded_samples_are_found_in_a_successful_run(cls, sample):
    got = find_degraded(sample["text"], gpu_stack=True)
    assert got is not None and got.cls == "degraded", sample["source"]


@pytest.mark.parametrize("cls, sample", list(_cases(lambda c: c == "noise")))
def test_noise_of_a_gpu_less_machine_is_never_evidence(cls, sample):
    assert find_degraded(sample["text"], gpu_stack=True) is None
    got = classify_failure(status="error", text=sample["text"], gpu_stack=True)
    assert got.cls == "python-error", got.evidence


@pytest.mark.parametrize("cls, sample", list(_cases(lambda c: c == "noise-cpu-only")))
def test_cpu_only_noise_is_evidence_on_a_gpu_stack(cls, sample):
    assert find_degraded(sample["text"], gpu_stack=False) is None
    assert classify_failure(status="error", text=sample["text"], gpu_stack=False).cls == "python-error"
    assert classify_failure(status="error", text=sample["text"], gpu_stack=True).cls == "cuda-lib-missing"


def test_every_rule_has_samples_or_a_real_fault_injection():
    # native-crash is exercised by a real SIGFPE in tests/test_runner.py
    missing = [c for c in TAX.classes if c not in SAMPLES and c != "native-crash"]
    assert missing == []


def test_gpu_only_rules_do_not_fire_on_a_cpu_stack():
    text = "Loaded runtime CuDNN library: 8.1.0 but source was compiled with: 8.6.0."
    assert classify_failure(status="error", text=text, gpu_stack=True).cls == "cudnn-mismatch"
    assert classify_failure(status="error", text=text, gpu_stack=False).cls == "python-error"


def test_text_beats_the_signal_it_ended_with():
    avx = ("F tensorflow/core/platform/cpu_feature_guard.cc:37] The TensorFlow library was compiled to use AVX "
           "instructions, but these aren't available on your machine.")
    assert classify_failure(status="crashed", text=avx, signal="SIGABRT").cls == "illegal-instruction"
    assert classify_failure(status="crashed", text="", signal="SIGABRT").cls == "abort"
    assert classify_failure(status="crashed", text="", ntstatus="STATUS_ACCESS_VIOLATION").cls == "access-violation"


def test_tensorflow_gpu_lines_keep_tensorflows_own_words():
    from tfmatrix.diagnosis.classify import tensorflow_gpu_lines

    log = "\n".join([
        "2026-11-29 12:50:06.989053: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51] "
        "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "2026-11-29 12:50:07.000001: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary "
        "is optimized to use available CPU instructions",
        "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
        "'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file",
    ])
    assert tensorflow_gpu_lines(log) == [
        "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file"]
    assert tensorflow_gpu_lines("nothing about GPUs here") == []


# --------------------------------------------------------------------------- Keras of either major, NumPy 2's removals

#: (source, text): real messages of a Keras of one major where the other is needed, in both directions
KERAS_EITHER_WAY = [
    # Keras 2 installed where Keras 3 code runs (Keras 2 under a Keras-3 TensorFlow)
    ("https://github.com/microsoft/tensorflow-directml-plugin/issues/380 (keras 2.10, keras_hub needs Keras 3)",
     "ImportError: cannot import name 'ops' from 'keras' (C:\\Python\\Python39\\lib\\site-packages\\keras\\__init__.py)"),
    ("https://github.com/philipperemy/keras-tcn/issues/280 (TF 2.12's Keras 2, code for a newer Keras)",
     "ModuleNotFoundError: No module named 'keras.src'"),
    ("https://github.com/tensorflow/tensorflow/issues/48799 (a Keras newer than its TensorFlow)",
     "AttributeError: module 'tensorflow.compat.v2.__internal__' has no attribute 'tf2'"),
    ("https://github.com/tensorflow/tensorflow/issues/49823 (Keras for TF 2 under TF 1.15)",
     "AttributeError: module 'tensorflow._api.v1.compat.v2' has no attribute '__internal__'"),
    # Keras 3 installed where Keras 2 code runs (Keras 3 under a Keras-2 TensorFlow)
    ("https://github.com/tensorflow/tensorflow/issues/65463",
     "AttributeError: module 'keras._tf_keras.keras.layers' has no attribute 'experimental'"),
    ("https://github.com/keras-team/keras/issues/19875 (keras-nightly beside TF 2.16.1)",
     "ImportError: cannot import name '_tf_keras' from 'keras.api' (~/.local/lib/python3.12/site-packages/keras/api/"
     "__init__.py)"),
    ("https://github.com/tensorflow/tensorflow/issues/50372 (a TF nightly beside another keras)",
     "ImportError: cannot import name '__version__' from 'keras' (/usr/local/lib/python3.7/dist-packages/keras/"
     "__init__.py)"),
]


@pytest.mark.parametrize("source, text", KERAS_EITHER_WAY, ids=[f"keras-{i}" for i in range(len(KERAS_EITHER_WAY))])
def test_keras_of_either_major_under_the_other_is_a_keras_mismatch(source, text):
    assert classify_failure(status="error", text=text).cls == "keras-mismatch", source


def test_the_new_keras_rules_do_not_claim_other_modules():
    for text in ("ImportError: cannot import name 'layers' from 'keras_cv'",
                 "AttributeError: module 'tensorflow' has no attribute 'contrib'",
                 "ImportError: cannot import name 'builder' from 'google.protobuf.internal'"):
        assert classify_failure(status="error", text=text).cls != "keras-mismatch", text


def test_an_attribute_numpy2_removed_is_numpy_abi():
    text = "AttributeError: `np.complex_` was removed in the NumPy 2.0 release. Use `np.complex128` instead."
    assert classify_failure(status="error", text=text).cls == "numpy-abi"


def test_generic_classes_are_how_a_process_ended_and_suspects_name_a_class():
    assert {r.cls for r in TAX.rules if r.generic} == {"python-error", "segfault", "abort", "native-crash",
                                                        "access-violation", "stack-overflow"}
    from tfmatrix.diagnosis.classify import suspected_class

    assert suspected_class("ml-dtypes") == suspected_class("numpy") == "numpy-abi"
    assert (suspected_class("keras"), suspected_class("tf-keras")) == ("keras-mismatch", "keras-mismatch")
    assert suspected_class("protobuf") == "protobuf" and suspected_class("pillow") is None


@pytest.mark.parametrize("cls, signal, said", [("segfault", "SIGSEGV", "Segmentation fault"),
                                               ("abort", "SIGABRT", "Aborted")])
def test_a_crash_class_gives_way_to_the_predicted_class_its_frames_name(cls, signal, said):
    from tfmatrix.diagnosis.classify import agree_with_prediction

    text = (f"Fatal Python error: {said}\n\nCurrent thread 0x1 (most recent call first):\n"
            '  File "/v/lib/python3.11/site-packages/ml_dtypes/_finfo.py", line 19 in <module>\n'
            '  File "/v/lib/python3.11/site-packages/tensorflow/python/framework/dtypes.py", line 21 in <module>\n')
    failure = classify_failure(status="crashed", text=text, signal=signal)
    assert failure.cls == cls
    assert agree_with_prediction(failure, text, "numpy-abi").cls == "numpy-abi"  # ml_dtypes: a numpy-abi suspect
    assert agree_with_prediction(failure, text, "protobuf").cls == cls  # nothing of protobuf's shows


def test_a_specific_class_never_gives_way():
    from tfmatrix.diagnosis.classify import agree_with_prediction

    text = "ImportError: cannot import name 'runtime_version' from 'google.protobuf'\nNo module named 'tf_keras'"
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "protobuf"
    assert agree_with_prediction(failure, text, "keras-mismatch") == failure
    assert agree_with_prediction(failure, text, "no-such-class") == failure
