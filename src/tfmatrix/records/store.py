"""results/<run-id>/: one run's folder, written and read back through the record model.

* ``run.json``: a :class:`~tfmatrix.records.model.RunRecord` (host, matrix,
  suite commit, profile, options), written when the run's first session starts,
  replaced atomically under the run's lock, only ever gaining fields;
* ``<combination-id>.json``: a :class:`~tfmatrix.records.model.CombinationRecord`
  each, create-only (nothing already recorded is overwritten), but for a ``pending`` one (cold starts
  measured, warm phases waiting for the interleave session), which its ending replaces in place;
* ``logs/<combination-id>/``: the install log and one log per phase;
* ``attempts/``: interrupted attempts set aside by ``--resume``, a merge's duplicates (never a pending record);
* ``predictions/<combination>@<platform>-py<version>.json``: a
  :class:`~tfmatrix.records.prediction.PlatformPrediction` each (``nox -s predict``), never mixed with the
  measured records.

Reading goes through :func:`load_run`, the one reader: a record that is
truncated, of an unknown ``schema_version``, or that fails the JSON Schema once
migrated (:mod:`tfmatrix.records.schema`) is left out with a one-line warning
naming the file, and the rest of the run is used.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import gc
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from ..atomic import write_json_atomic, write_json_new
from ..errors import ResultsError
from .model import CombinationRecord, RunRecord, now
from .prediction import FOLDER as PREDICTIONS
from .prediction import PlatformPrediction
from .schema import BadRecord, check
from .status import Status

RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
RUN_ID_ENV = "TFMATRIX_RUN_ID"
RESULTS_ENV = "TFMATRIX_RESULTS"
REPORTS_ENV = "TFMATRIX_REPORTS"


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def check_run_id(run_id: str, origin: str = "run id") -> str:
    if not RUN_ID_RE.match(run_id):
        raise ResultsError(f"{origin}: got {run_id!r}; expected a run id like 20260101T120000Z-1a2b3c")
    return run_id


def results_root(project_root: Path) -> Path:
    value = os.environ.get(RESULTS_ENV)
    return Path(value).resolve() if value else project_root / "results"


def reports_root(project_root: Path) -> Path:
    value = os.environ.get(REPORTS_ENV)
    return Path(value).resolve() if value else project_root / "reports"


def _fast_loads() -> Callable[[bytes], Any] | None:
    """orjson's parser (about 3x the standard library's), where the ``report`` extra installed it."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


FAST_LOADS = _fast_loads()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file, or a one-line :class:`ResultsError` naming it.

    orjson reads it where installed; whatever orjson refuses (broken JSON, but also NaN or a huge integer, which
    the standard library accepts) is read again by the standard library, which accepts it or says why."""
    if FAST_LOADS is not None:
        try:
            data = FAST_LOADS(path.read_bytes())
        except (OSError, ValueError):
            pass  # the standard library's reading below says why, or reads it
        else:
            if isinstance(data, dict):
                return data
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:  # a ValueError too, without .msg
        raise ResultsError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return data


Record = RunRecord | CombinationRecord | PlatformPrediction
T = TypeVar("T", CombinationRecord, PlatformPrediction)


def load(path: Path) -> Record:
    """One record file: read, migrated, checked, typed; :class:`BadRecord` says why not."""
    try:
        doc = check(read_json(path), str(path))
    except ResultsError as exc:
        raise BadRecord(str(exc)) from None
    kinds: dict[str, Any] = {"run": RunRecord, "combination": CombinationRecord, "prediction": PlatformPrediction}
    record: Record = kinds[doc["kind"]].from_json(doc)
    return record


@dataclass
class Run:
    """One run folder read back: its run record (None if unusable), its good records, the warnings."""

    run_id: str
    path: Path
    info: RunRecord | None
    records: list[CombinationRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    predictions: list[PlatformPrediction] = field(default_factory=list)  # nox -s predict: never measured

    def by_id(self) -> dict[str, CombinationRecord]:
        return {r.id: r for r in self.records}


def record_paths(folder: Path) -> list[Path]:
    """The record files of a folder but its run record, by name."""
    names = sorted(os.listdir(folder)) if folder.is_dir() else []
    return [folder / n for n in names if os.path.normcase(n).endswith(".json") and n != "run.json"
            and not n.startswith(".tmp-")]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while records are built: they make no cycles, and with thousands of
    them alive each collection rescans them all (5,000 records: 1.3 s of collections, a third of the read)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@gc_paused()
def load_run(folder: Path) -> Run:
    """The one reader of a run folder (any folder: merge and compare take paths)."""
    run = _with_info(Run(folder.name, folder, None))
    run.records = _of_kind(folder, CombinationRecord, "combination records", run.warnings)
    run.predictions = _of_kind(folder / PREDICTIONS, PlatformPrediction, "predictions", run.warnings)
    if not run.records and not run.predictions:
        run.warnings.append(f"{folder}: no readable combination records (an empty run, or all left out)")
    return run


def load_run_info(folder: Path) -> Run:
    """A run folder's run record and predictions, without its combination records (:func:`paired_slices`)."""
    run = _with_info(Run(folder.name, folder, None))
    run.predictions = _of_kind(folder / PREDICTIONS, PlatformPrediction, "predictions", run.warnings)
    return run


