"""Real nox, real uv, real TensorFlow and the real Model Garden, on a tiny configuration.

These run `nox -s bench` exactly as a user does (in a subprocess), against a
small matrix file, and check the records it writes.  They take minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from matrices import TINY_MATRIX, python_version

from tfmatrix.records.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]  # real nox, uv and TensorFlow from PyPI

@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("integration")
    (d / "tiny.yaml").write_text(TINY_MATRIX.format(python=python_version()))
    return d


def nox(workdir: Path, *args: str, profile: str = "default") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TFMATRIX_MATRIX=str(workdir / "tiny.yaml"), TFMATRIX_RESULTS=str(workdir / "results"),
               TFMATRIX_CACHE=str(workdir / "cache"), TFMATRIX_PROFILE=profile,
               TFMATRIX_REPORTS=str(workdir / "reports"))
    env.pop("TFMATRIX_RUN_ID", None)
    env.pop("TFMATRIX_ASSUME_GPU", None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
                          capture_output=True, text=True, env=env, timeout=1800)


def runs(workdir: Path) -> list[Path]:
    folder = workdir / "results"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def validate(doc: dict, kind: str) -> None:
    jsonschema.validate(doc, load_schema(kind), format_checker=jsonschema.FormatChecker())


def test_nox_lists_one_bench_session_per_combination(workdir):
    proc = nox(workdir, "-l", "--json")
    assert proc.returncode == 0, proc.stderr
    sessions = json.loads(proc.stdout)
    bench = sorted(s["session"] for s in sessions if s["name"] == "bench")
    assert bench == ["bench(tf2.20-cpu)", "bench(tf2.20-cuda-pip)", "bench(tf2.20-cuda-system)",
                     "bench(tfbad-cpu)", "bench(tfbad-cuda-pip)", "bench(tfbad-cuda-system)"]
    tags = {s["session"]: s["tags"] for s in sessions if s["name"] == "bench"}
    assert "gpu" in tags["bench(tf2.20-cuda-pip)"] and "cpu" in tags["bench(tf2.20-cpu)"]


def test_bench_records_ok_install_failed_and_gpu_skipped(workdir, host_gpus):
    proc = nox(workdir, "-s", "bench")
    out = proc.stdout + proc.stderr
    # one combination failed to install, so nox reports failure -- but every other one ran
    assert proc.returncode == 1, out
    (run,) = runs(workdir)
    records = {p.stem: json.loads(p.read_text()) for p in run.glob("*.json") if p.name != "run.json"}
    assert set(records) == {"tf2.20-cpu", "tfbad-cpu", "tf2.20-cuda-pip", "tfbad-cuda-pip",
                            "tf2.20-cuda-system", "tfbad-cuda-system"}
    for doc in records.values():
        validate(doc, "combination")
    run_doc = json.loads((run / "run.json").read_text())
    validate(run_doc, "run")
    assert run_doc["ended_at"]  # the summary session closed the run
    # tf2.20-cpu's warm worker waited for the interleave session: pending, then replaced in place by its ending
    assert not [r["combination"]["id"] for r in records.values() if r["status"] in ("interrupted", "pending")]
    assert not (run / "attempts").exists() and run_doc["interruptions"] == []
    assert "cold starts measured; its warm phases are measured in the interleave session" in out
    assert run_doc["matrix"]["path"].endswith("tiny.yaml")

    bad = records["tfbad-cpu"]
    assert bad["status"] == "install-failed"
    assert "No solution found" in bad["install"]["error"]
    assert bad["install"]["failed_step"] == "resolve"
    assert bad["phases"] == []
    assert bad["failure"]["class"] == "resolver-conflict"  # uv's cause, not its first line, is the evidence
    assert "tf-models-official==2.15.0 depends on tensorflow" in bad["failure"]["evidence"]
    assert bad["failure"]["culprit"] == "cannot tell"  # two pins of the matrix exclude each other: no guess

    for gpu_id in ("tf2.20-cuda-pip", "tf2.20-cuda-system", "tfbad-cuda-pip", "tfbad-cuda-system"):
        gpu = records[gpu_id]
        if host_gpus:  # a GPU host: its GPU stacks were tried, not skipped for want of a GPU
            assert "no NVIDIA GPU visible" not in (gpu["reason"] or ""), gpu["reason"]
            continue
        assert gpu["status"] == "skipped"
        assert "no NVIDIA GPU visible" in gpu["reason"]
        assert gpu["phases"] == [] and gpu["install"] is None  # never timed on the CPU as if on a GPU

    ok = records["tf2.20-cpu"]
    assert ok["status"] == "ok", ok["reason"]
    assert ok["install"]["ok"] and ok["install"]["compile_bytecode"] and ok["install"]["check"]["ok"]
    assert "tensorflow==2.20.0" in ok["resolved_pins"]
    assert ok["environment"]["tensorflow"]["version"] == "2.20.0"
    assert ok["environment"]["devices"]["physical"][0]["type"] == "CPU"
    phases = {p["name"]: p for p in ok["phases"]}
    assert set(phases) == {"probe", "import", "export-retinanet-mnv2-128", "inspect-retinanet-mnv2-128",
                           "load-retinanet-mnv2-128", "first-inference-retinanet-mnv2-128-b1",
                           "latency-retinanet-mnv2-128-b1", "fidelity-retinanet-mnv2-128-b1",
                           "throughput-retinanet-mnv2-128-b2", "peakmem-retinanet-mnv2-128-b2"}
    # two cold starts (import, load, first inference each), the last going on as the warm worker
    chains = ["cold-1-retinanet-mnv2-128", "warm-2-retinanet-mnv2-128"]
    for name in ("import", "load-retinanet-mnv2-128", "first-inference-retinanet-mnv2-128-b1"):
        assert phases[name]["processes"] == chains and len(phases[name]["samples"]) == 2, name
    assert phases["probe"]["processes"] == chains[:1] and phases["export-retinanet-mnv2-128"]["processes"] == [
        "export-retinanet-mnv2-128"]
    for name in ("latency-retinanet-mnv2-128-b1", "throughput-retinanet-mnv2-128-b2"):
        assert phases[name]["processes"] == chains[1:] and phases[name]["peak_rss_bytes"] > 100 * 2**20
    assert all((run / "logs" / "tf2.20-cpu" / f"{c}.log").exists() for c in chains)
    ratios = phases["fidelity-retinanet-mnv2-128-b1"]["extra"]["ratios"]
    assert len(ratios) == 10 and all(0.2 < r < 5 for r in ratios)  # the timed call against a bare one
    inspected = phases["inspect-retinanet-mnv2-128"]["extra"]["saved_model"]
    assert inspected["tensorflow_version"] == "2.20.0" and inspected["unknown_ops"] == []
    assert inspected["input"]["name"] == "inputs" and inspected["input"]["fixed_batch"] is None
    assert ok["producers"][0]["source"] == "own" and ok["producers"][0]["relation"] == "same"
    assert all(p["status"] == "ok" for p in phases.values())
    assert len(phases["import"]["samples"]) == 2
    assert len(phases["load-retinanet-mnv2-128"]["samples"]) == 2
    lat = phases["latency-retinanet-mnv2-128-b1"]
    assert lat["summary"]["n"] >= 5 and sum(lat["samples"]) >= 0.5
    assert 0 < lat["summary"]["p50"] <= lat["summary"]["p90"] <= lat["summary"]["p99"]
    thr = phases["throughput-retinanet-mnv2-128-b2"]
    assert thr["throughput_ips"] == pytest.approx(2 / thr["summary"]["median"])
    first = phases["first-inference-retinanet-mnv2-128-b1"]
    det = first["extra"]["detections"]
    assert len(det["images"]) == 1 and len(det["sha256"]) == 64
    assert det["images"][0]["num_detections"] > 0
    assert len(first["extra"]["weights_sha256"]) == 64  # what makes drift between combinations comparable
    assert phases["peakmem-retinanet-mnv2-128-b2"]["samples"][0] > 100 * 2**20

    # the summary table ends the run
    assert "tfmatrix run " + run.name in out
    assert "install-failed" in out and "skipped" in out


def test_second_run_reuses_the_venv_and_the_export(workdir):
    proc = nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--quick")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    newest = runs(workdir)[-1]
    doc = json.loads((newest / "tf2.20-cpu.json").read_text())
    validate(doc, "combination")
    assert doc["install"]["reused"] is True
    export = next(p for p in doc["phases"] if p["phase"] == "export")
    assert export["status"] == "cached"
    assert export["cached_from"]["run_id"] == runs(workdir)[0].name
    assert doc["quick"] is True and doc["status"] == "ok"
    # identical inputs and identical detections across the two runs of one combination
    first_runs = [json.loads((r / "tf2.20-cpu.json").read_text()) for r in runs(workdir)]
    digests = {next(p for p in d["phases"] if p["phase"] == "first-inference")["extra"]["detections"]["sha256"]
               for d in first_runs}
    assert len(digests) == 1


def test_forcing_a_gpu_stack_onto_a_cpu_machine_records_no_gpu_and_no_timings(workdir, gpu_less_host):
    """--assume-gpu on a machine without one: TensorFlow really runs, finds no GPU, no timing is kept."""
    proc = nox(workdir, "-s", "bench(tf2.20-cuda-system)", "--", "--assume-gpu", "--quick")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    newest = runs(workdir)[-1]
    doc = json.loads((newest / "tf2.20-cuda-system.json").read_text())
    validate(doc, "combination")
    assert doc["status"] == "failed"
    assert doc["reason"].startswith("no-gpu:")
    by_phase = {p["phase"]: p for p in doc["phases"]}
    assert by_phase["probe"]["status"] == "ok"  # at the end of the first cold start
    assert [d["type"] for d in doc["environment"]["devices"]["physical"]] == ["CPU"]
    timed = [p for p in doc["phases"] if p["phase"] not in ("probe", "inspect")]
    assert timed and all(p["status"] == "skipped" and p["samples"] == [] for p in timed)
    dropped = [p for p in timed if p["note"].startswith("measured on the CPU, not recorded: no-gpu")]
    assert {p["phase"] for p in dropped} >= {"import", "load", "first-inference"}  # the first cold start's


def test_known_bad_combinations_fail_as_expected_for_real(workdir):
    """TF 2.15 with NumPy 2 forced in cannot import; with protobuf 7 it runs but prints errors."""
    proc = nox(workdir, "-s", "bench", "--", "--quick", profile="known-bad")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]  # expected failures do not fail the session
    newest = runs(workdir)[-1]
    np2 = json.loads((newest / "tf2.15-numpy2-cpu.json").read_text())
    pb7 = json.loads((newest / "tf2.15-protobuf7-cpu.json").read_text())
    for doc in (np2, pb7):
        validate(doc, "combination")
        assert doc["outcome"] == "expected-failure"
    assert "numpy==2." in " ".join(np2["resolved_pins"])
    assert np2["status"] == "failed" and np2["failure"]["class"] == "numpy-abi"
    assert "compiled using NumPy 1.x" in np2["failure"]["evidence"]
    assert "numpy 2." in np2["failure"]["fix"] and "→ >=1.23.5,<2.0.0 (tensorflow 2.15.1 requires" in np2["failure"]["fix"]
    assert np2["failure"]["fix"].endswith("not yet verified: `nox -s fix -- tf2.15-numpy2-cpu`")  # computed
    imp = next(p for p in np2["phases"] if p["phase"] == "import")
    assert imp["status"] == "error" and imp["failure"]["class"] == "numpy-abi"
    assert any("protobuf==7." in p for p in pb7["resolved_pins"])
    assert pb7["status"] == "degraded" and pb7["failure"]["class"] == "degraded"
    assert "GetPrototype" in pb7["failure"]["evidence"]
    assert pb7["install"]["check"]["ok"] is False  # pip check sees the forced conflict, recorded
    assert all(p["status"] in ("ok", "cached") for p in pb7["phases"])
    assert "expected-failure (numpy-abi)" in out and "expected-failure (degraded)" in out


def test_doctor_gives_the_honest_cpu_only_answer(workdir, gpu_less_host):
    proc = nox(workdir, "-s", "doctor")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "TensorFlow      2.20.0" in out
    assert "verdict: CPU only" in out
    assert "ERROR" not in out


@pytest.mark.browser
def test_report_from_the_real_runs_renders_in_chromium(workdir):
    """`nox -s report` after `nox -s bench`: the page of the first (full) run, opened in a real browser."""
    from browser import chromium, visit

    first = runs(workdir)[0].name
    proc = nox(workdir, "-s", "report", "--", first)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page_path = workdir / "reports" / first / "index.html"
    index = (workdir / "reports" / "index.html").read_text()
    assert f'href="{first}/index.html"' in index
    with chromium() as browser:
        v = visit(browser, page_path)
        grid = v.page.locator("table.grid")
        assert grid.locator(".badge.ok").count() == 1  # tf2.20-cpu
        assert grid.locator(".badge.install-failed").count() == 1  # tfbad-cpu
        assert grid.locator(".badge.skipped").count() == 4
        assert v.page.locator("table.timing tbody tr").count() == 1
        assert v.page.locator("figure.plot img").count() == 4
        widths = v.page.eval_on_selector_all("figure.plot img", "els => els.map(e => e.naturalWidth)")
        assert all(w > 100 for w in widths)
        assert "No solution found" in v.page.locator("#c-tfbad-cpu").inner_text()
        assert v.errors == [], v.console


# --- interrupts, resume, SIGKILL (issue 5): the real nox, the real TensorFlow, real signals

import signal  # noqa: E402
import time  # noqa: E402


def as_a_terminal_starts_it() -> None:
    """A terminal's foreground job starts with SIGINT and SIGTERM at their defaults.  A job that a shell without
    job control put in the background (``nohup nox -s tests &``) inherits SIGINT ignored, and Python keeps an
    inherited SIG_IGN: the signals these tests send would then reach processes that ignore them (issue 18)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def ignored_signals(pid: int) -> set[signal.Signals]:
    """The signals process ``pid`` ignores (its ``SigIgn`` mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
    return {s for s in signal.Signals if mask >> (s.value - 1) & 1}


def start_nox(workdir: Path, *args: str, cache: Path | None = None) -> tuple[subprocess.Popen, Path]:
    """nox in its own process group, as a terminal runs it; its output goes to a file we can poll."""
    env = dict(os.environ, TFMATRIX_MATRIX=str(workdir / "tiny.yaml"), TFMATRIX_RESULTS=str(workdir / "results"),
               TFMATRIX_CACHE=str(cache or workdir / "cache"), TFMATRIX_REPORTS=str(workdir / "reports"))
    env.pop("TFMATRIX_RUN_ID", None)
    log = workdir / f"nox-{time.monotonic_ns()}.log"
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args], stdout=out,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True,
                            preexec_fn=as_a_terminal_starts_it)
    out.close()
    # the precondition of every signal these tests send, checked on the started process itself
    assert not ignored_signals(proc.pid) & {signal.SIGINT, signal.SIGTERM}, ignored_signals(proc.pid)
    return proc, log


def wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"nox ended before {text!r}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in time:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def workers_of(workdir: Path) -> list[int]:
    """Live tfmatrix workers whose environment points into this test's folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"tfmatrix.worker" in cmd and str(workdir).encode() in env and state != "Z":
            found.append(int(proc.name))
    return found


