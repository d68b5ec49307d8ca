"""The doctor: what this environment is, what disagrees, and how to fix it.

:func:`diagnose` takes what tfmatrix's child probe collected inside a venv
(:mod:`tfmatrix.worker.probe`) and what NVML says about the driver and GPUs, compares
them with TensorFlow's own build info and the rules of :mod:`tfmatrix.diagnosis.rules`, and returns a
:class:`Diagnosis`: the versions found (facts), the disagreements (findings,
each with the failure class it predicts and a concrete fix) and a verdict line.
:func:`render` turns it into plain text for a terminal.  Pure logic: no I/O, no
TensorFlow.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import TfmatrixError
from ..records.status import PhaseStatus
from . import compat, compat_text, rules
from .classify import classify_failure, load_taxonomy
from .environment import Built, Environment, Fact, LoadedLib, built_for, facts, read_environment, same_folder

SEVERITIES = ("error", "warning", "info")
_CPU_ONLY = "no NVIDIA GPU/driver: TensorFlow runs on the CPU; GPU combinations will be skipped"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Finding:
    severity: str            # error, warning or info
    what: str                # what disagrees, with the versions
    predicts: str | None     # the failure class it predicts, if any
    fix: str                 # the concrete fix, with versions

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "what": self.what, "predicts": self.predicts, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    facts: tuple[Fact, ...]
    findings: tuple[Finding, ...]
    verdict: str

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"facts": [f.to_json() for f in self.facts], "findings": [f.to_json() for f in self.findings],
                "verdict": self.verdict, "ok": self.ok}


# --------------------------------------------------------------------------- fixes


def _fix(what: str, b: Built, e: Environment, remove: tuple[LoadedLib, ...] = ()) -> str:
    """Install the ``what`` ("cudnn" or "runtime") TensorFlow was built for, and drop the foreign libraries' folders."""
    cudnn = what == "cudnn"
    if e.windows:
        toolkit = _toolkit_bin(b, e)
        searched, remove = _path_fix(what, b, e, remove)
        fix = searched or (f"install cuDNN {b.cudnn} for CUDA {b.cuda_mm} (cudnn64_{b.cudnn_major}.dll) into "
                           f"{toolkit}" if cudnn else f"install the CUDA {b.cuda_mm} toolkit and put {toolkit} on PATH")
    elif compat.and_cuda_pins(b.version):
        fix = (f"install cuDNN {b.cudnn} for CUDA {b.cuda_major} (pip install 'nvidia-cudnn-cu{b.cuda_major}=="
               f"{b.cudnn}.*') or use tensorflow[and-cuda]=={b.version}" if cudnn
               else f"pip install 'tensorflow[and-cuda]=={b.version}' (CUDA {b.cuda_major} runtime and cuDNN "
                    f"{b.cudnn} wheels)")
    else:
        fix = (f"install cuDNN {b.cudnn} for CUDA {b.cuda_mm} and put its lib folder" if cudnn
               else f"install CUDA {b.cuda_mm} and cuDNN {b.cudnn} and put their lib64 folders")
        fix += f" on LD_LIBRARY_PATH (TensorFlow {b.minor} has no [and-cuda] extra)"
    return fix + _remove(remove, e)


def _toolkit_bin(b: Built, e: Environment) -> str:
    """The bin folder of the CUDA toolkit TensorFlow was built for: where CUDA_PATH_V11_2 (the installer's variable)
    says, else the installer's default."""
    var = f"CUDA_PATH_V{b.cuda_mm.replace('.', '_')}"
    root = dict(e.toolkits).get(var, f"C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA\\v{b.cuda_mm}")
    return root.rstrip("\\/") + "\\bin"


