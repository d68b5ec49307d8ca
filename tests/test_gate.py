"""The upgrade gate's adaptive re-measure (history/gate.py): rounds of more cold starts, pooled, up to a cap.

The rounds themselves are ``nox -s bench`` runs; here :class:`RecordedRounds` stands in for them (a named
seam: it writes the records a round would, with the samples the test says), and one test holds the real
``Remeasure.round`` to the nox command line it runs.
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
import synthetic

from tfmatrix.errors import TfmatrixError
from tfmatrix.history import compare, gate
from tfmatrix.history.markdown import render_markdown
from tfmatrix.records.model import CombinationRecord
from tfmatrix.records.store import RunDir, new_run_id

BASE = [1.0, 1.1, 1.2, 1.3, 1.4]  # load seconds, 5 cold starts
SLOWER = [1.25, 1.35, 1.45, 1.55, 1.65]  # x1.21 but overlapping: p = 0.056 at 5 a side, 0.0044 at 10


def rec(cid: str, load: Sequence[float], latency: float = 0.1) -> CombinationRecord:
    return synthetic.record(cid, "ok", [
        synthetic.phase("import", None, samples=[3.0 + 0.01 * i for i in range(len(load))]),
        synthetic.phase("load", samples=load),
        synthetic.phase("first-inference", samples=[0.5 + 0.01 * i for i in range(len(load))]),
        synthetic.phase("latency", batch=1, samples=[latency * (1 + 0.01 * i) for i in range(30)])])


@dataclass(frozen=True)
class RecordedRounds(gate.Remeasure):
    """A stand-in for ``nox -s bench(BASE) bench(CANDIDATE) -- --cold-starts N``: each round writes the records
    of a new run with the next load samples of ``rounds`` (cycled to N), and notes the N it was asked."""

    rounds: list[tuple[list[float], list[float]]] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)
    run_record: Callable[..., Any] = print

    def round(self, base: str, cand: str, cold: int, results: Path) -> RunDir:
        self.asked.append(cold)
        b, c = self.rounds[len(self.asked) - 1]
        run = RunDir(results, new_run_id())
        run.ensure(lambda: self.run_record(run.run_id))
        for cid, xs in ((base, b), (cand, c)):
            run.write_record(dataclasses.replace(rec(cid, [xs[i % len(xs)] for i in range(cold)] if xs else []),
                                                 run_id=run.run_id, started_at="2026-12-07T10:00:00+00:00",
                                                 ended_at="2026-12-07T10:05:00+00:00"))
        return run


def judge(b: CombinationRecord, c: CombinationRecord) -> compare.Comparison:
    return gate.compare_combinations(b, c)


def load_of(cmp: compare.Comparison) -> compare.Change:
    return next(c for c in cmp.changes if c.metric.key == "load")


@pytest.fixture
def rounds(make_run_record) -> Callable[..., RecordedRounds]:
    """``rounds((base_loads, cand_loads), ..., cap=N)``: the rounds a gate may ask for, in order."""
    def make(*pairs: tuple[list[float], list[float]], cap: int = gate.MAX_COLD_STARTS) -> RecordedRounds:
        return RecordedRounds(sys.executable, Path("noxfile.py"), cap=cap, rounds=list(pairs),
                              run_record=make_run_record)
    return make


def test_a_slowdown_not_yet_significant_gets_another_round_and_then_a_verdict(tmp_path, rounds):
    first = judge(rec("base", BASE), rec("cand", SLOWER))
    assert load_of(first).verdict == "not-significant"  # x1.21, p = 0.056: five a side cannot tell yet
    more = rounds((BASE, SLOWER))
    cmp = gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, more, tmp_path)
    assert more.asked == [5]  # as many more as it had: 10 a side, pooled
    load = load_of(cmp)
    assert load.verdict == "regression" and load.p_value < 0.01 and cmp.exit_status == 1
    assert len(cmp.rounds) == 1 and "5 more cold starts a side (load not-significant); judged on 10 pooled" \
        in cmp.rounds[0]
    assert "- re-measured: " in render_markdown(cmp)


def test_a_spurious_ratio_is_measured_again_and_comes_out_unchanged(tmp_path, rounds):
    # an A/A pair whose first five happened to lie apart by x1.21; the next 15 do not
    more = rounds((BASE, BASE), (BASE, BASE))
    cmp = gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, more, tmp_path)
    # 10 pooled: medians 1.2 and 1.325, x1.104, still beyond x1.10 and not significant; 20 pooled: x1.06
    assert more.asked == [5, 10]
    load = load_of(cmp)
    assert load.verdict == "unchanged" and load.ratio == pytest.approx(1.275 / 1.2) and cmp.exit_status == 0
    assert len(cmp.rounds) == 2 and "judged on 20 pooled" in cmp.rounds[-1]


def test_no_round_where_every_cold_start_metric_is_decided(tmp_path, rounds):
    more = rounds()
    far = [x * 2 for x in BASE]  # wholly apart: p = 0.0079 at 5 a side
    cmp = gate.adaptive(rec("base", BASE), rec("cand", far), judge, more, tmp_path)
    assert more.asked == [] and load_of(cmp).verdict == "regression" and cmp.rounds == []
    same = gate.adaptive(rec("base", BASE), rec("cand", BASE), judge, more, tmp_path)
    assert more.asked == [] and same.exit_status == 0


def test_latency_beyond_its_factor_is_not_a_reason_for_more_cold_starts(tmp_path, rounds):
    more = rounds()
    cmp = gate.adaptive(rec("base", BASE), rec("cand", BASE, latency=0.2), judge, more, tmp_path)
    assert more.asked == [] and {c.metric.key for c in cmp.regressions} == {"latency"}


def test_the_cap_stops_the_rounds_and_says_so(tmp_path, rounds):
    more = rounds(cap=5)
    cmp = gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, more, tmp_path)
    assert more.asked == [] and load_of(cmp).verdict == "not-significant"
    assert cmp.rounds == ["load: still undecided at 5 cold starts a side, the cap (--max-cold-starts 5)"]
    capped = rounds((BASE, SLOWER), cap=8)
    gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, capped, tmp_path)
    assert capped.asked == [3]  # never past the cap


def test_a_round_whose_cold_starts_gave_nothing_ends_the_rounds(tmp_path, rounds):
    more = rounds(([], []), (BASE, SLOWER))  # the first extra round's cold starts all failed
    cmp = gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, more, tmp_path)
    assert more.asked == [5] and load_of(cmp).verdict == "not-significant"  # never asked again: no loop
    assert "it gave no more samples" in cmp.rounds[-1]


def test_without_a_remeasure_the_first_verdict_stands(tmp_path):
    cmp = gate.adaptive(rec("base", BASE), rec("cand", SLOWER), judge, None, tmp_path)
    assert load_of(cmp).verdict == "not-significant" and cmp.rounds == []


def test_pooled_appends_only_the_cold_start_samples():
    a, b = rec("x", BASE), rec("x", SLOWER)
    both = gate.pooled(a, [b])
    by = {p.phase: p.samples for p in both.phases}
    assert by["load"] == BASE + SLOWER and len(by["import"]) == 10 and len(by["first-inference"]) == 10
    assert by["latency"] == next(p.samples for p in a.phases if p.phase == "latency")
    assert gate.cold_starts(both) == 10 and gate.cold_starts(a) == 5


def test_the_real_round_runs_bench_of_both_in_a_new_run_with_the_cold_starts(tmp_path, monkeypatch):
    seen = []

    codes = iter([1, 2])  # 1: a combination failed (its record says so); 2: nox itself failed

    def fake_run(argv, env, check):
        seen.append((argv, env))
        return subprocess.CompletedProcess(argv, next(codes))

    monkeypatch.setattr(gate.subprocess, "run", fake_run)
    r = gate.Remeasure("/py", Path("/p/noxfile.py"), ("--quick",))
    run = r.round("tf2.15-cpu", "tf2.20-cpu", 10, tmp_path)
    argv, env = seen[0]
    assert argv == ["/py", "-m", "nox", "-f", "/p/noxfile.py", "-s", "bench(tf2.15-cpu)", "bench(tf2.20-cpu)",
                    "--", "--quick", "--cold-starts", "10"]
    assert env["TFMATRIX_RUN_ID"] == run.run_id and run.path.parent == tmp_path
    with pytest.raises(TfmatrixError, match="ended with exit status 2"):
        r.round("tf2.15-cpu", "tf2.20-cpu", 10, tmp_path)


def test_cli_max_cold_starts_below_one_is_one_line(tmp_path):
    import os

    from real_runs import QUIET_A, copy_run

    run = copy_run(QUIET_A, tmp_path / "results")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "compare", "--within", str(run), "tf2.15-cpu",
                           "tf2.20-cpu", "--max-cold-starts", "0"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(root / "src")})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--max-cold-starts: got 0" in proc.stderr


# --------------------------------------------------------------------------- the judge: two combinations, one run

MEDIANS = {("import", None): 3.66, ("load", None): 5.21, ("latency", 1): 0.140, ("throughput", 4): 0.455}


def rounded(cid: str, factor: float, seed: int, rounds: int = 10, per: int = 4) -> CombinationRecord:
    """Latency and throughput sampled in interleaved rounds, under a drift both combinations share (+40 %)."""
    rng = random.Random(seed)
    phases = []
    for (p, b), m in MEDIANS.items():
        if p in ("latency", "throughput"):
            xs = [m * factor * (1 + 0.4 * r / rounds) * rng.uniform(0.97, 1.03) for r in range(rounds)
                  for _ in range(per)]
            phases.append(synthetic.phase(p, "m", b, xs, rounds=[r for r in range(rounds) for _ in range(per)]))
        else:
            phases.append(synthetic.phase(p, None if p == "import" else "m", b,
                                          [m * factor * rng.uniform(0.97, 1.03) for _ in range(5)]))
    return synthetic.record(cid, "ok", phases)


def test_rerun_base_judges_interleaved_metrics_on_their_paired_rounds():
    same = gate.compare_combinations(rounded("base", 1.0, 1), rounded("cand", 1.0, 2))
    assert same.exit_status == 0 and same.rerun and same.base_run.endswith(":base")
    paired = {c.metric.key: c for c in same.changes if c.paired is not None}
    assert set(paired) == {"latency", "throughput[b4]"}  # the cold-start metrics: not sampled in rounds
    assert all(0.97 < c.paired.low <= c.paired.ratio <= c.paired.high < 1.03 for c in paired.values())
    slow = gate.compare_combinations(rounded("base", 1.0, 1), rounded("cand", 1.2, 2))
    lat = next(c for c in slow.changes if c.metric.key == "latency")
    assert lat.verdict == "regression" and lat.paired.low > 1.15 and lat.p_value is None
    assert {c.metric.key for c in slow.regressions} >= {"latency", "throughput[b4]", "load"}
    md = render_markdown(slow)
    assert "paired: ×1.2" in md and "judged on paired interleaved rounds" in md


def test_rerun_base_without_rounds_falls_back_to_the_one_runs_samples():
    cmp = gate.compare_combinations(rec("base", BASE), rec("cand", [x * 1.5 for x in BASE]))
    assert all(c.paired is None for c in cmp.changes) and cmp.exit_status == 1
    assert load_of(cmp).verdict == "regression" and "0 of" in cmp.noise_line
