"""results/<run-id>/: the run record and one record per combination.

* ``run.json``: host fingerprint, matrix file and hash, suite commit, profile,
  start (written when the run's first session starts) and end (added by the
  summary); replaced atomically, only ever gaining fields.
* ``<combination-id>.json``: one per combination, create-only.
* ``logs/<combination-id>/``: install log and one log per phase.

Every record carries ``schema_version``; the JSON Schemas live in
``tfmatrix/schemas/`` and the tests validate records against them.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator

from . import RECORD_SCHEMA_VERSION, __version__
from .atomic import write_json_atomic, write_json_new
from .errors import ResultsError

RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
RUN_ID_ENV = "TFMATRIX_RUN_ID"
RESULTS_ENV = "TFMATRIX_RESULTS"
SCHEMAS = Path(__file__).parent / "schemas"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def check_run_id(run_id: str, origin: str = "run id") -> str:
    if not RUN_ID_RE.match(run_id):
        raise ResultsError(f"{origin}: got {run_id!r}; expected a run id like 20260101T120000Z-1a2b3c")
    return run_id


REPORTS_ENV = "TFMATRIX_REPORTS"


def results_root(project_root: Path) -> Path:
    value = os.environ.get(RESULTS_ENV)
    return Path(value).resolve() if value else project_root / "results"


def reports_root(project_root: Path) -> Path:
    value = os.environ.get(REPORTS_ENV)
    return Path(value).resolve() if value else project_root / "reports"


class RunDir:
    """One run's folder."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.run_id = check_run_id(run_id)
        self.path = root / run_id

    @property
    def run_record(self) -> Path:
        return self.path / "run.json"

    def record_path(self, combo_id: str) -> Path:
        return self.path / f"{combo_id}.json"

    def log_dir(self, combo_id: str) -> Path:
        return self.path / "logs" / combo_id

    def ensure(self, run_info: Callable[[], dict[str, Any]]) -> None:
        """Create the folder and its run record, once; later sessions join it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.run_record.exists():
            return
        record = {"schema_version": RECORD_SCHEMA_VERSION, "kind": "run", "run_id": self.run_id,
                  "tfmatrix_version": __version__, "started_at": now(), "ended_at": None,
                  "interruptions": [], "resumptions": [], **run_info()}
        try:
            write_json_new(str(self.run_record), record)
        except FileExistsError:
            pass  # a concurrent session of the same run wrote it first
        except OSError as exc:
            raise self.write_error(self.run_record, exc) from None

    def read_run(self) -> dict[str, Any]:
        return read_json(self.run_record)

    def finish(self) -> None:
        """Stamp the end time, once: a later summary of the same run changes nothing."""
        def change(run: dict[str, Any]) -> bool:
            if run.get("ended_at") is not None:
                return False
            run["ended_at"] = now()
            return True
        self._update_run(change)

    def _update_run(self, change: Callable[[dict[str, Any]], bool]) -> None:
        """Read-change-replace run.json under the run's lock (only ever adding to it)."""
        from filelock import FileLock

        with FileLock(str(self.path / ".run.lock")):
            run = self.read_run()
            if change(run):
                try:
                    write_json_atomic(str(self.run_record), run)
                except OSError as exc:
                    raise self.write_error(self.run_record, exc) from None

    def mark_interrupted(self, combo_id: str, signal_name: str) -> None:
        entry = {"at": now(), "signal": signal_name, "combination": combo_id}

        def change(run: dict[str, Any]) -> bool:
            run.setdefault("interruptions", []).append(entry)
            return True
        self._update_run(change)

    def mark_resumed(self, invocation: str) -> None:
        """Once per resuming nox invocation (each of its bench sessions calls this)."""
        def change(run: dict[str, Any]) -> bool:
            done = run.setdefault("resumptions", [])
            if any(r.get("invocation") == invocation for r in done):
                return False
            done.append({"at": now(), "invocation": invocation})
            return True
        self._update_run(change)

    def existing_record(self, combo_id: str) -> dict[str, Any] | None:
        path = self.record_path(combo_id)
        return read_json(path) if path.exists() else None

    def set_aside(self, combo_id: str) -> Path:
        """Move a record (an interrupted attempt) to ``attempts/<combo>.<n>.json``, never over another."""
        attempts = self.path / "attempts"
        attempts.mkdir(exist_ok=True)
        n = 1
        while True:
            target = attempts / f"{combo_id}.{n}.json"
            try:
                os.link(self.record_path(combo_id), target)
            except FileExistsError:
                n += 1
                continue
            os.unlink(self.record_path(combo_id))
            return target

    def write_record(self, combo_id: str, record: dict[str, Any]) -> Path:
        path = self.record_path(combo_id)
        try:
            write_json_new(str(path), record)
        except FileExistsError:
            raise ResultsError(
                f"{path}: a record for {combo_id} already exists in run {self.run_id}; "
                "records are never overwritten (start a new run)") from None
        except OSError as exc:
            raise self.write_error(path, exc) from None
        return path

    def write_error(self, path: Path, exc: OSError) -> ResultsError:
        """One line for a failed write; the records already written are untouched (writes are atomic)."""
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            why = "no space left on the device"
        else:
            why = exc.strerror or str(exc)
        return ResultsError(f"{path}: could not be written ({why}); the records already in {self.path} are kept; "
                            f"free space, then `nox -s bench -- --resume {self.run_id}` runs what is missing")

    def records(self) -> Iterator[dict[str, Any]]:
        for p in sorted(self.path.glob("*.json")):
            if p.name == "run.json" or p.name.startswith(".tmp-"):
                continue
            yield read_json(p)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:  # a ValueError too, without .msg
        raise ResultsError(f"{path}: not UTF-8 text") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return data


def latest_run(root: Path) -> RunDir:
    runs = sorted(p.name for p in root.glob("*") if p.is_dir() and RUN_ID_RE.match(p.name))
    if not runs:
        raise ResultsError(f"{root}: no runs yet (run `nox -s bench` first)")
    return RunDir(root, runs[-1])


def load_schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
