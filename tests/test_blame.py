"""Blame (tfmatrix.diagnosis.blame): the package at fault and why, or an honest "cannot tell"."""

from __future__ import annotations

import pytest

from tfmatrix.diagnosis import blame
from tfmatrix.diagnosis import evidence as ev
from tfmatrix.diagnosis.classify import classify_failure

KERAS3 = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/official/modeling/optimization/lr_schedule.py", line 89, in <module>
    class LinearWarmup(tf.keras.optimizers.schedules.LearningRateSchedule):
AttributeError: module 'keras._tf_keras.keras' has no attribute 'experimental'
"""
PROTOBUF_OLD = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/tensorflow/core/framework/attr_value_pb2.py", line 9, in <module>
    from google.protobuf import runtime_version as _runtime_version
ImportError: cannot import name 'runtime_version' from 'google.protobuf' (/v/lib/python3.11/site-packages/google/protobuf/__init__.py)
"""


def facts(**changes) -> blame.Facts:
    base = dict(python="3.11", tensorflow="2.15.1",
                pins={"tensorflow": "2.15.1", "keras": "3.15.1", "tf-models-official": "2.15.0", "numpy": "1.26.4",
                      "protobuf": "4.25.8"},
                required=frozenset({"tensorflow", "tf-models-official", "numpy"}))
    base.update(changes)
    return blame.Facts(**base)


def judged(text: str, f: blame.Facts, status: str = "error") -> tuple[str, str, str]:
    failure = classify_failure(status=status, text=text)
    got = blame.assign(failure, text, f)
    return got.cls, got.culprit, got.blame


def test_a_forced_pin_pip_check_rejects_is_the_culprit_with_every_reason():
    f = facts(forced=frozenset({"keras"}), conflicts=(ev.Conflict("tensorflow", "keras<2.16,>=2.15.0", "3.15.1"),))
    cls, culprit, why = judged(KERAS3, f)
    assert (cls, culprit) == ("keras-mismatch", "keras 3.15.1")
    assert why == ("keras 3.15.1 is forced over the resolver's choice; tensorflow requires keras<2.16,>=2.15.0, but "
                   "keras 3.15.1 is installed")  # the frame's venv is gone here: no library named for it


def test_the_same_failure_without_a_forced_pin_names_the_conflict_pip_check_found():
    f = facts(conflicts=(ev.Conflict("tensorflow", "keras<2.16,>=2.15.0", "3.15.1"),))
    cls, culprit, why = judged(KERAS3, f)
    assert culprit == "keras 3.15.1"
    assert why == "pip check rejects keras 3.15.1; tensorflow requires keras<2.16,>=2.15.0, but keras 3.15.1 is installed"


def test_a_runtime_older_than_the_gencode_blames_the_forced_protobuf():
    f = facts(tensorflow="2.20.0", forced=frozenset({"protobuf"}),
              conflicts=(ev.Conflict("tensorflow", "protobuf>=5.28.0", "4.25.8"),))
    cls, culprit, why = judged(PROTOBUF_OLD, f)
    assert (cls, culprit) == ("protobuf", "protobuf 4.25.8") and "tensorflow requires protobuf>=5.28.0" in why


def test_nothing_that_points_at_one_package_is_cannot_tell_with_what_the_evidence_shows():
    text = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/official/vision/serving/export_saved_model_lib.py", line 40, in export
