"""The ``models:`` section's reader: a Model Garden or KerasHub model, or a SavedModel you bring.

Each check raises the validator's one-line ``MatrixError(file, key path, value, expected)``;
what only TensorFlow can tell (a signature, an input) is the ``inspect`` phase's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..worker.contract import KERAS_HUB, KERAS_HUB_ARCHITECTURES, MODEL_GARDEN, SAVED_MODEL, SOURCES, ModelSpec
from .validate import Validator

MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def read_model(v: Validator, value: Any, key: str, stack_ids: set[str], base: Path) -> ModelSpec:
    """A ``models:`` entry; a SavedModel ``path`` is read relative to ``base`` (the matrix file's folder)."""
    source = value.get("source", MODEL_GARDEN) if isinstance(value, dict) else MODEL_GARDEN
    if source not in SOURCES:
        raise v.fail(f"{key}.source", source, f"one of {', '.join(SOURCES)}")
    common = {"id": True, "source": False, "input_size": source != SAVED_MODEL, "stacks": False}
    if source == MODEL_GARDEN:
        m = v.mapping(value, key, {**common, "experiment": True, "overrides": False, "export_with": False})
    elif source == KERAS_HUB:
        m = v.mapping(value, key, {**common, "architecture": True, "export_with": True})
    else:
        m = v.mapping(value, key, {**common, "path": True, "signature": False, "requires_imports": False})
    mid = v.ident(m["id"], f"{key}.id")
    size = input_size(v, m["input_size"], f"{key}.input_size", source) if "input_size" in m else None
    stacks = v.ref_list(m.get("stacks", []), f"{key}.stacks", stack_ids, "stacks")
    if source == SAVED_MODEL:
        signature = v.string(m.get("signature", "serving_default"), f"{key}.signature")
        imports = tuple(v.str_list(m.get("requires_imports", []), f"{key}.requires_imports",
                                      check=lambda x, k: module(v, x, k)))
        return ModelSpec(id=mid, source=source, input_size=size, stacks=stacks,
                         path=saved_model(v, m["path"], f"{key}.path", base), signature=signature,
                         requires_imports=imports)
    if source == KERAS_HUB:
        arch = m["architecture"]
        if arch not in KERAS_HUB_ARCHITECTURES:
            raise v.fail(f"{key}.architecture", arch, f"one of {', '.join(KERAS_HUB_ARCHITECTURES)} (a KerasHub "
                                                      "detector built from its config)")
        return ModelSpec(id=mid, source=source, architecture=arch, input_size=size, stacks=stacks,
                         export_with=v.ident(m["export_with"], f"{key}.export_with"))
    exp = v.ident(m["experiment"], f"{key}.experiment")
    overrides = m.get("overrides", {})
    if not isinstance(overrides, dict):
        raise v.fail(f"{key}.overrides", overrides, "a mapping of Model Garden config overrides")
    try:
        json.dumps(overrides, sort_keys=True)  # as config_digest() does
    except (TypeError, ValueError):
        raise v.fail(f"{key}.overrides", overrides, "plain YAML values (strings, numbers, lists, mappings with string keys)") from None
    export_with = v.ident(m["export_with"], f"{key}.export_with") if "export_with" in m else None
    return ModelSpec(id=mid, experiment=exp, input_size=size, overrides=overrides, stacks=stacks,
                     export_with=export_with)


def input_size(v: Validator, size: Any, key: str, source: str) -> tuple[int, int]:
    if source != SAVED_MODEL:  # a model tfmatrix builds: its feature pyramid's strides divide the size
        if (not isinstance(size, list) or len(size) != 2
                or any(type(s) is not int or s < 32 or s > 4096 or s % 32 for s in size)):
            raise v.fail(key, size, "[height, width], integers from 32 to 4096, multiples of 32")
    elif not isinstance(size, list) or len(size) != 2 or any(type(s) is not int or s < 1 or s > 8192
                                                               for s in size):
        raise v.fail(key, size, "[height, width], integers from 1 to 8192 (the size fed where the "
                                   "signature leaves it dynamic)")
    return (size[0], size[1])


def module(v: Validator, value: Any, key: str) -> str:
    if not isinstance(value, str) or not MODULE_RE.match(value):
        raise v.fail(key, value, "a Python module name such as tensorflow_text")
    return value


def saved_model(v: Validator, value: Any, key: str, base: Path) -> str:
    """An existing SavedModel folder (absolute, or relative to the matrix file): one holding saved_model.pb."""
    value = v.string(value, key)
    if any(ord(c) < 32 for c in value):
        raise v.fail(key, value, "a folder path without control characters")
    folder = Path(value).expanduser()
    folder = folder if folder.is_absolute() else base / folder
    if not folder.is_dir():
        raise v.fail(key, value, f"an existing SavedModel folder ({folder} is not a folder)")
    if not any((f / "saved_model.pb").is_file() for f in (folder, folder / "saved_model")):
        raise v.fail(key, value, f"a SavedModel folder: {folder} holds no saved_model.pb (nor saved_model/ with one)")
    return str(folder.resolve())
