"""Each probe is a real combination: a matrix written for it, one ``nox -s bench(<probe>)``, its record.

The probe's entry is the template's (``--like``: its stack, Python, models, workload, requires and force)
with the probed version, the Model Garden release of the same minor where the index has one, or else
load-only against the template's export.  The matrix written for it is the user's own, with the probe
entries added and one profile naming them, so the probe goes through exactly what ``nox -s bench`` does:
its venv, pre-flight, phases, crash capture, classification, and its record in the bisection's run folder.
nox runs as a child in its own process group (its output goes to a log, never mixed into ours); an
interruption reaches it as SIGTERM, which the bench session records as an interruption, as it does Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import yaml
from packaging.version import Version

from ..errors import TfmatrixError
from ..matrix.expand import combinations
from ..matrix.load import parse_matrix
from ..matrix.model import Combination, Matrix
from ..records.model import CombinationInfo, CombinationRecord
from ..records.status import UNFINISHED, Status
from ..records.store import RESULTS_ENV, RUN_ID_ENV, RunDir, run_folders
from ..run.noxside.context import PROFILE_ENV
from ..run.noxside.interrupts import Interrupted
from ..run.noxside.options import Options
from .candidates import NIGHTLY_PACKAGE

PROFILE = "tfmatrix-bisect"
AGAIN = (Status.INTERRUPTED, Status.PENDING, Status.INSTALL_FAILED, Status.SKIPPED)  # endings an earlier bisection's probe is rerun for
MATRIX_ENV = "TFMATRIX_MATRIX"
MORE = "-more"  # the entry id's suffix of a probe re-measured with more samples


@dataclass(frozen=True)
class Slot:
    """One entry of a probe's matrix: the probed version, or (``beside``) the good end measured again in the same
    nox invocation, just before the version it is compared with; ``more``: twice the samples."""

    version: str
    more: bool = False
    beside: str | None = None

    @property
    def id(self) -> str:
        paired = f"-beside-{self.beside}" if self.beside else ""
        return f"bisect-{self.version}{paired}{MORE if self.more else ''}"


@dataclass(frozen=True)
class Plan:
    """The probes of one bisection: the template, what each probe's entry gets, how nox is run."""

    template: Combination
    raw: Mapping[str, Any]  # the user's matrix file, as YAML read it
    matrix_dir: Path  # model paths in it are relative to this
    companions: Mapping[str, str | None]  # TensorFlow version -> its tf-models-official (None: load-only)
    repeats: Mapping[str, int] = field(default_factory=dict)  # workload key (dotted) -> samples
    bench_args: tuple[str, ...] = ()  # --quick, --import-only (then TensorFlow is installed without the Model Garden)

    def entry(self, slot: Slot | str) -> dict[str, Any]:
        """The probe's ``tensorflow:`` entry, as YAML."""
        slot = Slot(slot) if isinstance(slot, str) else slot
        version, tf = slot.version, self.template.tf
        nightly = Version(version).is_devrelease
        out: dict[str, Any] = {"id": slot.id, "version": version,
                               "package": NIGHTLY_PACKAGE if nightly else
                               (tf.package if tf.package != NIGHTLY_PACKAGE else "tensorflow")}
        garden = None if nightly or "--import-only" in self.bench_args else self.companions.get(version)
        if garden:
            out["models_official"] = garden
        else:
            exporter = tf.export_with or (tf.id if not tf.load_only else None)
            if exporter is None:
                raise TfmatrixError(f"bisect --like {self.template.id}: {version} has no tf-models-official of its "
                                    "own, and the template neither exports nor names an export_with entry to "
                                    "load from")
            out["export_with"] = exporter
        if tf.requires:
            out["requires"] = list(tf.requires)
        if tf.force:
            out["force"] = list(tf.force)
        out["stacks"] = [self.template.stack.id]
        if tf.hardware is not None:
            out["hardware"] = {k: v for k, v in tf.hardware.to_json().items() if v is not None}
        return out

    def matrix(self, slots: Sequence[Slot]) -> dict[str, Any]:
        """The user's matrix with the probes' entries, one profile naming them, and the bisection's repeats."""
        doc = yaml.safe_load(yaml.safe_dump(dict(self.raw)))  # a deep copy, anchors resolved
        entries = [self.entry(slot) for slot in slots]
        doc["tensorflow"] = list(doc.get("tensorflow") or []) + entries
        doc["pythons"] = [self.template.python]
        for model in doc.get("models") or []:
            if isinstance(model, dict) and isinstance(model.get("path"), str):
                model["path"] = str((self.matrix_dir / model["path"]).resolve())
        workload = doc.setdefault("workload", {}) or {}
        doc["workload"] = workload
        for key, n in self.repeats.items():
            if any(slot.more for slot in slots):
                n *= 2
            where = workload
            *parents, last = key.split(".")[1:]  # "workload.latency.min_queries"
            for part in parents:
                where = where.setdefault(part, {})
            where[last] = max(int(where.get(last) or 0), n)
        probes = {"description": f"probes of a bisection like {self.template.id}",
                  "tensorflow": [e["id"] for e in entries], "stacks": [self.template.stack.id],
                  "models": [m.id for m in self.template.models]}
        doc["profiles"] = {"default": probes, PROFILE: probes}  # a matrix must have its default
        return doc


