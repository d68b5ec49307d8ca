"""Shared by every test: nothing a test runs may write into the checkout's results/ or reports/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_output_folders(tmp_path, monkeypatch):
    """Default results and reports folders per test (a test that needs others sets its own)."""
    monkeypatch.setenv("TFMATRIX_RESULTS", str(tmp_path / "default-results"))
    monkeypatch.setenv("TFMATRIX_REPORTS", str(tmp_path / "default-reports"))
