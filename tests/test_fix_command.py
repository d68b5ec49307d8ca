"""``nox -s fix``'s command end to end, with a recorded index answer and a fake nox that writes scripted records
(the real nox and TensorFlow run in test_integration_fix.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synthetic
from packaging.version import Version

from tfmatrix.bisection.probes import MATRIX_ENV, PROFILE
from tfmatrix.errors import TfmatrixError
from tfmatrix.fixing import command, state
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.model import CombinationInfo, CombinationRecord, Failure, InstallOutcome
from tfmatrix.records.store import RUN_ID_ENV, RunDir
from tfmatrix.run.noxside.context import PROFILE_ENV
from tfmatrix.run.noxside.interrupts import Interrupted
from tfmatrix.run.noxside.options import Options

ROOT = Path(__file__).resolve().parent.parent
FAILED_RUN = "20261207T040000Z-000001"
PROBE_RUN = "20261207T050000Z-000002"
INDEX = {"tensorflow": ["2.12.1", "2.13.1", "2.14.1", "2.15.1", "2.16.2", "2.17.1", "2.18.1", "2.19.1", "2.20.0"],
         "tf-models-official": ["2.12.1", "2.13.2", "2.14.2", "2.15.0", "2.16.0", "2.17.0", "2.18.0", "2.19.1",
                                "2.20.0"],
         "numpy": ["1.26.4", "2.0.2", "2.4.6"], "protobuf": ["4.25.8", "4.25.9", "7.36.2"]}


def lister(package, python, *, pre, index_url=None):
    return sorted(Version(v) for v in INDEX.get(package, []))


class FakeNox:
    """Stands in for ``nox -s bench(fix-N…)``: reads the probe's entry from the matrix written for it, writes the
    record ``script(entry, import_only)`` gives."""

    def __init__(self, script):
        self.script, self.calls = script, []

    def __call__(self, argv, env, cwd, log):
        assert env[PROFILE_ENV] == PROFILE and Path(env[MATRIX_ENV]).is_file()
        matrix = load_matrix(env[MATRIX_ENV])  # a valid matrix
        words = argv[argv.index("--") + 1:]
        for cid in (a[len("bench("):-1] for a in argv if a.startswith("bench(")):
            combo = next(c for c in combinations(matrix, PROFILE) if c.id == cid)
            import_only = "--import-only" in words
            self.calls.append((combo.tf, import_only, words))
            status, fail, pins = self.script(combo.tf, import_only)
            rec = synthetic.record(cid, status, failure=fail, models=())
            rec.run_id = env[RUN_ID_ENV]
            rec.combination = CombinationInfo.of(Options(import_only=import_only).narrow(combo))
            rec.resolved_pins = [f"{k}=={v}" for k, v in pins.items()]
            rec.reason = f"{fail.cls}: {fail.evidence}" if fail else ""
            rec.started_at = rec.ended_at = "2026-12-07T05:00:00+00:00"
            run = RunDir(Path(env["TFMATRIX_RESULTS"]), env[RUN_ID_ENV])
            run.path.mkdir(parents=True, exist_ok=True)
            run.write_record(rec)
        return 0


def failed(results: Path, cid: str, tf: str, *, force=(), requires=(), pins=None, failure: Failure,
           status="failed", check="", run_id=FAILED_RUN) -> CombinationRecord:
    """The failed record the search starts from (as bench wrote it)."""
    matrix = load_matrix(ROOT / "matrix.yaml")
    combo = next(c for c in combinations(matrix, "all") if c.id == cid)
    rec = synthetic.record(cid, status, failure=failure, models=())
    rec.run_id, rec.combination = run_id, CombinationInfo.of(combo)
    rec.started_at = rec.ended_at = "2026-12-07T04:00:00+00:00"
    rec.install = InstallOutcome("uv", ok=status != "install-failed", check_ok=not check, check_output=check)
    rec.resolved_pins = [f"{k}=={v}" for k, v in (pins or {}).items()]
    if status == "failed":  # at import
        rec.phases = [synthetic.phase("import", None, status="error", samples=(), failure=failure)]
    run = RunDir(results, run_id)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_record(rec)
    return rec


def argv(tmp_path, *words, run_id=PROBE_RUN, matrix=ROOT / "matrix.yaml"):
    return [*words, "--matrix", str(matrix), "--root", str(ROOT), "--results",
            str(tmp_path / "results"), "--run-id", run_id, "--nox-python", "python"]


NUMPY = Failure("numpy-abi", "ImportError: numpy.core.umath failed to import", "x", "y", "numpy 2.4.6", "forced")
NUMPY_CHECK = "The package `tensorflow` requires `numpy>=1.23.5,<2.0.0`, but `2.4.6` is installed"
OK_PINS = {"tensorflow": "2.15.1", "numpy": "1.26.4", "protobuf": "4.25.9", "tensorflow-metadata": "1.17.1"}


def numpy_fixed_when_unforced(tf, import_only):
    if any(r.startswith("numpy>=2") for r in tf.force):
        return "failed", NUMPY, {"numpy": "2.4.6"}
    return "ok", None, OK_PINS


def quiet(line):
    pass


def test_the_forced_numpy_is_fixed_by_the_first_candidate_import_only_then_quick(tmp_path):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY,
           check=NUMPY_CHECK)
    nox = FakeNox(numpy_fixed_when_unforced)
    lines: list[str] = []
    search, status = command.main(argv(tmp_path, "tf2.15-numpy2-cpu"), lister=lister, runner=nox, say=lines.append)
    assert status == 0 and search.ending == "fixed" and search.probes == 2
    assert [(t.stage, t.status) for t in search.tried] == [("import-only", "ok"), ("quick", "ok")]
    assert [(tf.force, import_only) for tf, import_only, _ in nox.calls] == [((), True), ((), False)]
    assert "numpy>=1.23.5,<2.0.0" in nox.calls[0][0].requires  # moved into TensorFlow's declared range
    fix = search.fix
    assert fix is not None and fix.line == "numpy 2.4.6 → >=1.23.5,<2.0.0 (tensorflow 2.15.1 requires it)"
    out = lines[-1]
    assert "  - numpy 2.4.6   (forced: numpy>=2)" in out and "  + numpy 1.26.4   (>=1.23.5,<2.0.0)" in out
    assert "numpy==1.26.4  # was 2.4.6" in out  # requirements.txt, at the version the proof installed
    assert "- id: tf2.15-numpy2" in out and "force:" not in out.split("matrix.yaml")[1].split("requirements")[0]
    saved = json.loads(state.state_path(RunDir(tmp_path / "results", FAILED_RUN), "tf2.15-numpy2-cpu").read_text())
    assert saved["ending"] == "fixed" and [t["run_id"] for t in saved["tried"]] == [PROBE_RUN, PROBE_RUN]
    assert saved["proof"] and all(Path(p).is_file() for p in saved["proof"])


PROTO7 = Failure("degraded", "AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'", "x", "y",
                 "protobuf 7.36.2", "forced")
RUNTIME = Failure("degraded", "ERROR:absl:cannot import name 'runtime_version' from 'google.protobuf' (raised in "
                  "tensorflow_metadata/proto/v0/schema_pb2.py:9 (tensorflow-metadata 1.21.0))", "x", "y",
                  "protobuf 4.25.9", "a protobuf failure is about protobuf")


def test_a_probe_that_fails_another_way_adds_what_a_passing_sibling_resolved(tmp_path):
    results = tmp_path / "results"
    sib = synthetic.record("tf2.15-cpu", "ok", models=())
    sib.run_id, sib.resolved_pins = "20261206T000000Z-000009", [f"{k}=={v}" for k, v in OK_PINS.items()]
    sib.started_at = sib.ended_at = "2026-12-06T00:00:00+00:00"
    sib.combination = CombinationInfo.of(next(c for c in combinations(load_matrix(ROOT / "matrix.yaml"), "all")
                                              if c.id == "tf2.15-cpu"))
    RunDir(results, sib.run_id).path.mkdir(parents=True)
    RunDir(results, sib.run_id).write_record(sib)
    failed(results, "tf2.15-protobuf7-cpu", "2.15.1", pins={"protobuf": "7.36.2", "tensorflow-metadata": "1.21.0"},
           failure=PROTO7, status="degraded",
           check="The package `tensorflow` requires `protobuf>=3.20.3,!=4.21.0,<5.0.0.dev0`, but `7.36.2` is installed")

    def script(tf, import_only):
        if any(r.startswith("protobuf>=7") for r in tf.force):
            return "degraded", PROTO7, {"protobuf": "7.36.2"}
        if not any(r.startswith("tensorflow-metadata==1.17") for r in tf.requires):
            return "degraded", RUNTIME, {"protobuf": "4.25.9", "tensorflow-metadata": "1.21.0"}
        return "ok", None, OK_PINS

    search, status = command.main(argv(tmp_path, "tf2.15-protobuf7-cpu"), lister=lister, runner=FakeNox(script),
                                  say=quiet)
    assert status == 0 and search.probes <= 3  # degraded at load, not at import: no import-only probe
    assert all(t.stage == "quick" for t in search.tried)
    assert {(c.package, c.after) for c in search.fix.changes} >= {("tensorflow-metadata", "==1.17.1")}
    assert any(c.package == "protobuf" and c.after.startswith(">=3.20.3") for c in search.fix.changes)


def test_no_fix_within_max_probes_says_so_with_what_it_tried_and_resume_goes_on(tmp_path):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY,
           check=NUMPY_CHECK)
    never = FakeNox(lambda tf, import_only: ("failed", NUMPY, {"numpy": "1.26.3"}))
    search, status = command.main(argv(tmp_path, "tf2.15-numpy2-cpu", "--max-probes", "1"), lister=lister,
                                  runner=never, say=quiet)
    assert status == 1 and search.ending == "not-found" and search.probes == 1
    assert search.notes == ["stopped after 1 probes (--max-probes 1)"]
    later = FakeNox(numpy_fixed_when_unforced)
    search, status = command.main(argv(tmp_path, "tf2.15-numpy2-cpu", "--resume", run_id="20261207T060000Z-000003"),
                                  lister=lister, runner=later, say=quiet)
    assert search.probe_run == PROBE_RUN  # the resumed search keeps its probes' run
    assert [t.number for t in search.tried][:1] == [1] and search.probes > 1
    assert status == 0 and search.fix.kind == "newest-in-range"  # #1 failed before: the next candidate


def test_a_search_that_runs_out_of_candidates_says_every_one_was_tried(tmp_path):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY,
           check=NUMPY_CHECK)
    never = FakeNox(lambda tf, import_only: ("failed", NUMPY, {"numpy": "1.26.4"}))
    search, status = command.main(argv(tmp_path, "tf2.15-numpy2-cpu"), lister=lister, runner=never, say=quiet)
    assert status == 1 and search.ending == "not-found" and search.probes == 1  # ==1.26.4 is what #1 installed
    assert search.notes == ["tried every candidate the facts give (1); none passed"]


def test_an_interrupted_probe_is_recorded_and_the_search_saved(tmp_path):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY,
           check=NUMPY_CHECK)

    def stop(argv_, env, cwd, log):
        raise Interrupted("SIGINT")

    with pytest.raises(Interrupted):
        command.main(argv(tmp_path, "tf2.15-numpy2-cpu"), lister=lister, runner=stop, say=quiet)
    saved = state.read(RunDir(tmp_path / "results", FAILED_RUN), "tf2.15-numpy2-cpu")
    assert saved is not None and saved.ending == "interrupted"


BUILD = Failure("build-failed", "Failed to build pyyaml==5.4.1; AttributeError: 'build_ext' object has no attribute "
                "'cython_sources'", "x", "y", "pyyaml 5.4.1", "built from source")


def tf_only(tf, import_only):
    if tf.version.startswith("2.12"):
        return "install-failed", BUILD, {}
    return "ok", None, {"tensorflow": tf.version, "pyyaml": "6.0.2"}


def test_a_case_only_another_tensorflow_fixes_is_found_with_allow_tensorflow_and_not_without(tmp_path):
    failed_212(tmp_path / "results")
    search, status = command.main(argv(tmp_path, "tf2.12-cpu", matrix=CASES), lister=lister, runner=FakeNox(tf_only),
                                  say=quiet)
    assert status == 1 and search.ending == "no-candidate" and search.probes == 0
    assert "another TensorFlow release (--allow tensorflow)" in search.notes[-1]
    nox = FakeNox(tf_only)
    search, status = command.main(argv(tmp_path, "tf2.12-cpu", "--allow", "tensorflow", matrix=CASES), lister=lister,
                                  runner=nox, say=quiet)
    assert status == 0 and search.fix.kind == "tensorflow"
    assert {(c.package, c.after) for c in search.fix.changes} == {("tensorflow", "2.13.1"),
                                                                  ("tf-models-official", "==2.13.2")}
    lines: list[str] = []
    command.main(argv(tmp_path, "tf2.12-cpu", "--allow", "tensorflow", matrix=CASES), lister=lister, runner=nox,
                 say=lines.append)
    fragment = lines[-1].split("matrix.yaml (replaces the entry):")[1].split("requirements.txt")[0]
    assert "- id: tf2.12\n    version: 2.13.1\n    models_official: 2.13.2" in fragment  # its id kept
    assert search.probes == 1  # the nearest newer release passed at once (its --quick probe is its verdict)


CASES = ROOT / "examples" / "fix-cases.yaml"


def failed_212(results):
    combo = next(c for c in combinations(load_matrix(CASES), "all") if c.id == "tf2.12-cpu")
    rec = synthetic.record("tf2.12-cpu", "install-failed", failure=BUILD, models=())
    rec.run_id, rec.combination = FAILED_RUN, CombinationInfo.of(combo)
    rec.started_at = rec.ended_at = "2026-12-07T04:00:00+00:00"
    rec.install = InstallOutcome("uv", ok=False, error="help: `tf-models-official` (v2.12.1) depends on `pyyaml>=5.1,<6.0`")
    RunDir(results, FAILED_RUN).path.mkdir(parents=True, exist_ok=True)
    RunDir(results, FAILED_RUN).write_record(rec)


def test_a_gpu_combination_without_a_gpu_prints_its_candidates_unverified(tmp_path):
    cudnn = Failure("cudnn-mismatch", "Loaded runtime CuDNN library: 8.9.7 but source was compiled with: 9.3.0", "x",
                    "y", "nvidia-cudnn-cu12 8.9.7.29", "forced")
    failed(tmp_path / "results", "tf2.18-cudnn8-cuda-pip", "2.18.1", pins={"nvidia-cudnn-cu12": "8.9.7.29"},
           failure=cudnn)
    lines: list[str] = []
    search, status = command.main(argv(tmp_path, "tf2.18-cudnn8-cuda-pip"), lister=lister,
                                  runner=FakeNox(lambda tf, i: pytest.fail("no probe without a GPU")),
                                  say=lines.append, gpu_visible=lambda: False)
    assert status == 1 and search.ending == "unverified" and search.unverified
    assert "unverified: nvidia-cudnn-cu12 8.9.7.29 →" in lines[-1] and "no GPU is visible here" in lines[-1]


@pytest.mark.parametrize("words, said", [
    (["tf2.15-cpu"], "status: got ok; expected a failed, degraded or install-failed combination"),
    (["nope-cpu"], "fix: nope-cpu: no record in any run"),
    (["tf2.15-numpy2-cpu", "--allow", "numpy"], "fix --allow: got numpy; expected a comma-separated list of python, "
                                                 "tensorflow"),
    (["tf2.15-numpy2-cpu", "--max-probes", "0"], "fix --max-probes: got 0; expected 1 or more"),
])
def test_bad_words_are_one_line_errors(tmp_path, words, said):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY)
    ok = synthetic.record("tf2.15-cpu", "ok", models=())
    ok.run_id, ok.started_at, ok.ended_at = FAILED_RUN, "2026-12-07T04:00:00+00:00", "2026-12-07T04:00:00+00:00"
    RunDir(tmp_path / "results", FAILED_RUN).write_record(ok)
    with pytest.raises(TfmatrixError) as got:
        command.main(argv(tmp_path, *words), lister=lister, runner=FakeNox(numpy_fixed_when_unforced), say=quiet)
    assert said in str(got.value) and "\n" not in str(got.value)


MLDTYPES = Failure("numpy-abi", "ImportError: numpy.core.umath failed to import", "x", "y", "ml-dtypes 0.3.2", "forced")
GENCODE = Failure("degraded", "ERROR:absl:Detected incompatible Protobuf Gencode/Runtime versions when loading "
                  "tensorflow_metadata/proto/v0/anomalies.proto: gencode 6.31.1 runtime 5.29.6.", "x", "y",
                  "protobuf 5.29.6", "a protobuf failure is about protobuf")
TFMD = ["1.14.0", "1.15.0", "1.16.1", "1.17.1", "1.18.0", "1.19.0", "1.20.0", "1.21.0"]


def test_a_probe_failing_in_a_named_library_searches_that_librarys_older_releases(tmp_path, monkeypatch):
    INDEX_MORE = {**INDEX, "tensorflow-metadata": TFMD, "ml-dtypes": ["0.3.2", "0.4.1", "0.5.1"],
                  "protobuf": ["5.29.6"]}
    monkeypatch.setitem(globals(), "INDEX", INDEX_MORE)
    combo = next(c for c in combinations(load_matrix(CASES), "all") if c.id == "tf2.18-mldtypes032-cpu")
    rec = synthetic.record(combo.id, "failed", failure=MLDTYPES, models=())
    rec.run_id, rec.combination = FAILED_RUN, CombinationInfo.of(combo)
    rec.started_at = rec.ended_at = "2026-12-07T04:00:00+00:00"
    rec.install = InstallOutcome("uv", ok=True, check_ok=False, check_output="The package `tensorflow` requires "
                                 "`ml-dtypes>=0.4.0,<1.0.0`, but `0.3.2` is installed")
    rec.resolved_pins = ["ml-dtypes==0.3.2", "tensorflow-metadata==1.21.0", "protobuf==5.29.6"]
    rec.phases = [synthetic.phase("import", None, status="error", samples=(), failure=MLDTYPES)]
    RunDir(tmp_path / "results", FAILED_RUN).path.mkdir(parents=True)
    RunDir(tmp_path / "results", FAILED_RUN).write_record(rec)

    def script(tf, import_only):
        if any(r.startswith("ml-dtypes==0.3") for r in tf.force):
            return "failed", MLDTYPES, {"ml-dtypes": "0.3.2"}
        pin = next((r.split("==")[1] for r in tf.requires if r.startswith("tensorflow-metadata==")), "1.21.0")
        pins = {"ml-dtypes": "0.5.1", "tensorflow-metadata": pin, "protobuf": "5.29.6"}
        return ("ok", None, pins) if Version(pin) <= Version("1.17.1") else ("degraded", GENCODE, pins)

    search, status = command.main(argv(tmp_path, combo.id, matrix=CASES), lister=lister, runner=FakeNox(script),
                                  say=quiet)
    assert status == 0, search.notes
    assert {(c.package, c.after) for c in search.fix.changes} == {("ml-dtypes", ">=0.4.0,<1.0.0"),
                                                                  ("tensorflow-metadata", "==1.17.1")}
    older = [t for t in search.tried if t.candidate.kind == "older-release"]
    assert older and all(t.stage == "quick" for t in older)  # the degraded probe failed after import
    assert older[0].candidate.changes[-1].after == "==1.20.0"  # the nearest older release first
    assert search.probes <= 8


NO_WHEEL = Failure("no-wheel", "tensorflow-text==2.13.0 has no wheels with a matching Python ABI tag (e.g., `cp311`)",
                   "x", "y", "tensorflow-text 2.13.0", "no wheel")


def test_when_the_next_release_fails_too_the_bisection_finds_the_nearest_that_passes(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "INDEX", {**INDEX, "tensorflow": INDEX["tensorflow"] + ["2.21.0"]})
    failed_212(tmp_path / "results")
    nox = FakeNox(lambda tf, import_only: ("install-failed", BUILD, {}) if tf.version.startswith("2.12") else
                  ("install-failed", NO_WHEEL, {}) if tf.version.startswith("2.13") else
                  ("ok", None, {"tensorflow": tf.version}))
    search, status = command.main(argv(tmp_path, "tf2.12-cpu", "--allow", "tensorflow", matrix=CASES), lister=lister,
                                  runner=nox, say=quiet)
    assert status == 0 and dict((c.package, c.after) for c in search.fix.changes)["tensorflow"] == "2.14.1"
    versions = [tf.version for tf, _, _ in nox.calls]
    assert "2.21.0" not in versions  # no tf-models-official of its minor: not a candidate for a Model Garden entry
    assert versions[0] == "2.13.1" and versions[1] == "2.20.0"  # the next release, then the far end
    assert not any(i for _, i, _ in nox.calls)  # each verdict is a --quick probe: a release must pass as a whole
    assert search.probes <= 8


def test_a_release_that_installs_but_degrades_is_no_fix_the_nearest_clean_one_is(tmp_path):
    failed_212(tmp_path / "results")
    degraded = Failure("degraded", "ERROR:absl:cannot import name 'runtime_version' from 'google.protobuf'", "x", "y")
    nox = FakeNox(lambda tf, import_only: ("install-failed", BUILD, {}) if tf.version.startswith("2.12") else
                  ("install-failed", NO_WHEEL, {}) if tf.version.startswith("2.13") else
                  ("ok", None, {}) if tf.version.startswith("2.20") else ("degraded", degraded, {}))
    search, status = command.main(argv(tmp_path, "tf2.12-cpu", "--allow", "tensorflow", matrix=CASES), lister=lister,
                                  runner=nox, say=quiet)
    assert status == 0 and dict((c.package, c.after) for c in search.fix.changes)["tensorflow"] == "2.20.0"
    assert {t.status for t in search.tried} == {"install-failed", "ok", "degraded"} and search.probes <= 6


def test_a_combination_the_matrix_no_longer_has_is_a_one_line_error_naming_the_fix(tmp_path):
    failed(tmp_path / "results", "tf2.15-numpy2-cpu", "2.15.1", pins={"numpy": "2.4.6"}, failure=NUMPY)
    with pytest.raises(TfmatrixError, match=r"^fix COMBO: got 'tf2.15-numpy2-cpu'; expected a combination of .*cases"):
        command.main(argv(tmp_path, "tf2.15-numpy2-cpu", matrix=CASES), lister=lister,
                     runner=FakeNox(numpy_fixed_when_unforced), say=quiet)
