"""The cross-version load grid: one export, loaded by several TensorFlow versions.

For every model whose SavedModel was exported once and loaded by other
combinations (``export_with``), a table of producer (row) x consumer (column):
how the consumer ended, its TensorFlow against the producer's (a load by an
*older* TensorFlow is outside TensorFlow's compatibility promise and is marked,
never compared as an equal), its cold-load median, its batch-1 latency p50 as a
ratio to the producer's own combination, and the drift of its detections against
the producer's own on the same inputs and weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..records.model import CombinationRecord, Producer
from ..records.quantity import RATIO, SECONDS, Quantity
from ..records.status import PhaseStatus
from . import drift as drift_mod
from .details import css_of

RELATION_TEXT = {"same": "same release", "newer": "newer: inside TensorFlow's promise",
                 "older-than-producer": "older than the producer: outside TensorFlow's promise",
                 "other-major": "another major version", "unknown": "producer's version unknown"}


@dataclass(frozen=True)
class LoadCell:
    consumer: str  # combination id
    tensorflow: str
    outcome: str
    css: str
    relation: str
    relation_text: str
    load: str  # cold-load median, formatted
    latency_ratio: str  # p50 against the producer's own ("×1.00"), or "–"
    drift: str  # identical, differs (within tolerance), drift, or "not comparable: why"
    flagged: bool  # drift beyond tolerance, or an older-than-producer load


@dataclass(frozen=True)
class LoadRow:
    producer: str  # the label: "exported by TF 2.15.1 (tf2.15-cpu)"
    producer_combination: str | None
    cells: tuple[LoadCell | None, ...]  # None: that consumer did not load this producer's export


@dataclass(frozen=True)
class LoadGrid:
    model: str
    consumers: tuple[str, ...]
    rows: tuple[LoadRow, ...]


def _median(rec: CombinationRecord, kind: str, model: str, stat: str = "median") -> float | None:
    phase = rec.phase(kind, model, 1 if kind == "latency" else None)
    if phase is None or phase.status != PhaseStatus.OK or not phase.summary:
        return None
    return phase.summary.get(stat, phase.summary.get("median"))


def _drift(own: CombinationRecord | None, rec: CombinationRecord, model: str) -> tuple[str, bool]:
    if own is None:
        return "not comparable: the producer's own combination is not in this run", False
    if own.id == rec.id:
        return "the producer itself", False
    d = drift_mod.compare(own, rec, model)
    if not d.comparable:
        return f"not comparable: {d.note}", False
    if d.flagged:
        return (f"drift: max box Δ {d.max_box_delta:.3g} px, max score Δ {d.max_score_delta:.3g}, "
                f"{d.unmatched} unmatched"), True
    return ("identical" if d.note == "identical" else "differs within tolerance"), False


def cell(rec: CombinationRecord, made: Producer, own: CombinationRecord | None) -> LoadCell:
    load = _median(rec, "load", made.model)
    p50 = _median(rec, "latency", made.model, "p50")
    base = _median(own, "latency", made.model, "p50") if own is not None else None
    ratio = Quantity(p50 / base if p50 and base else None, RATIO).text
    text, drifted = _drift(own, rec, made.model)
    return LoadCell(consumer=rec.id, tensorflow=rec.combination.tensorflow, outcome=str(rec.outcome),
                    css=css_of(str(rec.outcome)), relation=made.relation,
                    relation_text=RELATION_TEXT.get(made.relation, made.relation),
                    load=Quantity(load, SECONDS).text, latency_ratio=ratio, drift=text,
                    flagged=drifted or made.relation == "older-than-producer")


def build_loads(records: Mapping[str, CombinationRecord]) -> list[LoadGrid]:
    """One grid per model that some combination loaded from another's export."""
    loads: dict[str, dict[str, list[tuple[CombinationRecord, Producer]]]] = {}
    for rec in records.values():
        for made in rec.producers:
            if made.source in ("own", "shared") and made.combination:
                loads.setdefault(made.model, {}).setdefault(made.combination, []).append((rec, made))
    grids = []
    for model, by_producer in sorted(loads.items()):
        if not any(made.source == "shared" for pairs in by_producer.values() for _, made in pairs):
            continue  # every combination exported its own: nothing crossed versions
        consumers = tuple(sorted({rec.id for pairs in by_producer.values() for rec, _ in pairs},
                                 key=lambda cid: _tf_key(records[cid])))
        rows = []
        for producer_id, pairs in sorted(by_producer.items()):
            own = records.get(producer_id)
            by_consumer: dict[str, LoadCell | None] = {rec.id: cell(rec, made, own) for rec, made in pairs}
            label = next(made.label for _, made in pairs)
            rows.append(LoadRow(label, producer_id, tuple(by_consumer.get(c) for c in consumers)))
        grids.append(LoadGrid(model, consumers, tuple(rows)))
    return grids


def _tf_key(rec: CombinationRecord) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return (Version(rec.combination.tensorflow), rec.id)
    except InvalidVersion:
        return (Version("0"), rec.id)
