"""Every command of the README's quick start and "Everyday use" blocks, run in its smoke form (issue 27, item 9).

The commands are parsed from README.md (:mod:`readme_commands`), so a line added there is run here, or
fails :func:`test_every_readme_command_has_a_smoke_rule` until it has a rule.  Each runs as argv, in a
subprocess, on a tiny fixture: the real recorded runs of ``tests/data/runs`` (one under the README's
example run id), a copy of ``matrix.yaml`` as ``my-matrix.yaml``, two machines' results for ``merge``, and
a project copy with a venv and an export unused for 60 days for ``clean``.  Each must end with its rule's
exit status and print no traceback.  Commands whose session makes a venv and installs from PyPI (report,
compare, publish, merge, scale, bisect, fix, tests) are ``integration`` and ``network``; the others (nox -l,
bench --dry-run, summary, clean, validate) take seconds and run in the offline subset.  The list of what
ran is printed and written to ``readme-commands.txt`` in pytest's base temporary folder.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from packaging.requirements import Requirement
from readme_commands import ROOT, Command, NoRule, blocks, commands, readme_commands, shown, smoke
from real_runs import QUIET_A, QUIET_B, WITH_WEIGHTS, copy_run, real_records

from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.run.execution.host import visible_gpus
from tfmatrix.run.noxside.dryrun import requested
from tfmatrix.run.provisioning.cache import LAST_USED

COMMANDS = readme_commands()
EXAMPLE_RUN = "20261129T094613Z-04d2f6"  # the run id the README's examples name
OLD = time.time() - 60 * 86400
CLEARED = ("TFMATRIX_RUN_ID", "TFMATRIX_ASSUME_GPU", "TFMATRIX_MATRIX", "TFMATRIX_PROFILE")


def fixture_paths(d: Path) -> dict[str, str]:
    """The README's example paths, made real under ``d``; and the folders every command gets."""
    results = d / "results"
    copy_run(WITH_WEIGHTS, results, new_id=EXAMPLE_RUN)
    copy_run(QUIET_A, results)
    copy_run(QUIET_B, results)  # the two latest: quiet, so compare finds no regression
    shutil.copy(ROOT / "matrix.yaml", d / "my-matrix.yaml")
    ids = sorted(real_records(QUIET_A))
    for i, machine in enumerate(("machine-a", "machine-b")):  # two shards of one run, on two machines
        copy_run(QUIET_A, d / machine / "results", change=functools.partial(only, set(ids[i::2])))
    project = d / "project"
    project.mkdir()
    shutil.copy(ROOT / "noxfile.py", project)
    shutil.copy(ROOT / "matrix.yaml", project)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for old in (project / ".nox" / "bench-old", d / "cache" / "exports" / "old" / "m"):
        old.mkdir(parents=True)
        (old / "saved_model.pb").write_bytes(b"x" * 1000)
        (old / LAST_USED).touch()
        os.utime(old / LAST_USED, (OLD, OLD))
    return {"my-matrix.yaml": str(d / "my-matrix.yaml"), "machine-a/results": str(d / "machine-a" / "results"),
            "machine-b/results": str(d / "machine-b" / "results"), "project": str(project),
            "results": str(results), "reports": str(d / "reports"), "cache": str(d / "cache")}


def only(ids: set[str], doc: dict[str, Any]) -> dict[str, Any] | None:
    return doc if doc["combination"]["id"] in ids else None


def env_for(paths: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(TFMATRIX_RESULTS=paths["results"], TFMATRIX_REPORTS=paths["reports"], TFMATRIX_CACHE=paths["cache"])
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Iterator[list[str]]:
    """What each test ran; printed, and written to readme-commands.txt, at the end."""
    lines: list[str] = []
    yield lines
    if lines:
        out = tmp_path_factory.getbasetemp() / "readme-commands.txt"
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"\nREADME commands run ({len(lines)}; also in {out}):\n" + "\n".join(lines))


def test_the_parser_reads_and_splits_a_line_as_a_shell_would():
    text = "## Quick start\n\n```sh\na && B=1 c 'x y' # note\n```\n\n## Everyday use\n\n```sh\nd -- --o [--dry-run]\n```\n"
    assert blocks(text) == ["a && B=1 c 'x y' # note", "d -- --o [--dry-run]"]
    (a, c), (d1, d2) = (commands(line) for line in blocks(text))
    assert a.argv == ("a",) and (c.env, c.argv) == ((("B", "1"),), ("c", "x y"))
    assert d1.argv == ("d", "--", "--o", "--dry-run") and d2.argv == ("d", "--", "--o")


def test_the_noxfile_sees_a_dry_run_only_after_the_double_dash():
    assert requested(["nox", "-s", "bench", "--", "--quick", "--dry-run"])
    assert not requested(["nox", "-s", "bench", "--", "--quick"]) and not requested(["nox", "--dry-run"])


def test_every_readme_command_has_a_smoke_rule(tmp_path, ran):
    """The whole of both blocks: a README command without a rule fails here, naming it."""
    paths = fixture_paths(tmp_path)
    missing, table = [], []
    for cmd in COMMANDS:
        try:
            form = smoke(cmd, paths)
        except NoRule as exc:
            missing.append(str(exc))
            continue
        table.append(f"{cmd}\n    -> {shown(form.env, form.argv)}  [{form.how}; exit {form.status}]")
    print("\n".join(["", *table]))
    assert not missing, "README commands with no smoke rule (add one to tests/readme_commands.py):\n" + "\n".join(
        missing)
    lines = blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(lines) >= 20 and all(commands(line) for line in lines)  # both blocks; each line, a command
    assert any(c.argv[:3] == ("nox", "-s", "scale") for c in COMMANDS)  # the broken command is in


