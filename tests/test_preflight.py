"""Pre-flight verdict: each rule, the severity order, and the project's own known-bad combinations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tfmatrix.diagnosis import evidence as ev
from tfmatrix.diagnosis.preflight import SEVERITY, parse_pins, predict
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.model import CombinationInfo
from tfmatrix.records.model import Prediction as Verdict
from tfmatrix.run.execution.host import GpuInfo, HostFacts

ROOT = Path(__file__).resolve().parent.parent


def host(gpus=(), driver_version=None, cpu_flags=None, machine="x86_64") -> HostFacts:
    """A host as the pre-flight sees it (explicit values: this machine has no GPU)."""
    return HostFacts(gpus=tuple(GpuInfo(i, name, "nvml") for i, name in enumerate(gpus)),
                     driver_version=driver_version, cpu_flags=tuple(cpu_flags or ()), machine=machine,
                     system="Linux")


GPU_HOST = host(["NVIDIA GeForce RTX 3090"], "550.54.15", ["avx", "avx2", "fma", "sse4_1", "sse4_2"])
CPU_HOST = host([], None, ["avx", "avx2", "avx512f", "fma", "sse4_1", "sse4_2"])  # this machine, as the probe saw it

#: `uv pip freeze` of tensorflow[and-cuda]==2.18.1 (the CUDA part and the pins the rules read).
TF218_CUDA_PINS = ["nvidia-cublas-cu12==12.5.3.2", "nvidia-cuda-cupti-cu12==12.5.82",
                   "nvidia-cuda-nvcc-cu12==12.5.82", "nvidia-cuda-nvrtc-cu12==12.5.82",
                   "nvidia-cuda-runtime-cu12==12.5.82", "nvidia-cudnn-cu12==9.3.0.75",
                   "nvidia-cufft-cu12==11.2.3.61", "nvidia-curand-cu12==10.3.6.82",
                   "nvidia-cusolver-cu12==11.6.3.83", "nvidia-cusparse-cu12==12.5.1.3",
                   "nvidia-nccl-cu12==2.21.5", "nvidia-nvjitlink-cu12==12.5.82", "nvidia-ml-py==13.615.71",
                   "numpy==2.0.2", "protobuf==5.29.6", "tensorflow==2.18.1"]

#: Resolved pins recorded by this project's runs (results/20261129T102512Z-b76e4e), by combination id.
RECORDED_PINS = {
    "tf2.15-numpy2-cpu": ["numpy==2.4.6", "nvidia-ml-py==13.615.71", "protobuf==4.25.9", "tensorflow==2.15.1"],
    "tf2.15-protobuf7-cpu": ["numpy==1.26.4", "nvidia-ml-py==13.615.71", "protobuf==7.36.2", "tensorflow==2.15.1"],
    "tf2.15-cpu": ["numpy==1.26.4", "protobuf==4.25.9", "tensorflow==2.15.1"],
}


def combo(tf: str, kind: str = "cuda-pip", python: str = "3.11", force: tuple[str, ...] = ()) -> CombinationInfo:
    return CombinationInfo(id=f"tf{tf}-{kind}", tensorflow=tf, tensorflow_id=f"tf{tf}", models_official=tf,
                           stack=kind, stack_kind=kind, python=python, models=(), tags=(), requirements=(),
                           force=force, expect=None, library_path=())


def repin(pins: list[str], **changes: str) -> list[str]:
    """Replace (or, with '', drop) the pins named by keyword (underscores for dashes)."""
    names = {k.replace("_", "-"): v for k, v in changes.items()}
    out = [p for p in pins if p.split("==")[0] not in names]
    return out + [f"{n}=={v}" for n, v in names.items() if v]


# --------------------------------------------------------------------------- the two sentences of the brief


def test_cudnn_major_mismatch_sentence() -> None:
    v = predict(combo("2.18.1"), repin(TF218_CUDA_PINS, nvidia_cudnn_cu12="8.9.7.29"), GPU_HOST)
    assert v == Verdict("cudnn-mismatch",
                        ("TensorFlow 2.18 was built against cuDNN 9.3; cuDNN 8.9.7 is another major; this venv pins "
                         "nvidia-cudnn-cu12 8.9.7.29 → predicted cudnn-mismatch",))


def test_driver_floor_sentence() -> None:
    v = predict(combo("2.18.1"), TF218_CUDA_PINS, dataclasses.replace(GPU_HOST, driver_version="470.57.02"))
    assert v == Verdict("no-gpu", ("NVIDIA driver 470.57.02 is older than CUDA 12's floor 525.60.13 → predicted no-gpu",))


def test_a_correct_cuda_pip_venv_is_ok() -> None:
    v = predict(combo("2.18.1"), TF218_CUDA_PINS, GPU_HOST)
    assert v == Verdict("ok", ())
    assert v.ok and v.to_json() == {"predicted": "ok", "reasons": []}


def test_driver_exactly_at_the_floor_is_ok() -> None:
    assert predict(combo("2.18.1"), TF218_CUDA_PINS, dataclasses.replace(GPU_HOST, driver_version="525.60.13")).ok
    assert not predict(combo("2.18.1"), TF218_CUDA_PINS, dataclasses.replace(GPU_HOST, driver_version="525.60.12")).ok


def test_cuda_11_release_uses_cuda_11_floor() -> None:
    pins = ["nvidia-cuda-runtime-cu11==11.8.89", "nvidia-cudnn-cu11==8.7.0.84", "numpy==1.26.4"]
    host_ = dataclasses.replace(GPU_HOST, driver_version="470.57.02")
    assert predict(combo("2.14.1", python="3.10"), pins, host_).ok
    v = predict(combo("2.14.1", python="3.10"), pins, dataclasses.replace(host_, driver_version="440.33"))
    assert v.reasons == ("NVIDIA driver 440.33 is older than CUDA 11's floor 450.80.02 → predicted no-gpu",)


# --------------------------------------------------------------------------- GPU rules


def test_no_gpu_on_a_gpu_stack() -> None:
    for kind in ("cuda-pip", "cuda-system"):
        v = predict(combo("2.18.1", kind), TF218_CUDA_PINS, CPU_HOST)
        assert v.predicted == "no-gpu"
        assert v.reasons == (f"no NVIDIA GPU is visible on this host and a {kind} stack needs one → predicted no-gpu",)


def test_cpu_stack_ignores_gpu_rules() -> None:
    pins = repin(TF218_CUDA_PINS, nvidia_cudnn_cu12="8.9.7.29", nvidia_cuda_runtime_cu12="")
    assert predict(combo("2.18.1", "cpu"), pins, host([], "470.57.02", ["avx"])) == Verdict("ok", ())


def test_cudnn_older_minor_is_a_mismatch() -> None:
    v = predict(combo("2.18.1"), repin(TF218_CUDA_PINS, nvidia_cudnn_cu12="9.1.0.70"), GPU_HOST)
    assert v.predicted == "cudnn-mismatch"
    assert v.reasons[0].startswith("TensorFlow 2.18 was built against cuDNN 9.3; cuDNN 9.1.0 is an older minor")


def test_cudnn_newer_minor_passes_tensorflows_check() -> None:
    pins = ["nvidia-cuda-runtime-cu12==12.9.79", "nvidia-cudnn-cu12==9.28.0.42", "numpy==2.4.6", "protobuf==7.36.2"]
    assert predict(combo("2.20.0"), pins, GPU_HOST) == Verdict("ok", ())


def test_cudnn_for_another_cuda_major() -> None:
    pins = repin(TF218_CUDA_PINS, nvidia_cudnn_cu12="", nvidia_cudnn_cu11="8.9.6.50")
    v = predict(combo("2.18.1"), pins, GPU_HOST)
    assert v.predicted == "cudnn-mismatch"
    assert "nvidia-cudnn-cu11 8.9.6.50, a cuDNN for CUDA 11" in v.reasons[0]


def test_missing_cuda_runtime_wheel() -> None:
    v = predict(combo("2.18.1"), repin(TF218_CUDA_PINS, nvidia_cuda_runtime_cu12=""), GPU_HOST)
    assert v.predicted == "cuda-lib-missing"
    assert v.reasons == ("TF 2.18 was built against CUDA 12.5.1; this venv pins no nvidia-cuda-runtime-cu12 wheel "
                         "→ predicted cuda-lib-missing",)


def test_release_without_and_cuda_extra() -> None:
    v = predict(combo("2.13.1"), ["numpy==1.24.3", "protobuf==4.25.9", "tensorflow==2.13.1"], GPU_HOST)
    assert v.predicted == "cuda-lib-missing"
    assert v.reasons == ("TF 2.13 has no [and-cuda] extra, so this venv pins no nvidia-* CUDA wheels; TF 2.13 was "
                         "built against CUDA 11.8 / cuDNN 8.6 → predicted cuda-lib-missing",)


def test_cuda_system_does_not_need_wheels() -> None:
    assert predict(combo("2.18.1", "cuda-system"), ["numpy==2.0.2", "protobuf==5.29.6"], GPU_HOST).ok


# --------------------------------------------------------------------------- Python, CPU, NumPy, protobuf


def test_python_outside_the_tested_range() -> None:
    v = predict(combo("2.15.1", "cpu", "3.12"), [], CPU_HOST)
    assert v == Verdict("no-wheel", ("TF 2.15 is tested on Python 3.9-3.11; this combination uses Python 3.12 "
                                           "→ predicted no-wheel",))
    assert predict(combo("2.20.0", "cpu", "3.13"), [], CPU_HOST).ok


def test_no_avx() -> None:
    v = predict(combo("2.20.0", "cpu"), [], dataclasses.replace(CPU_HOST, cpu_flags=("sse4_1", "sse4_2")))
    assert v.predicted == "illegal-instruction"
    assert v.reasons == ("the host CPU has no AVX, which TensorFlow's x86-64 wheels use since TF 1.6 "
                         "→ predicted illegal-instruction",)


@pytest.mark.parametrize("seen", [
    {"cpu_flags": None}, {"cpu_flags": []},                       # not read (Windows has no /proc/cpuinfo)
    {"cpu_flags": ["neon", "asimd"], "machine": "aarch64"},       # AVX is an x86 instruction set
])
def test_unknown_flags_or_other_architectures_are_not_illegal_instruction(seen: dict) -> None:
    assert predict(combo("2.20.0", "cpu"), [], host(**seen)).ok


@pytest.mark.parametrize("tf, numpy, predicted", [
    ("2.15.1", "2.4.6", "numpy-abi"), ("2.17.1", "2.1.3", "numpy-abi"),
    ("2.15.1", "1.26.4", "ok"), ("2.18.1", "2.0.2", "ok"), ("2.20.0", "2.4.6", "ok"),
])
def test_numpy_abi(tf: str, numpy: str, predicted: str) -> None:
    assert predict(combo(tf, "cpu"), [f"numpy=={numpy}"], CPU_HOST).predicted == predicted


def test_numpy_abi_sentence() -> None:
    v = predict(combo("2.17.1", "cpu"), ["numpy==2.1.3"], CPU_HOST)
    assert v.reasons == ("TF 2.17 was built against NumPy 1.x; this venv resolves numpy 2.1.3 → predicted numpy-abi",)


@pytest.mark.parametrize("tf, protobuf, predicted", [
    ("2.15.1", "7.36.2", "degraded"), ("2.16.2", "5.29.6", "degraded"), ("2.15.1", "4.25.9", "ok"),
    ("2.18.1", "5.29.6", "ok"), ("2.18.1", "6.31.1", "degraded"), ("2.20.0", "7.36.2", "ok"),
    ("2.20.0", "4.25.9", "protobuf"), ("2.15.1", "3.19.6", "protobuf"),
])
def test_protobuf_newer_than_declared_is_degraded_older_than_the_gencode_fails(tf: str, protobuf: str,
                                                                               predicted: str) -> None:
    assert predict(combo(tf, "cpu"), [f"protobuf=={protobuf}"], CPU_HOST).predicted == predicted


def test_protobuf_below_the_gencode_sentence() -> None:
    v = predict(combo("2.20.0", "cpu"), ["protobuf==4.25.9"], CPU_HOST)
    assert v.reasons == ("TF 2.20's generated code needs protobuf>=5.28.0; this venv resolves protobuf 4.25.9, an "
                         "older runtime, which refuses it at import → predicted protobuf",)


@pytest.mark.parametrize("tf, keras, predicted", [
    ("2.15.1", "3.15.1", "keras-mismatch"), ("2.15.1", "2.15.0", "ok"), ("2.20.0", "3.11.3", "ok"),
    ("2.20.0", "2.15.0", "keras-mismatch"), ("2.21.0", "3.12.0", "ok"),
])
def test_keras_of_the_other_major_is_a_keras_mismatch(tf: str, keras: str, predicted: str) -> None:
    assert predict(combo(tf, "cpu"), [f"keras=={keras}"], CPU_HOST).predicted == predicted


def test_protobuf_sentence() -> None:
    v = predict(combo("2.15.1", "cpu"), ["protobuf==7.36.2"], CPU_HOST)
    assert v.reasons == ("TF 2.15 requires protobuf<5.0.0dev; this venv resolves protobuf 7.36.2 → predicted degraded",)


# --------------------------------------------------------------------------- several reasons


def test_most_severe_reason_decides_and_all_are_kept() -> None:
    pins = ["numpy==2.4.6", "protobuf==7.36.2", "nvidia-cudnn-cu12==8.9.7.29", "nvidia-cuda-runtime-cu12==12.2.140"]
    v = predict(combo("2.18.1", "cuda-pip", "3.13"), pins, host([], None, ["sse4_2"]))
    classes = [r.rsplit("→ predicted ", 1)[1] for r in v.reasons]
    assert v.predicted == "no-wheel"
    assert classes == ["no-wheel", "illegal-instruction", "no-gpu", "cudnn-mismatch", "degraded"]
    assert classes == sorted(classes, key=SEVERITY.index)


def test_numpy_outranks_cudnn() -> None:
    pins = ["numpy==2.1.3", "nvidia-cudnn-cu12==9.1.0.70", "nvidia-cuda-runtime-cu12==12.3.101"]
    v = predict(combo("2.17.1"), pins, GPU_HOST)
    assert v.predicted == "numpy-abi"
    assert v.reasons == ("TF 2.17 was built against NumPy 1.x; this venv resolves numpy 2.1.3 → predicted numpy-abi",
                         "TensorFlow 2.17 was built against cuDNN 8.9; cuDNN 9.1.0 is another major; this venv pins "
                         "nvidia-cudnn-cu12 9.1.0.70 → predicted cudnn-mismatch")


def test_unknown_release_gets_only_host_rules() -> None:
    assert predict(combo("2.21.0"), ["numpy==2.4.6"], GPU_HOST).ok
    assert predict(combo("2.21.0"), [], CPU_HOST).predicted == "no-gpu"


# --------------------------------------------------------------------------- the project's own known-bad combinations


def test_known_bad_combinations_of_matrix_yaml_are_predicted() -> None:
    """Every combination of matrix.yaml with an `expect` and recorded pins: the verdict is that class."""
    matched = 0
    for c in combinations(load_matrix(ROOT / "matrix.yaml"), "all"):
        if c.id in RECORDED_PINS:
            assert predict(CombinationInfo.of(c), RECORDED_PINS[c.id], CPU_HOST).predicted == (c.expect or "ok"), c.id
            matched += 1
    assert matched == len(RECORDED_PINS)


# --------------------------------------------------------------------------- inputs


def test_parse_pins() -> None:
    pins = parse_pins(["# comment", "NumPy==1.26.4", "-e git+https://x/y#egg=z", "tf-keras @ file:///tmp/x.whl",
                       "nvidia_cudnn_cu12==9.3.0.75", "protobuf[upb]==5.29.6 ; python_version >= '3.9'", ""])
    assert pins == {"numpy": "1.26.4", "nvidia-cudnn-cu12": "9.3.0.75", "protobuf": "5.29.6"}


def test_verdict_is_frozen() -> None:
    v = predict(combo("2.18.1"), TF218_CUDA_PINS, GPU_HOST)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.predicted = "no-gpu"  # type: ignore[misc]


# Drivers, CUDA runtimes and cuDNNs as real machines report them (driver 535/550/580; CUDA 12.2/12.5/12.9 wheels;
# cuDNN 8.9/9.3/9.28), on the cuda-pip stack of the default matrix.
DRIVER_CASES = [
    ("535.183.01", "tf2.15", "12.2.140", "8.9.7.29", "ok"),
    ("550.54.15", "tf2.18", "12.5.82", "9.3.0.75", "ok"),
    ("580.65.06", "tf2.20", "12.9.79", "9.28.0.42", "ok"),  # 2.20's ranges resolve newer than its 12.5.1 build
    ("535.183.01", "tf2.18", "12.5.82", "8.9.7.29", "cudnn-mismatch"),
    ("550.54.15", "tf2.15", "12.2.140", "9.3.0.75", "cudnn-mismatch"),
    ("470.57.02", "tf2.20", "12.9.79", "9.28.0.42", "no-gpu"),  # below CUDA 12's driver floor
]


@pytest.mark.parametrize("driver, tf_id, runtime, cudnn, expected", DRIVER_CASES)
def test_verdicts_across_drivers_runtimes_and_cudnns(driver, tf_id, runtime, cudnn, expected):

    combo = next(c for c in combinations(load_matrix(ROOT / "matrix.yaml"), "all")
                 if c.id == f"{tf_id}-cuda-pip")
    box = host(["NVIDIA H100 80GB HBM3"], driver, ["avx", "avx2", "fma"])
    pins = [f"tensorflow=={combo.tf.version}", f"nvidia-cuda-runtime-cu12=={runtime}",
            f"nvidia-cudnn-cu12=={cudnn}", "nvidia-cublas-cu12==12.5.3.2", "numpy==1.26.4",
            "protobuf==4.25.8" if tf_id == "tf2.15" else "protobuf==5.29.5"]
    verdict = predict(CombinationInfo.of(combo), pins, box)
    assert verdict.predicted == expected, verdict.reasons


# --------------------------------------------------------------------------- every recorded known-bad outcome

#: Classes no pin predicts, and why the pre-flight stays silent on them (it then says "ok").
NOT_FROM_PINS = {
    "build-failed": "a source build's failure shows only when it is built (the pins resolve)",
    "no-interpreter": "the session nox never started has no pre-flight",
}


def _known_bad() -> list:
    from tfmatrix.records.store import load

    paths = sorted((ROOT / "tests" / "data").glob("known-bad/*/*.json")) + \
        sorted((ROOT / "tests" / "data").glob("runs/*/*.json"))
    records = [load(p) for p in paths if p.name != "run.json"]
    return [pytest.param(r, id=f"{r.run_id[-6:]}-{r.id}") for r in records if r.failure is not None]


@pytest.mark.parametrize("rec", _known_bad())
def test_every_recorded_known_bad_outcome_is_what_the_pre_flight_predicts_from_its_pins(rec) -> None:
    """Real records (tests/data/known-bad: issue 15's cases; tests/data/runs: the default matrix's): the verdict
    the rules give today, from the pins the run resolved and its installer's pip check, is the class the run
    ended in."""
    conflicts = ev.check_conflicts(rec.install.check_output if rec.install else "")
    verdict = predict(rec.combination, rec.resolved_pins, CPU_HOST, conflicts)
    if rec.failure.cls in NOT_FROM_PINS:
        assert verdict.ok, verdict.reasons
    else:
        assert verdict.predicted == rec.failure.cls, verdict.reasons


def test_the_known_bad_records_cover_every_class_the_pins_predict_on_the_cpu() -> None:
    seen = {p.values[0].failure.cls for p in _known_bad()}
    assert {"numpy-abi", "protobuf", "keras-mismatch", "degraded", "build-failed", "no-interpreter"} <= seen


# --------------------------------------------------------------------------- pins forced outside a declared range

#: ``uv pip check`` of TF 2.18.1 + tf-models-official 2.18.0 with ``ml-dtypes==0.3.2`` forced (issue 28)
ML_DTYPES_CHECK = ("Checked 112 packages in 4ms\nFound 1 incompatibility\nThe package `tensorflow` requires "
                   "`ml-dtypes>=0.4.0,<1.0.0`, but `0.3.2` is installed")
TF218_CPU_PINS = ["ml-dtypes==0.3.2", "numpy==2.0.2", "protobuf==5.29.6", "tensorflow==2.18.1",
                  "tf-models-official==2.18.0"]


def test_a_forced_pin_outside_a_declared_range_predicts_the_class_of_its_suspects() -> None:
    forced = combo("2.18.1", "cpu", force=("ml-dtypes==0.3.2",))
    assert predict(forced, TF218_CPU_PINS, CPU_HOST).ok  # the pins alone: what it was before issue 28
    v = predict(forced, TF218_CPU_PINS, CPU_HOST, ev.check_conflicts(ML_DTYPES_CHECK))
    assert v == Verdict("numpy-abi", ("ml-dtypes 0.3.2 is forced outside the range tensorflow declares "
                                      "(ml-dtypes>=0.4.0,<1.0.0) → predicted numpy-abi",))


def test_a_conflict_of_a_pin_not_forced_or_of_a_package_no_class_suspects() -> None:
    conflicts = ev.check_conflicts(ML_DTYPES_CHECK)
    assert predict(combo("2.18.1", "cpu"), TF218_CPU_PINS, CPU_HOST, conflicts).ok  # the resolver's own choice
    pillow = [ev.Conflict("tf-models-official", "pillow>=10", "9.5.0")]
    v = predict(combo("2.18.1", "cpu", force=("pillow<10",)), TF218_CPU_PINS, CPU_HOST, pillow)
    assert v == Verdict("degraded", ("pillow 9.5.0 is forced outside the range tf-models-official declares "
                                     "(pillow>=10) → predicted degraded",))


def test_a_rule_that_judges_the_forced_pin_says_it_instead() -> None:
    """keras==2.15.0 forced under TF 2.16.2 (issue 28) and protobuf 7 under TF 2.15: their own rules speak, once."""
    keras = [ev.Conflict("tensorflow", "keras>=3.0.0", "2.15.0")]
    v = predict(combo("2.16.2", "cpu", force=("keras==2.15.0",)), ["keras==2.15.0"], CPU_HOST, keras)
    assert v == Verdict("keras-mismatch", ("TF 2.16.2 and its Model Garden are written for Keras 3; this venv "
                                           "resolves keras 2.15.0 → predicted keras-mismatch",))
    protobuf = [ev.Conflict("tensorflow", "protobuf<5.0.0dev,>=3.20.3", "7.36.2")]
    v = predict(combo("2.15.1", "cpu", force=("protobuf>=7",)), ["protobuf==7.36.2"], CPU_HOST, protobuf)
    assert v.predicted == "degraded" and len(v.reasons) == 1  # a newer runtime only prints errors
