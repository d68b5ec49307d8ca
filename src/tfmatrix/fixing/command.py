"""``nox -s fix -- COMBO [--run RUN] [--max-probes N] [--allow python,tensorflow] [--resume]``.

The options become objects once (the failed record, its template combination, the search), and :func:`main`
turns them into an answer; a user error is one :class:`~tfmatrix.errors.TfmatrixError` line.
"""

from __future__ import annotations

import argparse
import functools
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import yaml
from packaging.version import Version

from ..bisection import candidates as cands
from ..bisection.command import Lister, template
from ..bisection.probes import NoxRunner, Prober, run_nox
from ..diagnosis.remedies import ALLOWABLE
from ..errors import TfmatrixError
from ..matrix.load import load_matrix
from ..records.model import CombinationRecord
from ..records.status import Status
from ..records.store import RunDir, check_run_id, run_folders
from ..run.noxside.options import parse_words
from . import state as fixstate
from .output import render
from .plan import FixPlan
from .search import Searcher, installer_words, siblings

if TYPE_CHECKING:
    from ..run.execution.host import HostFacts

USAGE = "COMBO [--run RUN] [--max-probes N] [--allow python,tensorflow] [--resume]"
FIXABLE = (Status.FAILED, Status.DEGRADED, Status.INSTALL_FAILED)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s fix --", exit_on_error=False, description=__doc__)
    p.add_argument("combo", help="the failed combination (its id, as in `nox -l`)")
    p.add_argument("--run", default=None, help="the run holding its record (default: the newest that has one)")
    p.add_argument("--max-probes", type=int, default=8, help="probes at most (8)")
    p.add_argument("--allow", default="", help="what else may change: python, tensorflow (comma-separated)")
    p.add_argument("--resume", action="store_true", help="continue this combination's fix search")
    for hidden in ("--matrix", "--root", "--results", "--run-id", "--nox-python"):
        p.add_argument(hidden, required=True, help=argparse.SUPPRESS)
    p.add_argument("--profile", default="default", help=argparse.SUPPRESS)
    return p


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ns = parse_words(parser(), argv, "fix options", USAGE)
    if ns.max_probes < 1:
        raise TfmatrixError(f"fix --max-probes: got {ns.max_probes}; expected 1 or more")
    allow = tuple(a.strip() for a in ns.allow.split(",") if a.strip())
    bad = [a for a in allow if a not in ALLOWABLE]
    if bad:
        raise TfmatrixError(f"fix --allow: got {','.join(bad)}; expected a comma-separated list of "
                            f"{', '.join(ALLOWABLE)}")
    ns.allow = allow
    return ns


def failed_record(results: Path, combo: str, run_id: str | None) -> tuple[RunDir, CombinationRecord]:
    """The combination's record in ``run_id``, else in the newest run that has one; it must have failed."""
    folders = [RunDir(results, check_run_id(run_id, "fix --run"))] if run_id else \
        [RunDir(results, f.name) for f in reversed(run_folders(results))]
    for run in folders:
        rec = run.existing_record(combo)
        if rec is None:
            continue
        if rec.status not in FIXABLE or rec.failure is None:
            raise TfmatrixError(f"{run.record_path(combo)}: status: got {rec.status}; expected a failed, degraded or "
                                "install-failed combination (there is nothing to fix)")
        return run, rec
    where = f"run {run_id}" if run_id else f"any run under {results}"
    raise TfmatrixError(f"fix: {combo}: no record in {where} (run `nox -s bench` first)")


def _no_candidate(search: fixstate.FixSearch) -> None:
    kinds = []
    if "python" not in search.allow:
        kinds.append("another Python (--allow python)")
    if "tensorflow" not in search.allow:
        kinds.append("another TensorFlow release (--allow tensorflow)")
    why = (f"no forced pin, declared range, companion off TensorFlow's minor or passing sibling points at a pin "
           f"change for {search.failure.cls} (culprit: {search.failure.culprit or 'not judged'})")
    search.notes.append(why + (f"; not tried: {', '.join(kinds)}" if kinds else ""))


