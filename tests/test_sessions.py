"""What the noxfile's sessions call (tfmatrix.sessions) and ``python -m tfmatrix`` (tfmatrix.cli), in-process.

User errors are caught in one place (tfmatrix.errors.reported): one line, to stderr with exit status 2 on the
command line, or to ``session.error`` in a nox session.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fakes.fake_session import Failed, FakeSession
from real_runs import QUIET_A, copy_run

from tfmatrix import cli, sessions
from tfmatrix.errors import ResultsError, TfmatrixError, reported
from tfmatrix.executors import dispatch
from tfmatrix.run.noxside.context import Context

ROOT = Path(__file__).resolve().parents[1]


def test_reported_is_the_one_place_user_errors_become_one_line():
    said: list[str] = []
    with pytest.raises(SystemExit) as stop:
        with reported(said.append):
            raise ResultsError("results/x: not\n  valid JSON")
    assert said == ["results/x: not valid JSON"] and stop.value.code == 2
    with pytest.raises(ZeroDivisionError):  # a bug is not a user error: it is not turned into one line
        with reported(said.append):
            _ = 1 / 0


def test_a_bad_matrix_at_noxfile_import_ends_nox_with_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "m.yaml"
    bad.write_text("schema_version: 1\npythons: 3.11\n")
    monkeypatch.setenv("TFMATRIX_MATRIX", str(bad))
    with pytest.raises(SystemExit) as stop:
        sessions.nox_context(ROOT)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err == f"tfmatrix: error: {bad}: tensorflow: got nothing (key missing); expected this key to be set\n"


def test_the_context_expands_the_profile_once_and_finds_combinations_by_id(ctx):
    assert ctx.combos is ctx.combos  # expanded once
    assert ctx.combination("tf2.20-cpu") is ctx.combos[[c.id for c in ctx.combos].index("tf2.20-cpu")]
    with pytest.raises(TfmatrixError, match="nope: not a combination of profile 'default'"):
        ctx.combination("nope")


def test_in_dispatch_mode_a_bench_session_only_queues(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(dispatch, "host_gpus", lambda: ())
    session = FakeSession(tmp_path, ["--executor", "ray", "--quick"])
    sessions.bench_session(session, ctx, ctx.combination("tf2.20-cpu"))
    assert [c.id for c in ctx.invocation.queued] == ["tf2.20-cpu"]
    assert session.notified == [("dispatch", ["--executor", "ray", "--quick"])]
    assert "queued for the Ray cluster" in session.lines[0]
    with pytest.raises(Failed, match=r"^tfmatrix: --models: got x"):
        sessions.bench_session(FakeSession(tmp_path, ["--executor", "ray", "--models", "x"]), ctx,
                               ctx.combination("tf2.20-cpu"))


def test_a_bad_bench_option_fails_the_session_with_one_line(ctx, tmp_path):
    with pytest.raises(Failed, match=r"^tfmatrix: bench options: got '--nope'; expected --models"):
        sessions.bench_session(FakeSession(tmp_path, ["--nope"]), ctx, ctx.combination("tf2.20-cpu"))


def test_summary_reads_through_the_one_reader_and_names_what_it_left_out(ctx, tmp_path, monkeypatch):
    results = tmp_path / "results"
    run = copy_run(QUIET_A, results)
    (run / "tf2.15-cpu.json").write_text('{"kind": "combination", "sch')  # truncated
    ctx = Context(ctx.root, ctx.matrix, ctx.profile, ctx.run_id, results)
    text = sessions.summary_text(ctx, None)
    assert text.startswith(f"tfmatrix run {QUIET_A}: ")
    assert "tf2.20-cpu            ok" in text and "tf2.15-cpu            not run" in text
    assert f"  warning: skipped: {run / 'tf2.15-cpu.json'}: not valid JSON" in text
    assert json.loads((run / "run.json").read_text())["ended_at"]  # the summary stamps the run's end
    with pytest.raises(Failed, match="no runs yet"):
        sessions.summary_session(FakeSession(tmp_path, []), Context(ctx.root, ctx.matrix, ctx.profile, ctx.run_id,
                                                                   tmp_path / "empty"))


def test_clean_with_a_bad_age_is_one_line(ctx, tmp_path):
    with pytest.raises(Failed, match=r"^tfmatrix: --older-than: got '3 days'"):
        sessions.clean_session(FakeSession(tmp_path, ["--older-than", "3 days"]), ctx)


def test_cli_validate_lists_the_sessions_and_a_bad_file_is_status_2(capsys, tmp_path):
    assert cli.main(["validate", str(ROOT / "matrix.yaml")]) == 0
    out = capsys.readouterr().out
    assert "bench(tf2.20-cpu)  models=retinanet-mnv2-256" in out
    with pytest.raises(SystemExit) as stop:
        cli.main(["validate", str(tmp_path / "missing.yaml")])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"tfmatrix: error: {tmp_path / 'missing.yaml'}: got nothing (key missing); " \
                                      "expected an existing matrix file\n"


def test_cli_doctor_probes_another_interpreter(capsys):
    """The doctor's probe runs in the interpreter named (here one without TensorFlow) and reports back."""
    status = cli.main(["doctor", "--python", sys.executable])
    out = capsys.readouterr().out
    assert out.startswith("tfmatrix doctor\n") and "TensorFlow" in out and "not importable" in out
    assert status == 1 and "verdict: NOT READY" in out


