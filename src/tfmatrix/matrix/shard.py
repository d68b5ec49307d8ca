"""``--shard I/N``: a deterministic, balanced slice of a profile's combinations.

Every machine that reads the same matrix file computes the same assignment, so a
Slurm job array, a Kubernetes Indexed Job or a CI job matrix covers the whole
matrix with no coordinator: shard I (0 <= I < N) runs what :func:`assign` gives it.

Balance is by estimated cost, greedy longest-first (each combination, heaviest
first, goes to the least loaded shard; ties go to the lower shard number).  The
cost is the number of models (each is exported, loaded and timed), and a
known-bad combination, which stops at its first failure, counts a quarter.
Order is by cost, then id, never by anything a machine could see differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..errors import TfmatrixError
from .model import Combination


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    m = re.fullmatch(r"([0-9]{1,4})/([0-9]{1,4})", text.strip())
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise TfmatrixError(f"--shard: got {text!r}; expected I/N with 0 <= I < N, such as 0/2 and 1/2 "
                            "(a Slurm array index or a Kubernetes completion index)")
    return Shard(int(m.group(1)), int(m.group(2)))


def cost(combo: Combination) -> float:
    return len(combo.models) * (0.25 if combo.expect else 1.0)


def assign(combos: Iterable[Combination], count: int) -> list[list[str]]:
    """Combination ids per shard (each list in the matrix's order)."""
    combos = list(combos)
    order = {c.id: i for i, c in enumerate(combos)}
    loads = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for combo in sorted(combos, key=lambda c: (-cost(c), c.id)):
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += cost(combo)
        shards[target].append(combo.id)
    return [sorted(ids, key=order.__getitem__) for ids in shards]


def members(combos: Iterable[Combination], shard: Shard) -> list[str]:
    return assign(combos, shard.count)[shard.index]
