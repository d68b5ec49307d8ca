"""report.view: the grid, timing tables, stability notes and details, built from real records."""

from __future__ import annotations

import dataclasses
import math

import pytest
from real_runs import QUIET_A, WITH_WEIGHTS, copy_run, typed_records

from tfmatrix.errors import TfmatrixError
from tfmatrix.records.store import load_run
from tfmatrix.report import data, details, view


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(copy_run(WITH_WEIGHTS, tmp_path_factory.mktemp("results")))


def with_phase(record, kind, **changes):
    """The record with its first ``kind`` phase changed."""
    phases = [dataclasses.replace(p, **changes) if p.phase == kind else p for p in record.phases]
    return dataclasses.replace(record, phases=phases)


def test_grid_rows_are_tensorflow_builds_and_columns_stacks(run):
    grid = view.build_grid(data.combinations_frame(run.records))
    assert grid.columns == ["cpu", "cuda-pip"]
    assert [r.label for r in grid.rows] == ["tf2.15", "tf2.15-numpy2", "tf2.15-protobuf7", "tf2.20"]
    numpy2 = grid.rows[1]
    assert numpy2.expect == "numpy-abi"
    (entry,) = numpy2.cells[0]
    assert (entry.outcome, entry.css, entry.failure_class) == ("expected-failure", "expected", "numpy-abi")
    assert entry.prediction_held is True and entry.href == "#c-tf2_15-numpy2-cpu"
    assert numpy2.cells[1] == []  # the known-bad entry runs on cpu only
    gpu = grid.rows[0].cells[1]
    assert {e.outcome for e in gpu} == {"skipped"} and len(gpu) == 3  # one entry per model


def test_grid_adds_python_to_columns_only_when_it_varies(run):
    frame = data.combinations_frame(run.records)
    frame.loc[frame.combination_id == "tf2.20-cpu", "python"] = "3.12"
    assert "cpu · py3.12" in view.build_grid(frame).columns


def test_default_baseline_is_the_oldest_tensorflow_that_ran_ok(run):
    assert view.choose_baseline(run.records, None) == "tf2.15-cpu"
    assert view.choose_baseline(run.records, "tf2.20-cpu") == "tf2.20-cpu"
    with pytest.raises(TfmatrixError, match="--baseline: got 'nope'"):
        view.choose_baseline(run.records, "nope")


def test_timing_table_marks_the_best_and_gives_ratios_to_the_baseline(run):
    frame = data.metrics_frame(run.records)
    table = view.build_timing(frame, "tf2.15-cpu")
    labels = [c.label for c in table.columns]
    assert labels[:4] == ["import", "export", "cold load", "first inference"]
    assert {"latency b1 p50", "latency b1 p90", "latency b1 p99", "throughput b1", "throughput b4",
            "peak host RSS"} <= set(labels)
    # import has no model: it joins its combination's model row instead of a row of its own
    assert [(r.combination, r.model) for r in table.rows] == [
        ("tf2.15-cpu", "retinanet-mnv2-256"), ("tf2.15-protobuf7-cpu", "retinanet-mnv2-256"),
        ("tf2.20-cpu", "retinanet-mnv2-256")]
    for i, _col in enumerate(table.columns):
        cells = [r.cells[i] for r in table.rows]
        assert sum(c.fastest for c in cells) >= 1
        assert cells[0].baseline and cells[0].ratio == ""
        assert all(c.ratio.startswith("×") for c in cells[1:])
    # the ratio is the candidate's value over the baseline's, from the records' own medians
    imp = {r.combination: r.cells[0] for r in table.rows}
    medians = frame[frame.metric == "import"].set_index("combination_id")["median"]
    assert imp["tf2.20-cpu"].ratio == f"×{medians['tf2.20-cpu'] / medians['tf2.15-cpu']:.2f}"


def test_confidence_interval_only_with_enough_samples(run):
    frame = data.metrics_frame(run.records)
    lat = frame[(frame.metric == "latency") & (frame.combination_id == "tf2.20-cpu")].iloc[0]
    assert lat["n"] >= 8 and lat["ci_low"] <= lat["median"] <= lat["ci_high"]
    imp = frame[(frame.metric == "import") & (frame.combination_id == "tf2.20-cpu")].iloc[0]
    assert imp["n"] == 3 and math.isnan(imp["ci_low"])
    table = view.build_timing(frame, None)
    cell = table.rows[-1].cells[0]
    assert cell.ci.startswith("n=3, no 99% CI; range")


