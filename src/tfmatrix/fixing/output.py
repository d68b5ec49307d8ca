"""What a fix search prints: the candidates it tried, and for a verified fix the pin diff, a ready ``matrix.yaml``
fragment (the entry with its new ``requires``/``force``), and a ``requirements.txt`` fragment for the user's
own environment, at the versions the proof run installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from ..diagnosis.preflight import parse_pins
from ..records.model import CombinationRecord
from ..records.store import load
from .plan import changed_entry, python_of
from .state import FixSearch

_ENDS = {"fixed": "verified fix", "not-found": "no fix found", "no-candidate": "no candidate to try",
         "interrupted": "interrupted", "searching": "searching", "unverified": "candidates printed, not verified"}


def proof_pins(search: FixSearch) -> dict[str, str]:
    """The pins the proof run installed ({} when its record is gone)."""
    for path in reversed(search.proof):
        if Path(path).is_file():
            rec = load(Path(path))
            if isinstance(rec, CombinationRecord):
                return parse_pins(rec.resolved_pins)
    return {}


def diff_lines(search: FixSearch) -> list[str]:
    """``- numpy 2.4.6`` / ``+ numpy 1.26.4``: each changed package, before and as the proof installed it."""
    assert search.fix is not None
    pins = proof_pins(search)
    out: list[str] = []
    for ch in search.fix.changes:
        now = ch.after if ch.package in ("python", "tensorflow") else pins.get(ch.package, ch.after or "(removed)")
        out.append(f"  - {ch.package} {ch.before or '(not installed)'}" + (f"   (forced: {ch.forced})" if ch.forced else ""))
        out.append(f"  + {ch.package} {now}" + (f"   ({ch.after})" if ch.after and ch.after != now
                                                 and ch.package not in ("python", "tensorflow") else ""))
    return out


def matrix_fragment(search: FixSearch, entry: Mapping[str, Any], package: str, tf_id: str) -> str:
    """The user's entry with the fix made, as YAML, under its id (written out where the entry left it to its
    version, which the fix may change): it replaces the failing entry."""
    assert search.fix is not None
    fixed = {"id": tf_id, **changed_entry(entry, search.fix.changes, package)}
    fixed.pop("expect", None)
    text = yaml.safe_dump({"tensorflow": [fixed]}, sort_keys=False).rstrip()
    python = python_of(search.fix, "")
    return text + (f"\n# and run it on Python {python}: pythons: [\"{python}\"]" if python else "")


def requirements_fragment(search: FixSearch) -> str:
    """For a ``requirements.txt``: each changed package at the version the proof run installed."""
    assert search.fix is not None
    pins = proof_pins(search)
    lines = []
    for ch in search.fix.changes:
        if ch.package == "python":
            lines.append(f"# Python {ch.after}")
        elif ch.package in pins:
            lines.append(f"{ch.package}=={pins[ch.package]}  # was {ch.before or 'not installed'}")
        elif ch.after:
            lines.append(f"{ch.package}{ch.after if not ch.after[0].isdigit() else '==' + ch.after}")
    return "\n".join(lines)


def render(search: FixSearch, entry: Mapping[str, Any] | None, package: str, tf_id: str, state: Path) -> str:
    head = (f"tfmatrix fix {search.combination} (run {search.run_id}, {search.status}: {search.failure.cls}; "
            f"culprit {search.failure.culprit or 'not judged'}): {_ENDS.get(search.ending, search.ending)}")
    lines = [head, f"  {'#':>2}  {'stage':<11}  {'status':<14}  candidate  [probe run, combination]"]
    for t in search.tried:
        lines.append(f"  {t.number:>2}  {t.stage:<11}  {t.status:<14}  {t.candidate.line}  [{t.run_id}, {t.combination}]")
        if not t.passed and t.evidence:
            lines.append(f"  {'':>2}  {'':<11}  {'':<14}  why: {t.evidence[:300]}")
    for c in search.unverified:
        lines.append(f"  unverified: {c.line}")
    lines += [f"  note: {n}" for n in search.notes]
    if search.ending == "fixed" and search.fix is not None:
        lines += ["", f"verified by {len(search.proof)} probe(s): {', '.join(search.proof)}", "", "the change:"]
        lines += diff_lines(search)
        if entry is not None:
            lines += ["", "matrix.yaml (replaces the entry):", *("  " + ln for ln in
                                                               matrix_fragment(search, entry, package,
                                                                               tf_id).splitlines())]
        lines += ["", "requirements.txt (your own environment):",
                  *("  " + ln for ln in requirements_fragment(search).splitlines())]
    lines += ["", f"the search: {state}"]
    return "\n".join(lines)
