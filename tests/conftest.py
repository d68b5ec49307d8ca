"""Shared by every test: private output folders, and the fixtures several test modules use.

Markers (registered in pyproject.toml; docs/testing.md): ``integration`` (real
nox sessions with a real TensorFlow, minutes), ``network`` (needs PyPI: real uv
resolves or installs), ``browser`` (a real headless Chromium).  The fast
offline subset is ``pytest -m "not network and not browser and not integration"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.model import Combination
from tfmatrix.records.model import RunRecord
from tfmatrix.records.store import RunDir, new_run_id
from tfmatrix.run.noxside.context import Context

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_output_folders(tmp_path, monkeypatch):
    """Default results and reports folders per test (a test that needs others sets its own)."""
    monkeypatch.setenv("TFMATRIX_RESULTS", str(tmp_path / "default-results"))
    monkeypatch.setenv("TFMATRIX_REPORTS", str(tmp_path / "default-reports"))


def run_record(run_id: str, **changes: Any) -> RunRecord:
    """A minimal valid run record."""
    host = {"platform": {"system": "Linux", "node": "test-host"}, "cpu": {"model": "test", "logical_cores": 2},
            "memory": {"total_bytes": 1 << 34}, "python": {"version": "3.11"}, "gpus": [], "tools": {}}
    fields: dict[str, Any] = dict(run_id=run_id, started_at="2026-01-01T00:00:00+00:00", host=host,
                                  matrix={"path": "m.yaml", "sha256": "0" * 64}, profile="default",
                                  suite={"commit": None, "dirty": None},
                                  options={"models": [], "quick": False, "assume_gpu": False})
    fields.update(changes)
    return RunRecord(**fields)


@pytest.fixture
def make_run_record() -> Callable[..., RunRecord]:
    """``make_run_record(run_id, **changes)``: a minimal valid run record."""
    return run_record


@pytest.fixture
def new_run(tmp_path) -> Callable[..., RunDir]:
    """``new_run(**run_record_changes)``: a run folder under ``tmp_path/results`` with its run.json."""
    def make(**changes: Any) -> RunDir:
        run = RunDir(tmp_path / "results", new_run_id())
        run.ensure(lambda: run_record(run.run_id, **changes))
        return run
    return make


@pytest.fixture
def run_with(new_run) -> Callable[..., tuple[list[Combination], RunDir]]:
    """``run_with(stack_hw=..., tf_hw=..., profile_hw=...)``: matrices.BASE's combinations with those hardware
    needs, and an empty run to record them in."""
    from matrices import matrix_with

    def make(**matrix_kw: Any) -> tuple[list[Combination], RunDir]:
        return combinations(matrix_with(**matrix_kw)), new_run()
    return make


@pytest.fixture
def ctx(monkeypatch) -> Context:
    """The noxfile's context on the project's own matrix.yaml (its default profile), as nox would load it."""
    from tfmatrix import sessions

    monkeypatch.delenv("TFMATRIX_MATRIX", raising=False)
    monkeypatch.delenv("TFMATRIX_RUN_ID", raising=False)
    monkeypatch.delenv("TFMATRIX_PROFILE", raising=False)
    return sessions.nox_context(ROOT)


# --- the host a test runs on (issue 18): read it, never assume "a GPU-less CI box"

@pytest.fixture(scope="session")
def host_gpus() -> list[Any]:
    """The NVIDIA GPUs this host shows, read through NVML as tfmatrix reads them."""
    from tfmatrix.run.execution import host

    return host.visible_gpus()


@pytest.fixture
def gpu_less_host(host_gpus) -> None:
    """For a test of what a host without a GPU records: on a GPU host it skips, saying what it saw."""
    if host_gpus:
        pytest.skip(f"this host has {len(host_gpus)} NVIDIA GPU(s) ({host_gpus[0].name}): the test checks what a "
                    "host without one records (a GPU host's view is tested against the recorded NVML answers)")


# --- predictions (nox -s predict): records as the resolver's verdicts read, without resolving

@pytest.fixture
def make_prediction(ctx) -> Callable[..., Any]:
    """``make_prediction(combination_id, platform, status="installable", why="", fix="", run_id="r")``: a
    :class:`~tfmatrix.records.prediction.PlatformPrediction` of the project matrix's combination, Python its own."""
    from tfmatrix.diagnosis import platforms
    from tfmatrix.records.model import CombinationInfo
    from tfmatrix.records.phase import Failure
    from tfmatrix.records.prediction import PlatformPrediction

    data = platforms.load()

    def make(cid: str, platform: str, status: str = "installable", why: str = "", fix: str = "",
             run_id: str = "r") -> PlatformPrediction:
        combo = ctx.combination(cid)
        failure = None if status == "installable" else Failure(status, why, "", fix, culprit=why.split(" has ")[0])
        return PlatformPrediction(run_id=run_id, combination=CombinationInfo.of(combo), platform=data.platform(platform),
                                python=combo.python, status=status, why=why, failure=failure,
                                statements=[s.to_json() for s in data.statements(platform, combo.stack.kind,
                                                                                 combo.tf.version)])
    return make
