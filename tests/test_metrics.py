"""records.metrics: one name, unit and direction per measurement, for every reader."""

from __future__ import annotations

import dataclasses

import pytest
from synthetic import phase

from tfmatrix.errors import TfmatrixError
from tfmatrix.records import metrics
from tfmatrix.records.metrics import HIGHER, LOWER
from tfmatrix.records.quantity import Quantity


def keys(found) -> list[str]:
    return [m.key for m, _ in found]


def test_each_phase_gives_its_metrics_in_their_units():
    assert keys(metrics.measured(phase("import", None, samples=[3.0]))) == ["import"]
    assert keys(metrics.measured(phase("load", samples=[5.0, 6.0]))) == ["load"]
    lat = metrics.measured(phase("latency", batch=1, samples=[0.1, 0.2]))
    assert keys(lat) == ["latency", "throughput[b1]"]
    assert lat[0][1] == [0.1, 0.2] and lat[1][1] == pytest.approx([10.0, 5.0])  # images per second
    thr = metrics.measured(phase("throughput", batch=4, samples=[0.5]))
    assert keys(thr) == ["throughput[b4]"] and thr[0][0].unit == "images/s" and thr[0][1] == [8.0]
    peak = metrics.measured(phase("peakmem", batch=4, samples=[1e9], unit="bytes",
                                  gpu_peak_memory_bytes={"/device:GPU:0": 5, "/device:GPU:1": 7}))
    assert keys(peak) == ["peak-rss", "gpu-memory"] and peak[1][1] == [7.0]
    assert metrics.measured(phase("probe", None, samples=[])) == []


def test_what_may_be_judged_leaves_out_cached_and_derived_samples():
    cached = phase("export", samples=[20.0], status="cached")
    assert keys(metrics.measured(cached)) == ["export"]  # shown (marked *)
    assert metrics.measured(cached, judged=True) == []  # the original export's time: never judged again
    assert keys(metrics.measured(phase("latency", batch=1, samples=[0.1]), judged=True)) == ["latency"]
    assert metrics.measured(phase("load", samples=[1.0], status="crashed")) == []


def test_direction_decides_what_worse_means():
    assert metrics.LATENCY.better == LOWER and metrics.LATENCY.worse(1.2) and not metrics.LATENCY.worse(0.8)
    t = metrics.throughput(4)
    assert t.better == HIGHER and t.worse(0.8) and not t.worse(1.2)
    assert t.shown == "throughput[b4] (higher is better)" and metrics.LOAD.shown == "load"
    assert metrics.throughput(1).derived and not t.derived


def test_names_thresholds_and_the_one_formatter():
    assert metrics.by_key("throughput[b16]") == metrics.throughput(16) and metrics.by_key("load") is metrics.LOAD
    with pytest.raises(KeyError):
        metrics.by_key("peakmem")
    assert metrics.check_name("throughput", "x") == "throughput" and metrics.check_name("throughput[b4]", "x")
    with pytest.raises(TfmatrixError, match="--metric-threshold: got metric 'latency\\[b1\\]'"):
        metrics.check_name("latency[b1]", "--metric-threshold")
    t4 = metrics.throughput(4)
    assert metrics.threshold_for(t4, {"throughput": 1.5}, 1.1) == 1.5
    assert metrics.threshold_for(t4, {"throughput": 1.5, "throughput[b4]": 1.2}, 1.1) == 1.2
    assert metrics.threshold_for(metrics.LOAD, {"throughput": 1.5}, 1.1) == 1.1
    assert [Quantity(v, m.unit).text for v, m in ((0.1402, metrics.LATENCY), (5.21, metrics.LOAD),
                                                  (1063256064, metrics.PEAK_RSS), (7.152, t4), (None, metrics.LOAD))
            ] == ["140.2 ms", "5.21 s", "1014 MiB", "7.15 img/s", "–"]


def test_a_reporting_case_is_a_metric_named_by_its_method_in_asvs_units():
    """``nox -s scale``'s phases: ``reporting[time_report]`` in seconds, ``reporting[peakmem_report]`` in bytes."""
    def case(benchmark: str, **kw):
        return dataclasses.replace(phase("reporting", None, **kw), benchmark=benchmark)

    timed = metrics.measured(case("ReportScale.time_report", samples=[9.2, 9.0]))
    assert keys(timed) == ["reporting[time_report]"] and timed[0][0].unit == "seconds" and timed[0][1] == [9.2, 9.0]
    peak = metrics.measured(case("ReportScale.peakmem_report", samples=[5e8], unit="bytes"), judged=True)
    assert keys(peak) == ["reporting[peakmem_report]"] and peak[0][0].unit == "bytes" and peak[0][0].better == LOWER
    assert metrics.measured(case("ReportScale.track_pages")) == []  # no unit known
    assert metrics.by_key("reporting[time_publish]") == metrics.reporting("time_publish")
    with pytest.raises(KeyError):
        metrics.by_key("reporting[track_pages]")
    assert metrics.check_name("reporting", "x") == "reporting"
    assert metrics.check_name("reporting[time_compare]", "x") == "reporting[time_compare]"
    assert metrics.threshold_for(metrics.reporting("time_report"), {"reporting": 1.3}, 1.1) == 1.3


@pytest.mark.parametrize("metric", [*metrics.SINGLE, metrics.throughput(1), metrics.throughput(4),
                                    metrics.reporting("time_report"), metrics.reporting("peakmem_report")],
                         ids=lambda m: m.key)
def test_each_repeated_metric_says_how_to_collect_more_samples(metric):
    """The report's stability section quotes it: a matrix.yaml key where one raises the count, else the way that
    does (a ``nox -s scale`` case has no key: "Raise  in matrix.yaml" was its advice once)."""
    advice = metric.more_samples
    if metric.repeats_key:
        assert advice == f"Raise {metric.repeats_key} in matrix.yaml to collect more samples."
    elif metric.family == "reporting":
        assert "nox -s scale -- --samples" in advice
    assert ("matrix.yaml" in advice) == bool(metric.repeats_key)


def test_a_metric_hashes_and_equals_by_its_fields_and_is_made_once_per_name():
    """Series are keyed by metric: equal metrics hash alike, and a name gives the same object each time."""
    assert metrics.throughput(4) is metrics.throughput(4) and metrics.by_key("load") is metrics.LOAD
    assert hash(metrics.by_key("throughput[b4]")) == hash(metrics.throughput(4))
    assert metrics.throughput(4) != dataclasses.replace(metrics.throughput(4), better=LOWER)
    assert {metrics.throughput(4): 1}[metrics.by_key("throughput[b4]")] == 1
