"""What the noxfile knows once, at import: the project, the matrix, its combinations, the run, and this nox
command's :class:`Invocation` (what its sessions share)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ... import __version__
from ...errors import TfmatrixError
from ...matrix import shard
from ...matrix.expand import combinations
from ...matrix.model import Combination, Matrix
from ...records.model import RunRecord
from ...records.store import REPORTS_ENV, RESULTS_ENV, RunDir, now, reports_root
from ..execution.host import collect_git, host_fingerprint
from .noxadapter import NoxWords
from .options import Options

if TYPE_CHECKING:
    from ..provisioning.ahead import Ahead
    from ..scheduling.interleave import Interleave

CACHE_ENV = "TFMATRIX_CACHE"
PROFILE_ENV = "TFMATRIX_PROFILE"


@dataclass
class Invocation:
    """What the sessions of one ``nox`` command share, made once with its :class:`Context`.

    Its first bench session plans it (:func:`tfmatrix.run.noxside.invocation.plan`): the combinations nox selected
    (itself, then the bench sessions queued after it), the installs it starts ahead for the later ones, and
    the interleave that keeps their warm workers pending until the ``interleave`` session's rounds; or, under
    an executor, the combinations its bench sessions queued for the ``dispatch`` session.
    ``words``: what nox's logger said of each session (for the sessions nox ends before they run)."""

    words: NoxWords = field(default_factory=NoxWords)
    planned: bool = False
    selected: list[str] | None = None  # combination ids in nox's order; None: nox does not say (not nox's session)
    ahead: "Ahead | None" = None
    rounds: "Interleave | None" = None
    queued: list[Combination] = field(default_factory=list)  # for the dispatch session (--gpus, --executor ray)

    @property
    def later(self) -> list[str] | None:
        """The bench sessions after the first (None: nox does not say)."""
        return None if self.selected is None else self.selected[1:]


@dataclass(frozen=True)
class Context:
    """The project, the validated matrix, the profile's combinations (expanded once), this invocation's run
    and what its sessions share."""

    root: Path
    matrix: Matrix
    profile: str
    run_id: str
    results_root: Path
    invocation: Invocation = field(default_factory=Invocation, compare=False, repr=False)

    @functools.cached_property
    def combos(self) -> tuple[Combination, ...]:
        return tuple(combinations(self.matrix, self.profile))

    @functools.cached_property
    def _by_id(self) -> dict[str, Combination]:
        return {c.id: c for c in self.combos}

    def combination(self, combo_id: str) -> Combination:
        """A combination of the profile by its session id (nox hands sessions plain, serialisable ids)."""
        try:
            return self._by_id[combo_id]
        except KeyError:
            raise TfmatrixError(f"{combo_id}: not a combination of profile {self.profile!r} "
                                f"({', '.join(self._by_id)})") from None

    def in_shard(self, combo: Combination, opts: Options) -> bool:
        """Is it this machine's to run (``--shard I/N``; every machine computes the same slices)?"""
        return opts.shard is None or combo.id in shard.members(self.combos, opts.shard)

    @property
    def reports_root(self) -> Path:
        return reports_root(self.root)

    def env(self) -> dict[str, str]:
        """Where a session's ``python -m tfmatrix`` finds results and writes reports."""
        return {RESULTS_ENV: str(self.results_root), REPORTS_ENV: str(self.reports_root)}

    @property
    def cache_root(self) -> Path:
        value = os.environ.get(CACHE_ENV)
        return Path(value).resolve() if value else self.root / ".tfmatrix-cache"

    @property
    def benchmark_file(self) -> Path:
        return self.root / "benchmarks" / "bench_detection.py"

    def run_record(self, run_id: str, opts: Options) -> RunRecord:
        """A new run's ``run.json``."""
        return RunRecord(run_id=run_id, started_at=now(), host=host_fingerprint(),
                         matrix={"path": self.matrix.path, "sha256": self.matrix.sha256}, profile=self.profile,
                         suite=collect_git(self.root), options=opts.to_run_json(), tfmatrix_version=__version__)

    def run_to_write(self, opts: Options) -> RunDir:
        """This invocation's new run, or with ``--resume`` the run it continues (which must exist)."""
        if opts.resume is None:
            return RunDir(self.results_root, self.run_id)
        if opts.resume == "latest":
            try:
                return RunDir.latest(self.results_root, but=self.run_id)
            except TfmatrixError:
                raise TfmatrixError(f"--resume: no earlier run under {self.results_root} to resume") from None
        run = RunDir(self.results_root, opts.resume)
        if not run.run_record.exists():
            raise TfmatrixError(f"--resume: got {opts.resume!r}; expected a run under {self.results_root} "
                                "with a run.json")
        return run

    def ensure_run(self, run: RunDir, opts: Options) -> None:
        run.ensure(lambda: self.run_record(run.run_id, opts))
