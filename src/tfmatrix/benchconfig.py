"""The configuration the ``benchmarks/`` suite reads (standard library only).

The manager writes one JSON file per combination and points
``TFMATRIX_BENCH_CONFIG`` at it before starting a worker, so the asv-style
``params`` of the suite are the matrix's models and batch sizes.  Without the
variable (plain ``asv`` use) the suite has no parameters and nothing runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

ENV = "TFMATRIX_BENCH_CONFIG"


@dataclass(frozen=True)
class BenchModel:
    id: str
    experiment: str
    input_size: tuple[int, int]
    overrides: dict[str, Any]
    export_dir: str


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[BenchModel, ...] = ()
    seed: int = 0
    images: int = 8
    batch_sizes: tuple[int, ...] = (1,)
    warmup: int = 1
    latency_min_queries: int = 10
    latency_min_seconds: float = 1.0
    throughput_min_queries: int = 3
    throughput_min_seconds: float = 1.0
    load_repeats: int = 3
    import_repeats: int = 3
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_ids(self) -> list[str]:
        return [m.id for m in self.models]

    def model(self, model_id: str) -> BenchModel:
        for m in self.models:
            if m.id == model_id:
                return m
        raise KeyError(f"model {model_id!r} is not in this combination's configuration")


def from_json(data: dict[str, Any]) -> BenchConfig:
    wl = data.get("workload", {})
    return BenchConfig(
        models=tuple(BenchModel(id=m["id"], experiment=m["experiment"], input_size=tuple(m["input_size"]),
                                overrides=m.get("overrides", {}), export_dir=m["export_dir"])
                     for m in data.get("models", [])),
        seed=int(wl.get("seed", 0)), images=int(wl.get("images", 8)),
        batch_sizes=tuple(wl.get("batch_sizes", [1])), warmup=int(wl.get("warmup", 1)),
        latency_min_queries=int(wl.get("latency_min_queries", 10)),
        latency_min_seconds=float(wl.get("latency_min_seconds", 1.0)),
        throughput_min_queries=int(wl.get("throughput_min_queries", 3)),
        throughput_min_seconds=float(wl.get("throughput_min_seconds", 1.0)),
        load_repeats=int(wl.get("load_repeats", 3)), import_repeats=int(wl.get("import_repeats", 3)),
        extra=data.get("extra", {}),
    )


def load() -> BenchConfig:
    path = os.environ.get(ENV)
    if not path:
        return BenchConfig()
    with open(path, encoding="utf-8") as f:
        return from_json(json.load(f))
