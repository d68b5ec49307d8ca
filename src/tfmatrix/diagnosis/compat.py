"""What each TensorFlow release was built and tested against: ``data/compat.yaml``.

The knowledge is data (with its sources in the YAML's comments); this module loads it once into
frozen dataclasses and answers small questions about it (:func:`build_config`, :func:`and_cuda_pins`,
:func:`driver_floor`, ...), with the version helpers the rules share.  No network, no TensorFlow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import TfmatrixError

COMPAT = Path(__file__).parent / "data" / "compat.yaml"
_DOTTED_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_WHEEL_CUDA_RE = re.compile(r"-cu([0-9]+)$")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class WindowsGpuBuild:
    """The native-Windows GPU build of a release (2.10 was the last one)."""

    package: str
    python: str
    compiler: str
    cuda: str
    cudnn: str


@dataclass(frozen=True)
class BuildConfig:
    """One TensorFlow minor release's tested GPU build configuration."""

    tf: str                      # "2.18"
    python_min: str              # "3.9"
    python_max: str              # "3.12"
    compiler: str
    bazel: str
    cuda: str                    # major.minor, "12.5"
    cudnn: str                   # major.minor, "9.3"
    cuda_build: str | None       # exact, "12.5.1", where a source gives it
    cudnn_build: str | None      # exact, "9.3.0"
    numpy_abi: int               # the NumPy major its C extensions were compiled against
    numpy_requirement: str       # TensorFlow's own numpy specifier (wheel metadata)
    protobuf_requirement: str    # TensorFlow's own protobuf specifier (wheel metadata)
    keras_requirement: str       # TensorFlow's own keras specifier (wheel metadata)
    cuda_compute_capabilities: tuple[str, ...] = ()
    windows_gpu: WindowsGpuBuild | None = None

    @property
    def python_range(self) -> str:
        return f"{self.python_min}-{self.python_max}"

    def supports_python(self, python: str) -> bool:
        """Is ``3.N`` (or ``3.N.P``) inside the tested range?"""
        mm = dotted(python)[:2]
        return dotted(self.python_min)[:2] <= mm <= dotted(self.python_max)[:2]

    @property
    def cuda_major(self) -> int:
        return dotted(self.cuda)[0]

    @property
    def cudnn_major(self) -> int:
        return dotted(self.cudnn)[0]

    @property
    def keras_major(self) -> int | None:
        """The Keras major the release is built around: its keras requirement's lower bound's major."""
        return lower_bound_major(self.keras_requirement)

    def requirement(self, dist: str) -> str:
        """TensorFlow's own specifier for ``numpy``, ``protobuf`` or ``keras``."""
        return {"numpy": self.numpy_requirement, "protobuf": self.protobuf_requirement,
                "keras": self.keras_requirement}[dist]

    @property
    def cuda_exact(self) -> str:
        return self.cuda_build or self.cuda

    @property
    def min_compute_capability(self) -> str | None:
        """The lowest compute capability the shipped kernels run on (``"6.0"``), if known."""
        return lowest_compute_capability(self.cuda_compute_capabilities)


@dataclass(frozen=True)
class AndCuda:
    """The ``tensorflow[and-cuda]`` extra of one minor release."""

    tf: str
    kind: str                                   # "pinned" or "ranges"
    requires: tuple[tuple[str, str], ...]       # (wheel name, specifier)
    by_release: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    resolved_on: str | None = None              # date of resolves_today
    resolves_today: tuple[tuple[str, str], ...] = ()

    def pins(self, tf_version: str | None = None) -> dict[str, str]:
        out = dict(self.requires)
        for release, extra in self.by_release:
            if tf_version is not None and _same_release(release, tf_version):
                out.update(extra)
        return out


@dataclass(frozen=True)
class DriverFloor:
    cuda: str                 # "12" or, before CUDA 11, "10.1"
    linux: str | None
    windows: str | None


