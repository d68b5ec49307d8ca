"""Pre-flight verdict: how a combination will end, predicted before anything runs.

:func:`predict` reads plain data only: the combination (``Combination.to_json()``),
its resolved pins (``pip freeze`` lines) and the host (GPUs, driver, CPU flags).
It applies the compatibility knowledge of :mod:`tfmatrix.compat` and returns a
:class:`Verdict`: ``"ok"`` or a failure class, with one concrete sentence per
reason.  It never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import compat
from .matrix import GPU_STACK_KINDS, STACK_KINDS
from .errors import TfmatrixError

#: The classes a verdict can predict, most severe first: the first present decides.
SEVERITY = ("install-failed", "illegal-instruction", "no-gpu", "numpy-abi", "cuda-lib-missing",
            "cudnn-mismatch", "protobuf", "degraded")
_X86 = ("x86_64", "amd64", "x64", "i386", "i686", "x86")


@dataclass(frozen=True)
class Verdict:
    predicted: str                  # "ok" or one of SEVERITY
    reasons: tuple[str, ...] = ()   # most severe first; every reason is kept

    @property
    def ok(self) -> bool:
        return self.predicted == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"predicted": self.predicted, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class _Reason:
    cls: str
    text: str


# --------------------------------------------------------------------------- inputs


def parse_pins(lines: Iterable[str]) -> dict[str, str]:
    """``pip freeze`` lines -> {canonical name: version}; other lines (comments, URLs) are skipped."""
    out: dict[str, str] = {}
    for raw in lines:
        line = str(raw).split("#", 1)[0].strip()
        if "==" not in line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        name = name.split("[", 1)[0].strip()
        version = version.split(";", 1)[0].strip()
        if name and version:
            out[canonicalize_name(name)] = version
    return out


def _version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _combination(combo: Mapping[str, Any]) -> tuple[str, str, str | None]:
    tf = combo.get("tensorflow")
    if not isinstance(tf, str) or _version(tf) is None:
        raise TfmatrixError(f"combination has no TensorFlow version (got {tf!r}); expected Combination.to_json()")
    kind = combo.get("stack_kind", "cpu")
    if kind not in STACK_KINDS:
        raise TfmatrixError(f"combination stack_kind {kind!r} is not one of {', '.join(STACK_KINDS)}")
    python = combo.get("python")
    return tf, kind, str(python) if python is not None else None


# --------------------------------------------------------------------------- rules


def _python_rule(python: str | None, bc: compat.BuildConfig | None) -> list[_Reason]:
    if bc is None or python is None or bc.supports_python(python):
        return []
    return [_Reason("install-failed", f"TF {bc.tf} is tested on Python {bc.python_range}; this combination "
                                      f"uses Python {python} → predicted install-failed")]


def _avx_rule(host: Mapping[str, Any]) -> list[_Reason]:
    flags = host.get("cpu_flags")
    machine = str(host.get("machine") or "x86_64").lower()
    if not flags or machine not in _X86:  # None or []: not read (no /proc/cpuinfo on Windows), not "no AVX"
        return []
    if "avx" in {str(f).lower() for f in flags}:
        return []
    return [_Reason("illegal-instruction", "the host CPU has no AVX, which TensorFlow's x86-64 wheels use since "
                                           "TF 1.6 → predicted illegal-instruction")]


def _gpu_rules(kind: str, bc: compat.BuildConfig | None, host: Mapping[str, Any]) -> list[_Reason]:
    if kind not in GPU_STACK_KINDS:
        return []
    out: list[_Reason] = []
    gpus = host.get("gpus") or []
    if not gpus:
        out.append(_Reason("no-gpu", f"no NVIDIA GPU is visible on this host and a {kind} stack needs one "
                                     f"→ predicted no-gpu"))
    driver = host.get("driver_version")
    if driver and bc is not None:
        system = str(host.get("system") or "Linux")
        floor = compat.driver_floor(bc.cuda_exact, system)
        if floor is not None and compat.compare_dotted(str(driver), floor) < 0:
            out.append(_Reason("no-gpu", f"driver {driver} is older than CUDA {bc.cuda_major}'s floor {floor} "
                                         f"→ predicted no-gpu"))
    return out


def _cuda_pip_rules(tf: str, kind: str, bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    if kind != "cuda-pip" or bc is None:
        return []
    major = bc.cuda_major
    runtime_name, cudnn_name = f"nvidia-cuda-runtime-cu{major}", f"nvidia-cudnn-cu{major}"
    runtime, cudnn = pins.get(runtime_name), pins.get(cudnn_name)
    cuda_wheels = {n: v for n, v in pins.items() if n.startswith("nvidia-") and compat.wheel_cuda_major(n)}
    no_extra = compat.and_cuda(tf) is None
    out: list[_Reason] = []
    if not cuda_wheels:
        why = (f"TF {bc.tf} has no [and-cuda] extra, so this venv pins no nvidia-* CUDA wheels"
               if no_extra else "this venv pins no nvidia-* CUDA wheels")
        return [_Reason("cuda-lib-missing", f"{why}; TF {bc.tf} was built against CUDA {bc.cuda_exact} / "
                                            f"cuDNN {bc.cudnn} → predicted cuda-lib-missing")]
    if runtime is None:
        others = ", ".join(f"{n} {v}" for n, v in sorted(cuda_wheels.items()) if n.startswith("nvidia-cuda-runtime-"))
        got = f"; it pins {others}" if others else ""
        out.append(_Reason("cuda-lib-missing", f"TF {bc.tf} was built against CUDA {bc.cuda_exact}; this venv pins "
                                               f"no {runtime_name} wheel{got} → predicted cuda-lib-missing"))
    if cudnn is None:
        others = {n: v for n, v in cuda_wheels.items() if n.startswith("nvidia-cudnn-")}
        if others:
            n, v = sorted(others.items())[0]
            out.append(_Reason("cudnn-mismatch", f"TF {bc.tf} was built against cuDNN {bc.cudnn} for CUDA {major}; "
                                                 f"this venv pins {n} {v}, a cuDNN for CUDA "
                                                 f"{compat.wheel_cuda_major(n)} → predicted cudnn-mismatch"))
        else:
            out.append(_Reason("cuda-lib-missing", f"TF {bc.tf} was built against cuDNN {bc.cudnn}; this venv pins "
                                                   f"no {cudnn_name} wheel → predicted cuda-lib-missing"))
        return out
    try:
        have = compat.cudnn_of_wheel(cudnn)
    except TfmatrixError:
        return out
    have_mm, built_mm = compat.dotted(have)[:2], compat.dotted(bc.cudnn)[:2]
    if have_mm[0] != built_mm[0]:
        out.append(_Reason("cudnn-mismatch", f"TF {bc.tf} was built against cuDNN {bc.cudnn}; this venv pins "
                                             f"cuDNN {have} → predicted cudnn-mismatch"))
    elif len(have_mm) > 1 and have_mm[1] < built_mm[1]:
        out.append(_Reason("cudnn-mismatch", f"TF {bc.tf} was built against cuDNN {bc.cudnn}; this venv pins "
                                             f"cuDNN {have}, an older minor (TF needs the same major and at least "
                                             f"its minor) → predicted cudnn-mismatch"))
    # A newer minor of the same major passes TensorFlow's own check: not a predicted failure.
    return out


def _numpy_rule(bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    v = _version(pins.get("numpy"))
    if bc is None or v is None or bc.numpy_abi != 1 or v.major < 2:
        return []
    return [_Reason("numpy-abi", f"TF {bc.tf} was built against NumPy 1.x; this venv resolves numpy {v} "
                                 f"→ predicted numpy-abi")]


def _protobuf_rule(bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    v = _version(pins.get("protobuf"))
    if bc is None or v is None:
        return []
    try:
        spec = SpecifierSet(bc.protobuf_requirement)
    except InvalidSpecifier:
        return []
    if spec.contains(v, prereleases=True):
        return []
    broken = ",".join(sorted(str(s) for s in spec if not s.contains(v, prereleases=True)))
    return [_Reason("degraded", f"TF {bc.tf} requires protobuf{broken}; this venv resolves protobuf {v} "
                                f"→ predicted degraded")]


# --------------------------------------------------------------------------- verdict


def predict(combo_json: Mapping[str, Any], resolved_pins: Iterable[str], host: Mapping[str, Any]) -> Verdict:
    """The predicted outcome of one combination on one host, with its reasons."""
    tf, kind, python = _combination(combo_json)
    pins = parse_pins(resolved_pins)
    bc = compat.build_config(tf)
    found = (_python_rule(python, bc) + _avx_rule(host) + _gpu_rules(kind, bc, host)
             + _numpy_rule(bc, pins) + _cuda_pip_rules(tf, kind, bc, pins) + _protobuf_rule(bc, pins))
    found.sort(key=lambda r: SEVERITY.index(r.cls))  # stable: equal classes keep rule order
    return Verdict(predicted=found[0].cls if found else "ok", reasons=tuple(r.text for r in found))
