"""compare: threshold AND significance, status changes, missing combinations, exit codes."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import synthetic
from real_runs import QUIET_A, QUIET_B, copy_run, crashed, slowed

from tfmatrix.history import compare, verdicts
from tfmatrix.history.markdown import render_markdown
from tfmatrix.records import metrics as catalogue
from tfmatrix.records.model import CombinationRecord
from tfmatrix.stats import run_to_run_noise

ROOT = Path(__file__).resolve().parents[1]
#: medians measured for tf2.20-cpu on the 2-core development machine (run 20261129T110243Z-26d0fd)
MEDIANS = {("import", None): 3.66, ("load", None): 5.21, ("latency", 1): 0.140, ("throughput", 4): 0.455}


def record(cid: str, factor: float = 1.0, seed: int = 0, outcome: str = "ok", n: int = 30) -> CombinationRecord:
    """Seconds per call multiplied by ``factor``: above 1 a slowdown, for every metric (throughput falls)."""
    rng = random.Random(seed)
    phases = [synthetic.phase(p, None if p == "import" else "m", b,
                              [m * factor * rng.uniform(0.97, 1.03) for _ in range(n if p != "import" else 5)])
              for (p, b), m in MEDIANS.items()]
    phases.append(synthetic.phase("export", samples=[20.0 * factor]))  # one sample: never significant
    return synthetic.record(cid, "ok" if outcome == "ok" else "failed", phases, outcome=outcome)


def test_same_distribution_is_not_a_regression():
    cmp = compare.compare_runs({"a": record("a", seed=1)}, {"a": record("a", seed=2)})
    assert cmp.exit_status == 0
    assert {c.verdict for c in cmp.changes} == {"unchanged"}


def test_a_real_slowdown_is_a_regression_and_names_the_metric():
    cmp = compare.compare_runs({"a": record("a", seed=1)}, {"a": record("a", factor=1.5, seed=2)})
    assert cmp.exit_status == 1
    names = {c.metric.key for c in cmp.regressions}
    assert names == {"latency", "throughput[b4]", "load", "import"}
    throughput = next(c for c in cmp.regressions if c.metric.key == "throughput[b4]")
    assert throughput.unit == "images/s" and throughput.ratio == pytest.approx(1 / 1.5, rel=0.05)  # fewer images/s
    export = next(c for c in cmp.changes if c.metric.key == "export")
    assert export.verdict == "undecidable (n=1 a side; a verdict needs ≥ 5)" and export.ratio == pytest.approx(1.5)
    md = render_markdown(cmp)
    assert "regressed" in md and "| latency |" in md and "×1.50" in md  # ratios read ×N.NN everywhere (Quantity)
    assert "| throughput[b4] (higher is better) |" in md and "×0.67" in md


def test_a_speedup_is_an_improvement_in_both_directions():
    cmp = compare.compare_runs({"a": record("a", seed=1)}, {"a": record("a", factor=0.6, seed=2)})
    assert cmp.exit_status == 0
    assert {c.metric.key for c in cmp.improvements} == {"latency", "throughput[b4]", "load", "import"}


def test_a_small_slowdown_stays_under_the_threshold():
    cmp = compare.compare_runs({"a": record("a", seed=1)}, {"a": record("a", factor=1.03, seed=2)})
    assert cmp.exit_status == 0


def test_over_threshold_but_not_significant_is_not_a_regression():
    base = {"a": record("a", seed=1, n=8)}
    base["a"].phases[2].samples = [0.10, 0.20, 0.30, 0.12, 0.22, 0.31, 0.15, 0.25]
    cand = {"a": record("a", seed=2, n=8)}
    cand["a"].phases[2].samples = [0.12, 0.25, 0.33, 0.11, 0.28, 0.35, 0.30, 0.26]
    change = next(c for c in compare.compare_runs(base, cand).changes if c.metric.key == "latency")
    assert change.ratio > 1.10 and change.verdict == "not-significant" and change.p_value > 0.01


@pytest.mark.parametrize("n_base", range(1, 14))
def test_the_reachable_p_is_scipys_own_for_sides_wholly_apart(n_base):
    for n_cand in range(1, 14):
        a, b = [float(i) for i in range(n_base)], [float(n_base + i) for i in range(n_cand)]
        assert verdicts.reachable_p(n_base, n_cand) == pytest.approx(verdicts.mann_whitney_p(a, b), rel=1e-9)


def test_three_against_three_is_undecidable_whatever_the_change():
    """Mann-Whitney's smallest two-sided p with 3 against 3 is 0.1: even sides wholly apart cannot reach 0.01."""
    base = {"a": record("a", seed=1, n=3)}
    base["a"].phases[2].samples = [0.10, 0.11, 0.12]
    cand = {"a": record("a", seed=2, n=3)}
    cand["a"].phases[2].samples = [0.30, 0.31, 0.32]
    cmp = compare.compare_runs(base, cand)
    change = next(c for c in cmp.changes if c.metric.key == "latency")
    assert change.ratio == pytest.approx(0.31 / 0.11)
    assert change.verdict == "undecidable (n=3 a side; a verdict needs ≥ 5)" and change.p_value is None
    assert verdicts.reachable_p(3, 3) == pytest.approx(0.1) and verdicts.reachable_p(5, 5) < 0.01
    assert verdicts.samples_needed(0.01) == 5 and verdicts.samples_needed(0.05) == 4
    assert "undecidable (n=3 a side; a verdict needs ≥ 5)" in render_markdown(cmp)
    # the same samples five a side reach a verdict
    base["a"].phases[2].samples += [0.105, 0.115]
    cand["a"].phases[2].samples += [0.305, 0.315]
    five = next(c for c in compare.compare_runs(base, cand).changes if c.metric.key == "latency")
    assert five.verdict == "regression" and five.p_value < 0.01


