"""A profile of the matrix, expanded into combinations; the one predicate that decides what runs.

:func:`is_selected` is that predicate (in the spirit of alembic's
``tools/toxnox.py``); :func:`combinations` applies it, with the profile's and
the entries' own restrictions, in a stable order (matrix order).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterable

from ..worker.contract import KERAS_HUB
from .model import Combination, Matrix, ModelSpec, Stack, TFVersion


def is_selected(matrix: Matrix, tf: TFVersion, stack: Stack, python: str) -> tuple[bool, str]:
    """The one predicate: does this triple run?  Returns (yes, reason if not)."""
    for rule in matrix.exclude:
        if rule.matches(tf, stack, python):
            return False, rule.reason or "excluded by a rule"
    if matrix.include and not any(r.matches(tf, stack, python) for r in matrix.include):
        return False, "matches no include rule"
    return True, ""


def combination_id(tf: TFVersion, stack: Stack, python: str, several_pythons: bool) -> str:
    base = f"{tf.id}-{stack.id}"
    return f"{base}-py{python}" if several_pythons else base


def producer_entry(tf: TFVersion, model: ModelSpec) -> str | None:
    """The id of the entry that exports ``model`` for ``tf``'s combinations (None: each exports its own)."""
    if not model.built:
        return None
    if model.source == KERAS_HUB:  # only an entry with keras-hub builds it: the model's own export_with
        return model.export_with
    return model.export_with or tf.export_with


def exporter(matrix: Matrix, producer: TFVersion, python: str, model: ModelSpec) -> Combination | None:
    """The combination that exports ``model`` for others: ``producer`` on the first CPU stack it may use,
    with ``python`` where the rules allow it there, else with the first Python they allow (None: none)."""
    several = len(matrix.pythons) > 1
    for stack in matrix.stacks:
        if stack.kind != "cpu" or (producer.stacks and stack.id not in producer.stacks):
            continue
        for py in [python] + [p for p in matrix.pythons if p != python]:
            if is_selected(matrix, producer, stack, py)[0]:
                return Combination(id=combination_id(producer, stack, py, several), tf=producer, stack=stack,
                                   python=py, models=(model,), tags=(stack.id, producer.id, f"py{py}", "cpu"))
    return None


def exporters(matrix: Matrix, tf: TFVersion, python: str, own_id: str,
              models: Iterable[ModelSpec]) -> dict[str, Combination]:
    """Model id -> the combination exporting it, for the models another combination exports."""
    out = {}
    for m in models:
        pid = producer_entry(tf, m)
        if pid is None:
            continue
        found = exporter(matrix, matrix.entry(pid), python, m)
        if found is not None and found.id != own_id:  # validated: a producer always has one
            out[m.id] = found
    return out


def combinations(matrix: Matrix, profile: str = "default",
                 models: Iterable[str] | None = None) -> list[Combination]:
    """Expand the matrix for a profile, in a stable order (matrix order)."""
    prof = matrix.profile(profile)
    wanted_models = set(models) if models else None
    several_pythons = len(matrix.pythons) > 1
    out: list[Combination] = []
    for tf, stack, python in itertools.product(matrix.tensorflow, matrix.stacks, matrix.pythons):
        if prof.tensorflow and tf.id not in prof.tensorflow:
            continue
        if (prof.stacks and stack.id not in prof.stacks) or (tf.stacks and stack.id not in tf.stacks):
            continue
        if prof.pythons and python not in prof.pythons:
            continue
        ok, _ = is_selected(matrix, tf, stack, python)
        if not ok:
            continue
        chosen = tuple(
            m for m in matrix.models
            if (not prof.models or m.id in prof.models)
            and (not m.stacks or stack.id in m.stacks)
            and (wanted_models is None or m.id in wanted_models)
        )
        if not chosen:
            continue
        tags = [stack.id, tf.id, f"py{python}", "gpu" if stack.needs_gpu else "cpu"]
        if tf.expect:
            tags.append("known-bad")
        if tf.load_only:
            tags.append("load-only")
        if tf.package == "tf-nightly":
            tags.append("nightly")
        hardware = None
        if stack.needs_gpu:
            for level in (prof.hardware, stack.hardware, tf.hardware):
                hardware = level.over(hardware) if level else hardware
        if hardware and hardware.gpu_type:
            tags.append(f"gpu-{hardware.gpu_type.lower()}")  # a CI runner label, say
        cid = combination_id(tf, stack, python, several_pythons)
        out.append(Combination(
            id=cid, tf=tf, stack=stack, python=python, models=chosen, tags=tuple(dict.fromkeys(tags)),
            hardware=hardware, exporters=exporters(matrix, tf, python, cid, chosen),
        ))
    return out


def matrix_path_from_env(root: Path) -> Path:
    """``TFMATRIX_MATRIX`` if set (relative to the cwd), else ``ROOT/matrix.yaml``."""
    value = os.environ.get("TFMATRIX_MATRIX")
    return Path(value).resolve() if value else root / "matrix.yaml"


