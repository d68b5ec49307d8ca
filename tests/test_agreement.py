"""Pre-flight and classifier agree, and the evidence is the line that ended the process.

* Every real record under tests/data (known-bad/, records/v*, runs/, publish/: each combination JSON with a
  pre-flight and a failure, read through ``tfmatrix.records.store.load``) is held to the agreement: where the
  pre-flight predicted a specific class and the text the record keeps (the failure's evidence, its phases'
  exception message and traceback) shows that class's signature, the class, after
  :func:`~tfmatrix.diagnosis.classify.agree_with_prediction`, is the prediction.  Planted samples show the
  check fails where they disagree.
* The evidence of two real logs (tests/data/logs): TF 2.15 under NumPy 2 (numpy's non-fatal banner, then the
  ImportError that ended the process) and a SavedModel signature with a dynamic image size (tfmatrix's own
  ValueError, whose source line a text rule matches before its exception line).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfmatrix.diagnosis import classify
from tfmatrix.diagnosis import evidence as ev
from tfmatrix.diagnosis.classify import classify_failure, load_taxonomy, shows_signature
from tfmatrix.records.model import CombinationRecord, Failure
from tfmatrix.records.store import load

DATA = Path(__file__).parent / "data"
LOGS = DATA / "logs"
NOT_SPECIFIC = (None, "ok", "degraded")


def _records() -> list:
    out = []
    for p in sorted(DATA.rglob("*.json")):
        if json.loads(p.read_text(encoding="utf-8")).get("kind") != "combination":
            continue
        rec = load(p)
        assert isinstance(rec, CombinationRecord)
        if rec.preflight is not None and rec.failure is not None:
            out.append(pytest.param(rec, id=str(p.relative_to(DATA))))
    return out


RECORDS = _records()


def text_of(rec: CombinationRecord) -> str:
    """What a record keeps of what its failure printed: the evidence, each phase's exception and evidence."""
    assert rec.failure is not None
    parts = [rec.failure.evidence]
    for phase in rec.phases:
        exc = phase.exception or {}
        parts += [exc.get("traceback", ""), exc.get("message", "")]
        parts += [phase.failure.evidence] if phase.failure else []
    return "\n".join(p for p in parts if p)


def disagreement(failure: Failure, text: str, predicted: str | None) -> str | None:
    """Why a failure breaks the agreement with its prediction; None where it keeps it."""
    if predicted in NOT_SPECIFIC or predicted not in load_taxonomy().classes:
        return None
    if not shows_signature(load_taxonomy().rule(str(predicted)), text):
        return None  # the text does not show the predicted class: nothing to agree on
    got = classify.agree_with_prediction(failure, text, predicted)
    return None if got.cls == predicted else (f"predicted {predicted} and the text shows its signature, but the "
                                              f"failure is {got.cls}: {failure.evidence[:200]}")


@pytest.mark.parametrize("rec", RECORDS)
def test_every_real_record_agrees_with_its_prediction(rec: CombinationRecord) -> None:
    assert rec.preflight is not None and rec.failure is not None
    assert disagreement(rec.failure, text_of(rec), rec.preflight.predicted) is None


def test_the_real_records_do_put_the_agreement_to_the_test() -> None:
    """Not vacuous: records of several classes predict a specific class whose signature their text shows."""
    shown = {r.values[0].preflight.predicted for r in RECORDS
             if r.values[0].preflight.predicted not in NOT_SPECIFIC
             and shows_signature(load_taxonomy().rule(r.values[0].preflight.predicted), text_of(r.values[0]))}
    assert {"numpy-abi", "keras-mismatch", "protobuf"} <= shown


# --------------------------------------------------------------------------- planted samples

#: TF 2.16.2 + tf-models-official 2.16.0 with keras==2.15.0 forced: an exception raised in Keras 2's own code that
#: no text rule knows (the shape of the case of issue 28; the venv is gone, so the frames' paths name keras)
KERAS2_UNDER_TF216 = """Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/official/vision/serving/export_saved_model_lib.py", line 30, in <module>
    from official.core import export_base
  File "/v/lib/python3.11/site-packages/keras/src/engine/base_layer.py", line 1268, in __call__
    outputs = call_fn(inputs, *args, **kwargs)
TypeError: this __dict__ descriptor does not support '_DictWrapper' objects
"""


def _python_error(text: str) -> Failure:
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "python-error", failure  # the classifier alone does not see it
    return failure


def test_a_generic_failure_showing_the_predicted_class_takes_it() -> None:
    failure = _python_error(KERAS2_UNDER_TF216)
    got = classify.agree_with_prediction(failure, KERAS2_UNDER_TF216, "keras-mismatch")
    rule = load_taxonomy().rule("keras-mismatch")
    assert (got.cls, got.explanation, got.fix) == ("keras-mismatch", rule.explanation, rule.fix)
    assert got.evidence == failure.evidence == ("TypeError: this __dict__ descriptor does not support '_DictWrapper' "
                                                "objects (raised in keras/src/engine/base_layer.py:1268)")
    assert disagreement(failure, KERAS2_UNDER_TF216, "keras-mismatch") is None


