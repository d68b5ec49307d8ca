"""The doctor: what this environment is, what disagrees, and how to fix it.

:func:`diagnose` takes what tfmatrix's child probe collected inside a venv
(:mod:`tfmatrix.probe`) and what NVML says about the driver and GPUs, compares
them with TensorFlow's own build info and :mod:`tfmatrix.compat`, and returns a
:class:`Diagnosis`: the versions found (facts), the disagreements (findings,
each with the failure class it predicts and a concrete fix) and a verdict line.
:func:`render` turns it into plain text for a terminal.  Pure logic: no I/O, no
TensorFlow.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import compat
from .classify import classify_failure, load_taxonomy
from .errors import TfmatrixError

SEVERITIES = ("error", "warning", "info")
_X86 = ("x86_64", "amd64", "x64", "i386", "i686", "x86")
_CPU_ONLY = "no NVIDIA GPU/driver: TensorFlow runs on the CPU; GPU combinations will be skipped"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Fact:
    name: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value}


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


@dataclass(frozen=True)
class LoadedLib:
    path: str
    kind: str                # "cudart", "cudnn", or the library's bare name
    version: str | None      # the library's own answer, else what its file name says
    major: int | None
    exact: bool = False      # the library's own answer (or a full x.y.z file name), not just a soname

    @property
    def folder(self) -> str:
        return str(_pure(self.path).parent)

    @property
    def file(self) -> str:
        return _pure(self.path).name


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: str | None
    memory_bytes: int | None


@dataclass(frozen=True)
class _Env:
    """The probe and NVML, read once into plain values."""

    system: str
    machine: str
    python: str | None
    cpu_model: str | None
    cpu_flags: tuple[str, ...] | None        # None: unknown
    tf_error: str | None
    tf_version: str | None
    tf_cuda_build: bool
    tf_cuda: str | None                       # "12.5.1", "11.2"
    tf_cudnn: str | None                      # "9", "8"
    tf_caps: tuple[str, ...]
    tf_devices: tuple[str, ...] | None        # physical device names; None: unknown
    libs: tuple[LoadedLib, ...] | None        # None: unknown
    wheels: tuple[tuple[str, str], ...]
    numpy: str | None
    nvml_ok: bool
    nvml_reason: str
    driver: str | None
    driver_cuda: str | None
    gpus: tuple[Gpu, ...]
    visible_devices: str | None               # CUDA_VISIBLE_DEVICES, if set

    @property
    def windows(self) -> bool:
        return self.system.lower().startswith("win")

    @property
    def tf_gpus(self) -> tuple[str, ...]:
        return tuple(d for d in (self.tf_devices or ()) if ":GPU:" in d)

    @property
    def gpus_hidden(self) -> bool:
        return self.visible_devices is not None and self.visible_devices.strip() in ("", "-1")


# --------------------------------------------------------------------------- reading the probe


def _pure(path: str) -> PurePosixPath | PureWindowsPath:
    return PureWindowsPath(path) if "\\" in path or re.match(r"^[A-Za-z]:", path) else PurePosixPath(path)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) and "error" not in value else {}


def _error(value: Any) -> str | None:
    return str(value["error"]) if isinstance(value, dict) and "error" in value else None


def _file_version(kind: str, file: str) -> str | None:
    """What a library's file name says: libcudart.so.11.2.152, libcudnn.so.9, cudart64_101.dll, cudnn64_8.dll."""
    m = re.search(r"\.so\.([0-9]+(?:\.[0-9]+)*)$", file)
    if m:
        return m.group(1)
    m = re.search(r"64_([0-9]+)\.dll$", file, re.IGNORECASE)
    if m:
        digits = m.group(1)
        if kind == "cudart" and len(digits) >= 3:
            return f"{int(digits[:-1])}.{int(digits[-1])}"
        return digits
    return None


def _lib_kind(name: str) -> str:
    """``libcudart`` / ``cudart`` / ``cudart64`` -> ``cudart``; likewise cuDNN; other names stay as they are."""
    bare = name.lower()
    bare = bare[3:] if bare.startswith("lib") else bare
    for kind in ("cudart", "cudnn"):
        if bare in (kind, f"{kind}64"):
            return kind
    return bare


