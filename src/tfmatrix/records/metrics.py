"""The metric catalogue: what each phase measured, under one name, unit and direction for every reader.

Summary, report, compare, change points and publish all read measurements
through :func:`measured`, so ``throughput[b4]`` is the same thing (images per
second, higher is better) wherever it appears, and ``--metric-threshold``
takes these names.

Samples of a ``cached`` phase (an export reused from the cache) are the
original export's: they are shown (marked ``*``), never judged.  A metric
``derived`` from another's samples (throughput at batch 1 is the latency's
samples as images per second) is shown, and judged only through the metric it
comes from, so one slowdown is never counted twice.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import TfmatrixError
from .model import PhaseRecord
from .quantity import BYTES, IMAGES_PER_SECOND, SECONDS
from .status import PhaseStatus

LOWER, HIGHER = "lower", "higher"


@dataclass(frozen=True)
class Metric:
    key: str  # stable id: "load", "throughput[b4]"
    label: str  # display name
    unit: str  # seconds, images/s, bytes: shown through records.quantity.Quantity
    better: str  # lower or higher
    repeated: bool  # measured several times by design (single-shot ones are not judged for spread)
    repeats_key: str = ""  # the matrix.yaml key that raises the sample count
    derived: bool = False  # computed from another metric's samples: shown, not judged on its own

    def __hash__(self) -> int:  # metrics key every series: the key alone, not a tuple of seven fields each time
        return hash(self.key)

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # from a worker process: the catalogue's own (every metric is)
        return by_key, (self.key,)

    @property
    def family(self) -> str:
        """The name without the batch: ``throughput[b4]`` -> ``throughput`` (a --metric-threshold may name either)."""
        return self.key.split("[", 1)[0]

    @property
    def shown(self) -> str:
        """The name in a table of changes, saying so when higher is better (there a ratio below 1 is worse)."""
        return self.key + (" (higher is better)" if self.better == HIGHER else "")

    @property
    def more_samples(self) -> str:
        """How to collect more samples of it: the matrix.yaml key, or for a case of ``nox -s scale``, its option."""
        if self.repeats_key:
            return f"Raise {self.repeats_key} in matrix.yaml to collect more samples."
        if self.family == REPORTING:
            return "Take more samples of each case: `nox -s scale -- --samples N`."
        return "Collect more samples of it."

    def worse(self, ratio: float) -> bool:
        """Is candidate/base = ``ratio`` a change for the worse?"""
        return ratio > 1 if self.better == LOWER else ratio < 1


IMPORT = Metric("import", "import", SECONDS, LOWER, True, "workload.import_repeats")
EXPORT = Metric("export", "export", SECONDS, LOWER, False)
LOAD = Metric("load", "cold load", SECONDS, LOWER, True, "workload.load_repeats")
FIRST_INFERENCE = Metric("first-inference", "first inference", SECONDS, LOWER, False)
LATENCY = Metric("latency", "latency b1", SECONDS, LOWER, True, "workload.latency.min_queries")
PEAK_RSS = Metric("peak-rss", "peak host RSS", BYTES, LOWER, False)
GPU_MEMORY = Metric("gpu-memory", "peak GPU memory", BYTES, LOWER, False)
COLD_START_PHASES = ("import", "load", "first-inference")  # sampled once per cold start (a fresh process)
SINGLE = (IMPORT, EXPORT, LOAD, FIRST_INFERENCE, LATENCY, PEAK_RSS, GPU_MEMORY)
#: the phase of one case of tfmatrix's own reporting benchmarks (``nox -s scale``, benchmarks/bench_reporting.py)
REPORTING = "reporting"
FAMILIES = tuple(m.key for m in SINGLE) + ("throughput", REPORTING)
_THROUGHPUT_RE = re.compile(r"^throughput\[b([1-9][0-9]*)\]$")
#: a reporting case by its asv-style method: ``time_*`` is timed in seconds, ``peakmem_*`` in bytes (asv's prefixes)
_REPORTING_RE = re.compile(r"^reporting\[((time|peakmem)_[A-Za-z0-9_]+)\]$")
_REPORTING_UNITS = {"time": SECONDS, "peakmem": BYTES}


@functools.lru_cache(maxsize=None)
def throughput(batch: int) -> Metric:
    return Metric(f"throughput[b{batch}]", f"throughput b{batch}", IMAGES_PER_SECOND, HIGHER, True,
                  "workload.latency.min_queries" if batch == 1 else "workload.throughput.min_queries",
                  derived=batch == 1)


@functools.lru_cache(maxsize=None)
def reporting(method: str) -> Metric:
    """One case of the reporting benchmarks, by its method (``time_report``): ``reporting[time_report]``, lower is
    better; KeyError for a method that is neither ``time_*`` nor ``peakmem_*``."""
    found = _REPORTING_RE.match(f"{REPORTING}[{method}]")
    if not found:
        raise KeyError(method)
    return Metric(f"{REPORTING}[{method}]", method.replace("_", " "), _REPORTING_UNITS[found.group(2)], LOWER, True)


_SINGLE_BY_KEY = {m.key: m for m in SINGLE}


def by_key(key: str) -> Metric:
    """The metric of this name (``load``, ``throughput[b4]``)."""
    if key in _SINGLE_BY_KEY:
        return _SINGLE_BY_KEY[key]
    found = _THROUGHPUT_RE.match(key)
    if found:
        return throughput(int(found.group(1)))
    found = _REPORTING_RE.match(key)
    if found:
        return reporting(found.group(1))
    raise KeyError(key)


def check_name(name: str, origin: str) -> str:
    """A metric key or family a user typed (``--metric-threshold``); a one-line error otherwise."""
    if name in FAMILIES or _THROUGHPUT_RE.match(name) or _REPORTING_RE.match(name):
        return name
    raise TfmatrixError(f"{origin}: got metric {name!r}; expected one of {', '.join(FAMILIES)}, "
                        "throughput[bN] for one batch size or reporting[time_CASE] for one scale case")


def measured(phase: PhaseRecord, *, judged: bool = False) -> list[tuple[Metric, list[float]]]:
    """The metrics one phase gives, with their samples in the metric's unit.

    ``judged=True`` keeps what a comparison may judge: measured by this phase itself
    (not ``cached``), and not derived from another metric's samples.
    """
    status = phase.status
    if not phase.samples or not (status == PhaseStatus.OK or (status == PhaseStatus.CACHED and not judged)):
        return []
    samples = [float(x) for x in phase.samples]
    kind, batch = phase.phase, phase.batch
    out: list[tuple[Metric, list[float]]] = []
    if kind in ("import", "export", "load", "first-inference"):
        out = [(by_key(kind), samples)]
    elif kind == "peakmem":
        out = [(PEAK_RSS, samples)]
        if phase.gpu_peak_memory_bytes:  # TensorFlow's get_memory_info, per GPU
            out.append((GPU_MEMORY, [float(max(phase.gpu_peak_memory_bytes.values()))]))
    elif kind in ("latency", "throughput") and batch:
        out = [(LATENCY, samples)] if batch == 1 else []
        if not (judged and batch == 1):  # throughput b1 is derived from the latency (judged through it)
            out.append((throughput(batch), [batch / s for s in samples if s > 0]))
    elif kind == REPORTING:  # benchmark "ReportScale.time_report": the case is its method
        try:
            out = [(reporting(phase.benchmark.rsplit(".", 1)[-1]), samples)]
        except KeyError:  # a kind of case this catalogue cannot name (a track_*): shown, never measured
            out = []
    return [(m, xs) for m, xs in out if xs and not (judged and m.derived)]


def all_measured(phases: Iterable[PhaseRecord], *, judged: bool = False) -> list[tuple[PhaseRecord, Metric, list[float]]]:
    return [(p, m, xs) for p in phases for m, xs in measured(p, judged=judged)]


def threshold_for(metric: Metric, thresholds: dict[str, float], default: float) -> float:
    """A per-metric threshold by key, then by family, else the default."""
    return thresholds.get(metric.key, thresholds.get(metric.family, default))