def test_status_changes_and_missing_combinations():
    base = {"a": record("a"), "b": record("b", outcome="failed"), "gone": record("gone")}
    cand = {"a": record("a", outcome="failed"), "b": record("b"), "new": record("new")}
    cmp = compare.compare_runs(base, cand)
    verdicts = {s.combination: s.verdict for s in cmp.status_changes}
    assert verdicts == {"a": "regression", "b": "improvement"}
    assert cmp.only_in_base == ["gone"] and cmp.only_in_candidate == ["new"]
    assert cmp.exit_status == 1
    md = render_markdown(cmp)
    assert "only in base: gone" in md and "only in candidate: new" in md


def test_an_outcome_change_says_why_with_the_failed_sides_evidence_and_culprit():
    from tfmatrix.records.model import Failure

    broke = record("a", outcome="failed")
    broke.failure = Failure("keras-mismatch", "AttributeError: module 'keras._tf_keras.keras' has no attribute "
                            "'experimental'", "", "", "keras 3.15.1", "forced")
    fixed = record("b", outcome="install-failed")
    fixed.failure = Failure("no-interpreter", "nox: session skipped: Python interpreter 3.12 not found", "", "")
    cmp = compare.compare_runs({"a": record("a"), "b": fixed}, {"a": broke, "b": record("b")})
    why = {s.combination: s.why for s in cmp.status_changes}
    assert why == {"a": "keras-mismatch: AttributeError: module 'keras._tf_keras.keras' has no attribute "
                        "'experimental'; culprit: keras 3.15.1",
                   "b": "no-interpreter: nox: session skipped: Python interpreter 3.12 not found"}
    assert "| **regression** | keras-mismatch: AttributeError" in render_markdown(cmp)


def test_per_metric_threshold_by_family_or_by_key():
    base, cand = {"a": record("a", seed=1)}, {"a": record("a", factor=1.3, seed=2)}
    cmp = compare.compare_runs(base, cand, thresholds={"load": 1.5, "import": 1.5, "latency": 1.5, "throughput": 1.5})
    assert cmp.exit_status == 0
    cmp = compare.compare_runs(base, cand, thresholds={"load": 1.5, "import": 1.5, "latency": 1.5})
    assert {c.metric.key for c in cmp.regressions} == {"throughput[b4]"}
    cmp = compare.compare_runs(base, cand, thresholds={"load": 1.5, "import": 1.5, "latency": 1.5,
                                                       "throughput[b4]": 1.5, "throughput": 1.01})
    assert cmp.exit_status == 0  # the key wins over its family


def test_cli_unknown_metric_threshold_is_one_line(tmp_path):
    copy_run(QUIET_A, tmp_path / "results")
    copy_run(QUIET_B, tmp_path / "results")
    proc = run_cli(tmp_path, "--metric-threshold", "peakmem=1.2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("tfmatrix: error: --metric-threshold: got metric 'peakmem'; expected one of import")


def test_cli_bad_input_is_one_line_and_status_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TFMATRIX_RESULTS=str(tmp_path),
               TFMATRIX_REPORTS=str(tmp_path / "reports"))
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "compare", "nope", "20260101T000000Z-aaaaaa"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a run id" in proc.stderr and "Traceback" not in proc.stderr


