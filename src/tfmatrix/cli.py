"""``python -m tfmatrix``: validate, compare, report, publish, merge, scale, doctor, bisect, fix.

User errors (:class:`~tfmatrix.errors.TfmatrixError`) are caught in one place,
:func:`tfmatrix.errors.reported`: one line on stderr, exit status 2, no
traceback.  What the noxfile's sessions call is :mod:`tfmatrix.sessions`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from .errors import TfmatrixError, reported
from .records.store import reports_root, results_root


def fail(line: str) -> NoReturn:
    sys.stderr.write(f"tfmatrix: error: {line}\n")
    raise SystemExit(2)


def probe_interpreter(python: str, timeout: float = 300.0) -> dict[str, Any]:
    """Run the probe (``tfmatrix.worker.probe.collect_all``) in another interpreter; its JSON back."""
    import json
    import subprocess
    import tempfile

    src = str(Path(__file__).resolve().parent.parent)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from tfmatrix.worker.probe import collect_all; "
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
            from .run.execution.exits import describe_exit

            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            return {"crashed": describe_exit(proc.returncode).text, "stderr_tail": tail, "returncode": proc.returncode}
        return json.loads(out.read_text())


def doctor_text(python: str, run_probe: Callable[[str], dict[str, Any]] = probe_interpreter) -> tuple[str, int]:
    """``doctor`` on the interpreter ``python``; ``run_probe`` runs the probe there (the seam for an end no
    process on this system can have, a Windows NTSTATUS)."""
    from .diagnosis import doctor

    probe = run_probe(python)
    if "crashed" in probe:
        from .diagnosis.classify import classify_failure
        from .records.status import PhaseStatus
        from .run.execution.exits import describe_exit

        end = describe_exit(probe.get("returncode"))  # how it ended names the class where it printed nothing
        cls = classify_failure(status=PhaseStatus.CRASHED, text=f"{probe['stderr_tail']}\n{probe['crashed']}",
                               signal=end.signal, ntstatus=end.ntstatus, gpu_stack=True)
        return (f"tfmatrix doctor: {python}: the probe itself died ({probe['crashed']}): {cls.cls}\n"
                f"  evidence: {cls.evidence}\n  fix: {cls.fix}", 1)
    diagnosis = doctor.diagnose(probe, probe.get("nvml") or {"available": False, "reason": "not collected"})
    return doctor.render(diagnosis), (1 if diagnosis.errors else 0)


def compare_command(args: Any) -> int:
    from .history import compare
    from .history.markdown import render_markdown
    from .records.metrics import check_name

    root = results_root(Path.cwd())
    if args.within is not None:
        if len(args.runs) != 2:
            raise TfmatrixError(f"compare --within {args.within}: got {len(args.runs)} combinations; expected BASE "
                                "CANDIDATE, two combination ids of that run")
        base = cand = compare.resolve_run(args.within, root)
    elif len(args.runs) == 0:
        base, cand = compare.two_latest(root)
    elif len(args.runs) == 2:
        base, cand = (compare.resolve_run(r, root) for r in args.runs)
    else:
        raise TfmatrixError(f"compare: got {len(args.runs)} runs; expected none (the two latest) or BASE CANDIDATE")
    thresholds = {}
    for item in args.metric_threshold:
        name, _, value = item.partition("=")
        try:
            thresholds[check_name(name, "--metric-threshold")] = float(value)
        except ValueError:
            raise TfmatrixError(f"--metric-threshold: got {item!r}; expected METRIC=FACTOR such as load=1.25") from None
    if args.history < 0:
        raise TfmatrixError(f"compare --history: got {args.history}; expected a number of runs >= 0")
    if args.within is not None:
        records = compare.load_records(base)
        missing = [c for c in args.runs if c not in records]
        if missing:
            raise TfmatrixError(f"compare --within {base}: no record of {', '.join(missing)}; it holds "
                                f"{', '.join(sorted(records))}")
        from .history import gate

        if args.max_cold_starts < 1:
            raise TfmatrixError(f"compare --max-cold-starts: got {args.max_cold_starts}; expected a number of cold "
                                "starts a side >= 1")
        remeasure = gate.Remeasure(args.nox_python, Path(args.noxfile), ("--quick",) if args.quick else (),
                                   args.max_cold_starts) if args.nox_python and args.noxfile else None
        cmp = gate.adaptive(records[args.runs[0]], records[args.runs[1]],
                            lambda b, c: gate.compare_combinations(b, c, threshold=args.threshold, alpha=args.alpha,
                                                                   thresholds=thresholds),
                            remeasure, base.parent)
    else:
        cmp = compare.compare_folders(base, cand, threshold=args.threshold, alpha=args.alpha, thresholds=thresholds,
                                      history=args.history)
    for warning in cmp.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    text = render_markdown(cmp)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    from .report.render import compare_data, write_compare

    name = f"{base.name}_{args.runs[0]}_vs_{args.runs[1]}" if args.within else f"{base.name}_vs_{cand.name}"
    html = Path(args.html) if args.html else reports_root(Path.cwd()) / "compare" / f"{name}.html"
    print(f"compare page: {write_compare(cmp, html)} (every row: {compare_data(html)})")
    return cmp.exit_status


def report_command(args: Any) -> int:
    from .history.changepoints import for_summaries
    from .report import plots, render

    built = render.build_report(results_root(Path.cwd()), reports_root(Path.cwd()), args.run_id,
                                baseline=args.baseline, plots=plots.draw_all, change_points=for_summaries)
    for warning in built.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    print(f"report: {built.run_page}")
    if built.latest:
        print(f"latest: {built.latest}")
    print(f"index:  {built.index}")
    return 0


def publish_command(args: Any) -> int:
    from .history import publish

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
    from .history import merge

    result = merge.merge([Path(d) for d in args.dirs], results_root(Path.cwd()), run_id=args.run_id)
    for warning in result.warnings:
        sys.stderr.write(f"tfmatrix: warning: {warning}\n")
    print("\n".join(result.lines()))
    print(f"next: nox -s report -- {result.run.run_id}")
    return 0


def scale_command(args: Any) -> int:
    from .history import scale
    from .records.model import now

    root, started = Path(args.root).resolve(), now()
    results = scale.run(root, records=args.records, runs=args.runs, samples=args.samples, cases=args.case)
    for line in [r.line() for r in results] + scale.ratios(results):
        print(line)
    if args.json:
        print(f"scale: {scale.write_json(results, Path(args.json))}")
    folder = scale.write_run(results, Path(args.results).resolve() if args.results else results_root(root), root,
                             records=args.records, runs=args.runs, started_at=started)
    print(f"records: {folder} (compare two runs of the same size: python -m tfmatrix compare BASE {folder.name})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command's options; compare's and scale's defaults are read from their modules, never restated."""
    from .history import compare, gate, scale

    parser = argparse.ArgumentParser(prog="python -m tfmatrix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a matrix file and list its combinations")
    v.add_argument("matrix", nargs="?", default=None)
    v.add_argument("--profile", default="default")
    c = sub.add_parser("compare", help="compare two runs; exit 1 when anything regressed")
    c.add_argument("runs", nargs="*", help="BASE CANDIDATE: run ids or folders (default: the two latest runs); "
                                           "with --within, two combination ids of that run")
    c.add_argument("--within", default=None, metavar="RUN",
                   help="compare two combinations of this run (what `nox -s compare -- --rerun-base` measured)")
    c.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD,
                   help="slowdown factor that may count (default %(default)g)")
    c.add_argument("--metric-threshold", action="append", default=[], metavar="METRIC=FACTOR",
                   help="per-metric threshold, e.g. load=1.25 (repeatable)")
    c.add_argument("--alpha", type=float, default=compare.DEFAULT_ALPHA,
                   help="Mann-Whitney U significance level (default %(default)g)")
    c.add_argument("--history", type=int, default=compare.DEFAULT_HISTORY, metavar="N",
                   help="earlier runs whose spread is each metric's run-to-run noise (default %(default)d; 0: none)")
    c.add_argument("--max-cold-starts", type=int, default=gate.MAX_COLD_STARTS, metavar="N",
                   help="--rerun-base: cold starts a side the gate may add rounds up to, where a cold-start metric "
                        "moved but p is not yet below alpha (default %(default)d)")
    c.add_argument("--nox-python", default=None, help=argparse.SUPPRESS)  # set by `nox -s compare -- --rerun-base`
    c.add_argument("--noxfile", default=None, help=argparse.SUPPRESS)
    c.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # the gate's rounds run bench --quick
    c.add_argument("--markdown", help="also write the Markdown summary to this file")
    c.add_argument("--html", help="where to write the HTML page (default: reports/compare/BASE_vs_CANDIDATE.html); "
                   "the JSON with every row is written beside it (BASE_vs_CANDIDATE.json)")
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
    b = sub.add_parser("bisect", help="find the first TensorFlow version where an outcome or a metric changed",
                       add_help=False)
    b.add_argument("words", nargs=argparse.REMAINDER, help="the options of `nox -s bisect --` (see docs/bisect.md)")
    f = sub.add_parser("fix", help="find and prove the smallest pin change that makes a failed combination pass",
                       add_help=False)
    f.add_argument("words", nargs=argparse.REMAINDER, help="the options of `nox -s fix --` (see docs/fix.md)")
    s = sub.add_parser("scale", help=f"time the report and compare over {scale.RECORDS:,} synthetic records")
    s.add_argument("--root", default=".", help="the project folder (holds benchmarks/)")
    s.add_argument("--records", type=int, default=scale.RECORDS, metavar="N",
                   help="synthetic records (default %(default)d; a few hundred make a smoke run)")
    s.add_argument("--runs", type=int, default=scale.RUNS, metavar="R",
                   help="runs the report's records are spread over (default %(default)d; compare reads two)")
    s.add_argument("--samples", type=int, default=scale.SAMPLES, metavar="K",
                   help="samples of each case (default %(default)d: as many as compare needs for a verdict)")
    s.add_argument("--case", action="append", default=[], metavar="PATTERN",
                   help="only the cases whose Class.method matches (repeatable; shell patterns: 'CompareScale.*', "
                        "'*.time_report'); default: every case")
    s.add_argument("--json", metavar="PATH", help="also write each benchmark's raw samples to this JSON file")
    s.add_argument("--results", metavar="DIR", default=None,
                   help="the results folder its run of records goes to (default: results/, or $TFMATRIX_RESULTS)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] in (["bisect"], ["fix"]):  # their words, in their order, are their own parser's
        args = argparse.Namespace(command=words[0], words=words[1:])
    else:
        args = build_parser().parse_args(words)
    commands = {"compare": compare_command, "report": report_command, "publish": publish_command,
                "scale": scale_command, "merge": merge_command, "doctor": doctor_command,
                "validate": validate_command, "bisect": bisect_command, "fix": fix_command}
    with reported(fail):
        return commands[args.command](args)


def bisect_command(args: Any) -> int:
    from .bisection import command

    return _probing("bisect", command.main, args.words)


def fix_command(args: Any) -> int:
    from .fixing import command

    return _probing("fix", command.main, args.words)


def _probing(name: str, main: Any, words: list[str]) -> int:
    """A command that runs probes (bisect, fix): Ctrl-C or SIGTERM stops the running probe, which records it."""
    from .run.noxside.interrupts import signal_name_of, signals_as_interrupt

    words = words[1:] if words[:1] == ["--"] else words
    try:
        with signals_as_interrupt():
            _, status = main(words)
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"tfmatrix: {name}: interrupted by {signal_name_of(exc)}; the probes recorded so far are "
                         "kept: the same command with --resume continues\n")
        return 130
    return status


def doctor_command(args: Any) -> int:
    text, status = doctor_text(args.python)
    print(text)
    return status


def validate_command(args: Any) -> int:
    from .matrix.expand import combinations, matrix_path_from_env
    from .matrix.load import load_matrix

    matrix = load_matrix(Path(args.matrix) if args.matrix else matrix_path_from_env(Path.cwd()))
    for combo in combinations(matrix, args.profile):
        print(f"bench({combo.id})  models={','.join(m.id for m in combo.models)}  tags={','.join(combo.tags)}")
    return 0
