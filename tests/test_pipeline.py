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
from fakes.fake_bench import CPU_ONLY_DEVICES, Installer, Runner
from fakes.fake_session import Failed, FakeSession, Skipped
from matrices import base, matrix_with

from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.load import parse_matrix
from tfmatrix.records import metrics
from tfmatrix.records.model import InstallOutcome, PhaseRecord
from tfmatrix.records.status import Outcome, PhaseStatus, Status
from tfmatrix.records.store import new_run_id
from tfmatrix.run.execution import phases, runner
from tfmatrix.run.execution.host import GpuInfo, HostFacts
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.endings import Ending, install_failed
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.scheduling import pipeline
from tfmatrix.run.scheduling.pipeline import Pipeline as Bench
from tfmatrix.worker.contract import BenchConfig

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")
GPU_HOST = HostFacts(gpus=(GpuInfo(0, "NVIDIA L4", "nvml", 24 << 30, "GPU-l4"),
                           GpuInfo(1, "NVIDIA A100-SXM4-40GB", "nvml", 40 << 30, "GPU-a100")),
                     driver_version="550.54.15", cpu_flags=("avx",), machine="x86_64", system="Linux")
WITH_GPU = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                     {"name": "/physical_device:GPU:0", "type": "GPU"}]}}


def context(tmp_path: Path, matrix=None) -> Context:
    return Context(root=ROOT, matrix=matrix or parse_matrix(base(), "m.yaml", sha256="0" * 64), profile="default",
                   run_id=new_run_id(), results_root=tmp_path / "results")


def bench(tmp_path: Path, combo_id: str = "tf2.15-cpu", opts: Options | None = None, host: HostFacts = CPU_HOST,
          installer=None, run_phase=None, matrix=None) -> Bench:
    opts = opts if opts is not None else Options()
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
    ending = install_failed(inst, b.record.combination)
    assert ending.status == Status.INSTALL_FAILED and ending.failure.cls == "resolver-conflict"
    assert ending.reason == "resolve: resolver-conflict: No solution found when resolving dependencies"


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


@pytest.mark.parametrize("placed_by, beside", [("gpus", False), ("local", True)])
def test_the_install_stage_exports_and_the_measuring_session_adopts_the_export(tmp_path, placed_by, beside):
    run_phase = Runner()
    b = bench(tmp_path, opts=Options(stage="install", placed_by=placed_by), run_phase=run_phase)
    with ExitStack() as held:
        assert b.measure(held) is None
    assert run_phase.ran == ["export-small"]  # the install stage exports; nothing else runs
    made = json.loads(b.installed.read_text())["exports"]
    assert [m["name"] for m in made] == ["export-small"] and made[0]["status"] == "ok"
    assert (pipeline.BESIDE in made[0]["note"]) is beside  # a plain run's installs ahead run side by side
    later = Bench(b.session, b.ctx, b.combo, Options(stage="measure", placed_by=placed_by), b.run, host=CPU_HOST,
                  installer=Installer(), run_phase=run_phase)
    assert later.phases(later.install()) is None
    assert run_phase.ran.count("export-small") == 1  # adopted, not made again
    export = next(p for p in later.record.phases if p.name == "export-small")
    assert export.status == PhaseStatus.OK and export.samples == made[0]["samples"]
    assert [p.name for p in later.record.phases][0] == "export-small"  # in plan order


def test_a_failed_export_made_ahead_still_skips_its_models_phases(tmp_path):
    b = bench(tmp_path, opts=Options(stage="install", placed_by="local"), run_phase=Runner(ends={"export": "error"}))
    with ExitStack() as held:
        b.measure(held)
    later = Bench(b.session, b.ctx, b.combo, Options(stage="measure", placed_by="local"), b.run, host=CPU_HOST,
                  installer=Installer(), run_phase=Runner())
    first = later.phases(later.install())
    export = next(p for p in later.record.phases if p.name == "export-small")
    assert first is not None and first == export.failure
    assert "export-small" not in later.bench.run_phase.ran and "load-small" not in later.bench.run_phase.ran
    assert all(p.status == PhaseStatus.SKIPPED for p in later.record.phases if p.phase in ("load", "latency"))