class ProbeSlot(Protocol):
    """What the prober needs of an entry it probes: its id in the matrix, its label, its more-samples flag."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def more(self) -> bool: ...


class ProbePlan(Protocol):
    """What the prober needs of a plan: the template, the bench options, the matrix written for some slots
    (a bisection's :class:`Plan`, or a fix search's)."""

    @property
    def template(self) -> Combination: ...
    @property
    def bench_args(self) -> tuple[str, ...]: ...
    def matrix(self, slots: Sequence[Any]) -> dict[str, Any]: ...


def probe_combination(matrix: Matrix, slot: ProbeSlot) -> Combination | None:
    """The probe's combination in the matrix written for it (None: the matrix's rules exclude it)."""
    return next((c for c in combinations(matrix, PROFILE) if c.tf.id == slot.id), None)


#: (argv, env, cwd, log path) -> exit status; a seam for tests (the real one runs nox)
NoxRunner = Callable[[Sequence[str], Mapping[str, str], Path, Path], int]


def run_nox(argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> int:
    """nox in its own process group, its output in ``log``; an interruption here is passed on as SIGTERM and
    waited for, so the probe's record says it was interrupted before this process goes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise


@dataclass
class Prober:
    """Runs probes into one run folder, and reads their records (a probe already recorded is not run again)."""

    plan: ProbePlan
    run: RunDir
    root: Path  # the project: its noxfile
    nox_python: str  # the interpreter nox runs under
    say: Callable[[str], None] = print
    runner: NoxRunner = run_nox
    earlier: bool = False  # reuse the records of earlier bisections' identical probes (an outcome, not a metric)
    reused: list[str] = field(default_factory=list)  # "2.18.0 (run …)"
    name: str = "bisect"  # who probes, in its lines: bisect, fix

    @property
    def folder(self) -> Path:
        return self.run.path / "bisection"

    def recorded_before(self, combo: Combination) -> CombinationRecord | None:
        """The newest record of this very probe in an earlier bisection's run: the same entry (version, pins,
        Python, stack, models) run with the same options, and run to its end (an install that failed, perhaps
        for a moment's network, or a run that was stopped, is tried again)."""
        opts = Options(import_only="--import-only" in self.plan.bench_args, quick="--quick" in self.plan.bench_args)
        wanted = CombinationInfo.of(opts.narrow(combo))
        for folder in reversed(run_folders(self.run.path.parent)):
            if folder.name == self.run.run_id or not (folder / "bisection").is_dir():
                continue
            rec = RunDir(self.run.path.parent, folder.name).existing_record(combo.id)
            if rec is not None and rec.status not in AGAIN and rec.combination == wanted and rec.quick == opts.quick:
                return rec
        return None

    def records(self, slots: Sequence[ProbeSlot]) -> tuple[list[CombinationRecord | None], str]:
        """The records of these entries, run in one nox invocation in this order unless recorded (None: nox
        ended without one; then why)."""
        name = "+".join(slot.id for slot in slots)
        path = self.folder / f"matrix-{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = self.plan.matrix(slots)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")  # what nox reads
        matrix = parse_matrix(doc, str(path))
        combos = [probe_combination(matrix, slot) for slot in slots]
        if any(c is None for c in combos):
            return [None] * len(slots), f"the matrix's rules exclude {slots[-1].version}"
        done = [self.run.existing_record(c.id) for c in combos if c is not None]
        if self.earlier and any(d is None for d in done):
            before = [d or self.recorded_before(c) for c, d in zip(combos, done) if c is not None]
            if all(b is not None for b in before):
                done = before
        todo = [c for c, d in zip(combos, done) if c is not None and (d is None or d.status in UNFINISHED)]
        if not todo:
            where = ", ".join(dict.fromkeys(d.run_id for d in done if d is not None))
            self.reused.append(f"{slots[-1].version} (run {where})")
            self.say(f"tfmatrix: {self.name}: {slots[-1].version}: already probed in run {where}")
            return list(done), ""
        again = ("--resume", self.run.run_id) if any(d is not None and d.run_id == self.run.run_id for d in done) \
            else ()  # attempts set aside
        argv = [self.nox_python, "-m", "nox", "--noxfile", str(self.root / "noxfile.py"), "-s",
                *(f"bench({c.id})" for c in todo), "--", *self.plan.bench_args, *again]
        env = {**os.environ, MATRIX_ENV: str(path), PROFILE_ENV: PROFILE, RUN_ID_ENV: self.run.run_id,
               RESULTS_ENV: str(self.run.path.parent)}
        log = self.run.log_dir(todo[-1].id) / "nox.log"
        what = " and ".join(c.id for c in todo)
        self.say(f"tfmatrix: {self.name}: probing {slots[-1].version}"
                 f"{' again, with more samples' if slots[-1].more else ''} ({what}; nox's output: {log})")
        status = self.runner(argv, env, self.root, log)
        done = [self.run.existing_record(c.id) for c in combos if c is not None]
        stopped = [d.reason for d in done if d is not None and d.status == Status.INTERRUPTED]
        if stopped:  # the probe recorded it ("interrupted by SIGTERM during import"); so does the bisection
            raise Interrupted("SIGTERM" if "SIGTERM" in stopped[0] else "SIGINT")
        missing = [c.id for c, d in zip(combos, done) if c is not None and d is None]
        pending = [d.id for d in done if d is not None and d.status == Status.PENDING]  # not a stop: no rounds ran
        if pending:
            return list(done), (f"nox exited {status} with {', '.join(pending)} still pending (the interleave "
                                f"session did not measure its warm phases; see {log})")
        return list(done), (f"nox exited {status} without a record of {', '.join(missing)} (see {log})"
                            if missing else "")