@dataclass(frozen=True)
class Compat:
    tensorflow: tuple[BuildConfig, ...]
    and_cuda: tuple[AndCuda, ...]
    driver_floors: tuple[DriverFloor, ...]
    cudnn_wheels: tuple[tuple[str, int], ...]   # (wheel name, CUDA major)
    avx_since: str                              # the TensorFlow release whose x86-64 wheels first need AVX
    broken: frozenset[tuple[str, str]]          # (library, relation) that fails: ("cuDNN", "older-minor")


# --------------------------------------------------------------------------- version helpers


def dotted(version: str) -> tuple[int, ...]:
    """``"525.60.13"`` -> ``(525, 60, 13)``; anything else is a user error."""
    text = str(version).strip()
    if not _DOTTED_RE.match(text):
        raise TfmatrixError(f"not a dotted numeric version: {version!r}")
    return tuple(int(p) for p in text.split("."))


def compare_dotted(a: str, b: str) -> int:
    """-1, 0 or 1, comparing numerically and padding the shorter with zeros (580 == 580.0.0)."""
    x, y = dotted(a), dotted(b)
    n = max(len(x), len(y))
    x, y = x + (0,) * (n - len(x)), y + (0,) * (n - len(y))
    return (x > y) - (x < y)


def lower_bound_major(specifier: str) -> int | None:
    """The major of a specifier's lowest ``>=``/``>``/``==``/``~=`` bound (``">=3.5.0"`` -> 3), or None."""
    try:
        bounds = [Version(s.version).major for s in SpecifierSet(specifier)
                  if s.operator in (">=", ">", "==", "~=") and "*" not in s.version]
    except (InvalidSpecifier, InvalidVersion):
        return None
    return min(bounds) if bounds else None


def major_minor(version: str) -> str:
    parts = dotted(version)
    return ".".join(str(p) for p in parts[:2])


def tf_minor(tf_version: str) -> str:
    """``"2.18.1"`` (or ``"2.18"``, ``"2.18.0rc1"``) -> ``"2.18"``."""
    try:
        v = Version(str(tf_version))
    except InvalidVersion:
        raise TfmatrixError(f"not a TensorFlow version: {tf_version!r}") from None
    return f"{v.major}.{v.minor}"