class BusyAhead:
    """FAKE installs ahead: still running while the first session installs (what it does then, it says)."""

    def __init__(self, ran: list[str]) -> None:
        self.ran = ran

    def busy(self) -> bool:
        return "waited" not in self.ran

    def wait(self, say) -> None:
        self.ran.append("waited")

    def installed(self, combo_id: str) -> bool:
        return False


def test_the_first_session_exports_its_own_while_the_others_install_then_waits(tmp_path):
    run_phase = Runner()
    b = bench(tmp_path, run_phase=run_phase)
    b.ahead = BusyAhead(run_phase.ran)
    with ExitStack() as held:
        rec = b.measure(held)
    assert run_phase.ran[:2] == ["export-small", "waited"] and run_phase.ran.count("export-small") == 1
    assert rec.outcome == Outcome.OK
    assert pipeline.BESIDE in next(p for p in rec.phases if p.name == "export-small").note


# --------------------------------------------------------------------------- phases


def test_every_phase_runs_in_plan_order_and_the_probe_gives_the_environment(tmp_path):
    run_phase = Runner()
    b = bench(tmp_path, run_phase=run_phase)
    assert b.phases(b.install()) is None
    jobs = runner.plan(b.combo, b.workload)
    assert run_phase.ran == [s.name for s in runner.steps(jobs)]
    assert run_phase.processes == [j.name for j in jobs for _ in j.steps]  # each step in its job's process
    assert [p.name for p in b.record.phases] == list(dict.fromkeys(run_phase.ran))  # one record per phase
    assert b.record.environment == CPU_ONLY_DEVICES
    by_name = {p.name: p for p in b.record.phases}
    chains = [j.name for j in jobs if j.name.startswith(("cold-", "warm-"))]
    assert len(chains) == b.workload.cold_starts
    for joined in ("import", "load-small", "first-inference-small-b1"):  # one sample per cold start, joined
        assert by_name[joined].processes == chains and len(by_name[joined].samples) == 3 * len(chains)
        assert by_name[joined].summary["n"] == 3 * len(chains)
    assert by_name["latency-small-b1"].processes == chains[-1:]  # the warm phases: the last cold start's
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


def test_a_failed_import_skips_everything_after_it_but_the_probe(tmp_path):
    run_phase = Runner(ends={"import": "error", "export": "error"},
                       log_text="ImportError: numpy.core.multiarray failed to import")
    b = bench(tmp_path, run_phase=run_phase)
    first = b.phases(b.install())
    assert run_phase.ran == ["export-small", "import", "probe"]  # the probe still says what was installed
    assert first.cls == "numpy-abi" and first is b.record.phases[1].failure  # the import's, not the export's
    rest = [p for p in b.record.phases if p.name not in run_phase.ran]
    assert rest and all(p.status == PhaseStatus.SKIPPED for p in rest)
    assert {p.note for p in rest} <= {"not run: import error", "not run: an earlier phase of this model failed"}


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
    assert "export-small" not in again.bench.run_phase.ran


def test_a_gpu_combination_whose_tensorflow_sees_no_gpu_times_nothing(tmp_path):
    run_phase = Runner(probe=CPU_ONLY_DEVICES, log_text="failed call to cuInit: UNKNOWN ERROR (303)")
    b = bench(tmp_path, "tf2.20-cuda-pip", Options(assume_gpu=True), CPU_HOST, run_phase=run_phase)
    first = b.phases(b.install())
    # the probe ends the first cold start: what it timed before is dropped, nothing more runs
    assert run_phase.ran[-1] == "probe" and "latency-small-b1" not in run_phase.ran
    assert first.cls == "no-gpu" and "TensorFlow said: failed call to cuInit" in first.evidence
    timed = [p for p in b.record.phases if p.phase not in ("probe", "inspect")]
    assert timed and all(p.status == PhaseStatus.SKIPPED and not p.samples for p in timed)
    assert any(p.note.startswith("measured on the CPU, not recorded: no-gpu") for p in timed)
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
    failure = install_failed(InstallOutcome("uv", error="boom"), b.record.combination).failure
    assert b.verdict(failure) == Ending(Status.FAILED, failure)


