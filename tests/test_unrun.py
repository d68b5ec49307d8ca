"""Combinations nox ends before tfmatrix's code runs still leave a record (tfmatrix.run.noxside.unrun).

The unit tests hand the summary session what the nox adapter reads of the sessions nox ended (its
:class:`~tfmatrix.run.noxside.noxadapter.Ended`; test_noxadapter reads them from the real nox); the
integration test runs the real nox on a matrix whose Python does not exist, as a user would.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.fake_session import Failed, FakeSession

from tfmatrix import sessions
from tfmatrix.records.status import Outcome, Status
from tfmatrix.run.noxside import unrun
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.endings import tell_nox
from tfmatrix.run.noxside.noxadapter import Ended

ROOT = Path(__file__).resolve().parents[1]


def runner(combo: str, status: str | None, reason: str = "", posargs: tuple[str, ...] = ("--quick",)):
    """A bench session as the adapter reads it from nox (None: queued, not ended yet)."""
    return None if status is None else Ended(combo, status, reason, list(posargs))


@pytest.fixture(autouse=True)
def ended_from_the_session(monkeypatch):
    monkeypatch.setattr(unrun, "ended_bench_sessions", lambda session: getattr(session, "ended", None))


def session_with(tmp_path: Path, ctx: Context, *runners) -> FakeSession:
    s = FakeSession(tmp_path, posargs=[ctx.run_id])
    s.ended = [r for r in runners if r is not None]  # type: ignore[attr-defined]
    return s


def test_a_missing_interpreter_is_recorded_classified_blamed_and_fails_the_summary(ctx, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(unrun, "uv_python_find", lambda python: f"error: No interpreter found for Python {python} "
                                                                "in managed installations or search path")
    s = session_with(tmp_path, ctx, runner("tf2.20-cpu", "skipped", "Python interpreter 3.11 not found"),
                     runner("tf2.15-cpu", None))  # queued, never reached: not ended, so not recorded here
    with pytest.raises(Failed, match="1 combinations ended before tfmatrix ran: tf2.20-cpu: install-failed"):
        sessions.summary_session(s, ctx)
    printed = capsys.readouterr().out
    rec = json.loads((ctx.results_root / ctx.run_id / "tf2.20-cpu.json").read_text())
    assert rec["status"] == Status.INSTALL_FAILED and rec["outcome"] == Outcome.INSTALL_FAILED
    assert rec["failure"]["class"] == "no-interpreter" and rec["failure"]["culprit"] == "Python 3.11"
    assert rec["failure"]["evidence"] == ("nox: session skipped: Python interpreter 3.11 not found; uv: error: No "
                                          "interpreter found for Python 3.11 in managed installations or search path")
    assert rec["placement"]["executor"] == "local"
    assert not (ctx.results_root / ctx.run_id / "tf2.15-cpu.json").exists()
    assert "1 install-failed" in printed and "culprit: Python 3.11" in printed  # counted, and shown with why


def test_an_expected_ending_is_recorded_and_does_not_fail(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(unrun, "uv_python_find", lambda python: "")
    expecting = ctx.combination("tf2.20-cpu")
    tf = dataclasses.replace(expecting.tf, expect="install-failed")  # the family accepts each install class
    combo = dataclasses.replace(expecting, tf=tf)
    monkeypatch.setattr(type(ctx), "combination", lambda self, cid: combo)
    s = session_with(tmp_path, ctx, runner("tf2.20-cpu", "failed", "Python interpreter 3.11 not found"))
    written = unrun.record_unrun(s, ctx)
    assert [r.outcome for r in written] == [Outcome.EXPECTED_FAILURE]
    tell_nox(s, written, "combinations ended before tfmatrix ran")  # an expected ending: nothing raised


def test_a_combination_with_a_record_an_executor_child_and_another_shard_are_left_alone(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(unrun, "uv_python_find", lambda python: "")
    run = ctx.results_root / ctx.run_id
    run.mkdir(parents=True)
    (run / "tf2.20-cpu.json").write_text("{}")
    s = session_with(tmp_path, ctx, runner("tf2.20-cpu", "failed"),
                     runner("tf2.15-cpu", "skipped", "x", ("--stage", "install", "--placed-by", "local")),
                     runner("tf2.21-cpu", "skipped", "x", ("--shard", "2/2")))
    assert unrun.record_unrun(s, ctx) == []


def test_a_venv_nox_could_not_create_is_recorded_with_the_installers_words(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(unrun, "uv_python_find", lambda python: pytest.fail("not an interpreter problem"))
    words = ctx.invocation.words
    log = logging.getLogger("nox.test-unrun")
    log.addHandler(words)
    log.propagate = False
    log.setLevel(logging.DEBUG)  # as nox sets its own logger
    log.log(25, "Running session bench(tf2.20-cpu)")
    log.warning("a warning is not evidence")
    log.error("Command uv venv .nox/bench-tf2-20-cpu failed with exit code 2:\nerror: No space left on device "
              "(os error 28)")
    log.error("Session bench(tf2.20-cpu) failed.")
    log.removeHandler(words)
    assert words.said == {"bench(tf2.20-cpu)": ["Command uv venv .nox/bench-tf2-20-cpu failed with exit code 2:",
                                                "error: No space left on device (os error 28)"]}
    rec, = unrun.record_unrun(session_with(tmp_path, ctx, runner("tf2.20-cpu", "failed")), ctx)
    assert rec.failure.cls == "install-failed" and "No space left on device" in rec.failure.evidence
    assert rec.failure.culprit == "cannot tell"


@pytest.mark.integration  # real nox and uv; no TensorFlow is installed, so it takes seconds
def test_real_nox_a_python_that_does_not_exist_is_a_record_not_a_gap(tmp_path):
    matrix = tmp_path / "m.yaml"
    matrix.write_text("""schema_version: 1