def _path_fix(what: str, b: Built, e: Environment, remove: tuple[LoadedLib, ...]) -> tuple[str, tuple[LoadedLib, ...]]:
    """Windows, from what the PATH search found (:func:`tfmatrix.worker.probe.collect_library_search`): the folder
    that holds TensorFlow's DLL but is not on PATH, cuDNN to add beside its runtime, and another CUDA's runtime on
    PATH to take off; ("", ``remove``) where the search was not made or its DLL is on PATH already."""
    kind, major = ("cudnn", b.cudnn_major) if what == "cudnn" else ("cudart", b.cuda_major)
    mine = e.found(kind, major)
    if e.searched is None or any(lib.on_path for lib in mine):
        return "", remove
    folder = mine[0].folder if mine else _toolkit_bin(b, e)
    via = e.toolkit_of(folder) if mine else None
    fix = (f"put {folder} on PATH ({mine[0].file} is there{', named by ' + via if via else ''})" if mine
           else f"install the CUDA {b.cuda_mm} toolkit and put {folder} on PATH" if kind == "cudart"
           else f"install cuDNN {b.cudnn} for CUDA {b.cuda_mm} (cudnn64_{b.cudnn_major}.dll) into {folder}")
    if kind == "cudart" and not any(same_folder(d.folder, folder) for d in e.found("cudnn", b.cudnn_major)):
        fix += f", install cuDNN {b.cudnn} for CUDA {b.cuda_mm} (cudnn64_{b.cudnn_major}.dll) into it"
    other = tuple(lib for lib in e.searched if lib.on_path and lib.kind == "cudart" and lib.major != b.cuda_major
                  and not any(same_folder(lib.folder, r.folder) for r in remove))
    return fix, remove + other


def _remove(libs: tuple[LoadedLib, ...], e: Environment) -> str:
    if not libs:
        return ""
    where = "PATH" if e.windows else "the library path"
    parts = []
    for lib in libs:
        what = f"CUDA {lib.version}" if lib.kind == "cudart" else f"cuDNN {lib.version}"
        parts.append(f"{what} from {where} ({lib.folder})")
    return ", and remove " + "; ".join(dict.fromkeys(parts))


# --------------------------------------------------------------------------- checks


def _import_check(e: Environment) -> list[Finding]:
    if e.tf_error is None:
        return []
    cls = classify_failure(status=PhaseStatus.ERROR, text=e.tf_error, gpu_stack=bool(e.gpus)).cls
    m = re.match(r"^([0-9]+\.[0-9]+)", e.python or "")
    py = m.group(1) if m else None
    tested = compat.tf_for_python(py) if py else ()
    if cls == "python-error":
        fix = "read the traceback of `python -c 'import tensorflow'` in this venv"
        if tested:
            fix += (f"; if TensorFlow is missing or broken, reinstall a release tested on Python {py}: "
                    f"{tested[0]} to {tested[-1]} (e.g. pip install 'tensorflow=={tested[-1]}.*')")
    else:  # the taxonomy's fix, whose ranges come from the compat data
        fix = load_taxonomy().rule(cls).fix
        if cls == "numpy-abi":
            fix += f" This venv has numpy {e.numpy or '?'}."
        elif tested and cls != "protobuf":
            fix += f" TensorFlow releases tested on Python {py}: {tested[0]} to {tested[-1]}."
    return [Finding("error", f"TensorFlow is not importable: {e.tf_error}", cls, fix)]


def _avx_check(e: Environment) -> list[Finding]:
    if not rules.avx_missing(e.cpu_flags, e.machine):
        return []
    return [Finding("error", f"the CPU ({e.cpu_model or 'unknown model'}) has no AVX; TensorFlow's x86-64 wheels "
                             f"are compiled with AVX since TF {compat.load_compat().avx_since}", "illegal-instruction",
                    "run on a CPU with AVX (Intel Sandy Bridge / AMD Bulldozer, 2011, or newer), or build "
                    f"TensorFlow{' ' + e.tf_version if e.tf_version else ''} from source without AVX")]


