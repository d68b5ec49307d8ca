"""Entry points: what the noxfile calls, and ``python -m tfmatrix``.

User errors (:class:`~tfmatrix.errors.TfmatrixError`) are caught here and only
here: one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from . import bench, summary
from .errors import TfmatrixError
from .matrix import combinations, load_matrix, matrix_path_from_env
from .results import RUN_ID_ENV, RunDir, check_run_id, latest_run, new_run_id, results_root


def fail(exc: TfmatrixError) -> NoReturn:
    sys.stderr.write(f"tfmatrix: error: {exc.one_line()}\n")
    raise SystemExit(exc.exit_status)


def nox_context(root: Path) -> bench.Context:
    """Load the matrix once, at noxfile import; a bad one ends nox with status 2."""
    try:
        matrix = load_matrix(matrix_path_from_env(root))
        profile = os.environ.get(bench.PROFILE_ENV, "default")
        matrix.profile(profile)
        run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
        check_run_id(run_id, RUN_ID_ENV)
        # every session of this nox invocation writes into the same run
        os.environ[RUN_ID_ENV] = run_id
        return bench.Context(root=root, matrix=matrix, profile=profile, run_id=run_id,
                             results_root=results_root(root))
    except TfmatrixError as exc:
        fail(exc)


def bench_session(session: Any, ctx: bench.Context, combo_id: str) -> None:
    try:
        bench.run_combination(session, ctx, combo_id)
    except TfmatrixError as exc:
        session.error(f"tfmatrix: {exc.one_line()}")


def summary_session(session: Any, ctx: bench.Context) -> None:
    try:
        text = summary_text(ctx, session.posargs[0] if session.posargs else None)
    except TfmatrixError as exc:
        session.error(f"tfmatrix: {exc.one_line()}")
    print(text)


def summary_text(ctx: bench.Context, run_id: str | None) -> str:
    run = RunDir(ctx.results_root, check_run_id(run_id, "summary run id")) if run_id else latest_run(ctx.results_root)
    if not run.run_record.exists():
        raise TfmatrixError(f"{run.path}: no run record (no bench session ran in this run)")
    records = list(run.records())
    run.finish()
    wanted = combinations(ctx.matrix, run.read_run().get("profile", ctx.profile))
    return summary.render(run.run_id, records, wanted)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfmatrix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a matrix file and list its combinations")
    v.add_argument("matrix", nargs="?", default=None)
    v.add_argument("--profile", default="default")
    args = parser.parse_args(argv)
    try:
        path = Path(args.matrix) if args.matrix else matrix_path_from_env(Path.cwd())
        matrix = load_matrix(path)
        for combo in combinations(matrix, args.profile):
            print(f"bench({combo.id})  models={','.join(m.id for m in combo.models)}  tags={','.join(combo.tags)}")
    except TfmatrixError as exc:
        fail(exc)
    return 0
