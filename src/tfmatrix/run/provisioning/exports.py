"""Where each model's SavedModel comes from, and the producer every record names.

Three ways, one :class:`Source` per model of a combination:

* ``own``: a Model Garden model this combination exports in its own venv (cached per
  combination, model config, resolved pins and seed, as before);
* ``shared``: a Model Garden model another TensorFlow entry exports once (``export_with``):
  the exporter is that entry on the CPU stack, and the export's cache key is the one the
  exporter's own combination uses, so whichever runs first makes it and the others load it.
  When the exporter's combination is in the run it makes the export in its own venv (a plain
  run's consumers measure after every install ahead and its exports; the ``--gpus`` pool
  installs producers first, :func:`producer_ids`); otherwise it is made in a venv of the
  exporter's pins in the cache (``exporters/<combination>``);
* ``brought``: a SavedModel folder the matrix names (``source: saved_model``).

The key holds the exporter's pins as one resolve of its requirements gives them
(:func:`tfmatrix.run.provisioning.install.resolve`, from no earlier lock), the same whichever side computes
it: the exporter's session (its install's lock) or a consumer (:func:`resolve_exporter`); the
exporter's cache venv is then synced to that very lock, not resolved again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ...atomic import write_json_atomic
from ...diagnosis import evidence, rules
from ...matrix.model import Combination, ModelSpec
from ...records.model import InstallOutcome, PhaseRecord, Producer
from ...records.status import PhaseStatus
from ...records.store import now, read_json
from ...worker.contract import Workload
from ...worker.workload import is_exported
from ..execution import runner
from ..execution.runner import PhaseSpec, planned
from ..noxside.context import Context
from . import install, locks

EXPORT_META = "tfmatrix-export.json"


@dataclass(frozen=True)
class Source:
    """One model's SavedModel for one combination."""

    model: ModelSpec
    kind: str  # own, shared, brought
    path: Path  # the export folder (the SavedModel is in it, or in its saved_model/)
    exporter: Combination | None = None  # who exports it (None: brought)
    lock_sha256: str = ""  # the exporter's resolved pins
    error: str = ""  # why the exporter's pins could not be resolved (the model cannot run)

    @property
    def exported(self) -> bool:
        return is_exported(str(self.path))


def export_dir(cache_root: Path, exporter: Combination, model: ModelSpec, lock_sha256: str, seed: int) -> Path:
    """The export cache key: (exporting combination, model config, resolved pins, seed)."""
    key = hashlib.sha256(f"{model.config_digest()}|{lock_sha256}|{seed}".encode()).hexdigest()[:16]
    return cache_root / "exports" / exporter.id / f"{model.id}-{key}"


def exporter_venv(cache_root: Path, exporter: Combination) -> Path:
    return cache_root / "exporters" / exporter.id


def sources(combo: Combination, cache_root: Path, lock_sha256: str, seed: int,
            resolve_exporter: Callable[[Combination], tuple[str, str]]) -> dict[str, Source]:
    """Model id -> its :class:`Source`; ``resolve_exporter`` gives another exporter's (lock hash, error)."""
    out = {}
    for m in combo.models:
        who = combo.exporter(m)
        if who is None:
            out[m.id] = Source(m, "brought", Path(m.path))
        elif who.id == combo.id:
            out[m.id] = Source(m, "own", export_dir(cache_root, combo, m, lock_sha256, seed), combo, lock_sha256)
        else:
            lock, error = resolve_exporter(who)
            path = export_dir(cache_root, who, m, lock, seed) if lock else cache_root / "exports" / who.id / m.id
            out[m.id] = Source(m, "shared", path, who, lock, error)
    return out


def producer_ids(combos: Iterable[Combination]) -> set[str]:
    """The combinations among ``combos`` that export a model for another of them (install those first: their
    own venvs then make the exports the others load, and no exporter venv duplicates theirs)."""
    combos = list(combos)
    here = {c.id for c in combos}
    return {who.id for c in combos for m in c.models
            if (who := c.exporter(m)) is not None and who.id != c.id and who.id in here}


def remember(path: Path, samples: list[float], run_id: str, exporter: Combination) -> None:
    """Beside a fresh export: which run and which TensorFlow made it, how long it took, its digest."""
    if path.exists():
        write_json_atomic(str(path / EXPORT_META), {
            "run_id": run_id, "samples": samples, "unit": "seconds", "exported_at": now(),
            "combination": exporter.id, "tensorflow": exporter.tf.version, "tensorflow_id": exporter.tf.id,
            "export_sha256": digest(path)})


def meta(path: Path) -> dict:
    return read_json(path / EXPORT_META) if (path / EXPORT_META).exists() else {}