# --- the acceptance cases on real records (tests/real_runs.py), through the command line



def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TFMATRIX_RESULTS": str(tmp_path / "results"),
           "TFMATRIX_REPORTS": str(tmp_path / "reports")}
    return subprocess.run([sys.executable, "-m", "tfmatrix", "compare", *args], env=env, capture_output=True,
                          text=True)


def test_two_real_runs_of_the_same_combinations_exit_0(tmp_path):
    copy_run(QUIET_A, tmp_path / "results")
    copy_run(QUIET_B, tmp_path / "results")
    md = tmp_path / "summary.md"
    proc = run_cli(tmp_path, "--markdown", str(md))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout
    assert md.read_text().startswith("## tfmatrix compare: no regression")
    page = tmp_path / "reports" / "compare" / f"{QUIET_A}_vs_{QUIET_B}.html"
    assert page.exists() and f"compare page: {page} (every row: {page.with_suffix('.json')})" in proc.stdout
    data = json.loads(page.with_suffix(".json").read_text())  # every row, for a CI step to read
    assert data["exit_status"] == 0 and data["base_run"] == QUIET_A and len(data["changes"]) > 10


@pytest.mark.parametrize("factor,status", [(1.5, 1), (1.03, 0)])
def test_real_candidate_slowed(tmp_path, factor, status):
    base = copy_run(QUIET_A, tmp_path / "results")
    cand = copy_run(QUIET_A, tmp_path / "results", "20991231T000000Z-aaaaaa", change=slowed(factor))
    proc = run_cli(tmp_path, str(base), str(cand))
    assert proc.returncode == status, proc.stdout + proc.stderr
    regressed = {line.split("|")[3].strip() for line in proc.stdout.splitlines() if "**regression**" in line}
    if status:
        # the latency samples (36 per run) show it; import and load have 3 samples, too few for p < 0.01
        assert "latency" in regressed
        assert "import" not in regressed
    else:
        assert regressed == set()


def test_real_ok_to_crash_is_a_regression(tmp_path):
    base = copy_run(QUIET_A, tmp_path / "results")
    cand = copy_run(QUIET_B, tmp_path / "results", change=crashed("tf2.20-cpu"))
    proc = run_cli(tmp_path, base.name, cand.name)
    assert proc.returncode == 1
    assert "| tf2.20-cpu | ok | failed | **regression** |" in proc.stdout


def test_unreadable_records_are_left_out_with_a_warning(tmp_path):
    base = copy_run(QUIET_A, tmp_path / "results")
    cand = copy_run(QUIET_B, tmp_path / "results", change=crashed("tf2.20-cpu"))
    (cand / "tf2.15-cpu.json").write_text('{"kind": "combination", "sch')  # truncated mid-write
    doc = json.loads((cand / "tf2.15-protobuf7-cpu.json").read_text())
    doc["phases"][0]["status"] = "exploded"  # fails the JSON Schema
    (cand / "tf2.15-protobuf7-cpu.json").write_text(json.dumps(doc))
    proc = run_cli(tmp_path, str(base), str(cand))
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("tfmatrix: warning: skipped: ")]
    assert len(warnings) == 2, proc.stderr
    assert any("tf2.15-cpu.json: not valid JSON" in w for w in warnings)
    assert any("tf2.15-protobuf7-cpu.json: does not match the combination schema" in w for w in warnings)
    # the rest is still compared: the crash is found, the unreadable ones are "only in base"
    assert proc.returncode == 1 and "| tf2.20-cpu | ok | failed | **regression** |" in proc.stdout
    assert "only in base: tf2.15-cpu, tf2.15-protobuf7-cpu" in proc.stdout


# --------------------------------------------------------------------------- run-to-run noise from the history


def series_of(*factors: float) -> list:
    """Earlier runs of combination "a" whose every metric moved by these factors, as compare reads them."""
    return [(f"run{i}", compare.series([record("a", factor=f, seed=10 + i)])) for i, f in enumerate(factors)]


def test_the_noise_is_known_from_min_history_runs_and_is_stats_run_to_run_noise():
    base, cand = {"a": record("a", seed=1)}, {"a": record("a", factor=1.3, seed=2)}
    two = compare.compare_runs(base, cand, history=series_of(1.0, 1.1))
    assert {c.noise for c in two.changes} == {None}  # too few runs to know
    three = compare.compare_runs(base, cand, history=series_of(1.0, 1.1, 1.0))
    latency = next(c for c in three.changes if c.metric.key == "latency")
    medians = [statistics.median(h[(c.combination, c.model, c.metric)]) for _, h in series_of(1.0, 1.1, 1.0)
               for c in [latency]]
    assert latency.history == 3 and latency.noise == pytest.approx(run_to_run_noise(medians))


