"""The Markdown summary of a :class:`~tfmatrix.history.compare.Comparison`, fit for a CI comment."""

from __future__ import annotations

from ..records.quantity import RATIO, Quantity
from .compare import Comparison


def render_markdown(cmp: Comparison) -> str:
    """A summary fit for a CI comment."""
    head = "regressed" if cmp.regressions else "no regression"
    lines = [f"## tfmatrix compare: {head}", "",
             f"base `{cmp.base_run}` → candidate `{cmp.candidate_run}`: {len(cmp.regressions)} regression(s), "
             f"{len(cmp.improvements)} improvement(s), {len(cmp.changes)} metrics compared", ""]
    if cmp.status_changes:
        lines += ["| combination | base | candidate | verdict | why |", "|---|---|---|---|---|"]
        lines += [f"| {s.combination} | {s.base} | {s.candidate} | **{s.verdict}** | {s.why.replace('|', '/')} |"
                  for s in cmp.status_changes]
        lines.append("")
    notable = [c for c in cmp.changes if c.verdict != "unchanged"]
    if notable:
        lines += ["| combination | model | metric | base | candidate | ratio | p | run-to-run noise | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in notable:
            p = f"{c.p_value:.3g}" if c.p_value is not None else "–"
            verdict = f"**{c.verdict}**" if c.verdict in ("regression", "improvement") else c.verdict
            lines.append(f"| {c.combination} | {c.model or '–'} | {c.metric.shown} | "
                         f"{Quantity(c.base_median, c.unit)} | {Quantity(c.cand_median, c.unit)} | "
                         f"{Quantity(c.ratio, RATIO)} | {p} | "
                         f"{c.noise_shown} | {verdict} |")
        lines.append("")
    for label, ids in (("only in base", cmp.only_in_base), ("only in candidate", cmp.only_in_candidate)):
        if ids:
            lines.append(f"- {label}: {', '.join(ids)}")
    for line in cmp.rounds:
        lines.append(f"- re-measured: {line}")
    for warning in cmp.warnings:
        lines.append(f"- warning: {warning}")
    lines.append(f"- {cmp.noise_line}")
    return "\n".join(lines).rstrip() + "\n"
