from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.model import PhaseRecord
from tfmatrix.records.status import PhaseStatus
from tfmatrix.run.execution import runner
from tfmatrix.run.execution.phases import classify_phase, stack_env
from tfmatrix.run.noxside.options import Options
from tfmatrix.worker.contract import Telemetry, WorkerResult

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny_bench.py"


def env_for_tests(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TINY_PIDFILE=str(tmp_path / "grandchild.pid"))
    return env


def run(tmp_path: Path, cls: str, method: str, params=(), timeout: float = 60.0,
        batch: int | None = None) -> PhaseRecord:
    spec = runner.PhaseSpec("throughput", "inference", cls, method, tuple(params), "tiny", batch)
    phase, _ = runner.run_phase(spec, python=sys.executable, benchmark_file=TINY, log_dir=tmp_path / "logs",
                                timeout=timeout, env=env_for_tests(tmp_path))
    return phase


def test_time_benchmark_meets_minimum_queries_and_duration(tmp_path):
    res = run(tmp_path, "Tiny", "time_sleep", [2], batch=2)
    assert res.status == PhaseStatus.OK, res.note
    samples = res.samples
    assert len(samples) >= 5
    assert sum(samples) >= 0.05 * 0.9
    assert all(s >= 0.002 for s in samples)  # each call sleeps 2 ms
    assert res.warmup == 1
    assert res.extra == {"setup_n": 2}
    doc = res.to_json()
    assert doc["summary"]["n"] == len(samples)
    assert doc["summary"]["p50"] <= doc["summary"]["p90"] <= doc["summary"]["p99"]
    assert doc["throughput_ips"] == pytest.approx(2 / doc["summary"]["median"])


def test_track_reports_through_file_not_stdout(tmp_path):
    res = run(tmp_path, "Tiny", "track_value", [2])
    assert res.status == PhaseStatus.OK
    assert res.samples == [85.0]
    assert res.unit == "widgets"
    assert "noise on stdout" in Path(res.log).read_text()


def test_timeraw_runs_fresh_interpreters(tmp_path):
    res = run(tmp_path, "Tiny", "timeraw_sleep", [1])
    assert res.status == PhaseStatus.OK
    assert len(res.samples) == 3
    assert all(0.009 <= s < 1.0 for s in res.samples)


def test_peakmem_sees_the_allocation(tmp_path):
    res = run(tmp_path, "Tiny", "peakmem_alloc", [1])
    assert res.status == PhaseStatus.OK
    assert res.unit == "bytes"
    assert res.samples[0] >= 64 * 1024 * 1024


@pytest.mark.parametrize("method, status, signame", [
    ("track_abort", "crashed", "SIGABRT"),
    ("track_segfault", "crashed", "SIGSEGV"),
])
def test_native_crash_is_recorded_with_its_signal_and_python_stack(tmp_path, method, status, signame):
    res = run(tmp_path, "Crash", method)
    assert res.status == status
    assert res.signal == signame
    assert signame in res.note
    # faulthandler is on in every worker: the Python stack of the crash is in the log tail
    assert "Fatal Python error" in res.stderr_tail
    assert method in res.stderr_tail


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("method, status, signame, cls, fatal_line", [
    ("track_segfault", "crashed", "SIGSEGV", "segfault", "Fatal Python error: Segmentation fault"),
    ("track_abort", "crashed", "SIGABRT", "abort", "Fatal Python error: Aborted"),
    ("track_sigill", "crashed", "SIGILL", "illegal-instruction", "Fatal Python error: Illegal instruction"),
    ("track_sigbus", "crashed", "SIGBUS", "segfault", "Fatal Python error: Bus error"),
    ("track_sigfpe", "crashed", "SIGFPE", "native-crash", "Fatal Python error: Floating point exception"),
    ("track_sigkill", "crashed", "SIGKILL", "host-oom", None),
    ("track_memory_error", "error", None, "host-oom", None),
    ("track_exit_three", "crashed", None, "python-error", None),
    ("track_exit_zero", "no-result", None, "python-error", None),
    ("track_raise", "error", None, "protobuf", None),
    ("track_flood_stderr", "error", None, "numpy-abi", None),
])
def test_fault_injection_is_classified(tmp_path, method, status, signame, cls, fatal_line):
    res = run(tmp_path, "Crash", method)
    assert (res.status, res.signal) == (status, signame)
    got = classify_phase(res, gpu_stack=False)
    assert got.cls == cls, got.evidence
    if fatal_line:  # faulthandler left the Python stack of the native crash
        assert fatal_line in res.stderr_tail and method in res.stderr_tail
    assert len(res.stderr_tail.encode()) <= runner.STDERR_TAIL_BYTES  # bounded, even after 5 MB of stderr
    assert res.to_json()["stderr_tail"] == res.stderr_tail


