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

from .model import Combination, Matrix, Stack, TFVersion


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
        hardware = None
        if stack.needs_gpu:
            for level in (prof.hardware, stack.hardware, tf.hardware):
                hardware = level.over(hardware) if level else hardware
        if hardware and hardware.gpu_type:
            tags.append(f"gpu-{hardware.gpu_type.lower()}")  # a CI runner label, say
        out.append(Combination(
            id=combination_id(tf, stack, python, several_pythons), tf=tf, stack=stack,
            python=python, models=chosen, tags=tuple(dict.fromkeys(tags)), hardware=hardware,
        ))
    return out


def matrix_path_from_env(root: Path) -> Path:
    """``TFMATRIX_MATRIX`` if set (relative to the cwd), else ``ROOT/matrix.yaml``."""
    value = os.environ.get("TFMATRIX_MATRIX")
    return Path(value).resolve() if value else root / "matrix.yaml"