def test_the_check_fails_where_the_agreement_is_not_made(monkeypatch) -> None:
    """The stub that came before (the failure as it is) would fail the check on the same sample."""
    failure = _python_error(KERAS2_UNDER_TF216)
    monkeypatch.setattr(classify, "agree_with_prediction", lambda failure, text, predicted: failure)
    assert "the failure is python-error" in str(disagreement(failure, KERAS2_UNDER_TF216, "keras-mismatch"))


def test_the_check_fails_on_a_specific_class_that_contradicts_the_prediction() -> None:
    """A record that names another specific class although the predicted one shows: a disagreement, reported."""
    planted = Failure("protobuf", "AttributeError: module 'keras.src.backend' has no attribute 'tf'", "", "")
    text = "AttributeError: module 'keras.src.backend' has no attribute 'tf'"
    assert classify.agree_with_prediction(planted, text, "keras-mismatch").cls == "protobuf"  # specific: kept
    assert "the failure is protobuf" in str(disagreement(planted, text, "keras-mismatch"))


def test_a_prediction_the_text_does_not_show_changes_nothing() -> None:
    text = "Traceback (most recent call last):\n  File \"/x/run.py\", line 3, in f\nKeyError: 'boxes'\n"
    failure = _python_error(text)
    assert not shows_signature(load_taxonomy().rule("numpy-abi"), text)
    assert classify.agree_with_prediction(failure, text, "numpy-abi") == failure
    assert disagreement(failure, text, "numpy-abi") is None
    for predicted in NOT_SPECIFIC:
        assert classify.agree_with_prediction(failure, KERAS2_UNDER_TF216, predicted) == failure


# --------------------------------------------------------------------------- the line that ended the process


@pytest.fixture
def gone(monkeypatch) -> None:
    """The logs' venvs as a record read elsewhere sees them: gone (frames keep their module paths)."""
    monkeypatch.setattr(ev, "distribution_of", lambda path: None)


def test_numpy2_under_tf215_the_import_error_that_ended_it_with_the_banner_as_context(gone) -> None:
    """The real log (tf2.15-numpy2-cpu, export phase, trimmed): numpy's banner and its non-fatal tracebacks, then
    the ImportError the worker's step died of."""
    text = (LOGS / "tf2.15-numpy2-cpu-export.log").read_text(encoding="utf-8")
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "numpy-abi"
    assert failure.evidence == ("ImportError: numpy.core.umath failed to import (raised in ml_dtypes/_finfo.py:19); "
                                "printed before it: A module that was compiled using NumPy 1.x cannot be run in "
                                "NumPy 2.4.6 as it may crash.")


def test_numpy2_removed_attribute_is_the_evidence_over_the_banner(gone) -> None:
    """The other way TF 2.15 dies under NumPy 2: an attribute NumPy 2 removed (the log's banner, then its last
    traceback ending in that exception instead)."""
    log = (LOGS / "tf2.15-numpy2-cpu-export.log").read_text(encoding="utf-8").splitlines()
    last = max(i for i, ln in enumerate(log) if ln == "Traceback (most recent call last):")
    text = "\n".join(log[:14] + log[last:-1] + ["AttributeError: `np.complex_` was removed in the NumPy 2.0 release. "
                                                 "Use `np.complex128` instead."])
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "numpy-abi"
    assert failure.evidence == ("AttributeError: `np.complex_` was removed in the NumPy 2.0 release. Use "
                                "`np.complex128` instead. (raised in ml_dtypes/_finfo.py:19); printed before it: A "
                                "module that was compiled using NumPy 1.x cannot be run in NumPy 2.4.6 as it may crash.")
    without_banner = "\n".join(log[last:-1] + [text.splitlines()[-1]])
    assert classify_failure(status="error", text=without_banner).cls == "numpy-abi"  # its own text rule


def test_tfmatrix_own_user_error_is_its_message_never_its_source_line() -> None:
    """The real output of the worker's run_step for a SavedModel whose signature leaves the image size dynamic
    and a matrix that gives no input_size (the text rule matches the `raise` source line first)."""
    text = (LOGS / "saved-model-dynamic-size.log").read_text(encoding="utf-8")
    assert 'raise ValueError(f"input {name!r} has shape' in text
    failure = classify_failure(status="error", text=text)
    assert failure.cls == "saved-model-signature"
    assert failure.evidence == ("ValueError: input 'images' has shape [-1, -1, -1, 3]: the signature leaves the "
                                "image size dynamic; set input_size in the matrix")