pythons: ["3.11", "3.99"]
tensorflow:
  - {version: "2.20.0", models_official: "2.20.0"}
  - {id: tf2.20-gone, version: "2.20.0", models_official: "2.20.0", expect: no-interpreter}
stacks: [{id: cpu, kind: cpu}]
models: [{id: small, experiment: retinanet_resnetfpn_coco, input_size: [64, 64]}]
profiles: {default: {description: "all"}, gone: {pythons: ["3.99"]}}
""")
    env = dict(os.environ, TFMATRIX_MATRIX=str(matrix), TFMATRIX_RESULTS=str(tmp_path / "results"),
               TFMATRIX_CACHE=str(tmp_path / "cache"), TFMATRIX_PROFILE="gone", UV_PYTHON_DOWNLOADS="never")
    env.pop("TFMATRIX_RUN_ID", None)
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "bench", "--", "--quick"],
                          capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # one combination vanished unexpectedly: the invocation fails
    run, = (tmp_path / "results").iterdir()
    records = {p.stem: json.loads(p.read_text()) for p in run.glob("*.json") if p.name != "run.json"}
    assert sorted(records) == ["tf2.20-cpu-py3.99", "tf2.20-gone-cpu-py3.99"], out
    for rec in records.values():
        assert rec["failure"]["class"] == "no-interpreter", rec["failure"]
        assert "Python interpreter 3.99 not found" in rec["failure"]["evidence"]
        assert rec["failure"]["culprit"] == "Python 3.99"
    assert records["tf2.20-gone-cpu-py3.99"]["outcome"] == Outcome.EXPECTED_FAILURE
    assert records["tf2.20-cpu-py3.99"]["outcome"] == Outcome.INSTALL_FAILED
    assert "tfmatrix run" in out and "1 expected-failure, 1 install-failed" in out
    assert "1 combinations ended before tfmatrix ran: tf2.20-cpu-py3.99" in out


def test_uvs_words_are_condensed_to_its_error_its_causes_and_the_childs_first_line():
    said = """error: Failed to inspect Python interpreter from search path at `/root/.pyenv/shims/python3.12`
  cause: Querying Python at `/root/.pyenv/shims/python3.12` failed with exit status exit status: 127

         [stderr]
         pyenv: python3.12: command not found

         The `python3.12' command exists in these Python versions:
           3.12.1
"""
    assert unrun.condensed(said) == ("error: Failed to inspect Python interpreter from search path at "
                                     "`/root/.pyenv/shims/python3.12`: Querying Python at `/root/.pyenv/shims/python3.12`"
                                     " failed with exit status exit status: 127: pyenv: python3.12: command not found")


def test_a_user_error_of_tfmatrix_is_not_recorded_and_an_unexpected_ending_is_a_failed_record(ctx, tmp_path,
                                                                                              monkeypatch):
    monkeypatch.setattr(unrun, "uv_python_find", lambda python: "")
    ctx.invocation.words.said["bench(tf2.15-cpu)"] = ["Session bench(tf2.15-cpu) raised exception RuntimeError('boom')"]
    s = session_with(tmp_path, ctx, runner("tf2.20-cpu", "aborted", "tfmatrix: --models: got nope; expected ..."),
                     runner("tf2.15-cpu", "failed"))
    rec, = unrun.record_unrun(s, ctx)
    assert rec.id == "tf2.15-cpu" and rec.status == Status.FAILED and rec.failure.cls == "python-error"
    assert rec.failure.evidence == "nox: session failed; Session bench(tf2.15-cpu) raised exception RuntimeError('boom')"


def test_plan_queues_the_sessions_that_end_the_invocation_in_their_order(ctx, tmp_path):
    s = FakeSession(tmp_path, posargs=["--quick"])
    sessions.plan_session(s, ctx, None)
    assert s.notified == [("interleave", None), ("summary", [ctx.run_id])]
    earlier = ctx.results_root / "20260101T000000Z-aaaaaa"
    earlier.mkdir(parents=True)
    (earlier / "run.json").write_text("{}")
    resuming = FakeSession(tmp_path, posargs=["--resume", "latest"])
    sessions.plan_session(resuming, ctx, None)
    assert resuming.notified[-1] == ("summary", ["20260101T000000Z-aaaaaa"])  # the run it continues
    for posargs, dispatch in ((["--stage", "install", "--placed-by", "local"], None), (["--gpus", "0"], "gpus")):
        quiet = FakeSession(tmp_path, posargs=posargs)
        sessions.plan_session(quiet, ctx, dispatch)
        assert quiet.notified == []  # an executor's child, or the dispatch session, ends those invocations
