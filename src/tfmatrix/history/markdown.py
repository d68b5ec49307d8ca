"""The Markdown summary of a :class:`~tfmatrix.history.compare.Comparison`, fit for a CI comment.

GitHub refuses a comment over 65,536 characters.  A summary longer than :data:`BUDGET` keeps its head, its
notes and as many table rows as fit, regressions first, then improvements, then the rest (in their order), and
says how many it left out: the JSON beside the comparison's HTML page has every one.
"""

from __future__ import annotations

from ..records.quantity import RATIO, Quantity
from .comparison import Change, Comparison, StatusChange, rank

BUDGET = 60_000  # characters: under GitHub's 65,536 for a comment, with room for what a CI step adds around it
LIST_BUDGET = 2_000  # characters of one list of ids (only in base, only in candidate) in a summary over BUDGET
MAX_WARNINGS = 20  # warnings shown in a summary over BUDGET


def render_markdown(cmp: Comparison, budget: int = BUDGET) -> str:
    """A summary fit for a CI comment: every row where it fits in ``budget`` characters, else the rows that
    matter most and a line saying how many more the JSON beside the HTML page has."""
    status = [(rank(s.verdict), _status_row(s)) for s in cmp.status_changes]
    notable = [(rank(c.verdict), _change_row(c)) for c in cmp.changes if c.verdict != "unchanged"]
    text = _render(cmp, [r for _, r in status], [r for _, r in notable], [], cmp.warnings, None, budget)
    if len(text) <= budget:
        return text
    lists = [(label, _clip(ids)) for label, ids in (("only in base", cmp.only_in_base),
                                                     ("only in candidate", cmp.only_in_candidate))]
    warnings = cmp.warnings[:MAX_WARNINGS] + ([f"… and {len(cmp.warnings) - MAX_WARNINGS} more (each was printed "
                                                "on stderr)"] if len(cmp.warnings) > MAX_WARNINGS else [])
    frame = _render(cmp, [], [], lists, warnings, 10 ** 9, budget)  # all but the rows; the longest "left out"
    kept = _fit([(rank, 0, i, row) for i, (rank, row) in enumerate(status)]
                + [(rank, 1, i, row) for i, (rank, row) in enumerate(notable)], budget - len(frame) - 400)
    rows = [[row for _, table, _, row in sorted(kept, key=lambda k: k[2]) if table == t] for t in (0, 1)]
    return _render(cmp, rows[0], rows[1], lists, warnings, len(status) + len(notable) - len(kept), budget)


def _fit(rows: list[tuple[int, int, int, str]], room: int) -> list[tuple[int, int, int, str]]:
    """The rows (rank, table, index, line) that fit in ``room`` characters, by rank, then table, then index; a
    row that does not fit ends it, so no lesser row is shown while a greater one is left out."""
    kept, used = [], 0
    for row in sorted(rows):
        used += len(row[3]) + 1
        if used > room:
            break
        kept.append(row)
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
