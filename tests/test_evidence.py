"""The line that says why (tfmatrix.diagnosis.evidence): exceptions and their frames, crashes, installer causes.

Frames are mapped to distributions through a site-packages folder built here with real ``*.dist-info``
RECORD files, read by importlib.metadata as it reads a venv's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tfmatrix.diagnosis import evidence as ev
from tfmatrix.diagnosis.classify import classify_failure


def _dist(site: Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files + [f"{info.name}/METADATA", f"{info.name}/RECORD"]))
    for f in files:
        (site / f).parent.mkdir(parents=True, exist_ok=True)
        (site / f).write_text("")


@pytest.fixture
def site(tmp_path) -> Path:
    """A venv's site-packages: the Model Garden, Keras, and protobuf in the shared ``google`` namespace."""
    sp = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    _dist(sp, "tf-models-official", "2.15.0", ["official/__init__.py", "official/modeling/optimization/lr_schedule.py"])
    _dist(sp, "keras", "3.15.1", ["keras/__init__.py", "keras/src/api.py"])
    _dist(sp, "protobuf", "4.25.8", ["google/protobuf/__init__.py", "google/protobuf/descriptor.py"])
    _dist(sp, "googleapis-common-protos", "1.70.0", ["google/api/http_pb2.py"])
    _dist(sp, "tfmatrix", "0.1.0", ["tfmatrix/worker/main.py"])
    ev._site_index.cache_clear()
    return sp


def keras3_traceback(sp: Path) -> str:
    """The shape of what the worker printed for TF 2.15 + Model Garden 2.15 with Keras 3 forced."""
    return f"""2026-12-03 13:02:11.1: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on.
Traceback (most recent call last):
  File "{sp}/tfmatrix/worker/main.py", line 311, in run
    result = method()
  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
  File "{sp}/official/modeling/optimization/lr_schedule.py", line 89, in <module>
    class LinearWarmup(tf.keras.optimizers.schedules.LearningRateSchedule):
AttributeError: module 'keras._tf_keras.keras' has no attribute 'experimental'
"""


def test_the_exception_and_the_library_frame_that_raised_it_are_the_evidence(site):
    got = ev.python_failure(keras3_traceback(site))
    assert got is not None and got.exception == "AttributeError: module 'keras._tf_keras.keras' has no attribute " \
                                                "'experimental'"
    assert [f.owner for f in got.frames] == ["tfmatrix", "Python 3.11 standard library", "tf-models-official 2.15.0"]
    assert got.line().endswith("(raised in official/modeling/optimization/lr_schedule.py:89 (tf-models-official 2.15.0))")
    failure = classify_failure(status="error", text=keras3_traceback(site))
    assert failure.cls == "keras-mismatch" and failure.evidence == got.line()


def test_a_namespace_package_is_told_apart_by_its_second_part(site):
    assert ev.distribution_of(str(site / "google/protobuf/descriptor.py")) == ("protobuf", "4.25.8")
    assert ev.distribution_of(str(site / "google/api/http_pb2.py")) == ("googleapis-common-protos", "1.70.0")
    assert ev.distribution_of(str(site / "nothing/here.py")) is None
    assert ev.distribution_of("/gone/lib/python3.11/site-packages/official/x.py") is None  # its venv was removed
    assert ev.frame(str(site / "tfmatrix/worker/main.py"), 1, "f").owner == "tfmatrix"  # ours, not a suspect


def test_the_stdlib_frame_that_raised_and_the_library_that_called_it_are_both_named(site):
    text = f"""Traceback (most recent call last):
  File "{site}/official/modeling/optimization/lr_schedule.py", line 40, in <module>
    @dataclasses.dataclass
  File "/usr/lib/python3.11/dataclasses.py", line 815, in _get_field
    raise ValueError(f'mutable default {{type(f.default)}} for field '
ValueError: mutable default <class 'official.modeling.hyperparams.Config'> for field sgd is not allowed: use default_factory
"""
    got = ev.python_failure(text)
    assert got.line() == ("ValueError: mutable default <class 'official.modeling.hyperparams.Config'> for field sgd is "
                          "not allowed: use default_factory (raised in dataclasses.py:815 (Python 3.11 standard "
                          "library); from official/modeling/optimization/lr_schedule.py:40 (tf-models-official 2.15.0))")
    assert classify_failure(status="error", text=text).cls == "python-version"


def test_of_chained_exceptions_the_last_is_the_evidence():
    text = """Traceback (most recent call last):
  File "/a.py", line 1, in f
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/b.py", line 2, in g
google.protobuf.runtime_version.VersionError: Detected incompatible Protobuf Gencode/Runtime versions
"""
    got = ev.python_failure(text)
    assert got.type == "google.protobuf.runtime_version.VersionError" and [f.short for f in got.frames] == ["b.py:2"]


