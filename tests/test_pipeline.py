"""run.pipeline: each stage of one combination on its own (gate, install, phases, verdict), then the whole.

No nox, no uv, no TensorFlow: the session is the explicit FakeSession, the installer and the phase runner are
test doubles passed in (the seams the pipeline has for this), and the host is a HostFacts value.  The real
installer and runner are tested in test_install and test_runner; the real whole in test_integration.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from fakes.fake_session import Failed, FakeSession, Skipped
from matrices import BASE, base, matrix_with
from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.records.model import InstallOutcome, PhaseRecord
from tfmatrix.records.status import Outcome, PhaseStatus, Status
from tfmatrix.records.store import RunDir, new_run_id
from tfmatrix.run import pipeline, runner
from tfmatrix.run.context import Context
from tfmatrix.run.host import GpuInfo, HostFacts
from tfmatrix.run.options import Options
from tfmatrix.run.pipeline import Bench, Ending, install_failed, run_combination
from tfmatrix.worker.contract import BenchConfig, WorkerResult

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")
GPU_HOST = HostFacts(gpus=(GpuInfo(0, "NVIDIA L4", "nvml", 24 << 30, "GPU-l4"),
                           GpuInfo(1, "NVIDIA A100-SXM4-40GB", "nvml", 40 << 30, "GPU-a100")),
                     driver_version="550.54.15", cpu_flags=("avx",), machine="x86_64", system="Linux")
CPU_ONLY_DEVICES = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}]}}
WITH_GPU = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                     {"name": "/physical_device:GPU:0", "type": "GPU"}]}}


class Installer:
    """FAKE installer: what uv would have done, and how often it was asked."""

    def __init__(self, ok: bool = True, resolved: tuple[str, ...] = ("numpy==1.26.4", "tensorflow==2.15.1"),
                 error: str = "", check_ok: bool | None = True) -> None:
        self.ok, self.resolved, self.error, self.check_ok, self.calls = ok, resolved, error, check_ok, []

    def __call__(self, requirements, **kw: Any) -> InstallOutcome:
        self.calls.append((list(requirements), kw))
        return InstallOutcome("uv", ok=self.ok, seconds=1.5, lock_sha256="a" * 64, resolved=list(self.resolved),
                              error=self.error, failed_step="" if self.ok else "resolve", check_ok=self.check_ok,
                              check_output="" if self.check_ok else "tensorflow 2.15.1 requires protobuf<5")


class Runner:
    """FAKE phase runner: each phase ends as ``ends`` says (default ok), with a log file it really writes."""

    def __init__(self, ends: dict[str, str] | None = None, probe: dict | None = None, log_text: str = "") -> None:
        self.ends, self.probe, self.log_text, self.ran = ends or {}, probe or CPU_ONLY_DEVICES, log_text, []

    def __call__(self, spec, *, python, benchmark_file, log_dir, timeout, env, telemetry=None):
        self.ran.append(spec.name)
        log = log_dir / f"{spec.name}.log"
        log.write_text(self.log_text)
        status = PhaseStatus(self.ends.get(spec.phase, "ok"))
        if spec.phase == "export" and status == PhaseStatus.OK:  # what the real export leaves
            config = BenchConfig.from_json(json.loads(Path(env["TFMATRIX_BENCH_CONFIG"]).read_text()))
            exported = Path(config.export_dir(spec.model))
            exported.mkdir(parents=True)
            (exported / "saved_model.pb").write_bytes(b"")
        samples = [0.1, 0.12, 0.11] if status == PhaseStatus.OK and spec.phase != "probe" else []
        result = WorkerResult(kind=spec.phase, probe=self.probe if spec.phase == "probe" else None)
        return runner.planned(spec, status, samples=samples, unit="seconds" if samples else None, log=str(log),
                              note="" if status == PhaseStatus.OK else f"{status}"), result


def context(tmp_path: Path, matrix=None) -> Context:
    return Context(root=ROOT, matrix=matrix or parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                   run_id=new_run_id(), results_root=tmp_path / "results")


def bench(tmp_path: Path, combo_id: str = "tf2.15-cpu", opts: Options = Options(), host: HostFacts = CPU_HOST,
          installer=None, run_phase=None, matrix=None) -> Bench:
    ctx = context(tmp_path, matrix)
    (tmp_path / "venv").mkdir(parents=True, exist_ok=True)
    run = ctx.run_to_write(opts)
    ctx.ensure_run(run, opts)
    b = Bench(FakeSession(tmp_path / "venv"), ctx, ctx.combination(combo_id), opts, run, host=host,
              installer=installer or Installer(), run_phase=run_phase or Runner())
    b.log_dir.mkdir(parents=True, exist_ok=True)
    return b


@pytest.fixture(autouse=True)
def private_gpu_locks_and_cache(tmp_path, monkeypatch):
    """GPU leases and the export cache in this test's folder, not the host's."""
    monkeypatch.setenv("TFMATRIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline.locks, "lease_paths",
                        lambda gpu, gpus: [tmp_path / "locks" / f"gpu{gpu if gpu is not None else 'all'}.lock"])
    (tmp_path / "locks").mkdir()


# --------------------------------------------------------------------------- gate


def test_gate_predicts_and_lets_a_cpu_combination_through(tmp_path):
    b = bench(tmp_path)
    with ExitStack() as held:
        assert b.gate(held) is None
    assert b.record.preflight.predicted == "ok"


def test_gate_skips_a_gpu_combination_without_a_gpu_and_says_why(tmp_path):
    b = bench(tmp_path, "tf2.20-cuda-pip")
    with ExitStack() as held:
        ending = b.gate(held)
    assert ending.status == Status.SKIPPED and ending.reason.startswith("no NVIDIA GPU visible")
    assert b.record.preflight.predicted == "no-gpu"  # the prediction is kept beside the skip


@pytest.mark.parametrize("opts, hw, reason", [
    (Options(gpu=3), None, "--gpu 3: this host has GPUs 0, 1"),
    (Options(), {"gpu_type": "H100"}, "no matching hardware: needs a H100 GPU; here GPU 0 is 'NVIDIA L4'"),
    (Options(gpu=1), {"min_driver": "555"}, "no matching hardware: needs a GPU on driver >= 555"),
])
def test_gate_skips_what_this_host_cannot_place(tmp_path, opts, hw, reason):
    b = bench(tmp_path, "tf2.20-cuda-pip", opts, GPU_HOST, matrix=matrix_with(stack_hw=hw) if hw else None)
    with ExitStack() as held:
        ending = b.gate(held)
    assert ending.status == Status.SKIPPED and ending.reason.startswith(reason)


def test_gate_holds_the_gpu_and_refuses_a_shared_one_unless_allowed(tmp_path):
    from filelock import FileLock, Timeout

    other = FileLock(str(tmp_path / "locks" / "gpu0.lock"))
    other.acquire()  # another run is timing on GPU 0
    try:
        b = bench(tmp_path, "tf2.20-cuda-pip", Options(gpu=0), GPU_HOST)
        with ExitStack() as held:
            ending = b.gate(held)
        assert ending.status == Status.SKIPPED and "--allow-shared-gpu" in ending.reason
        b = bench(tmp_path, "tf2.20-cuda-pip", Options(gpu=0, allow_shared_gpu=True), GPU_HOST)
        with ExitStack() as held:
            assert b.gate(held) is None
        assert b.record.shared_gpu and "running anyway" in b.session.warnings[0]
    finally:
        other.release()
    b = bench(tmp_path, "tf2.20-cuda-pip", Options(gpu=1), GPU_HOST)
    with ExitStack() as held:
        assert b.gate(held) is None
        with pytest.raises(Timeout):  # GPU 1 is held until the record is written
            FileLock(str(tmp_path / "locks" / "gpu1.lock")).acquire(timeout=0)
    FileLock(str(tmp_path / "locks" / "gpu1.lock")).acquire(timeout=0)  # and free once it is


# --------------------------------------------------------------------------- install


def test_install_records_the_outcome_and_predicts_again_from_the_resolved_pins(tmp_path):
    installer = Installer(resolved=("numpy==2.4.6", "tensorflow==2.15.1"))
    b = bench(tmp_path, installer=installer)
    inst = b.install()
    assert inst.ok and b.record.install is inst and b.record.resolved_pins == ["numpy==2.4.6", "tensorflow==2.15.1"]
    assert b.record.preflight.predicted == "numpy-abi"  # from what was really resolved
    (reqs, kw), = installer.calls
    assert reqs == b.combo.requirements() and kw["force"] == b.combo.force and kw["backend"] == "uv"


def test_a_failed_install_ends_in_install_failed_with_the_resolvers_first_line(tmp_path):
    b = bench(tmp_path, installer=Installer(ok=False, error="\n  No solution found when resolving dependencies\n"))
    inst = b.install()
    ending = install_failed(inst, gpu_stack=False)
    assert ending.status == Status.INSTALL_FAILED and ending.failure.cls == "install-failed"
    assert ending.reason == "resolve: No solution found when resolving dependencies"


def test_conflicts_the_installers_check_reports_are_warned_and_kept(tmp_path):
    b = bench(tmp_path, installer=Installer(check_ok=False))
    assert b.install().check_ok is False
    assert "the installer's check reports conflicts" in b.session.warnings[0]


def test_the_pools_stages_install_once_and_measure_what_was_installed(tmp_path):
    installer = Installer()
    b = bench(tmp_path, opts=Options(stage="install", placed_by="gpus"), installer=installer)
    with ExitStack() as held:
        assert b.measure(held) is None  # installed ahead; nothing measured, nothing recorded
    assert b.installed.exists() and not b.run.record_path(b.combo.id).exists()
    later = Bench(b.session, b.ctx, b.combo, Options(stage="measure", placed_by="gpus"), b.run, host=CPU_HOST,
                  installer=installer, run_phase=Runner())
    inst = later.install()
    assert len(installer.calls) == 1 and inst.lock_sha256 == "a" * 64 and inst.resolved == list(installer.resolved)
    b.installed.unlink()
    with pytest.raises(TfmatrixError, match="the --gpus pool installs before it measures"):
        later.install()


# --------------------------------------------------------------------------- phases


def test_every_phase_runs_in_plan_order_and_the_probe_gives_the_environment(tmp_path):
    run_phase = Runner()
    b = bench(tmp_path, run_phase=run_phase)
    assert b.phases(b.install()) is None
    assert run_phase.ran == [s.name for s in runner.plan(b.combo, b.workload)]
    assert [p.name for p in b.record.phases] == run_phase.ran and b.record.environment == CPU_ONLY_DEVICES
    config = BenchConfig.from_json(json.loads((b.log_dir / "bench-config.json").read_text()))
    assert config.workload == b.workload and config.model_ids == ["small"]
    assert Path(config.export_dir("small")).parent == tmp_path / "cache" / "exports" / "tf2.15-cpu"


def test_a_failed_model_phase_skips_that_models_later_phases_only(tmp_path):
    b = bench(tmp_path, run_phase=Runner(ends={"load": "crashed"}, log_text="Fatal Python error: Segmentation fault"))
    first = b.phases(b.install())
    assert first.cls == "segfault"
    by_name = {p.name: p for p in b.record.phases}
    assert by_name["load-small"].failure == first and by_name["import"].status == PhaseStatus.OK
    later = [p for p in b.record.phases if p.phase in ("first-inference", "latency", "throughput", "peakmem")]
    assert later and all(p.status == PhaseStatus.SKIPPED and "an earlier phase of this model failed" in p.note
                         for p in later)


def test_a_failed_import_skips_everything_after_it(tmp_path):
    run_phase = Runner(ends={"import": "error"}, log_text="ImportError: numpy.core.multiarray failed to import")
    b = bench(tmp_path, run_phase=run_phase)
    first = b.phases(b.install())
    assert run_phase.ran == ["probe", "import"]
    assert first.cls == "numpy-abi"
    assert all(p.status == PhaseStatus.SKIPPED and p.note == "not run: import error" for p in b.record.phases[2:])


def test_a_cached_export_is_reused_and_keeps_the_original_time(tmp_path):
    run_phase = Runner()
    b = bench(tmp_path, run_phase=run_phase)
    inst = b.install()
    b.phases(inst)  # the first time: exported
    again = bench(tmp_path, run_phase=Runner())
    again.phases(again.install())
    export = next(p for p in again.record.phases if p.phase == "export")
    assert export.status == PhaseStatus.CACHED and export.samples == [0.1, 0.12, 0.11]
    assert export.cached_from["run_id"] == b.run.run_id
    assert "export-small" not in again.run_phase.ran


def test_a_gpu_combination_whose_tensorflow_sees_no_gpu_times_nothing(tmp_path):
    run_phase = Runner(probe=CPU_ONLY_DEVICES, log_text="failed call to cuInit: UNKNOWN ERROR (303)")
    b = bench(tmp_path, "tf2.20-cuda-pip", Options(assume_gpu=True), CPU_HOST, run_phase=run_phase)
    first = b.phases(b.install())
    assert run_phase.ran == ["probe"]  # nothing timed on the CPU as if on the GPU
    assert first.cls == "no-gpu" and "TensorFlow said: failed call to cuInit" in first.evidence
    assert all(p.status == PhaseStatus.SKIPPED for p in b.record.phases[1:])
    ok = bench(tmp_path / "gpu", "tf2.20-cuda-pip", Options(assume_gpu=True), GPU_HOST, run_phase=Runner(probe=WITH_GPU))
    assert ok.phases(ok.install()) is None and ok.record.gpu_index is None


# --------------------------------------------------------------------------- verdict, finish, interrupt


def test_verdict_failed_degraded_or_ok(tmp_path):
    b = bench(tmp_path)
    b.record.phases = [PhaseRecord("import", "import", "ImportSuite.x", None, None, PhaseStatus.OK,
                                   log=str(tmp_path / "import.log"))]
    (tmp_path / "import.log").write_text("all good\n")
    assert b.verdict(None) == Ending(Status.OK)
    (tmp_path / "import.log").write_text("AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'\n")
    degraded = b.verdict(None)
    assert degraded.status == Status.DEGRADED and "GetPrototype" in degraded.failure.evidence
    failure = install_failed(InstallOutcome("uv", error="boom"), False).failure
    assert b.verdict(failure) == Ending(Status.FAILED, failure)


def test_finish_writes_the_record_and_tells_nox(tmp_path):
    b = bench(tmp_path)
    rec = b.finish(Ending(Status.OK))
    assert rec.outcome == Outcome.OK and b.run.existing_record("tf2.15-cpu").status == Status.OK
    with pytest.raises(Skipped, match="no NVIDIA GPU"):
        bench(tmp_path / "a", "tf2.20-cuda-pip").finish(Ending(Status.SKIPPED, reason="no NVIDIA GPU visible"))
    failure = install_failed(InstallOutcome("uv", error="No solution found"), False)
    with pytest.raises(Failed, match="install-failed"):
        bench(tmp_path / "b").finish(failure)


def test_an_interrupt_keeps_what_was_measured_and_names_the_phase(tmp_path):
    b = bench(tmp_path)
    b.phases(b.install())
    measured = len(b.record.phases)
    b.progress.doing, b.progress.phase = "latency-small-b1", runner.plan(b.combo, b.workload)[5]
    b.interrupted("SIGTERM")
    rec = b.run.existing_record("tf2.15-cpu")
    assert rec.status == Status.INTERRUPTED and len(rec.phases) == measured + 1
    assert rec.phases[-1].status == PhaseStatus.INTERRUPTED and rec.phases[-1].note == "stopped by SIGTERM"
    assert f"--resume {b.run.run_id}" in rec.reason and "during latency-small-b1" in rec.reason
    assert [i["signal"] for i in b.run.read_run().interruptions] == ["SIGTERM"]


# --------------------------------------------------------------------------- the whole, around the stages


def test_run_combination_records_ok_then_resume_runs_nothing_more(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "Bench", lambda *a, **kw: Bench(*a, host=CPU_HOST, installer=Installer(),
                                                                   run_phase=Runner(), **kw))
    ctx = context(tmp_path)
    (tmp_path / "venv").mkdir()
    session = FakeSession(tmp_path / "venv")
    rec = run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options())
    assert rec.status == Status.OK and ("summary", [ctx.run_id]) in session.notified
    again = run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options(resume=ctx.run_id))
    assert again is None and "already recorded in run" in session.lines[-1]


def test_run_combination_checks_models_and_shards_before_anything_runs(tmp_path):
    ctx = context(tmp_path, parse_matrix(dict(BASE, models=[BASE["models"][0]]), "m.yaml", sha256="0" * 64))
    session = FakeSession(tmp_path / "venv")
    with pytest.raises(TfmatrixError, match="--models: got nope; expected models of tf2.15-cpu: small"):
        run_combination(session, ctx, ctx.combination("tf2.15-cpu"), Options(models=("nope",)))
    from tfmatrix.matrix.shard import Shard, members

    elsewhere = next(c for c in ctx.combos if c.id not in members(ctx.combos, Shard(0, 2)))
    with pytest.raises(Skipped, match="not in shard 0/2"):
        run_combination(session, ctx, elsewhere, Options(shard=Shard(0, 2)))
    assert not RunDir(ctx.results_root, ctx.run_id).path.exists()  # skipped before any run folder