def test_compare_rerun_base_measures_both_in_one_interleaved_run_then_compares_within_it(ctx, tmp_path):
    s = FakeSession(tmp_path, ["--rerun-base", "tf2.15-cpu", "tf2.20-cpu", "--threshold", "1.05", "--quick"])
    args = sessions.compare_args(s, ctx)
    # compare re-measures in rounds of its own (history/gate.py) with this nox and the same bench options
    assert args == ["--within", ctx.run_id, "tf2.15-cpu", "tf2.20-cpu", "--nox-python", sys.executable,
                    "--noxfile", str(ctx.root / "noxfile.py"), "--quick", "--threshold", "1.05"]
    (argv, kw), = s.ran
    # as many cold starts as a verdict at p < 0.01 needs: 5 a side (3 against 3 never gets below p = 0.1)
    assert argv[1:3] == ("-m", "nox") and argv[-7:] == ("-s", "bench(tf2.15-cpu)", "bench(tf2.20-cpu)", "--",
                                                         "--quick", "--cold-starts", "5")
    loose = FakeSession(tmp_path, ["--rerun-base", "tf2.15-cpu", "tf2.20-cpu", "--alpha", "0.05"])
    assert sessions.compare_args(loose, ctx)[-2:] == ["--alpha", "0.05"]
    assert loose.ran[0][0][-2:] == ("--cold-starts", "4")
    assert kw["success_codes"] == [0, 1]  # a failed combination is compare's to judge (a status change)
    plain = FakeSession(tmp_path, ["A", "B"])
    assert sessions.compare_args(plain, ctx) == ["A", "B"] and not plain.ran


@pytest.mark.parametrize("posargs, why", [
    (["--rerun-base", "tf2.15-cpu"], "expected BASE CANDIDATE"),
    (["--rerun-base", "tf2.15-cpu", "--quick"], "expected BASE CANDIDATE"),
    (["--rerun-base", "tf2.15-cpu", "nope"], "nope: not a combination of profile"),
    (["--rerun-base", "tf2.15-cpu", "tf2.15-cpu"], "got tf2.15-cpu twice"),
    (["--rerun-base", "tf2.15-cpu", "tf2.20-cpu", "--alpha", "5"], "compare --alpha: got '5'"),
])
def test_compare_rerun_base_bad_input_is_one_line(ctx, tmp_path, posargs, why):
    s = FakeSession(tmp_path, posargs)
    with pytest.raises(Failed, match=why):
        sessions.compare_args(s, ctx)
    assert not s.ran


def test_the_interleave_session_warns_for_a_degraded_run_and_fails_for_a_failed_one(ctx, tmp_path, monkeypatch):
    import synthetic

    from tfmatrix.records.model import Failure
    from tfmatrix.run.scheduling import pipeline

    class Measured:
        owners = ["a pipeline"]

        def __init__(self, records):
            self.records = records

    monkeypatch.setattr(pipeline, "run_rounds", lambda rounds, say: rounds.records)

    degraded = synthetic.record("a", "degraded", failure=Failure("degraded", "GetPrototype", "", ""))
    ctx.invocation.rounds = Measured([degraded])
    s = FakeSession(tmp_path)
    sessions.interleave_session(s, ctx)
    assert s.warnings == ["a: degraded: GetPrototype"]
    ctx.invocation.rounds = Measured([synthetic.record("b", "failed", outcome="failed")])
    with pytest.raises(Failed, match="1 combinations failed: b: failed"):
        sessions.interleave_session(FakeSession(tmp_path), ctx)
    ctx.invocation.rounds = None
    quiet = FakeSession(tmp_path)
    sessions.interleave_session(quiet, ctx)
    assert "no warm phases wait" in quiet.lines[0]
