"""``results/<run-id>/predictions/<combination>@<platform>-py<version>.json``: whether a combination installs on a
platform it did not run on, as the resolver answers it (``nox -s predict``).

A prediction is never a measurement: its kind is ``prediction``, it lives in its own folder of a run, and
nothing that reads measured records (timings, compare's metrics, asv) reads it.  Its status is
``installable`` or the install class the resolver's words fall in (``no-wheel``, ``resolver-conflict``,
``build-failed``, ...), with the one line that says why and the package to blame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import RECORD_SCHEMA_VERSION, __version__
from .model import CombinationInfo
from .phase import Failure, Json


@dataclass(frozen=True)
class Platform:
    """A target a prediction resolves for: ``windows`` is uv's ``x86_64-pc-windows-msvc``, wheels ``win_amd64``."""

    name: str
    python_platform: str  # uv pip compile --python-platform
    wheel_tag: str  # the tag a missing wheel is named by
    os: str  # Linux, Windows, macOS

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "python_platform": self.python_platform, "wheel_tag": self.wheel_tag,
                "os": self.os}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Platform":
        return cls(str(doc["name"]), str(doc["python_platform"]), str(doc["wheel_tag"]), str(doc["os"]))


INSTALLABLE = "installable"
#: the folder of a run that holds its predictions
FOLDER = "predictions"


@dataclass
class PlatformPrediction:
    """One combination on one platform and Python, resolved there without installing anything."""

    run_id: str
    combination: CombinationInfo
    platform: Platform
    python: str  # the Python version resolved for ("3.11")
    status: str  # installable, or the install class of the failure
    why: str = ""  # one line: "tensorflow-text 2.15.0 has no win_amd64 wheel; it is required by ..."
    failure: Failure | None = None  # class, the resolver's words, culprit, fix
    statements: list[Json] = field(default_factory=list)  # TensorFlow's own words about this platform that apply
    pins: list[str] = field(default_factory=list)  # the lock, when installable
    argv: list[str] = field(default_factory=list)  # the resolve command (uv pip compile ...)
    seconds: float = 0.0
    predicted_at: str = ""
    tfmatrix_version: str = __version__
    schema_version: int = RECORD_SCHEMA_VERSION

    kind = "prediction"

    @property
    def key(self) -> str:
        """``tf2.15-cpu@windows-py3.11``: one prediction of a run (its file's name)."""
        return prediction_key(self.combination.id, self.platform.name, self.python)

    @property
    def installable(self) -> bool:
        return self.status == INSTALLABLE

    @property
    def gpu_denied(self) -> bool:
        """TensorFlow itself says this combination's GPU does not work on this platform (a statement applies)."""
        return bool(self.statements)

    @property
    def verdict(self) -> str:
        """The grid's word: ``installable``, ``installable, no GPU`` or the failure class."""
        if self.installable and self.gpu_denied:
            return f"{INSTALLABLE}, no GPU"
        return self.status

    def to_json(self) -> Json:
        return {"schema_version": self.schema_version, "kind": self.kind, "run_id": self.run_id,
                "tfmatrix_version": self.tfmatrix_version, "combination": self.combination.to_json(),
                "platform": self.platform.to_json(), "python": self.python, "status": self.status, "why": self.why,
                "failure": self.failure.to_json() if self.failure else None, "statements": list(self.statements),
                "pins": list(self.pins), "argv": list(self.argv), "seconds": round(self.seconds, 3),
                "predicted_at": self.predicted_at}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "PlatformPrediction":
        """A record already migrated and checked (:func:`tfmatrix.records.store.load`)."""
        return cls(run_id=doc["run_id"], combination=CombinationInfo.from_json(doc["combination"]),
                   platform=Platform.from_json(doc["platform"]), python=doc["python"], status=doc["status"],
                   why=doc.get("why") or "", failure=Failure.from_json(doc.get("failure")),
                   statements=list(doc.get("statements") or []), pins=list(doc.get("pins") or []),
                   argv=list(doc.get("argv") or []), seconds=float(doc.get("seconds") or 0.0),
                   predicted_at=doc.get("predicted_at") or "", tfmatrix_version=doc["tfmatrix_version"],
                   schema_version=doc["schema_version"])


def prediction_key(combo_id: str, platform: str, python: str) -> str:
    return f"{combo_id}@{platform}-py{python}"


_KEY = re.compile(r"^(?P<combo>.+)@(?P<platform>[\w.-]+)-py(?P<python>[0-9.]+)$")


def split_key(key: str) -> tuple[str, str, str]:
    """(combination, platform, python) of a :func:`prediction_key`."""
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"not a prediction key: {key!r}")
    return m.group("combo"), m.group("platform"), m.group("python")
