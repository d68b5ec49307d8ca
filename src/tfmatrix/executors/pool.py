"""``--gpus 0,1,2,3``: one combination per GPU at a time, on this machine.

1. **Install ahead** (:mod:`tfmatrix.run.provisioning.ahead`, the stage a plain bench run of
   several combinations shares).  Every combination's session runs with
   ``--stage install``, one at a time (here it also makes the shared exports, a
   timed phase; the combinations that export for others go first, so those
   exports are made in their own venvs), before anything is timed: no install
   competes with a timed phase on another GPU.  A combination that is skipped (no matching GPU in the
   pool) or fails to install is recorded there and then.
2. **CPU combinations**, one at a time, with nothing else running.
3. **GPU combinations**: one worker thread per GPU takes the next combination that
   GPU satisfies (matrix ``hardware``) and runs its session with ``--stage measure
   --gpu N``: its benchmark processes see only that GPU (``CUDA_VISIBLE_DEVICES``,
   PCI bus order), it holds that GPU's lease, and its record says ``gpu_index: N``.

A session that ends without writing its record (killed, say) is recorded by the
pool as failed, with the tail of its output: nothing goes missing silently.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

from ..diagnosis.classify import classify_failure
from ..matrix.model import Combination
from ..records.status import PhaseStatus, Status
from ..records.store import RunDir
from ..run.execution import placement
from ..run.execution.host import GpuInfo, driver_version
from ..run.noxside.endings import record_by_driver
from ..run.noxside.options import Options
from ..run.provisioning import exports
from ..run.provisioning.ahead import Launcher, install_all


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
    cpu: list[Combination] = []
    gpu_work: list[tuple[Combination, list[int]]] = []
    placed: list[tuple[Combination, list[int]]] = []
    for combo in combos:
        eligible = [g.index for g in placement.matching(combo.hardware, gpus, driver)] if combo.needs_gpu else []
        if combo.needs_gpu and not eligible:
            reason = placement.unmet(combo.hardware, gpus, driver, where=f"in --gpus {pool_ids},")
            record_by_driver(run, combo, opts, "gpus", Status.SKIPPED, reason)
            say(f"tfmatrix: {combo.id}: skipped - {reason}")
            continue
        placed.append((combo, eligible))
    # one at a time: an install stage here also makes the shared exports, a timed phase; producers first, so the
    # exports others load are made in their own venvs, and no exporter venv duplicates one
    first = exports.producer_ids(c for c, _ in placed)
    codes = install_all([(c, e[0] if e else None) for c, e in sorted(placed, key=lambda p: p[0].id not in first)],
                        launch, say, jobs=1, stopping=stopping)
    for combo, eligible in placed:
        if combo.id not in codes:  # stopped before it started
            continue
        if run.record_path(combo.id).exists():  # skipped, or failed to install: recorded by its session
            continue
        if codes[combo.id] != 0:
            _no_record(run, combo, opts, "install", codes[combo.id])
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
