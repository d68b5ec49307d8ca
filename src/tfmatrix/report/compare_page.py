"""The view model of the compare page: a :class:`~tfmatrix.history.comparison.Comparison` as rows of text.

A page shows up to :data:`ROWS` rows a table (regressions first where not all fit) and says how many more the JSON
beside it holds (:meth:`~tfmatrix.history.comparison.Comparison.to_json`: every row), so two runs of 50,000
combinations make a page a browser opens (it was 78 MB) instead of one with 300,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records.quantity import RATIO, Quantity

ROWS = 1000  # rows of each table a page shows; the rest are in the JSON beside it
IDS = 200  # ids a page lists of those present in one run only
WARNINGS = 100  # warnings a page shows (each was printed on stderr too)
VERDICT_CSS = {"regression": "unexpected", "improvement": "ok", "changed": "degraded", "undecidable": "skipped"}


@dataclass(frozen=True)
class CompareRow:
    combination: str
    model: str
    metric: str
    base: str
    candidate: str
    ratio: str
    p_value: str
    noise: str  # the run-to-run noise it was judged against: "±4% (6 runs)", or "unknown"
    verdict: str
    css: str


@dataclass
class ComparePage:
    generated_at: str
    base_run: str
    candidate_run: str
    regressed: bool
    summary: str
    status_changes: list[Any]
    notable: list[CompareRow]
    unchanged: list[CompareRow]
    more: dict[str, int]  # of each table (status, notable, unchanged) and list, how many it does not show
    unchanged_count: int  # all the unchanged metrics, shown or not
    data: str  # the JSON beside the page, which has every row: its file name
    only_in_base: list[str]
    only_in_candidate: list[str]
    warnings: list[str]
    noise: str  # what the run-to-run noise rests on, one line
    noise_factor: str  # how many times the noise a change must exceed


def build_compare_page(cmp: Any, generated_at: str, data: str) -> ComparePage:
    """The comparison (:class:`tfmatrix.history.comparison.Comparison`) as rows of text, up to :data:`ROWS` a
    table (:meth:`~tfmatrix.history.comparison.Comparison.most_notable` picks them); ``data``: the JSON beside the page."""
    status = cmp.most_notable(cmp.status_changes, ROWS)
    changed = [c for c in cmp.changes if c.verdict != "unchanged"]
    notable = cmp.most_notable(changed, ROWS)
    unchanged = [c for c in cmp.changes if c.verdict == "unchanged"]
    more = {"status": len(cmp.status_changes) - len(status), "notable": len(changed) - len(notable),
            "unchanged": max(0, len(unchanged) - ROWS), "only_in_base": max(0, len(cmp.only_in_base) - IDS),
            "only_in_candidate": max(0, len(cmp.only_in_candidate) - IDS),
            "warnings": max(0, len(cmp.warnings) - WARNINGS)}
    return ComparePage(
        generated_at, cmp.base_run, cmp.candidate_run, bool(cmp.regressions),
        f"{len(cmp.regressions)} regression(s), {len(cmp.improvements)} improvement(s), "
        f"{len(cmp.changes)} metrics compared",
        [(s, VERDICT_CSS.get(s.verdict, "")) for s in status], [_row(c) for c in notable],
        [_row(c) for c in unchanged[:ROWS]], more, len(unchanged), data,
        list(cmp.only_in_base[:IDS]), list(cmp.only_in_candidate[:IDS]), list(cmp.warnings[:WARNINGS]),
        cmp.noise_line, f"{cmp.noise_factor:g}")


def _row(c: Any) -> CompareRow:
    return CompareRow(c.combination, c.model or "–", c.metric.shown, Quantity(c.base_median, c.unit).text,
                      Quantity(c.cand_median, c.unit).text, Quantity(c.ratio, RATIO).text,
                      f"{c.p_value:.3g}" if c.p_value is not None else "–", c.noise_shown,
                      c.verdict, VERDICT_CSS.get(c.verdict.split(" (")[0], ""))
