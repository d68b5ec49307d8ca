"""The compatibility rules, in one place: each returns a structured verdict, and its sentence, the callers only present.

Pre-flight (before a combination runs), the doctor (on a live environment)
and the report (the CUDA table of a record) ask the same questions with
different evidence (the venv's pins, the libraries a process loaded, what a
record kept); the answers, the sentence that states them and the failure class
each predicts come from here.  The facts behind the rules (which CUDA, cuDNN,
NumPy ABI and Keras major a release was built with, its declared requirements,
the driver floors) are :mod:`tfmatrix.diagnosis.compat`'s data: no version is
written in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import TfmatrixError
from . import compat

X86 = ("x86_64", "amd64", "x64", "i386", "i686", "x86")

SAME, NEWER_MINOR, OLDER_MINOR, OTHER_MAJOR, UNKNOWN = "same", "newer-minor", "older-minor", "other-major", "unknown"


def avx_missing(flags: Iterable[str] | None, machine: str | None) -> bool:
    """True only when the CPU flags were read, the CPU is x86 (or unknown) and it has no AVX.

    TensorFlow's x86-64 wheels use AVX (since the release compat.yaml names); without it ``import tensorflow``
    dies of an illegal instruction.  No flags (Windows has no /proc/cpuinfo) means "not read", never "no AVX".
    """
    seen = {str(f).lower() for f in flags or ()}
    arch = str(machine or "").lower()
    return bool(seen) and (not arch or arch in X86) and "avx" not in seen


def relation(built: str, have: str) -> str:
    """How a library version ``have`` stands to the ``built`` one: by major, then minor (when both give one)."""
    try:
        b, h = compat.dotted(built), compat.dotted(have)
    except TfmatrixError:
        return UNKNOWN
    if b[0] != h[0]:
        return OTHER_MAJOR
    if len(b) < 2 or len(h) < 2 or b[1] == h[1]:
        return SAME
    return OLDER_MINOR if h[1] < b[1] else NEWER_MINOR


@dataclass(frozen=True)
class LibraryMatch:
    """A CUDA library found (pinned, loaded) against the one TensorFlow was built with.

    Which relations break which library (cuDNN: another major or an older minor, as TensorFlow
    checks when it loads it) is compat.yaml's ``libraries`` table; a relation it does not call
    broken is accepted, not necessarily the tested configuration.
    """

    library: str  # "cuDNN" or "CUDA runtime"
    built: str
    have: str
    relation: str  # same, newer-minor, older-minor, other-major, unknown

    @property
    def broken(self) -> bool:
        """What compat.yaml's ``libraries`` says of this library at this relation."""
        return (self.library, self.relation) in compat.load_compat().broken

    @property
    def predicts(self) -> str | None:
        """A wrong runtime major brings its own cuDNN: both end the way a cuDNN mismatch does."""
        return "cudnn-mismatch" if self.broken else None

    def sentence(self, tensorflow: str) -> str | None:
        """The verdict in words, the same whether ``have`` was pinned or loaded (the caller adds where it was
        seen); None when the versions are the same or do not compare."""
        head = f"TensorFlow {tensorflow} was built against {self.library} {self.built}; {self.library} {self.have} is"
        if self.relation == OTHER_MAJOR:
            return f"{head} another major"
        if self.relation == OLDER_MINOR:
            needs = " (TensorFlow needs the same major and at least its minor)" if self.library == "cuDNN" else ""
            return f"{head} an older minor{needs}"
        if self.relation == NEWER_MINOR:
            return f"{head} a newer minor: accepted (same major), not the tested configuration"
        return None


def match_cudnn(built: str, have: str) -> LibraryMatch:
    return LibraryMatch("cuDNN", built, have, relation(built, have))


def match_cuda_runtime(built: str, have: str) -> LibraryMatch:
    return LibraryMatch("CUDA runtime", built, have, relation(built, have))


@dataclass(frozen=True)
class DriverCheck:
    """An NVIDIA driver against the floor of the CUDA version TensorFlow was built with."""

    driver: str
    cuda: str
    floor: str
    too_old: bool

    @property
    def predicts(self) -> str | None:
        return "no-gpu" if self.too_old else None

    @property
    def sentence(self) -> str:
        """The verdict in words (a driver at or above the floor needs none; this says what it is)."""
        major = self.cuda.split(".")[0]
        return (f"NVIDIA driver {self.driver} is {'older than' if self.too_old else 'at or above'} CUDA {major}'s "
                f"floor {self.floor}")

    def newest_usable(self, system: str) -> compat.BuildConfig | None:
        """The newest TensorFlow release whose CUDA this driver does run (a way out besides upgrading)."""
        for cfg in reversed(compat.load_compat().tensorflow):
            floor = compat.driver_floor(cfg.cuda, system)
            if floor and compat.compare_dotted(self.driver, floor) >= 0:
                return cfg
        return None


def check_driver(driver: str, cuda: str, system: str = "Linux") -> DriverCheck | None:
    """None when the floor of that CUDA on that system is unknown, or a version does not parse."""
    floor = compat.driver_floor(cuda, system)
    if floor is None:
        return None
    try:
        return DriverCheck(driver, cuda, floor, compat.compare_dotted(driver, floor) < 0)
    except TfmatrixError:
        return None