def _same_release(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def normalize_cuda_version(value: Any) -> str | None:
    """TensorFlow's ``build_info`` CUDA version as dotted text.

    Linux builds say ``"12.5.1"`` or ``"12.2"``; Windows builds say ``"64_112"``
    (``cudart64_112``-style: the digits of major and minor run together).
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("64_"):
        digits = text[3:]
        if not digits.isdigit() or len(digits) < 2:
            return None
        return f"{int(digits[:-1])}.{int(digits[-1])}"
    return text if _DOTTED_RE.match(text) else None


def normalize_cudnn_version(value: Any) -> str | None:
    """``"9"``, ``"8"`` or the Windows ``"64_8"`` -> dotted text."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("64_"):
        text = text[3:]
    return text if _DOTTED_RE.match(text) else None


def cudnn_of_wheel(wheel_version: str) -> str:
    """The cuDNN version an ``nvidia-cudnn-cu1x`` wheel provides: its own version, less the build.

    ``"8.9.7.29"`` -> ``"8.9.7"`` (the fourth field is NVIDIA's build number).
    """
    parts = dotted(wheel_version)
    return ".".join(str(p) for p in parts[:3])


def wheel_cuda_major(wheel_name: str) -> int | None:
    """``nvidia-cudnn-cu12`` -> 12; ``nvidia-ml-py`` -> None."""
    m = _WHEEL_CUDA_RE.search(wheel_name.strip().lower())
    return int(m.group(1)) if m else None


def parse_compute_capability(code: str) -> str | None:
    """``"sm_75"`` / ``"compute_90"`` / ``"7.5"`` -> ``"7.5"`` / ``"9.0"``."""
    text = code.strip().strip("'\"")
    m = re.match(r"^(?:sm|compute)_([0-9]+)[a-z]?$", text)
    if m:
        digits = m.group(1)
        return f"{int(digits[:-1])}.{int(digits[-1])}"
    return text if re.match(r"^[0-9]+\.[0-9]+$", text) else None


def parse_compute_capabilities(value: Any) -> tuple[str, ...]:
    """build_info's ``cuda_compute_capabilities``: a list, or its ``str()`` (``"['sm_60', ...]"``)."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,\[\]]+", str(value))
    return tuple(str(i).strip().strip("'\"") for i in items if str(i).strip().strip("'\""))


def lowest_compute_capability(codes: tuple[str, ...] | list[str]) -> str | None:
    ccs = [c for c in (parse_compute_capability(x) for x in codes) if c]
    return min(ccs, key=dotted) if ccs else None


def _system_key(system: str) -> str | None:
    s = system.strip().lower()
    if s.startswith("linux"):
        return "linux"
    if s.startswith("win"):
        return "windows"
    return None


# --------------------------------------------------------------------------- loading


def _pairs(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in (mapping or {}).items())


def _build_config(minor: str, e: Mapping[str, Any]) -> BuildConfig:
    lo, hi = str(e["python"]).split("-")
    win = e.get("windows_gpu")
    return BuildConfig(
        tf=minor, python_min=lo, python_max=hi, compiler=str(e["compiler"]), bazel=str(e["bazel"]),
        cuda=str(e["cuda"]), cudnn=str(e["cudnn"]),
        cuda_build=str(e["cuda_build"]) if e.get("cuda_build") else None,
        cudnn_build=str(e["cudnn_build"]) if e.get("cudnn_build") else None,
        numpy_abi=int(e["numpy_abi"]), numpy_requirement=str(e["requires"]["numpy"]),
        protobuf_requirement=str(e["requires"]["protobuf"]), keras_requirement=str(e["requires"]["keras"]),
        cuda_compute_capabilities=tuple(str(c) for c in e.get("cuda_compute_capabilities") or ()),
        windows_gpu=WindowsGpuBuild(**{k: str(v) for k, v in win.items()}) if win else None,
    )


def _and_cuda(minor: str, e: Mapping[str, Any]) -> AndCuda:
    today = e.get("resolves_today") or {}
    return AndCuda(
        tf=minor, kind=str(e["kind"]), requires=_pairs(e["requires"]),
        by_release=tuple((str(r), _pairs(p)) for r, p in (e.get("by_release") or {}).items()),
        resolved_on=str(today["date"]) if today else None, resolves_today=_pairs(today.get("packages")),
    )


def parse_compat(data: Mapping[str, Any]) -> Compat:
    try:
        tfs = data["tensorflow"]
        configs = tuple(_build_config(str(k), v) for k, v in tfs.items())
        and_cuda = tuple(_and_cuda(str(k), v["and_cuda"]) for k, v in tfs.items() if v.get("and_cuda"))
        floors = tuple(DriverFloor(str(k), v.get("linux") and str(v["linux"]), v.get("windows") and str(v["windows"]))
                       for k, v in data["driver_floors"].items())
        wheels = tuple((str(k), int(v["cuda_major"])) for k, v in data["cudnn_wheels"].items())
        avx_since = str(data["cpu"]["avx_since"])
        broken = frozenset((str(lib), str(rel)) for lib, rels in data["libraries"].items()
                           for rel, verdict in rels.items() if verdict == "broken")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TfmatrixError(f"compat data does not parse: {type(exc).__name__}: {exc}") from None
    return Compat(tensorflow=configs, and_cuda=and_cuda, driver_floors=floors, cudnn_wheels=wheels,
                  avx_since=avx_since, broken=broken)


def load_compat(path: str | None = None) -> Compat:
    """The compat data (``path``, else :data:`COMPAT` as it is now), parsed once per process and file."""
    return _load(str(path or COMPAT))


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Compat:
    return parse_compat(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- queries


def known_tf_minors(compat: Compat | None = None) -> tuple[str, ...]:
    return tuple(b.tf for b in (compat or load_compat()).tensorflow)


def build_config(tf_version: str, compat: Compat | None = None) -> BuildConfig | None:
    """TensorFlow's tested build configuration for this release's major.minor, or None."""
    minor = tf_minor(tf_version)
    for b in (compat or load_compat()).tensorflow:
        if b.tf == minor:
            return b
    return None


def and_cuda(tf_version: str, compat: Compat | None = None) -> AndCuda | None:
    minor = tf_minor(tf_version)
    for a in (compat or load_compat()).and_cuda:
        if a.tf == minor:
            return a
    return None


def and_cuda_pins(tf_version: str, compat: Compat | None = None) -> dict[str, str]:
    """The nvidia-* (and tensorrt) requirements of ``tensorflow[and-cuda]``: name -> specifier (a pin or a range).

    ``{}`` for a release without the extra or one not in the data."""
    a = and_cuda(tf_version, compat)
    return a.pins(tf_version) if a else {}


def and_cuda_resolved_today(tf_version: str, compat: Compat | None = None) -> dict[str, str]:
    """For a ranges-only release: the versions its ranges resolved to on the recorded date."""
    a = and_cuda(tf_version, compat)
    return dict(a.resolves_today) if a else {}


def driver_floor(cuda_version: str, system: str = "Linux", compat: Compat | None = None) -> str | None:
    """The oldest NVIDIA driver that runs this CUDA version (minor version compatibility).

    ``"12.5.1"`` -> ``"525.60.13"`` on Linux.  Before CUDA 11 the floor is per minor
    release (``"10.1"`` -> ``"418.39"``).  None when unknown for that CUDA or system.
    """
    key = _system_key(system)
    cuda = normalize_cuda_version(cuda_version)
    if key is None or cuda is None:
        return None
    parts = dotted(cuda)
    floors = {f.cuda: f for f in (compat or load_compat()).driver_floors}
    f = floors.get(".".join(str(p) for p in parts[:2])) or floors.get(str(parts[0]))
    return getattr(f, key) if f else None


def driver_ok(driver: str, cuda: str, system: str = "Linux", compat: Compat | None = None) -> bool:
    """Is this driver at or above the floor of that CUDA version?  (Numeric, dotted.)"""
    floor = driver_floor(cuda, system, compat)
    if floor is None:
        raise TfmatrixError(f"no known NVIDIA driver floor for CUDA {cuda} on {system}")
    return compare_dotted(driver, floor) >= 0


def tf_for_python(python: str, compat: Compat | None = None) -> tuple[str, ...]:
    """The TensorFlow minors whose tested range includes this Python."""
    return tuple(b.tf for b in (compat or load_compat()).tensorflow if b.supports_python(python))


def tf_for_compute_capability(cc: str, compat: Compat | None = None) -> tuple[str, ...]:
    """The TensorFlow minors known to ship kernels for a GPU of this compute capability."""
    out = []
    for b in (compat or load_compat()).tensorflow:
        low = b.min_compute_capability
        if low is not None and compare_dotted(cc, low) >= 0:
            out.append(b.tf)
    return tuple(out)


def cudnn_wheel_names(compat: Compat | None = None) -> dict[str, int]:
    """``{"nvidia-cudnn-cu12": 12, ...}``."""
    return dict((compat or load_compat()).cudnn_wheels)


def cuda_wheels(installed: Mapping[str, str]) -> dict[str, str]:
    """The NVIDIA CUDA-library wheels among installed distributions (name -> version): ``nvidia-*-cuNN``."""
    return {n: v for n, v in installed.items() if n.startswith("nvidia-") and wheel_cuda_major(n)}
