"""A real headless Chromium (Debian's package) driven by playwright, for the report tests.

``.ci/run`` installs the browser and sets ``TFMATRIX_REQUIRE_BROWSER=1``, so in
CI a missing browser fails the tests instead of skipping them.  Elsewhere the
tests skip, naming what to install.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    path = os.environ.get("TFMATRIX_CHROMIUM") or next(filter(None, map(shutil.which, CANDIDATES)), None)
    if path:
        return path
    message = "no Chromium found (apt-get install chromium, or set TFMATRIX_CHROMIUM)"
    if os.environ.get("TFMATRIX_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Visit:
    page: Any
    console: list[tuple[str, str]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind in ("error", "pageerror")]


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            yield browser
        finally:
            browser.close()


def visit(browser: Any, path: Path, width: int = 1400) -> Visit:
    """Open a local file; collect console messages, page errors and dialogs (an alert() would be one)."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    v = Visit(page)
    page.on("console", lambda m: v.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: v.console.append(("pageerror", str(e))))

    def on_dialog(d: Any) -> None:
        v.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return v