def newest_run(workdir: Path) -> Path:
    return runs(workdir)[-1]


def test_ctrl_c_keeps_what_was_measured_and_resume_finishes_the_run(workdir):
    proc, log = start_nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--quick")
    wait_for(log, "tf2.20-cpu: load-retinanet-mnv2-128", proc)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the foreground process group
    assert proc.wait(timeout=120) == 130, log.read_text()[-3000:]
    run = newest_run(workdir)
    doc = json.loads((run / "tf2.20-cpu.json").read_text())
    validate(doc, "combination")
    assert doc["status"] == doc["outcome"] == "interrupted"
    assert "interrupted by SIGINT during load-retinanet-mnv2-128" in doc["reason"]
    phases = {p["name"]: p for p in doc["phases"]}
    assert phases["import"]["status"] == "ok" and phases["import"]["samples"]  # measured before: kept
    assert phases["load-retinanet-mnv2-128"]["status"] == "interrupted"
    info = json.loads((run / "run.json").read_text())
    validate(info, "run")
    assert [(i["signal"], i["combination"]) for i in info["interruptions"]] == [("SIGINT", "tf2.20-cpu")]
    assert info["ended_at"] is None
    time.sleep(0.5)
    assert workers_of(workdir) == []  # the phase's worker was stopped with its process group

    proc = nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--resume", "--quick")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert newest_run(workdir) == run  # no new run folder: the same run was finished
    doc = json.loads((run / "tf2.20-cpu.json").read_text())
    assert doc["status"] == "ok" and all(p["status"] in ("ok", "cached") for p in doc["phases"])
    kept = json.loads((run / "attempts" / "tf2.20-cpu.1.json").read_text())
    assert kept["status"] == "interrupted" and kept["phases"][1]["samples"]  # the interrupted attempt is kept
    info = json.loads((run / "run.json").read_text())
    validate(info, "run")
    assert len(info["resumptions"]) == 1 and info["ended_at"]
    # resuming again runs nothing: every combination of the run is done
    proc = nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--resume", run.name, "--quick")
    assert proc.returncode == 0 and "already recorded in run" in proc.stdout + proc.stderr