@dataclass(frozen=True)
class WheelCheck:
    """Installed nvidia-* wheels against the ``tensorflow[and-cuda]`` requirements of the release."""

    tensorflow: str
    pinned: int                                  # how many requirements the extra has
    wrong: tuple[tuple[str, str, str], ...]      # (wheel, installed version, the specifier it breaks)
    missing: tuple[str, ...]

    @property
    def predicts(self) -> str | None:
        cudnn = any(n.startswith("nvidia-cudnn-") for n in (*(w[0] for w in self.wrong), *self.missing))
        return "cudnn-mismatch" if cudnn else ("cuda-lib-missing" if self.missing else None)

    @property
    def sentence(self) -> str:
        parts = [f"{n} {h} (wants {s})" for n, h, s in self.wrong] + [f"{n} missing" for n in self.missing]
        return f"installed nvidia-* wheels disagree with tensorflow[and-cuda]=={self.tensorflow}: " + ", ".join(parts)


def check_and_cuda_wheels(tensorflow: str, installed: Mapping[str, str]) -> WheelCheck | None:
    """None when the release has no ``[and-cuda]`` extra, no CUDA wheel is installed, or every one fits."""
    pins = compat.and_cuda_pins(tensorflow)
    if not pins or not compat.cuda_wheels(installed):
        return None
    wrong, missing = [], []
    for name, spec in sorted(pins.items()):
        if name.startswith("tensorrt"):
            continue  # optional at runtime: TensorFlow only warns "Could not find TensorRT"
        have = installed.get(name)
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
        return None
    return WheelCheck(tensorflow, len(pins), tuple(wrong), tuple(missing))


def numpy_abi_mismatch(bc: compat.BuildConfig | None, numpy: str | None) -> bool:
    """A NumPy of a newer major than the one the release's C extensions were compiled against: they do not
    load (an extension built against a newer NumPy runs on an older one its requirement admits)."""
    v = _version(numpy)
    return bc is not None and v is not None and v.major > bc.numpy_abi


def _protobuf_misses(bc: compat.BuildConfig | None, protobuf: str | None) -> list:
    """The parts of the release's own protobuf specifier a version breaks (none when either is unknown)."""
    v = _version(protobuf)
    if bc is None or v is None:
        return []
    try:
        spec = SpecifierSet(bc.protobuf_requirement)
    except InvalidSpecifier:
        return []
    return [s for s in spec if not s.contains(v, prereleases=True)]


def protobuf_outside(bc: compat.BuildConfig | None, protobuf: str | None) -> str | None:
    """The part of the release's own protobuf specifier a version breaks (``"<5"``), or None."""
    return ",".join(sorted(str(s) for s in _protobuf_misses(bc, protobuf))) or None


def protobuf_below_gencode(bc: compat.BuildConfig | None, protobuf: str | None) -> str | None:
    """The lower bound of the release's protobuf specifier that a version is under (``">=5.28.0"``), or None.

    A protobuf runtime older than the code TensorFlow generated with protoc refuses it at import
    (``cannot import name 'runtime_version'``, ``VersionError``): fatal, where a newer runtime than the
    release declares usually only prints errors (degraded)."""
    low = [s for s in _protobuf_misses(bc, protobuf) if s.operator in (">=", ">", "~=", "==")]
    return ",".join(sorted(str(s) for s in low)) or None


def keras_major_mismatch(bc: compat.BuildConfig | None, keras: str | None) -> str | None:
    """The Keras major the release's ``tf.keras`` and Model Garden need (``"Keras 3"``), when the pinned one is
    another: the major of the release's own keras requirement (compat data).  None when they agree, or the
    release or a version is unknown."""
    k = _version(keras)
    needs = bc.keras_major if bc is not None else None
    if k is None or needs is None:
        return None
    return None if k.major == needs else f"Keras {needs}"


def python_untested(bc: compat.BuildConfig | None, python: str | None) -> bool:
    """A Python outside the release's tested range: its wheels do not exist, the install fails."""
    return bc is not None and python is not None and not bc.supports_python(python)


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text is not None else None
    except InvalidVersion:
        return None


#: How a consumer's TensorFlow stands to the one that exported the SavedModel it loads
LOAD_SAME, LOAD_NEWER, LOAD_OLDER, LOAD_OTHER_MAJOR = "same", "newer", "older-than-producer", "other-major"


def load_relation(producer: str | None, consumer: str) -> str:
    """TensorFlow's promise for SavedModels: they load in a later release of the same major version.

    ``same`` (the release, pre-releases and nightlies of it included), ``newer`` (inside the promise),
    ``older-than-producer`` (outside it: an op the exporter used may be unknown here), ``other-major``,
    or ``unknown`` (the producer's version is not known).
    """
    p, c = _version(producer), _version(consumer)
    if p is None or c is None:
        return UNKNOWN
    if p.major != c.major:
        return LOAD_OTHER_MAJOR
    pr, cr = (p.release + (0, 0))[:3], (c.release + (0, 0))[:3]  # "2.20" is the release "2.20.0"
    if pr == cr:
        return LOAD_SAME
    return LOAD_NEWER if cr > pr else LOAD_OLDER
