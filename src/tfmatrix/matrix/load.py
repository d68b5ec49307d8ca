"""Read a matrix file and validate it into :class:`~tfmatrix.matrix.model.Matrix`.

Every problem is one :class:`~tfmatrix.errors.MatrixError` naming the file, the
key path, the bad value and what was expected (the checks are :mod:`.validate`'s).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Any, Sequence

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .. import MATRIX_SCHEMA_VERSION
from ..diagnosis import compat
from ..errors import MISSING, MatrixError
from ..worker.contract import KERAS_HUB, SAVED_MODEL, ModelSpec
from .expand import combination_id, exporter, producer_entry
from .model import Matrix, TFVersion
from .models import read_model
from .validate import Validator


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # a '<<' merge key: construct_mapping below merges it
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen[key] = True
        except TypeError:
            pass  # an unhashable key: construct_mapping below reports it as a YAML error
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_matrix(path: str | os.PathLike[str]) -> Matrix:
    """Read and validate a matrix file; raise :class:`MatrixError` on any problem."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MatrixError(name, "", MISSING, "an existing matrix file") from None
    except OSError as exc:
        raise MatrixError(name, "", exc.strerror, "a readable matrix file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MatrixError(name, "", "undecodable bytes", "a UTF-8 text file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nesting too deep
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MatrixError(name, where, problem, "valid YAML") from None
    return parse_matrix(data, name, sha256=hashlib.sha256(raw).hexdigest())


def parse_matrix(data: Any, file: str = "<matrix>", sha256: str = "") -> Matrix:
    v = Validator(file)
    top = v.mapping(data, "", {
        "schema_version": True, "pythons": True, "tensorflow": True, "stacks": True,
        "models": True, "workload": False, "timeouts": False, "include": False,
        "exclude": False, "profiles": False, "index_url": False,
    })
    sv = top["schema_version"]
    if type(sv) is not int or sv != MATRIX_SCHEMA_VERSION:
        raise MatrixError(file, "schema_version", sv, f"the integer {MATRIX_SCHEMA_VERSION}")

    pythons = tuple(v.str_list(top["pythons"], "pythons", check=v.python, nonempty=True))
    v.unique(pythons, "pythons", lambda x: x)

    stacks = tuple(v.seq(top["stacks"], "stacks", v.stack, nonempty=True))
    v.unique(stacks, "stacks", lambda s: s.id)
    tfs = tuple(v.seq(top["tensorflow"], "tensorflow",
                      lambda x, k: v.tensorflow(x, k, {s.id for s in stacks}), nonempty=True))
    v.unique(tfs, "tensorflow", lambda t: t.id)
    combo_ids: dict[str, str] = {}  # "tfN.M-STACK" must not come from two (tf, stack) pairs
    for (i, stack), tf, py in itertools.product(enumerate(stacks), tfs, pythons):
        cid = combination_id(tf, stack, py, len(pythons) > 1)
        if cid in combo_ids:
            raise MatrixError(file, f"stacks[{i}].id", stack.id,
                              f"ids that keep combination ids distinct ({tf.id!r} + {stack.id!r} "
                              f"and {combo_ids[cid]} both give {cid!r})")
        combo_ids[cid] = f"{tf.id!r} + {stack.id!r}"
    stack_ids = {s.id for s in stacks}
    base = Path(file).parent if file and not file.startswith("<") else Path.cwd()
    models = tuple(v.seq(top["models"], "models", lambda x, k: read_model(v, x, k, stack_ids, base), nonempty=True))
    per_stack_models(v, models)

    workload = v.workload(top.get("workload", MISSING), "workload")
    timeouts = v.timeouts(top.get("timeouts", MISSING), "timeouts")
    include = tuple(v.seq(top.get("include", []), "include", lambda x, k: v.rule(x, k, stack_ids)))
    exclude = tuple(v.seq(top.get("exclude", []), "exclude", lambda x, k: v.rule(x, k, stack_ids)))
    known = {"tensorflow": {t.id for t in tfs}, "stacks": stack_ids,
             "pythons": set(pythons), "models": {m.id for m in models}}
    profiles = tuple(v.profiles(top.get("profiles", MISSING), "profiles", known))
    index_url = v.url(top["index_url"], "index_url") if "index_url" in top else None
    matrix = Matrix(
        path=file, sha256=sha256, schema_version=sv, pythons=pythons, tensorflow=tfs,
        stacks=stacks, models=models, workload=workload, timeouts=timeouts,
        include=include, exclude=exclude, profiles=profiles, index_url=index_url,
    )
    check_exports(matrix, v)
    return matrix


def check_exports(matrix: Matrix, v: Validator) -> None:
    """Every ``export_with`` names an entry that can export (it has the Model Garden and a CPU stack), and no
    load-only entry meets a Model Garden model it would have to build itself."""
    producers = {t.id: t for t in matrix.tensorflow}
    where = [(f"tensorflow[{i}].export_with", t.export_with, False) for i, t in enumerate(matrix.tensorflow)]
    where += [(f"models[{i}].export_with", m.export_with, m.source == KERAS_HUB) for i, m in enumerate(matrix.models)]
    for key, pid, keras_hub in where:
        if pid is None:
            continue
        producer = producers.get(pid)
        if producer is None:
            raise v.fail(key, pid, f"one of the tensorflow ids defined: {', '.join(producers)}")
        if keras_hub:
            check_keras_hub_exporter(v, key, producer)
        elif producer.load_only:
            raise v.fail(key, pid, "an entry with models_official (a load-only entry cannot export)")
        if all(exporter(matrix, producer, py, matrix.models[0]) is None for py in matrix.pythons):
            raise v.fail(key, pid, "an entry that may run on a stack of kind cpu (exports are made on the CPU)")
    for i, tf in enumerate(matrix.tensorflow):
        if not tf.load_only:
            continue
        for m in matrix.models:
            shared = (not m.stacks or not tf.stacks) or bool(set(m.stacks) & set(tf.stacks))
            if shared and m.built and producer_entry(tf, m) is None:
                raise v.fail(f"tensorflow[{i}]", tf.id, f"export_with on this entry or on model {m.id!r}: a "
                             f"load-only entry (no models_official) cannot build the Model Garden model {m.id!r}")


def check_keras_hub_exporter(v: Validator, key: str, producer: TFVersion) -> None:
    """A KerasHub model's exporter: an entry whose venv has keras-hub (its ``requires``) and Keras 3."""
    names = {canonicalize_name(Requirement(r).name) for r in producer.requires}
    if "keras-hub" not in names:
        raise v.fail(key, producer.id, "an entry with keras-hub in its requires (e.g. requires: "
                                       "[\"keras-hub==0.32.0\"]): the KerasHub model is built in its venv")
    built = compat.build_config(producer.version)
    if built is not None and built.keras_major is not None and built.keras_major < 3:
        raise v.fail(key, producer.id, f"an entry whose TensorFlow has Keras 3 (TensorFlow {producer.version} "
                                       f"requires keras {built.keras_requirement}; KerasHub needs Keras 3)")


def per_stack_models(v: Validator, models: Sequence[ModelSpec]) -> None:
    """Model ids are unique, except a SavedModel you bring given once per stack: the same id on ``saved_model``
    entries whose ``stacks:`` are named and disjoint (a TF-TRT SavedModel for the GPU stacks, the plain one for
    the CPU), so a combination still has one model of each id and compare and the report line them up."""
    stacks_of: dict[str, list[tuple[str, set[str]]]] = {}
    for i, m in enumerate(models):
        earlier = stacks_of.setdefault(m.id, [])
        if earlier and (m.source != SAVED_MODEL or not m.stacks
                        or any(src != SAVED_MODEL or not s or s & set(m.stacks) for src, s in earlier)):
            raise v.fail(f"models[{i}].id", m.id, "an id not already used in models (a SavedModel you bring may be "
                                                   "given once per stack: `source: saved_model` entries naming "
                                                   "disjoint `stacks:`)")
        earlier.append((m.source, set(m.stacks)))

