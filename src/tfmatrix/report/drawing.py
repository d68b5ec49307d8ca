"""The run page's figures, drawn in a child process while the report reads the history.

Drawing the run page's figures (matplotlib, :mod:`tfmatrix.report.plots`) is
the report's one long serial step (about 2 s for a run of 100 combinations,
2026-12-07), while reading the history's summaries and fitting its series keep
the cores busy from processes of their own with the report's process waiting.
So :func:`build_report` starts the drawing first, in one child process that
reads the rendered run and builds its metrics frame exactly as
:func:`tfmatrix.report.view.build_run_page` does, and takes the figures when the
page is built: the same figures, drawn beside the history instead of after it.
A ``plots`` that cannot go to another process (a lambda), or a child that cannot
start, draws in this process as before.
"""

from __future__ import annotations

import pickle
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ..records.store import load_run
from .view import metrics_frame


def draw(folder: str, plots: Callable[..., list[Any]]) -> list[Any]:
    """The figures of the run in ``folder``: what ``build_run_page`` asks ``plots`` for (the child's work)."""
    records = load_run(Path(folder)).by_id()
    return plots(metrics_frame(records.values()), list(records.values()))


class Drawing:
    """``with Drawing(plots, folder) as d:`` ... ``build_run_page(..., plots=d.plots)``."""

    def __init__(self, plots: Callable[..., list[Any]] | None, folder: Path) -> None:
        self.given = plots
        self.pool: ProcessPoolExecutor | None = None
        self.future: Future | None = None
        if plots is None:
            return
        try:
            pickle.dumps(plots)
            self.pool = ProcessPoolExecutor(max_workers=1)
            self.future = self.pool.submit(draw, str(folder), plots)
        except (pickle.PicklingError, AttributeError, TypeError, OSError):
            self.close()

    def plots(self, metrics: Any, records: list[Any]) -> list[Any]:
        """The child's figures, or drawn here when there is no child (or it failed to start)."""
        if self.future is not None:
            try:
                return self.future.result()
            except (OSError, EOFError, pickle.PicklingError, RuntimeError):
                pass  # a broken pool (a child killed): draw them here, as without one
        assert self.given is not None
        return self.given(metrics, records)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> "Drawing":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