def test_sigterm_is_recorded_like_ctrl_c(workdir):
    proc, log = start_nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--quick")
    wait_for(log, "tf2.20-cpu: import (", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)  # to nox alone, as a batch system or `kill` does
    assert proc.wait(timeout=120) == 130, log.read_text()[-3000:]
    doc = json.loads((newest_run(workdir) / "tf2.20-cpu.json").read_text())
    assert doc["status"] == "interrupted" and "by SIGTERM during import" in doc["reason"]
    by_name = {p["name"]: p for p in doc["phases"]}
    assert by_name["export-retinanet-mnv2-128"]["status"] in ("ok", "cached")  # done before: kept
    assert by_name["import"]["status"] == "interrupted" and by_name["import"]["log"].endswith("cold-1-"
                                                                                             "retinanet-mnv2-128.log")
    time.sleep(0.5)
    assert workers_of(workdir) == []


def test_sigkill_leaves_no_partial_record_and_resume_still_works(workdir):
    proc, log = start_nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--quick")
    wait_for(log, "tf2.20-cpu: load-retinanet-mnv2-128", proc)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)  # nothing can be caught: no record, no cleanup
    proc.wait(timeout=60)
    run = newest_run(workdir)
    assert not (run / "tf2.20-cpu.json").exists()
    for p in run.rglob("*.json"):
        json.loads(p.read_text())  # whatever is there is whole
    deadline = time.monotonic() + 10
    while workers_of(workdir):  # the worker dies with its manager (PR_SET_PDEATHSIG), not at its timeout
        assert time.monotonic() < deadline, "a worker outlived the SIGKILLed manager"
        time.sleep(0.2)
    proc = nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--resume", run.name, "--quick")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((run / "tf2.20-cpu.json").read_text())
    validate(doc, "combination")
    assert doc["status"] == "ok"