def test_one_childs_death_does_not_stop_the_next(tmp_path):
    results = [run(tmp_path, "Crash", "track_segfault"), run(tmp_path, "Tiny", "track_value", [1])]
    assert [r.status for r in results] == ["crashed", "ok"]


def test_python_exception_becomes_data(tmp_path):
    res = run(tmp_path, "Crash", "track_raise")
    assert res.status == PhaseStatus.ERROR
    assert res.exception["type"] == "ValueError"
    assert "Descriptors cannot be created directly" in res.exception["message"]
    assert "track_raise" in res.exception["traceback"]
    assert res.exit_code == 3


def test_exit_zero_without_result_is_not_success(tmp_path):
    res = run(tmp_path, "Crash", "track_exit_zero")
    assert res.status == "no-result"
    assert res.exit_code == 0


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX; Windows uses taskkill /T")
def test_timeout_kills_the_whole_process_group(tmp_path):
    t0 = time.monotonic()
    res = run(tmp_path, "Crash", "track_hang", timeout=3.0)
    assert res.status == "timeout"
    assert "after 3." in res.note and "limit 3 s" in res.note  # how long it ran
    assert classify_phase(res, gpu_stack=False).cls == "timeout"
    assert time.monotonic() - t0 < 30
    pid = int((tmp_path / "grandchild.pid").read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the grandchild outlived the timeout")


@pytest.mark.parametrize("code, text", [
    (-1073741819, "STATUS_ACCESS_VIOLATION"), (3221225477, "STATUS_ACCESS_VIOLATION"),
    (-1073740791, "STATUS_STACK_BUFFER_OVERRUN"), (0xC000001D, "STATUS_ILLEGAL_INSTRUCTION"),
    (0xC0000374, "STATUS_HEAP_CORRUPTION"),
])
def test_windows_ntstatus_exit_codes_are_decoded(code, text):
    status, note = runner.phase_status(code, False, None, windows=True)
    assert status == "crashed" and text in note and "0xC0" in note


def test_phase_status_mapping_is_total():
    ok, err = WorkerResult(), WorkerResult(status="error", exception={"type": "E", "message": "m"})
    assert runner.phase_status(0, False, ok)[0] == PhaseStatus.OK
    assert runner.phase_status(None, True, None)[0] == PhaseStatus.TIMEOUT
    assert runner.phase_status(-11, False, None, windows=False) == ("crashed", "ended by signal SIGSEGV")
    assert runner.phase_status(3, False, None, windows=True)[1] == "exit status 3 without a result file"
    assert runner.phase_status(1, False, None)[0] == PhaseStatus.CRASHED
    assert runner.phase_status(0, False, None)[0] == PhaseStatus.NO_RESULT
    assert runner.phase_status(3, False, err) == ("error", "E: m")
    assert runner.phase_status(2, False, ok)[0] == PhaseStatus.CRASHED


def test_plan_runs_cold_start_chains_and_one_warm_worker_per_model():
    matrix = load_matrix(ROOT / "matrix.yaml")
    combo = next(c for c in combinations(matrix) if c.id == "tf2.20-cpu")
    m = "retinanet-mnv2-256"
    jobs = runner.plan(combo, matrix.workload)
    # the default 5 cold starts: four chains of their own, the fifth the warm worker's start
    assert [j.name for j in jobs] == [f"export-{m}", *(f"cold-{i}-{m}" for i in range(1, 5)), f"warm-5-{m}"]
    steps = {j.name: [(s.name, s.inline) for s in j.steps] for j in jobs}
    chain = [("import", True), (f"load-{m}", True), (f"first-inference-{m}-b1", False)]
    assert steps[f"cold-1-{m}"] == [chain[0], (f"inspect-{m}", False), *chain[1:], ("probe", False)]
    assert steps[f"cold-2-{m}"] == chain
    assert steps[f"warm-5-{m}"] == chain + [(f"latency-{m}-b1", False), (f"fidelity-{m}-b1", False),
                                             (f"throughput-{m}-b4", False), (f"peakmem-{m}-b4", False)]
    # every phase of the combination is in the plan, in the order the phases depend on each other
    assert list(dict.fromkeys(s.name for s in runner.steps(jobs))) == [
        f"export-{m}", "import", f"inspect-{m}", f"load-{m}", f"first-inference-{m}-b1", "probe",
        f"latency-{m}-b1", f"fidelity-{m}-b1", f"throughput-{m}-b4", f"peakmem-{m}-b4"]
    off = [s.name for s in runner.steps(runner.plan(combo, dataclasses.replace(matrix.workload, fidelity_rounds=0)))]
    assert f"fidelity-{m}-b1" not in off


def test_isolate_phases_gives_each_phase_its_own_process_as_before():
    matrix = load_matrix(ROOT / "matrix.yaml")
    combo = next(c for c in combinations(matrix) if c.id == "tf2.20-cpu")
    jobs = runner.plan(combo, dataclasses.replace(matrix.workload, isolate_phases=True))
    assert all(len(j.steps) == 1 and j.name == j.steps[0].name and not j.steps[0].inline for j in jobs)
    assert [j.name for j in jobs] == ["probe", "import", "export-retinanet-mnv2-256", "inspect-retinanet-mnv2-256",
                                      "load-retinanet-mnv2-256", "first-inference-retinanet-mnv2-256-b1",
                                      "latency-retinanet-mnv2-256-b1", "fidelity-retinanet-mnv2-256-b1",
                                      "throughput-retinanet-mnv2-256-b4", "peakmem-retinanet-mnv2-256-b4"]


def in_worker(tmp_path: Path, w: runner.Worker, cls: str, method: str, params=(), timeout: float = 60.0,
              inline: bool = False) -> PhaseRecord:
    spec = runner.PhaseSpec("throughput", "inference", cls, method, tuple(params), "tiny", 1, inline)
    phase, _ = runner.run_phase(spec, python=sys.executable, benchmark_file=TINY, log_dir=tmp_path / "logs",
                                timeout=timeout, env=env_for_tests(tmp_path), worker=w)
    return phase


def test_a_worker_runs_its_steps_in_one_process_and_a_crash_keeps_what_came_before(tmp_path):
    w = runner.Worker(sys.executable, env_for_tests(tmp_path), tmp_path / "logs" / "warm-1-tiny.log")
    try:
        first = in_worker(tmp_path, w, "Tiny", "track_pid", [1])
        timed = in_worker(tmp_path, w, "Tiny", "time_sleep", [1])
        second = in_worker(tmp_path, w, "Tiny", "track_pid", [2])
        crash = in_worker(tmp_path, w, "Crash", "track_segfault")
        after = in_worker(tmp_path, w, "Tiny", "track_pid", [1])
    finally:
        w.close()
    assert [p.status for p in (first, timed, second, crash, after)] == ["ok", "ok", "ok", "crashed", "ok"]
    assert first.samples == second.samples and first.exit_code is None  # one process, still alive
    assert len(timed.samples) >= 5
    assert crash.signal == "SIGSEGV" and "track_segfault" in crash.stderr_tail and crash.batch == 1
    assert after.samples != first.samples  # the next step starts a fresh process
    assert {p.log for p in (first, crash, after)} == {str(tmp_path / "logs" / "warm-1-tiny.log")}
    assert first.processes == ["warm-1-tiny"]
    assert w.proc is None  # closed


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_worker_that_dies_between_steps_is_recorded_on_the_next_one(tmp_path):
    w = runner.Worker(sys.executable, env_for_tests(tmp_path), tmp_path / "logs" / "warm-1-tiny.log")
    try:
        ok = in_worker(tmp_path, w, "Tiny", "track_segfault_later", [1])
        time.sleep(1.5)  # it dies after reporting
        lost = in_worker(tmp_path, w, "Tiny", "track_value", [1])
        fresh = in_worker(tmp_path, w, "Tiny", "track_value", [1])
    finally:
        w.close()
    assert ok.status == "ok" and ok.samples == [1.0]
    assert lost.status == "crashed" and lost.signal == "SIGSEGV" and not lost.samples
    assert lost.note.startswith("not run: its worker process had already ended after the previous step")
    assert fresh.status == "ok" and fresh.samples == [42.5]  # the next step, in a fresh process


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX; Windows uses taskkill /T")
def test_each_step_has_its_own_timeout_in_a_live_worker(tmp_path):
    w = runner.Worker(sys.executable, env_for_tests(tmp_path), tmp_path / "logs" / "cold-1-tiny.log")
    try:
        ok = in_worker(tmp_path, w, "Tiny", "track_value", [1], timeout=60)
        hung = in_worker(tmp_path, w, "Crash", "track_hang", timeout=3)
    finally:
        w.close()
    assert ok.status == "ok" and ok.samples == [42.5]
    assert hung.status == "timeout" and "limit 3 s" in hung.note


def test_an_inline_timeraw_step_times_its_code_once_in_the_workers_own_process(tmp_path):
    w = runner.Worker(sys.executable, env_for_tests(tmp_path), tmp_path / "logs" / "cold-1-tiny.log")
    try:
        res = in_worker(tmp_path, w, "Tiny", "timeraw_sleep", [1], inline=True)
    finally:
        w.close()
    assert res.status == "ok" and len(res.samples) == 1 and 0.009 <= res.samples[0] < 1.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peak is reset through /proc/self/clear_refs")
def test_each_step_reports_its_own_peak_memory(tmp_path):
    w = runner.Worker(sys.executable, env_for_tests(tmp_path), tmp_path / "logs" / "warm-1-tiny.log")
    try:
        big = in_worker(tmp_path, w, "Tiny", "peakmem_alloc", [1])
        small = in_worker(tmp_path, w, "Tiny", "track_value", [1])
    finally:
        w.close()
    assert big.samples[0] >= 64 << 20
    assert small.peak_rss_bytes < big.peak_rss_bytes - (32 << 20)  # not the process's peak so far


def test_manager_modules_never_import_tensorflow():
    code = ("import sys; sys.path.insert(0, 'src'); import tfmatrix.cli, tfmatrix.sessions, tfmatrix.run.scheduling.pipeline, "
            "tfmatrix.run.execution.runner, tfmatrix.report.summary, tfmatrix.run.provisioning.install, tfmatrix.executors.dispatch; "
            "bad = [m for m in ('tensorflow', 'numpy', 'official') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cpu_children_never_see_a_gpu(tmp_path):
    matrix = load_matrix(ROOT / "matrix.yaml")
    cpu = next(c for c in combinations(matrix) if c.stack.kind == "cpu")
    assert stack_env(cpu) == {"CUDA_VISIBLE_DEVICES": ""}
    env = runner.child_env(tmp_path / "c.json", stack_env(cpu))
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["TFMATRIX_BENCH_CONFIG"].endswith("c.json")
    assert "PYTHONPATH" not in env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_its_manager_even_on_sigkill(tmp_path):
    """The manager (here a small Python parent) is SIGKILLed mid-phase: its worker must not run on."""
    import textwrap

    pidfile = tmp_path / "worker.pid"
    manager = textwrap.dedent(f"""
        import subprocess, sys, time
        code = "import os, time; from tfmatrix.worker.main import die_with_parent; " \\
               "assert die_with_parent(); open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        time.sleep(60)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    parent = subprocess.Popen([sys.executable, "-c", manager], env=env)
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.05)
    worker = int(pidfile.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and "Z" not in _proc_state(worker):
        assert time.monotonic() < deadline, "the worker outlived its manager"
        time.sleep(0.05)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "gone"


def test_gpu_stacks_see_their_gpu_in_bus_order_with_memory_growth():
    matrix = load_matrix(ROOT / "matrix.yaml")
    by_kind = {c.stack.kind: c for c in combinations(matrix, "all")}
    pip, system = by_kind["cuda-pip"], by_kind["cuda-system"]
    assert stack_env(pip) == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    env = stack_env(system, gpu=1)
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["LD_LIBRARY_PATH"].split(os.pathsep)[0] == "/usr/local/cuda/lib64"


def test_worker_samples_nvml_beside_the_measurement(tmp_path):
    """A real worker, with the explicit fake pynvml module first on its path (tests/fakes/inject/)."""
    spec = runner.PhaseSpec("latency", "inference", "Tiny", "time_sleep", (2,), "tiny", 1)
    env = env_for_tests(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "fakes" / "inject"), env.get("PYTHONPATH", "")])
    res, _ = runner.run_phase(spec, python=sys.executable, benchmark_file=TINY, log_dir=tmp_path / "logs",
                              timeout=60, env=env, telemetry=Telemetry((0,), 0.005))
    assert res.status == PhaseStatus.OK, res.note + res.stderr_tail
    tele = res.to_json()["telemetry"]
    assert tele["available"] and tele["period_s"] == 0.005
    summary = tele["gpus"]["0"]["summary"]
    assert summary["samples"] >= 3 and summary["samples"] == len(tele["gpus"]["0"]["series"]["t"])
    assert summary["memory_used_bytes"]["peak"] >= 48_000_000_000 and summary["throttled"] is True
    # without telemetry (a CPU stack), nothing is sampled
    plain, _ = runner.run_phase(spec, python=sys.executable, benchmark_file=TINY, log_dir=tmp_path / "logs2",
                                timeout=60, env=env)
    assert "telemetry" not in plain.to_json()


def test_an_import_only_plan_is_the_imports_cold_starts_the_first_with_the_probe():
    matrix = load_matrix(ROOT / "matrix.yaml")
    combo = next(c for c in combinations(matrix) if c.id == "tf2.20-cpu")
    bare = Options(import_only=True).narrow(combo)
    assert bare.models == () and bare.id == combo.id
    jobs = runner.plan(bare, dataclasses.replace(matrix.workload, import_repeats=4))
    assert [(j.name, [s.name for s in j.steps]) for j in jobs] == [
        ("cold-1", ["import", "probe"]), ("cold-2", ["import"]), ("cold-3", ["import"]), ("cold-4", ["import"])]
