"""SIGINT and SIGTERM as one exception, so an interrupted combination is recorded, not lost.

Ctrl-C raises :class:`KeyboardInterrupt` in the nox process (the workers run
in their own session, so the terminal's SIGINT does not reach them; the runner
kills their process group).  SIGTERM, which a batch system or ``kill`` sends,
would end Python without unwinding; :func:`signals_as_interrupt` turns it into
:class:`Interrupted`, a ``KeyboardInterrupt``, which nox also answers with exit
status 130.  On Windows, Ctrl-Break (SIGBREAK) is handled the same way.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Iterator


class Interrupted(KeyboardInterrupt):
    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def signal_name_of(exc: BaseException) -> str:
    return getattr(exc, "signal_name", "SIGINT")


def _raise(signum: int, frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (and SIGBREAK on Windows) raise :class:`Interrupted`."""
    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGBREAK", None)) if s is not None]
    previous = {s: signal.signal(s, _raise) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
