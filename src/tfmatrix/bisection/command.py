"""``nox -s bisect -- --good V1 --bad V2 --like COMBO (--when WHAT | --metric KEY) [options]``.

The options become objects once (the template combination, the criterion, the candidates, the run), and
the one place that turns them into an answer is :func:`main`; a user error is one
:class:`~tfmatrix.errors.TfmatrixError` line, caught by the caller.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Sequence

import yaml
from packaging.version import Version

from ..errors import TfmatrixError
from ..history.verdicts import DEFAULT_ALPHA, samples_needed
from ..matrix.expand import combinations
from ..matrix.load import load_matrix
from ..matrix.model import Combination, Matrix
from ..records.store import RunDir, check_run_id
from ..run.noxside.options import parse_words
from . import candidates as cands
from .criteria import Criterion, MetricCriterion, OutcomeCriterion
from .driver import Answer, Question, check_resumable, latest_bisection, run_bisection, save_to, table
from .probes import NoxRunner, Plan, Prober, run_nox

USAGE = ("--like COMBO --good V1 --bad V2 (--when failed|degraded|class=CLASS | --metric KEY [--factor F]) "
         "[--fixed] [--include-pre] [--nightly] [--then-nightly] [--import-only] [--quick] [--repeats N] "
         "[--model ID] [--resume [RUN_ID]]")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s bisect --", exit_on_error=False, description=__doc__)
    p.add_argument("--like", required=True, help="the matrix combination each probe is made like (tf2.20-cpu)")
    p.add_argument("--good", required=True, help="the version as things were (the old end)")
    p.add_argument("--bad", required=True, help="the version as things became (the new end)")
    p.add_argument("--when", default=None, help="an outcome: failed, degraded or class=CLASS")
    p.add_argument("--metric", default=None, help="import, load, first-inference, latency, throughput[bN], peak-rss")
    p.add_argument("--factor", type=float, default=1.3, help="how much worse than the good end is bad (1.3)")
    p.add_argument("--model", default=None, help="the model whose metric counts (default: the first measured)")
    p.add_argument("--fixed", action="store_true", help="find where the failure went away (old: failing)")
    p.add_argument("--include-pre", action="store_true", help="release candidates too")
    p.add_argument("--nightly", action="store_true", help="tf-nightly's dev builds between the ends")
    p.add_argument("--then-nightly", action="store_true", help="from a release answer into the nightlies between")
    p.add_argument("--import-only", action="store_true", help="probe the install and the import alone")
    p.add_argument("--quick", action="store_true", help="pass --quick to each probe's bench session")
    p.add_argument("--repeats", type=int, default=5, help="samples of the bisected metric per probe (5)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, help="continue a bisection's run")
    # set by the nox session
    p.add_argument("--matrix", required=True, help=argparse.SUPPRESS)
    p.add_argument("--profile", default="default", help=argparse.SUPPRESS)
    p.add_argument("--root", required=True, help=argparse.SUPPRESS)
    p.add_argument("--results", required=True, help=argparse.SUPPRESS)
    p.add_argument("--reports", required=True, help=argparse.SUPPRESS)
    p.add_argument("--run-id", required=True, help=argparse.SUPPRESS)
    p.add_argument("--nox-python", required=True, help=argparse.SUPPRESS)
    return p


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ns = parse_words(parser(), argv, "bisect options", USAGE)
    if (ns.when is None) == (ns.metric is None):
        raise TfmatrixError("bisect: expected exactly one of --when (an outcome) or --metric (a regression)")
    least = samples_needed(DEFAULT_ALPHA)
    if ns.repeats < least:
        raise TfmatrixError(f"bisect --repeats: got {ns.repeats}; expected at least {least} (with fewer, the "
                            f"Mann-Whitney test cannot reach p < {DEFAULT_ALPHA:g} and every probe would be undecided)")
    if ns.nightly and ns.then_nightly:
        raise TfmatrixError("bisect: --nightly and --then-nightly: expected one (--nightly bisects nightlies "
                            "alone; --then-nightly goes on into them from a release answer)")
    return ns


def template(matrix: Matrix, like: str, profile: str, what: str = "bisect --like") -> Combination:
    """The combination ``--like`` names: as the profile has it (its models), else as any profile could
    (``what``: the option that named it, for the error)."""
    known = {c.id: c for c in combinations(matrix, "all")}
    known.update({c.id: c for c in combinations(matrix, profile)})
    if like not in known:
        raise TfmatrixError(f"{what}: got {like!r}; expected a combination of {matrix.path} "
                            f"({', '.join(known)})")
    return known[like]


def criterion_of(ns: argparse.Namespace) -> Criterion:
    if ns.when is not None:
        return OutcomeCriterion.parse(ns.when, ns.fixed)
    return MetricCriterion.parse(ns.metric, ns.factor, ns.fixed, ns.model)


Lister = Callable[..., list[Version]]


def main(argv: Sequence[str], *, lister: Lister = cands.index_versions, runner: NoxRunner = run_nox,
         say: Callable[[str], None] = print) -> tuple[Answer, int]:
    """Run a bisection; its answer, and the exit status (1: an end is not what it was said to be)."""
    ns = parse(argv)
    matrix = load_matrix(ns.matrix)
    combo = template(matrix, ns.like, ns.profile)
    criterion = criterion_of(ns)
    key = criterion.metric.key if isinstance(criterion, MetricCriterion) else None
    if ns.import_only and key not in (None, "import", "peak-rss"):
        raise TfmatrixError(f"bisect --import-only: got --metric {key}; expected --metric import or peak-rss "
                            "(an import-only probe measures no model)")
    if key == "peak-rss" and not ns.import_only:
        raise TfmatrixError("bisect --metric peak-rss: expected --import-only with it (a model's peak is measured "
                            "once per probe, and one sample cannot be tested; an import-only probe takes the "
                            "import's peak in each cold start)")
    import_only = ns.import_only or key == "import"
    package = combo.tf.package if combo.tf.package != cands.NIGHTLY_PACKAGE else "tensorflow"
    available = lister(package, combo.python, pre=ns.include_pre, index_url=matrix.index_url)
    nightly: list[Version] = []

    def nightlies() -> list[Version]:
        if not nightly:
            nightly.extend(lister(cands.NIGHTLY_PACKAGE, combo.python, pre=True, index_url=matrix.index_url))
        return nightly

    pool = sorted(set(available) | set(nightlies())) if ns.nightly else available
    found = cands.between(package if not ns.nightly else f"{package} / {cands.NIGHTLY_PACKAGE}", pool, ns.good,
                          ns.bad, include_pre=ns.include_pre, nightly=ns.nightly)
    bench_args = tuple(a for a, on in (("--import-only", import_only), ("--quick", ns.quick)) if on)
    question = Question(ns.like, ns.good, ns.bad, ns.when or f"metric {ns.metric} x{ns.factor:g}", ns.fixed,
                        ns.include_pre, ns.nightly, ns.then_nightly, bench_args)
    results = Path(ns.results)
    if ns.resume is None:
        run = RunDir(results, check_run_id(ns.run_id, "bisect run id"))
    else:
        run = latest_bisection(results) if ns.resume == "latest" else RunDir(results, check_run_id(ns.resume,
                                                                                                 "--resume"))
        check_resumable(run, question)
    # an import-only probe installs TensorFlow alone: no Model Garden release to look up
    garden = [] if import_only else lister("tf-models-official", combo.python, pre=True, index_url=matrix.index_url)
    plan = Plan(template=combo, raw=yaml.safe_load(Path(ns.matrix).read_text(encoding="utf-8")),
                matrix_dir=Path(ns.matrix).resolve().parent,
                companions={v: cands.companion(v, garden) for v in found.versions},
                repeats={"workload.import_repeats" if import_only else criterion.metric.repeats_key: ns.repeats}
                if isinstance(criterion, MetricCriterion) and (import_only or criterion.metric.repeats_key) else {},
                bench_args=bench_args)
    # an outcome does not drift: a probe an earlier bisection ran is read again; a metric is measured in this run
    prober = Prober(plan, run, Path(ns.root), ns.nox_python, say=say, runner=runner,
                    earlier=not isinstance(criterion, MetricCriterion))
    say(f"tfmatrix: bisect {ns.like}: {criterion.describe()}: {len(found)} candidates from {found.good} to "
        f"{found.bad}; run {run.run_id}")
    answer = run_bisection(question, criterion, prober, found, nightlies, save_to(run), say)
    if prober.reused:
        answer.notes.append(f"reused {len(prober.reused)} probes already recorded: {', '.join(prober.reused)}")
        save_to(run)(answer)
    say(table(answer))
    from .page import write_page

    page = write_page(answer, run, Path(ns.reports))
    say(f"tfmatrix: bisect: the page: {page}")
    return answer, 0 if answer.ok else 1
