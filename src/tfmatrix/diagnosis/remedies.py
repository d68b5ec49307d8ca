"""Remedies: the pin changes that could make a failed combination pass, computed from its record's facts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..records.model import Failure
    from .blame import Facts


def with_fix(failure: "Failure", facts: "Facts") -> "Failure":
    """``failure`` with its fix line computed from the facts (the class's sentence where nothing applies)."""
    return failure
