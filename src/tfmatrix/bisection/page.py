"""The bisection's page: every probed version in order, the metric over them (a metric bisection), the verdict.

Data (:class:`~.driver.Answer`), then a view model (:class:`PageView`), then a jinja2 template
(``bisect.html.j2``), as the run report does; the figure is matplotlib's SVG, inlined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..records import metrics as catalogue
from ..records.quantity import axis_scale
from ..records.store import RunDir, now
from .driver import Answer, term
from .search import Probe, Verdict

COLOURS = {Verdict.OLD: "#1a7f37", Verdict.NEW: "#cf222e", Verdict.SKIP: "#8250df", Verdict.UNDECIDED: "#bf8700"}


@dataclass(frozen=True)
class Row:
    version: str
    verdict: str
    css: str
    evidence: str
    record: str
    remeasured: bool


@dataclass(frozen=True)
class PageView:
    title: str
    criterion: str
    run_id: str
    generated_at: str
    verdict: list[str]
    rows: list[Row]
    figure: str | None


def figure(answer: Answer, probes: list[Probe]) -> str | None:
    """The metric's median at each probed version, with its 99 % interval (None: an outcome bisection)."""
    measured = [p for p in probes if p.value is not None]
    if not measured or not answer.measured:
        return None
    from ..report.plots import _pyplot, _svg_uri

    metric = catalogue.by_key(answer.measured)
    scale = axis_scale(metric.unit, (p.high if p.high is not None else p.value for p in measured))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.2), layout="constrained")
    xs = list(range(len(measured)))
    for x, p in zip(xs, measured):
        median = p.value if p.value is not None else math.nan
        value = scale.of(median)
        lo = value - scale.of(p.low if p.low is not None else median)
        hi = scale.of(p.high if p.high is not None else median) - value
        ax.errorbar([x], [value], yerr=[[lo], [hi]], fmt="o", color=COLOURS[p.verdict], capsize=3)
    ax.set_xticks(xs, [p.version for p in measured], rotation=45, ha="right")
    ax.set_ylabel(scale.label(metric.label))
    return _svg_uri(fig)


def view(answer: Answer) -> PageView:
    probes = answer.probes
    q = answer.question
    rows = [Row(p.version, term(q, p.verdict), {"old": "ok", "new": "unexpected", "skip": "install-failed",
                                                "undecided": "degraded"}[p.verdict.value],
                p.evidence, p.record, p.remeasured) for p in probes]
    return PageView(title=f"bisect {q.like}: {q.good} .. {q.bad}", criterion=answer.criterion_text,
                    run_id=answer.run_id, generated_at=now(), verdict=answer.verdict_lines(), rows=rows,
                    figure=figure(answer, probes))


def write_page(answer: Answer, run: RunDir, reports: Path) -> Path:
    from ..report.render import render, write_text_atomic

    path = reports / run.run_id / "bisect.html"
    page = view(answer)
    write_text_atomic(path, render("bisect.html.j2", page=page, generated_at=page.generated_at))
    return path
