"""run.interleave: warm workers kept after the cold starts, then measured in shuffled rounds, and the room check.

No nox and no TensorFlow: the phase runner and the installer are the FAKEs of fakes/fake_bench.py, so the
order of every step is seen; the real rounds run in test_integration_sources (three combinations in one nox).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.fake_bench import Installer, Runner
from fakes.fake_session import FakeSession
from matrices import base

from tfmatrix.matrix.load import parse_matrix
from tfmatrix.records.status import Outcome, PhaseStatus, Status
from tfmatrix.records.store import new_run_id
from tfmatrix.run.execution import runner
from tfmatrix.run.execution.host import HostFacts, meminfo_bytes
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.scheduling import interleave, pipeline
from tfmatrix.run.scheduling.interleave import GiB, Interleave, room_for

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx",), machine="x86_64", system="Linux")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFMATRIX_CACHE", str(tmp_path / "cache"))


def benches(tmp_path: Path, ids: list[str], rounds: Interleave, run_phase: Runner) -> list[pipeline.Pipeline]:
    ctx = Context(root=ROOT, matrix=parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                  run_id=new_run_id(), results_root=tmp_path / "results")
    run = ctx.run_to_write(Options())
    ctx.ensure_run(run, Options())
    out = []
    for cid in ids:
        (tmp_path / cid).mkdir()
        b = pipeline.Pipeline(FakeSession(tmp_path / cid), ctx, ctx.combination(cid), Options(), run, host=CPU_HOST,
                           installer=Installer(), run_phase=run_phase, interleave=rounds)
        out.append(b)
    return out


def test_warm_phases_wait_then_run_in_shuffled_rounds_and_every_sample_keeps_its_round(tmp_path):
    run_phase = Runner()
    rounds = Interleave(rounds=4, seed=0, free=lambda: 64 * GiB)
    a, b = benches(tmp_path, ["tf2.15-cpu", "tf2.20-cpu"], rounds, run_phase)
    for x in (a, b):
        assert x() is None and x.waiting  # cold starts done; its warm worker kept
        pending = x.run.existing_record(x.combo.id)
        assert (pending.status, pending.outcome) == (Status.PENDING, Outcome.PENDING)
        assert "interleave session" in pending.reason and "--resume" in pending.reason
        assert not any(p.phase in ("latency", "throughput", "peakmem") for p in pending.phases)
    said: list[str] = []
    records = pipeline.run_rounds(rounds, said.append)
    assert [r.outcome for r in records] == [Outcome.OK, Outcome.OK]
    timed = [(name, r) for name, r in run_phase.rounds if r is not None]
    assert {r for _, r in timed} == {(i, 4) for i in range(4)}
    assert len(rounds.order) == 4 and all(sorted(o) == sorted(rounds.order[0]) for o in rounds.order)
    assert len({tuple(o) for o in rounds.order}) > 1  # the order changes between rounds
    # a round visits every combination before the next starts
    assert [r[0] for _, r in timed] == sorted(r[0] for _, r in timed)
    for x in (a, b):
        rec = x.run.existing_record(x.combo.id)
        lat = next(p for p in rec.phases if p.phase == "latency")
        assert lat.status == PhaseStatus.OK and lat.rounds == [i for i in range(4) for _ in range(3)]
        assert len(lat.samples) == 12 and lat.processes == [lat.processes[0]]
        assert next(p for p in rec.phases if p.phase == "peakmem").rounds is None  # once, after the rounds
        assert rec.status == Status.OK and not (x.run.path / "attempts").exists()  # replaced in place


@pytest.mark.parametrize("min_queries, rounds, taken", [
    (30, 10, list(range(10))),
    (5, 10, [0, 2, 4, 6, 8]),
    (3, 10, [0, 3, 6]),
    (1, 10, [0]),
    (5, 3, [0, 1, 2]),
])
def test_a_timed_step_takes_part_in_as_many_rounds_as_its_minimum_calls(min_queries, rounds, taken):
    parts = [interleave.share(min_queries, r, rounds) for r in range(rounds)]
    assert [r for r, part in enumerate(parts) if part is not None] == taken
    assert [part for part in parts if part is not None] == [(i, len(taken)) for i in range(len(taken))]


def test_throughput_takes_fewer_rounds_than_latency_and_both_sides_take_the_same_ones(tmp_path):
    run_phase = Runner()
    rounds = Interleave(rounds=10, seed=0, free=lambda: 64 * GiB)
    a, b = benches(tmp_path, ["tf2.15-cpu", "tf2.20-cpu"], rounds, run_phase)
    a(), b()
    pipeline.run_rounds(rounds, lambda s: None)
    q = a.workload.throughput_min_queries
    assert q < 10
    for x in (a, b):
        rec = x.run.existing_record(x.combo.id)
        thr = next(p for p in rec.phases if p.phase == "throughput")
        lat = next(p for p in rec.phases if p.phase == "latency")
        assert sorted(set(thr.rounds)) == list(range(q)) and sorted(set(lat.rounds)) == list(range(10))
    took = [r for name, r in run_phase.rounds if name.startswith("throughput") and r is not None]
    assert took == [(i, q) for i in range(q) for _ in (a, b)]


def test_a_crash_in_a_round_keeps_the_rounds_before_it_and_the_other_combination_goes_on(tmp_path):
    class CrashesInRound2(Runner):
        def __call__(self, spec, **kw):
            if spec.round == (2, 3) and "tf2.20" in kw["log_dir"].name:
                self.ends = {"latency": "crashed"}
            phase, result = super().__call__(spec, **kw)
            self.ends = {}
            return phase, result

    rounds = Interleave(rounds=3, seed=1, free=lambda: 64 * GiB)
    a, b = benches(tmp_path, ["tf2.15-cpu", "tf2.20-cpu"], rounds, CrashesInRound2())
    a(), b()
    ok, bad = pipeline.run_rounds(rounds, lambda s: None)
    assert ok.outcome == Outcome.OK and bad.status == Status.FAILED
    lat = next(p for p in bad.phases if p.phase == "latency")
    assert lat.status == PhaseStatus.CRASHED and lat.samples == [0.1, 0.12, 0.11] * 2  # rounds 0 and 1 kept
    assert next(p for p in bad.phases if p.phase == "peakmem").status == PhaseStatus.SKIPPED


def test_a_worker_without_room_is_measured_at_once_and_says_why(tmp_path):
    rounds = Interleave(rounds=3, seed=0, free=lambda: 1 * GiB)
    (a,) = benches(tmp_path, ["tf2.15-cpu"], rounds, Runner())
    rec = a()
    assert rec is not None and rec.outcome == Outcome.OK and not rounds.pending
    lat = next(p for p in rec.phases if p.phase == "latency")
    assert lat.note.startswith("not interleaved: 1.0 GiB free") and lat.rounds is None
    assert "not interleaved" in a.session.warnings[0]


def test_a_stop_while_waiting_rewrites_the_waiting_records_with_what_was_measured(tmp_path):
    rounds = Interleave(rounds=3, seed=0, free=lambda: 64 * GiB)
    (a,) = benches(tmp_path, ["tf2.15-cpu"], rounds, Runner())
    a()
    pipeline.stop_rounds(rounds, "SIGINT")
    rec = a.run.existing_record(a.combo.id)
    assert rec.status == Status.INTERRUPTED and "interrupted by SIGINT" in rec.reason
    assert any(p.phase == "load" and p.samples for p in rec.phases) and not rounds.pending
    assert not (a.run.path / "attempts").exists()  # in place of its pending record


@pytest.mark.parametrize("rss, kept, free, why", [
    (1 * GiB, [1 * GiB, 1 * GiB], 4 * GiB, ""),
    (1 * GiB, [1 * GiB] * 6, 4 * GiB, "not interleaved: 4.0 GiB free, 4.5 GiB needed"),
    (None, [], 64 * GiB, "not interleaved: its worker's memory was not measured"),
    (1 * GiB, [], None, "not interleaved: this host does not say how much memory is free"),
])
def test_room_for_counts_the_growth_of_every_kept_worker_and_a_reserve(rss, kept, free, why):
    got = room_for(rss, kept, free)
    assert got.startswith(why) and (got == "") == (why == "")


def test_meminfo_gives_what_the_room_check_reads_and_says_none_without_it(tmp_path):
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n")
    assert meminfo_bytes("MemAvailable", str(f)) == 20000000 * 1024
    assert meminfo_bytes("MemTotal", str(f)) == 24000000 * 1024
    assert meminfo_bytes("MemAvailable", str(tmp_path / "missing")) is None


def test_the_first_session_decides_from_the_sessions_nox_runs_after_it(tmp_path):
    ctx = Context(root=ROOT, matrix=parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                  run_id=new_run_id(), results_root=tmp_path / "results")
    s = FakeSession(tmp_path)
    found = interleave.decide(s, ctx, Options(), ["tf2.20-cpu"])
    assert found is not None and found.rounds == ctx.matrix.workload.rounds
    for opts, later in [(Options(no_interleave=True), ["tf2.20-cpu"]), (Options(), []), (Options(), None),
                        (Options(stage="measure", placed_by="gpus"), ["tf2.20-cpu"])]:
        assert interleave.decide(s, ctx, opts, later) is None
    assert "does not say which bench sessions follow" in s.warnings[-1]


def test_the_invocation_is_planned_once_by_its_first_session_and_holds_no_module_state(tmp_path):
    from tfmatrix.run.noxside import invocation

    ctx = Context(root=ROOT, matrix=parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                  run_id=new_run_id(), results_root=tmp_path / "results")
    run = ctx.run_to_write(Options())
    s = FakeSession(tmp_path)  # not nox's: nox does not say what follows
    inv = invocation.plan(s, ctx, run, Options(), ctx.combination("tf2.15-cpu"))
    assert inv is ctx.invocation and inv.planned and inv.selected is None and inv.rounds is None
    inv.selected = ["changed"]
    assert invocation.plan(s, ctx, run, Options(), ctx.combination("tf2.20-cpu")).selected == ["changed"]
    other = Context(root=ROOT, matrix=ctx.matrix, profile="default", run_id=ctx.run_id, results_root=ctx.results_root)
    assert not other.invocation.planned  # another nox command (another context): its own invocation


@pytest.mark.parametrize("part, taken, calls, seconds, warmup", [
    ((0, 10), (0, 0.0), 3, 0.5, 2),  # 30 calls and 5 s over 10 rounds: a tenth, the warmup first
    ((1, 10), (3, 0.4), 3, 0.6, 0),  # tops up to two tenths
    ((1, 10), (5, 1.2), 1, 0.0, 0),  # already past them: one call, for the paired ratio
    ((2, 3), (20, 3.0), 10, 2.0, 0),  # the last part reaches the whole minimums
])
def test_the_manager_decides_each_rounds_quota_from_what_the_earlier_rounds_took(part, taken, calls, seconds,
                                                                                 warmup):
    load = base_workload()
    spec = runner.PhaseSpec("latency", "warm", cls="C", method="time_x", batch=1)
    q = interleave.quota(load, spec, part, taken)
    assert (q.min_queries, round(q.min_seconds, 6), q.warmup) == (calls, seconds, warmup)
    assert q.budget_seconds == max(4 * 5.0, 60.0) / part[1]


def base_workload():
    from tfmatrix.worker.contract import Workload

    return Workload(latency_min_queries=30, latency_min_seconds=5.0, warmup=2)
