"""The platforms a prediction resolves for, and what TensorFlow says of them that no resolver sees.

The data is compat.yaml's ``platforms``, ``platform_rules`` and ``no_wheel_advice`` (each with its
source); this module reads it once into frozen dataclasses and answers two questions: which
:class:`Platform` a ``--platform`` name means, and which :class:`Statement` applies to a combination
there.  No network, no TensorFlow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import TfmatrixError
from ..records.prediction import Platform
from .compat import COMPAT


@dataclass(frozen=True)
class Statement:
    """TensorFlow's own word about a platform (``no GPU on native Windows after TF 2.10``), with its source."""

    id: str
    platforms: tuple[str, ...]
    stacks: tuple[str, ...]  # stack kinds it is about
    tensorflow: str  # a specifier; "" for every release
    statement: str
    quote: str
    source: str
    advice: str

    def applies(self, platform: str, stack_kind: str, tf_version: str) -> bool:
        if platform not in self.platforms or stack_kind not in self.stacks:
            return False
        if not self.tensorflow:
            return True
        try:
            return Version(tf_version) in SpecifierSet(self.tensorflow, prereleases=True)
        except InvalidVersion:
            return False

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "statement": self.statement, "quote": self.quote, "source": self.source,
                "advice": self.advice}


@dataclass(frozen=True)
class NoWheelAdvice:
    """What a package's missing wheel on a platform means, where a source says more than the resolver."""

    package: str
    platforms: tuple[str, ...]
    wheels: str  # the releases with a wheel for those platforms, as a specifier ("<=2.10.0")
    advice: str


@dataclass(frozen=True)
class PlatformData:
    platforms: Mapping[str, Platform]
    rules: tuple[Statement, ...]
    no_wheel: tuple[NoWheelAdvice, ...]

    def platform(self, name: str) -> Platform:
        try:
            return self.platforms[name]
        except KeyError:
            raise TfmatrixError(f"--platform: got {name!r}; expected one of {', '.join(self.platforms)}") from None

    def statements(self, platform: str, stack_kind: str, tf_version: str) -> list[Statement]:
        return [r for r in self.rules if r.applies(platform, stack_kind, tf_version)]

    def advice(self, package: str, platform: str) -> NoWheelAdvice | None:
        return next((a for a in self.no_wheel if a.package == package and platform in a.platforms), None)


def parse(data: Mapping[str, Any], origin: str = "compat data") -> PlatformData:
    try:
        platforms = {str(k): Platform(str(k), str(v["python_platform"]), str(v["wheel_tag"]), str(v["os"]))
                     for k, v in data["platforms"].items()}
        rules = tuple(Statement(str(r["id"]), tuple(map(str, r["platforms"])), tuple(map(str, r["stacks"])),
                                str(r.get("tensorflow") or ""), str(r["statement"]), str(r["quote"]),
                                str(r["source"]), str(r["advice"]).strip())
                      for r in data["platform_rules"])
        no_wheel = tuple(NoWheelAdvice(str(a["package"]), tuple(map(str, a["platforms"])), str(a["wheels"]),
                                       str(a["advice"]).strip()) for a in data.get("no_wheel_advice") or ())
        for r in rules:
            if r.tensorflow:
                SpecifierSet(r.tensorflow)
            unknown = set(r.platforms) - set(platforms)
            if unknown:
                raise ValueError(f"platform_rules {r.id}: unknown platforms {sorted(unknown)}")
    except (KeyError, TypeError, ValueError, AttributeError, InvalidSpecifier) as exc:
        raise TfmatrixError(f"{origin}: platforms do not parse: {type(exc).__name__}: {exc}") from None
    return PlatformData(platforms, rules, no_wheel)


@functools.lru_cache(maxsize=None)
def load(path: str | None = None) -> PlatformData:
    """compat.yaml's platforms (``path``: another compat file), read once per process."""
    where = Path(path) if path else COMPAT
    return parse(yaml.safe_load(where.read_text(encoding="utf-8")), str(where))
