from __future__ import annotations

from tfmatrix import summary
from tfmatrix.bench import parse_options
from tfmatrix.errors import TfmatrixError

import pytest


def phase(name, phase, model=None, batch=None, samples=(1.0,), status="ok", rss=None, ips=None):
    from tfmatrix.stats import summarize

    return {"name": name, "phase": phase, "model": model, "batch": batch, "status": status,
            "samples": list(samples), "summary": summarize(samples) if samples else None,
            "peak_rss_bytes": rss, "throughput_ips": ips}


def record(cid, status, phases=(), models=("m",), install=None, reason=""):
    return {"combination": {"id": cid, "models": list(models)}, "status": status, "phases": list(phases),
            "install": install, "reason": reason}


def test_table_rows_show_medians_percentiles_and_reasons():
    ok = record("tf2.20-cpu", "ok", install={"reused": False, "seconds": 21.4}, phases=[
        phase("import", "import", samples=[3.0, 3.2, 3.4]),
        phase("export-m", "export", "m", samples=[20.0], status="cached"),
        phase("load-m", "load", "m", samples=[5.0, 4.0, 6.0]),
        phase("first-inference-m-b1", "first-inference", "m", 1, samples=[0.9], rss=900 * 2**20),
        phase("latency-m-b1", "latency", "m", 1, samples=[0.1] * 9 + [0.2], ips=10.0),
        phase("throughput-m-b4", "throughput", "m", 4, samples=[0.5], ips=8.0, rss=1200 * 2**20),
    ])
    bad = record("tfbad-cpu", "install-failed", reason="resolve: No solution found")
    text = summary.render("RUN", [ok, bad])
    lines = text.splitlines()
    assert lines[0] == "tfmatrix run RUN: 1 install-failed, 1 ok"
    row = next(ln for ln in lines if ln.startswith("tf2.20-cpu"))
    for cell in ("21s", "3.20s", "20.00s*", "5.00s", "0.90s", "100ms", "b1:10.0/s b4:8.0/s", "1200MiB"):
        assert cell in row, (cell, row)
    assert "tfbad-cpu: install-failed: resolve: No solution found" in text


def test_combinations_without_a_record_are_listed_as_not_run():
    class C:
        id = "tf2.15-cpu"

    text = summary.render("RUN", [], expected=[C()])
    assert "tf2.15-cpu" in text and "not run" in text


def test_bench_options():
    assert parse_options(["--models", "a,b", "--models", "c", "--quick"]).models == ("a", "b", "c")
    assert parse_options([]).quick is False
    assert parse_options(["--assume-gpu"]).assume_gpu is True
    with pytest.raises(TfmatrixError, match="--models ID"):
        parse_options(["--frobnicate"])


def test_cpu_fallback_guard():
    from pathlib import Path

    from tfmatrix.bench import cpu_fallback
    from tfmatrix.matrix import combinations, load_matrix

    matrix = load_matrix(Path(__file__).resolve().parents[1] / "matrix.yaml")
    combos = {c.id: c for c in combinations(matrix)}
    cpu_only = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}]}}
    with_gpu = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                         {"name": "/physical_device:GPU:0", "type": "GPU"}]}}
    assert cpu_fallback(combos["tf2.20-cpu"], cpu_only) == ""
    assert cpu_fallback(combos["tf2.20-cuda-pip"], cpu_only).startswith("no-gpu:")
    assert cpu_fallback(combos["tf2.20-cuda-pip"], with_gpu) == ""
    assert cpu_fallback(combos["tf2.20-cuda-pip"], {"devices": {"error": "ImportError"}}).startswith("no-gpu:")


def test_rows_read_outcomes_against_expectations():
    rec = record("tf2.15-numpy2-cpu", "failed", phases=[phase("import", "import", status="error", samples=[])])
    rec.update(outcome="expected-failure", failure={"class": "numpy-abi", "evidence": "A module that was compiled",
                                                   "explanation": "x", "fix": "Pin numpy<2"})
    rec["reason"] = "numpy-abi: A module that was compiled"
    bad = record("tf2.20-cpu", "failed")
    bad.update(outcome="failed", failure={"class": "segfault", "evidence": "ended by signal SIGSEGV",
                                          "explanation": "x", "fix": "Run nox -s doctor"}, reason="segfault: x")
    text = summary.render("RUN", [rec, bad])
    assert "expected-failure (numpy-abi)" in text
    assert "failed (segfault)" in text
    assert "fix: Run nox -s doctor" in text
    assert "fix: Pin numpy<2" not in text  # an expected failure needs no fix
