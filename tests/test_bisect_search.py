"""The search over ordered candidates, with a fake prober over scripted verdicts (no nox, no TensorFlow)."""

from __future__ import annotations

import math
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfmatrix.bisection.search import Ending, Probe, Verdict, bisect

VERSIONS = [f"2.{m}.{p}" for m in range(15, 21) for p in (0, 1)]  # 12 ordered candidates


def scripted(verdicts: dict[str, Verdict], calls: list[str] | None = None) -> Callable[[str], Probe]:
    """A fake prober: each version's verdict as the script says, every call remembered."""
    def probe(version: str) -> Probe:
        if calls is not None:
            calls.append(version)
        return Probe(version, verdicts[version], f"scripted {verdicts[version]}")
    return probe


def monotone(first_new: int, n: int = len(VERSIONS)) -> dict[str, Verdict]:
    return {v: Verdict.NEW if i >= first_new else Verdict.OLD for i, v in enumerate(VERSIONS[:n])}


@pytest.mark.parametrize("first_new", range(1, len(VERSIONS)))
def test_a_monotone_script_finds_the_first_new_version_within_the_bound(first_new):
    out = bisect(VERSIONS, scripted(monotone(first_new)))
    assert out.ending is Ending.FOUND
    assert out.first_new.version == VERSIONS[first_new]
    assert out.last_old.version == VERSIONS[first_new - 1]
    assert out.probed <= math.ceil(math.log2(len(VERSIONS))) + 2 == out.bound


@given(n=st.integers(2, 200), data=st.data())
@settings(max_examples=200, deadline=None)
def test_every_monotone_list_is_solved_within_log2_n_plus_2_probes(n, data):
    versions = [f"1.0.{i}" for i in range(n)]
    cut = data.draw(st.integers(1, n - 1))
    calls: list[str] = []
    out = bisect(versions, scripted({v: Verdict.NEW if i >= cut else Verdict.OLD for i, v in enumerate(versions)},
                                    calls))
    assert out.first_new.version == versions[cut] and out.last_old.version == versions[cut - 1]
    assert len(calls) == len(set(calls)) == out.probed <= math.ceil(math.log2(n)) + 2


def test_an_install_failure_in_the_middle_is_skipped_and_its_neighbours_are_probed():
    script = monotone(7)
    calls: list[str] = []
    middle = VERSIONS[5]  # the first version the search picks: the nearest to the middle of 0..11
    script[middle] = Verdict.SKIP
    out = bisect(VERSIONS, scripted(script, calls))
    assert calls[2] == middle and calls[3] == VERSIONS[6]  # then its nearest neighbour
    assert out.ending is Ending.FOUND and out.first_new.version == VERSIONS[7]
    assert out.probe_of(middle).verdict is Verdict.SKIP


def test_only_skipped_versions_left_between_the_two_is_ambiguous_never_a_guess():
    script = monotone(7)
    script[VERSIONS[6]] = Verdict.SKIP  # the version just before the change cannot be probed
    out = bisect(VERSIONS, scripted(script))
    assert out.ending is Ending.AMBIGUOUS
    assert out.first_new.version == VERSIONS[7] and out.last_old.version == VERSIONS[5]
    assert [p.version for p in out.unresolved] == [VERSIONS[6]]


def test_noisy_undecided_probes_are_set_aside_like_skips():
    script = monotone(4)
    for v in VERSIONS[2:4]:
        script[v] = Verdict.UNDECIDED
    out = bisect(VERSIONS, scripted(script))
    assert out.ending is Ending.AMBIGUOUS
    assert out.first_new.version == VERSIONS[4] and out.last_old.version == VERSIONS[1]
    assert {p.version for p in out.unresolved} == set(VERSIONS[2:4])


def test_a_good_end_that_is_bad_stops_with_that_verdict_after_one_probe():
    calls: list[str] = []
    out = bisect(VERSIONS, scripted({v: Verdict.NEW for v in VERSIONS}, calls))
    assert out.ending is Ending.OLD_END_NOT_OLD and out.last_old.version == VERSIONS[0]
    assert calls == [VERSIONS[0]] and out.first_new is None


@pytest.mark.parametrize("end", [Verdict.OLD, Verdict.SKIP, Verdict.UNDECIDED])
def test_a_bad_end_that_is_not_bad_stops_with_that_verdict(end):
    script = monotone(len(VERSIONS))  # nothing new
    script[VERSIONS[-1]] = end
    out = bisect(VERSIONS, scripted(script))
    assert out.ending is Ending.NEW_END_NOT_NEW and out.first_new.version == VERSIONS[-1]
    assert out.probed == 2


def test_two_candidates_need_only_their_ends():
    out = bisect(VERSIONS[:2], scripted(monotone(1, 2)))
    assert out.ending is Ending.FOUND and out.probed == 2 <= out.bound


def test_after_is_told_after_every_probe():
    seen: list[int] = []
    out = bisect(VERSIONS, scripted(monotone(3)), after=lambda b: seen.append(b.probed))
    assert seen == list(range(1, out.probed + 1))


def test_each_probes_line_gives_the_interval_its_verdict_left():
    lines: list[str] = []
    bisect(VERSIONS, scripted(monotone(3)), log=lines.append)
    assert lines[0].endswith(f"[1 probes; 10 untried between {VERSIONS[0]} and {VERSIONS[-1]}]")
    assert lines[2].startswith(f"{VERSIONS[5]}: new") and lines[2].endswith(
        f"[3 probes; 4 untried between {VERSIONS[0]} and {VERSIONS[5]}]")  # not the interval before it