def _no_gpu_checks(e: Environment, b: Built | None) -> list[Finding]:
    """No NVIDIA GPU/driver at all: the honest CPU-only answer."""
    reason = f" (NVML: {e.nvml_reason})" if e.nvml_reason else ""
    if b is not None:
        floor = compat.driver_floor(b.cuda, e.system) or "?"
        fix = (f"nothing to fix for CPU runs; GPU runs need an NVIDIA GPU and a driver >= {floor} "
               f"(CUDA {b.cuda_major}, which TensorFlow {b.version} was built with)")
    else:
        newest = compat.build_config(compat.known_tf_minors()[-1])
        assert newest is not None
        fix = (f"nothing to fix for CPU runs; GPU runs need an NVIDIA GPU, a CUDA build of TensorFlow (e.g. pip "
               f"install 'tensorflow[and-cuda]=={newest.tf}.*' on Linux) and a driver >= "
               f"{compat.driver_floor(newest.cuda, 'Linux')} (CUDA {newest.cuda_major})")
    return [Finding("info", f"{_CPU_ONLY}{reason}", None, fix)]


def _cpu_build_check(e: Environment) -> list[Finding]:
    if e.tf_error is not None or e.tf_cuda_build or not e.gpus:
        return []
    v = e.tf_version or "?"
    names = ", ".join(g.name for g in e.gpus)
    if e.windows:
        fix = (f"native-Windows GPU builds end with {compat_text.windows_gpu() or 'an old release'}; for newer "
               f"TensorFlow use WSL2 and pip install 'tensorflow[and-cuda]'")
    else:
        fix = f"pip install 'tensorflow[and-cuda]=={v}' (the CUDA build, with its nvidia-* wheels)"
    return [Finding("warning", f"TensorFlow {v} is a CPU-only build although {len(e.gpus)} NVIDIA GPU(s) are "
                               f"present ({names})", "no-gpu", fix)]


def _driver_check(e: Environment, b: Built) -> list[Finding]:
    check = rules.check_driver(e.driver, b.cuda, e.system) if e.driver else None
    if check is None:
        return []
    if check.too_old:
        fix = f"upgrade the NVIDIA driver to >= {check.floor}"
        cfg = check.newest_usable(e.system)
        if cfg is not None:
            fix += (f", or use TensorFlow {cfg.tf} (built with CUDA {cfg.cuda}, needs >= "
                    f"{compat.driver_floor(cfg.cuda, e.system)})")
        return [Finding("error", f"{check.sentence} (TensorFlow {b.version} was built with CUDA {b.cuda})",
                        check.predicts, fix)]
    if e.driver_cuda:
        try:
            behind = compat.compare_dotted(e.driver_cuda, b.cuda_mm) < 0
        except TfmatrixError:
            behind = False
        if behind:
            return [Finding("info", f"driver {e.driver} supports CUDA {e.driver_cuda}, older than the CUDA "
                                    f"{b.cuda} TensorFlow {b.version} was built with; it runs under CUDA minor "
                                    f"version compatibility (no PTX JIT of newer kernels)", None,
                            f"optional: a driver whose nvidia-smi shows 'CUDA Version: {b.cuda_mm}' or newer")]
    return []


def _capability_check(e: Environment, b: Built) -> list[Finding]:
    low = compat.lowest_compute_capability(b.caps)
    if low is None:
        return []
    out = []
    for g in e.gpus:
        if not g.compute_capability:
            continue
        try:
            below = compat.compare_dotted(g.compute_capability, low) < 0
        except TfmatrixError:
            continue
        if below:
            fits = compat.tf_for_compute_capability(g.compute_capability)
            fix = f"use a GPU with compute capability >= {low}"
            if fits:
                fix += f", or TensorFlow {' / '.join(fits)} (built with kernels for {g.compute_capability})"
            out.append(Finding("warning", f"GPU {g.index} ({g.name}) has compute capability {g.compute_capability}; "
                                          f"TensorFlow {b.version} ships kernels for {low} and up "
                                          f"({', '.join(b.caps)})", "no-gpu", fix))
    return out


