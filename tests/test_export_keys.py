"""A shared export is made once: keyed by the exporter's pins as one resolve gives them, whichever side computes
the key, and made in the producer combination's own venv when that combination is in the run.

The real installer (run.install) and the real exporter resolve (run.exports.resolve_exporter) run against a
FAKE uv (tests/fakes/fake_uv.py) that keeps the pins of an existing output file, as the real uv does: the
cause of the drift (lxml 6.1.3 against 6.2.0) these tests pin down.  test_install checks the real uv.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import fake_uv
from fakes.fake_bench import Installer, Runner
from fakes.fake_session import FakeSession
from test_exports import SEED, combos, matrix, saved_model

from tfmatrix.executors.pool import run_pool
from tfmatrix.matrix.model import Combination
from tfmatrix.records.model import PhaseRecord
from tfmatrix.records.status import PhaseStatus
from tfmatrix.records.store import RunDir, new_run_id, read_json
from tfmatrix.run.execution import runner
from tfmatrix.run.execution.host import HostFacts
from tfmatrix.run.noxside.context import CACHE_ENV, Context
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.provisioning import exports, install
from tfmatrix.run.scheduling.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
NEWEST = {"lxml": "6.2.0", "absl-py": "2.3.1"}
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx",), machine="x86_64", system="Linux")


@pytest.fixture
def uv(tmp_path, monkeypatch) -> Path:
    """The FAKE uv, found by the installer (and so by the exporter's resolve); its folder, for its calls."""
    folder = tmp_path / "fake-uv"
    path = fake_uv.install(folder, NEWEST)
    monkeypatch.setattr(install, "find_uv", lambda: path)
    return folder


def session_install(combo: Combination, venv: Path, log: Path):
    """What a bench session's install does to its nox venv."""
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    return install.install(**install.install_args(combo), venv=venv, python=str(venv / "bin" / "python"),
                           backend="uv", project_root=ROOT, timeout=60, log=log)


def resolving(cache: Path, log: Path):
    """exports.sources' resolver, as the pipeline binds it: the real exporter resolve."""
    return lambda who: exports.resolve_exporter(who, cache_root=cache, timeout=60, log=log, index_url=None,
                                                say=lambda _: None)


def test_the_exporters_session_and_a_consumer_key_the_export_alike(tmp_path, uv):
    c, cache = combos(tmp_path), tmp_path / "cache"
    inst = session_install(c["tf2.20-cpu"], tmp_path / "nox" / "bench-tf2-20-cpu", tmp_path / "install.log")
    assert inst.ok, inst.error
    own = exports.sources(c["tf2.20-cpu"], cache, inst.lock_sha256, SEED, resolving(cache, tmp_path / "r.log"))
    shared = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, resolving(cache, tmp_path / "r.log"))
    assert own["small"].kind == "own" and shared["small"].kind == "shared"
    assert shared["small"].lock_sha256 == inst.lock_sha256 and shared["small"].path == own["small"].path
    assert not exports.exporter_venv(cache, c["tf2.20-cpu"]).exists()  # its pins resolved, no venv made for it


def test_a_reused_venv_with_drifted_pins_finds_the_export_keyed_by_the_resolve(tmp_path, uv):
    """The producer's venv as an older run left it (lxml 6.1.3); a consumer resolved 6.2.0 and made the export.
    The producer's session resolves as the consumer did, finds that export, and its venv moves to 6.2.0."""
    c, cache, venv = combos(tmp_path), tmp_path / "cache", tmp_path / "nox" / "bench-tf2-20-cpu"
    (venv / "bin").mkdir(parents=True)
    old = "".join(f"{r}\n" for r in sorted({*c["tf2.20-cpu"].requirements(), "lxml==6.1.3", "absl-py==2.3.1"}))
    (venv / "tfmatrix-requirements.lock").write_text(old)
    (venv / fake_uv.INSTALLED).write_text(old)
    (venv / install.LOCK_MARKER).write_text(install.lock_hash(venv / "tfmatrix-requirements.lock") + "\n")
    made = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, resolving(cache, tmp_path / "r.log"))["small"]
    saved_model(made.path)

    inst = session_install(c["tf2.20-cpu"], venv, tmp_path / "install.log")
    assert inst.ok and not inst.reused and "lxml==6.2.0" in inst.resolved
    own = exports.sources(c["tf2.20-cpu"], cache, inst.lock_sha256, SEED, resolving(cache, tmp_path / "r.log"))
    assert own["small"].path == made.path and own["small"].exported
    assert (venv / fake_uv.INSTALLED).read_text() == exports.resolved_lock(cache, c["tf2.20-cpu"]).read_text()