def test_two_runs_at_once_use_their_own_folders_and_build_the_export_once(workdir, tmp_path):
    """Two `nox -s bench` started together on one machine, with an empty export cache."""
    cache = tmp_path / "fresh-cache"
    before = set(runs(workdir))
    procs = [start_nox(workdir, "-s", "bench(tf2.20-cpu)", "--", "--quick", cache=cache) for _ in range(2)]
    for proc, log in procs:
        assert proc.wait(timeout=1200) == 0, log.read_text()[-3000:]
    new = sorted(set(runs(workdir)) - before)
    assert len(new) == 2  # distinct run folders
    docs = [json.loads((r / "tf2.20-cpu.json").read_text()) for r in new]
    assert [d["status"] for d in docs] == ["ok", "ok"]
    exports = sorted(next(p for p in d["phases"] if p["phase"] == "export")["status"] for d in docs)
    assert exports == ["cached", "ok"]  # built once; the other run waited for the venv, then reused it
    assert len(list((cache / "exports" / "tf2.20-cpu").iterdir())) == 1
    logs = "".join(log.read_text() for _, log in procs)
    assert "waiting for another run that is using bench-tf2-20-cpu" in logs


def test_force_gpu_stacks_installs_the_cuda_wheels_and_records_the_cpu_fallback(workdir, gpu_less_host):
    """--force-gpu-stacks on this GPU-less machine: tensorflow[and-cuda] really installs, TF really looks for
    the GPU, and the combination is recorded as no-gpu with TensorFlow's own words, and nothing is timed."""
    proc = nox(workdir, "-s", "bench(tf2.20-cuda-pip)", "--", "--force-gpu-stacks", "--quick")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((newest_run(workdir) / "tf2.20-cuda-pip.json").read_text())
    validate(doc, "combination")
    assert doc["status"] == "failed" and doc["failure"]["class"] == "no-gpu"
    assert "TensorFlow said: " in doc["failure"]["evidence"] and "cuInit" in doc["failure"]["evidence"]
    wheels = doc["environment"]["nvidia_wheels"]
    assert wheels["nvidia-cudnn-cu12"].startswith("9.") and wheels["nvidia-cuda-runtime-cu12"].startswith("12.")
    loaded = {lib["name"]: lib for lib in doc["environment"]["loaded_libraries"]}
    assert "nvidia/cuda_runtime" in loaded["libcudart"]["path"]  # the wheel's runtime, really loaded
    assert doc["environment"]["tensorflow"]["build_info"]["cuda_version"] == "12.5.1"  # built vs 12.9 resolved
    timed = [p for p in doc["phases"] if p["phase"] not in ("probe", "inspect")]
    assert timed and all(p["status"] == "skipped" and p["samples"] == [] for p in timed)
