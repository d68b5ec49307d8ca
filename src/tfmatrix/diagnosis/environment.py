"""The environment the doctor diagnoses: what the probe found inside a venv, and NVML on the host, as values.

:func:`read_environment` reads the probe (:mod:`tfmatrix.worker.probe`) and
NVML's answer once into an :class:`Environment`; :func:`built_for` says what
that environment's TensorFlow was built for (:class:`Built`), from its own
build info and the compatibility data; :func:`facts` lists all of it as rows.
Pure reading: no checks, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Mapping

from ..errors import TfmatrixError
from . import compat


@dataclass(frozen=True)
class LoadedLib:
    path: str
    kind: str                # "cudart", "cudnn", or the library's bare name
    version: str | None      # the library's own answer, else what its file name says
    major: int | None
    exact: bool = False      # the library's own answer (or a full x.y.z file name), not just a soname
    on_path: bool | None = None  # a file the search path found (not loaded): whether PATH / LD_LIBRARY_PATH names
    #                              its folder (False: only a CUDA_PATH toolkit's bin has it); None: a loaded library

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
class Environment:
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
    searched: tuple[LoadedLib, ...] | None = None  # CUDA runtime / cuDNN files on the search path; None: not read
    search_variable: str = ""                 # PATH (Windows) or LD_LIBRARY_PATH
    toolkits: tuple[tuple[str, str], ...] = ()  # (CUDA_PATH_V11_2, its folder): the toolkits Windows' installer named

    @property
    def windows(self) -> bool:
        return self.system.lower().startswith("win")

    def found(self, kind: str, major: int) -> tuple[LoadedLib, ...]:
        """The files the search found of ``kind`` ("cudart", "cudnn") and ``major``, in search order."""
        return tuple(lib for lib in self.searched or () if lib.kind == kind and lib.major == major)

    def toolkit_of(self, folder: str) -> str | None:
        """The CUDA_PATH variable whose toolkit's bin is ``folder``, if any."""
        return next((var for var, root in self.toolkits if same_folder(str(_pure(root) / "bin"), folder)), None)

    @property
    def tf_gpus(self) -> tuple[str, ...]:
        return tuple(d for d in (self.tf_devices or ()) if ":GPU:" in d)

    @property
    def gpus_hidden(self) -> bool:
        return self.visible_devices is not None and self.visible_devices.strip() in ("", "-1")


def _pure(path: str) -> PurePosixPath | PureWindowsPath:
    return PureWindowsPath(path) if "\\" in path or re.match(r"^[A-Za-z]:", path) else PurePosixPath(path)


def same_folder(a: str, b: str) -> bool:
    """Two folders are one (Windows compares them without case)."""
    pa, pb = _pure(a), _pure(b)
    return str(pa).lower() == str(pb).lower() if isinstance(pa, PureWindowsPath) else pa == pb


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
    on_path = entry.get("on_path")
    return LoadedLib(path=path, kind=kind, version=version, major=parts[0] if parts else None,
                     exact=bool(parts) and (bool(reported) or len(parts) >= 3),
                     on_path=on_path if isinstance(on_path, bool) else None)


def _gpus(nvml: Mapping[str, Any]) -> tuple[Gpu, ...]:
    out = []
    for i, g in enumerate(nvml.get("gpus") or ()):
        if isinstance(g, dict):
            mem = g.get("memory_total_bytes")
            out.append(Gpu(index=int(g.get("index", i)), name=str(g.get("name", "?")),
                           compute_capability=str(g["compute_capability"]) if g.get("compute_capability") else None,
                           memory_bytes=int(mem) if isinstance(mem, (int, float)) else None))
    return tuple(out)


def read_environment(probe: Mapping[str, Any], nvml: Mapping[str, Any]) -> Environment:
    tf = probe.get("tensorflow")
    tfd, build = _dict(tf), _dict(_dict(tf).get("build_info"))
    devices = probe.get("devices")
    cpu, os_ = _dict(probe.get("cpu")), _dict(probe.get("os"))
    libs_raw = probe.get("loaded_libraries")
    libs = (tuple(x for x in (_loaded(e) for e in libs_raw) if x) if isinstance(libs_raw, list) else None)
    wheels = _dict(probe.get("nvidia_wheels"))
    nvml = nvml if isinstance(nvml, Mapping) else {}
    env_raw = probe.get("env")
    env: dict[str, Any] = env_raw if isinstance(env_raw, dict) else {}
    flags = cpu.get("flags")
    search = _dict(probe.get("library_search"))
    found = search.get("found")
    return Environment(
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
        searched=tuple(x for x in (_loaded(f) for f in found) if x) if isinstance(found, list) else None,
        search_variable=str(search.get("variable") or ""),
        toolkits=_pairs(search.get("toolkits")),
    )


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value.items()) if isinstance(value, dict) else ()


@dataclass(frozen=True)
class Built:
    version: str            # "2.18.0"
    minor: str              # "2.18"
    cuda: str               # "12.5.1"
    cuda_mm: str            # "12.5"
    cuda_major: int
    cudnn: str              # "9.3" (compat's minor when its major agrees) or "9"
    cudnn_major: int
    caps: tuple[str, ...]
    config: compat.BuildConfig | None


def built_for(e: Environment) -> Built | None:
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
    return Built(version=e.tf_version, minor=minor, cuda=cuda,
                  cuda_mm=compat.major_minor(cuda), cuda_major=compat.dotted(cuda)[0], cudnn=cudnn,
                  cudnn_major=cudnn_major, caps=tuple(caps), config=config)


# --------------------------------------------------------------------------- the facts, as rows


@dataclass(frozen=True)
class Fact:
    name: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value}


def _gib(n: int | None) -> str:
    return f"{n / (1 << 30):.0f} GiB" if n else "? GiB"


def facts(e: Environment, b: Built | None) -> tuple[Fact, ...]:
    """What the environment is, as rows of text (the first part of the doctor's answer)."""
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
    if e.searched:
        rows.append(Fact(f"CUDA on {e.search_variable}", "; ".join(
            f"{lib.file} in {lib.folder}" + ("" if lib.on_path else f" (not on {e.search_variable}: "
                                                                      f"{e.toolkit_of(lib.folder) or 'a toolkit'})")
            for lib in e.searched)))
    cuda_wheels = [f"{n} {v}" for n, v in e.wheels if compat.wheel_cuda_major(n)]
    if cuda_wheels:
        rows.append(Fact("nvidia wheels", ", ".join(cuda_wheels)))
    if e.visible_devices is not None:
        rows.append(Fact("CUDA_VISIBLE_DEVICES", repr(e.visible_devices)))
    return tuple(rows)
