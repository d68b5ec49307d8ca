"""The Markdown summary of a :class:`~tfmatrix.history.compare.Comparison`, fit for a CI comment.

GitHub refuses a comment over 65,536 characters.  A summary longer than :data:`BUDGET` keeps its head, its
notes and as many table rows as fit, regressions first, then improvements, then the rest (in their order), and
says how many it left out: the JSON beside the comparison's HTML page has every one.
"""

from __future__ import annotations

from typing import Callable

from ..records.quantity import RATIO, Quantity
from .comparison import Change, Comparison, StatusChange, rank

BUDGET = 60_000  # characters: under GitHub's 65,536 for a comment, with room for what a CI step adds around it
LIST_BUDGET = 2_000  # characters of one list of ids (only in base, only in candidate) in a summary over BUDGET
MAX_WARNINGS = 20  # warnings shown in a summary over BUDGET
MIN_ROW = 30  # characters: no table row is shorter (a status row has 20 of separators and a verdict of 7 or more)


def render_markdown(cmp: Comparison, budget: int = BUDGET) -> str:
    """A summary fit for a CI comment: every row where it fits in ``budget`` characters, else the rows that
    matter most and a line saying how many more the JSON beside the HTML page has.  Rows are formatted only
    while they may fit (a comparison of two runs of 50,000 combinations has 51,000 notable rows)."""
    status = cmp.status_changes
    notable = [c for c in cmp.changes if c.verdict != "unchanged"]
    if (len(status) + len(notable)) * MIN_ROW <= budget:  # it may all fit
        text = _render(cmp, [_status_row(s) for s in status], [_change_row(c) for c in notable], [], cmp.warnings,
                       None, budget)
        if len(text) <= budget:
            return text
    lists = [(label, _clip(ids)) for label, ids in (("only in base", cmp.only_in_base),
                                                     ("only in candidate", cmp.only_in_candidate))]
    warnings = cmp.warnings[:MAX_WARNINGS] + ([f"… and {len(cmp.warnings) - MAX_WARNINGS} more (each was printed "
                                                "on stderr)"] if len(cmp.warnings) > MAX_WARNINGS else [])
    frame = _render(cmp, [], [], lists, warnings, 10 ** 9, budget)  # all but the rows; the longest "left out"
    order = sorted([(rank(x.verdict), 0, i) for i, x in enumerate(status)]
                   + [(rank(x.verdict), 1, i) for i, x in enumerate(notable)])
    kept = _fit(order, lambda table, i: _status_row(status[i]) if table == 0 else _change_row(notable[i]),
                budget - len(frame) - 400)
    rows = [[row for table, _, row in sorted(kept, key=lambda k: k[1]) if table == t] for t in (0, 1)]
    return _render(cmp, rows[0], rows[1], lists, warnings, len(status) + len(notable) - len(kept), budget)


def _fit(order: list[tuple[int, int, int]], line: Callable[[int, int], str],
         room: int) -> list[tuple[int, int, str]]:
    """The rows (table, index, line) that fit in ``room`` characters, taken in ``order`` (rank, table, index) and
    formatted by ``line`` as they are taken; a row that does not fit ends it, so no lesser row is shown while a
    greater one is left out."""
    kept, used = [], 0
    for _, table, i in order:
        row = line(table, i)
        used += len(row) + 1
        if used > room:
            break
        kept.append((table, i, row))
    return kept


def _clip(ids: list[str]) -> str:
    shown: list[str] = []
    used = 0
    for cid in ids:
        used += len(cid) + 2
        if used > LIST_BUDGET:
            return ", ".join(shown) + f" … and {len(ids) - len(shown)} more"
        shown.append(cid)
    return ", ".join(shown)


def _status_row(s: StatusChange) -> str:
    return f"| {s.combination} | {s.base} | {s.candidate} | **{s.verdict}** | {s.why.replace('|', '/')} |"


def _change_row(c: Change) -> str:
    p = f"{c.p_value:.3g}" if c.p_value is not None else "–"
    verdict = f"**{c.verdict}**" if c.verdict in ("regression", "improvement") else c.verdict
    return (f"| {c.combination} | {c.model or '–'} | {c.metric.shown} | {Quantity(c.base_median, c.unit)} | "
            f"{Quantity(c.cand_median, c.unit)} | {Quantity(c.ratio, RATIO)} | {p} | {c.noise_shown} | {verdict} |")


def _render(cmp: Comparison, status: list[str], notable: list[str], lists: list[tuple[str, str]],
            warnings: list[str], left_out: int | None, budget: int) -> str:
    head = "regressed" if cmp.regressions else "no regression"
    lines = [f"## tfmatrix compare: {head}", "",
             f"base `{cmp.base_run}` → candidate `{cmp.candidate_run}`: {len(cmp.regressions)} regression(s), "
             f"{len(cmp.improvements)} improvement(s), {len(cmp.changes)} metrics compared", ""]
    if status:
        lines += ["| combination | base | candidate | verdict | why |", "|---|---|---|---|---|", *status, ""]
    if notable:
        lines += ["| combination | model | metric | base | candidate | ratio | p | run-to-run noise | verdict |",
                  "|---|---|---|---|---|---|---|---|---|", *notable, ""]
    if left_out:
        lines.append(f"- {left_out} more row(s) left out, the least important first, to keep this summary under "
                     f"{budget:,} characters (a CI comment's limit); the JSON beside the comparison's HTML page "
                     "has every one")
    for label, ids in lists or [("only in base", ", ".join(cmp.only_in_base)),
                                ("only in candidate", ", ".join(cmp.only_in_candidate))]:
        if ids:
            lines.append(f"- {label}: {ids}")
    for line in cmp.rounds:
        lines.append(f"- re-measured: {line}")
    for warning in warnings:
        lines.append(f"- warning: {warning}")
    lines.append(f"- {cmp.noise_line}")
    return "\n".join(lines).rstrip() + "\n"