KeyError: 'groundtruth_verified_neg_classes'
"""
    cls, culprit, why = judged(text, facts())
    assert (cls, culprit) == ("python-error", blame.CANNOT_TELL)
    assert "no forced pin, pip check conflict or known suspect" in why


def test_a_class_about_one_package_names_it_when_it_is_resolved_and_says_how():
    cls, culprit, why = judged("ImportError: numpy.core.multiarray failed to import",
                               facts(pins={"numpy": "2.1.0"}, required=frozenset()))
    assert (cls, culprit) == ("numpy-abi", "numpy 2.1.0") and "resolved as a dependency" in why
    cls, culprit, _ = judged("ImportError: numpy.core.multiarray failed to import", facts(pins={}))
    assert culprit == blame.CANNOT_TELL  # numpy is not in the record's pins: nothing to name


@pytest.mark.parametrize("text, cls, culprit", [
    ("  × Failed to build `pyyaml==5.4.1`\n  help: `pyyaml` (v5.4.1) was included because `tf-models-official` "
     "(v2.12.1) depends on `pyyaml>=5.1,<6.0`", "build-failed", "pyyaml 5.4.1"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because tensorflow==2.10.1 has no wheels with a "
     "matching Python ABI tag (e.g., `cp311`) and you require tensorflow==2.10.1, we can conclude that your "
     "requirements are unsatisfiable.", "no-wheel", "tensorflow 2.10.1"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because tensorflow==2.15.1 depends on numpy<2 and "
     "you require numpy>=2, we can conclude that your requirements are unsatisfiable.", "resolver-conflict", "numpy"),
    ("nox: session skipped: Python interpreter 3.12 not found", "no-interpreter", "Python 3.12"),
])
def test_installer_failures_name_the_package_the_installer_names(text, cls, culprit):
    f = facts(forced=frozenset({"numpy"}))
    got = blame.assign(classify_failure(status="install-failed", text=text), text, f, installer=True)
    assert (got.cls, got.culprit) == (cls, culprit), got.blame


def test_a_conflict_between_two_requirements_nobody_forced_is_cannot_tell():
    text = ("  × No solution found when resolving dependencies:\n  ╰─▶ Because ml-dtypes==0.6.0 depends on numpy>=2.0.0 "
            "and tensorflow==2.15.1 depends on numpy<2, we can conclude that your requirements are unsatisfiable.")
    got = blame.assign(classify_failure(status="install-failed", text=text), text, facts(required=frozenset()),
                       installer=True)
    assert got.culprit == blame.CANNOT_TELL and "ml-dtypes, numpy, tensorflow" in got.blame


def test_two_pins_of_the_matrix_that_exclude_each_other_are_not_a_guess():
    text = ("  × No solution found when resolving dependencies:\n  ╰─▶ Because tf-models-official==2.15.0 depends on "
            "tensorflow>=2.15.0,<2.16 and you require tensorflow==2.16.2, we can conclude that your requirements "
            "are unsatisfiable.")
    got = blame.assign(classify_failure(status="install-failed", text=text), text, facts(), installer=True)
    assert got.cls == "resolver-conflict" and got.culprit == blame.CANNOT_TELL
    assert got.blame.startswith("tensorflow and tf-models-official are both pinned by the matrix and exclude each other")


def test_a_degraded_run_is_blamed_as_the_known_error_it_printed():
    from tfmatrix.diagnosis.classify import find_degraded

    log = "E0000 ... AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'\n"
    degraded = find_degraded(log)
    got = blame.assign(degraded, log, facts(pins={"protobuf": "7.36.2"}, required=frozenset()))
    assert (got.cls, got.culprit) == ("degraded", "protobuf 7.36.2")
    assert got.blame.startswith("a protobuf failure is about protobuf")


def test_a_forced_pin_the_failure_does_not_point_at_is_mentioned_not_blamed():
    text = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/official/vision/serving/export_saved_model_lib.py", line 40, in export
KeyError: 'groundtruth_verified_neg_classes'
"""
    f = facts(pins={"protobuf": "7.36.2"}, forced=frozenset({"protobuf"}),
              conflicts=(ev.Conflict("tensorflow", "protobuf<5", "7.36.2"),))
    cls, culprit, why = judged(text, f)
    assert (cls, culprit) == ("python-error", blame.CANNOT_TELL)
    assert why.endswith("protobuf 7.36.2 is forced and pip check rejects it, but the failure does not point at it")