def _library_checks(e: Environment, b: Built) -> list[Finding]:
    """TensorFlow's CUDA runtime and cuDNN against what the process actually loaded."""
    if e.libs is None or (not e.libs and e.tf_gpus):
        return []  # not read, or read as nothing although TensorFlow uses the GPU: no evidence either way
    out: list[Finding] = []
    runtimes = [(lib, rules.match_cuda_runtime(b.cuda, lib.version or "")) for lib in e.libs
                if lib.kind == "cudart" and lib.major is not None]
    dnns = [lib for lib in e.libs if lib.kind == "cudnn" and lib.major is not None]
    foreign = tuple(lib for lib, m in runtimes if m.broken)
    own = [(lib, m) for lib, m in runtimes if not m.broken]
    built = f"TensorFlow {b.version} was built for CUDA {b.cuda} / cuDNN {b.cudnn}"
    folded: set[str] = set()
    for rt, m in runtimes:
        if not m.broken:
            continue
        beside = [d for d in dnns if d.folder == rt.folder]
        folded.update(d.path for d in beside)
        extra = "".join(f"; cuDNN {d.version} ({d.file}) was loaded from the same folder" for d in beside)
        out.append(Finding("error", f"{built}, but this process loaded the CUDA {rt.version} runtime ({rt.file} "
                                    f"from {rt.folder}){extra}", m.predicts, _fix("cudnn", b, e, (rt,))))
    if not own:
        out.append(Finding("error", f"{built}, but the process did not load a CUDA {b.cuda_major} runtime "
                                    f"(libcudart)", "cuda-lib-missing", _fix("runtime", b, e, foreign)))
    for rt, m in own:
        if rt.exact and m.relation == rules.OLDER_MINOR:
            out.append(Finding("warning", f"the loaded CUDA runtime {rt.version} ({rt.path}) is older than the "
                                          f"CUDA {b.cuda} TensorFlow {b.version} was built with", None,
                               _fix("runtime", b, e)))
    if not dnns and own:
        out.append(Finding("error", f"{built}, but the process did not load cuDNN {b.cudnn_major} (libcudnn)",
                           "cuda-lib-missing", _fix("cudnn", b, e)))
    for d in dnns:
        m = rules.match_cudnn(b.cudnn, d.version or "")
        said = m.sentence(b.minor)
        if d.path in folded or said is None:
            continue
        what = f"{said}; this process loaded it from {d.path}"
        if m.relation == rules.OTHER_MAJOR:
            out.append(Finding("error", what, m.predicts, _fix("cudnn", b, e, (d,))))
        elif m.broken:
            out.append(Finding("error", what, m.predicts, _fix("cudnn", b, e)))
        elif m.relation == rules.NEWER_MINOR:
            out.append(Finding("info", what, None, f"nothing required; cuDNN {b.cudnn} is the tested one"))
    return out


def _wheel_check(e: Environment, b: Built) -> list[Finding]:
    check = rules.check_and_cuda_wheels(b.version, dict(e.wheels))
    if check is None:
        return []
    if len(check.wrong) == 1 and not check.missing:
        n, _, spec = check.wrong[0]
        fix = f"pip install '{n}{spec}' (another package changed it), or give that package its own venv"
    else:
        fix = (f"pip install --force-reinstall 'tensorflow[and-cuda]=={b.version}' to restore its {check.pinned} "
               f"pins (another package changed {len(check.wrong) + len(check.missing)} of them), or give that "
               f"package its own venv")
    return [Finding("warning", check.sentence, check.predicts, fix)]


def _tf_sees_no_gpu_check(e: Environment, b: Built, explained: bool) -> list[Finding]:
    if explained or e.tf_devices is None or e.tf_gpus or not e.gpus or e.gpus_hidden:
        return []
    names = ", ".join(g.name for g in e.gpus)
    return [Finding("error", f"NVML sees {len(e.gpus)} GPU(s) ({names}) but TensorFlow {b.version} lists none",
                    "no-gpu", "run TF_CPP_MIN_LOG_LEVEL=0 python -c \"import tensorflow as tf; "
                    "print(tf.config.list_physical_devices('GPU'))\" and read the 'Cannot dlopen some GPU "
                    f"libraries' lines; then {_fix('runtime', b, e)}")]