def _loaded(entry: Any) -> LoadedLib | None:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or not entry.get("path"):
        return None
    path = str(entry["path"])
    file = _pure(path).name
    name = str(entry.get("name") or re.split(r"\.so|\.dll|64_", file, maxsplit=1)[0])
    kind = _lib_kind(name)
    reported = entry.get("version")
    version = str(reported) if reported else _file_version(kind, file)
    try:
        parts = compat.dotted(version) if version else ()
    except TfmatrixError:
        parts = ()
    return LoadedLib(path=path, kind=kind, version=version, major=parts[0] if parts else None,
                     exact=bool(parts) and (bool(reported) or len(parts) >= 3))


def _gpus(nvml: Mapping[str, Any]) -> tuple[Gpu, ...]:
    out = []
    for i, g in enumerate(nvml.get("gpus") or ()):
        if isinstance(g, dict):
            mem = g.get("memory_total_bytes")
            out.append(Gpu(index=int(g.get("index", i)), name=str(g.get("name", "?")),
                           compute_capability=str(g["compute_capability"]) if g.get("compute_capability") else None,
                           memory_bytes=int(mem) if isinstance(mem, (int, float)) else None))
    return tuple(out)


def _read(probe: Mapping[str, Any], nvml: Mapping[str, Any]) -> _Env:
    tf = probe.get("tensorflow")
    tfd, build = _dict(tf), _dict(_dict(tf).get("build_info"))
    devices = probe.get("devices")
    cpu, os_ = _dict(probe.get("cpu")), _dict(probe.get("os"))
    libs_raw = probe.get("loaded_libraries")
    libs = (tuple(x for x in (_loaded(e) for e in libs_raw) if x) if isinstance(libs_raw, list) else None)
    wheels = _dict(probe.get("nvidia_wheels"))
    nvml = nvml if isinstance(nvml, Mapping) else {}
    env = probe.get("env") if isinstance(probe.get("env"), dict) else {}
    flags = cpu.get("flags")
    return _Env(
        system=str(os_.get("system") or "Linux"), machine=str(os_.get("machine") or ""),
        python=_dict(probe.get("python")).get("version"),
        cpu_model=cpu.get("model") or None,
        # [] means "not read" (the probe has no /proc/cpuinfo on Windows), never "no AVX"
        cpu_flags=tuple(str(f).lower() for f in flags) if isinstance(flags, list) and flags else None,
        tf_error=_error(tf) if tf is not None else "the probe did not report TensorFlow",
        tf_version=str(tfd["version"]) if tfd.get("version") else None,
        tf_cuda_build=bool(tfd.get("built_with_cuda") or build.get("is_cuda_build")),
        tf_cuda=compat.normalize_cuda_version(build.get("cuda_version")),
        tf_cudnn=compat.normalize_cudnn_version(build.get("cudnn_version")),
        tf_caps=compat.parse_compute_capabilities(build.get("cuda_compute_capabilities")),
        tf_devices=(tuple(str(d.get("name", "")) for d in _dict(devices).get("physical", []) if isinstance(d, dict))
                    if _dict(devices) else None),
        libs=libs, wheels=tuple(sorted((str(k).lower(), str(v)) for k, v in wheels.items())),
        numpy=_dict(probe.get("numpy")).get("version"),
        nvml_ok=bool(nvml.get("available")), nvml_reason=str(nvml.get("reason") or ""),
        driver=str(nvml["driver_version"]) if nvml.get("available") and nvml.get("driver_version") else None,
        driver_cuda=str(nvml["cuda_driver_version"]) if nvml.get("cuda_driver_version") else None,
        gpus=_gpus(nvml) if nvml.get("available") else (),
        visible_devices=env.get("CUDA_VISIBLE_DEVICES"),
    )


# --------------------------------------------------------------------------- what TensorFlow was built for


@dataclass(frozen=True)
class _Built:
    version: str            # "2.18.0"
    minor: str              # "2.18"
    cuda: str               # "12.5.1"
    cuda_mm: str            # "12.5"
    cuda_major: int
    cudnn: str              # "9.3" (compat's minor when its major agrees) or "9"
    cudnn_major: int
    caps: tuple[str, ...]
    config: compat.BuildConfig | None