def marks(cmd: Command) -> list[pytest.MarkDecorator]:
    try:
        form = smoke(cmd, {"project": str(ROOT)})
    except NoRule:
        return [pytest.mark.skip(reason="no smoke rule (test_every_readme_command_has_a_smoke_rule fails)")]
    out = [pytest.mark.integration, pytest.mark.network] if form.venv else []
    return out + ([pytest.mark.network] if form.network else [])


@pytest.mark.parametrize("cmd", [pytest.param(c, id=str(c), marks=marks(c)) for c in COMMANDS])
def test_readme_command_runs(cmd: Command, tmp_path, ran):
    paths = fixture_paths(tmp_path)
    form = smoke(cmd, paths)
    before = sorted(os.listdir(paths["results"]))
    nox_venvs = sorted(p.name for p in (ROOT / ".nox").glob("bench-*"))
    start = time.monotonic()
    proc = subprocess.run(list(form.argv), cwd=form.cwd, env=env_for(paths, form.env), capture_output=True,
                          text=True, timeout=1800 if form.venv else 300)
    took = time.monotonic() - start
    out = proc.stdout + proc.stderr
    ran.append(f"{cmd}\n    ran: {shown(form.env, form.argv)}\n    exit {proc.returncode} in {took:.1f} s ({form.how})")
    assert proc.returncode == form.status, out[-6000:]
    assert "Traceback" not in out, out[-6000:]
    if form.status == 2:  # a user error on this host (its rule says which): one line, nothing run
        assert "tfmatrix: error: " in out and "Running session" not in out, out[-3000:]
    else:
        check_effects(cmd, form.argv, out, paths, before, nox_venvs)


def check_effects(cmd: Command, argv: tuple[str, ...], out: str, paths: dict[str, str], before: list[str],
                  nox_venvs: list[str]) -> None:
    """What each kind of command must have done (or not done), beyond its status."""
    results = Path(paths["results"])
    if cmd.argv[:4] == ("python3", "-m", "pip", "install"):
        for req in map(Requirement, cmd.argv[4:]):  # the names are real distributions, installed where nox runs
            dist = importlib.metadata.distribution(req.name)
            assert req.extras <= set(dist.metadata.get_all("Provides-Extra") or []), (req, dist.metadata)
    if "--dry-run" in argv and "--dry-run" not in cmd.argv:  # bench's dry run, added by the smoke rule
        assert "tfmatrix: dry run of bench(" in out, out[-3000:]
        assert sorted(os.listdir(results)) == before  # no run folder, no record
        assert sorted(p.name for p in (ROOT / ".nox").glob("bench-*")) == nox_venvs  # no venv
    if cmd.argv == ("nox", "-s", "bench") and not cmd.env:  # every combination of the default profile, said
        said = re.findall(r"^tfmatrix: dry run of bench\((\S+)\)", out, re.MULTILINE)
        assert sorted(said) == sorted(c.id for c in combinations(load_matrix(ROOT / "matrix.yaml"), "default"))
        if not visible_gpus():
            assert "here:        skipped: no NVIDIA GPU visible" in out, out[-3000:]
    if "--shard" in cmd.argv:
        assert "shard:       0/2: in it" in out and "shard:       0/2: not in it" in out, out[-3000:]
    if "--resume" in cmd.argv:
        assert f"resumes run {QUIET_B}: already recorded" in out, out[-3000:]
    if cmd.argv[:3] == ("nox", "-s", "summary"):
        assert f"tfmatrix run {cmd.argv[4] if len(cmd.argv) > 4 else QUIET_B}" in out, out[-3000:]
    if cmd.argv[:3] == ("nox", "-s", "report"):
        assert (Path(paths["reports"]) / "index.html").exists(), out[-3000:]
    if cmd.argv[:3] == ("nox", "-s", "merge"):
        (merged,) = set(os.listdir(results)) - set(before)
        info = json.loads((results / merged / "run.json").read_text())
        assert len(info["merge"]["sources"]) == 2, info
    if cmd.argv[:3] == ("nox", "-s", "predict"):
        check_predictions(results, before, out)
    if cmd.argv[:3] == ("nox", "-s", "clean"):
        old = Path(paths["project"]) / ".nox" / "bench-old"
        assert "bench-old" in out, out[-3000:]
        assert old.exists() == ("--older-than" not in cmd.argv or "--dry-run" in cmd.argv), out[-3000:]


def check_predictions(results: Path, before: list[str], out: str) -> None:
    """The default matrix on native Windows: every Model Garden combination stops at tensorflow-text, with its
    line; the load-only TF 2.21 installs."""
    (run,) = set(os.listdir(results)) - set(before)
    docs = {d["combination"]["id"]: d for d in (json.loads(p.read_text())
                                               for p in (results / run / "predictions").glob("*.json"))}
    assert sorted(docs) == sorted(c.id for c in combinations(load_matrix(ROOT / "matrix.yaml"), "default"))
    for doc in docs.values():
        if doc["combination"]["models_official"]:
            assert doc["status"] == "no-wheel" and doc["failure"]["culprit"].startswith("tensorflow-text"), doc
            assert "has no win_amd64 wheel; it is required by tf-models-official" in doc["why"], doc["why"]
    assert docs["tf2.21-cpu"]["status"] == "installable", docs["tf2.21-cpu"]["why"]
    assert "tensorflow-text 2.15.0 has no win_amd64 wheel; it is required by tf-models-official 2.15.0" in out

