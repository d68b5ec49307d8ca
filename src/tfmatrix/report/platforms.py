"""The platform grid: every prediction of a run (``nox -s predict``), combination (row) x platform (column).

A prediction is what the resolver says about a platform nothing ran on, never a measurement: the grid
stands apart from the compatibility grid, and says so.  Each cell is ``installable``, ``installable, no GPU``
(TensorFlow itself says the combination's GPU does not work there) or the install class, with its one line
and its fix; TensorFlow's statements are listed once below the grid with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..records.prediction import PlatformPrediction


@dataclass(frozen=True)
class PlatformCell:
    verdict: str  # installable | installable, no GPU | no-wheel | resolver-conflict | ...
    css: str
    why: str
    fix: str
    culprit: str


@dataclass(frozen=True)
class PlatformRow:
    combination: str
    tensorflow: str
    stack: str
    cells: list[PlatformCell | None]  # one per column; None: not predicted there


@dataclass(frozen=True)
class Statement:
    statement: str
    quote: str
    source: str
    advice: str
    combinations: list[str]


@dataclass(frozen=True)
class PlatformGrid:
    columns: list[str]  # "windows, Python 3.11"
    rows: list[PlatformRow]
    counts: list[str]  # per column: "1 of 8 installable"
    statements: list[Statement]


def css_of(record: PlatformPrediction) -> str:
    if record.installable:
        return "degraded" if record.gpu_denied else "ok"
    return "install-failed"


def _column(record: PlatformPrediction) -> str:
    return f"{record.platform.name}, Python {record.python}"


def build_platforms(predictions: Iterable[PlatformPrediction]) -> PlatformGrid | None:
    """The grid of a run's predictions; None when it has none."""
    records = list(predictions)
    if not records:
        return None
    columns = sorted({_column(r) for r in records})
    order: dict[str, PlatformPrediction] = {}
    for r in sorted(records, key=lambda r: r.combination.id):
        order.setdefault(r.combination.id, r)
    cells: dict[tuple[str, str], PlatformPrediction] = {(r.combination.id, _column(r)): r for r in records}
    rows = []
    for cid, first in order.items():
        row: list[PlatformCell | None] = []
        for col in columns:
            cell = cells.get((cid, col))
            row.append(None if cell is None else PlatformCell(
                verdict=cell.verdict, css=css_of(cell), why=cell.why,
                fix=(cell.failure.fix if cell.failure else "") or "",
                culprit=(cell.failure.culprit if cell.failure else "") or ""))
        rows.append(PlatformRow(cid, first.combination.tensorflow, first.combination.stack_kind, row))
    counts = []
    for col in columns:
        group = [r for r in records if _column(r) == col]
        counts.append(f"{sum(r.installable for r in group)} of {len(group)} installable")
    said: dict[str, Statement] = {}
    for r in records:
        for s in r.statements:
            st = said.setdefault(s["statement"], Statement(s["statement"], s.get("quote", ""), s.get("source", ""),
                                                           s.get("advice", ""), []))
            if r.combination.id not in st.combinations:
                st.combinations.append(r.combination.id)
    return PlatformGrid(columns, rows, counts, list(said.values()))
