"""One prediction: a combination's pins resolved for another platform and Python, read like an install.

The resolve is the installer's own (:func:`tfmatrix.run.provisioning.install.resolve_lock`, from
:func:`~tfmatrix.run.provisioning.install.install_args`): the same requirements, forced pins and resolve date
a real install of the combination uses, with ``--python-platform``/``--python-version`` in place of the venv's
interpreter.  A failed resolve is classified and blamed as a failed install is
(:func:`tfmatrix.run.noxside.endings.install_failed`), and the record says it in one line: "tensorflow-text
2.15.0 has no win_amd64 wheel; it is required by tf-models-official 2.15.0".  TensorFlow's own statements
about the platform (compat.yaml's ``platform_rules``) are added where they apply: no resolver sees them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

from ..diagnosis.platforms import PlatformData
from ..matrix.model import Combination
from ..records.model import CombinationInfo, InstallOutcome, now
from ..records.phase import Failure
from ..records.prediction import INSTALLABLE, Platform, PlatformPrediction, prediction_key
from ..run.noxside.endings import install_failed
from ..run.provisioning.install import install_args, resolve_lock

#: seconds one resolve may take (a cold uv cache downloads the wheels' metadata)
TIMEOUT = 600.0

_DEPENDS = re.compile(r"`?(?P<pkg>[A-Za-z0-9][\w.\[\]-]*?)`?(?:==(?P<ver>[^\s,`]+)|(?P<spec>[<>=!~][^\s`]*))?`? depends on "
                      r"`?(?P<dep>[A-Za-z0-9][\w.-]*)")
_AVAILABLE = re.compile(r"(?:Wheels are available for|we only found wheels for) `?(?P<pkg>[\w.-]+)`? \(v(?P<ver>[^)]+)\)"
                        r"(?: on| with) the following (?:[\w ]+ tags|platforms?): (?P<tags>.+)")
#: the tag the resolver found no wheel for: a platform's (``win_amd64``) or a Python's (``cp310``)
_TAG = re.compile(r"has no wheels with a matching (?P<kind>[\w ]+?) tag \(e\.g\., `(?P<tag>[^`]+)`\)")


def predict(combo: Combination, platform: Platform, python: str, data: PlatformData, *, run_id: str,
            work: Path, timeout: float = TIMEOUT) -> PlatformPrediction:
    """Resolve ``combo`` for ``platform`` and ``python``; its record (not written).

    Where TensorFlow says the combination's GPU does not work there and its GPU wheels do not resolve, its
    requirements are resolved once more without the CUDA extra: what stops the same combination on the CPU is
    the culprit a user meets next (the Model Garden's tensorflow-text on Windows), the GPU wheels are not.
    """
    info = CombinationInfo.of(combo)
    key = prediction_key(combo.id, platform.name, python)
    args = install_args(combo)
    outcome = _resolve(args["requirements"], args, platform, python, work / f"{key}.log", timeout)
    argv = [str(a) for a in outcome.steps[-1]["argv"]] if outcome.steps else []
    statements = [s.to_json() for s in data.statements(platform.name, combo.stack.kind, combo.tf.version)]
    record = PlatformPrediction(run_id=run_id, combination=info, platform=platform, python=python,
                              status=INSTALLABLE, statements=statements, argv=argv, seconds=outcome.seconds,
                              predicted_at=now())
    if outcome.ok:
        record.pins = list(outcome.resolved)
        record.why = "; ".join(s["statement"] for s in statements)
        return record
    failure = install_failed(outcome, replace(info, python=python)).failure
    assert failure is not None  # an install that failed always ends in a class
    record.status = failure.cls
    record.failure = _advised(failure, platform, data, statements)
    record.why = why_line(failure, outcome.error, platform)
    if statements and combo.cuda_extra:
        cpu = _resolve(combo.requirements(gpu_extra=False), args, platform, python, work / f"{key}.cpu.log", timeout)
        record.seconds += cpu.seconds
        if cpu.ok:
            record.why += "; without its CUDA extra it resolves (the CPU only)"
            return record
        then = install_failed(cpu, replace(info, python=python)).failure
        assert then is not None
        record.status, record.failure = then.cls, _advised(then, platform, data, [])
        record.why += f"; without its CUDA extra: {why_line(then, cpu.error, platform)}"
    return record


def _resolve(requirements: list[str], args: dict, platform: Platform, python: str, log: Path,
             timeout: float) -> InstallOutcome:
    with tempfile.TemporaryDirectory(prefix="tfmatrix-predict-") as tmp:
        return resolve_lock(requirements, lock=Path(tmp) / "requirements.lock", timeout=timeout, log=log,
                            target=(platform.python_platform, python), force=args["force"], as_of=args["as_of"])


def why_line(failure: Failure, words: str, platform: Platform) -> str:
    """The failure in one line, named for the platform: "<culprit> has no <tag> wheel; it is required by <who>"
    where the resolver's words say who; else the failure's evidence."""
    culprit = failure.culprit if failure.culprit and failure.culprit != "cannot tell" else ""
    if failure.cls != "no-wheel" or not culprit:
        return failure.evidence
    name = _name(culprit)
    by = next((m for m in _DEPENDS.finditer(words) if _canonical(m.group("dep")) == _canonical(name)), None)
    who = (f"it is required by {by.group('pkg')}" + (f" {by.group('ver')}" if by.group("ver") else by.group("spec") or "")
           if by else "the matrix requires it")
    tag = _TAG.search(words)
    missing = tag.group("tag") if tag and tag.group("kind") != "platform" else platform.wheel_tag
    line = f"{culprit} has no {missing} wheel; {who}"
    avail = _AVAILABLE.search(words)
    if avail and _canonical(avail.group("pkg")) == _canonical(name):
        line += f" (its wheels: {avail.group('tags').replace('`', '').strip()})"
    return line


def _advised(failure: Failure, platform: Platform, data: PlatformData, statements: list[dict[str, str]]) -> Failure:
    """The failure with the platform's own advice as its fix, where compat.yaml has one: for its culprit's missing
    wheel, else TensorFlow's statement about the combination's GPU there (no GPU wheels of a platform that has
    no GPU build are no fault of a pin)."""
    advice = data.advice(_name(failure.culprit), platform.name) if failure.culprit else None
    if advice:
        return replace(failure, fix=advice.advice)
    if statements:
        return replace(failure, fix=statements[0]["advice"])
    return failure


def _name(requirement: str) -> str:
    """The distribution a culprit names: ``tensorflow-text`` of ``tensorflow-text>=2.20.0,<=2.20.1``."""
    m = re.match(r"[A-Za-z0-9][\w.-]*?(?=[\s<>=!~\[]|$)", requirement)
    return m.group(0) if m else requirement


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()
