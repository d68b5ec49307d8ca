"""The checks behind a matrix file: small typed readers, each failing with one line.

Each reader raises ``MatrixError(file, key path, value, expected)``.  The
``workload:`` section is read from the fields of
:class:`~tfmatrix.worker.contract.Workload` (their YAML keys, lower bounds and
defaults), so a new workload setting needs no code here.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Any, Callable, Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import MISSING, MatrixError
from .model import (
    GPU_STACK_KINDS,
    ID_RE,
    NIGHTLY_RE,
    PHASES,
    PYTHON_RE,
    STACK_KINDS,
    TF_PACKAGES,
    Hardware,
    Profile,
    Rule,
    Stack,
    TFVersion,
    Timeouts,
    Workload,
)


class Validator:
    """Small typed readers; each raises MatrixError(file, key path, value, expected)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, value: Any, expected: str) -> MatrixError:
        return MatrixError(self.file, key, value, expected)

    # -- shapes
    def mapping(self, value: Any, key: str, fields: Mapping[str, bool]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", value, "a mapping")
        for k in value:
            if not isinstance(k, str) or k not in fields:
                allowed = ", ".join(fields)
                raise self.fail(_join(key, str(k)), value[k], f"no such key (allowed: {allowed})")
        for k, required in fields.items():
            if required and k not in value:
                raise self.fail(_join(key, k), MISSING, "this key to be set")
        return value

    def url(self, value: Any, key: str) -> str:
        """An http(s) index URL with a host, no whitespace and no credentials-looking oddities."""
        from urllib.parse import urlsplit

        expected = "an http:// or https:// URL of a package index, such as https://pypi.org/simple"
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise self.fail(key, value, expected)
        try:
            parts = urlsplit(value)
        except ValueError:
            raise self.fail(key, value, expected) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail(key, value, expected)
        return value

    def library_dir(self, value: Any, key: str) -> str:
        """An absolute folder of the host's CUDA libraries: no '..', no control characters, no PATH list."""
        import ntpath
        import posixpath

        value = self.string(value, key)
        absolute = posixpath.isabs(value) or (ntpath.isabs(value) and ntpath.splitdrive(value)[0] != "")
        parts = value.replace("\\", "/").split("/")
        if (not absolute or ".." in parts or any(ord(c) < 32 for c in value)
                or (os.pathsep in value and not ntpath.splitdrive(value)[0])):
            raise self.fail(key, value, "an absolute folder such as /usr/local/cuda-12.4/lib64, "
                                        "without '..' (one folder per list item)")
        return value

    def seq(self, value: Any, key: str, item: Callable[[Any, str], Any], nonempty: bool = False) -> list:
        if not isinstance(value, list):
            raise self.fail(key, value, "a list")
        if nonempty and not value:
            raise self.fail(key, value, "a non-empty list")
        return [item(x, f"{key}[{i}]") for i, x in enumerate(value)]

    def unique(self, items: Iterable[Any], key: str, ident: Callable[[Any], str]) -> None:
        seen: set[str] = set()
        for i, it in enumerate(items):
            name = ident(it)
            if name in seen:
                raise self.fail(f"{key}[{i}]", name, f"an id not already used in {key}")
            seen.add(name)

    # -- scalars
    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, value, "a non-empty string")
        return value

    def ident(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not ID_RE.match(value):
            raise self.fail(key, value, "an id of letters, digits, '.', '_' or '-' (at most 63, no leading punctuation)")
        return value

    def integer(self, value: Any, key: str, minimum: int = 0) -> int:
        if type(value) is not int or value < minimum:
            raise self.fail(key, value, f"an integer >= {minimum}")
        return value

    def number(self, value: Any, key: str, minimum: float = 0.0) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or value < minimum:
            raise self.fail(key, value, f"a finite number >= {minimum}")
        return float(value)

    def python(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not PYTHON_RE.match(value):
            raise self.fail(key, value, 'a quoted Python version such as "3.11"')
        return value

    def version(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a quoted version string such as "2.20.0"')
        try:
            Version(value)
        except InvalidVersion:
            raise self.fail(key, value, 'a PEP 440 version such as "2.20.0"') from None
        return value

    def specifier(self, value: Any, key: str) -> SpecifierSet:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a quoted version specifier such as ">=2.16"')
        try:
            spec = SpecifierSet(value)
        except InvalidSpecifier:
            raise self.fail(key, value, 'a PEP 440 specifier such as ">=2.16,<2.19" or "==2.15.*"') from None
        if not str(spec):
            raise self.fail(key, value, 'a non-empty specifier such as ">=2.16"')
        return spec

    def requirement(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a PEP 508 requirement such as "numpy<2"')
        text = value.strip()
        if text.startswith("-"):
            raise self.fail(key, value, "a PEP 508 requirement, not an installer option (index URLs have their own key)")
        try:
            Requirement(text)
        except InvalidRequirement:
            raise self.fail(key, value, 'a PEP 508 requirement such as "numpy<2"') from None
        return text

    def str_list(self, value: Any, key: str, check: Callable[[Any, str], str] | None = None,
                 nonempty: bool = False) -> list[str]:
        check = check or self.string
        return self.seq(value, key, check, nonempty=nonempty)

    def ref_list(self, value: Any, key: str, known: set[str], what: str) -> tuple[str, ...]:
        items = self.str_list(value, key)
        for i, it in enumerate(items):
            if it not in known:
                raise self.fail(f"{key}[{i}]", it, f"one of the {what} defined: {', '.join(sorted(known))}")
        return tuple(items)

    # -- records
    def tensorflow(self, value: Any, key: str, stack_ids: set[str]) -> TFVersion:
        m = self.mapping(value, key, {"id": False, "version": True, "models_official": False, "requires": False,
                                      "force": False, "expect": False, "stacks": False, "hardware": False,
                                      "package": False, "export_with": False})
        version = self.version(m["version"], f"{key}.version")
        parsed = Version(version)
        tid = self.ident(m.get("id", f"tf{parsed.major}.{parsed.minor}"), f"{key}.id")
        package = m.get("package", "tensorflow")
        if not isinstance(package, str) or package not in TF_PACKAGES:
            raise self.fail(f"{key}.package", package, f"one of {', '.join(TF_PACKAGES)}")
        if package == "tf-nightly":
            self.nightly(version, f"{key}.version")
        mo = self.version(m["models_official"], f"{key}.models_official") if "models_official" in m else None
        if mo is not None and package != "tensorflow":
            raise self.fail(f"{key}.models_official", mo, f"no models_official with package {package} "
                            "(tf-models-official requires the tensorflow package): leave it out and load "
                            "another entry's export (export_with)")
        reqs = tuple(self.str_list(m.get("requires", []), f"{key}.requires", check=self.requirement))
        self._no_core_override(reqs, f"{key}.requires")
        force = tuple(self.str_list(m.get("force", []), f"{key}.force", check=self.requirement))
        self._no_core_override(force, f"{key}.force")
        expect = None
        if "expect" in m:
            from ..diagnosis.classify import failure_classes

            known = failure_classes()
            if m["expect"] not in known:
                raise self.fail(f"{key}.expect", m["expect"], f"a failure class: {', '.join(known)}")
            expect = m["expect"]
        stacks = self.ref_list(m.get("stacks", []), f"{key}.stacks", stack_ids, "stacks")
        export_with = self.ident(m["export_with"], f"{key}.export_with") if "export_with" in m else None
        return TFVersion(id=tid, version=version, models_official=mo, requires=reqs, force=force,
                         expect=expect, stacks=stacks, hardware=self.hardware(m, key), package=package,
                         export_with=export_with)

    def nightly(self, version: str, key: str) -> None:
        """A nightly is pinned to one build: ``X.Y.Z.devYYYYMMDD`` with a real date (never "latest")."""
        m = NIGHTLY_RE.search(version)
        try:
            if m is None:
                raise ValueError
            import datetime

            datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise self.fail(key, version, "one nightly build, pinned exactly: X.Y.Z.devYYYYMMDD such as "
                                          "\"2.23.0.dev20261026\"") from None

    def hardware(self, parent: Mapping[str, Any], key: str) -> Hardware | None:
        if "hardware" not in parent:
            return None
        key = f"{key}.hardware"
        m = self.mapping(parent["hardware"], key, {"gpu_type": False, "min_gpu_memory_gib": False,
                                                   "min_driver": False})
        if not m:
            raise self.fail(key, m, "at least one of gpu_type, min_gpu_memory_gib, min_driver")
        gpu_type = None
        if "gpu_type" in m:
            gpu_type = m["gpu_type"]
            if not isinstance(gpu_type, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", gpu_type):
                raise self.fail(f"{key}.gpu_type", gpu_type, "a GPU model such as H100, A100 or RTX-2080 "
                                "(letters, digits, '.', '_', '-')")
        memory = self.number(m["min_gpu_memory_gib"], f"{key}.min_gpu_memory_gib", 0.001) \
            if "min_gpu_memory_gib" in m else None
        driver = None
        if "min_driver" in m:
            driver = str(m["min_driver"]) if isinstance(m["min_driver"], (str, int, float)) else m["min_driver"]
            if not isinstance(driver, str) or not re.fullmatch(r"[0-9]{2,4}(\.[0-9]{1,3}){0,2}", driver):
                raise self.fail(f"{key}.min_driver", m["min_driver"], "an NVIDIA driver version such as \"535\" "
                                "or \"535.104.05\"")
        return Hardware(gpu_type=gpu_type, min_gpu_memory_gib=memory, min_driver=driver)

    def _no_core_override(self, reqs: Iterable[str], key: str) -> None:
        for i, r in enumerate(reqs):
            name = canonicalize_name(Requirement(r).name)
            if name in ("tensorflow", "tf-models-official", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly"):
                raise self.fail(f"{key}[{i}]", r, "an extra pin; TensorFlow and tf-models-official come from "
                                "'package', 'version' and 'models_official'")

    def stack(self, value: Any, key: str) -> Stack:
        m = self.mapping(value, key, {"id": True, "kind": True, "requires": False, "library_path": False,
                                      "hardware": False})
        sid = self.ident(m["id"], f"{key}.id")
        kind = m["kind"]
        if kind not in STACK_KINDS:
            raise self.fail(f"{key}.kind", kind, f"one of {', '.join(STACK_KINDS)}")
        reqs = tuple(self.str_list(m.get("requires", []), f"{key}.requires", check=self.requirement))
        self._no_core_override(reqs, f"{key}.requires")
        libs = tuple(self.str_list(m.get("library_path", []), f"{key}.library_path", check=self.library_dir))
        if libs and kind != "cuda-system":
            raise self.fail(f"{key}.library_path", list(libs), "no library_path except on a cuda-system stack")
        hardware = self.hardware(m, key)
        if hardware and kind not in GPU_STACK_KINDS:
            raise self.fail(f"{key}.hardware", m["hardware"], "no hardware needs on a cpu stack (they name a GPU)")
        return Stack(id=sid, kind=kind, requires=reqs, library_path=libs, hardware=hardware)

    def workload(self, value: Any, key: str) -> Workload:
        """``workload:``, read from the contract's fields: each one's YAML key, type, lower bound and default."""
        if value is MISSING:
            return Workload()
        fields = dataclasses.fields(Workload)
        tree: dict[str, Any] = {}  # the allowed keys, nested as the YAML nests them
        for f in fields:
            *parents, leaf = f.metadata["yaml"].split(".")
            node = tree
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = f

        def section(given: Any, shape: dict[str, Any], where: str) -> dict[str, Any]:
            m = self.mapping(given, where, {k: False for k in shape})
            out = {}
            for k, sub in shape.items():
                if isinstance(sub, dict):
                    out.update(section(m.get(k, {}), sub, f"{where}.{k}"))
                elif k in m:
                    out[sub.name] = self.setting(m[k], f"{where}.{k}", sub)
            return out

        return Workload(**section(value, tree, key))

    def setting(self, value: Any, key: str, f: "dataclasses.Field[Any]") -> Any:
        """One workload value, checked as its field's default is typed (bool, int, float, or a tuple of distinct ints)."""
        low = f.metadata["minimum"]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[operator]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise self.fail(key, value, "true or false")
            return value
        if isinstance(default, float):
            return self.number(value, key, float(low))
        if not isinstance(default, tuple):
            return self.integer(value, key, int(low))
        items = self.seq(value, key, lambda x, k: self.integer(x, k, int(low)), nonempty=True)
        if len(set(items)) != len(items):
            raise self.fail(key, items, "distinct values")
        return tuple(items)

    def timeouts(self, value: Any, key: str) -> Timeouts:
        if value is MISSING:
            return Timeouts()
        m = self.mapping(value, key, {p: False for p in PHASES})
        d = Timeouts()
        vals = {p: self.number(m.get(p, d.for_phase(p)), f"{key}.{p}", 1.0) for p in PHASES}
        return Timeouts(install=vals["install"], import_=vals["import"], export=vals["export"],
                        load=vals["load"], inference=vals["inference"])

    def rule(self, value: Any, key: str, stack_ids: set[str]) -> Rule:
        m = self.mapping(value, key, {"tensorflow": False, "stack": False, "python": False, "reason": False})
        if not any(k in m for k in ("tensorflow", "stack", "python")):
            raise self.fail(key, value, "at least one of tensorflow, stack, python")
        stacks: tuple[str, ...] = ()
        if "stack" in m:
            raw = m["stack"] if isinstance(m["stack"], list) else [m["stack"]]
            if not raw:  # an empty list would match every stack
                raise self.fail(f"{key}.stack", raw, "a stack id or a non-empty list of stack ids")
            stacks = self.ref_list(raw, f"{key}.stack", stack_ids, "stacks")
        return Rule(
            tensorflow=self.specifier(m["tensorflow"], f"{key}.tensorflow") if "tensorflow" in m else None,
            stacks=stacks,
            python=self.specifier(m["python"], f"{key}.python") if "python" in m else None,
            reason=self.string(m["reason"], f"{key}.reason") if "reason" in m else "",
        )

    def profiles(self, value: Any, key: str, known: Mapping[str, set[str]]) -> list[Profile]:
        if value is MISSING:
            return [Profile(id="default", description="everything in the matrix")]
        if not isinstance(value, dict):
            raise self.fail(key, value, "a mapping of profile name to profile")
        out = []
        for name, body in value.items():
            pkey = _join(key, str(name))
            pid = self.ident(name, pkey)
            if pid == "all":
                raise self.fail(pkey, name, "a profile name other than 'all' (reserved)")
            m = self.mapping(body if body is not None else {}, pkey,
                             {"description": False, "tensorflow": False, "stacks": False,
                              "pythons": False, "models": False, "hardware": False})
            out.append(Profile(
                id=pid,
                description=self.string(m["description"], f"{pkey}.description") if "description" in m else "",
                tensorflow=self.ref_list(m.get("tensorflow", []), f"{pkey}.tensorflow", known["tensorflow"], "tensorflow ids"),
                stacks=self.ref_list(m.get("stacks", []), f"{pkey}.stacks", known["stacks"], "stacks"),
                pythons=self.ref_list(m.get("pythons", []), f"{pkey}.pythons", known["pythons"], "pythons"),
                models=self.ref_list(m.get("models", []), f"{pkey}.models", known["models"], "models"),
                hardware=self.hardware(m, pkey),
            ))
        if not any(p.id == "default" for p in out):
            raise self.fail(key, sorted(value), "a 'default' profile (what `nox -s bench` runs)")
        return out


def _join(prefix: str, key: str) -> str:
    key = key if key.isprintable() else repr(key)  # a key path stays on one line
    return f"{prefix}.{key}" if prefix else key
