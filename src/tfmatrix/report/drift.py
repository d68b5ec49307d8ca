"""Numerical drift: one combination's detections against the baseline's, on the same inputs.

Each combination records the top detections of its first inference on the
synthetic images (``detections``), the hash of those images and a name-free
hash of the model's weights.  Two combinations are comparable when both
hashes match; their detections are then matched per image, class by class,
greedily by IoU, and the report shows the largest box and score differences
and how many baseline detections found no match of the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..records.model import CombinationRecord
from ..records.status import PhaseStatus

#: Above these a difference is flagged (pixels, score units).
BOX_TOLERANCE = 0.5
SCORE_TOLERANCE = 1e-3
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Drift:
    combination: str
    model: str
    comparable: bool
    note: str  # why not comparable, or "identical"
    max_box_delta: float | None = None
    max_score_delta: float | None = None
    unmatched: int = 0  # baseline detections with no same-class match in the candidate
    compared: int = 0

    @property
    def flagged(self) -> bool:
        return self.comparable and (
            self.unmatched > 0 or (self.max_box_delta or 0) > BOX_TOLERANCE
            or (self.max_score_delta or 0) > SCORE_TOLERANCE)


def first_inference(record: CombinationRecord, model: str) -> dict[str, Any] | None:
    """What the first inference of ``model`` recorded beside its time: inputs and weights hashes, detections."""
    for p in record.phases:
        if p.phase == "first-inference" and p.model == model and p.status == PhaseStatus.OK:
            extra = p.extra or {}
            if extra.get("detections") or extra.get("drift_skipped"):
                return extra
    return None


def iou(a: list[float], b: list[float]) -> float:
    ymin, xmin = max(a[0], b[0]), max(a[1], b[1])
    ymax, xmax = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ymax - ymin) * max(0.0, xmax - xmin)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_image(base: Mapping[str, Any], cand: Mapping[str, Any]) -> tuple[float, float, int, int]:
    """(max box delta, max score delta, unmatched, compared) for one image's top detections."""
    free = list(range(len(cand["boxes"])))
    box_d = score_d = 0.0
    unmatched = 0
    for box, score, cls in zip(base["boxes"], base["scores"], base["classes"]):
        best, best_iou = None, MATCH_IOU
        for j in free:
            if cand["classes"][j] == cls:
                v = iou(box, cand["boxes"][j])
                if v >= best_iou:
                    best, best_iou = j, v
        if best is None:
            unmatched += 1
            continue
        free.remove(best)
        box_d = max(box_d, max(abs(x - y) for x, y in zip(box, cand["boxes"][best])))
        score_d = max(score_d, abs(score - cand["scores"][best]))
    return box_d, score_d, unmatched, len(base["boxes"])


def compare(base: CombinationRecord, cand: CombinationRecord, model: str) -> Drift:
    """The candidate record's drift from the baseline record for one model."""
    cid = cand.id
    b, c = first_inference(base, model), first_inference(cand, model)
    if b is None or c is None:
        return Drift(cid, model, False, "no detections recorded (the first inference did not run)")
    skipped = c.get("drift_skipped") or b.get("drift_skipped")
    if skipped:  # a SavedModel whose signature returns no boxes/scores/classes (raw logits, say)
        return Drift(cid, model, False, skipped)
    if b.get("inputs_sha256") != c.get("inputs_sha256"):
        return Drift(cid, model, False, "different input images")
    if not b.get("weights_sha256") or not c.get("weights_sha256"):
        return Drift(cid, model, False, "weights hash not recorded (an older record)")
    if b["weights_sha256"] != c["weights_sha256"]:
        return Drift(cid, model, False, "different weights: the seeded initialisation differs between these builds")
    if b["detections"]["sha256"] == c["detections"]["sha256"]:
        return Drift(cid, model, True, "identical", 0.0, 0.0, 0, sum(len(i["boxes"]) for i in b["detections"]["images"]))
    box_d = score_d = 0.0
    unmatched = compared = 0
    for bi, ci in zip(b["detections"]["images"], c["detections"]["images"]):
        bd, sd, un, n = match_image(bi, ci)
        box_d, score_d, unmatched, compared = max(box_d, bd), max(score_d, sd), unmatched + un, compared + n
    return Drift(cid, model, True, "differs", box_d, score_d, unmatched, compared)
