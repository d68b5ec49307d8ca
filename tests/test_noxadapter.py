"""run.noxside.noxadapter against the nox installed: each thing tfmatrix reads of nox, read from a real run.

One tiny noxfile runs in a real ``nox`` subprocess (no venvs: ``venv_backend="none"``): its first bench
session reads the queue, a later one fails a command, another is skipped, and a last session reads what
nox ended and what its logger said.  A session object of another shape fails loudly, naming nox's version.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nox
import pytest
from fakes.fake_session import FakeSession

from tfmatrix.run.noxside import noxadapter

SRC = Path(__file__).resolve().parents[1] / "src"

NOXFILE = '''
import dataclasses, json, sys
sys.path.insert(0, {src!r})
import nox
from tfmatrix.run.noxside import noxadapter as na

WORDS = na.NoxWords()
na.listen(WORDS)


@nox.session(venv_backend="none")
@nox.parametrize("combo", [nox.param(c, id=c) for c in ("a", "b", "c")])
def bench(session, combo):
    if combo == "a":
        print("QUEUED " + json.dumps(na.queued_bench_sessions(session)))
    if combo == "b":
        session.run(sys.executable, "-c", "import sys; print('uv said: no space left'); sys.exit(3)", silent=True)
    if combo == "c":
        session.skip("not here")


@nox.session(venv_backend="none")
def after(session):
    print("ENDED " + json.dumps([dataclasses.asdict(e) for e in na.ended_bench_sessions(session)]))
    print("WORDS " + json.dumps(WORDS.said))
'''


@pytest.fixture(scope="module")
def said(tmp_path_factory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("noxadapter")
    (d / "noxfile.py").write_text(NOXFILE.format(src=str(SRC)))
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(d / "noxfile.py"), "-s", "bench", "after", "--",
                           "--quick"], capture_output=True, text=True, timeout=300, cwd=d)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # bench(b) failed
    lines = {ln.split(" ", 1)[0]: json.loads(ln.split(" ", 1)[1]) for ln in proc.stdout.splitlines()
             if ln.startswith(("QUEUED ", "ENDED ", "WORDS "))}
    assert set(lines) == {"QUEUED", "ENDED", "WORDS"}, out
    return lines


def test_the_queue_names_the_bench_sessions_nox_runs_after_this_one(said):
    assert said["QUEUED"] == ["b", "c"]  # in nox's order; not the `after` session, not itself


def test_the_ended_sessions_carry_noxs_status_reason_and_posargs(said):
    ended = {e["combo"]: e for e in said["ENDED"]}
    assert set(ended) == {"a", "b", "c"}
    assert ended["a"]["status"] == "success" and ended["b"]["status"] == "failed"
    assert ended["c"]["status"] == "skipped" and ended["c"]["reason"] == "not here"
    assert all(e["posargs"] == ["--quick"] for e in ended.values())


def test_noxs_words_in_error_are_kept_per_session_without_its_verdict_line(said):
    words = said["WORDS"]
    assert list(words) == ["bench(b)"]
    text = "\n".join(words["bench(b)"])
    assert "uv said: no space left" in text and "exit code 3" in text
    assert not any(noxadapter.VERDICT.match(line) for line in words["bench(b)"])


def test_a_session_that_is_not_noxs_has_no_queue():
    s = FakeSession(Path("."))
    assert noxadapter.queued_bench_sessions(s) is None and noxadapter.ended_bench_sessions(s) is None


def test_a_nox_that_changed_shape_fails_loudly_naming_its_version():
    session = nox.Session(SimpleNamespace())  # a real nox Session whose runner has no manifest
    with pytest.raises(noxadapter.NoxChanged, match=rf"^nox {noxadapter.nox_version()}: Session._runner.manifest"):
        noxadapter.queued_bench_sessions(session)
    session = nox.Session(SimpleNamespace(manifest=SimpleNamespace()))  # a manifest without its queue
    with pytest.raises(noxadapter.NoxChanged, match="Manifest._queue"):
        noxadapter.queued_bench_sessions(session)
    with pytest.raises(noxadapter.NoxChanged, match="Manifest._all_sessions"):
        noxadapter.ended_bench_sessions(session)
