"""A real outcome bisection, checked against an exhaustive reference (real nox, uv, TensorFlow, PyPI).

The question: the first TensorFlow release between 2.15.1 and 2.20.0 that imports with ``numpy>=2`` forced
(``--fixed --when class=numpy-abi``).  The reference runs every release of the interval once, in one plain
``nox -s bench`` over a matrix listing them all; the bisection must name the release where the reference's
outcomes change, within ⌈log2 n⌉ + 2 probes.  Nothing here knows the answer in advance.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from matrices import TINY_MATRIX, python_version
from packaging.version import Version

from tfmatrix.bisection import candidates as cands
from tfmatrix.records.store import load

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]
GOOD, BAD = "2.15.1", "2.20.0"


def nox(workdir: Path, matrix: Path, *args: str, profile: str = "default") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TFMATRIX_MATRIX=str(matrix), TFMATRIX_RESULTS=str(workdir / "results"),
               TFMATRIX_CACHE=str(workdir / "cache"), TFMATRIX_PROFILE=profile,
               TFMATRIX_REPORTS=str(workdir / "reports"))
    env.pop("TFMATRIX_RUN_ID", None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
                          capture_output=True, text=True, env=env, timeout=3600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bisect")
    (d / "tiny.yaml").write_text(TINY_MATRIX.format(python=python_version()))
    return d


@pytest.fixture(scope="module")
def releases() -> list[str]:
    """Every release from GOOD to BAD with wheels for this Python, as the index lists them."""
    found = cands.index_versions("tensorflow", python_version(), pre=False)
    return list(cands.between("tensorflow", found, GOOD, BAD).versions)


@pytest.fixture(scope="module")
def reference(workdir, releases) -> dict[str, str]:
    """Every release run once, import only, numpy>=2 forced: release -> its failure class ("" where it worked)."""
    doc = yaml.safe_load((workdir / "tiny.yaml").read_text())
    ids = [f"ref-{v}" for v in releases]
    doc["tensorflow"] += [{"id": i, "version": v, "force": ["numpy>=2"], "export_with": "tf2.15-numpy2",
                           "stacks": ["cpu"]} for i, v in zip(ids, releases)]
    doc["profiles"]["reference"] = {"tensorflow": ids, "stacks": ["cpu"]}
    matrix = workdir / "reference.yaml"
    matrix.write_text(yaml.safe_dump(doc))
    proc = nox(workdir, matrix, "-s", "bench", "--", "--import-only", profile="reference")
    run = next(p for p in (workdir / "results").iterdir() if p.is_dir())
    out: dict[str, str] = {}
    for v, i in zip(releases, ids):
        path = run / f"{i}-cpu.json"
        assert path.exists(), f"no reference record for {v}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        rec = load(path)
        assert rec.status.value in ("ok", "failed"), f"{v}: {rec.status} ({rec.failure})"
        out[v] = rec.failure.cls if rec.failure else ""
    return out


def test_the_bisection_finds_where_the_reference_stops_failing(workdir, releases, reference):
    failing = [v for v in releases if reference[v] == "numpy-abi"]
    working = [v for v in releases if reference[v] != "numpy-abi"]
    assert failing and working and max(map(Version, failing)) < min(map(Version, working)), (
        f"the reference is not one step, so no bisection can be checked against it: {reference}")
    proc = nox(workdir, workdir / "tiny.yaml", "-s", "bisect", "--", "--like", "tf2.15-numpy2-cpu", "--good", GOOD,
               "--bad", BAD, "--fixed", "--when", "class=numpy-abi", "--import-only")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    state = next((workdir / "results").glob("*/bisection/bisection.json"))
    answer = json.loads(state.read_text())
    (search,) = answer["searches"]
    assert search["candidates"] == releases
    assert search["first_new"] == working[0] and search["last_old"] == failing[-1]
    assert len(search["probes"]) <= math.ceil(math.log2(len(releases))) + 2
    for probe in search["probes"]:  # every probe agrees with the reference, and its record is kept
        assert (probe["verdict"] == "old") == (reference[probe["version"]] == "numpy-abi"), probe
        assert Path(probe["record"]).exists()
    assert f"first fixed: {working[0]}" in proc.stdout
    assert (workdir / "reports" / state.parent.parent.name / "bisect.html").exists()
