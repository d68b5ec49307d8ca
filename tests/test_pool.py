"""The ``--gpus`` pool and the dispatch around it, on a FAKE multi-GPU box.

The launcher here is a test double that plays a combination's nox session: it
writes the record a session would write, and logs when it started and ended, so
the scheduling rules can be checked: every install before any timing, at most one
combination per GPU at a time, CPU combinations alone, hardware respected, and a
session that leaves no record recorded as failed.  (The real launcher, real nox
children and real TensorFlow are in test_integration_scaleout.)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from fakes.fake_pynvml import A100_40GB, H100_80GB
from real_runs import QUIET_A, typed_records

from tfmatrix.errors import TfmatrixError
from tfmatrix.executors import dispatch
from tfmatrix.executors.pool import run_pool
from tfmatrix.matrix.model import Combination
from tfmatrix.records.model import CombinationInfo, Placement
from tfmatrix.records.status import Outcome, Status
from tfmatrix.records.store import RunDir
from tfmatrix.run.execution.host import GpuInfo
from tfmatrix.run.noxside import options
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.noxside.options import parse as parse_options
from tfmatrix.run.provisioning.ahead import NoxLauncher

GPUS = [GpuInfo(0, H100_80GB[0], "nvml", H100_80GB[1], "GPU-0"), GpuInfo(1, A100_40GB[0], "nvml", A100_40GB[1], "GPU-1"),
        GpuInfo(2, H100_80GB[0], "nvml", H100_80GB[1], "GPU-2")]


class PlayedSessions:
    """FAKE launcher: what each nox child would do, with timestamps (no nox, no TensorFlow)."""

    def __init__(self, run: RunDir, seconds: float = 0.05, install_fails: set[str] = frozenset(),
                 leaves_no_record: set[str] = frozenset()) -> None:
        self.run, self.seconds, self.install_fails, self.leaves_no_record = run, seconds, install_fails, leaves_no_record
        self.events: list[tuple[str, str, int | None, float, float]] = []
        self.lock = threading.Lock()
        self.template = typed_records(QUIET_A)["tf2.20-cpu"]

    def __call__(self, combo: Combination, stage: str, gpu: int | None) -> int:
        t0 = time.monotonic()
        time.sleep(self.seconds)
        rc = 0
        if combo.id in self.leaves_no_record and stage == "measure":
            rc = -9
        elif stage == "measure" or combo.id in self.install_fails:
            rec = dataclasses.replace(self.template, combination=CombinationInfo.of(combo), run_id=self.run.run_id,
                                      placement=Placement("gpus", gpu_index=gpu))
            if stage == "install":
                rec = dataclasses.replace(rec, status=Status.INSTALL_FAILED, outcome=Outcome.INSTALL_FAILED, phases=[])
            self.run.write_record(rec)
        with self.lock:
            self.events.append((combo.id, stage, gpu, t0, time.monotonic()))
        return rc


def test_installs_first_then_cpu_alone_then_one_combination_per_gpu(run_with):
    combos, run = run_with(stack_hw={"gpu_type": "H100"})
    played = PlayedSessions(run)
    said: list[str] = []
    run_pool(run, combos, Options(gpus=(0, 1, 2)), GPUS, played, said.append, driver="550.54.15")
    ev = played.events
    installs = [e for e in ev if e[1] == "install"]
    measures = [e for e in ev if e[1] == "measure"]
    assert len(installs) == len(combos) and len(measures) == len(combos)
    assert max(e[4] for e in installs) <= min(e[3] for e in measures)  # nothing installs beside a timing
    for a in measures:
        for b in measures:
            if a is not b and a[2] == b[2] and a[2] is not None:
                assert a[4] <= b[3] or b[4] <= a[3], (a, b)  # one combination per GPU at a time
        if a[2] is None:  # a CPU combination: nothing else was being timed meanwhile
            assert all(b is a or b[4] <= a[3] or b[3] >= a[4] for b in measures)
    by_id = {c.id: c for c in combos}
    for cid, _stage, gpu, *_ in measures:
        if by_id[cid].stack.id == "cuda-pip":  # needs H100: GPU 0 or 2, never the A100
            assert gpu in (0, 2)
        elif by_id[cid].needs_gpu:
            assert gpu in (0, 1, 2)
        else:
            assert gpu is None
    gpu_runs = [e for e in measures if e[2] is not None]
    overlap = any(a[2] != b[2] and a[3] < b[4] and b[3] < a[4] for a in gpu_runs for b in gpu_runs)
    assert overlap  # GPUs really did run side by side
    assert all(run.existing_record(c.id).status == Status.OK for c in combos)
    assert said[0].startswith("tfmatrix: installing 6 combination(s) ahead, 1 at a time")
    assert max(sum(b[3] <= a[3] < b[4] for b in installs) for a in installs) == 1  # its exports are timed


def test_no_matching_gpu_in_the_pool_is_recorded_skipped_without_running(run_with):
    combos, run = run_with(stack_hw={"gpu_type": "L4"})
    played = PlayedSessions(run, seconds=0)
    run_pool(run, combos, Options(gpus=(0, 1)), GPUS[:2], played, lambda s: None, driver="550.54.15")
    rec = run.existing_record("tf2.20-cuda-pip")
    assert rec.status == Status.SKIPPED and rec.placement.executor == "gpus"
    assert rec.reason.startswith("no matching hardware: needs a L4 GPU; in --gpus 0,1, GPU 0 is")
    assert not any(e[0] == "tf2.20-cuda-pip" for e in played.events)


def test_install_failures_stop_there_and_a_session_without_a_record_is_recorded_failed(run_with):
    combos, run = run_with()
    played = PlayedSessions(run, seconds=0, install_fails={"tf2.15-cpu"}, leaves_no_record={"tf2.20-cuda-pip"})
    log = run.log_dir("tf2.20-cuda-pip") / "nox-measure.log"
    log.parent.mkdir(parents=True)
    log.write_text("nox > Running session bench(tf2.20-cuda-pip)\nKilled\n")
    run_pool(run, combos, Options(gpus=(0, 1)), GPUS[:2], played, lambda s: None, driver="550.54.15")
    assert not any(e[0] == "tf2.15-cpu" and e[1] == "measure" for e in played.events)
    assert run.existing_record("tf2.15-cpu").status == Status.INSTALL_FAILED
    lost = run.existing_record("tf2.20-cuda-pip")
    assert lost.status == Status.FAILED and "exit status -9 without writing a record" in lost.reason
    assert str(log) in lost.reason and lost.failure.cls and lost.failure.evidence


def test_the_nox_child_command_is_an_argument_list_with_the_stage_and_gpu(run_with):
    combos, run = run_with()
    launcher = NoxLauncher(root=Path("/repo"), run=run, profile="default", posargs=["--quick", "--models", "m; rm"],
                           python="/py")
    assert launcher.argv(combos[1], "measure", 3) == [
        "/py", "-m", "nox", "-f", "/repo/noxfile.py", "-s", f"bench({combos[1].id})", "--", "--quick", "--models",
        "m; rm", "--stage", "measure", "--placed-by", "gpus", "--gpu", "3"]


def test_dispatch_mode_and_the_options_a_child_gets():
    opts = parse_options(["--gpus", "0,1", "--quick"])
    assert dispatch.mode(opts, GPUS) == "gpus"
    assert dispatch.mode(opts, []) is None  # a CPU machine: one at a time (the session says so)
    assert dispatch.mode(parse_options(["--gpus", "1"]), GPUS) is None
    assert parse_options(["--gpus", "1"]).gpu == 1  # one GPU: --gpu 1
    assert dispatch.mode(parse_options(["--executor", "ray"]), []) == "ray"
    with pytest.raises(TfmatrixError, match=r"--gpus: got 0,7; this host has GPUs 0,1,2 \(no 7\)"):
        dispatch.mode(parse_options(["--gpus", "0,7"]), GPUS)
    assert options.child_posargs(["--gpus", "0,1", "--quick", "--shard=1/2", "--executor", "ray",
                                   "--address=h:6379", "--models", "a"]) == ["--quick", "--models", "a"]


@pytest.mark.parametrize("posargs,message", [
    (["--gpus", "0,0"], "--gpus: got '0,0'; expected distinct GPU indices"),
    (["--gpus", "a"], "--gpus: got 'a'"),
    (["--executor", "slurm"], "--executor: got 'slurm'; expected local or ray"),
    (["--gpus", "0,1", "--resume"], "--resume: not with --executor ray or --gpus"),
    (["--executor", "ray", "--gpus", "0"], "--gpus: not with --executor ray"),
    (["--stage", "x"], "set by tfmatrix's own executors"),
])
def test_bad_scale_out_options_are_one_line(posargs, message):
    with pytest.raises(TfmatrixError) as err:
        parse_options(posargs)
    assert message in err.value.one_line()


def test_an_interrupt_stops_the_running_children_and_starts_no_more(run_with):
    combos, run = run_with()

    class Interrupted(PlayedSessions):
        stopped = False

        def __call__(self, combo, stage, gpu):
            if stage == "measure":
                raise KeyboardInterrupt  # Ctrl-C while the first timed session runs
            return super().__call__(combo, stage, gpu)

        def stop(self):
            self.stopped = True

    played = Interrupted(run, seconds=0)
    with pytest.raises(KeyboardInterrupt):
        run_pool(run, combos, Options(gpus=(0, 1)), GPUS[:2], played, lambda s: None, driver="550.54.15")
    assert played.stopped and all(e[1] == "install" for e in played.events)


def test_the_noxfile_reads_only_the_dispatch_options_and_leaves_other_sessions_posargs_alone():
    assert dispatch.mode_from_argv(["nox", "-s", "summary", "--", "20261129T000000Z-000000"]) is None
    assert dispatch.mode_from_argv(["nox", "-s", "merge", "--", "a/results", "b/results"]) is None
    assert dispatch.mode_from_argv(["nox", "-s", "bench", "--", "--executor", "ray", "--address", "h:1"]) == "ray"
    assert dispatch.mode_from_argv(["nox", "-s", "bench", "--", "--gpus", "0,0"]) is None  # the session says why
    assert dispatch.mode_from_argv(["nox", "-s", "bench"]) is None
