"""The view model of the runs index, paged so that a year of nightly runs stays a small page.

* ``reports/index.html``: the newest :data:`RUNS_PER_PAGE` runs, and the newest
  :data:`CHANGE_POINTS_SHOWN` change points of the history with a count per metric;
* ``reports/index-2.html``, ``index-3.html``...: the older runs, :data:`RUNS_PER_PAGE` a page,
  each page linking every other (with the dates it spans);
* ``reports/changepoints.csv``: every change point, for a spreadsheet or pandas.

The page's size therefore grows with neither the runs nor the change points
(each page holds at most a fixed number of rows), only with the number of pages
in its pager.  Data (runs, change points) -> this view model -> ``index.html.j2``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..records.runcache import RunSummary
from .details import css_of

RUNS_PER_PAGE = 100
CHANGE_POINTS_SHOWN = 100
CSV_NAME = "changepoints.csv"
CSV_COLUMNS = ("run_id", "combination", "model", "metric", "unit", "before", "after", "ratio", "verdict")


@dataclass(frozen=True)
class IndexRow:
    run_id: str
    started: str
    profile: str
    commit: str
    counts: list[tuple[str, str, int]]
    href: str | None


@dataclass(frozen=True)
class PageLink:
    number: int  # 1: index.html
    href: str
    first: str  # the newest run on that page
    last: str  # its oldest
    current: bool


@dataclass(frozen=True)
class MetricCount:
    metric: str
    regressions: int
    improvements: int


@dataclass
class IndexPage:
    generated_at: str
    runs: list[IndexRow]
    warnings: list[str] = field(default_factory=list)
    change_points: list[Any] = field(default_factory=list)  # the newest ones only
    asv: bool = False
    number: int = 1
    pages: list[PageLink] = field(default_factory=list)  # empty when one page holds every run
    total_runs: int = 0
    total_change_points: int = 0
    per_metric: list[MetricCount] = field(default_factory=list)
    csv_href: str | None = None  # the full list, when there are change points


def page_name(number: int) -> str:
    return "index.html" if number == 1 else f"index-{number}.html"


def row(run: RunSummary, has_report: bool) -> IndexRow:
    return IndexRow(run.run_id, run.started, run.profile, run.commit,
                    [(o, css_of(o), n) for o, n in sorted(run.counts.items())] + _predicted(run),
                    f"{run.run_id}/index.html" if has_report else None)


def _predicted(run: RunSummary) -> list[tuple[str, str, int]]:
    """The index's badge for a run's predictions (never counted as outcomes)."""
    return [("predicted (not run)", "expected", run.predicted)] if run.predicted else []


def _started(r: IndexRow) -> str:
    return r.started[:10] if r.started != "?" else r.run_id[:8]


def per_metric(change_points: Sequence[Any]) -> list[MetricCount]:
    counts: dict[str, list[int]] = {}
    for c in change_points:
        n = counts.setdefault(c.metric.key, [0, 0])
        n[0 if c.verdict == "regression" else 1] += 1
    return [MetricCount(k, *n) for k, n in sorted(counts.items())]


def newest_change_points(change_points: Sequence[Any], shown: int = CHANGE_POINTS_SHOWN) -> list[Any]:
    """The newest ``shown``, newest run first; within a run, the largest steps (either way) first."""
    order = sorted(change_points, key=lambda c: (c.run_id, abs(_log(c.ratio))), reverse=True)
    return order[:shown]


def _log(ratio: float) -> float:
    return math.log(ratio) if ratio > 0 else 0.0


def index_pages(rows: Sequence[IndexRow], warnings: dict[str, list[str]], generated_at: str,
                change_points: Sequence[Any] = (), *, asv: bool = False, per_page: int = RUNS_PER_PAGE,
                shown: int = CHANGE_POINTS_SHOWN) -> list[IndexPage]:
    """The index pages, newest runs first; ``warnings``: run id -> its warnings (each on its run's page)."""
    rows = sorted(rows, key=lambda r: r.run_id, reverse=True)
    chunks = [list(rows[i:i + per_page]) for i in range(0, len(rows), per_page)] or [[]]
    links = [(n, page_name(n), _started(c[0]) if c else "", _started(c[-1]) if c else "")
             for n, c in enumerate(chunks, start=1)]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        first = number == 1
        pager = [PageLink(n, href, a, b, n == number) for n, href, a, b in links] if len(chunks) > 1 else []
        pages.append(IndexPage(
            generated_at, chunk, [w for r in chunk for w in warnings.get(r.run_id, [])],
            newest_change_points(change_points, shown) if first else [], asv, number, pager, len(rows),
            len(change_points) if first else 0, per_metric(change_points) if first else [],
            CSV_NAME if change_points else None))
    return pages


def changepoints_csv(change_points: Sequence[Any]) -> str:
    """Every change point, newest run first, in the units of its metric (seconds, bytes, images/s)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for c in newest_change_points(change_points, len(change_points)):
        out.writerow((c.run_id, c.combination, c.model or "", c.metric.key, c.unit, repr(float(c.before)),
                      repr(float(c.after)), repr(float(c.ratio)), c.verdict))
    return buf.getvalue()