def test_finish_writes_the_record_and_tells_nox(tmp_path):
    b = bench(tmp_path)
    rec = b.finish(Ending(Status.OK))
    assert rec.outcome == Outcome.OK and b.run.existing_record("tf2.15-cpu").status == Status.OK
    with pytest.raises(Skipped, match="no NVIDIA GPU"):
        bench(tmp_path / "a", "tf2.20-cuda-pip").finish(Ending(Status.SKIPPED, reason="no NVIDIA GPU visible"))
    failure = install_failed(InstallOutcome("uv", error="No solution found"), b.record.combination)
    with pytest.raises(Failed, match="install-failed"):
        bench(tmp_path / "b").finish(failure)


def test_an_interrupt_keeps_what_was_measured_and_names_the_phase(tmp_path):
    b = bench(tmp_path)
    b.phases(b.install())
    spec = next(s for s in runner.steps(runner.plan(b.combo, b.workload)) if s.name == "latency-small-b1")
    b.record.phases = [p for p in b.record.phases if p.name != spec.name]  # running when the signal came
    measured = len(b.record.phases)
    b.progress.doing, b.progress.phase = spec.name, spec
    b.interrupted("SIGTERM")
    rec = b.run.existing_record("tf2.15-cpu")
    assert rec.status == Status.INTERRUPTED and len(rec.phases) == measured + 1
    assert rec.phases[-1].status == PhaseStatus.INTERRUPTED and rec.phases[-1].note == "stopped by SIGTERM"
    assert f"--resume {b.run.run_id}" in rec.reason and "during latency-small-b1" in rec.reason
    assert [i["signal"] for i in b.run.read_run().interruptions] == ["SIGTERM"]


def test_an_interrupt_in_a_later_cold_start_keeps_the_earlier_samples_of_that_phase(tmp_path):
    b = bench(tmp_path)
    b.phases(b.install())
    imported = next(p for p in b.record.phases if p.name == "import")
    spec = runner.steps(runner.plan(b.combo, b.workload))[1]
    assert spec.name == "import"
    b.progress.doing, b.progress.phase = spec.name, spec
    b.interrupted("SIGINT")
    again = next(p for p in b.record.phases if p.name == "import")
    assert [p.name for p in b.record.phases].count("import") == 1  # one record per phase, still
    assert again.status == PhaseStatus.INTERRUPTED and again.samples == imported.samples


# --------------------------------------------------------------------------- the whole, around the stages


# --------------------------------------------------------------------------- exports (issue 13): shared, inspected


def load_only_matrix(**extra_entry: Any):
    """BASE and a load-only tf2.21 that loads tf2.20's exports (plus one more entry, when given)."""
    data = base()
    data["tensorflow"].append({"id": "tf2.21", "version": "2.21.0", "export_with": "tf2.20"})
    if extra_entry:
        data["tensorflow"].append(extra_entry)
    return parse_matrix(data, "m.yaml", sha256="0" * 64)


class Resolver:
    """FAKE ``exports.resolve_exporter``: the exporter's (lock hash, error), without uv."""

    def __init__(self, lock: str = "b" * 64, error: str = "") -> None:
        self.lock, self.error, self.asked = lock, error, []

    def __call__(self, exporter, *, cache_root, timeout, log, index_url, say) -> tuple[str, str]:
        self.asked.append(exporter.id)
        return self.lock, self.error


