"""``nox -s bench -- OPTIONS``: one parser, read once per session into :class:`Options`.

The noxfile also reads ``--gpus`` and ``--executor`` at import, before nox
makes any venv (in dispatch mode the bench sessions need none), with the same
parser in its lenient mode: there the words after ``--`` may be another
session's (``nox -s report -- RUN_ID``), and a bad bench option is the bench
session's to report.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ...errors import TfmatrixError
from ...matrix.shard import Shard, parse_shard
from ...records.store import check_run_id
from ...worker.contract import Workload

if TYPE_CHECKING:
    from ...matrix.model import Combination

HELP = ("--models ID[,ID], --import-only, --quick, --cold-starts N, --assume-gpu (or --force-gpu-stacks), --resume [RUN_ID], "
        "--allow-shared-gpu, --gpu N, --gpus N,N,..., --shard I/N, --executor local|ray, "
        "--address ADDR, --telemetry-period MS, --no-interleave, --dry-run")
STAGES = ("all", "install", "measure")
EXECUTORS = ("local", "ray")
PLACERS = ("local", "gpus", "ray")


@dataclass(frozen=True)
class Options:
    models: tuple[str, ...] = ()
    quick: bool = False
    assume_gpu: bool = False
    resume: str | None = None  # a run id, "latest", or None for a new run
    allow_shared_gpu: bool = False
    gpu: int | None = None  # the GPU (PCI bus order) GPU stacks run on; None: all visible
    telemetry_ms: int = 50  # NVML sampling period beside GPU phases; 0 turns it off
    shard: Shard | None = None  # run only this slice of the profile
    gpus: tuple[int, ...] = ()  # --gpus 0,1,2,3: one combination per GPU at a time
    executor: str = "local"  # "local" or "ray"
    address: str = "auto"  # the Ray cluster (--executor ray)
    stage: str = "all"  # internal (the --gpus pool): "install" only, or "measure" what was installed
    placed_by: str = "local"  # internal: the executor that started this session ("gpus", "ray")
    no_interleave: bool = False  # several combinations: one after another, not in shared rounds
    import_only: bool = False  # no model: the install, the probe and `import tensorflow`'s cold starts alone
    dry_run: bool = False  # say what each session would do; nothing installed or written (run/dryrun.py)
    cold_starts: int = 0  # at least this many cold starts per model (import, load, first inference); 0: the matrix's

    def narrow(self, combo: Combination) -> Combination:
        """The combination as these options run it: ``--models`` (unknown ids are a user error), or with
        ``--import-only`` none of its models."""
        return dataclasses.replace(combo, models=(), exporters={}) if self.import_only else combo.only(self.models)

    def workload(self, matrix_workload: Workload) -> Workload:
        """The workload these options run: the matrix's, ``--quick``'s variant of it, then at least
        ``--cold-starts`` fresh processes per model (what ``compare --rerun-base`` asks for a verdict)."""
        workload = matrix_workload.quick() if self.quick else matrix_workload
        return workload.with_cold_starts(self.cold_starts) if self.cold_starts else workload

    @property
    def top_level(self) -> bool:
        """A session the user started, not an executor's child stage: it plans the invocation (installs ahead,
        interleaved rounds), and its invocation ends with the interleave and summary sessions."""
        return self.stage == "all" and self.placed_by == "local"

    @property
    def pooled(self) -> bool:
        """``--gpus`` with several GPUs: the local pool (when the host has them)."""
        return len(self.gpus) > 1

    def to_run_json(self) -> dict[str, object]:
        """What ``run.json`` keeps of the options."""
        return {"models": list(self.models), "import_only": self.import_only, "quick": self.quick,
                **({"cold_starts": self.cold_starts} if self.cold_starts else {}),
                "assume_gpu": self.assume_gpu, "shard": str(self.shard) if self.shard else None,
                "executor": "gpus" if self.pooled else self.executor}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s bench --", add_help=False, exit_on_error=False)
    p.add_argument("--models", action="append", default=[])
    p.add_argument("--import-only", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cold-starts", type=int, default=0)
    p.add_argument("--assume-gpu", "--force-gpu-stacks", dest="assume_gpu", action="store_true")
    p.add_argument("--resume", nargs="?", const="latest", default=None)
    p.add_argument("--allow-shared-gpu", action="store_true")
    p.add_argument("--gpu", type=int, default=None)
    p.add_argument("--telemetry-period", type=int, default=50)
    p.add_argument("--gpus", default=None)
    p.add_argument("--shard", default=None)
    p.add_argument("--executor", default="local")
    p.add_argument("--address", default="auto")
    p.add_argument("--stage", default="all")
    p.add_argument("--placed-by", default="local")
    p.add_argument("--no-interleave", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    return p


def parse_words(parser: argparse.ArgumentParser, words: Sequence[str], what: str, expected: str) -> argparse.Namespace:
    """What ``parser`` makes of a session's words; a bad or unknown one is a one-line :class:`TfmatrixError`
    naming ``what`` was parsed and the ``expected`` usage."""
    try:
        ns, rest = parser.parse_known_args(list(words))
    except argparse.ArgumentError as exc:
        raise TfmatrixError(f"{what}: {exc}; expected {expected}") from None
    if rest:
        raise TfmatrixError(f"{what}: got {' '.join(rest)!r}; expected {expected}")
    return ns


def parse(posargs: Sequence[str]) -> Options:
    """The bench options; anything wrong is a one-line :class:`TfmatrixError`."""
    ns = parse_words(_parser(), posargs, "bench options", HELP)
    if ns.resume not in (None, "latest"):
        check_run_id(ns.resume, "--resume")
    if ns.gpu is not None and ns.gpu < 0:
        raise TfmatrixError(f"--gpu: got {ns.gpu}; expected a GPU index (0, 1, ... in PCI bus order, as nvidia-smi)")
    if ns.cold_starts < 0:
        raise TfmatrixError(f"--cold-starts: got {ns.cold_starts}; expected a number of fresh processes per model "
                            "(5: what a Mann-Whitney verdict at p < 0.01 needs)")
    if ns.telemetry_period < 0:
        raise TfmatrixError(f"--telemetry-period: got {ns.telemetry_period}; expected milliseconds >= 0 (0: off)")
    models = tuple(m for arg in ns.models for m in arg.split(",") if m)
    gpus = parse_gpus(ns.gpus) if ns.gpus is not None else ()
    if ns.executor not in EXECUTORS:
        raise TfmatrixError(f"--executor: got {ns.executor!r}; expected local or ray")
    if ns.stage not in STAGES or ns.placed_by not in PLACERS:
        raise TfmatrixError(f"--stage/--placed-by: got {ns.stage!r}/{ns.placed_by!r}; these are set by tfmatrix's "
                            "own executors, not by hand")
    if (ns.executor == "ray" or len(gpus) > 1) and ns.resume is not None:
        raise TfmatrixError("--resume: not with --executor ray or --gpus; resume runs one combination at a time "
                            "(drop --gpus/--executor to finish a run)")
    if ns.executor == "ray" and gpus:
        raise TfmatrixError("--gpus: not with --executor ray; Ray gives each task its GPU")
    gpu = gpus[0] if len(gpus) == 1 and ns.gpu is None else ns.gpu  # --gpus N is --gpu N
    return Options(models=models, quick=ns.quick, assume_gpu=ns.assume_gpu, resume=ns.resume,
                   allow_shared_gpu=ns.allow_shared_gpu, gpu=gpu, telemetry_ms=ns.telemetry_period,
                   shard=parse_shard(ns.shard) if ns.shard is not None else None, gpus=gpus,
                   executor=ns.executor, address=ns.address, stage=ns.stage, placed_by=ns.placed_by,
                   no_interleave=ns.no_interleave, import_only=ns.import_only, dry_run=ns.dry_run,
                   cold_starts=ns.cold_starts)


def parse_lenient(argv: Sequence[str]) -> Options:
    """The options after ``--`` in a nox command line, for the noxfile at import: never an error.

    Only what the bench sessions need before they exist is meaningful here (``--gpus``,
    ``--executor``); words that are not bench options, or bad ones, give the defaults.
    """
    posargs = list(argv[list(argv).index("--") + 1:]) if "--" in argv else []
    try:
        ns, _ = _parser().parse_known_args(posargs)
        return Options(executor=ns.executor, gpus=parse_gpus(ns.gpus) if ns.gpus is not None else ())
    except (argparse.ArgumentError, TfmatrixError):
        return Options()


def parse_gpus(text: str) -> tuple[int, ...]:
    items = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() for t in items) or len(set(items)) != len(items):
        raise TfmatrixError(f"--gpus: got {text!r}; expected distinct GPU indices such as 0,1,2,3 "
                            "(PCI bus order, as nvidia-smi numbers them)")
    return tuple(int(t) for t in items)


#: the options only the driver reads; the combination's own session gets the rest
DRIVER_OPTIONS = ("--gpus", "--executor", "--address", "--shard")

def child_posargs(posargs: Sequence[str]) -> list[str]:
    """The user's bench options, less the driver's own (a child runs one combination, where it is put)."""
    out: list[str] = []
    skip = False
    for arg in posargs:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in DRIVER_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out