def shared_export(tmp_path: Path, monkeypatch, src: exports.Source) -> tuple[PhaseRecord, list[str]]:
    """exports.shared_export with the real installer and a phase runner that leaves the SavedModel."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "m").mkdir()
    ctx = Context(root=ROOT, matrix=matrix(tmp_path / "m"), profile="all", run_id="r", results_root=tmp_path / "res")
    ran: list[str] = []

    def run_phase(spec, **kw):
        ran.append(kw["python"])
        saved_model(src.path)
        return runner.planned(spec, PhaseStatus.OK, samples=[1.0], unit="seconds"), None

    spec = runner.PhaseSpec("shared-export", "export", "ExportSuite", "track_export_seconds", ("small",), "small")
    (tmp_path / "logs").mkdir(exist_ok=True)
    phase = exports.shared_export(spec, src, ctx=ctx, workload=ctx.matrix.workload, log_dir=tmp_path / "logs",
                                  run_id="r", installer=install.install, run_phase=run_phase, say=lambda _: None)
    return phase, ran


def test_the_exporter_venv_is_synced_to_the_lock_that_keyed_its_export(tmp_path, uv, monkeypatch):
    """One resolve: a release published between the key's resolve and the install changes neither."""
    c, cache = combos(tmp_path), tmp_path / "cache"
    src = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, resolving(cache, tmp_path / "r.log"))["small"]
    fake_uv.set_index(uv, {**NEWEST, "lxml": "6.3.0"})
    resolves = len([a for a in fake_uv.calls(uv) if a[:2] == ["pip", "compile"]])
    phase, ran = shared_export(tmp_path, monkeypatch, src)
    assert phase.status == PhaseStatus.OK, phase.note
    venv = exports.exporter_venv(cache, c["tf2.20-cpu"])
    assert ran == [runner.python_in(venv)] and src.exported
    assert "lxml==6.2.0" in (venv / fake_uv.INSTALLED).read_text()
    assert install.lock_hash(venv / "tfmatrix-requirements.lock") == src.lock_sha256
    assert len([a for a in fake_uv.calls(uv) if a[:2] == ["pip", "compile"]]) == resolves  # not resolved again


def test_pins_resolved_again_to_others_are_not_installed_under_the_old_key(tmp_path, uv, monkeypatch):
    c, cache = combos(tmp_path), tmp_path / "cache"
    src = exports.sources(c["tf2.21-cpu"], cache, "a" * 64, SEED, resolving(cache, tmp_path / "r.log"))["small"]
    fake_uv.set_index(uv, {**NEWEST, "lxml": "6.3.0"})
    assert resolving(cache, tmp_path / "r.log")(c["tf2.20-cpu"])[0] != src.lock_sha256  # another session's
    phase, ran = shared_export(tmp_path, monkeypatch, src)
    assert phase.status == PhaseStatus.ERROR and "resolved again, to other pins" in phase.note
    assert ran == [] and not src.exported and not exports.exporter_venv(cache, c["tf2.20-cpu"]).exists()


# --------------------------------------------------------------------------- the producer's own venv


def test_producer_ids_are_the_exporters_in_the_run(tmp_path):
    c = combos(tmp_path)
    assert exports.producer_ids([c["tf2.21-cpu"], c["tf2.20-cpu"], c["tf2.15-cpu"]]) == {"tf2.20-cpu"}
    assert exports.producer_ids([c["tf2.21-cpu"], c["tf2.15-cpu"]]) == set()  # its exporter is not in the run
    assert exports.producer_ids([c["tf2.20-cpu"], c["tf2.15-cpu"]]) == set()  # each exports its own