def _built(e: _Env) -> _Built | None:
    if not e.tf_version or not e.tf_cuda_build:
        return None
    try:
        minor = compat.tf_minor(e.tf_version)
    except TfmatrixError:
        return None
    config = compat.build_config(e.tf_version)
    cuda = e.tf_cuda or (config.cuda_exact if config else None)
    cudnn = e.tf_cudnn or (config.cudnn if config else None)
    if not cuda or not cudnn:
        return None
    cudnn_major = compat.dotted(cudnn)[0]
    if config is not None and config.cudnn_major == cudnn_major and len(compat.dotted(cudnn)) < 2:
        cudnn = config.cudnn
    caps = e.tf_caps or (config.cuda_compute_capabilities if config else ())
    return _Built(version=e.tf_version, minor=minor, cuda=cuda,
                  cuda_mm=compat.major_minor(cuda), cuda_major=compat.dotted(cuda)[0], cudnn=cudnn,
                  cudnn_major=cudnn_major, caps=tuple(caps), config=config)


# --------------------------------------------------------------------------- fixes


def _cudnn_fix(b: _Built, e: _Env, remove: tuple[LoadedLib, ...] = ()) -> str:
    """Install the cuDNN TensorFlow was built for, and drop the foreign libraries' folders."""
    if e.windows:
        fix = (f"install cuDNN {b.cudnn} for CUDA {b.cuda_mm} (cudnn64_{b.cudnn_major}.dll) into "
               f"C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA\\v{b.cuda_mm}\\bin")
    elif compat.and_cuda_pins(b.version):
        fix = (f"install cuDNN {b.cudnn} for CUDA {b.cuda_major} (pip install "
               f"'nvidia-cudnn-cu{b.cuda_major}=={b.cudnn}.*') or use tensorflow[and-cuda]=={b.version}")
    else:
        fix = (f"install cuDNN {b.cudnn} for CUDA {b.cuda_mm} and put its lib folder on LD_LIBRARY_PATH "
               f"(TensorFlow {b.minor} has no [and-cuda] extra)")
    return fix + _remove(remove, e)


def _runtime_fix(b: _Built, e: _Env, remove: tuple[LoadedLib, ...] = ()) -> str:
    if e.windows:
        fix = (f"install the CUDA {b.cuda_mm} toolkit and put "
               f"C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA\\v{b.cuda_mm}\\bin on PATH")
    elif compat.and_cuda_pins(b.version):
        fix = (f"pip install 'tensorflow[and-cuda]=={b.version}' "
               f"(CUDA {b.cuda_major} runtime and cuDNN {b.cudnn} wheels)")
    else:
        fix = (f"install CUDA {b.cuda_mm} and cuDNN {b.cudnn} and put their lib64 folders on LD_LIBRARY_PATH "
               f"(TensorFlow {b.minor} has no [and-cuda] extra)")
    return fix + _remove(remove, e)


def _remove(libs: tuple[LoadedLib, ...], e: _Env) -> str:
    if not libs:
        return ""
    where = "PATH" if e.windows else "the library path"
    parts = []
    for lib in libs:
        what = f"CUDA {lib.version}" if lib.kind == "cudart" else f"cuDNN {lib.version}"
        parts.append(f"{what} from {where} ({lib.folder})")
    return ", and remove " + "; ".join(dict.fromkeys(parts))


# --------------------------------------------------------------------------- checks


def _import_check(e: _Env) -> list[Finding]:
    if e.tf_error is None:
        return []
    cls = classify_failure(status="error", text=e.tf_error, gpu_stack=bool(e.gpus)).cls
    m = re.match(r"^([0-9]+\.[0-9]+)", e.python or "")
    py = m.group(1) if m else None
    tested = compat.tf_for_python(py) if py else ()
    if cls == "numpy-abi":
        fix = (f"pip install 'numpy<2' (TensorFlow <= 2.17 was built against NumPy 1.x; this venv has numpy "
               f"{e.numpy or '2.x'}), or move to TensorFlow >= 2.18")
    elif cls == "protobuf":
        fix = ("pin protobuf to the range the TensorFlow release declares (TF 2.15-2.17: protobuf<5; "
               "TF 2.18-2.19: protobuf<6); see `pip show tensorflow`")
    elif cls == "python-error":
        fix = "read the traceback of `python -c 'import tensorflow'` in this venv"
        if tested:
            fix += (f"; if TensorFlow is missing or broken, reinstall a release tested on Python {py}: "
                    f"{tested[0]} to {tested[-1]} (e.g. pip install 'tensorflow=={tested[-1]}.*')")
    else:
        fix = load_taxonomy().rule(cls).fix
        if tested:
            fix += f" TensorFlow releases tested on Python {py}: {tested[0]} to {tested[-1]}."
    return [Finding("error", f"TensorFlow is not importable: {e.tf_error}", cls, fix)]


