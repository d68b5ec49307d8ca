"""FAKE installer and FAKE phase runner: what uv and a worker process would have done, for the pipeline's tests.

Passed to :class:`tfmatrix.run.scheduling.pipeline.Bench` through its ``installer`` and ``run_phase`` seams; the real
ones are tested in test_install, test_runner and the integration tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfmatrix.records.model import InstallOutcome
from tfmatrix.records.status import PhaseStatus
from tfmatrix.run.execution import runner
from tfmatrix.worker.contract import BenchConfig, WorkerResult

CPU_ONLY_DEVICES = {"devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}]}}


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
        self.ends, self.probe, self.log_text, self.ran, self.processes = ends or {}, probe or CPU_ONLY_DEVICES, \
            log_text, [], []
        self.rounds: list[tuple[str, tuple[int, int] | None]] = []  # (phase name, its round) as run
        self.rss = 1 << 30

    def __call__(self, spec, *, python, benchmark_file, log_dir, timeout, env, telemetry=None, worker=None):
        self.ran.append(spec.name)
        self.rounds.append((spec.name, spec.round))
        self.processes.append(worker.name if worker else spec.name)
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
                              note="" if status == PhaseStatus.OK else f"{status}",
                              processes=[worker.name if worker else spec.name],
                              peak_rss_bytes=self.rss if samples else None,
                              rounds=[spec.round[0]] * len(samples) if spec.round and samples else None), result
