"""Pre-flight verdict: how a combination will end, predicted before anything runs.

:func:`predict` reads the combination as its record keeps it
(:class:`~tfmatrix.records.model.CombinationInfo`), its resolved pins (``pip
freeze`` lines), the installer's ``pip check`` conflicts and the host
(:class:`~tfmatrix.run.execution.host.HostFacts`: GPUs, driver, CPU flags).  It asks the compatibility rules
(:mod:`tfmatrix.diagnosis.rules`) and returns a
:class:`~tfmatrix.records.model.Prediction`: ``"ok"`` or a failure class, with
one concrete sentence per reason.  It never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from packaging.utils import canonicalize_name

from ..errors import TfmatrixError
from ..records.model import CombinationInfo, Prediction
from . import classify, compat, evidence, rules

if TYPE_CHECKING:
    from ..run.execution.host import HostFacts

#: The classes a verdict can predict, most severe first: the first present decides.
SEVERITY = ("no-wheel", "illegal-instruction", "no-gpu", "numpy-abi", "protobuf", "keras-mismatch",
            "cuda-lib-missing", "cudnn-mismatch", "degraded")


@dataclass(frozen=True)
class _Reason:
    cls: str
    text: str
    about: str = ""  # the package whose pin it judges ("" for the host, the Python, the CUDA stack)


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


# --------------------------------------------------------------------------- the rules, in words


def _python(python: str, bc: compat.BuildConfig | None) -> list[_Reason]:
    if not rules.python_untested(bc, python):
        return []
    assert bc is not None
    return [_Reason("no-wheel", f"TF {bc.tf} is tested on Python {bc.python_range}; this combination "
                                f"uses Python {python} → predicted no-wheel")]


def _avx(host: "HostFacts") -> list[_Reason]:
    if not rules.avx_missing(host.cpu_flags, host.machine):
        return []
    return [_Reason("illegal-instruction", f"the host CPU has no AVX, which TensorFlow's x86-64 wheels use since "
                                           f"TF {compat.load_compat().avx_since} → predicted illegal-instruction")]


def _gpu(combo: CombinationInfo, bc: compat.BuildConfig | None, host: "HostFacts") -> list[_Reason]:
    if not combo.needs_gpu:
        return []
    out: list[_Reason] = []
    if not host.gpus:
        out.append(_Reason("no-gpu", f"no NVIDIA GPU is visible on this host and a {combo.stack_kind} stack needs "
                                     f"one → predicted no-gpu"))
    if host.driver_version and bc is not None:
        check = rules.check_driver(host.driver_version, bc.cuda_exact, host.system)
        if check is not None and check.too_old:
            out.append(_Reason("no-gpu", f"{check.sentence} → predicted no-gpu"))
    return out


def _cuda_pip(combo: CombinationInfo, bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    if combo.stack_kind != "cuda-pip" or bc is None:
        return []
    major = bc.cuda_major
    runtime_name, cudnn_name = f"nvidia-cuda-runtime-cu{major}", f"nvidia-cudnn-cu{major}"
    runtime, cudnn = pins.get(runtime_name), pins.get(cudnn_name)
    cuda_wheels = compat.cuda_wheels(pins)
    if not cuda_wheels:
        why = (f"TF {bc.tf} has no [and-cuda] extra, so this venv pins no nvidia-* CUDA wheels"
               if compat.and_cuda(combo.tensorflow) is None else "this venv pins no nvidia-* CUDA wheels")
        return [_Reason("cuda-lib-missing", f"{why}; TF {bc.tf} was built against CUDA {bc.cuda_exact} / "
                                            f"cuDNN {bc.cudnn} → predicted cuda-lib-missing")]
    out: list[_Reason] = []
    if runtime is None:
        others = ", ".join(f"{n} {v}" for n, v in sorted(cuda_wheels.items()) if n.startswith("nvidia-cuda-runtime-"))
        got = f"; it pins {others}" if others else ""
        out.append(_Reason("cuda-lib-missing", f"TF {bc.tf} was built against CUDA {bc.cuda_exact}; this venv pins "
                                               f"no {runtime_name} wheel{got} → predicted cuda-lib-missing"))
    if cudnn is None:
        foreign = sorted((n, v) for n, v in cuda_wheels.items() if n.startswith("nvidia-cudnn-"))
        if foreign:
            name, version = foreign[0]
            out.append(_Reason("cudnn-mismatch", f"TF {bc.tf} was built against cuDNN {bc.cudnn} for CUDA {major}; "
                                                 f"this venv pins {name} {version}, a cuDNN for CUDA "
                                                 f"{compat.wheel_cuda_major(name)} → predicted cudnn-mismatch"))
        else:
            out.append(_Reason("cuda-lib-missing", f"TF {bc.tf} was built against cuDNN {bc.cudnn}; this venv pins "
                                                   f"no {cudnn_name} wheel → predicted cuda-lib-missing"))
        return out
    try:
        match = rules.match_cudnn(bc.cudnn, compat.cudnn_of_wheel(cudnn))
    except TfmatrixError:
        return out
    if match.broken:  # a newer minor of the same major passes TensorFlow's own check: not a predicted failure
        out.append(_Reason("cudnn-mismatch", f"{match.sentence(bc.tf)}; this venv pins {cudnn_name} {cudnn} "
                                             f"→ predicted cudnn-mismatch"))
    return out


def _numpy(bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    if bc is None or not rules.numpy_abi_mismatch(bc, pins.get("numpy")):
        return []
    return [_Reason("numpy-abi", f"TF {bc.tf} was built against NumPy {bc.numpy_abi}.x; this venv resolves "
                                 f"numpy {pins['numpy']} → predicted numpy-abi", "numpy")]


def _protobuf(bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    if bc is None:
        return []
    below = rules.protobuf_below_gencode(bc, pins.get("protobuf"))
    if below is not None:
        return [_Reason("protobuf", f"TF {bc.tf}'s generated code needs protobuf{below}; this venv resolves "
                                    f"protobuf {pins['protobuf']}, an older runtime, which refuses it at import "
                                    f"→ predicted protobuf", "protobuf")]
    broken = rules.protobuf_outside(bc, pins.get("protobuf"))
    if broken is None:
        return []
    return [_Reason("degraded", f"TF {bc.tf} requires protobuf{broken}; this venv resolves "
                                f"protobuf {pins['protobuf']} → predicted degraded", "protobuf")]


def _keras(combo: CombinationInfo, bc: compat.BuildConfig | None, pins: Mapping[str, str]) -> list[_Reason]:
    needs = rules.keras_major_mismatch(bc, pins.get("keras"))
    if needs is None:
        return []
    return [_Reason("keras-mismatch", f"TF {combo.tensorflow} and its Model Garden are written for {needs}; this venv "
                                      f"resolves keras {pins['keras']} → predicted keras-mismatch", "keras")]


def _forced(combo: CombinationInfo, conflicts: Sequence[evidence.Conflict], judged: set[str]) -> list[_Reason]:
    """A pin forced over the resolver outside the range another installed package declares (``pip check``): the
    class whose suspects name the package, else degraded.  A rule above that judged the same pin says it better."""
    forced = evidence.names(combo.force)
    out: list[_Reason] = []
    for c in conflicts:
        if c.target in forced and c.target not in judged and c.installed:
            cls = classify.suspected_class(c.target) or "degraded"
            out.append(_Reason(cls, f"{c.target} {c.installed} is forced outside the range {c.package} declares "
                                    f"({c.requirement}) → predicted {cls}", c.target))
    return out


# --------------------------------------------------------------------------- verdict


def _severity(reason: _Reason) -> float:
    """Its class's place in :data:`SEVERITY`; a class not listed there ranks just above degraded."""
    return SEVERITY.index(reason.cls) if reason.cls in SEVERITY else SEVERITY.index("degraded") - 0.5


def predict(combo: CombinationInfo, resolved_pins: Iterable[str], host: "HostFacts",
            conflicts: Sequence[evidence.Conflict] = ()) -> Prediction:
    """The predicted outcome of one combination on one host, with its reasons (``conflicts``: what the installer's
    ``pip check`` reported, :func:`~tfmatrix.diagnosis.evidence.check_conflicts`)."""
    pins = parse_pins(resolved_pins)
    bc = compat.build_config(combo.tensorflow)
    found = (_python(combo.python, bc) + _avx(host) + _gpu(combo, bc, host) + _numpy(bc, pins)
             + _cuda_pip(combo, bc, pins) + _protobuf(bc, pins) + _keras(combo, bc, pins))
    found += _forced(combo, conflicts, {r.about for r in found})
    found.sort(key=_severity)  # stable: equal classes keep rule order
    return Prediction(predicted=found[0].cls if found else "ok", reasons=tuple(r.text for r in found))