def a_run(tmp_path: Path, monkeypatch) -> tuple[Context, RunDir]:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    ctx = Context(root=ROOT, matrix=matrix(tmp_path), profile="all", run_id=new_run_id(),
                  results_root=tmp_path / "results")
    run = ctx.run_to_write(Options())
    ctx.ensure_run(run, Options())
    return ctx, run


def play(tmp_path: Path, ctx: Context, run: RunDir, combo: Combination, opts: Options, installer: Installer) -> None:
    """A combination's session played by a real :class:`Pipeline` (the installer and the phase runner FAKE), its
    venv a folder of its own; an exporter's pins resolve to the lock the FAKE installer gives every venv."""
    venv = tmp_path / "nox" / f"bench-{combo.id}"
    venv.mkdir(parents=True, exist_ok=True)
    Pipeline(FakeSession(venv), ctx, combo, opts, run, host=CPU_HOST, installer=installer, run_phase=Runner(),
             resolver=lambda who, **kw: ("a" * 64, ""))()


class PlayedPool:
    """FAKE launcher: each combination's install stage played in this process; measure stages are not."""

    def __init__(self, tmp_path: Path, ctx: Context, run: RunDir) -> None:
        self.tmp_path, self.ctx, self.run = tmp_path, ctx, run
        self.installer, self.order = Installer(), []

    def __call__(self, combo: Combination, stage: str, gpu: int | None) -> int:
        if stage == "install":
            self.order.append(combo.id)
            play(self.tmp_path, self.ctx, self.run, combo, Options(stage="install", placed_by="gpus"),
                 self.installer)
        return 0


@pytest.mark.parametrize("ids", [["tf2.20-cpu", "tf2.21-cpu"], ["tf2.21-cpu", "tf2.20-cpu"]])
def test_the_pool_makes_a_shared_export_in_the_producers_own_venv(tmp_path, monkeypatch, ids):
    ctx, run = a_run(tmp_path, monkeypatch)
    played = PlayedPool(tmp_path, ctx, run)
    run_pool(run, [ctx.combination(i) for i in ids], Options(gpus=(0,)), [], played, lambda _: None, driver="")
    assert played.order == ["tf2.20-cpu", "tf2.21-cpu"]  # the producer first, whatever the order given
    venvs = [kw["venv"] for _, kw in played.installer.calls]
    assert venvs == [tmp_path / "nox" / "bench-tf2.20-cpu", tmp_path / "nox" / "bench-tf2.21-cpu"]  # no exporter's
    made = {m["name"]: m for m in read_json(run.log_dir("tf2.21-cpu") / "install-outcome.json")["exports"]}
    assert made["shared-export-small"]["status"] == "cached"
    assert "made by tf2.20-cpu" in made["shared-export-small"]["note"]


def test_a_plain_runs_consumer_loads_the_export_its_producers_install_ahead_made(tmp_path, monkeypatch):
    """A plain run: every install ahead (and the exports it makes) ends before a session times anything."""
    ctx, run = a_run(tmp_path, monkeypatch)
    installer = Installer()
    play(tmp_path, ctx, run, ctx.combination("tf2.20-cpu"), Options(stage="install"), installer)
    play(tmp_path, ctx, run, ctx.combination("tf2.21-cpu"), Options(), installer)
    venvs = [kw["venv"] for _, kw in installer.calls]
    assert venvs == [tmp_path / "nox" / "bench-tf2.20-cpu", tmp_path / "nox" / "bench-tf2.21-cpu"]  # no exporter's
    record = run.existing_record("tf2.21-cpu")
    assert record is not None
    shared = next(p for p in record.phases if p.name == "shared-export-small")
    assert shared.status == PhaseStatus.CACHED and "made by tf2.20-cpu" in shared.note


def test_without_its_producer_in_the_run_the_exporter_venv_makes_it(tmp_path, monkeypatch):
    ctx, run = a_run(tmp_path, monkeypatch)
    played = PlayedPool(tmp_path, ctx, run)
    run_pool(run, [ctx.combination("tf2.21-cpu")], Options(gpus=(0,)), [], played, lambda _: None, driver="")
    venvs = [kw["venv"] for _, kw in played.installer.calls]
    assert venvs == [tmp_path / "nox" / "bench-tf2.21-cpu", tmp_path / "cache" / "exporters" / "tf2.20-cpu"]
