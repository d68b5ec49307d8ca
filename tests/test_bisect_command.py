"""``nox -s bisect``'s command end to end, with a recorded pip answer and a fake nox that writes scripted
records (the real nox and TensorFlow run in test_integration_bisect.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import synthetic
from packaging.version import Version

from tfmatrix.bisection import command
from tfmatrix.bisection.probes import MATRIX_ENV, PROFILE, Slot
from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.model import CombinationInfo, Failure
from tfmatrix.records.store import RUN_ID_ENV, RunDir
from tfmatrix.run.noxside.context import PROFILE_ENV
from tfmatrix.run.noxside.options import Options

ROOT = Path(__file__).resolve().parent.parent
RELEASES = ["2.15.1", "2.16.1", "2.16.2", "2.17.0", "2.17.1", "2.18.0", "2.18.1", "2.19.0", "2.19.1", "2.20.0"]
GARDEN = ["2.15.0", "2.16.0", "2.17.0", "2.18.0", "2.19.1", "2.20.0"]
NIGHTLIES = ["2.18.0.dev20240601", "2.18.0.dev20240602", "2.18.0.dev20240603", "2.19.0.dev20241101"]


def lister(package, python, *, pre, index_url=None):
    versions = {"tensorflow": RELEASES, "tf-models-official": GARDEN, "tf-nightly": NIGHTLIES}[package]
    return sorted(Version(v) for v in versions)


class FakeNox:
    """Stands in for ``nox -s bench(<probe>)``: checks what it is given, writes the record the script says."""

    def __init__(self, script):
        self.script, self.calls, self.invocations = script, [], []

    def __call__(self, argv, env, cwd, log):
        assert env[PROFILE_ENV] == PROFILE and Path(env[MATRIX_ENV]).is_file()
        matrix = load_matrix(env[MATRIX_ENV])  # the matrix written for the probe is a valid one
        status = 0
        sessions = [a[len("bench("):-1] for a in argv if a.startswith("bench(")]
        self.invocations.append(sessions)
        for cid in sessions:  # in the order given: the good end beside a probe first
            tf = next(t for t in matrix.tensorflow if cid.startswith(t.id + "-"))
            more = tf.id.endswith("-more")
            if "-beside-" not in tf.id:
                self.calls.append((tf.version, more, list(argv[argv.index("--") + 1:]), matrix))
            rec = self.script(tf.version, more)
            rec.run_id = env[RUN_ID_ENV]
            words = argv[argv.index("--") + 1:]  # the combination as bench records it: narrowed by its options
            combo = next(c for c in combinations(matrix, PROFILE) if c.id == cid)
            rec.combination = CombinationInfo.of(Options(import_only="--import-only" in words).narrow(combo))
            rec.quick = "--quick" in words
            rec.started_at = rec.ended_at = "2026-12-03T17:00:00+00:00"
            run = RunDir(Path(env["TFMATRIX_RESULTS"]), env[RUN_ID_ENV])
            run.path.mkdir(parents=True, exist_ok=True)
            run.write_record(rec)
            status = status or (0 if rec.status.value == "ok" else 1)
        return status


def argv(tmp_path, *words, run_id="20261203T170000Z-000001"):
    return [*words, "--matrix", str(ROOT / "matrix.yaml"), "--root", str(ROOT), "--results",
            str(tmp_path / "results"), "--reports", str(tmp_path / "reports"), "--run-id", run_id,
            "--nox-python", "python"]


NUMPY = Failure("numpy-abi", "ImportError: numpy.core.multiarray failed to import", "x", "y")


def numpy_until(first_fixed):
    def script(version, more):
        if Version(version) >= Version(first_fixed):
            return synthetic.record("p", "ok", [synthetic.phase("import", None, samples=[2.0] * 5)], models=())
        return synthetic.record("p", "failed", failure=NUMPY, models=())
    return script


def test_an_outcome_bisection_with_fixed_finds_where_the_failure_went_away(tmp_path):
    nox = FakeNox(numpy_until("2.18.0"))
    answer, status = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0",
                                       "--fixed", "--when", "class=numpy-abi", "--import-only"),
                                  lister=lister, runner=nox, say=lambda line: None)
    assert status == 0
    assert answer.final.first_new.version == "2.18.0" and answer.final.last_old.version == "2.17.1"
    assert answer.final.probed <= answer.final.bound == 6
    assert all(words == ["--import-only"] for _, _, words, _ in nox.calls)
    lines = answer.verdict_lines()
    assert lines[0].startswith("first fixed: 2.18.0") and lines[1].startswith("last failing: 2.17.1: failed/numpy-abi")
    # each probe is the template's entry with its version and the Model Garden of its minor
    for version, _, _, matrix in nox.calls:  # --import-only: TensorFlow alone
        entry = matrix.entry(Slot(version).id)
        assert entry.load_only and entry.export_with == "tf2.20" and entry.version == version
        assert entry.stacks == ("cpu",) and entry.force == () and entry.requires == ()  # as tf2.20's
    # the state, and the page
    run = RunDir(tmp_path / "results", answer.run_id)
    saved = json.loads((run.path / "bisection" / "bisection.json").read_text())
    assert saved["searches"][0]["first_new"] == "2.18.0" and saved["verdict"] == lines
    page = (tmp_path / "reports" / answer.run_id / "bisect.html").read_text()
    assert "2.18.0" in page and "numpy.core.multiarray failed to import" in page


def test_each_probe_gets_the_model_garden_of_its_minor_and_the_template_pins(tmp_path):
    nox = FakeNox(numpy_until("2.18.0"))
    command.main(argv(tmp_path, "--like", "tf2.15-numpy2-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--fixed",
                      "--when", "class=numpy-abi"), lister=lister, runner=nox, say=lambda line: None)
    garden = {"2.15": "2.15.0", "2.16": "2.16.0", "2.17": "2.17.0", "2.18": "2.18.0", "2.19": "2.19.1", "2.20": "2.20.0"}
    assert len(nox.calls) >= 3
    for version, _, words, matrix in nox.calls:
        entry = matrix.entry(Slot(version).id)
        assert entry.models_official == garden[version[:4]] and entry.version == version and words == []
        assert entry.force == ("numpy>=2",) and entry.stacks == ("cpu",) and entry.expect is None
        (combo,) = combinations(matrix, PROFILE)
        assert [m.id for m in combo.models] == ["retinanet-mnv2-256"]


def test_a_repeated_bisection_reuses_its_probes(tmp_path):
    nox = FakeNox(numpy_until("2.18.0"))
    words = ["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--fixed", "--when", "class=numpy-abi"]
    first, _ = command.main(argv(tmp_path, *words), lister=lister, runner=nox, say=lambda line: None)
    ran = len(nox.calls)
    again, _ = command.main(argv(tmp_path, *words, "--resume", run_id="20261203T170000Z-000002"), lister=lister,
                            runner=nox, say=lambda line: None)
    assert len(nox.calls) == ran  # nothing probed twice
    assert again.run_id == first.run_id and again.final.first_new.version == "2.18.0"
    assert any("reused" in note for note in again.notes)


def test_a_new_outcome_bisection_reads_the_probes_earlier_bisections_ran(tmp_path):
    nox = FakeNox(numpy_until("2.18.0"))
    words = ["--like", "tf2.15-numpy2-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--fixed", "--when",
             "class=numpy-abi", "--import-only"]
    first, _ = command.main(argv(tmp_path, *words), lister=lister, runner=nox, say=lambda line: None)
    ran = [v for v, _, _, _ in nox.calls]
    narrower = [w if w != "2.15.1" else "2.16.1" for w in words]  # another question, most of its probes made
    second, _ = command.main(argv(tmp_path, *narrower, run_id="20261203T170000Z-000002"), lister=lister, runner=nox,
                             say=lambda line: None)
    assert second.final.first_new.version == "2.18.0" and second.run_id != first.run_id
    new = [v for v, _, _, _ in nox.calls][len(ran):]
    probed = [p.version for p in second.probes]
    assert "2.16.1" in new and set(new).isdisjoint(ran)  # only what the first bisection had not probed
    assert sorted(set(probed) - set(new)) == sorted(set(probed) & set(ran)) != []
    assert any(f"(run {first.run_id})" in note and note.startswith("reused") for note in second.notes)
    reused = next(p for p in second.probes if p.version not in new)
    assert Path(reused.record).is_file() and Path(reused.record).parent.name == first.run_id  # where it is
    # without --import-only the probe is another combination (the template's models): nothing is reused
    before = len(nox.calls)
    third, _ = command.main(argv(tmp_path, *words[:-1], run_id="20261203T170000Z-000003"), lister=lister, runner=nox,
                            say=lambda line: None)
    assert len(nox.calls) - before == len(third.probes) == len(ran)


def test_a_probe_that_could_not_install_is_tried_again_by_a_new_bisection(tmp_path):
    flaky = {"2.17.1"}

    def script(version, more):
        if version in flaky:
            return synthetic.record("p", "install-failed", reason="uv: connection reset", models=())
        return numpy_until("2.18.0")(version, more)
    nox = FakeNox(script)
    words = ["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--fixed", "--when", "class=numpy-abi"]
    first, _ = command.main(argv(tmp_path, *words), lister=lister, runner=nox, say=lambda line: None)
    assert first.final.probe_of("2.17.1").verdict.value == "skip"
    flaky.clear()  # the network is back
    before = len(nox.calls)
    second, _ = command.main(argv(tmp_path, *words, run_id="20261203T170000Z-000002"), lister=lister, runner=nox,
                             say=lambda line: None)
    again = [v for v, _, _, _ in nox.calls[before:]]
    assert "2.17.1" in again  # the failed install is tried again; what ran to its end is not
    assert set(again) - {"2.17.1"} == set(again) - {p.version for p in first.probes}
    assert second.final.probe_of("2.17.1").verdict.value == "old" and second.final.first_new.version == "2.18.0"


def test_a_new_metric_bisection_measures_again(tmp_path):
    nox = FakeNox(slow_from("2.17.0"))
    words = ["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric", "import"]
    command.main(argv(tmp_path, *words), lister=lister, runner=nox, say=lambda line: None)
    ran = len(nox.calls)
    again, _ = command.main(argv(tmp_path, *words, run_id="20261203T170000Z-000002"), lister=lister, runner=nox,
                            say=lambda line: None)
    assert len(nox.calls) == 2 * ran and not any(note.startswith("reused") for note in again.notes)


def test_a_resume_of_another_question_is_refused(tmp_path):
    nox = FakeNox(numpy_until("2.18.0"))
    words = ["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--fixed", "--when", "class=numpy-abi"]
    command.main(argv(tmp_path, *words), lister=lister, runner=nox, say=lambda line: None)
    other = [w if w != "2.15.1" else "2.16.1" for w in words]
    with pytest.raises(TfmatrixError, match="that run bisected tf2.20-cpu 2.15.1..2.20.0"):
        command.main(argv(tmp_path, *other, "--resume"), lister=lister, runner=nox, say=lambda line: None)


def test_a_good_end_that_is_bad_is_a_verdict_and_status_1(tmp_path):
    nox = FakeNox(numpy_until("2.10.0"))  # nothing fails: the --good end is already "fixed"
    answer, status = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0",
                                       "--fixed", "--when", "class=numpy-abi"),
                                  lister=lister, runner=nox, say=lambda line: None)
    assert status == 1 and len(nox.calls) == 1
    assert answer.verdict_lines() == ["2.15.1 is not failing: ok"]


def slow_from(first_slow, undecided=()):
    def script(version, more):
        if version in undecided and not more:
            samples = [1.0, 6.0, 2.0, 5.0, 3.3]
        else:
            base = 4.0 if Version(version) >= Version(first_slow) else 2.0
            samples = [base + 0.01 * i for i in range(10 if more else 5)]
        return synthetic.record("p", "ok", [synthetic.phase("import", None, samples=samples)], models=())
    return script


def test_a_metric_bisection_remeasures_an_undecided_probe_once_with_more_samples(tmp_path):
    nox = FakeNox(slow_from("2.17.0", undecided={"2.17.0"}))
    answer, status = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0",
                                       "--metric", "import"), lister=lister, runner=nox, say=lambda line: None)
    assert status == 0 and answer.final.first_new.version == "2.17.0"
    again = [(v, m) for v, m, _, _ in nox.calls if v == "2.17.0"]
    assert again == [("2.17.0", False), ("2.17.0", True)]
    assert ["bisect-2.15.1-beside-2.17.0-more-cpu", "bisect-2.17.0-more-cpu"] in nox.invocations
    assert answer.final.first_new.remeasured
    matrices = {(v, m): matrix for v, m, _, matrix in nox.calls}
    assert matrices[("2.17.0", False)].workload.import_repeats == 5
    assert matrices[("2.17.0", True)].workload.import_repeats == 10
    assert all(words == ["--import-only"] for _, _, words, _ in nox.calls)  # --metric import needs no model
    assert answer.final.first_new.value == pytest.approx(4.045)


def test_then_nightly_narrows_a_release_answer_to_consecutive_nightly_builds(tmp_path):
    def script(version, more):
        v = Version(version)
        slow = v >= Version("2.18.0.dev20240602")
        return synthetic.record("p", "ok", [synthetic.phase("import", None, samples=[(4.0 if slow else 2.0) + 0.01 * i
                                                                                     for i in range(5)])], models=())
    nox = FakeNox(script)
    answer, _ = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric",
                                  "import", "--then-nightly"), lister=lister, runner=nox, say=lambda line: None)
    first, second = answer.searches
    assert first.first_new.version == "2.18.0" and first.last_old.version == "2.17.1"
    assert second.candidates == ("2.17.1", "2.18.0.dev20240601", "2.18.0.dev20240602", "2.18.0.dev20240603", "2.18.0")
    assert second.last_old.version == "2.18.0.dev20240601" and second.first_new.version == "2.18.0.dev20240602"
    nightly = next(m for v, _, _, m in nox.calls if v == "2.18.0.dev20240602")
    entry = nightly.entry(Slot("2.18.0.dev20240602").id)
    assert entry.package == "tf-nightly" and entry.load_only and entry.export_with == "tf2.20"
    assert sum(1 for v, _, _, _ in nox.calls if v in ("2.17.1", "2.18.0")) == 2  # the ends were not probed again


def test_then_nightly_says_when_the_index_has_no_nightly_between(tmp_path):
    nox = FakeNox(slow_from("2.17.0"))
    answer, _ = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric",
                                  "import", "--then-nightly"), lister=lister, runner=nox, say=lambda line: None)
    assert len(answer.searches) == 1
    assert any(re.search(r"no tf-nightly build of 2.17 between 2.16.2 and 2.17.0 \(PyPI keeps", n) for n in answer.notes)


@pytest.mark.parametrize("words, expected", [
    (["--like", "tf9.9-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--when", "failed"],
     "--like: got 'tf9.9-cpu'; expected a combination of"),
    (["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0"], "exactly one of --when"),
    (["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric", "import", "--repeats", "3"],
     "--repeats: got 3; expected at least 5"),
    (["--like", "tf2.20-cpu", "--good", "2.20.0", "--bad", "2.15.1", "--when", "failed"], "is not older than"),
    (["--like", "tf2.20-cpu", "--good", "2.15.3", "--bad", "2.20.0", "--when", "failed"], "--good: got 2.15.3"),
    (["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--when", "failed", "--frobnicate"],
     "got '--frobnicate'"),
    (["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric", "peak-rss"],
     "--metric peak-rss: expected --import-only with it"),
    (["--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric", "load", "--import-only"],
     "--import-only: got --metric load; expected --metric import or peak-rss"),
])
def test_bad_input_is_one_line(tmp_path, words, expected):
    with pytest.raises(TfmatrixError, match=re.escape(expected)):
        command.main(argv(tmp_path, *words), lister=lister, runner=FakeNox(numpy_until("2.18.0")),
                     say=lambda line: None)


def test_then_nightly_says_a_patch_release_has_no_nightlies(tmp_path):
    nox = FakeNox(slow_from("2.18.1"))
    answer, _ = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric",
                                  "import", "--then-nightly"), lister=lister, runner=nox, say=lambda line: None)
    assert answer.final.first_new.version == "2.18.1" and len(answer.searches) == 1
    assert any("2.18.1 is a patch release of 2.18" in n for n in answer.notes)


def test_python_m_tfmatrix_bisect_takes_the_words_with_or_without_a_separator(tmp_path, monkeypatch):
    from tfmatrix import cli

    seen = []
    monkeypatch.setattr(command, "main", lambda words: (seen.append(words), (None, 0))[1])
    assert cli.main(["bisect", "--like", "x", "--good", "1"]) == 0
    assert cli.main(["bisect", "--", "--like", "x"]) == 0
    assert seen == [["--like", "x", "--good", "1"], ["--like", "x"]]


def test_a_metric_probe_is_judged_against_the_good_end_measured_beside_it(tmp_path):
    """The machine slows by half after the first probe; nothing changed between versions.  Judged against the
    good end measured at the start, every later version would look ×1.5 slower; beside it, none does."""
    measured = []

    def drifting(version, more):
        slow = 1.5 if measured else 1.0
        measured.append(version)
        return synthetic.record("p", "ok", [synthetic.phase("import", None, samples=[2.0 * slow + 0.01 * i
                                                                                     for i in range(5)])], models=())
    nox = FakeNox(drifting)
    answer, status = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0",
                                       "--metric", "import"), lister=lister, runner=nox, say=lambda line: None)
    assert status == 1 and answer.verdict_lines()[0].startswith("2.20.0 is not bad:")
    assert nox.invocations == [["bisect-2.15.1-cpu"], ["bisect-2.15.1-beside-2.20.0-cpu", "bisect-2.20.0-cpu"]]


def test_a_nightly_peak_rss_bisection_takes_the_imports_peak_in_every_cold_start(tmp_path):
    """--metric peak-rss --import-only --nightly: each probe's samples are its cold starts' peaks (issue 16)."""
    def script(version, more):
        mib = 760 if Version(version) >= Version("2.18.0.dev20240602") else 670
        peaks = [float((mib + i) * 2**20) for i in range(10 if more else 5)]
        return synthetic.record("p", "ok", [synthetic.phase("import", None, samples=[2.5] * len(peaks)),
                                            synthetic.phase("peakmem", None, samples=peaks)], models=())
    nox = FakeNox(script)
    answer, status = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.18.0.dev20240601", "--bad",
                                       "2.19.0.dev20241101", "--nightly", "--metric", "peak-rss", "--factor", "1.1",
                                       "--import-only"), lister=lister, runner=nox, say=lambda line: None)
    assert status == 0
    assert (answer.final.last_old.version, answer.final.first_new.version) == ("2.18.0.dev20240601",
                                                                                "2.18.0.dev20240602")
    assert all(words == ["--import-only"] for _, _, words, _ in nox.calls)
    assert all(m.workload.import_repeats == 5 for _, _, _, m in nox.calls)  # --repeats: the import's cold starts
    assert "peak-rss 762 MiB" in answer.final.first_new.evidence and "×1.13" in answer.final.first_new.evidence


def test_the_answer_names_the_pins_that_changed_between_the_last_good_and_the_first_bad(tmp_path):
    """TF 2.18.1's import regression came with ml-dtypes 0.4.1 -> 0.7.0, which its looser pin let in."""
    slow = slow_from("2.18.1")

    def script(version, more):
        rec = slow(version, more)
        ml_dtypes = "0.7.0" if Version(version) >= Version("2.18.1") else "0.4.1"
        rec.resolved_pins = [f"ml-dtypes=={ml_dtypes}", "numpy==2.0.2", f"tensorflow=={version}"]
        return rec
    answer, _ = command.main(argv(tmp_path, "--like", "tf2.20-cpu", "--good", "2.15.1", "--bad", "2.20.0", "--metric",
                                  "import"), lister=lister, runner=FakeNox(script), say=lambda line: None)
    assert answer.final.first_new.version == "2.18.1"
    assert ("the resolved pins of 2.18.0 and 2.18.1 differ in: ml-dtypes 0.4.1 → 0.7.0, tensorflow 2.18.0 → 2.18.1 "
            "(leads to check, not a verdict)") in answer.verdict_lines()