def _avx_check(e: _Env) -> list[Finding]:
    if e.cpu_flags is None or (e.machine and e.machine.lower() not in _X86) or "avx" in e.cpu_flags:
        return []
    return [Finding("error", f"the CPU ({e.cpu_model or 'unknown model'}) has no AVX; TensorFlow's x86-64 wheels "
                             f"are compiled with AVX since TF 1.6", "illegal-instruction",
                    "run on a CPU with AVX (Intel Sandy Bridge / AMD Bulldozer, 2011, or newer), or build "
                    f"TensorFlow{' ' + e.tf_version if e.tf_version else ''} from source without AVX")]


def _no_gpu_checks(e: _Env, b: _Built | None) -> list[Finding]:
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


def _cpu_build_check(e: _Env) -> list[Finding]:
    if e.tf_error is not None or e.tf_cuda_build or not e.gpus:
        return []
    v = e.tf_version or "?"
    names = ", ".join(g.name for g in e.gpus)
    if e.windows:
        fix = ("native-Windows GPU builds end with TensorFlow 2.10 (tensorflow==2.10.1 with CUDA 11.2 and "
               "cuDNN 8.1); for newer TensorFlow use WSL2 and pip install 'tensorflow[and-cuda]'")
    else:
        fix = f"pip install 'tensorflow[and-cuda]=={v}' (the CUDA build, with its nvidia-* wheels)"
    return [Finding("warning", f"TensorFlow {v} is a CPU-only build although {len(e.gpus)} NVIDIA GPU(s) are "
                               f"present ({names})", "no-gpu", fix)]


def _driver_check(e: _Env, b: _Built) -> list[Finding]:
    if not e.driver:
        return []
    floor = compat.driver_floor(b.cuda, e.system)
    if floor is None:
        return []
    try:
        too_old = compat.compare_dotted(e.driver, floor) < 0
    except TfmatrixError:
        return []
    if too_old:
        fix = f"upgrade the NVIDIA driver to >= {floor}"
        for cfg in reversed(compat.load_compat().tensorflow):
            f2 = compat.driver_floor(cfg.cuda, e.system)
            if f2 and compat.compare_dotted(e.driver, f2) >= 0:
                fix += f", or use TensorFlow {cfg.tf} (built with CUDA {cfg.cuda}, needs >= {f2})"
                break
        return [Finding("error", f"NVIDIA driver {e.driver} is older than CUDA {b.cuda_major}'s floor {floor} "
                                 f"(TensorFlow {b.version} was built with CUDA {b.cuda})", "no-gpu", fix)]
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


def _capability_check(e: _Env, b: _Built) -> list[Finding]:
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


def _library_checks(e: _Env, b: _Built) -> list[Finding]:
    """TensorFlow's CUDA runtime and cuDNN against what the process actually loaded."""
    if e.libs is None or (not e.libs and e.tf_gpus):
        return []  # not read, or read as nothing although TensorFlow uses the GPU: no evidence either way
    out: list[Finding] = []
    runtimes = [lib for lib in e.libs if lib.kind == "cudart" and lib.major is not None]
    dnns = [lib for lib in e.libs if lib.kind == "cudnn" and lib.major is not None]
    foreign = tuple(lib for lib in runtimes if lib.major != b.cuda_major)
    own = [lib for lib in runtimes if lib.major == b.cuda_major]
    built = f"TensorFlow {b.version} was built for CUDA {b.cuda} / cuDNN {b.cudnn}"
    folded: set[str] = set()
    for rt in foreign:
        beside = [d for d in dnns if d.folder == rt.folder]
        folded.update(d.path for d in beside)
        extra = "".join(f"; cuDNN {d.version} ({d.file}) was loaded from the same folder" for d in beside)
        out.append(Finding("error", f"{built}, but this process loaded the CUDA {rt.version} runtime ({rt.file} "
                                    f"from {rt.folder}){extra}", "cudnn-mismatch",
                           _cudnn_fix(b, e, (rt,))))
    if not own:
        out.append(Finding("error", f"{built}, but the process did not load a CUDA {b.cuda_major} runtime "
                                    f"(libcudart)", "cuda-lib-missing", _runtime_fix(b, e, foreign)))
    else:
        for rt in own:
            try:
                older = rt.exact and compat.compare_dotted(compat.major_minor(rt.version or ""), b.cuda_mm) < 0
            except TfmatrixError:
                older = False
            if older:
                out.append(Finding("warning", f"the loaded CUDA runtime {rt.version} ({rt.path}) is older than the "
                                              f"CUDA {b.cuda} TensorFlow {b.version} was built with", None,
                                   _runtime_fix(b, e)))
    built_mm = compat.dotted(b.cudnn)
    if not dnns and own:
        out.append(Finding("error", f"{built}, but the process did not load cuDNN {b.cudnn_major} (libcudnn)",
                           "cuda-lib-missing", _cudnn_fix(b, e)))
    for d in dnns:
        if d.path in folded:
            continue
        have = compat.dotted(d.version or "0")
        if d.major != b.cudnn_major:
            out.append(Finding("error", f"TensorFlow {b.version} was built against cuDNN {b.cudnn}; this process "
                                        f"loaded cuDNN {d.version} ({d.path})", "cudnn-mismatch",
                               _cudnn_fix(b, e, (d,))))
        elif len(have) >= 2 and len(built_mm) >= 2 and have[1] < built_mm[1]:
            out.append(Finding("error", f"TensorFlow {b.version} was built against cuDNN {b.cudnn}; this process "
                                        f"loaded cuDNN {d.version} ({d.path}), an older minor (TensorFlow needs the "
                                        f"same major and at least its minor)", "cudnn-mismatch", _cudnn_fix(b, e)))
        elif len(have) >= 2 and len(built_mm) >= 2 and have[1] > built_mm[1]:
            out.append(Finding("info", f"cuDNN {d.version} ({d.file}) is newer than the {b.cudnn} TensorFlow "
                                       f"{b.version} was built against: accepted (same major), not the tested "
                                       f"configuration", None, f"nothing required; cuDNN {b.cudnn} is the tested one"))
    return out


