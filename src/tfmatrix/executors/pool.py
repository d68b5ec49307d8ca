"""``--gpus 0,1,2,3``: one combination per GPU at a time, on this machine.

1. **Install ahead.**  Every combination's session runs with ``--stage install``,
   one after another, before anything is timed: no install competes with a
   timed phase on another GPU.  A combination that is skipped (no matching GPU
   in the pool) or fails to install is recorded there and then.
2. **CPU combinations**, one at a time, with nothing else running.
3. **GPU combinations**: one worker thread per GPU takes the next combination that
   GPU satisfies (matrix ``hardware``) and runs its session with ``--stage measure
   --gpu N``: its benchmark processes see only that GPU (``CUDA_VISIBLE_DEVICES``,
   PCI bus order), it holds that GPU's lease, and its record says ``gpu_index: N``.

A session that ends without writing its record (killed, say) is recorded by the
pool as failed, with the tail of its output: nothing goes missing silently.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

from ..diagnosis.classify import classify_failure
from ..matrix.model import Combination
from ..records.status import PhaseStatus, Status
from ..records.store import RESULTS_ENV, RUN_ID_ENV, RunDir
from ..run import placement
from ..run.context import PROFILE_ENV
from ..run.host import GpuInfo, driver_version
from ..run.options import Options
from ..run.pipeline import record_by_driver


class Launcher(Protocol):
    def __call__(self, combo: Combination, stage: str, gpu: int | None) -> int: ...


@dataclass
class NoxLauncher:
    """Runs ``nox -s "bench(<id>)" -- ... --stage STAGE [--gpu N]``; its output goes to the run's logs."""

    root: Path
    run: RunDir
    profile: str
    posargs: Sequence[str]
    python: str
    children: list[subprocess.Popen] = field(default_factory=list)

    def argv(self, combo: Combination, stage: str, gpu: int | None) -> list[str]:
        return [self.python, "-m", "nox", "-f", str(self.root / "noxfile.py"), "-s", f"bench({combo.id})", "--",
                *self.posargs, "--stage", stage, "--placed-by", "gpus", *(["--gpu", str(gpu)] if gpu is not None else [])]

    def __call__(self, combo: Combination, stage: str, gpu: int | None) -> int:
        log = self.run.log_dir(combo.id) / f"nox-{stage}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **{RUN_ID_ENV: self.run.run_id, RESULTS_ENV: str(self.run.path.parent),
                                  PROFILE_ENV: self.profile})
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(self.argv(combo, stage, gpu), cwd=self.root, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.children.append(proc)
            return proc.wait()

    def stop(self) -> None:
        """Ctrl-C / SIGTERM in the driver: SIGTERM each running child, which records its combination
        as interrupted (as a plain run does), then wait for them."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()


def run_pool(run: RunDir, combos: Sequence[Combination], opts: Options, gpus: Sequence[GpuInfo],
             launch: Launcher, say: Callable[[str], object], driver: str | None = None) -> None:
    stopping = threading.Event()
    try:
        _run_pool(run, combos, opts, gpus, launch, say, driver if driver is not None else driver_version(), stopping)
    except BaseException:
        stopping.set()  # no new child starts; the running ones are stopped and record it
        stop = getattr(launch, "stop", None)
        if stop is not None:
            stop()
        raise


def _run_pool(run: RunDir, combos: Sequence[Combination], opts: Options, gpus: Sequence[GpuInfo],
              launch: Launcher, say: Callable[[str], object], driver: str | None, stopping: threading.Event) -> None:
    pool_ids = ",".join(str(g.index) for g in gpus)
    say(f"tfmatrix: --gpus {pool_ids}: installing {len(combos)} combinations ahead, one at a time")
    cpu: list[Combination] = []
    gpu_work: list[tuple[Combination, list[int]]] = []
    for combo in combos:
        eligible = [g.index for g in placement.matching(combo.hardware, gpus, driver)] if combo.needs_gpu else []
        if combo.needs_gpu and not eligible:
            reason = placement.unmet(combo.hardware, gpus, driver, where=f"in --gpus {pool_ids},")
            record_by_driver(run, combo, opts, "gpus", Status.SKIPPED, reason)
            say(f"tfmatrix: {combo.id}: skipped - {reason}")
            continue
        exit_code = launch(combo, "install", eligible[0] if eligible else None)
        if run.record_path(combo.id).exists():  # skipped, or failed to install: recorded by its session
            continue
        if exit_code != 0:
            _no_record(run, combo, opts, "install", exit_code)
            continue
        (gpu_work.append((combo, eligible)) if combo.needs_gpu else cpu.append(combo))
    for combo in cpu:  # alone: a CPU timing beside anything else would be a timing of both
        say(f"tfmatrix: {combo.id}: measuring (CPU, nothing else running)")
        _measured(run, combo, opts, launch(combo, "measure", None))
    lock = threading.Lock()

    def worker(index: int) -> None:
        while True:
            with lock:
                job = next((w for w in gpu_work if index in w[1]), None)
                if job is None or stopping.is_set():
                    return
                gpu_work.remove(job)
            say(f"tfmatrix: {job[0].id}: measuring on GPU {index}")
            _measured(run, job[0], opts, launch(job[0], "measure", index))

    threads = [threading.Thread(target=worker, args=(g.index,), name=f"tfmatrix-gpu{g.index}", daemon=True)
               for g in gpus]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _measured(run: RunDir, combo: Combination, opts: Options, exit_code: int) -> None:
    if not run.record_path(combo.id).exists():
        _no_record(run, combo, opts, "measure", exit_code)


def _no_record(run: RunDir, combo: Combination, opts: Options, stage: str, exit_code: int) -> None:
    log = run.log_dir(combo.id) / f"nox-{stage}.log"
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]) if log.exists() else ""
    failure = classify_failure(status=PhaseStatus.ERROR, text=tail, gpu_stack=combo.needs_gpu)
    record_by_driver(run, combo, opts, "gpus", Status.FAILED,
                     f"its nox session ({stage}) ended with exit status {exit_code} without writing a record; "
                     f"see {log}", failure)
