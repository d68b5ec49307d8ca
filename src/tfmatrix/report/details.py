"""The view model of one combination's detail on the run page: why it ended so, where, with what.

Plain dataclasses of text (the templates escape all of it), built from a
:class:`~tfmatrix.records.model.CombinationRecord` and the baseline's.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..diagnosis import compat, rules
from ..records.model import CombinationRecord, Failure, PhaseRecord, Producer
from ..records.status import Outcome, PhaseStatus
from ..stats import median_ci

#: Outcome -> the CSS class of its colour; one place, like records.status.
OUTCOME_CSS: dict[str, str] = {  # an Outcome is a str: a record's plain string finds its entry too
    Outcome.OK: "ok", Outcome.DEGRADED: "degraded", Outcome.EXPECTED_FAILURE: "expected",
    Outcome.UNEXPECTED_FAILURE: "unexpected", Outcome.FAILED: "unexpected", Outcome.UNEXPECTED_PASS: "unexpected",
    Outcome.SKIPPED: "skipped", Outcome.INSTALL_FAILED: "install-failed", Outcome.INTERRUPTED: "interrupted",
    Outcome.PENDING: "interrupted",  # its rounds never ran: not measured, as an interruption
}


def css_of(outcome: Outcome | str | None) -> str:
    return OUTCOME_CSS.get(outcome, "unexpected") if outcome else "unexpected"


def anchor(combination: str, model: str | None = None) -> str:
    """A fragment id made of safe characters only."""
    raw = combination if not model else f"{combination}--{model}"
    return "c-" + re.sub(r"[^A-Za-z0-9_-]", "_", raw)


@dataclass(frozen=True)
class PhaseView:
    name: str
    status: str
    wall: str
    ended: str  # exit code, signal or NTSTATUS, when not a plain 0
    note: str
    stderr_tail: str
    log: str


@dataclass(frozen=True)
class PinChange:
    package: str
    baseline: str
    this: str


@dataclass(frozen=True)
class CudaRow:
    """One library, three answers: what TensorFlow was built against, what the venv resolved, what loaded."""

    library: str
    built: str
    resolved: str
    loaded: str
    mismatch: bool


@dataclass(frozen=True)
class Detail:
    combination: str
    href_id: str
    outcome: str
    css: str
    tensorflow: str
    stack: str
    python: str
    models: list[str]
    requirements: list[str]  # what the matrix asked for (resolved pins are below)
    library_path: list[str]
    reason: str
    failure: Failure | None
    predicted: str
    predicted_reasons: list[str]
    install: list[tuple[str, str]]
    fingerprint: list[tuple[str, str]]
    loaded_libraries: list[str]
    pins: list[str]
    pin_changes: list[PinChange]
    phases: list[PhaseView]
    is_baseline: bool
    cuda: list[CudaRow] = field(default_factory=list)
    ran_on: str = ""  # the host (and executor, shard, GPU, Ray node) that ran it, when the record says
    producers: list[str] = field(default_factory=list)  # per model: who made the SavedModel it loaded
    fidelity: list[str] = field(default_factory=list)  # per model: what the timed region adds to a bare call
    force: list[str] = field(default_factory=list)  # pins forced over the resolver's choice (``force:``)
    verified_fix: str = ""  # the fix `nox -s fix` verified for it, with its proof run
    verified_fix_href: str = ""  # the fix search's file (results/<run>/fixes/<combo>.json), relative to the page


def ran_on(record: CombinationRecord) -> str:
    """Where a combination ran, from its own record (a merged run's records came from several hosts)."""
    plat = (record.host or {}).get("platform") or {}
    where = record.placement
    parts = [plat.get("node") or "", f"({plat.get('system', '')} {plat.get('machine', '')})".replace("( )", "")]
    if where is not None:
        if where.executor != "local":
            parts.append(f"via {where.executor}")
        if where.shard:
            parts.append(f"shard {where.shard}")
        if where.gpu_index is not None:
            parts.append(f"GPU {where.gpu_index}")
        node = where.node or {}
        if node.get("node_id"):
            parts.append(f"Ray node {node['node_id'][:12]} ({node.get('node_ip', '?')})")
    if (record.merged_from or {}).get("run_id"):
        parts.append(f"from run {record.merged_from['run_id']}")  # type: ignore[index]
    return " ".join(p for p in parts if p.strip())


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as (dotted key, value) pairs; lists of scalars joined."""
    if isinstance(data, dict):
        out = []
        for k in sorted(data):
            out += flatten(data[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(data, list):
        if all(not isinstance(x, (dict, list)) for x in data):
            return [(prefix, ", ".join(str(x) for x in data) or "–")]
        return [pair for i, x in enumerate(data) for pair in flatten(x, f"{prefix}[{i}]")]
    return [(prefix, "–" if data is None else str(data))]


def _pins(record: CombinationRecord) -> dict[str, str]:
    out = {}
    for pin in record.resolved_pins:
        name, sep, version = pin.partition("==")
        out[name.strip().lower()] = version.strip() if sep else pin
    return out


def pin_changes(record: CombinationRecord, base: CombinationRecord | None) -> list[PinChange]:
    if base is None:
        return []
    mine, theirs = _pins(record), _pins(base)
    return [PinChange(name, theirs.get(name, "–"), mine.get(name, "–"))
            for name in sorted(set(mine) | set(theirs)) if mine.get(name) != theirs.get(name)]


def cuda_rows(record: CombinationRecord) -> list[CudaRow]:
    """For GPU stacks: CUDA runtime and cuDNN as built, resolved (nvidia-* wheels) and loaded (/proc/self/maps);
    the compatibility rules (:mod:`tfmatrix.diagnosis.rules`) say which disagree."""
    if not record.combination.needs_gpu or not record.environment:  # skipped or not installed: nothing probed
        return []
    env = record.environment
    build = ((env.get("tensorflow") or {}).get("build_info")) or {}
    bc = compat.build_config(record.combination.tensorflow or "0")
    if bc is not None:  # TensorFlow's build_info gives cuDNN's major only; the compatibility data is exact
        build = {**build, "cuda_version": bc.cuda_build or bc.cuda, "cudnn_version": bc.cudnn_build or bc.cudnn}
    wheels = env.get("nvidia_wheels") or {}
    loaded = {lib.get("name", "").lower().lstrip("lib").rstrip("0123456789_"): lib.get("version") or "?"
              for lib in env.get("loaded_libraries") or [] if isinstance(lib, dict)}
    rows = []
    for label, built_key, wheel_prefix, lib, match in (
            ("CUDA runtime", "cuda_version", "nvidia-cuda-runtime-cu", "cudart", rules.match_cuda_runtime),
            ("cuDNN", "cudnn_version", "nvidia-cudnn-cu", "cudnn", rules.match_cudnn)):
        built = str(build.get(built_key) or "–")
        resolved = next((v for n, v in sorted(wheels.items()) if n.startswith(wheel_prefix)), "–")
        have = loaded.get(lib, "not loaded")
        rows.append(CudaRow(label, built, resolved, have, any(match(built, v).broken for v in (resolved, have))))
    return rows


def _ended(p: PhaseRecord) -> str:
    if p.signal:
        return f"signal {p.signal}"
    if p.ntstatus:
        return f"NTSTATUS {p.ntstatus}"
    return f"exit {p.exit_code}" if p.exit_code not in (None, 0) else ""


def _install(record: CombinationRecord) -> list[tuple[str, str]]:
    inst = record.install
    if inst is None:
        return []
    shown = [(k, str(getattr(inst, k))) for k in ("backend", "seconds", "reused", "compile_bytecode", "lock_sha256",
                                                   "failed_step", "error") if getattr(inst, k) not in (None, "")]
    return shown + [("pip check", "ok" if inst.check_ok else inst.check_output)]


def build_detail(record: CombinationRecord, base: CombinationRecord | None, is_baseline: bool,
                 fix: tuple[str, str] = ("", "")) -> Detail:
    """The detail of one combination (``fix``: its verified fix and the link to the search, where there is one)."""
    c = record.combination
    env = dict(record.environment or {})
    libs = [f"{lib.get('name', '?')} {lib.get('version') or ''} ({lib.get('path', '')})".replace("  ", " ")
            if isinstance(lib, dict) else str(lib) for lib in env.pop("loaded_libraries", []) or []]
    phases = [PhaseView(p.name or p.phase, str(p.status), f"{p.wall_seconds or 0:.1f} s", _ended(p), p.note,
                        p.stderr_tail, p.log) for p in record.phases]
    pre = record.preflight
    return Detail(
        c.id, anchor(c.id), str(record.outcome), css_of(record.outcome), c.tensorflow, c.stack, c.python,
        list(c.models), list(c.requirements), list(c.library_path), record.reason, record.failure,
        pre.predicted if pre else "", list(pre.reasons) if pre else [], _install(record), flatten(env), libs,
        list(record.resolved_pins), pin_changes(record, base if not is_baseline else None), phases, is_baseline,
        cuda_rows(record), ran_on(record), [producer_line(p) for p in record.producers],
        [line for p in record.phases if (line := fidelity_line(p))], list(c.force), fix[0], fix[1])


def fidelity_line(phase: PhaseRecord) -> str:
    """"retinanet: the timed call takes ×1.07 a bare call (99% CI ×1.03–×1.10, 10 rounds)" from a fidelity phase."""
    ratios = [float(r) for r in ((phase.extra or {}).get("ratios") or [])]
    if phase.phase != "fidelity" or phase.status != PhaseStatus.OK or not ratios:
        return ""
    ci = median_ci(ratios)
    shown = f"99% CI ×{ci[0]:.3f}–×{ci[1]:.3f}, " if ci else ""
    return (f"{phase.model}: the timed call takes ×{statistics.median(ratios):.3f} a bare signature call "
            f"({shown}{len(ratios)} rounds)")


def producer_line(made: Producer) -> str:
    """"retinanet: exported by TF 2.15.1 (tf2.15-cpu), loaded by a newer TensorFlow; saved_model.pb says 2.15.1"."""
    saved = made.saved_model or {}
    said = f"; saved_model.pb says TF {saved['tensorflow_version']}" if saved.get("tensorflow_version") else ""
    unknown = f"; ops unknown here: {', '.join(saved['unknown_ops'])}" if saved.get("unknown_ops") else ""
    return f"{made.model}: {made.label}, relation {made.relation}{said}{unknown}"