def test_stability_flags_spread_and_too_few_samples(run):
    frame = data.metrics_frame(run.records)
    notes = view.stability_notes(frame)
    few = [n for n in notes if "samples: a 99% interval" in n.problem]
    assert {(n.combination, n.metric) for n in few} >= {("tf2.20-cpu", "import"), ("tf2.20-cpu", "cold load")}
    assert all("workload." in n.advice for n in few)
    assert {n.model for n in few if n.metric == "import"} == {None}  # not pandas' NaN
    assert {n.advice for n in few if n.metric == "latency b1"} <= {
        "Raise workload.latency.min_queries in matrix.yaml to collect more samples."}
    # single-shot metrics are never judged
    assert not [n for n in notes if n.metric in ("export", "first inference", "peak host RSS")]
    spread = {(n.combination, n.metric) for n in notes if n.problem.startswith("spread")}
    real = frame[frame.repeated & (frame.spread > view.SPREAD_LIMIT)]
    assert spread == {(r.combination_id, r.label) for r in real.itertuples()}
    noisy = frame.copy()
    i = noisy.index[(noisy.metric == "latency") & (noisy.combination_id == "tf2.15-cpu")][0]
    assert noisy.at[i, "spread"] <= view.SPREAD_LIMIT  # quiet in the real run
    noisy.at[i, "spread"] = 0.25
    flagged = [n for n in view.stability_notes(noisy) if n.problem.startswith("spread")]
    assert {(n.combination, n.metric) for n in flagged} - spread == {("tf2.15-cpu", "latency b1")}
    assert any("25%" in n.problem for n in flagged)


def test_detail_lists_pin_changes_against_the_baseline():
    recs = typed_records(QUIET_A)
    base, other = recs["tf2.15-cpu"], recs["tf2.20-cpu"]
    d = details.build_detail(other, base, is_baseline=False)
    changed = {c.package: (c.baseline, c.this) for c in d.pin_changes}
    assert changed["tensorflow"] == ("2.15.1", "2.20.0")
    assert all(c.baseline != c.this for c in d.pin_changes)
    assert details.build_detail(base, base, is_baseline=True).pin_changes == []
    failed = details.build_detail(recs["tf2.15-numpy2-cpu"], base, is_baseline=False)
    assert failed.failure.cls == "numpy-abi"
    assert any("NumPy" in p.stderr_tail for p in failed.phases)
    assert failed.predicted == "numpy-abi"


def test_anchor_keeps_only_safe_characters():
    assert details.anchor('a"><script>', "m 1") == "c-a___script_--m_1"


def test_gpu_memory_column_only_where_measured(run):
    assert "peak GPU memory" not in [c.label for c in view.build_timing(data.metrics_frame(run.records), None).columns]
    rec = with_phase(run.by_id()["tf2.20-cpu"], "peakmem",  # as the worker records it
                     gpu_peak_memory_bytes={"/device:GPU:0": 3 * 2**30, "/device:GPU:1": 2**30})
    frame = data.metrics_frame([rec])
    gpu = frame[frame.metric == "gpu-memory"]
    assert list(gpu["median"]) == [3 * 2**30]
    table = view.build_timing(frame, None)
    assert table.columns[-1].label == "peak GPU memory" and table.rows[0].cells[-1].text == "3072 MiB"


def test_drift_compares_every_combination_that_ran_against_the_baseline(run):
    recs = run.by_id()
    drift = {d.combination: d for d in view.build_drift(recs, "tf2.15-cpu")}
    assert set(drift) == {"tf2.15-numpy2-cpu", "tf2.15-protobuf7-cpu", "tf2.20-cpu"}  # skipped ones never ran
    assert not drift["tf2.15-numpy2-cpu"].comparable
    assert drift["tf2.15-protobuf7-cpu"].note == "identical"
    assert view.build_drift(recs, None) == []


def test_throttled_gpu_is_a_stability_note():
    from fakes.fake_pynvml import TelemetryNvml

    from tfmatrix.worker import telemetry

    with telemetry.Sampler([0], period=0.005, nvml=TelemetryNvml(["NVIDIA H200"])) as s:
        import time

        time.sleep(0.03)
    rec = with_phase(typed_records(QUIET_A)["tf2.20-cpu"], "latency", telemetry=s.result())
    (note,) = view.throttling_notes([rec])
    assert (note.combination, note.metric) == ("tf2.20-cpu", "latency-retinanet-mnv2-256-b1")
    assert "throttled" in note.problem and "sw-power-cap" in note.problem
    rec.phase("latency").telemetry["gpus"]["0"]["summary"]["throttled"] = False
    assert view.throttling_notes([rec]) == []


