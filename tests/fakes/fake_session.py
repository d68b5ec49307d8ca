"""FAKE nox session: just enough of ``nox.Session`` for tfmatrix's session code (explicitly not nox).

It records what the session said; ``skip`` raises :class:`Skipped` and ``error``
raises :class:`Failed`, as nox's own do end a session.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any


class Skipped(Exception):
    pass


class Failed(Exception):
    pass


class FakeSession:
    venv_backend = "uv"

    def __init__(self, venv: Path, posargs: list[str] | None = None) -> None:
        self.posargs = list(posargs or [])
        self.virtualenv = SimpleNamespace(location=str(venv))
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.notified: list[tuple[str, Any]] = []
        self.ran: list[tuple[tuple[str, ...], dict[str, Any]]] = []  # session.run's argv and keywords

    def log(self, *args: Any) -> None:
        self.lines.append(" ".join(map(str, args)))

    def warn(self, *args: Any) -> None:
        self.warnings.append(" ".join(map(str, args)))

    def error(self, *args: Any) -> None:
        raise Failed(" ".join(map(str, args)))

    def skip(self, *args: Any) -> None:
        raise Skipped(" ".join(map(str, args)))

    def notify(self, target: str, posargs: Any = None) -> None:
        self.notified.append((target, posargs))

    def run(self, *args: str, **kw: Any) -> None:
        self.ran.append((args, kw))
