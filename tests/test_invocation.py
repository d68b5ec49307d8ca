"""run.invocation: what a bench session checks before its Bench, and what it shares with the sessions after it.

No nox, no uv, no TensorFlow: the session is the explicit FakeSession, and the Bench it makes gets the FAKE
installer and phase runner of fakes/fake_bench.py.  Installs ahead and interleaving are in test_ahead and
test_interleave; the real whole in test_integration.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.fake_bench import Installer, Runner
from fakes.fake_session import FakeSession, Skipped
from matrices import BASE, base

from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.records.status import Status
from tfmatrix.records.store import RunDir, new_run_id
from tfmatrix.run.execution.host import HostFacts
from tfmatrix.run.noxside import invocation
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.invocation import run_combination
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.scheduling.pipeline import Pipeline as Bench

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFMATRIX_CACHE", str(tmp_path / "cache"))


def context(tmp_path: Path, matrix=None) -> Context:
    return Context(root=ROOT, matrix=matrix or parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                   run_id=new_run_id(), results_root=tmp_path / "results")


def test_run_combination_records_ok_then_resume_runs_nothing_more(tmp_path, monkeypatch):
    monkeypatch.setattr(invocation, "Pipeline", lambda *a, **kw: Bench(*a, host=CPU_HOST, installer=Installer(),
                                                                   run_phase=Runner(), **kw))
    ctx = context(tmp_path)
    (tmp_path / "venv").mkdir()
    session = FakeSession(tmp_path / "venv")
    rec = run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options())
    assert rec.status == Status.OK and session.notified == []  # interleave and summary: queued by the plan session
    again = run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options(resume=ctx.run_id))
    assert again is None and "already recorded in run" in session.lines[-1]


def test_run_combination_checks_models_and_shards_before_anything_runs(tmp_path):
    ctx = context(tmp_path, parse_matrix(dict(BASE, models=[BASE["models"][0]]), "m.yaml", sha256="0" * 64))
    session = FakeSession(tmp_path / "venv")
    with pytest.raises(TfmatrixError, match="--models: got nope; expected models of tf2.15-cpu: small"):
        run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options(models=("nope",)))
    from tfmatrix.matrix.shard import Shard, members

    elsewhere = next(c for c in ctx.combos if c.id not in members(ctx.combos, Shard(0, 2)))
    with pytest.raises(Skipped, match="not in shard 0/2"):
        run_combination(session, ctx, elsewhere, Options(shard=Shard(0, 2)))
    assert not RunDir(ctx.results_root, ctx.run_id).path.exists()  # skipped before any run folder


def test_resume_runs_a_pending_combination_again_and_replaces_its_record_in_place(tmp_path, monkeypatch):
    """A run that stopped before its interleave session leaves pending records: the summary says so, and
    --resume runs them again, each ending written over its pending record (nothing set aside)."""
    from tfmatrix import sessions
    from tfmatrix.run.scheduling.interleave import GiB, Interleave

    monkeypatch.setattr(invocation, "Pipeline", lambda *a, **kw: Bench(*a, host=CPU_HOST, installer=Installer(),
                                                                       run_phase=Runner(), **kw))
    ctx = context(tmp_path)
    (tmp_path / "venv").mkdir()
    session = FakeSession(tmp_path / "venv")
    ctx.invocation.planned, ctx.invocation.rounds = True, Interleave(rounds=3, seed=0, free=lambda: 64 * GiB)
    assert run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options()) is None  # pending
    for owner in ctx.invocation.rounds.owners:  # the run stops here, without unwinding: no interleave session
        owner.held.close()
    ctx.invocation.rounds.close(kill=True)
    run = RunDir(ctx.results_root, ctx.run_id)
    assert run.existing_record("tf2.15-cpu").status == Status.PENDING
    assert "1 pending (tf2.15-cpu)" in sessions.summary_text(ctx, ctx.run_id)
    later = context(tmp_path)  # the next nox command: its own invocation
    done = run_combination(FakeSession(tmp_path / "venv"), later, later.combination("tf2.15-cpu"),
                           Options(resume=ctx.run_id))
    assert done is not None and done.status == Status.OK
    assert run.existing_record("tf2.15-cpu").status == Status.OK and not (run.path / "attempts").exists()
