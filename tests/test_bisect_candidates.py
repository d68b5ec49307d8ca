"""The candidate list: what the index says (through a recorded pip answer), ordered by PEP 440."""

from __future__ import annotations

import pytest
from packaging.version import Version

from tfmatrix.bisection import candidates as cands
from tfmatrix.errors import TfmatrixError

# pip index versions tensorflow --pre --python-version 3.11 --only-binary=:all: (PyPI, 2026-12-03)
PIP_TENSORFLOW = """tensorflow (2.22.0rc0)
Available versions: 2.22.0rc0, 2.21.0, 2.21.0rc1, 2.21.0rc0, 2.20.0, 2.20.0rc0, 2.19.1, 2.19.0, 2.19.0rc0, 2.18.1, 2.18.0, 2.18.0rc2, 2.18.0rc1, 2.18.0rc0, 2.17.1, 2.17.0, 2.17.0rc1, 2.17.0rc0, 2.16.2, 2.16.1, 2.16.0rc0, 2.15.1, 2.15.0.post1, 2.15.0, 2.15.0rc1, 2.15.0rc0
"""
PIP_NIGHTLY = """tf-nightly (2.23.0.dev20261026)
Available versions: 2.23.0.dev20261026, 2.23.0.dev20261025, 2.22.0.dev20260905, 2.22.0.dev20260204, 2.21.0.dev20260203, 2.21.0.dev20260202
"""
PIP_GARDEN = "Available versions: 2.20.0, 2.19.1, 2.18.0, 2.17.0, 2.16.0, 2.15.0, 2.14.2, 2.1.0.dev2\n"


def recorded(text: str, status: int = 0, calls: list | None = None):
    def run(argv):
        if calls is not None:
            calls.append(list(argv))
        return status, text
    return run


def test_the_index_is_asked_through_pip_for_the_python_and_wheels_only():
    calls: list = []
    got = cands.index_versions("tensorflow", "3.11", pre=True, run=recorded(PIP_TENSORFLOW, calls=calls))
    argv = calls[0]
    assert argv[argv.index("index") + 1:argv.index("index") + 4] == ["versions", "tensorflow", "--python-version"]
    assert "3.11" in argv and "--only-binary=:all:" in argv and "--pre" in argv
    assert got == sorted(got) and got[0] == Version("2.15.0rc0") and got[-1] == Version("2.22.0rc0")


def test_an_index_without_the_package_is_one_line_naming_it():
    with pytest.raises(TfmatrixError, match="no tensorflow wheels for Python 3.14 .*No matching distribution"):
        cands.index_versions("tensorflow", "3.14", pre=False,
                             run=recorded("ERROR: No matching distribution found for tensorflow", 1))


def available(text: str = PIP_TENSORFLOW) -> list[Version]:
    return cands.index_versions("tensorflow", "3.11", pre=True, run=recorded(text))


def test_releases_only_by_default_ordered_oldest_first():
    got = cands.between("tensorflow", available(), "2.15.1", "2.20.0")
    assert got.versions == ("2.15.1", "2.16.1", "2.16.2", "2.17.0", "2.17.1", "2.18.0", "2.18.1", "2.19.0",
                            "2.19.1", "2.20.0")


def test_include_pre_adds_the_release_candidates_in_pep_440_order():
    got = cands.between("tensorflow", available(), "2.16.2", "2.18.0", include_pre=True).versions
    assert got == ("2.16.2", "2.17.0rc0", "2.17.0rc1", "2.17.0", "2.17.1", "2.18.0rc0", "2.18.0rc1", "2.18.0rc2",
                   "2.18.0")


def test_post_releases_sort_after_their_release():
    got = cands.between("tensorflow", available(), "2.15.0", "2.16.1").versions
    assert got == ("2.15.0", "2.15.0.post1", "2.15.1", "2.16.1")


def test_nightly_takes_the_dev_builds_between_in_date_order():
    pool = sorted(set(available()) | set(available(PIP_NIGHTLY)))
    got = cands.between("tf-nightly", pool, "2.21.0.dev20260202", "2.23.0.dev20261026", nightly=True).versions
    assert got == ("2.21.0.dev20260202", "2.21.0.dev20260203", "2.22.0.dev20260204", "2.22.0.dev20260905",
                   "2.23.0.dev20261025", "2.23.0.dev20261026")
    assert [cands.kind_of(Version(v)) for v in got] == ["nightly"] * len(got)


@pytest.mark.parametrize("good, bad, expected", [
    ("2.20.0", "2.15.1", "--good 2.20.0 is not older than --bad 2.15.1"),
    ("2.17.0", "2.17.0", "not older than"),
    ("2.15.7", "2.20.0", r"--good: got 2.15.7; expected a version of tensorflow on the index .*nearest: 2.15.0.post1, "
                         r"2.15.1, 2.16.0rc0, 2.16.1"),
    ("2.15.1", "latest", "--bad: got 'latest'; expected a tensorflow version"),
])
def test_bad_ends_are_one_line_errors(good, bad, expected):
    with pytest.raises(TfmatrixError, match=expected):
        cands.between("tensorflow", available(), good, bad)


def test_the_model_garden_companion_is_the_newest_of_the_same_minor():
    garden = cands.index_versions("tf-models-official", "3.11", pre=True, run=recorded(PIP_GARDEN))
    assert cands.companion("2.19.0", garden) == "2.19.1"
    assert cands.companion("2.17.1", garden) == "2.17.0"
    assert cands.companion("2.21.0", garden) is None  # no 2.21 Model Garden: load-only
    assert cands.companion("2.23.0.dev20261026", garden) is None  # a nightly: load-only