def test_a_change_inside_the_historys_run_to_run_noise_is_not_a_regression():
    """One run's samples say +30 % is certain; runs that drift +-25 % between themselves say it is not."""
    base, cand = {"a": record("a", seed=1)}, {"a": record("a", factor=1.3, seed=2)}
    alone = compare.compare_runs(base, cand)
    assert {c.metric.key for c in alone.regressions} == {"latency", "throughput[b4]", "load", "import"}
    assert {c.noise for c in alone.changes} == {None} and "unknown for" in render_markdown(alone)
    noisy = compare.compare_runs(base, cand, history=series_of(1.0, 0.8, 1.0, 1.25, 1.0))
    assert noisy.exit_status == 0 and not noisy.regressions
    latency = next(c for c in noisy.changes if c.metric.key == "latency")
    assert latency.verdict == "within-noise" and latency.history == 5 and latency.noise > 0.15
    md = render_markdown(noisy)
    assert "run-to-run noise: known for every metric, from 5 earlier run(s)" in md
    assert f"| {latency.noise_shown} | within-noise |" in md and latency.noise_shown.endswith("(5 runs)")


def test_a_change_beyond_a_quiet_historys_noise_is_still_a_regression():
    base, cand = {"a": record("a", seed=1)}, {"a": record("a", factor=1.3, seed=2)}
    quiet = compare.compare_runs(base, cand, history=series_of(1.0, 1.02, 0.99, 1.01))
    assert {c.metric.key for c in quiet.regressions} == {"latency", "throughput[b4]", "load", "import"}
    assert all(c.noise is not None and c.noise < 0.05 for c in quiet.regressions)


def test_compare_folders_reads_the_noise_from_the_runs_before_the_candidate(tmp_path):
    root = tmp_path / "results"
    runs = [copy_run(QUIET_A, root, f"20261201T00000{i}Z-00000{i}", slowed(f)) for i, f in
            enumerate([1.0, 1.3, 1.0, 1.3, 1.0])]
    cand = copy_run(QUIET_A, root, "20261201T000009Z-000009", slowed(1.3))
    late = copy_run(QUIET_A, root, "20261201T000010Z-000010")  # after the candidate: never its history
    cmp = compare.compare_folders(runs[-1], cand)
    assert cmp.history == [r.name for r in runs] and late.name not in cmp.history
    assert not cmp.regressions and any(c.verdict == "within-noise" for c in cmp.changes)
    none = compare.compare_folders(runs[-1], cand, history=0)
    assert none.history == [runs[-1].name] and none.regressions  # the base alone: noise unknown


def test_compare_folders_gives_the_same_comparison_one_record_file_at_a_time_and_across_processes(tmp_path, monkeypatch):
    root = tmp_path / "results"
    runs = [copy_run(QUIET_A, root, f"20261201T00000{i}Z-00000{i}", slowed(f)) for i, f in
            enumerate([1.0, 1.3, 1.0, 1.3])]
    cand = copy_run(QUIET_B, root, "20261201T000009Z-000009", slowed(1.3))
    (cand / "tf2.20-cpu.json").rename(cand / "tf2.20-cpu.json.away")  # in the base only
    whole = compare.compare_folders(runs[-1], cand)
    monkeypatch.setattr(compare, "SLICE", 1)
    sliced = compare.compare_folders(runs[-1], cand)
    pools = []

    class Counted(compare.ProcessPoolExecutor):
        def __init__(self, *args, **kw):
            pools.append(kw["max_workers"])
            super().__init__(*args, **kw)

    monkeypatch.setattr(compare, "ProcessPoolExecutor", Counted)
    monkeypatch.setattr(compare, "PARALLEL_FROM", 1)  # a run this small is otherwise compared in one process
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    parallel = compare.compare_folders(runs[-1], cand)
    monkeypatch.setattr(compare, "MP_CONTEXT", multiprocessing.get_context("spawn"))  # macOS's and Windows' way
    spawned = compare.compare_folders(runs[-1], cand)
    assert pools == [2, 2]
    for cmp in (sliced, parallel, spawned):
        assert [c.to_json() for c in cmp.changes] == [c.to_json() for c in whole.changes] and whole.changes
        assert cmp.only_in_base == whole.only_in_base == ["tf2.20-cpu"]
        assert (cmp.history, cmp.warnings, cmp.status_changes) == (whole.history, whole.warnings,
                                                                   whole.status_changes)
    assert all(c.metric is catalogue.by_key(c.metric.key) for c in parallel.changes + spawned.changes)


