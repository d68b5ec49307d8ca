"""A measured value with its unit, shown to people: the one place that scales units for display.

Records keep every value in its base unit (``seconds``, ``bytes``, ``images/s``;
a ratio is ``ratio``); the summary, the report and its plots, the bisect page,
compare and ``scale`` show them through :class:`Quantity`, so a latency reads
``140.2 ms`` wherever it appears and a figure's axis uses the same scale.

* seconds: ``ms`` below 1 s, ``s`` from 1 s;
* bytes: ``MiB`` below 10 GiB (a process's peak reads 1014 MiB, not 0.99 GiB), ``GiB`` from 10 GiB;
* images/s: ``img/s`` (``/s`` in a table);
* ratio: ``×1.50``;
* any other unit: the number as ``%g`` and the unit as it is.

The full text has a fixed number of decimals per scale (140.2 ms, 5.21 s, 1014 MiB,
7.15 img/s); the compact text, for terminal tables, has no space and three
significant figures (the integer part is never rounded): 140ms, 5.21s, 1014MiB, 7.15/s.
Standard library only: the summary runs in nox's own process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

SECONDS, BYTES, IMAGES_PER_SECOND, RATIO = "seconds", "bytes", "images/s", "ratio"
MISSING = "–"  # no value (None or NaN)


@dataclass(frozen=True)
class Scale:
    """How values of a unit are shown: divided by ``size``, with ``decimals`` in full text, then ``symbol``."""

    symbol: str  # ms, s, MiB, GiB, img/s, ×
    size: float = 1.0  # base units in one of it
    decimals: int = 2  # in the full text
    short: str = ""  # the symbol in compact text, where it differs
    before: bool = False  # the symbol precedes the number (×1.50)

    def of(self, value: float) -> float:
        """``value`` (in the base unit) in this scale."""
        return value / self.size

    def label(self, what: str) -> str:
        """An axis label: ``what`` and the scale in brackets, ``latency (ms)``."""
        return f"{what} ({self.symbol})"

    def join(self, number: str, compact: bool) -> str:
        symbol = (self.short or self.symbol) if compact else self.symbol
        if self.before:
            return symbol + number
        return number + ("" if compact else " ") + symbol if symbol else number


#: each unit's scales, with the magnitude (in the base unit) from which each is used, smallest first
SCALES: dict[str, tuple[tuple[float, Scale], ...]] = {
    SECONDS: ((0.0, Scale("ms", 1e-3, 1)), (1.0, Scale("s", 1.0, 2))),
    BYTES: ((0.0, Scale("MiB", 2.0**20, 0)), (10 * 2.0**30, Scale("GiB", 2.0**30, 2))),
    IMAGES_PER_SECOND: ((0.0, Scale("img/s", 1.0, 2, short="/s")),),
    RATIO: ((0.0, Scale("×", 1.0, 2, before=True)),),
}


def scale_of(unit: str, magnitude: float) -> Scale:
    """The scale a value of this size is shown in (an unknown unit: itself, as ``%g``)."""
    scales = SCALES.get(unit)
    if scales is None:
        return Scale(unit, 1.0, -1)
    magnitude = abs(magnitude) if math.isfinite(magnitude) else 0.0
    return [s for start, s in scales if magnitude >= start][-1]


def axis_scale(unit: str, values: Iterable[float | None]) -> Scale:
    """The one scale of a figure's axis showing these values: the largest value's (seconds -> s if any is >= 1 s)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return scale_of(unit, max(finite, default=0.0))


def _significant(x: float, figures: int = 3) -> str:
    """``x`` with ``figures`` significant figures, the integer part never rounded: 140, 5.21, 0.0123, 1014."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"  # 0, inf
    return f"{x:.{max(0, figures - 1 - math.floor(math.log10(abs(x))))}f}"


@dataclass(frozen=True)
class Quantity:
    """A value in its base unit (``seconds``, ``bytes``, ``images/s``, ``ratio``, or any other) for display."""

    value: float | None
    unit: str

    @property
    def missing(self) -> bool:
        return self.value is None or self.value != self.value  # None or NaN

    @property
    def scale(self) -> Scale:
        return scale_of(self.unit, 0.0 if self.missing else float(self.value or 0.0))

    def _scaled(self) -> tuple[Scale, float]:
        """The scale of this value, and the value in it."""
        s = self.scale
        return s, s.of(float(self.value or 0.0))

    @property
    def text(self) -> str:
        """For pages and reports: 140.2 ms, 5.21 s, 1014 MiB, 7.15 img/s, ×1.50 (``–`` when there is no value)."""
        if self.missing:
            return MISSING
        s, x = self._scaled()
        if s.decimals < 0:  # a unit without scales
            return f"{x:g} {self.unit}".strip()
        return s.join(f"{x:.{s.decimals}f}", compact=False)

    @property
    def compact(self) -> str:
        """For terminal tables: no space, three significant figures: 140ms, 5.21s, 1014MiB, 7.15/s, ×1.50."""
        if self.missing:
            return MISSING
        s, x = self._scaled()
        if s.decimals < 0:
            return f"{x:.3g}{self.unit}"
        return s.join(f"{x:.2f}" if s.before else _significant(x), compact=True)

    def __str__(self) -> str:
        return self.text