def digest(path: Path) -> str:
    """A hash of the SavedModel's files (graph and variables), names relative to the SavedModel folder."""
    folder = next((c for c in (path, path / "saved_model") if (c / "saved_model.pb").exists()), path)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            rel = full.relative_to(folder).as_posix()
            if rel.startswith(("assets.extra/", ".")) or name in (EXPORT_META, ".tfmatrix-last-used"):
                continue
            h.update(rel.encode() + b"\0")
            with open(full, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def exporter_lock(cache_root: Path, exporter: Combination) -> Path:
    """Held while an exporter's pins are resolved, or its venv installed or exporting (beside the venv)."""
    folder = cache_root / "exporters"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{exporter.id}.lock"


def resolved_lock(cache_root: Path, exporter: Combination) -> Path:
    """The exporter's pins as :func:`resolve_exporter` last resolved them (beside its venv, made without it)."""
    return cache_root / "exporters" / f"{exporter.id}.requirements.lock"


def resolve_exporter(exporter: Combination, *, cache_root: Path, timeout: float, log: Path,
                     index_url: str | None, say: Callable[[str], object]) -> tuple[str, str]:
    """The exporter's resolved pins (lock hash, error): what keys its export, found with no venv (a venv is
    made only when the export must be, :func:`shared_export`, and is then synced to this very lock)."""
    with locks.exclusive(exporter_lock(cache_root, exporter), say):
        args = install.install_args(exporter)
        return install.resolve(args["requirements"], lock=resolved_lock(cache_root, exporter),
                               python=exporter.python, timeout=timeout, log=log, force=args["force"],
                               index_url=index_url, as_of=args["as_of"])


def shared_export(spec: PhaseSpec, src: Source, *, ctx: Context, workload: Workload, log_dir: Path, run_id: str,
                  installer: Callable[..., InstallOutcome], run_phase: Callable[..., tuple[PhaseRecord, object]],
                  say: Callable[[str], object]) -> PhaseRecord:
    """Export a model once, in its exporter's venv (made in the cache on first use), for every combination."""
    who = src.exporter
    assert who is not None
    if src.error:
        return planned(spec, PhaseStatus.ERROR, note=f"resolving the exporter {who.id}'s pins: {src.error}")
    venv = exporter_venv(ctx.cache_root, who)
    with locks.exclusive(exporter_lock(ctx.cache_root, who), say):
        if src.exported:  # another run exported it while this one waited
            return cached_export(spec, src.path)
        lock = resolved_lock(ctx.cache_root, who)  # what keyed the export (none: resolved by an injected resolver)
        if lock.exists() and install.lock_hash(lock) != src.lock_sha256:
            return planned(spec, PhaseStatus.ERROR, note=f"the exporter {who.id}'s pins were resolved again, to "
                                                         "other pins, while this session waited; run it again")
        say(f"tfmatrix: {spec.name}: exporting once with {who.id} (TensorFlow {who.tf.version}) in {venv}")
        log = log_dir / f"{spec.name}-install.log"
        inst = installer(**install.install_args(who), venv=venv, python=runner.python_in(venv), backend="uv",
                         project_root=ctx.root, timeout=ctx.matrix.timeouts.install, log=log,
                         index_url=ctx.matrix.index_url, lock=lock if lock.exists() else None, make_with=who.python)
        if not inst.ok:
            cause = evidence.installer_cause(inst.error) or inst.error.strip()[-300:] or "the installer failed"
            return planned(spec, PhaseStatus.ERROR, log=str(log),
                           note=f"installing the exporter {who.id}: {inst.failed_step}: {cause}")
        config = log_dir / f"bench-config-{spec.name}.json"
        write_json_atomic(str(config), runner.bench_config(who, workload, {src.model.id: src.path},
                                                           models=(src.model,)).to_json())
        phase, _ = run_phase(spec, python=runner.python_in(venv), benchmark_file=ctx.benchmark_file,
                             log_dir=log_dir, timeout=ctx.matrix.timeouts.for_phase("export"),
                             env=runner.child_env(config, {"CUDA_VISIBLE_DEVICES": ""}))
    if phase.status == PhaseStatus.OK:
        remember(src.path, phase.samples, run_id, who)
    phase.note = " ".join(x for x in (f"exported by {who.id} (TensorFlow {who.tf.version})", phase.note) if x)
    return phase


def cached_export(spec: PhaseSpec, path: Path) -> PhaseRecord:
    """The export phase of a model whose SavedModel is in the cache: its samples are the original export's."""
    made = meta(path)
    by = f" (made by {made['combination']})" if made.get("combination") else ""
    return planned(spec, PhaseStatus.CACHED, note=f"export reused from {path}{by}", unit="seconds",
                   samples=[float(x) for x in made.get("samples", [])],
                   cached_from={"path": str(path), "run_id": made.get("run_id"),
                                "exported_at": made.get("exported_at")})


def producer(src: Source, consumer: Combination, inspected: dict | None) -> Producer:
    """The record of who made the SavedModel ``src`` names, and how the consumer's TensorFlow stands to it."""
    made = meta(src.path) if src.kind != "brought" else {}
    seen = inspected or {}
    version: str | None
    if src.exporter is not None:
        version, tf_id, combo_id = src.exporter.tf.version, src.exporter.tf.id, src.exporter.id
    else:
        version, tf_id, combo_id = seen.get("tensorflow_version") or None, None, None
    saved = {k: seen[k] for k in ("tensorflow_version", "tensorflow_git_version", "graph_producer",
                                  "graph_min_consumer", "consumer_graph_version", "ops", "unknown_ops",
                                  "signature", "input") if k in seen} or None
    exported = src.exported
    return Producer(model=src.model.id, source=src.kind, path=str(src.path), combination=combo_id,
                    tensorflow=version, tensorflow_id=tf_id, lock_sha256=src.lock_sha256 or None,
                    export_sha256=made.get("export_sha256") or (digest(src.path) if exported else None),
                    saved_model=saved, relation=rules.load_relation(version, consumer.tf.version))