def main(argv: Sequence[str], *, lister: Lister = cands.index_versions, runner: NoxRunner = run_nox,
         say: Callable[[str], None] = print, gpu_visible: Callable[[], bool] | None = None) -> tuple[fixstate.FixSearch, int]:
    """Search a fix; the search and the exit status (0: fixed; 1: no fix found or none to try)."""
    ns = parse(argv)
    results = Path(ns.results)
    run, record = failed_record(results, ns.combo, ns.run)
    matrix = load_matrix(ns.matrix)
    combo = template(matrix, ns.combo, ns.profile, "fix COMBO")
    earlier = fixstate.read(run, ns.combo)
    assert record.failure is not None and record.status is not None
    fresh = fixstate.FixSearch(ns.combo, run.run_id, ns.run_id, record.failure, str(record.status), ns.allow,
                               ns.max_probes)
    if ns.resume and earlier is not None and earlier.same_question(fresh) and earlier.ending != "fixed":
        search = earlier
        search.ending, search.max_probes = "searching", ns.max_probes
        search.notes = [n for n in search.notes if not n.startswith("stopped after")]
    elif earlier is not None and earlier.ending == "fixed" and earlier.same_question(fresh):
        search = earlier
        say(f"tfmatrix: fix: {ns.combo}: already fixed by this search (run {search.probe_run})")
    else:
        search = fresh
    raw = yaml.safe_load(Path(ns.matrix).read_text(encoding="utf-8"))
    save = functools.partial(fixstate.save, run)
    path = fixstate.state_path(run, ns.combo)
    probe_run = RunDir(results, search.probe_run)

    @functools.lru_cache(maxsize=None)
    def index(package: str, python: str) -> tuple[Version, ...]:
        try:
            return tuple(lister(package, python, pre=False, index_url=matrix.index_url))
        except TfmatrixError:
            return ()

    def plan(import_only: bool) -> FixPlan:
        return FixPlan(combo, raw, Path(ns.matrix).resolve().parent, ("--import-only",) if import_only else ("--quick",))

    def prober(import_only: bool) -> Prober:
        return Prober(plan(import_only), probe_run, Path(ns.root), ns.nox_python, say=say, runner=runner, name="fix")

    def garden(version: str) -> str | None:
        return cands.companion(version, list(index("tf-models-official", record.combination.python)))

    searcher = Searcher(search, record, combo, prober, save, index=index,
                        python_available=lambda py: shutil.which(f"python{py}") is not None,
                        siblings=siblings(results, record), words=installer_words(run, record),
                        tensorflow_releases=lambda: index(combo.tf.package, record.combination.python),
                        garden_of=garden, say=say, cuda_pip_stacks=[s.id for s in matrix.stacks if s.kind == "cuda-pip"])
    if search.ending != "fixed":
        host = None if gpu_visible else _host()
        gpu_here = gpu_visible() if gpu_visible else bool(host and host.gpus)
        searcher.driver = host.driver_version if host else None
        first = searcher.first()
        if combo.needs_gpu and not gpu_here:
            search.unverified, search.ending = first, "unverified"
            search.notes.append(f"{combo.id} runs on a GPU stack and no GPU is visible here: the candidates are "
                                "printed, not proven (run the same command on the GPU box)")
            save(search)
        else:
            say(f"tfmatrix: fix {ns.combo}: {record.failure.cls} ({record.failure.culprit or 'no culprit'}); "
                f"{len(first)} candidates from the record; probes in run {search.probe_run}")
            searcher.run()
            if search.ending == "no-candidate":
                _no_candidate(search)
                save(search)
    say(render(search, plan(False).written(), combo.tf.package, combo.tf.id, path))
    return search, 0 if search.ending == "fixed" else 1


def _host() -> "HostFacts":
    from ..run.execution.host import HostFacts

    return HostFacts.here()