def test_cuda_table_puts_built_resolved_and_loaded_side_by_side():
    """The explicit fake of TF 2.18 after `pip install torch==2.4.1` (tests/fakes/fake_gpu_box.py)."""
    from fakes.fake_gpu_box import linux_tf218_after_torch

    probe, _nvml = linux_tf218_after_torch()
    cpu = typed_records(QUIET_A)["tf2.20-cpu"]
    rec = dataclasses.replace(cpu, environment=probe, combination=dataclasses.replace(
        cpu.combination, stack="cuda-pip", stack_kind="cuda-pip", tensorflow="2.18.0"))
    rows = {r.library: r for r in details.cuda_rows(rec)}
    # built: the compatibility data's exact cuDNN (TensorFlow's build_info says only "9")
    assert (rows["cuDNN"].built, rows["cuDNN"].resolved, rows["cuDNN"].loaded) == ("9.3.0", "9.1.0.70", "9.1.0")
    assert rows["cuDNN"].mismatch  # 9.1 under a TensorFlow built against 9.3: what the seed story's class looks like
    assert (rows["CUDA runtime"].built, rows["CUDA runtime"].resolved, rows["CUDA runtime"].loaded) == (
        "12.5.1", "12.1.105", "12.1")
    assert not rows["CUDA runtime"].mismatch  # same major: CUDA 12 minor versions are compatible
    assert details.cuda_rows(cpu) == []  # a CPU stack has none


def test_detail_shows_what_the_timed_region_adds_with_its_interval():
    from synthetic import phase, record

    ratios = [1.04, 1.07, 1.05, 1.09, 1.06, 1.08, 1.05, 1.07, 1.06, 1.10]
    rec = record("tf2.20-cpu", phases=[phase("fidelity", batch=1, samples=[1.065], unit="ratio",
                                             extra={"ratios": ratios})])
    d = details.build_detail(rec, None, is_baseline=True)
    assert d.fidelity == ["m: the timed call takes ×1.065 a bare signature call (99% CI ×1.040–×1.100, 10 rounds)"]
    few = record("tf2.20-cpu", phases=[phase("fidelity", batch=1, samples=[1.05], unit="ratio",
                                             extra={"ratios": ratios[:3]}), phase("latency", batch=1)])
    assert details.build_detail(few, None, is_baseline=True).fidelity == [
        "m: the timed call takes ×1.050 a bare signature call (3 rounds)"]  # too few rounds for an interval
    failed = record("tf2.20-cpu", phases=[phase("fidelity", batch=1, samples=[], status="crashed")])
    assert details.build_detail(failed, None, is_baseline=True).fidelity == []


def test_interleaved_rounds_give_the_ratio_to_the_baseline_its_paired_interval(run):
    """Samples that keep their round (an interleaved run): the latency ratio is the paired rounds' with its CI."""
    recs = {r.id: r for r in run.records}

    def rounded(rec, factor):
        lat = next(p for p in rec.phases if p.phase == "latency")
        xs = [0.1 * factor * (1 + 0.2 * r / 4) * (1 + 0.01 * (i % 3)) for r in range(5) for i in range(3)]
        return with_phase(rec, "latency", samples=xs, rounds=[r for r in range(5) for _ in range(3)],
                          summary=None) if lat else rec

    both = [rounded(recs["tf2.15-cpu"], 1.0), rounded(recs["tf2.20-cpu"], 1.1)]
    table = view.build_timing(data.metrics_frame(both), "tf2.15-cpu")
    col = next(i for i, c in enumerate(table.columns) if c.key == "latency")
    cell = next(r for r in table.rows if r.combination == "tf2.20-cpu").cells[col]
    ratio, lo, hi = (float(x) for x in cell.ratio.replace("×", "").replace("[", "").replace("]", "").replace(
        " – ", " ").split())
    assert lo <= ratio <= hi and abs(ratio - 1.1) < 0.01 and "5 interleaved rounds" in cell.title
    p90 = next(i for i, c in enumerate(table.columns) if c.key == "latency:p90")
    assert "[" not in next(r for r in table.rows if r.combination == "tf2.20-cpu").cells[p90].ratio


def test_the_memory_plot_says_whose_peak_it_is():
    """An --import-only record's peak is the import's; a model's is its load and inference."""
    import base64

    import synthetic

    from tfmatrix.report import plots

    def label(records) -> str:
        plot = plots.plot_memory(data.metrics_frame(records), False)
        return base64.b64decode(plot.data_uri.split(",", 1)[1]).decode()
    imported = synthetic.record("a", "ok", [synthetic.phase("peakmem", None, samples=[6e8] * 3)], models=())
    loaded = synthetic.record("b", "ok", [synthetic.phase("peakmem", "m", samples=[9e8])])
    assert "peak host RSS of import (MiB)" in label([imported])
    assert "peak host RSS of load + inference (MiB)" in label([loaded])
    assert "load + inference, or import alone" in label([imported, loaded])
