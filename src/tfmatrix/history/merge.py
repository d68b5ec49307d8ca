"""``nox -s merge -- DIR...``: results written on several machines, merged into one run.

Each DIR is a run folder (it holds ``run.json``) or a results folder holding run
folders (a Slurm array's shard folders, a CI job's downloaded artifact).  The
merged run is a new run folder, readable by report, compare and publish like any
other:

* every combination record is copied with its logs (and every prediction, the latest run's for a key predicted twice), keeps the fingerprint of the
  host that ran it (``host``) and says where it came from (``merged_from``);
* a combination found in several sources is a **duplicate**: the one that ran
  (over interrupted, over skipped; then the latest) is kept, the others go to
  ``attempts/`` with their logs, and ``run.json``'s ``merge.duplicates`` lists them;
  when their outcomes differ it is also a **conflict**;
* sources that disagree on the matrix file, profile, suite commit or ``--quick``
  are conflicts too; an unreadable record is copied to ``unreadable/`` and named.

Nothing is dropped silently: every input file is in the merged folder or named
in a warning.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .. import RECORD_SCHEMA_VERSION, __version__
from ..atomic import write_json_new
from ..errors import TfmatrixError
from ..records.model import CombinationRecord
from ..records.prediction import FOLDER as PREDICTIONS
from ..records.status import Status
from ..records.store import RUN_ID_RE, Run, RunDir, load_run, new_run_id, record_paths, run_folders


@dataclass
class MergeResult:
    run: RunDir
    records: int
    sources: list[dict[str, Any]]
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"merged run: {self.run.path} ({self.records} combinations from {len(self.sources)} runs)"]
        out += [f"  from {s['run_id']} on {s['host'].get('hostname') or s['host'].get('platform', {}).get('node', '?')}"
                f": {s['records']} records ({s['folder']})" for s in self.sources]
        out += [f"  duplicate: {d['combination']}: kept the one from {d['kept']}, "
                f"{len(d['set_aside'])} set aside in attempts/" for d in self.duplicates]
        out += [f"  conflict: {c}" for c in self.conflicts]
        return out


def source_runs(dirs: Sequence[Path]) -> list[Path]:
    """Run folders named by DIR arguments (a run folder, or a folder of them), each once."""
    found: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            raise TfmatrixError(f"merge: {d}: not a folder; expected run folders or results folders")
        runs = [d] if (d / "run.json").exists() or RUN_ID_RE.match(d.name) else run_folders(d)
        if not runs:
            raise TfmatrixError(f"merge: {d}: holds no run folder (expected run.json, or folders named like "
                                "20260101T120000Z-1a2b3c)")
        found += [r.resolve() for r in runs if r.resolve() not in found]
    return found


#: how far a record ran, for which of two records of one combination a merge keeps: a run beats an
#: interruption, which beats a pending record (its rounds never came: cold starts only), which beats a skip
RANK = {Status.SKIPPED: 0, Status.PENDING: 1, Status.INTERRUPTED: 2}


def _rank(record: CombinationRecord) -> tuple[int, str]:
    return RANK.get(record.status, 3) if record.status else 3, record.ended_at or ""


def merge(dirs: Sequence[Path], results_root: Path, run_id: str | None = None) -> MergeResult:
    folders = source_runs(dirs)
    loaded = [load_run(f) for f in folders]
    run = RunDir(results_root, run_id or new_run_id())
    if run.path.exists():
        raise TfmatrixError(f"merge: {run.path} exists; a merge writes a new run")
    result = MergeResult(run=run, records=0, sources=[])
    for src in loaded:
        result.warnings += src.warnings
        result.sources.append({"run_id": src.run_id, "folder": str(src.path),
                               "host": src.info.host if src.info else {}, "records": len(src.records)})
    infos = [s.info for s in loaded if s.info]
    if not infos:
        raise TfmatrixError(f"merge: none of {', '.join(str(f) for f in folders)} has a readable run.json")
    for what, get in (("matrix file", lambda i: i.matrix.get("sha256")), ("profile", lambda i: i.profile),
                      ("suite commit", lambda i: i.commit), ("--quick", lambda i: i.options.get("quick"))):
        seen = {str(get(i)) for i in infos}
        if len(seen) > 1:
            result.conflicts.append(f"the sources differ in {what}: "
                                    + ", ".join(f"{i.run_id}: {get(i)}" for i in infos))

    by_combo: dict[str, list[tuple[Run, CombinationRecord]]] = {}
    for src in loaded:
        for rec in src.records:
            by_combo.setdefault(rec.id, []).append((src, rec))

    run.path.mkdir(parents=True)
    for combo_id, found in by_combo.items():
        found.sort(key=lambda sr: _rank(sr[1]), reverse=True)
        (kept_src, kept), rest = found[0], found[1:]
        _copy(kept_src, kept, run, run.path / f"{combo_id}.json", run.log_dir(combo_id))
        result.records += 1
        if rest:
            aside = []
            for n, (src, rec) in enumerate(rest, start=1):
                target = run.path / "attempts" / f"{combo_id}.{n}.json"
                target.parent.mkdir(exist_ok=True)
                _copy(src, rec, run, target, run.path / "attempts" / "logs" / f"{combo_id}.{n}")
                aside.append({"run_id": src.run_id, "outcome": str(rec.outcome), "file": str(target)})
            result.duplicates.append({"combination": combo_id, "kept": kept_src.run_id, "set_aside": aside})
            seen = {str(kept.outcome)} | {a["outcome"] for a in aside}
            if len(seen) > 1:
                result.conflicts.append(
                    f"{combo_id}: {kept.outcome} in {kept_src.run_id} but "
                    + ", ".join(f"{a['outcome']} in {a['run_id']}" for a in aside)
                    + f"; kept {kept_src.run_id}'s (a run beats an interruption, a pending record, a skip; then the latest)")
    _predictions(loaded, run, result)
    for src in loaded:  # unreadable files are kept beside the run, and named
        for p in record_paths(src.path):
            if any(w.startswith(f"skipped: {p}:") for w in src.warnings):
                target = run.path / "unreadable" / f"{src.run_id}.{p.name}"
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(p, target)
                result.warnings.append(f"{p}: unreadable, copied as is to {target}")

    info = dataclasses.replace(
        infos[0], schema_version=RECORD_SCHEMA_VERSION, run_id=run.run_id, tfmatrix_version=__version__,
        started_at=min(i.started_at for i in infos),
        ended_at=max((i.ended_at for i in infos if i.ended_at), default=None),
        options={**infos[0].options, "merged": True},
        interruptions=[x for i in infos for x in i.interruptions],
        resumptions=[x for i in infos for x in i.resumptions],
        merge={"sources": result.sources, "duplicates": result.duplicates, "conflicts": result.conflicts},
    )
    write_json_new(str(run.run_record), info.to_json())
    return result


def _predictions(loaded: Sequence[Run], run: RunDir, result: MergeResult) -> None:
    """Every source's predictions (``nox -s predict``) into the merged run: the latest run's for a key
    predicted twice, the others set aside in ``attempts/predictions/`` (nothing recorded is lost)."""
    by_key: dict[str, list[Run]] = {}
    for src in sorted(loaded, key=lambda r: r.run_id, reverse=True):
        for p in src.predictions:
            by_key.setdefault(p.key, []).append(src)
    for key, sources in by_key.items():
        for n, src in enumerate(sources):
            target = (run.prediction_path(key) if n == 0 else
                      run.path / "attempts" / PREDICTIONS / f"{key}.{n}.json")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src.path / PREDICTIONS / f"{key}.json", target)
        if len(sources) > 1:
            result.duplicates.append({"prediction": key, "kept": sources[0].run_id,
                                      "set_aside": [s.run_id for s in sources[1:]]})


def _copy(src: Run, record: CombinationRecord, run: RunDir, target: Path, log_dir: Path) -> None:
    """One record (and its logs) into the merged run, keeping its host and saying where it came from."""
    old_logs = src.path / "logs" / record.id
    if old_logs.is_dir():
        shutil.copytree(old_logs, log_dir)
    phases = [dataclasses.replace(p, log=str(log_dir / Path(p.log).name))  # copied: where it is now
              if p.log and (log_dir / Path(p.log).name).exists() else p for p in record.phases]
    host = record.host if record.host is not None else (src.info.host if src.info else {})
    run.write_record(dataclasses.replace(record, phases=phases, host=host, run_id=run.run_id,
                                         merged_from={"run_id": src.run_id, "folder": str(src.path)}), target)
