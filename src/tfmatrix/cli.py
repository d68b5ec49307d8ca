"""Entry points: what the noxfile calls, and ``python -m tfmatrix``.

User errors (:class:`~tfmatrix.errors.TfmatrixError`) are caught here and only
here: one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from packaging.version import Version
from typing import Any, NoReturn, Sequence

from . import bench, summary
from .errors import TfmatrixError
from .matrix import combinations, load_matrix, matrix_path_from_env
from .results import RUN_ID_ENV, RunDir, check_run_id, latest_run, new_run_id, reports_root, results_root


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


def dispatch_mode(argv: Sequence[str]) -> str | None:
    """At noxfile import: "gpus" or "ray" when the bench sessions only queue (they then need no venv)."""
    from .executors.dispatch import mode_from_argv

    try:
        return mode_from_argv(argv)
    except TfmatrixError as exc:
        fail(exc)


def bench_session(session: Any, ctx: bench.Context, combo_id: str) -> None:
    from .executors import dispatch
    from .interrupts import signals_as_interrupt

    try:
        opts = bench.parse_options(list(session.posargs))
        how = dispatch.mode(opts)
        if how is not None:
            dispatch.queue(session, ctx, combo_id, opts, "the Ray cluster" if how == "ray" else
                           f"the GPU pool {','.join(map(str, opts.gpus))}")
            return
        if len(opts.gpus) > 1:
            session.warn(f"tfmatrix: --gpus {','.join(map(str, opts.gpus))}: no GPU is visible here, so "
                         "combinations run one at a time (timings taken side by side on a shared CPU would "
                         "mean nothing)")
        with signals_as_interrupt():  # SIGTERM, like Ctrl-C, records the combination as interrupted
            bench.run_combination(session, ctx, combo_id)
    except TfmatrixError as exc:
        session.error(f"tfmatrix: {exc.one_line()}")


def dispatch_session(session: Any, ctx: bench.Context) -> None:
    """Run what the bench sessions queued, on the GPU pool or Ray; fail if any combination failed."""
    from .executors import dispatch
    from .interrupts import signals_as_interrupt

    try:
        with signals_as_interrupt():
            records = dispatch.run_queued(session, ctx, ctx.root)
    except TfmatrixError as exc:
        session.error(f"tfmatrix: {exc.one_line()}")
    session.notify("summary", [ctx.run_id])
    bad = dispatch.failed(records)
    if bad:
        session.error(f"tfmatrix: {len(bad)} combinations failed: {'; '.join(bad)}")


def clean_session(session: Any, ctx: bench.Context) -> None:
    """List the venvs and exports kept between runs; with --older-than, remove the unused ones."""
    from . import cache

    p = argparse.ArgumentParser(prog="nox -s clean --", exit_on_error=False)
    p.add_argument("--older-than", default=None, help="remove entries unused for longer: 12h, 30d, 2w")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    try:
        args = p.parse_args(session.posargs)
        found = cache.entries(ctx.root / ".nox", ctx.cache_root)
        age = cache.parse_age(args.older_than) if args.older_than else float("inf")
        done = cache.prune(found, age, args.dry_run)
    except (TfmatrixError, argparse.ArgumentError) as exc:
        session.error(f"tfmatrix: {exc.one_line() if isinstance(exc, TfmatrixError) else exc}")
    print(cache.render(done))


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


def probe_interpreter(python: str, timeout: float = 300.0) -> dict[str, Any]:
    """Run the probe (``tfmatrix.probe.collect_all``) in another interpreter; its JSON back."""
    import json
    import subprocess
    import tempfile

    src = str(Path(__file__).resolve().parent.parent)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from tfmatrix.probe import collect_all; "
            "json.dump(collect_all(), open(sys.argv[2], 'w'))")
    with tempfile.TemporaryDirectory(prefix="tfmatrix-doctor-") as tmp:
        out = Path(tmp) / "probe.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        try:
            proc = subprocess.run([python, "-X", "faulthandler", "-c", code, src, str(out)], env=env,
                                  capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise TfmatrixError(f"--python: got {python!r}; expected the path of a Python interpreter") from None
        if not out.exists():
            from .exits import describe_exit

            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            return {"crashed": describe_exit(proc.returncode).text, "stderr_tail": tail}
        return json.loads(out.read_text())


def doctor_text(python: str) -> tuple[str, int]:
    from . import doctor

    probe = probe_interpreter(python)
    if "crashed" in probe:
        from .classify import classify_failure

        cls = classify_failure(status="crashed", text=probe["stderr_tail"], gpu_stack=True)
        return (f"tfmatrix doctor: {python}: the probe itself died ({probe['crashed']}): {cls.cls}\n"
                f"  evidence: {cls.evidence}\n  fix: {cls.fix}", 1)
    diagnosis = doctor.diagnose(probe, probe.get("nvml") or {"available": False, "reason": "not collected"})
    return doctor.render(diagnosis), (1 if diagnosis.errors else 0)


def doctor_session(session: Any, ctx: bench.Context) -> None:
    """Diagnose ``--python PATH``, or else this session's own venv with the matrix's newest TensorFlow."""
    import argparse

    p = argparse.ArgumentParser(prog="nox -s doctor --")
    p.add_argument("--python", default=None)
    args = p.parse_args(session.posargs)
    python = args.python
    if python is None:
        newest = max((t for t in ctx.matrix.tensorflow if not t.expect), key=lambda t: Version(t.version))
        session.install(f"tensorflow=={newest.version}", *newest.requires, "nvidia-ml-py")
        python = runner_python(session)
    try:
        text, status = doctor_text(python)
    except TfmatrixError as exc:
        session.error(f"tfmatrix: {exc.one_line()}")
    print(text)
    if status:
        session.error("tfmatrix doctor found errors (above)")


def runner_python(session: Any) -> str:
    from .runner import python_in

    return python_in(Path(session.virtualenv.location))


def compare_command(args: Any) -> int:
    from . import compare

    root = results_root(Path.cwd())
    if len(args.runs) == 0:
        base, cand = compare.two_latest(root)
    elif len(args.runs) == 2:
        base, cand = (compare.resolve_run(r, root) for r in args.runs)
    else:
        raise TfmatrixError(f"compare: got {len(args.runs)} runs; expected none (the two latest) or BASE CANDIDATE")
    thresholds = {}
    for item in args.metric_threshold:
        name, _, value = item.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise TfmatrixError(f"--metric-threshold: got {item!r}; expected METRIC=FACTOR such as load=1.25") from None
    cmp = compare.compare_folders(base, cand, threshold=args.threshold, alpha=args.alpha, thresholds=thresholds)
    for warning in cmp.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    text = compare.render_markdown(cmp)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    from .report.render import write_compare

    html = Path(args.html) if args.html else reports_root(Path.cwd()) / "compare" / f"{base.name}_vs_{cand.name}.html"
    print(f"compare page: {write_compare(cmp, html)}")
    return cmp.exit_status


def report_command(args: Any) -> int:
    from .report import plots, render

    from .changepoints import for_runs

    built = render.build_report(results_root(Path.cwd()), reports_root(Path.cwd()), args.run_id,
                                baseline=args.baseline, plots=plots.draw_all, change_points=for_runs)
    for warning in built.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    print(f"report: {built.run_page}")
    if built.latest:
        print(f"latest: {built.latest}")
    print(f"index:  {built.index}")
    return 0


def publish_command(args: Any) -> int:
    from . import publish

    root = Path.cwd()
    results = results_root(root)
    summary = publish.publish(results, root, Path(args.asv_results) if args.asv_results else results / "asv",
                              Path(args.html_dir) if args.html_dir else reports_root(root) / "asv")
    for warning in summary.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    print(f"asv results: {summary.asv_results} ({len(summary.published)} files from {len(summary.published_runs)} runs)")
    print(f"asv site:    {summary.html_dir}")
    print(f"report:      {summary.report} ({len(summary.change_points)} change points)")
    return 0


def merge_command(args: Any) -> int:
    from . import merge

    result = merge.merge([Path(d) for d in args.dirs], results_root(Path.cwd()), run_id=args.run_id)
    for warning in result.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    print("\n".join(result.lines()))
    print(f"next: nox -s report -- {result.run.run_id}")
    return 0


def scale_command(args: Any) -> int:
    from . import scale

    for result in scale.run(Path(args.root).resolve()):
        print(result.line())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfmatrix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a matrix file and list its combinations")
    v.add_argument("matrix", nargs="?", default=None)
    v.add_argument("--profile", default="default")
    c = sub.add_parser("compare", help="compare two runs; exit 1 when anything regressed")
    c.add_argument("runs", nargs="*", help="BASE CANDIDATE: run ids or folders (default: the two latest runs)")
    c.add_argument("--threshold", type=float, default=1.10, help="slowdown factor that may count (default 1.10)")
    c.add_argument("--metric-threshold", action="append", default=[], metavar="METRIC=FACTOR",
                   help="per-metric threshold, e.g. load=1.25 (repeatable)")
    c.add_argument("--alpha", type=float, default=0.01, help="Mann-Whitney U significance level (default 0.01)")
    c.add_argument("--markdown", help="also write the Markdown summary to this file")
    c.add_argument("--html", help="where to write the HTML page (default: reports/compare/BASE_vs_CANDIDATE.html)")
    r = sub.add_parser("report", help="build the HTML report of a run (default: the latest) and the index of runs")
    r.add_argument("run_id", nargs="?", default=None)
    r.add_argument("--baseline", default=None,
                   help="the combination others are compared with (default: the oldest TensorFlow that ran ok)")
    d = sub.add_parser("doctor", help="diagnose a Python environment's TensorFlow / CUDA / cuDNN / driver")
    d.add_argument("--python", default=sys.executable, help="the interpreter to diagnose (default: this one)")
    pb = sub.add_parser("publish", help="write every run in asv's format and build the asv site (asv publish)")
    pb.add_argument("--asv-results", default=None, help="default: results/asv")
    pb.add_argument("--html-dir", default=None, help="default: reports/asv")
    m = sub.add_parser("merge", help="merge run folders written on several machines into one new run")
    m.add_argument("dirs", nargs="+", metavar="DIR", help="run folders, or results folders holding run folders")
    m.add_argument("--run-id", default=None, help="the merged run's id (default: a new one)")
    s = sub.add_parser("scale", help="time the report and compare over 10,000 synthetic records")
    s.add_argument("--root", default=".", help="the project folder (holds benchmarks/)")
    args = parser.parse_args(argv)
    commands = {"compare": compare_command, "report": report_command, "publish": publish_command,
                "scale": scale_command, "merge": merge_command}
    if args.command in commands:
        try:
            return commands[args.command](args)
        except TfmatrixError as exc:
            fail(exc)
    if args.command == "doctor":
        try:
            text, status = doctor_text(args.python)
        except TfmatrixError as exc:
            fail(exc)
        print(text)
        return status
    try:
        path = Path(args.matrix) if args.matrix else matrix_path_from_env(Path.cwd())
        matrix = load_matrix(path)
        for combo in combinations(matrix, args.profile):
            print(f"bench({combo.id})  models={','.join(m.id for m in combo.models)}  tags={','.join(combo.tags)}")
    except TfmatrixError as exc:
        fail(exc)
    return 0
