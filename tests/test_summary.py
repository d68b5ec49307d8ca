from __future__ import annotations

from synthetic import phase, record

from tfmatrix.records.model import Failure, InstallOutcome, Producer
from tfmatrix.report import summary


def test_table_rows_show_medians_percentiles_and_reasons():
    ok = record("tf2.20-cpu", "ok", install=InstallOutcome("uv", ok=True, seconds=21.4), phases=[
        phase("import", None, samples=[3.0, 3.2, 3.4]),
        phase("export", samples=[20.0], status="cached"),
        phase("load", samples=[5.0, 4.0, 6.0]),
        phase("first-inference", batch=1, samples=[0.9], peak_rss_bytes=900 * 2**20),
        phase("latency", batch=1, samples=[0.1] * 9 + [0.2]),
        phase("throughput", batch=4, samples=[0.5], peak_rss_bytes=1200 * 2**20),
    ])
    bad = record("tfbad-cpu", "install-failed", reason="resolve: No solution found")
    text = summary.render("RUN", [ok, bad])
    lines = text.splitlines()
    assert lines[0] == "tfmatrix run RUN: 1 install-failed, 1 ok"
    row = next(ln for ln in lines if ln.startswith("tf2.20-cpu"))
    # compact quantities: three significant figures, ms below 1 s
    for cell in ("21.4s", "3.20s", "20.0s*", "5.00s", "900ms", "100ms", "b1:10.0/s b4:8.00/s", "1200MiB"):
        assert cell in row, (cell, row)
    assert "tfbad-cpu: install-failed: resolve: No solution found" in text


def test_combinations_without_a_record_are_listed_as_not_run():
    class C:
        id = "tf2.15-cpu"

    text = summary.render("RUN", [], expected=[C()])
    assert "tf2.15-cpu" in text and "not run" in text


def test_cpu_fallback_guard():
    from pathlib import Path

    from tfmatrix.matrix.expand import combinations
    from tfmatrix.matrix.load import load_matrix
    from tfmatrix.run.execution.phases import cpu_fallback

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
    rec = record("tf2.15-numpy2-cpu", "failed", phases=[phase("import", None, status="error", samples=[])],
                 outcome="expected-failure", reason="numpy-abi: A module that was compiled",
                 failure=Failure("numpy-abi", "A module that was compiled", "x", "Pin numpy<2"))
    bad = record("tf2.20-cpu", "failed", failure=Failure("segfault", "ended by signal SIGSEGV", "x",
                                                         "Run nox -s doctor"), reason="segfault: x")
    text = summary.render("RUN", [rec, bad])
    assert "expected-failure (numpy-abi)" in text
    assert "failed (segfault)" in text
    assert "fix: Run nox -s doctor" in text
    assert "fix: Pin numpy<2" not in text  # an expected failure needs no fix


def test_the_export_column_names_who_made_a_loaded_savedmodel():
    def loaded(cid: str, source: str, **made: str) -> object:
        return record(cid, phases=[phase("load", "m", samples=[1.0])],
                      producers=[Producer(model="m", source=source, path="/x", **made)])

    table = summary.rows([loaded("tf2.21-cpu", "shared", combination="tf2.20-cpu", tensorflow="2.20.0", tensorflow_id="tf2.20"),
                  loaded("tf2.20-cpu", "brought")])
    assert [(r[0], r[5]) for r in table] == [("tf2.21-cpu", "by tf2.20"), ("tf2.20-cpu", "brought")]


def test_an_import_only_record_shows_its_import():
    alone = record("bisect-2.17.1-cpu", "ok", models=(), phases=[phase("import", None, samples=[2.0, 2.4, 2.2]),
                                                                  phase("probe", None, samples=[])])
    row = next(ln for ln in summary.render("RUN", [alone]).splitlines() if ln.startswith("bisect-2.17.1-cpu"))
    assert row.split()[:2] == ["bisect-2.17.1-cpu", "ok"] and "2.20s" in row