def _with_info(run: Run) -> Run:
    """``run`` with its run record read (None where missing or unusable, with a warning)."""
    path = run.path / "run.json"
    if path.exists():
        try:
            info = load(path)
        except BadRecord as exc:
            run.warnings.append(f"skipped: {exc}")
        else:
            run.info = info if isinstance(info, RunRecord) else None
    else:
        run.warnings.append(f"{path}: missing; the run's host and commit are unknown")
    return run


def _of_kind(folder: Path, kind: type[T], what: str, warnings: list[str], paths: Iterable[Path] | None = None
             ) -> list[T]:
    """The readable records of one kind in ``folder`` (only the files ``paths``, where given); each other one left
    out with a warning."""
    out: list[T] = []
    for p in record_paths(folder) if paths is None else paths:
        try:
            doc = load(p)
        except BadRecord as exc:
            warnings.append(f"skipped: {exc}")
            continue
        if not isinstance(doc, kind):
            warnings.append(f"skipped: {p}: a {doc.kind} record where {what} belong")
            continue
        out.append(doc)
    return out


def paired_slices(base: Path, cand: Path, size: int, parts: int = 1) -> list[tuple[list[Path], list[Path]]]:
    """The record files of two run folders, ``size`` names a slice (fewer if that makes ``parts`` slices), a name
    in both folders in one slice: comparing two large runs holds a slice at a time, never two whole runs."""
    files = [{p.name: p for p in record_paths(folder)} for folder in (base, cand)]
    names = sorted(files[0].keys() | files[1].keys())
    size = max(1, min(size, -(-len(names) // parts)))
    return [([files[0][n] for n in part if n in files[0]], [files[1][n] for n in part if n in files[1]])
            for part in (names[i:i + size] for i in range(0, len(names), size))]


def read_records(paths: list[Path], warnings: list[str]) -> dict[str, CombinationRecord]:
    """The readable combination records of these files, by id (each other one left out with a warning)."""
    with gc_paused():
        return {r.id: r for r in _of_kind(Path(), CombinationRecord, "combination records", warnings, paths)}


def run_folders(root: Path) -> list[Path]:
    """Every run folder under ``root``, oldest first (run ids sort by start time)."""
    return sorted(p for p in root.glob("*") if p.is_dir() and RUN_ID_RE.match(p.name))


class RunDir:
    """One run's folder under a results root: where its records are written and read."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.run_id = check_run_id(run_id)
        self.path = root / run_id

    @classmethod
    def latest(cls, root: Path, but: str | None = None) -> "RunDir":
        runs = [p.name for p in run_folders(root) if p.name != but]
        if not runs:
            raise ResultsError(f"{root}: no runs yet (run `nox -s bench` first)")
        return cls(root, runs[-1])

    @property
    def run_record(self) -> Path:
        return self.path / "run.json"

    def record_path(self, combo_id: str) -> Path:
        return self.path / f"{combo_id}.json"

    def prediction_path(self, key: str) -> Path:
        return self.path / PREDICTIONS / f"{key}.json"

    def write_prediction(self, record: PlatformPrediction) -> Path:
        """Write a prediction, create-only like every record (a run predicts each key once)."""
        path = self.prediction_path(record.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_json_new(str(path), record.to_json())
        except FileExistsError:
            raise ResultsError(f"{path}: a prediction for {record.key} already exists in run {self.run_id}; "
                               "records are never overwritten (start a new run)") from None
        except OSError as exc:
            raise self.write_error(path, exc) from None
        return path

    def log_dir(self, combo_id: str) -> Path:
        return self.path / "logs" / combo_id

    def load(self) -> Run:
        return load_run(self.path)

    def ensure(self, run_info: Callable[[], RunRecord]) -> None:
        """Create the folder and its run record, once; later sessions join it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.run_record.exists():
            return
        try:
            write_json_new(str(self.run_record), run_info().to_json())
        except FileExistsError:
            pass  # a concurrent session of the same run wrote it first
        except OSError as exc:
            raise self.write_error(self.run_record, exc) from None

    def read_run(self) -> RunRecord:
        try:
            info = load(self.run_record)
        except BadRecord as exc:
            raise ResultsError(str(exc)) from None
        if not isinstance(info, RunRecord):
            raise ResultsError(f"{self.run_record}: a {info.kind} record where the run record belongs")
        return info

    def finish(self) -> None:
        """Stamp the end time, once: a later summary of the same run changes nothing."""
        def change(run: RunRecord) -> bool:
            if run.ended_at is not None:
                return False
            run.ended_at = now()
            return True
        self._update_run(change)

    def _update_run(self, change: Callable[[RunRecord], bool]) -> None:
        """Read-change-replace run.json under the run's lock (only ever adding to it)."""
        from filelock import FileLock

        with FileLock(str(self.path / ".run.lock")):
            run = self.read_run()
            if change(run):
                try:
                    write_json_atomic(str(self.run_record), run.to_json())
                except OSError as exc:
                    raise self.write_error(self.run_record, exc) from None

    def mark_interrupted(self, combo_id: str, signal_name: str) -> None:
        entry = {"at": now(), "signal": signal_name, "combination": combo_id}

        def change(run: RunRecord) -> bool:
            run.interruptions.append(entry)
            return True
        self._update_run(change)

    def mark_resumed(self, invocation: str) -> None:
        """Once per resuming nox invocation (each of its bench sessions calls this)."""
        def change(run: RunRecord) -> bool:
            if any(r.get("invocation") == invocation for r in run.resumptions):
                return False
            run.resumptions.append({"at": now(), "invocation": invocation})
            return True
        self._update_run(change)

    def existing_record(self, combo_id: str) -> CombinationRecord | None:
        path = self.record_path(combo_id)
        if not path.exists():
            return None
        try:
            record = load(path)
        except BadRecord as exc:
            raise ResultsError(str(exc)) from None
        return record if isinstance(record, CombinationRecord) else None

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

    def write_record(self, record: CombinationRecord, path: Path | None = None) -> Path:
        """Write a combination record, at its place in the run unless ``path`` says otherwise: create-only,
        except over a ``pending`` record, which its combination's ending replaces in place (atomically)."""
        path = path or self.record_path(record.id)
        try:
            write_json_new(str(path), record.to_json())
        except FileExistsError:
            if not self._pending(path):
                raise ResultsError(
                    f"{path}: a record for {record.id} already exists in run {self.run_id}; "
                    "records are never overwritten (start a new run)") from None
            try:
                write_json_atomic(str(path), record.to_json())
            except OSError as exc:
                raise self.write_error(path, exc) from None
        except OSError as exc:
            raise self.write_error(path, exc) from None
        return path

    @staticmethod
    def _pending(path: Path) -> bool:
        try:
            record = load(path)
        except BadRecord:
            return False
        return isinstance(record, CombinationRecord) and record.status == Status.PENDING

    def pending(self) -> list[str]:
        """The combinations whose records still wait for interleaved rounds (the run stopped before them)."""
        return [r.id for r in self.load().records if r.status == Status.PENDING] if self.path.is_dir() else []

    def write_error(self, path: Path, exc: OSError) -> ResultsError:
        """One line for a failed write; the records already written are untouched (writes are atomic)."""
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            why = "no space left on the device"
        else:
            why = exc.strerror or str(exc)
        return ResultsError(f"{path}: could not be written ({why}); the records already in {self.path} are kept; "
                            f"free space, then `nox -s bench -- --resume {self.run_id}` runs what is missing")