def _hidden_check(e: Environment) -> list[Finding]:
    if not (e.gpus and e.gpus_hidden):
        return []
    return [Finding("info", f"CUDA_VISIBLE_DEVICES={e.visible_devices!r} hides the {len(e.gpus)} GPU(s) from "
                            f"this process (as tfmatrix does for a cpu stack)", None,
                    f"unset CUDA_VISIBLE_DEVICES to let TensorFlow{' ' + e.tf_version if e.tf_version else ''} "
                    f"use GPU 0 ({e.gpus[0].name})")]


# --------------------------------------------------------------------------- facts and verdict


def _verdict(e: Environment, findings: list[Finding]) -> str:
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if errors:
        classes = ", ".join(dict.fromkeys(f.predicts or "?" for f in errors))
        return f"NOT READY: {len(errors)} error(s), {len(warnings)} warning(s); predicted {classes}"
    tail = f"; {len(warnings)} warning(s)" if warnings else ""
    if e.tf_gpus and e.gpus:
        names = ", ".join(g.name for g in e.gpus)
        return f"OK: TensorFlow {e.tf_version} sees {len(e.tf_gpus)} GPU(s) ({names}){tail}"
    if not e.gpus:
        return f"CPU only: TensorFlow {e.tf_version or '?'} runs on the CPU; GPU combinations will be skipped{tail}"
    return f"CPU only: the GPU is not used by TensorFlow {e.tf_version or '?'} in this process{tail}"


# --------------------------------------------------------------------------- entry points


def diagnose(probe: Mapping[str, Any], nvml: Mapping[str, Any]) -> Diagnosis:
    """Facts, findings and a verdict for one environment (a probe) on one host (NVML)."""
    if not isinstance(probe, Mapping):
        raise TfmatrixError(f"the probe must be a mapping, got {type(probe).__name__}")
    e = read_environment(probe, nvml)
    b = built_for(e)
    findings = _import_check(e) + _avx_check(e)
    if e.tf_error is None:
        findings += _cpu_build_check(e)
        if not e.gpus:
            findings += _no_gpu_checks(e, b)
        elif b is not None:
            driver = _driver_check(e, b)
            caps = _capability_check(e, b)
            findings += driver + caps + _hidden_check(e)
            driver_broken = any(f.severity == "error" for f in driver)
            libs = [] if driver_broken or e.gpus_hidden else _library_checks(e, b)
            findings += libs
            explained = driver_broken or bool(caps) or any(f.severity == "error" for f in libs)
            findings += _tf_sees_no_gpu_check(e, b, explained)
        if b is not None:
            findings += _wheel_check(e, b)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: order[f.severity])
    return Diagnosis(facts=facts(e, b), findings=tuple(findings), verdict=_verdict(e, findings))


def render(d: Diagnosis, width: int = 100) -> str:
    """Plain text for a terminal: the facts as aligned rows, then each finding with its fix."""
    out = ["tfmatrix doctor", ""]
    pad = max((len(f.name) for f in d.facts), default=0)
    for f in d.facts:
        out.append(textwrap.fill(f"  {f.name.ljust(pad)}  {f.value}", width=width, break_on_hyphens=False,
                                 subsequent_indent=" " * (pad + 4)))
    out.append("")
    if d.findings:
        out.append("findings")
        for finding in d.findings:
            head = f"  {finding.severity.upper():<7} " + (f"[{finding.predicts}] " if finding.predicts else "")
            out.append(textwrap.fill(head + finding.what, width=width, subsequent_indent=" " * 10,
                                     break_on_hyphens=False))
            out.append(textwrap.fill(f"fix: {finding.fix}", width=width, initial_indent=" " * 10,
                                     subsequent_indent=" " * 15, break_on_hyphens=False))
        out.append("")
    else:
        out.append("findings: none")
        out.append("")
    out.append(f"verdict: {d.verdict}")
    return "\n".join(out) + "\n"