def test_cli_within_names_a_missing_combination_in_one_line(tmp_path):
    run = copy_run(QUIET_A, tmp_path / "results")
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "compare", "--within", str(run), "tf2.15-cpu", "nope"],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no record of nope" in proc.stderr


def test_the_cli_reads_compares_defaults_from_compare(capsys):
    from tfmatrix import cli

    args = cli.build_parser().parse_args(["compare"])
    assert (args.threshold, args.alpha, args.history) == (
        compare.DEFAULT_THRESHOLD, compare.DEFAULT_ALPHA, compare.DEFAULT_HISTORY)
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert f"(default {compare.DEFAULT_THRESHOLD:g})" in shown and f"(default {compare.DEFAULT_HISTORY};" in shown


# ------------------------------------------------------------------ predictions (nox -s predict)

def test_a_platform_that_stops_installing_is_a_status_regression(new_run, make_prediction, tmp_path):
    why = "tensorflow-text 2.21.0 has no win_amd64 wheel; it is required by tf-models-official 2.21.0"
    base, cand = new_run(), new_run()
    for run, status, mac in ((base, "installable", "installable"), (cand, "no-wheel", "installable")):
        run.write_prediction(make_prediction("tf2.21-cpu", "windows", status, why if status != "installable" else "",
                                             "export on Linux", run_id=run.run_id))
        run.write_prediction(make_prediction("tf2.21-cpu", "macos-arm64", mac, run_id=run.run_id))
    run_only = make_prediction("tf2.20-cpu", "windows", run_id=cand.run_id)
    cand.write_prediction(run_only)
    cmp = compare.compare_folders(base.path, cand.path)
    (change,) = cmp.status_changes
    assert (change.combination, change.base, change.candidate, change.verdict) == (
        "tf2.21-cpu@windows-py3.11", "installable", "no-wheel", "regression")
    assert change.why == f"predicted, not run: {why}; fix: export on Linux"
    assert cmp.only_in_candidate == [run_only.key] and cmp.exit_status == 1
    md = render_markdown(cmp)
    assert "| tf2.21-cpu@windows-py3.11 | installable | no-wheel | **regression** |" in md
    back = compare.compare_folders(cand.path, base.path)
    assert [c.verdict for c in back.status_changes] == ["improvement"] and back.exit_status == 0
    assert back.status_changes[0].why == f"predicted, not run: {why}"


def test_a_gpu_statement_or_another_failure_class_is_a_change_not_a_regression(make_prediction):
    cmp = compare.Comparison("a", "b")
    compare.prediction_changes(
        [make_prediction("tf2.15-cpu", "windows", "no-wheel", "x has no win_amd64 wheel")],
        [make_prediction("tf2.15-cpu", "windows", "resolver-conflict", "No solution found")], cmp)
    assert [(c.base, c.candidate, c.verdict) for c in cmp.status_changes] == [
        ("no-wheel", "resolver-conflict", "changed")]
    assert cmp.exit_status == 0


def test_a_folder_with_neither_records_nor_predictions_is_one_line(new_run):
    empty, other = new_run(), new_run()
    with pytest.raises(Exception, match="holds no readable combination records or predictions"):
        compare.compare_folders(empty.path, other.path)


def test_a_saved_model_you_bring_stays_one_benchmark_and_a_change_of_its_bytes_is_said():
    from tfmatrix.records.model import Producer

    def brought(cid: str, sha: str, factor: float) -> CombinationRecord:
        rec = record(cid, factor=factor)
        return dataclasses.replace(rec, producers=[Producer(model="m", source="brought", path="/models/m",
                                                            export_sha256=sha * 64)])

    cmp = compare.compare_runs({"c": brought("c", "a", 1.0)}, {"c": brought("c", "b", 2.0)})
    assert any(c.metric.key == "load" and c.verdict == "regression" for c in cmp.changes)  # compared, by model id
    assert cmp.warnings == ["c m: the SavedModel you bring changed between the runs (sha256 aaaaaaaaaaaa -> "
                            "bbbbbbbbbbbb); its changes may be the model's own"]
    same = compare.compare_runs({"c": brought("c", "a", 1.0)}, {"c": brought("c", "a", 1.0)})
    assert same.warnings == []
