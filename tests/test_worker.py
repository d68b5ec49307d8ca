"""worker.main and worker.contract: what crosses into a combination's venv and back, and the worker's own endings.

The benchmark is tests/data/tiny_bench.py (asv's conventions, no TensorFlow).  run_benchmark runs in-process
here; ``python -m tfmatrix.worker`` runs as the manager starts it, to see its exit statuses and result file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfmatrix.worker import main as worker
from tfmatrix.worker.contract import BenchConfig, ModelSpec, Quota, Telemetry, WorkerResult, WorkerSpec, Workload

ROOT = Path(__file__).resolve().parents[1]
TINY = str(Path(__file__).parent / "data" / "tiny_bench.py")


def spec(method: str, params=(2,), cls: str = "Tiny", **kw) -> WorkerSpec:
    return WorkerSpec(benchmark_file=TINY, cls=cls, method=method, params=tuple(params), timeout=60, **kw)


def test_time_track_and_peakmem_fill_the_result_by_asvs_prefixes():
    timed = worker.run_benchmark(spec("time_sleep"))
    assert timed.kind == "time" and timed.unit == "seconds" and len(timed.samples) >= 5 and timed.warmup == 1
    assert timed.extra == {"setup_n": 2} and timed.setup_seconds >= 0 and timed.truncated is None
    tracked = worker.run_benchmark(spec("track_value"))
    assert (tracked.samples, tracked.unit) == ([85.0], "widgets")
    mem = worker.run_benchmark(spec("peakmem_alloc"))
    assert mem.unit == "bytes" and mem.samples[0] >= 64 << 20


def test_a_time_benchmark_stops_at_its_budget_and_says_so():
    out = worker.run_benchmark(spec("time_sleep", budget_seconds=0.0))
    assert len(out.samples) == 3 and out.truncated.startswith("stopped after 3 queries: budget of 0 s")


def test_a_method_that_is_not_an_asv_benchmark_is_an_error():
    with pytest.raises(ValueError, match="not an asv benchmark name"):
        worker.run_benchmark(spec("setup"))


def test_the_contract_round_trips_through_json():
    s = spec("time_sleep", telemetry=Telemetry((0, 1), 0.05), budget_seconds=9.0)
    assert WorkerSpec.from_json(json.loads(json.dumps(s.to_json()))) == s
    r = WorkerResult(kind="time", samples=[0.1], unit="seconds", warmup=2, wall_seconds=1.0, peak_rss_bytes=5)
    doc = r.to_json()
    assert "exception" not in doc and "telemetry" not in doc  # unset optional fields are left out
    assert WorkerResult.from_json(json.loads(json.dumps(doc))) == r
    config = BenchConfig("c", (ModelSpec("m", "retinanet_resnetfpn_coco", (256, 256), {"a": {"b": 1}}),),
                         {"m": "/exports/m"}, Workload().quick())
    again = BenchConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config and again.export_dir("m") == "/exports/m"
    assert again.model("m").config_digest() == config.model("m").config_digest()
    with pytest.raises(KeyError, match="model 'x' is not in this combination"):
        config.model("x")


def test_without_a_config_the_suite_has_no_models(monkeypatch):
    monkeypatch.delenv("TFMATRIX_BENCH_CONFIG", raising=False)
    assert BenchConfig.load() == BenchConfig() and BenchConfig.load().workload == Workload()


def run_worker(tmp_path: Path, spec_text: str) -> tuple[int, dict | None]:
    spec_path, out = tmp_path / "spec.json", tmp_path / "out.json"
    spec_path.write_text(spec_text)
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-m", "tfmatrix.worker", "--spec", str(spec_path), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(out.read_text()) if out.exists() else None


def test_the_worker_reports_through_its_result_file_with_its_exit_status(tmp_path):
    code, result = run_worker(tmp_path, json.dumps(spec("track_value").to_json()))
    assert code == worker.EXIT_OK and result["status"] == "ok" and result["samples"] == [85.0]
    assert result["peak_rss_bytes"] > 0 and result["wall_seconds"] > 0
    code, result = run_worker(tmp_path, json.dumps(spec("track_raise", params=(), cls="Crash").to_json()))
    assert code == worker.EXIT_BENCHMARK_ERROR and result["status"] == "error"
    assert result["exception"]["type"] == "ValueError" and "track_raise" in result["exception"]["traceback"]
    code, result = run_worker(tmp_path, "{not json")
    assert code == worker.EXIT_BAD_SPEC and result is None


def test_a_serving_worker_runs_each_step_sent_and_appends_one_result_line_each(tmp_path):
    out = tmp_path / "results.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    steps = [spec("track_value"), spec("track_value", params=(1,)), spec("track_raise", params=(), cls="Crash"),
             spec("track_value")]
    text = "".join(json.dumps(s.to_json()) + "\n" for s in steps)
    proc = subprocess.run([sys.executable, "-m", "tfmatrix.worker", "--serve", "--out", str(out)], input=text,
                          env=env, capture_output=True, text=True, timeout=120)
    results = [json.loads(line) for line in out.read_text().splitlines()]
    # the step that raised ends the worker: the manager decides what runs next, in a fresh process
    assert proc.returncode == worker.EXIT_BENCHMARK_ERROR and len(results) == 3
    assert [r["status"] for r in results] == ["ok", "ok", "error"] and results[1]["samples"] == [42.5]
    bad = subprocess.run([sys.executable, "-m", "tfmatrix.worker", "--serve", "--out", str(tmp_path / "b.jsonl")],
                         input="{not json\n", env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == worker.EXIT_BAD_SPEC and "cannot read step" in bad.stderr


def test_the_worker_ends_without_the_interpreters_teardown_but_keeps_its_output(tmp_path):
    out, marker = tmp_path / "results.jsonl", tmp_path / "at-exit"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TINY_AT_EXIT=str(marker))
    proc = subprocess.run([sys.executable, "-m", "tfmatrix.worker", "--serve", "--out", str(out)],
                          input=json.dumps(spec("track_leaves_teardown_work").to_json()) + "\n", env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == worker.EXIT_OK and json.loads(out.read_text())["samples"] == [1.0]
    assert "printed last, not flushed" in proc.stdout  # flushed before it ends
    assert not marker.exists()  # no teardown: the next cold start does not wait for it


def test_a_quota_from_the_manager_replaces_the_benchmarks_minimums_and_warmup():
    whole = worker.run_benchmark(spec("time_sleep"))
    first = worker.run_benchmark(spec("time_sleep", quota=Quota(2, 0.0, 1, 10.0)))
    later = worker.run_benchmark(spec("time_sleep", quota=Quota(1, 0.0, 0, 10.0)))
    assert first.warmup == 1 and later.warmup == 0
    assert len(first.samples) == 2 and len(later.samples) == 1 < len(whole.samples)
    again = WorkerSpec.from_json(json.loads(json.dumps(spec("time_sleep", quota=Quota(1, 0.5, 0, 3.0)).to_json())))
    assert again.quota == Quota(1, 0.5, 0, 3.0)


def test_the_managers_quotas_add_up_to_the_minimums_of_a_whole_run_and_the_worker_keeps_nothing():
    """Each round tops up to its share of the minimums, from what the manager counted of the earlier rounds
    (each round rounding its own share of 5 calls up took 2 + 2 + 2); the worker is told, and remembers nothing."""
    from tfmatrix.run.execution.runner import PhaseSpec
    from tfmatrix.run.scheduling.interleave import quota

    whole = worker.run_benchmark(spec("time_sleep", params=(20,)))  # 5 calls of 20 ms, and 0.05 s: 5 calls
    load = Workload(throughput_min_queries=5, throughput_min_seconds=0.05, warmup=1)
    step = PhaseSpec("throughput", "warm", cls="Tiny", method="time_sleep", params=(20,), batch=4)
    taken, rounds = (0, 0.0), []
    for i in range(3):
        q = quota(load, step, (i, 3), taken)
        rounds.append(worker.run_benchmark(spec("time_sleep", params=(20,), quota=q)))
        taken = (taken[0] + len(rounds[-1].samples), taken[1] + sum(rounds[-1].samples))
    assert all(len(r.samples) >= 1 for r in rounds)  # every round has its sample, for the paired ratio
    assert sum(len(r.samples) for r in rounds) <= len(whole.samples) == 5
    assert [r.warmup for r in rounds] == [1, 0, 0]
    assert not [n for n, v in vars(worker).items()  # no module-level tally
                if not n.startswith("__") and isinstance(v, (dict, list, set))]