class ExportingRunner(Runner):
    """FAKE phase runner that also leaves a shared export, and gives the inspect phase ``inspected`` as its
    result's extra (what the worker reads from saved_model.pb)."""

    def __init__(self, inspected: dict | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.inspected = inspected

    def __call__(self, spec, *, python, benchmark_file, log_dir, timeout, env, telemetry=None, worker=None):
        phase, result = super().__call__(spec, python=python, benchmark_file=benchmark_file, log_dir=log_dir,
                                         timeout=timeout, env=env, telemetry=telemetry)
        if spec.phase == "shared-export" and phase.status == PhaseStatus.OK:
            config = BenchConfig.from_json(json.loads(Path(env["TFMATRIX_BENCH_CONFIG"]).read_text()))
            exported = Path(config.export_dir(spec.model))
            exported.mkdir(parents=True)
            (exported / "saved_model.pb").write_bytes(b"")
        if spec.phase == "inspect" and self.inspected is not None:
            phase.extra = {"saved_model": self.inspected}
        return phase, result


def resolving_bench(tmp_path: Path, combo_id: str, matrix, resolver: Resolver, installer: Installer,
                    run_phase: Runner) -> Bench:
    """bench(), with the exporter's resolver injected too."""
    ctx = context(tmp_path, matrix)
    (tmp_path / "venv").mkdir(parents=True, exist_ok=True)
    run = ctx.run_to_write(Options())
    ctx.ensure_run(run, Options())
    b = Bench(FakeSession(tmp_path / "venv"), ctx, ctx.combination(combo_id), Options(), run, host=CPU_HOST,
              installer=installer, run_phase=run_phase, resolver=resolver)
    b.log_dir.mkdir(parents=True, exist_ok=True)
    return b


def test_a_load_only_combination_exports_once_with_its_exporter_then_reuses_it(tmp_path):
    matrix, resolver, installer, run_phase = load_only_matrix(), Resolver(), Installer(), ExportingRunner()
    b = resolving_bench(tmp_path, "tf2.21-cpu", matrix, resolver, installer, run_phase)
    assert b.phases(b.install()) is None
    assert resolver.asked == ["tf2.20-cpu"]
    assert len(installer.calls) == 2  # the combination's venv, then the exporter's
    own_reqs, own_kw = installer.calls[0]
    assert own_reqs[0] == "tensorflow==2.21.0" and not any(r.startswith("tf-models-official") for r in own_reqs)
    reqs, kw = installer.calls[1]
    assert "tensorflow==2.20.0" in reqs and "tf-models-official==2.20.0" in reqs
    assert kw["venv"] == tmp_path / "cache" / "exporters" / "tf2.20-cpu" and kw["venv"] != own_kw["venv"]
    by_name = {p.name: p for p in b.record.phases}
    shared = by_name["shared-export-small"]
    assert shared.status == PhaseStatus.OK and "exported by tf2.20-cpu (TensorFlow 2.20.0)" in shared.note
    assert "export-small" not in by_name and run_phase.ran.index("shared-export-small") < run_phase.ran.index(
        "inspect-small") < run_phase.ran.index("load-small")
    (producer,) = b.record.producers
    assert (producer.model, producer.source, producer.combination, producer.relation) == (
        "small", "shared", "tf2.20-cpu", "newer")
    assert producer.tensorflow == "2.20.0" and producer.lock_sha256 == "b" * 64 and producer.export_sha256
    config = BenchConfig.from_json(json.loads((b.log_dir / "bench-config.json").read_text()))
    assert Path(config.export_dir("small")) == Path(producer.path)
    assert Path(producer.path).parent == tmp_path / "cache" / "exports" / "tf2.20-cpu"

    again_installer, again_runner = Installer(), ExportingRunner()
    again = resolving_bench(tmp_path, "tf2.21-cpu", matrix, Resolver(), again_installer, again_runner)
    assert again.phases(again.install()) is None
    assert len(again_installer.calls) == 1  # the combination's own venv only
    cached = next(p for p in again.record.phases if p.name == "shared-export-small")
    assert cached.status == PhaseStatus.CACHED and cached.samples == [0.1, 0.12, 0.11]
    assert "made by tf2.20-cpu" in cached.note and cached.cached_from["run_id"] == b.run.run_id
    assert "shared-export-small" not in again_runner.ran
    assert again.record.producers[0].export_sha256 == producer.export_sha256


@pytest.mark.parametrize("placed_by, made", [("gpus", ["shared-export-small"]), ("local", [])])
def test_only_the_pools_install_stage_makes_an_export_with_export(tmp_path, placed_by, made):
    """A plain run's installs ahead run side by side: the export another combination may be making as its own
    is left to the session, which finds it made (the pool installs one at a time, so it makes it ahead)."""
    run_phase, resolver = ExportingRunner(), Resolver()
    b = resolving_bench(tmp_path, "tf2.21-cpu", load_only_matrix(), resolver, Installer(), run_phase)
    b.opts = Options(stage="install", placed_by=placed_by)
    with ExitStack() as held:
        assert b.measure(held) is None
    assert run_phase.ran == made
    assert resolver.asked == (["tf2.20-cpu"] if made else [])  # nothing to make: not even its pins resolved
    assert [m["name"] for m in json.loads(b.installed.read_text())["exports"]] == made


def test_an_exporter_that_cannot_be_resolved_fails_the_models_phases(tmp_path):
    installer, run_phase = Installer(), ExportingRunner()
    b = resolving_bench(tmp_path, "tf2.21-cpu", load_only_matrix(),
                        Resolver("", "No solution found when resolving dependencies"), installer, run_phase)
    first = b.phases(b.install())
    assert first is not None and len(installer.calls) == 1  # no exporter venv installed
    by_name = {p.name: p for p in b.record.phases}
    shared = by_name["shared-export-small"]
    assert shared.status == PhaseStatus.ERROR and shared.failure == first
    assert "resolving the exporter tf2.20-cpu's pins: No solution found" in shared.note
    later = [p for p in b.record.phases if p.model == "small" and p.name != "shared-export-small"]
    assert later and all(p.status == PhaseStatus.SKIPPED for p in later)
    assert [p for p in run_phase.ran if p.endswith("small") or "-small-" in p] == []
    assert b.verdict(first).status == Status.FAILED
    assert b.record.producers[0].export_sha256 is None and b.record.producers[0].lock_sha256 is None


def _spec(phase: str, batch: int | None, model: str = "m") -> runner.PhaseSpec:
    return runner.PhaseSpec(phase, "inference", "InferenceSuite", "time_inference",
                            (model, batch) if batch is not None else (model,), model, batch)


def test_fit_batch_measures_a_fixed_batch_signature_at_its_batch_only():
    inspected = {"input": {"fixed_batch": 1, "name": "input_tensor"}}
    throughput = _spec("throughput", 4)
    same, why = phases.fit_batch(throughput, inspected)
    assert same == throughput and "fixes the batch at 1 (input_tensor)" in why and "batch 4" in why
    peak, why = phases.fit_batch(_spec("peakmem", 4), inspected)
    assert why == "" and peak.batch == 1 and peak.params == ("m", 1) and peak.name == "peakmem-m-b1"
    latency = _spec("latency", 1)
    assert phases.fit_batch(latency, inspected) == (latency, "")
    load = _spec("load", None)
    assert phases.fit_batch(load, inspected) == (load, "")
    for free in ({"input": {"fixed_batch": None, "name": "images"}}, {}, None):
        for spec in (throughput, _spec("peakmem", 4), latency):
            assert phases.fit_batch(spec, free) == (spec, "")


def test_a_fixed_batch_signature_skips_the_larger_batches_in_the_pipeline(tmp_path):
    run_phase = ExportingRunner({"input": {"fixed_batch": 1, "name": "input_tensor"}})
    b = bench(tmp_path, run_phase=run_phase)
    assert b.phases(b.install()) is None
    by_name = {p.name: p for p in b.record.phases}
    assert by_name["throughput-small-b4"].status == PhaseStatus.SKIPPED
    assert "fixes the batch at 1" in by_name["throughput-small-b4"].note
    assert "throughput-small-b4" not in run_phase.ran and "peakmem-small-b1" in run_phase.ran
    assert by_name["latency-small-b1"].status == PhaseStatus.OK


def test_an_inspected_unknown_op_becomes_the_prediction(tmp_path):
    why = "unknown to TensorFlow 2.15.1: op DisableCopyOnRead"
    b = bench(tmp_path, run_phase=ExportingRunner({"expected_failure": why, "input": {"fixed_batch": None}}))
    inst = b.install()
    assert b.record.preflight.predicted == "ok"
    b.phases(inst)
    assert b.record.preflight.predicted == "unknown-op"
    assert b.record.preflight.reasons[0] == f"small: {why}"
    assert any("small: the load is expected to fail" in w and "DisableCopyOnRead" in w for w in b.session.warnings)
    assert b.record.producers[0].saved_model == {"input": {"fixed_batch": None}}
    quiet = bench(tmp_path / "quiet", run_phase=ExportingRunner({"input": {"fixed_batch": None}}))
    quiet.phases(quiet.install())
    assert quiet.record.preflight.predicted == "ok" and quiet.session.warnings == []


def test_requirements_of_load_only_nightly_and_cpu_only_packages():
    matrix = load_only_matrix(id="nightly", version="2.21.0.dev20250228", package="tf-nightly",
                              export_with="tf2.20")
    from tfmatrix.matrix.expand import combinations
    from tfmatrix.run.provisioning.install import install_args

    c = {x.id: x for x in combinations(matrix, "all")}
    load_only = c["tf2.21-cpu"].requirements()
    assert load_only[0] == "tensorflow==2.21.0" and not any("tf-models-official" in r for r in load_only)
    assert "tf-models-official==2.20.0" in c["tf2.20-cpu"].requirements()
    args = install_args(c["nightly-cpu"])
    assert args["as_of"] == ("2025-03-01T00:00:00Z", "tf-nightly")  # the day after the build, across a month
    assert args["requirements"][0] == "tf-nightly==2.21.0.dev20250228"
    assert install_args(c["tf2.21-cpu"])["as_of"] is None and install_args(c["tf2.20-cpu"])["as_of"] is None
    assert c["nightly-cuda-pip"].requirements()[0] == "tf-nightly[and-cuda]==2.21.0.dev20250228"

    cpu_pkg = load_only_matrix(id="tfcpu", version="2.20.0", package="tensorflow-cpu", export_with="tf2.20")
    c = {x.id: x for x in combinations(cpu_pkg, "all")}
    on_cuda = c["tfcpu-cuda-pip"]
    assert on_cuda.install_note and "tensorflow-cpu" in on_cuda.install_note
    assert on_cuda.requirements()[0] == "tensorflow-cpu==2.20.0"
    assert not any("[and-cuda]" in r for r in on_cuda.requirements())
    assert c["tf2.20-cuda-pip"].requirements()[0] == "tensorflow[and-cuda]==2.20.0"
    assert c["tf2.20-cuda-pip"].install_note == "" and c["tfcpu-cpu"].install_note == ""


def test_the_install_note_is_warned_before_installing(tmp_path):
    matrix = load_only_matrix(id="tfcpu", version="2.20.0", package="tensorflow-cpu", export_with="tf2.20")
    installer = Installer()
    b = bench(tmp_path, "tfcpu-cuda-pip", Options(assume_gpu=True), GPU_HOST, installer=installer, matrix=matrix)
    b.install()
    assert any("has no [and-cuda] extra" in w for w in b.session.warnings)
    assert installer.calls[0][0][0] == "tensorflow-cpu==2.20.0"


def test_import_only_times_every_cold_start_of_the_import_and_nothing_else(tmp_path):
    ctx = context(tmp_path)
    opts = Options(import_only=True)
    (tmp_path / "venv").mkdir()
    run = ctx.run_to_write(opts)
    ctx.ensure_run(run, opts)
    run_phase = Runner()
    b = Bench(FakeSession(tmp_path / "venv"), ctx, opts.narrow(ctx.combination("tf2.15-cpu")), opts, run,
              host=CPU_HOST, installer=Installer(), run_phase=run_phase)
    b.log_dir.mkdir(parents=True)
    assert b.phases(b.install()) is None
    n = ctx.matrix.workload.import_repeats
    assert run_phase.ran == ["import", "probe"] + ["import"] * (n - 1)
    assert [p.name for p in b.record.phases] == ["import", "peakmem", "probe"]
    imported, peak = b.record.phases[:2]
    assert len(peak.samples) == n  # the import's peak host RSS, one sample per cold start's process
    assert peak.unit == "bytes" and peak.model is None and peak.samples == [float(run_phase.rss)] * n
    assert [m.key for _, m, _ in metrics.all_measured(b.record.phases, judged=True)] == ["import", "peak-rss"]
    assert b.record.combination.models == ()