def test_a_native_crash_gives_the_faulthandler_top_frames_and_their_library(site):
    text = f"""Fatal Python error: Segmentation fault

Current thread 0x00007f2a (most recent call first):
  File "{site}/keras/src/api.py", line 12 in call
  File "{site}/official/__init__.py", line 3 in <module>
  File "/x/benchmarks/bench_detection.py", line 80 in time_load
  File "/x/benchmarks/bench_detection.py", line 81 in time_load

Extension modules: numpy.core._multiarray_umath (total: 1)
"""
    assert ev.crash_line(text) == ("Fatal Python error: Segmentation fault (in keras/src/api.py:12 (keras 3.15.1), "
                                   "official/__init__.py:3 (tf-models-official 2.15.0), bench_detection.py:80 "
                                   "(tfmatrix))")
    failure = classify_failure(status="crashed", text=text, signal="SIGSEGV")
    assert failure.cls == "segfault" and failure.evidence == ev.crash_line(text)


UV_CONFLICT = """Using Python 3.11.7 environment at: .nox/bench-tf2-15-numpy2-cpu
  × No solution found when resolving dependencies:
  ╰─▶ Because ml-dtypes==0.6.0 depends on numpy>=2.0.0 and tensorflow==2.15.1 depends on numpy<2, we can
      conclude that ml-dtypes==0.6.0 and tensorflow==2.15.1 are incompatible.
      And because you require tensorflow==2.15.1 and ml-dtypes==0.6.0, we can conclude that your requirements are
      unsatisfiable.
"""

UV_BUILD = """Using Python 3.11.7 environment at: .nox/bench-tf2-12-cpu-py3-11
Resolved 96 packages in 1.22s
  × Failed to build `pyyaml==5.4.1`
  ├─▶ The build backend returned an error
  ╰─▶ Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)

      [stderr]
      Traceback (most recent call last):
        File "<string>", line 14, in <module>
      AttributeError: 'build_ext' object has no attribute 'cython_sources'

      hint: This usually indicates a problem with the package or the build environment.
  help: `pyyaml` (v5.4.1) was included because `tf-models-official` (v2.12.1) depends on `pyyaml>=5.1,<6.0`
"""


#: ``uv pip compile --quiet`` without a terminal: the same chain as ``error:`` and ``cause:`` lines (tfbad-cpu of the
#: integration tests' tiny matrix, as its record kept it).
UV_CONFLICT_PLAIN = """error: No solution found when resolving dependencies
  cause: Because tf-models-official==2.15.0 depends on tensorflow>=2.15.0,<2.16.dev0 and you require tensorflow==2.20.0, we can conclude that your requirements and tf-models-official==2.15.0 are incompatible.
         And because you require tf-models-official==2.15.0, we can conclude that your requirements are unsatisfiable."""


@pytest.mark.parametrize("text, cls, evidence", [
    (UV_CONFLICT_PLAIN, "resolver-conflict", "No solution found when resolving dependencies: tf-models-official==2.15.0 "
                                             "depends on tensorflow>=2.15.0,<2.16.dev0 and you require "
                                             "tensorflow==2.20.0; you require tf-models-official==2.15.0"),
    (UV_CONFLICT, "resolver-conflict", "No solution found when resolving dependencies: ml-dtypes==0.6.0 depends on "
                                       "numpy>=2.0.0 and tensorflow==2.15.1 depends on numpy<2; you require "
                                       "tensorflow==2.15.1 and ml-dtypes==0.6.0"),
    (UV_BUILD, "build-failed", "Failed to build pyyaml==5.4.1; AttributeError: 'build_ext' object has no attribute "
                               "'cython_sources'; pyyaml (v5.4.1) was included because tf-models-official (v2.12.1) "
                               "depends on pyyaml>=5.1,<6.0"),
])
def test_an_installer_failure_is_its_cause_chain_never_its_banner(text, cls, evidence):
    failure = classify_failure(status="install-failed", text=text)
    assert (failure.cls, failure.evidence) == (cls, evidence)
    assert "Using Python" not in failure.evidence and "Resolved" not in failure.evidence


def test_pip_check_conflicts_of_uv_and_pip():
    uv = ("Checked 97 packages in 2ms\nFound 1 incompatibility\nThe package `tensorflow` requires `keras<2.16,>=2.15.0`,"
          " but `3.15.1` is installed\nThe package `tf-models-official` requires `tf-keras`, but it's not installed")
    pip = "tensorflow 2.15.1 has requirement keras<2.16,>=2.15.0, but you have keras 3.15.1."
    assert ev.check_conflicts(uv) == [ev.Conflict("tensorflow", "keras<2.16,>=2.15.0", "3.15.1"),
                                      ev.Conflict("tf-models-official", "tf-keras", "")]
    assert ev.check_conflicts(pip) == [ev.Conflict("tensorflow", "keras<2.16,>=2.15.0", "3.15.1")]
    assert ev.check_conflicts(uv)[0].target == "keras"
    assert ev.check_conflicts("All installed packages are compatible") == []


# --------------------------------------------------------------------------- what ended the process

