"""publish: run records -> asv's results format -> the real `asv publish`, on a throwaway suite repo."""

from __future__ import annotations

import copy
import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
from asv.results import Results

from tfmatrix.errors import TfmatrixError
from tfmatrix.history import compare
from tfmatrix.history import publish as pub
from tfmatrix.records.model import CombinationRecord
from tfmatrix.records.schema import check

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "data" / "publish"  # one real run, trimmed (samples cut to 8)
A, B, C, D, E = (f"2026010{i}T000000Z-{c * 6}" for i, c in zip(range(1, 6), "abcde"))
MISSING_COMMIT = "0123456789" * 4
GPU_HOST = [{"index": 0, "name": "NVIDIA H200", "source": "nvml"}]
NVML = {"available": True, "driver_version": "550.54.15", "cuda_driver_version": "12.4", "gpus": []}
LATENCY = "bench_detection.InferenceSuite.time_inference"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A git repo holding the real benchmarks/, with two commits on main."""
    repo = tmp_path_factory.mktemp("suite")
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(ROOT / "benchmarks", repo / "benchmarks")
    commits = []
    for i in range(2):
        (repo / "VERSION").write_text(f"{i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"commit {i}", "--date", f"2026-01-0{i + 1}T00:00:00Z")
        commits.append(git(repo, "rev-parse", "HEAD"))
    return repo, commits


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def latency_samples() -> list[float]:
    return next(p["samples"] for p in fixture("tf2.20-cpu")["phases"] if p["phase"] == "latency")


def scaled(record: dict, factor: float) -> dict:
    out = copy.deepcopy(record)
    for p in out["phases"]:
        p["samples"] = [x * factor for x in p["samples"]]
    return out


def write_run(root: Path, run_id: str, commit: str, *, factor: float = 1.0, dirty: bool = False,
              gpu: bool = True) -> None:
    """The fixture run, tf2.20-cpu scaled by ``factor``; with ``gpu``, tf2.20-cuda-pip ran (half tf2.20-cpu)."""
    folder = root / run_id
    folder.mkdir(parents=True)
    run = fixture("run")
    run.update(run_id=run_id, suite={"commit": commit, "dirty": dirty})
    run["host"]["gpus"] = GPU_HOST if gpu else []
    records = {cid: fixture(cid) for cid in ("tf2.15-cpu", "tf2.15-numpy2-cpu", "tf2.20-cuda-pip")}
    records["tf2.20-cpu"] = scaled(fixture("tf2.20-cpu"), factor)
    if gpu:
        cpu = fixture("tf2.20-cpu")
        cuda = records["tf2.20-cuda-pip"]
        cuda.update(status="ok", outcome="ok", reason="", phases=scaled(cpu, 0.5)["phases"],
                    environment={**cpu["environment"], "nvml": NVML})
    for cid, rec in records.items():
        rec["run_id"] = run_id
        (folder / f"{cid}.json").write_text(json.dumps(rec))
    (folder / "run.json").write_text(json.dumps(run))


@pytest.fixture(scope="module")
def published(suite, tmp_path_factory):
    """Runs A (commit 1), B, C, D (commit 2; C wins) and E (a commit the repo lacks), published once."""
    repo, (c1, c2) = suite
    tmp_path = tmp_path_factory.mktemp("published")
    results = tmp_path / "results"
    write_run(results, A, c1, gpu=False)  # tf2.20-cuda-pip skipped: no GPU
    write_run(results, B, c2)
    write_run(results, C, c2, factor=1.5)  # the latest clean run at c2: it wins over B
    write_run(results, D, c2, factor=1.5, dirty=True)  # dirty: loses to C
    write_run(results, E, MISSING_COMMIT, factor=1.5)
    summary = pub.publish(results, repo, results / "asv", tmp_path / "reports" / "asv")
    return summary, (c1, c2), results


def test_every_publishable_run_becomes_asv_result_files(published):
    summary, (c1, c2), results = published
    assert summary.runs == 5 and summary.published_runs == [A, C]
    names = sorted(p.name for p in (results / "asv" / "vm").glob("*.json"))
    assert names == sorted([f"{c1[:8]}-tfmatrix-{c}.json" for c in ("tf2.15-cpu", "tf2.15-numpy2-cpu", "tf2.20-cpu")]
                           + [f"{c2[:8]}-tfmatrix-{c}.json" for c in
                              ("tf2.15-cpu", "tf2.15-numpy2-cpu", "tf2.20-cpu", "tf2.20-cuda-pip")]
                           + ["machine.json"])
    (warning,) = [w for w in summary.warnings if E in w]
    assert "not in the repository" in warning and "\n" not in warning
    assert any(s.startswith(f"{B}/tf2.20-cpu: replaced by {C}") for s in summary.superseded)
    assert any(s.startswith(f"{D}/tf2.20-cpu (dirty)") for s in summary.superseded)


def test_result_files_are_asv_format_with_tf_version_and_stack(published):
    _, (_, c2), results = published
    machine = json.loads((results / "asv" / "vm" / "machine.json").read_text())
    assert machine["version"] == 1
    assert (machine["gpu"], machine["driver"], machine["cuda"]) == ("NVIDIA H200", "550.54.15", "12.4")
    res = Results.load(str(results / "asv" / "vm" / f"{c2[:8]}-tfmatrix-tf2.20-cuda-pip.json"), machine_name="vm")
    assert res.commit_hash == c2
    assert {k: res.params[k] for k in ("tensorflow", "stack", "python", "gpu")} == {
        "tensorflow": "2.20.0", "stack": "cuda-pip", "python": "3.11", "gpu": "NVIDIA H200"}
    benchmarks = json.loads((results / "asv" / "benchmarks.json").read_text())
    assert {n for n in benchmarks if n != "version"} == {
        f"bench_detection.{n}" for n in ("ImportSuite.timeraw_import_tensorflow", "ExportSuite.track_export_seconds",
                                         "LoadSuite.timeraw_load_saved_model", "InferenceSuite.peakmem_inference",
                                         "InferenceSuite.time_inference", "InferenceSuite.track_first_inference_seconds")}
    bench = benchmarks[LATENCY]
    assert bench["param_names"] == ["model", "batch"] and bench["params"] == [["'retinanet-mnv2-256'"], ["1", "4"]]
    assert res.get_result_value(LATENCY, bench["params"])[0] == pytest.approx(statistics.median(latency_samples()) / 2)


def test_asv_graph_data_has_the_tensorflow_version_and_stack_as_parameters(published):
    summary, (c1, c2), _ = published
    index = json.loads((summary.html_dir / "index.json").read_text())
    assert {"2.15.1", "2.20.0"} <= set(index["params"]["tensorflow"])
    assert {"cpu", "cuda-pip"} <= set(index["params"]["stack"])
    pairs = {(g["tensorflow"], g["stack"]) for g in index["graph_param_list"]}
    assert pairs >= {("2.20.0", "cpu"), ("2.20.0", "cuda-pip"), ("2.15.1", "cpu")}
    graphs = summary.html_dir / "graphs"
    cuda = [p for p in graphs.rglob(f"{LATENCY}.json") if {"stack-cuda-pip", "tensorflow-2.20.0"} <= set(p.parts)]
    cpu = [p for p in graphs.rglob(f"{LATENCY}.json") if {"stack-cpu", "tensorflow-2.20.0"} <= set(p.parts)]
    assert len(cuda) == 1 and len(cpu) == 1
    revs = {h: int(r) for r, h in index["revision_to_hash"].items()}
    points = {rev: value for rev, value in json.loads(cpu[0].read_text())}
    assert set(points) == {revs[c1], revs[c2]}
    assert [rev for rev, _ in json.loads(cuda[0].read_text())] == [revs[c2]]  # skipped at c1: no point
    latency = latency_samples()
    assert points[revs[c1]][0] == pytest.approx(statistics.median(latency))
    assert points[revs[c2]][0] == pytest.approx(statistics.median(latency) * 1.5)  # C's, not B's


def test_failures_stay_in_the_report_and_change_points_are_listed(published):
    summary, _, _ = published
    report = summary.report.read_text()
    assert summary.report.parent == summary.html_dir
    assert "numpy-abi" in report and "import: error" in report
    record = CombinationRecord.from_json(check(fixture("tf2.20-cpu"), "tf2.20-cpu"))
    measured = {metric.key for (_, _, metric) in compare.series([record])}
    assert {"latency", "throughput[b4]", "load"} <= measured  # throughput falls as the rest rises: all regressions
    found = {(c.combination, c.metric.key, c.run_id, c.verdict) for c in summary.change_points}
    assert found == {("tf2.20-cpu", m, C, "regression") for m in measured}
    assert f"| tf2.20-cpu | retinanet-mnv2-256 | latency | {C} |" in report


def test_publishing_again_replaces_its_own_output_but_not_a_foreign_folder(suite, tmp_path):
    repo, (c1, _) = suite
    results = tmp_path / "results"
    write_run(results, A, c1)
    first = pub.publish(results, repo, results / "asv", tmp_path / "html")
    (results / "asv" / "vm" / "stale.json").write_text("{}")
    again = pub.publish(results, repo, results / "asv", tmp_path / "html")
    assert again.published_runs == first.published_runs == [A]
    assert not (results / "asv" / "vm" / "stale.json").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(TfmatrixError, match="is not asv results written by tfmatrix publish"):
        pub.publish(results, repo, foreign, tmp_path / "html")
    with pytest.raises(TfmatrixError, match="is not an asv site"):
        pub.publish(results, repo, results / "asv", foreign)  # asv publish would empty it
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_errors_are_one_line(suite, tmp_path, monkeypatch):
    repo, (c1, _) = suite
    results = tmp_path / "results"
    write_run(results, A, c1)
    not_git = tmp_path / "plain"
    not_git.mkdir()
    with pytest.raises(TfmatrixError, match="not a git repository") as err:
        pub.publish(results, not_git, results / "asv", tmp_path / "html")
    assert "\n" not in err.value.one_line()
    real_config = pub.asv_config
    monkeypatch.setattr(pub, "asv_config", lambda *a: {**real_config(*a), "repo": str(not_git)})
    with pytest.raises(TfmatrixError, match="asv publish failed") as err:  # the real asv, failing
        pub.publish(results, repo, results / "asv", tmp_path / "html")
    assert "\n" not in str(err.value)
    with pytest.raises(TfmatrixError, match="no run can be published"):
        pub.publish(tmp_path / "empty", repo, tmp_path / "asv2", tmp_path / "html")


def test_a_commit_off_the_published_branch_is_skipped_with_a_warning(suite, tmp_path):
    repo, (c1, _) = suite
    side = tmp_path / "side"
    git(repo, "worktree", "add", "-q", "-b", "side", str(side), c1)
    (side / "SIDE").write_text("x\n")
    git(side, "add", "-A")
    git(side, "commit", "-q", "-m", "side")
    off_branch = git(side, "rev-parse", "HEAD")
    results = tmp_path / "results"
    write_run(results, A, c1)
    write_run(results, B, off_branch)
    summary = pub.publish(results, repo, results / "asv", tmp_path / "html")
    assert summary.published_runs == [A]
    expected = f"run {B}: suite commit {off_branch[:12]} is not on the first-parent history of main, where asv looks"
    assert summary.warnings == [f"{expected}; skipped"]


def test_corrupt_and_foreign_records_are_left_out_with_a_warning(suite, tmp_path):
    repo, (c1, _) = suite
    results = tmp_path / "results"
    write_run(results, A, c1, gpu=False)
    (results / A / "tf2.15-cpu.json").write_text('{"kind": "combination", "sche')  # truncated mid-write
    newer = json.loads((results / A / "tf2.15-numpy2-cpu.json").read_text())
    newer["schema_version"] = 99  # from a newer tfmatrix
    (results / A / "tf2.15-numpy2-cpu.json").write_text(json.dumps(newer))
    (results / "20260105T000000Z-eeeeee").mkdir()  # an empty run folder
    summary = pub.publish(results, repo, results / "asv", tmp_path / "reports" / "asv")
    assert [e.combination for e in summary.published] == ["tf2.20-cpu"]  # the rest is still published
    warned = "\n".join(summary.warnings)
    assert "tf2.15-cpu.json: not valid JSON" in warned
    assert "tf2.15-numpy2-cpu.json: schema_version is 99" in warned
    assert "20260105T000000Z-eeeeee" in warned
    assert all("\n" not in w for w in summary.warnings)


def test_a_merged_run_publishes_like_a_single_machine_run(suite, tmp_path):
    """Two shards of one run at commit 1, written on two hosts, merged (nox -s merge), then published."""
    from tfmatrix.history import merge

    repo, (c1, _) = suite
    shards = tmp_path / "shards"
    write_run(shards / "a", "20260101T000000Z-00000a", c1)
    write_run(shards / "b", "20260101T000001Z-00000b", c1)
    for cid in ("tf2.15-cpu", "tf2.15-numpy2-cpu"):  # shard a kept these, shard b the others
        (shards / "b" / "20260101T000001Z-00000b" / f"{cid}.json").unlink()
    for cid in ("tf2.20-cpu", "tf2.20-cuda-pip"):
        (shards / "a" / "20260101T000000Z-00000a" / f"{cid}.json").unlink()
    results = tmp_path / "results"
    merged = merge.merge([shards / "a", shards / "b"], results)
    assert merged.records == 4 and merged.conflicts == [] and merged.duplicates == []
    summary = pub.publish(results, repo, results / "asv", tmp_path / "reports" / "asv")
    assert summary.published_runs == [merged.run.run_id]
    assert sorted(e.combination for e in summary.published) == ["tf2.15-cpu", "tf2.15-numpy2-cpu", "tf2.20-cpu",
                                                               "tf2.20-cuda-pip"]
