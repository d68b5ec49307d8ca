"""One exception family for user errors, caught in one place: :func:`reported`.

``python -m tfmatrix`` reports one with a line on stderr and exit status 2;
a nox session, with ``session.error`` (one line, the session fails).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator


class TfmatrixError(Exception):
    """An error the user can fix (bad input, a missing file).  Exit status 2."""

    exit_status = 2

    def one_line(self) -> str:
        return " ".join(str(self).split())


class MatrixError(TfmatrixError):
    """A matrix file that does not validate.

    The message is one line: ``FILE: KEY.PATH: got VALUE; expected WHAT``.
    """

    def __init__(self, file: str, key: str, value: Any, expected: str) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.expected = expected
        shown = _show(value)
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: got {shown}; expected {expected}")


class ResultsError(TfmatrixError):
    """A results folder or record that cannot be used."""


def _show(value: Any, limit: int = 80) -> str:
    if value is _MISSING:
        return "nothing (key missing)"
    text = repr(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


class _Missing:
    def __repr__(self) -> str:  # pragma: no cover - never shown
        return "<missing>"


_MISSING: Any = _Missing()
MISSING = _MISSING


@contextmanager
def reported(say: Callable[[str], Any]) -> Iterator[None]:
    """The one place a :class:`TfmatrixError` is caught: its one line goes to ``say``, which ends the command
    (nox's ``session.error`` raises); if ``say`` returns, the exit status is the error's."""
    try:
        yield
    except TfmatrixError as exc:
        say(exc.one_line())
        raise SystemExit(exc.exit_status) from None
