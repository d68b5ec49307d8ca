"""``--executor ray --address ADDR``: one Ray task per combination, placed by Ray resources.

A GPU combination asks for ``num_gpus=1`` and, when the matrix names its GPU type,
a sliver of ``accelerator_type:<TYPE>`` (:func:`tfmatrix.placement.ray_request`);
a CPU combination asks for every CPU of the largest node, so it is timed alone there.  A request no live node of the cluster could
ever satisfy is not submitted (Ray would wait for it forever): it is recorded as
``skipped: no matching hardware``.  Each task runs the combination's own nox
session on its node (:mod:`.raytask`) and returns the record and its logs; the
driver writes them into the run folder, with the node in ``placement.node``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..atomic import write_text_atomic
from ..diagnosis.classify import classify_failure
from ..errors import TfmatrixError
from ..matrix.model import Combination
from ..records.model import CombinationRecord, Placement
from ..records.schema import BadRecord, check
from ..records.status import PhaseStatus, Status
from ..records.store import RunDir
from ..run.execution import placement
from ..run.execution.host import ASSUME_GPU_ENV
from ..run.noxside.context import CACHE_ENV, Context
from ..run.noxside.endings import record_by_driver
from ..run.noxside.options import Options

PASSED_ENV = ("TFMATRIX_MATRIX", CACHE_ENV, ASSUME_GPU_ENV, "TFMATRIX_PROFILE", "UV_CACHE_DIR", "UV_INDEX_URL")


def run_on_ray(ctx: Context, run: RunDir, combos: Sequence[Combination], opts: Options, posargs: Sequence[str],
               say: Callable[[str], object]) -> None:
    try:
        import ray
        from ray import cloudpickle
    except ImportError:
        raise TfmatrixError("--executor ray: Ray is not installed where nox runs; install the extra: "
                            "pip install 'tfmatrix[ray]' (or pip install ray)") from None
    from . import raytask

    try:
        ray.init(address=opts.address, logging_level=logging.WARNING, log_to_driver=False, include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TfmatrixError(f"--address: got {opts.address!r}; no Ray cluster answered there ({exc}); "
                            "start one with `ray start --head`, or give its address (host:6379)") from None
    ctx.ensure_run(run, opts)  # only now: a cluster that never answered leaves no empty run
    try:
        cloudpickle.register_pickle_by_value(raytask)  # the nodes need Ray and nox, not tfmatrix
        task = ray.remote(max_retries=0)(raytask.bench_on_node)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env["TFMATRIX_PROFILE"] = ctx.profile
        pending: dict[Any, Combination] = {}
        whole = max((n.get("Resources", {}).get("CPU", 0) for n in nodes), default=1) or 1
        for combo in combos:
            request = placement.ray_request(combo, whole_node_cpus=whole)
            if not any(placement.node_satisfies(request, n.get("Resources", {})) for n in nodes):
                reason = (f"{placement.NO_MATCH}: no node of the Ray cluster at {opts.address} has "
                          f"{placement.describe_request(request)}")
                record_by_driver(run, combo, opts, "ray", Status.SKIPPED, reason)
                say(f"tfmatrix: {combo.id}: skipped - {reason}")
                continue
            ref = task.options(name=f"tfmatrix:{combo.id}", **request).remote(
                str(ctx.root), combo.id, run.run_id, list(posargs), env)
            pending[ref] = combo
            say(f"tfmatrix: {combo.id}: submitted to Ray ({placement.describe_request(request)})")
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            combo = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                result = {"record": None, "node": None, "exit_code": None, "tail": "", "error": f"Ray: {exc}"}
            keep_returned(run, combo, opts, result)
    finally:
        ray.shutdown()


def keep_returned(run: RunDir, combo: Combination, opts: Options, result: dict[str, Any]) -> Path:
    """Write what a task returned into the run: its logs, then its record (with its node)."""
    log_dir = run.log_dir(combo.id)
    for rel, text in (result.get("logs") or {}).items():
        target = (log_dir / rel).resolve()
        if log_dir.resolve() not in target.parents:  # a name the node made up cannot leave the folder
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(str(target), text)
    record = result.get("record")
    if record is None:
        why = result.get("error") or (f"its nox session ended with exit status {result.get('exit_code')} "
                                      "without writing a record")
        log_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(str(log_dir / "nox-ray.log"), result.get("tail") or "")
        failure = classify_failure(status=PhaseStatus.ERROR, text=result.get("tail") or why, gpu_stack=combo.needs_gpu)
        return record_by_driver(run, combo, opts, "ray", Status.FAILED, f"{why}; see {log_dir / 'nox-ray.log'}",
                                failure)
    try:
        rec = CombinationRecord.from_json(check(record, f"the record Ray returned for {combo.id}"))
    except BadRecord as exc:
        return record_by_driver(run, combo, opts, "ray", Status.FAILED, f"its record could not be read: {exc}")
    old = result.get("log_root") or ""
    for phase in rec.phases:
        if old and phase.log.startswith(old):
            phase.log = str(log_dir) + phase.log[len(old):]
    rec.run_id = run.run_id
    rec.placement = dataclasses.replace(rec.placement or Placement(executor="ray"), node=result.get("node"))
    return run.write_record(rec)
