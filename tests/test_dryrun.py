"""run.dryrun: ``nox -s bench -- --dry-run`` says what each session would do, and does nothing.

No nox: the session is the explicit FakeSession (which, like a nox that does not say, has no queue), on
matrices.BASE; the hosts are HostFacts values.  The real nox runs it in test_readme_commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest
from fakes.fake_session import FakeSession
from matrices import base
from real_runs import QUIET_A, copy_run

from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.matrix.shard import Shard, members
from tfmatrix.records.store import RunDir, new_run_id
from tfmatrix.run.execution.host import GpuInfo, HostFacts
from tfmatrix.run.noxside import dryrun
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.options import parse

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")
GPU_HOST = HostFacts(gpus=(GpuInfo(index=0, name="NVIDIA H100 80GB HBM3", source="nvml", memory_bytes=80 << 30),),
                     driver_version="580.65", cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")


@pytest.fixture
def ctx(tmp_path, monkeypatch) -> Context:
    monkeypatch.setenv("TFMATRIX_CACHE", str(tmp_path / "cache"))
    return Context(root=ROOT, matrix=parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                   run_id=new_run_id(), results_root=tmp_path / "results")


def said(ctx: Context, combo_id: str, words: list[str], host: HostFacts, capsys) -> dict[str, str]:
    dryrun.bench(FakeSession(Path("/nonexistent")), ctx, ctx.combination(combo_id), parse(words), host)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"tfmatrix: dry run of bench({combo_id}): nothing installed, nothing recorded"
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}


def interrupted_if(combo_id: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["combination"]["id"] == combo_id:
            doc.update(status="interrupted", outcome="interrupted", reason="SIGINT")
        return doc
    return change


def test_a_dry_run_says_the_plan_and_writes_nothing(ctx, capsys):
    plan = said(ctx, "tf2.20-cpu", ["--dry-run", "--quick"], CPU_HOST, capsys)
    assert plan["requires"].startswith("tensorflow==2.20.0, tf-models-official==2.20.0")
    assert plan["stack"] == "cpu (cpu)" and plan["here"] == "would run" and plan["predicted"] == "ok"
    assert plan["run"].startswith(f"a new run {ctx.run_id}") and plan["workload"].startswith("quick: ")
    assert plan["interleaved"] == "no: this nox does not say which bench sessions follow"
    assert not ctx.results_root.exists()  # no run folder, no record


def test_a_gpu_stack_is_skipped_on_a_gpu_less_host_and_runs_alone_on_a_gpu_host(ctx, capsys):
    plan = said(ctx, "tf2.20-cuda-pip", ["--dry-run"], CPU_HOST, capsys)
    assert plan["here"].startswith("skipped: no NVIDIA GPU visible") and plan["predicted"].startswith("no-gpu")
    assert plan["interleaved"] == "no: it would not run here"
    plan = said(ctx, "tf2.20-cuda-pip", ["--dry-run", "--gpu", "3"], GPU_HOST, capsys)
    assert plan["here"] == "skipped: --gpu 3: this host has GPUs 0"
    plan = said(ctx, "tf2.20-cuda-pip", ["--dry-run"], GPU_HOST, capsys)
    assert plan["here"] == "would run"
    assert not os.path.exists(ctx.results_root)


def test_a_dry_run_says_the_shard_and_what_resume_would_do(ctx, capsys):
    mine = members(ctx.combos, Shard(0, 2))
    elsewhere = next(c.id for c in ctx.combos if c.id not in mine)
    plan = said(ctx, elsewhere, ["--dry-run", "--shard", "0/2"], CPU_HOST, capsys)
    assert plan["shard"] == "0/2: not in it" and plan["here"].startswith("skipped: not in shard 0/2")
    with pytest.raises(TfmatrixError, match="--resume: no earlier run"):
        said(ctx, "tf2.20-cpu", ["--dry-run", "--resume"], CPU_HOST, capsys)
    run = RunDir(ctx.results_root, QUIET_A)
    copy_run(QUIET_A, ctx.results_root, change=interrupted_if("tf2.20-cpu"))
    before = sorted(p.name for p in run.path.iterdir())
    assert said(ctx, "tf2.15-cpu", ["--dry-run", "--resume"], CPU_HOST, capsys)["run"] == (
        f"resumes run {run.run_id}: already recorded (ok), not run again")
    assert "set aside" in said(ctx, "tf2.20-cpu", ["--dry-run", "--resume"], CPU_HOST, capsys)["run"]
    assert sorted(p.name for p in run.path.iterdir()) == before  # nothing set aside, nothing marked
