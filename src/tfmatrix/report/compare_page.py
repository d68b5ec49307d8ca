"""The view model of the compare page: a :class:`~tfmatrix.history.compare.Comparison` as rows of text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records.quantity import RATIO, Quantity

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
    only_in_base: list[str]
    only_in_candidate: list[str]
    warnings: list[str]
    noise: str  # what the run-to-run noise rests on, one line
    noise_factor: str  # how many times the noise a change must exceed


def build_compare_page(cmp: Any, generated_at: str) -> ComparePage:
    """The comparison (:class:`tfmatrix.history.compare.Comparison`) as rows of text."""
    rows = [CompareRow(c.combination, c.model or "–", c.metric.shown, Quantity(c.base_median, c.unit).text,
                       Quantity(c.cand_median, c.unit).text, Quantity(c.ratio, RATIO).text,
                       f"{c.p_value:.3g}" if c.p_value is not None else "–",
                       c.noise_shown,
                       c.verdict, VERDICT_CSS.get(c.verdict.split(" (")[0], ""))
            for c in cmp.changes]
    return ComparePage(
        generated_at, cmp.base_run, cmp.candidate_run, bool(cmp.regressions),
        f"{len(cmp.regressions)} regression(s), {len(cmp.improvements)} improvement(s), "
        f"{len(cmp.changes)} metrics compared",
        [(s, VERDICT_CSS.get(s.verdict, "")) for s in cmp.status_changes],
        [r for r in rows if r.verdict != "unchanged"], [r for r in rows if r.verdict == "unchanged"],
        list(cmp.only_in_base), list(cmp.only_in_candidate), list(cmp.warnings), cmp.noise_line,
        f"{cmp.noise_factor:g}")