def _wheel_check(e: _Env, b: _Built) -> list[Finding]:
    pins = compat.and_cuda_pins(b.version)
    wheels = dict(e.wheels)
    cuda_wheels = {n for n in wheels if n.startswith("nvidia-") and compat.wheel_cuda_major(n)}
    if not pins or not cuda_wheels:
        return []
    wrong, missing = [], []
    for name, spec in sorted(pins.items()):
        if name.startswith("tensorrt"):
            continue  # optional at runtime: TensorFlow only warns "Could not find TensorRT"
        have = wheels.get(name)
        if have is None:
            missing.append(name)
            continue
        try:
            fits = SpecifierSet(spec).contains(Version(have), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            continue
        if not fits:
            wrong.append((name, have, spec))
    if not wrong and not missing:
        return []
    parts = [f"{n} {h} (wants {s})" for n, h, s in wrong] + [f"{n} missing" for n in missing]
    cudnn_bad = any(n.startswith("nvidia-cudnn-") for n, _, _ in wrong) or any(
        n.startswith("nvidia-cudnn-") for n in missing)
    predicts = "cudnn-mismatch" if cudnn_bad else ("cuda-lib-missing" if missing else None)
    if len(wrong) == 1 and not missing:
        n, _, spec = wrong[0]
        fix = f"pip install '{n}{spec}' (another package changed it), or give that package its own venv"
    else:
        fix = (f"pip install --force-reinstall 'tensorflow[and-cuda]=={b.version}' to restore its {len(pins)} "
               f"pins (another package changed {len(wrong) + len(missing)} of them), or give that package its "
               f"own venv")
    return [Finding("warning", f"installed nvidia-* wheels disagree with tensorflow[and-cuda]=={b.version}: "
                               + ", ".join(parts), predicts, fix)]


def _tf_sees_no_gpu_check(e: _Env, b: _Built, explained: bool) -> list[Finding]:
    if explained or e.tf_devices is None or e.tf_gpus or not e.gpus or e.gpus_hidden:
        return []
    names = ", ".join(g.name for g in e.gpus)
    return [Finding("error", f"NVML sees {len(e.gpus)} GPU(s) ({names}) but TensorFlow {b.version} lists none",
                    "no-gpu", "run TF_CPP_MIN_LOG_LEVEL=0 python -c \"import tensorflow as tf; "
                    "print(tf.config.list_physical_devices('GPU'))\" and read the 'Cannot dlopen some GPU "
                    f"libraries' lines; then {_runtime_fix(b, e)}")]


def _hidden_check(e: _Env) -> list[Finding]:
    if not (e.gpus and e.gpus_hidden):
        return []
    return [Finding("info", f"CUDA_VISIBLE_DEVICES={e.visible_devices!r} hides the {len(e.gpus)} GPU(s) from "
                            f"this process (as tfmatrix does for a cpu stack)", None,
                    f"unset CUDA_VISIBLE_DEVICES to let TensorFlow{' ' + e.tf_version if e.tf_version else ''} "
                    f"use GPU 0 ({e.gpus[0].name})")]


# --------------------------------------------------------------------------- facts and verdict


def _gib(n: int | None) -> str:
    return f"{n / (1 << 30):.0f} GiB" if n else "? GiB"


def _facts(e: _Env, b: _Built | None) -> tuple[Fact, ...]:
    rows = [Fact("OS", f"{e.system} ({e.machine or '?'})"), Fact("Python", e.python or "?")]
    if e.cpu_model or e.cpu_flags is not None:
        rows.append(Fact("CPU", f"{e.cpu_model or '?'}; {' '.join(e.cpu_flags or ()) or 'flags unknown'}"))
    if e.tf_error is not None:
        rows.append(Fact("TensorFlow", f"not importable ({e.tf_error})"))
    else:
        rows.append(Fact("TensorFlow", e.tf_version or "?"))
        if b is not None:
            caps = f"; kernels {', '.join(b.caps)}" if b.caps else ""
            rows.append(Fact("TF built with", f"CUDA {b.cuda}, cuDNN {b.cudnn}{caps}"))
        elif not e.tf_cuda_build:
            rows.append(Fact("TF built with", "no CUDA (a CPU-only build)"))
        try:
            cfg = compat.build_config(e.tf_version) if e.tf_version else None
        except TfmatrixError:
            cfg = None
        if cfg is not None and e.windows and cfg.windows_gpu is not None:
            w = cfg.windows_gpu
            rows.append(Fact("TF tested with", f"Python {w.python}, CUDA {w.cuda}, cuDNN {w.cudnn} ({w.compiler}, "
                                               f"{w.package}, the last native-Windows GPU build)"))
        elif cfg is not None:
            rows.append(Fact("TF tested with", f"Python {cfg.python_range}, CUDA {cfg.cuda}, cuDNN {cfg.cudnn} "
                                               f"({cfg.compiler})"))
        if e.tf_devices is not None:
            rows.append(Fact("TF devices", ", ".join(d.replace("/physical_device:", "") for d in e.tf_devices)
                             or "none"))
    if e.numpy:
        rows.append(Fact("NumPy", e.numpy))
    if e.nvml_ok:
        rows.append(Fact("NVIDIA driver", f"{e.driver or '?'} (CUDA {e.driver_cuda or '?'})"))
    else:
        rows.append(Fact("NVIDIA driver", f"none ({e.nvml_reason or 'NVML unavailable'})"))
    for g in e.gpus:
        rows.append(Fact(f"GPU {g.index}", f"{g.name}, compute capability {g.compute_capability or '?'}, "
                                           f"{_gib(g.memory_bytes)}"))
    for lib in e.libs or ():
        if lib.kind in ("cudart", "cudnn"):
            rows.append(Fact(f"loaded {lib.kind}", f"{lib.version or '?'} ({lib.path})"))
    cuda_wheels = [f"{n} {v}" for n, v in e.wheels if compat.wheel_cuda_major(n)]
    if cuda_wheels:
        rows.append(Fact("nvidia wheels", ", ".join(cuda_wheels)))
    if e.visible_devices is not None:
        rows.append(Fact("CUDA_VISIBLE_DEVICES", repr(e.visible_devices)))
    return tuple(rows)


def _verdict(e: _Env, findings: list[Finding]) -> str:
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
    e = _read(probe, nvml)
    b = _built(e)
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
    return Diagnosis(facts=_facts(e, b), findings=tuple(findings), verdict=_verdict(e, findings))


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
        for f in d.findings:
            head = f"  {f.severity.upper():<7} " + (f"[{f.predicts}] " if f.predicts else "")
            out.append(textwrap.fill(head + f.what, width=width, subsequent_indent=" " * 10,
                                     break_on_hyphens=False))
            out.append(textwrap.fill(f"fix: {f.fix}", width=width, initial_indent=" " * 10,
                                     subsequent_indent=" " * 15, break_on_hyphens=False))
        out.append("")
    else:
        out.append("findings: none")
        out.append("")
    out.append(f"verdict: {d.verdict}")
    return "\n".join(out) + "\n"
