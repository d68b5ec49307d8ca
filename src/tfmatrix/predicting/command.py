"""``nox -s predict -- --platform windows,macos-arm64 [--python 3.10,3.11] [--jobs N]``.

Every combination of the profile, resolved for each platform (and Python: by default the combination's own)
without installing anything; one :class:`~tfmatrix.records.prediction.PlatformPrediction` each in this
invocation's run (``results/<run>/predictions/``), and a table of them printed.  Nothing runs on the target:
a prediction says what the resolver and TensorFlow's own statements say, no more.
"""

from __future__ import annotations

import argparse
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NoReturn, Sequence

from ..diagnosis import platforms
from ..errors import TfmatrixError
from ..matrix.model import Combination
from ..records.model import RunRecord, now
from ..records.prediction import Platform, PlatformPrediction
from ..records.store import RunDir
from ..run.execution.host import collect_git, host_fingerprint
from ..run.noxside.context import Context
from .predict import predict

#: resolves at once: each is mostly waiting on the network or uv's cache
JOBS = 4
_PYTHON = re.compile(r"^3\.[0-9]+$")


class _Parser(argparse.ArgumentParser):
    """argparse whose every error (a missing --platform, an unknown option) is tfmatrix's one line, not an exit:
    this parser runs inside nox's own process."""

    def error(self, message: str) -> NoReturn:
        raise TfmatrixError(f"predict options: {message}; see nox -s predict -- --help")


def parser() -> argparse.ArgumentParser:
    known = ", ".join(platforms.load().platforms)
    p = _Parser(prog="nox -s predict --", exit_on_error=False,
                description="Predict whether each combination installs on other platforms.")
    p.add_argument("--platform", required=True, help=f"comma-separated: {known}")
    p.add_argument("--python", default=None, help="comma-separated Python versions (default: each combination's own)")
    p.add_argument("--only", default=None, help="comma-separated combination ids (default: the whole profile)")
    p.add_argument("--jobs", type=int, default=JOBS, help="resolves at once (default %(default)d)")
    return p


def _split(value: str | None) -> list[str]:
    return [w.strip() for w in (value or "").split(",") if w.strip()]


def parse(words: Sequence[str]) -> argparse.Namespace:
    try:
        args = parser().parse_args(list(words))
    except argparse.ArgumentError as exc:
        raise TfmatrixError(f"predict options: {exc}") from None
    bad = [v for v in _split(args.python) if not _PYTHON.match(v)]
    if bad:
        raise TfmatrixError(f"--python: got {bad[0]!r}; expected versions such as 3.10,3.11")
    if args.jobs < 1:
        raise TfmatrixError(f"--jobs: got {args.jobs}; expected 1 or more")
    return args


def main(ctx: Context, words: Sequence[str], say: Callable[[str], object] = print) -> list[PlatformPrediction]:
    """Predict, write every record, print the table; the records, in the table's order."""
    args = parse(words)
    data = platforms.load()
    targets = [data.platform(name) for name in _split(args.platform)]
    if not targets:
        raise TfmatrixError("--platform: got nothing; expected one or more of " + ", ".join(data.platforms))
    combos = _chosen(ctx, _split(args.only))
    pythons = _split(args.python)
    each: list[str | None] = list(pythons) or [None]
    work = [(c, t, py) for t in targets for py in each for c in combos]
    run = RunDir(ctx.results_root, ctx.run_id)
    run.ensure(lambda: RunRecord(
        run_id=run.run_id, started_at=now(), host=host_fingerprint(),
        matrix={"path": ctx.matrix.path, "sha256": ctx.matrix.sha256}, profile=ctx.profile,
        suite=collect_git(ctx.root), options={"models": [], "quick": False, "assume_gpu": False, "predict": {
            "platforms": [t.name for t in targets], "pythons": pythons}}))
    logs = run.path / "logs" / "predict"
    say(f"tfmatrix predict: {len(combos)} combination(s) of profile {ctx.profile!r} on "
        f"{', '.join(f'{t.name} ({t.python_platform})' for t in targets)}: resolved with uv pip compile "
        "--python-platform, nothing installed")

    def one(item: tuple[Combination, Platform, str | None]) -> PlatformPrediction:
        combo, target, python = item
        record = predict(combo, target, python or combo.python, data, run_id=run.run_id, work=logs)
        run.write_prediction(record)
        return record

    with ThreadPoolExecutor(max_workers=args.jobs, thread_name_prefix="tfmatrix-predict") as pool:
        records = list(pool.map(one, work))
    for line in table(records):
        say(line)
    say(f"records: {run.path / 'predictions'} ({len(records)}); the grid: nox -s report -- {run.run_id}")
    return records


def _chosen(ctx: Context, only: list[str]) -> list[Combination]:
    return [ctx.combination(cid) for cid in only] if only else list(ctx.combos)


def table(records: Sequence[PlatformPrediction]) -> list[str]:
    """One block per platform and Python; one line per combination, then TensorFlow's statements once each."""
    lines: list[str] = []
    width = max((len(r.combination.id) for r in records), default=10)
    blocks: dict[tuple[str, str], list[PlatformPrediction]] = {}
    for r in records:
        blocks.setdefault((r.platform.name, r.python), []).append(r)
    for (name, python), group in blocks.items():
        ok = sum(r.installable for r in group)
        lines.append(f"{name} ({group[0].platform.python_platform}), Python {python}: {ok} of {len(group)} installable")
        said: dict[str, str] = {}
        for r in group:
            detail = r.why if not r.installable else ""
            lines.append(f"  {r.combination.id:<{width}}  {r.verdict:<22}  {detail}".rstrip())
            for s in r.statements:
                said.setdefault(s["statement"], f"{s['source']}: \"{s['quote']}\"; instead: {s['advice']}")
        fixes = {r.failure.fix for r in group if r.failure and r.failure.fix}
        for fix in sorted(fixes):
            lines.append(f"  fix: {fix}")
        for statement, where in said.items():
            lines.append(f"  TensorFlow says: {statement} ({where})")
    return lines
