"""Install ahead: every venv of an invocation resolved and synced before anything is timed, several at a time.

One stage for both ways a nox invocation runs several combinations:

* the ``--gpus`` pool (:mod:`tfmatrix.executors.pool`) installs every combination it was handed, then measures;
* a plain ``nox -s bench`` of several combinations: its first bench session starts the installs of the
  sessions nox will run after it (:class:`Ahead`), installs its own meanwhile, and waits for all of them
  before its first timed phase; each later session finds its venv installed (or its record written, when
  the install failed or the combination cannot run here) and times at once.

Each install is a child ``nox -s "bench(<id>)" -- ... --stage install`` (a :data:`Launcher`): the venv is
nox's own, made as that session would make it, and each makes its combination's own exports after its install
(:meth:`tfmatrix.run.scheduling.pipeline.Pipeline.export_ahead`; its session adopts their records).  Downloads are
network-bound, so a plain run's installs run ``jobs`` at once, and the first session installs and exports its
own meanwhile: an export's seconds are then not a quiet machine's, which its note says (an export is one
sample, never judged by ``compare``).  The pool installs one at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from ...matrix.model import Combination
from ...records.store import RESULTS_ENV, RUN_ID_ENV, RunDir
from ..noxside.context import PROFILE_ENV

if TYPE_CHECKING:
    from ..noxside.context import Context
    from ..noxside.options import Options

#: installs at once: downloads are network-bound, and a sync's bytecode compilation is the CPU-bound rest
JOBS = 2


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
    placed_by: str = "gpus"  # the executor its records name

    def argv(self, combo: Combination, stage: str, gpu: int | None) -> list[str]:
        return [self.python, "-m", "nox", "-f", str(self.root / "noxfile.py"), "-s", f"bench({combo.id})", "--",
                *self.posargs, "--stage", stage, "--placed-by", self.placed_by,
                *(["--gpu", str(gpu)] if gpu is not None else [])]

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


def install_all(work: Sequence[tuple[Combination, int | None]], launch: Launcher, say: Callable[[str], object],
                jobs: int = JOBS, stopping: threading.Event | None = None) -> dict[str, int]:
    """``launch(combo, "install", gpu)`` for each, ``jobs`` at a time; the exit status of each, by id (a
    combination left out because ``stopping`` was set has none)."""
    codes: dict[str, int] = {}
    if not work:
        return codes
    say(f"tfmatrix: installing {len(work)} combination(s) ahead, {min(jobs, len(work))} at a time: "
        f"{', '.join(c.id for c, _ in work)}")

    def one(item: tuple[Combination, int | None]) -> None:
        if stopping is not None and stopping.is_set():
            return
        codes[item[0].id] = launch(item[0], "install", item[1])

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="tfmatrix-install") as pool:
        list(pool.map(one, work))
    return codes


@dataclass
class Ahead:
    """The installs a plain bench run's first session started for the sessions after it."""

    combos: list[Combination]
    launch: Launcher
    outcome_of: Callable[[str], Path]  # where a combination's install stage leaves its outcome
    jobs: int = JOBS
    codes: dict[str, int] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, say: Callable[[str], object]) -> "Ahead":
        def body() -> None:
            self.codes.update(install_all([(c, None) for c in self.combos], self.launch, say, self.jobs,
                                          self.stopping))

        self.thread = threading.Thread(target=body, name="tfmatrix-ahead", daemon=True)
        self.thread.start()
        return self

    def wait(self, say: Callable[[str], object]) -> None:
        """Before the first timed phase: every install started ahead has ended."""
        if self.thread is not None and self.thread.is_alive():
            say("tfmatrix: waiting for the installs ahead to end before timing anything")
            self.thread.join()

    def busy(self) -> bool:
        """Installs started ahead are still running (what this session does meanwhile runs beside them)."""
        return self.thread is not None and self.thread.is_alive()

    def tried(self, combo_id: str) -> bool:
        return combo_id in self.codes

    def installed(self, combo_id: str) -> bool:
        """Its install ahead ended well and left its outcome (its session reads it instead of installing)."""
        return self.codes.get(combo_id) == 0 and self.outcome_of(combo_id).exists()

    def stop(self) -> None:
        """Ctrl-C or SIGTERM: no new install starts; the running ones get the signal from the terminal, or
        SIGTERM from the launcher, and record it."""
        self.stopping.set()
        stop = getattr(self.launch, "stop", None)
        if stop is not None:
            stop()


def start(session: Any, ctx: "Context", run: "RunDir", opts: "Options", later: Sequence[str] | None,
          jobs: int = JOBS) -> Ahead | None:
    """The first bench session of a plain run starts the installs of the bench sessions nox runs after it
    (once: its :class:`~tfmatrix.run.noxside.context.Invocation` keeps them)."""
    combos = [opts.narrow(c) for c in (ctx.combination(i) for i in later or ()) if ctx.in_shard(c, opts)]
    if not opts.top_level or not combos:
        return None
    # the session's own options: its children run one combination each, in this shard, as it would
    launcher = NoxLauncher(root=ctx.root, run=run, profile=ctx.profile, posargs=list(session.posargs),
                           python=sys.executable, placed_by="local")
    return Ahead(combos, launcher, lambda cid: run.log_dir(cid) / "install-outcome.json", jobs).start(session.log)