NUMPY2_LOG = Path(__file__).parent / "data" / "logs" / "tf2.15-numpy2-cpu-export.log"


def test_numpys_banner_traceback_carries_its_first_frame_on_the_header_line():
    """numpy prints ``Traceback (most recent call last):  File "<frozen runpy>", …`` on one line: still a traceback,
    and not the one that ended the process (the real log of tf2.15-numpy2-cpu)."""
    lines = NUMPY2_LOG.read_text(encoding="utf-8").splitlines()
    banner = "\n".join(lines[:27])  # the banner and its first (non-fatal) traceback only
    got = ev.python_failure(banner)
    assert got is not None and got.exception == "AttributeError: _ARRAY_API not found"
    assert got.frames[0].path == "<frozen runpy>" and got.frames[-1].short == "tensorflow/python/pywrap_tfe.py:25"
    end = ev.fatal("\n".join(lines))
    assert end is not None and end.python is not None
    assert end.python.exception == "ImportError: numpy.core.umath failed to import"
    assert lines[end.first] == "Traceback (most recent call last):" and end.last == len(lines) - 1


CHILD = """Traceback (most recent call last):
  File "<timed>", line 1, in <module>
  File "/v/lib/python3.11/site-packages/ml_dtypes/_finfo.py", line 19, in <module>
    from ml_dtypes._ml_dtypes_ext import bfloat16
ImportError: numpy.core.umath failed to import
"""
WORKER = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/tfmatrix/worker/main.py", line 179, in run_timeraw
    raise RuntimeError(f"timeraw child {i} ended with exit status {proc.returncode} without a result")
RuntimeError: timeraw child 0 ended with exit status 1 without a result
"""


def test_a_timeraw_childs_end_is_what_the_child_printed_not_the_workers_note():
    end = ev.fatal(CHILD + WORKER)
    assert end is not None and end.line == ("ImportError: numpy.core.umath failed to import (raised in "
                                            "ml_dtypes/_finfo.py:19)")
    alone = ev.fatal(WORKER)  # nothing before it: the worker's own words are all there is
    assert alone is not None and alone.line == "RuntimeError: timeraw child 0 ended with exit status 1 without a result"


def test_a_crash_after_a_traceback_ended_the_process_and_a_rule_line_before_it_is_context():
    text = ("2026-12-07 04:40:43.1: E tensorflow/compiler/xla/stream_executor/cuda/cuda_dnn.cc:427] Loaded runtime "
            "CuDNN library: 8.1.0 but source was compiled with: 8.6.0.\n"
            + 'Traceback (most recent call last):\n  File "/x/a.py", line 1, in f\nKeyError: \'warmup\'\n'
            + "\nFatal Python error: Segmentation fault\n\nCurrent thread 0x7f (most recent call first):\n"
            '  File "/x/benchmarks/bench_detection.py", line 80 in time_load\n\n')
    failure = classify_failure(status="crashed", text=text, signal="SIGSEGV", gpu_stack=True)
    assert failure.cls == "cudnn-mismatch"
    assert failure.evidence == ("Fatal Python error: Segmentation fault (in bench_detection.py:80 (tfmatrix)); printed "
                                "before it: 2026-12-07 04:40:43.1: E tensorflow/compiler/xla/stream_executor/cuda/"
                                "cuda_dnn.cc:427] Loaded runtime CuDNN library: 8.1.0 but source was compiled with: "
                                "8.6.0.")


def test_a_rule_line_printed_after_the_last_traceback_is_the_evidence_the_process_went_on():
    text = CHILD + "retrying without ml_dtypes\nkilled by tfmatrix at the phase timeout\n"
    failure = classify_failure(status="timeout", text=text, signal="SIGKILL")
    assert (failure.cls, failure.evidence) == ("timeout", "killed by tfmatrix at the phase timeout")


def test_a_multi_line_exception_message_is_part_of_the_exception():
    text = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/tensorflow_hub/keras_layer.py", line 234, in call
    result = f()
ValueError: Exception encountered when calling layer 'keras_layer' (type KerasLayer).
           A KerasTensor is symbolic: it's a placeholder for a shape an a dtype.
"""
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "keras-mismatch"  # matched on the message's second line
    assert failure.evidence == ("ValueError: Exception encountered when calling layer 'keras_layer' (type KerasLayer). "
                                "(raised in tensorflow_hub/keras_layer.py:234)")


def test_a_frame_names_its_module_where_its_venv_is_gone():
    assert ev.frame("/gone/lib/python3.11/site-packages/keras/src/engine/base_layer.py", 1, "f").module == "keras"
    assert ev.frame("/gone/lib/python3.11/site-packages/google/protobuf/message.py", 1, "f").module == "google.protobuf"
    assert ev.frame("/gone/lib/python3.11/site-packages/six.py", 1, "f").module == "six"
    assert ev.frame("/usr/lib/python3.11/dataclasses.py", 1, "f").module == ""
