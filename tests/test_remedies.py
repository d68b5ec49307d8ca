"""The candidate generator (tfmatrix.diagnosis.cures, .remedies) over recorded facts: every class it cures, the
smallest-first order, no candidate twice, and the computed fix line a failed record shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tfmatrix.diagnosis import blame, remedies
from tfmatrix.diagnosis import evidence as ev
from tfmatrix.diagnosis.cures import candidates
from tfmatrix.records.model import CombinationInfo, Failure
from tfmatrix.records.store import load

DATA = Path(__file__).parent / "data"
KNOWN_BAD = DATA / "known-bad" / "20261203T131859Z-00389d"


def info(cid: str, tensorflow: str, force: tuple[str, ...] = (), requires: tuple[str, ...] = (),
         garden: str | None = None, python: str = "3.11") -> CombinationInfo:
    reqs = (f"tensorflow=={tensorflow}",) + ((f"tf-models-official=={garden}",) if garden else ()) + requires
    return CombinationInfo(id=cid, tensorflow=tensorflow, tensorflow_id=cid.rsplit("-", 1)[0], models_official=garden,
                           stack="cpu", stack_kind="cpu", python=python, requirements=reqs, force=force)


def facts(combo: CombinationInfo, pins: dict[str, str], conflicts: tuple[ev.Conflict, ...] = ()) -> blame.Facts:
    return blame.Facts(python=combo.python, tensorflow=combo.tensorflow, pins=pins,
                       forced=frozenset(ev.names(combo.force)), required=frozenset(ev.names(combo.requirements)),
                       conflicts=conflicts, combination=combo)


def failure(cls: str, culprit: str, evidence: str = "", blame_text: str = "") -> Failure:
    return Failure(cls, evidence, "why", "the class's own sentence", culprit, blame_text)


def index_of(table: dict[str, list[str]]):
    return lambda package, python: sorted(Version(v) for v in table.get(package, []))


# ---------------------------------------------------------------- the two cases of the issue, as new users met them

MLDTYPES = info("tf2.18-mldtypes032-cpu", "2.18.1", force=("ml-dtypes==0.3.2",), garden="2.18.0")
MLDTYPES_FACTS = facts(MLDTYPES, {"tensorflow": "2.18.1", "ml-dtypes": "0.3.2", "numpy": "2.0.2"},
                       (ev.Conflict("tensorflow", "ml-dtypes<1.0.0,>=0.4.0", "0.3.2"),))
KERAS = info("tf2.16-keras215-cpu", "2.16.2", force=("keras==2.15.0",), garden="2.16.0")
KERAS_FACTS = facts(KERAS, {"tensorflow": "2.16.2", "keras": "2.15.0", "numpy": "1.26.4"},
                    (ev.Conflict("tensorflow", "keras>=3.0.0", "2.15.0"),))


def test_a_forced_pin_below_the_declared_range_gets_that_range_as_its_fix_line():
    got = remedies.with_fix(failure("numpy-abi", "ml-dtypes 0.3.2"), MLDTYPES_FACTS)
    assert got.fix == ("ml-dtypes 0.3.2 → >=0.4.0,<1.0.0 (tensorflow 2.18.1 requires it); not yet verified: "
                       "`nox -s fix -- tf2.18-mldtypes032-cpu`")


def test_keras_2_under_a_keras_3_tensorflow_gets_keras_3_as_its_fix_line():
    got = remedies.with_fix(failure("keras-mismatch", "keras 2.15.0"), KERAS_FACTS)
    assert got.fix.startswith("keras 2.15.0 → >=3.0.0 (tensorflow 2.16.2 requires it); not yet verified")


def test_a_protobuf_fix_cites_the_tensorflow_of_the_record_not_a_fixed_release():
    for tf, pins_protobuf, low in (("2.15.1", "7.36.2", "<5.0.0"), ("2.20.0", "4.25.9", ">=5.28.0")):
        combo = info(f"tf{tf[:4]}-pb-cpu", tf, force=("protobuf==" + pins_protobuf,))
        f = facts(combo, {"tensorflow": tf, "protobuf": pins_protobuf})  # no pip check: TensorFlow's own range
        line = remedies.with_fix(failure("protobuf", f"protobuf {pins_protobuf}"), f).fix
        assert f"(tensorflow {tf} requires it)" in line and low in line, line


def test_where_nothing_computed_applies_the_class_sentence_stays():
    combo = info("tf2.20-cpu", "2.20.0")
    got = remedies.with_fix(failure("segfault", "cannot tell"), facts(combo, {"tensorflow": "2.20.0"}))
    assert got.fix == "the class's own sentence"


# ---------------------------------------------------------------- every class, from real records


def real(name: str):
    rec = load(KNOWN_BAD / name)
    return rec, blame.Facts.of(rec.combination, rec.install, rec.resolved_pins, rec.preflight)


def test_keras3_forced_under_tf215_moves_keras_into_the_range_tensorflow_declares():
    rec, f = real("tf2.15-keras3-cpu-py3.11.json")
    (first, *_) = candidates(rec.failure, f)
    assert first.kind == "into-range" and first.changes[0].package == "keras"
    assert first.changes[0].after == ">=2.15.0,<2.16" and first.changes[0].forced == "keras>=3"


def test_the_tightest_bound_of_several_declared_ranges():
    rec, f = real("tf2.20-protobuf4-cpu-py3.11.json")
    (first, *_) = candidates(rec.failure, f)
    assert first.changes[0].after == ">=6.33.5,<8.0.0"  # google-api-core's floor is above TensorFlow's own


def test_a_build_failure_with_no_wheel_in_range_offers_only_what_it_is_allowed():
    rec, f = real("tf2.12-cpu-py3.11.json")
    words = "`tf-models-official` (v2.12.1) depends on `pyyaml>=5.1,<6.0`"
    index = index_of({"pyyaml": ["6.0.1", "6.0.2"], "tensorflow": ["2.12.1"]})
    assert candidates(rec.failure, f, index=index, installer_words=words) == []  # no pyyaml<6 wheel for 3.11
    pythons = candidates(rec.failure, f, index=lambda p, py: [Version("2.12.1"), Version("5.4.1")] if py == "3.9"
                         else [], installer_words=words, allow=["python"])
    assert [c.changes[0].after for c in pythons] == ["3.9"]  # the Python with both wheels; 3.10 has none


def test_no_interpreter_offers_the_nearest_pythons_tensorflow_is_tested_on_that_are_here():
    rec, f = real("tf2.20-cpu-py3.12.json")
    got = candidates(rec.failure, f, allow=["python"], python_available=lambda py: py in ("3.11", "3.10"))
    assert [c.changes[0].after for c in got] == ["3.11", "3.10"]
    assert candidates(rec.failure, f) == []  # a Python change must be allowed


def test_a_build_failure_of_a_forced_pin_drops_it():
    combo = info("tf2.15-pyyaml54-cpu", "2.15.1", force=("pyyaml==5.4.1",), garden="2.15.0")
    words = "Failed to build `pyyaml==5.4.1`; help: `tf-models-official` (v2.15.0) depends on `pyyaml>=6.0.0`"
    (first,) = candidates(failure("build-failed", "pyyaml 5.4.1"), facts(combo, {}), installer_words=words)
    assert (first.kind, first.changes[0].after, first.changes[0].before) == ("into-range", ">=6.0.0", "5.4.1")


def test_companions_off_tensorflows_minor_are_aligned():
    combo = info("tf2.16-cpu", "2.16.2", garden="2.15.0")
    f = facts(combo, {"tensorflow": "2.16.2", "tf-models-official": "2.15.0", "tf-keras": "2.17.0"})
    (only,) = candidates(failure("python-error", "cannot tell"), f,
                         index=index_of({"tf-models-official": ["2.15.0", "2.16.0"], "tf-keras": ["2.16.0", "2.17.0"]}))
    assert only.kind == "companions"
    assert {(c.package, c.after) for c in only.changes} == {("tf-models-official", "==2.16.0"), ("tf-keras", "==2.16.0")}


def test_a_passing_sibling_of_the_same_release_gives_the_version_it_resolved():
    combo = info("fix-1-cpu", "2.15.1", requires=("protobuf>=3.20.3,<5",), garden="2.15.0")
    f = facts(combo, {"tensorflow": "2.15.1", "protobuf": "4.25.9", "tensorflow-metadata": "1.21.0"})
    fl = failure("protobuf", "protobuf 4.25.9", "ImportError: cannot import name 'runtime_version' from "
                 "'google.protobuf' (raised in tfmd/proto/x_pb2.py:9 (tensorflow-metadata 1.21.0))")
    sib = remedies.Sibling("tf2.15-cpu (ok in run r)", {"protobuf": "4.25.9", "tensorflow-metadata": "1.17.1"})
    got = candidates(fl, f, siblings=[sib])
    assert [(c.kind, c.changes[0].package, c.changes[0].after) for c in got] == [
        ("companions", "tensorflow-metadata", "==1.17.1")]
    assert got[0].why == "as tf2.15-cpu (ok in run r) resolved it"


def test_a_cudnn_mismatch_offers_the_cudnn_tensorflow_was_built_for_as_a_gpu_side_change():
    combo = info("tf2.18-cudnn8-cuda-pip", "2.18.1", force=("nvidia-cudnn-cu12==8.9.7.29",), garden="2.18.0")
    f = facts(combo, {"tensorflow": "2.18.1", "nvidia-cudnn-cu12": "8.9.7.29"})
    got = candidates(failure("cudnn-mismatch", "nvidia-cudnn-cu12 8.9.7.29"), f)
    assert any(c.gpu and c.changes[0].after.startswith("==9.") for c in got)
    assert got[0].changes[0].package == "nvidia-cudnn-cu12"


# ---------------------------------------------------------------- order, and no repeats


def test_smallest_first_fewest_packages_then_distance_then_kind():
    one_far = remedies.Candidate("into-range", (remedies.PinChange("a", "1.0", ">=3"),), "x", 2e6)
    one_near = remedies.Candidate("newest-in-range", (remedies.PinChange("a", "1.0", "==1.1"),), "x", 1e3)
    two = remedies.Candidate("companions", (remedies.PinChange("b", "1", "==2"), remedies.PinChange("c", "1", "==2")),
                             "x", 0.0)
    assert sorted([two, one_far, one_near], key=lambda c: c.order) == [one_near, one_far, two]


PACKAGES = st.sampled_from(["numpy", "protobuf", "keras", "ml-dtypes", "tf-keras", "tensorflow-text"])
VERSIONS = st.sampled_from(["0.3.2", "1.26.4", "2.0.2", "2.15.0", "2.16.0", "3.5.0", "4.25.9", "7.36.2"])


@settings(max_examples=150, deadline=None)
@given(forced=st.lists(st.tuples(PACKAGES, VERSIONS), max_size=3, unique_by=lambda t: t[0]),
       conflicts=st.lists(st.tuples(PACKAGES, VERSIONS, VERSIONS), max_size=4),
       tf=st.sampled_from(["2.15.1", "2.16.2", "2.18.1", "2.20.0"]), culprit=PACKAGES,
       cls=st.sampled_from(["numpy-abi", "protobuf", "keras-mismatch", "no-wheel", "build-failed", "python-error"]))
def test_no_candidate_repeats_and_the_list_is_smallest_first(forced, conflicts, tf, culprit, cls):
    combo = info("c-cpu", tf, force=tuple(f"{p}=={v}" for p, v in forced), garden=tf[:4] + ".0")
    pins = {"tensorflow": tf, **{p: v for p, v in forced}, **{p: have for p, _, have in conflicts}}
    f = facts(combo, pins, tuple(ev.Conflict("tensorflow", f"{p}>={low}", have) for p, low, have in conflicts))
    index = index_of({p: ["0.3.2", "0.4.0", "1.26.4", "2.15.0", "3.5.0", "4.25.9"] for p in pins})
    got = candidates(failure(cls, f"{culprit} {pins.get(culprit, '1.0')}"), f, index=index, allow=["python"])
    assert len({c.key for c in got}) == len(got)
    assert [c.order for c in got] == sorted(c.order for c in got)
    assert all(c.changes and c.line for c in got)


def test_a_candidate_then_another_keeps_both_changes_and_the_later_wins_a_shared_package():
    a = remedies.Candidate("into-range", (remedies.PinChange("protobuf", "7.36.2", "<5", "protobuf>=7"),), "tf", 1.0)
    b = remedies.Candidate("companions", (remedies.PinChange("tensorflow-metadata", "1.21.0", "==1.17.1"),), "sib", 2.0)
    both = a.then(b)
    assert [c.package for c in both.changes] == ["protobuf", "tensorflow-metadata"] and both.distance == 3.0
    again = both.then(dataclasses.replace(a, changes=(remedies.PinChange("protobuf", "4.25.9", "==4.25.8"),)))
    assert {(c.package, c.after) for c in again.changes} == {("tensorflow-metadata", "==1.17.1"),
                                                             ("protobuf", "==4.25.8")}


@pytest.mark.parametrize("culprit, name", [("ml-dtypes 0.3.2", "ml-dtypes"), ("Python 3.12", "python"),
                                           ("cannot tell", None), ("", None), ("PyYAML 5.4.1", "pyyaml")])
def test_culprit_names(culprit, name):
    assert remedies.culprit_name(culprit) == name


def test_the_gpu_side_a_cuda_system_failure_offers_the_cuda_pip_stack():
    combo = dataclasses.replace(info("tf2.18-cuda-system", "2.18.1", garden="2.18.0"), stack="cuda-system",
                                stack_kind="cuda-system")
    f = facts(combo, {"tensorflow": "2.18.1"})
    got = candidates(failure("cuda-lib-missing", "cannot tell"), f, cuda_pip_stacks=["cuda-pip"])
    assert [(c.kind, c.changes[0].package, c.changes[0].after, c.gpu) for c in got] == [
        ("stack", "stack", "cuda-pip", True)]


def test_the_gpu_side_a_driver_too_old_for_the_release_offers_the_nearest_release_it_runs_when_allowed():
    from tfmatrix.diagnosis import compat

    configs = compat.load_compat().tensorflow
    newest = configs[-1]
    floor = compat.driver_floor(newest.cuda_exact)
    older = [c for c in configs if compat.driver_floor(c.cuda_exact) != floor]
    assert older, "the compat data has one CUDA floor for every release: nothing to test"
    driver = compat.driver_floor(older[-1].cuda_exact)  # runs the older release's CUDA, not the newest's
    combo = dataclasses.replace(info("t-cuda-pip", f"{newest.tf}.0"), stack="cuda-pip", stack_kind="cuda-pip")
    f = facts(combo, {"tensorflow": f"{newest.tf}.0"})
    fl = failure("no-gpu", "cannot tell")
    assert candidates(fl, f, driver=driver) == []  # another release must be allowed
    (got,) = candidates(fl, f, driver=driver, allow=["tensorflow"],
                        index=lambda p, py: [Version(f"{older[-1].tf}.0"), Version(f"{older[-1].tf}.1")])
    assert got.gpu and got.kind == "tensorflow" and got.changes[0].after == f"{older[-1].tf}.1"
    assert f"driver {driver} runs" in got.why


# ---------------------------------------------------------------- the real failed records of tests/data/fix-cases

FIX_CASES = DATA / "fix-cases"
EXPECTED_FIX_LINES = {
    "tf2.15-numpy2-cpu": "numpy 2.4.6 → >=1.23.5,<2.0.0 (tensorflow 2.15.1 requires",
    "tf2.15-protobuf7-cpu": "protobuf 7.36.2 → >=3.20.3,<5.0.0.dev0 (tensorflow 2.15.1 requires it)",
    "tf2.18-mldtypes032-cpu": "ml-dtypes 0.3.2 → >=0.4.0,<1.0.0 (tensorflow 2.18.1 requires it)",
    "tf2.16-keras215-cpu": "keras 2.15.0 → >=3.0.0 (tensorflow 2.16.2 requires it)",
    "tf2.15-keras3-cpu": "keras 3.15.1 → >=2.15.0,<2.16 (tensorflow 2.15.1 requires it)",
    "tf2.15-pyyaml54-cpu": "pyyaml 5.4.1 → the resolver's choice (forced pyyaml==5.4.1 dropped)",
}


@pytest.mark.parametrize("cid", sorted(EXPECTED_FIX_LINES))
def test_each_real_failed_record_gets_its_computed_fix_line(cid):
    rec = load(FIX_CASES / f"{cid}.json")
    f = blame.Facts.of(rec.combination, rec.install, rec.resolved_pins, rec.preflight)
    line = remedies.with_fix(rec.failure, f).fix
    assert line.startswith(EXPECTED_FIX_LINES[cid]), line
    assert line.endswith(f"not yet verified: `nox -s fix -- {cid}`")


def test_a_real_record_no_pin_change_can_cure_keeps_its_class_sentence_until_another_release_is_allowed():
    rec = load(FIX_CASES / "tf2.12-cpu.json")
    f = blame.Facts.of(rec.combination, rec.install, rec.resolved_pins, rec.preflight)
    assert remedies.with_fix(rec.failure, f).fix == rec.failure.fix and "`nox -s fix" not in rec.failure.fix
    assert candidates(rec.failure, f, index=index_of({"pyyaml": ["6.0.1", "6.0.2"]})) == []
