"""``--shard I/N``: deterministic, balanced, complete, and the same on every machine."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix import shard
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1/0", "a/b", "1", "1/2/3", " /2"])
def test_bad_shards_are_one_line(text):
    with pytest.raises(TfmatrixError, match=r"--shard: got .*expected I/N with 0 <= I < N"):
        shard.parse_shard(text)


def test_parse():
    assert shard.parse_shard("1/8") == shard.Shard(1, 8) and str(shard.Shard(1, 8)) == "1/8"


def every_combination():
    m = load_matrix(REPO / "matrix.yaml")
    return [c for p in m.profiles for c in combinations(m, p.id)] + combinations(m, "all")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 40])
def test_every_combination_lands_in_exactly_one_shard_and_loads_are_balanced(n):
    combos = list({c.id: c for c in every_combination()}.values())
    shards = shard.assign(combos, n)
    flat = [i for s in shards for i in s]
    assert sorted(flat) == sorted(c.id for c in combos)
    loads = [sum(shard.cost(c) for c in combos if c.id in s) for s in shards]
    assert max(loads) - min(loads) <= max(shard.cost(c) for c in combos)


def test_the_assignment_does_not_depend_on_input_order():
    combos = every_combination()
    shuffled = combos[:]
    random.Random(7).shuffle(shuffled)
    assert [sorted(s) for s in shard.assign(combos, 3)] == [sorted(s) for s in shard.assign(shuffled, 3)]


def test_two_machines_compute_the_same_shards():
    """Two fresh interpreters with different hash seeds (as two machines would be) agree."""
    code = ("import json,sys; from tfmatrix.matrix import shard; from tfmatrix.matrix.load import load_matrix; from tfmatrix.matrix.expand import combinations; "
            "m = load_matrix(sys.argv[1]); print(json.dumps(shard.assign(combinations(m, 'all'), 3)))")
    outs = []
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO / "src"))
        outs.append(json.loads(subprocess.run([sys.executable, "-c", code, str(REPO / "matrix.yaml")], env=env,
                                              capture_output=True, text=True, check=True).stdout))
    assert outs[0] == outs[1] and sum(map(len, outs[0])) == len(combinations(load_matrix(REPO / "matrix.yaml"), "all"))


@settings(max_examples=60, deadline=None)
@given(costs=st.lists(st.sampled_from([0.25, 1.0, 2.0, 3.0]), min_size=1, max_size=40), n=st.integers(1, 9))
def test_greedy_balance_holds_for_any_mix(costs, n):
    from types import SimpleNamespace

    combos = [SimpleNamespace(id=f"c{i:02d}", models=[0] * int(max(c, 1)), expect="x" if c == 0.25 else None)
              for i, c in enumerate(costs)]
    shards = shard.assign(combos, n)
    assert sorted(i for s in shards for i in s) == sorted(c.id for c in combos)
    loads = [sum(shard.cost(c) for c in combos if c.id in s) for s in shards]
    assert max(loads) - min(loads) <= max(shard.cost(c) for c in combos)
