"""Fixtures built from real records: three runs of the default matrix on the 2-core development machine.

* ``QUIET_A`` / ``QUIET_B``: two runs on an idle machine, same commit (compare: no regression);
* ``WITH_WEIGHTS``: a later run whose records carry the weights hash (drift is comparable).

Only the JSON records were kept (no logs).  Builders copy them into a temporary
results folder and derive variants from them: slowed samples, a crash, hostile text.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any, Callable

from tfmatrix.records.model import CombinationRecord
from tfmatrix.records.schema import check

DATA = Path(__file__).parent / "data" / "runs"
QUIET_A = "20261129T110243Z-26d0fd"
QUIET_B = "20261129T110811Z-738903"
WITH_WEIGHTS = "20261129T114157Z-9de862"

XSS = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"


def typed_records(run_id: str) -> dict[str, CombinationRecord]:
    """The real records of a run as the one reader returns them (migrated, checked, typed)."""
    return {cid: CombinationRecord.from_json(check(doc, cid)) for cid, doc in real_records(run_id).items()}


def real_records(run_id: str) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted((DATA / run_id).glob("*.json")):
        if p.name != "run.json":
            doc = json.loads(p.read_text())
            out[doc["combination"]["id"]] = doc
    return out


def copy_run(run_id: str, root: Path, new_id: str | None = None,
             change: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> Path:
    """Copy a real run under ``root`` (as ``new_id``); ``change`` edits each record (None drops it)."""
    dest = root / (new_id or run_id)
    dest.mkdir(parents=True)
    shutil.copy(DATA / run_id / "run.json", dest / "run.json")
    if new_id:
        info = json.loads((dest / "run.json").read_text())
        info["run_id"] = new_id
        (dest / "run.json").write_text(json.dumps(info))
    for cid, doc in real_records(run_id).items():
        doc = change(copy.deepcopy(doc)) if change else doc
        if doc is not None:
            if new_id:
                doc["run_id"] = new_id
            (dest / f"{cid}.json").write_text(json.dumps(doc))
    return dest


def slowed(factor: float, only: str | None = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Every timed sample multiplied by ``factor`` (in combination ``only``, or all)."""
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        if only and doc["combination"]["id"] != only:
            return doc
        for p in doc.get("phases") or []:
            if p.get("unit") == "seconds":
                p["samples"] = [s * factor for s in p.get("samples") or []]
        return doc
    return change


def crashed(cid: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Combination ``cid`` ended by SIGSEGV in its load phase, as a real crash is recorded."""
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["combination"]["id"] != cid:
            return doc
        doc["status"] = doc["outcome"] = "failed"
        doc["failure"] = {"class": "segfault", "evidence": "Fatal Python error: Segmentation fault",
                          "explanation": "A native library dereferenced a bad pointer.", "fix": "See the stack."}
        for p in doc["phases"]:
            if p["phase"] == "load":
                p.update(status="crashed", signal="SIGSEGV", exit_code=-11, samples=[], summary=None,
                         stderr_tail="Fatal Python error: Segmentation fault\n\nCurrent thread 0x0001 (most recent call first):\n  File \"load.py\", line 3 in <module>\n")
        doc["phases"] = [p for p in doc["phases"] if p["phase"] not in ("first-inference", "latency", "throughput", "peakmem")]
        return doc
    return change


def hostile(cid: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Hostile text wherever a record holds text the report did not write: stderr, evidence, pins, reason."""
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["combination"]["id"] != cid:
            return doc
        doc["status"] = doc["outcome"] = "failed"
        doc["reason"] = f"python-error: {XSS}"
        doc["failure"] = {"class": "python-error", "evidence": XSS, "explanation": XSS, "fix": XSS}
        doc["resolved_pins"] = [*doc.get("resolved_pins", []), f"evil{XSS}==1.0"]
        doc["environment"] = {**(doc.get("environment") or {}), "hostile": XSS}
        for p in doc["phases"]:
            if p["phase"] == "load":
                p.update(status="error", samples=[], summary=None, stderr_tail=f"Traceback:\n{XSS}\n",
                         note=XSS)
        return doc
    return change
