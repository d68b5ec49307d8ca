"""install.py against the real uv and the real package index (tiny packages only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tfmatrix.run.provisioning import install

ROOT = Path(__file__).resolve().parents[1]
UV = install.find_uv()
uv_missing = pytest.mark.skipif(UV is None, reason="uv is not installed (pip install 'nox[uv]')")


def needs_uv(test):
    """Real uv against the real package index: the ``network`` marker."""
    return pytest.mark.network(uv_missing(test))


@pytest.fixture
def venv(tmp_path) -> Path:
    path = tmp_path / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    return path


def py(venv: Path) -> str:
    return str(venv / "bin" / "python")


@needs_uv
def test_install_then_reuse_then_rebuild_when_pins_change(venv, tmp_path):
    log = tmp_path / "install.log"
    first = install.install(["six==1.16.0"], venv=venv, python=py(venv), backend="uv",
                            project_root=ROOT, timeout=300, log=log)
    assert first.ok, first.error
    assert not first.reused
    assert "six==1.16.0" in first.resolved
    assert not any(r.startswith("tfmatrix") for r in first.resolved)
    assert first.check_ok is True
    assert [s["step"] for s in first.steps] == ["resolve", "sync", "install-tfmatrix", "check", "freeze"]
    sync = next(s for s in first.steps if s["step"] == "sync")
    assert "--compile-bytecode" in sync["argv"]

    again = install.install(["six==1.16.0"], venv=venv, python=py(venv), backend="uv",
                            project_root=ROOT, timeout=300, log=log)
    assert again.ok and again.reused
    assert again.lock_sha256 == first.lock_sha256
    assert "sync" not in [s["step"] for s in again.steps]

    changed = install.install(["six==1.17.0"], venv=venv, python=py(venv), backend="uv",
                              project_root=ROOT, timeout=300, log=log)
    assert changed.ok and not changed.reused
    assert "six==1.17.0" in changed.resolved and "six==1.16.0" not in changed.resolved
    # the worker module is importable in the venv, without tfmatrix's own dependencies
    out = subprocess.run([py(venv), "-c", "import tfmatrix.worker.main, sys; print('yaml' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_uv
@pytest.mark.parametrize("reqs, words", [
    (["tensorflow==2.20.0", "tf-models-official==2.15.0"], "No solution found"),
    (["six==0.0.0.0.1"], "No solution found"),
])
def test_unresolvable_pins_fail_with_the_resolvers_words(venv, tmp_path, reqs, words):
    out = install.install(reqs, venv=venv, python=py(venv), backend="uv", project_root=ROOT,
                          timeout=300, log=tmp_path / "install.log")
    assert not out.ok
    assert out.failed_step == "resolve"
    assert words in out.error
    assert words in (tmp_path / "install.log").read_text()
    assert not (venv / install.LOCK_MARKER).exists()


def test_check_verdict_ignores_only_tfmatrix_itself():
    uv_out = ("Checked 128 packages in 1ms\nFound 1 incompatibility\n"
              "The package `tfmatrix` requires `nox[uv]>=2025.2.9`, but it's not installed")
    assert install.check_verdict(1, uv_out) is True
    assert install.check_verdict(1, uv_out + "\nThe package `tensorflow` requires `numpy<2`, but `2.1.0` is installed") is False
    assert install.check_verdict(1, "tfmatrix 0.1.0 requires nox, which is not installed.") is True
    assert install.check_verdict(1, "tf-keras 2.15.1 has requirement tensorflow<2.16,>=2.15, but you have tensorflow 2.16.1.") is False
    assert install.check_verdict(0, "") is True


@needs_uv
def test_index_url_is_one_argument_to_the_resolver(venv, tmp_path):
    """The matrix's index_url reaches uv as an argv item: an unreachable index fails the resolve, nothing runs."""
    url = "http://127.0.0.1:9/simple"  # the discard port: nothing answers
    out = install.install(["six==1.16.0"], venv=venv, python=py(venv), backend="uv", project_root=ROOT,
                          timeout=120, log=tmp_path / "install.log", index_url=url)
    assert not out.ok and out.failed_step == "resolve"
    argv = out.steps[0]["argv"]
    assert argv[argv.index("--index-url") + 1] == url


@needs_uv
def test_a_reused_venvs_lock_does_not_steer_its_resolve(venv, tmp_path):
    """``uv pip compile`` keeps the pins of an existing output file; the installer resolves from no lock, so a
    reused venv gets the lock a fresh resolve gives (:func:`install.resolve`, the key of an exporter's export)."""
    log = tmp_path / "install.log"
    fresh, error = install.resolve(["requests==2.32.3"], lock=tmp_path / "fresh.lock", python=py(venv), timeout=300,
                                   log=log)
    assert not error and (tmp_path / "fresh.lock").exists()
    newest = next(p for p in (tmp_path / "fresh.lock").read_text().splitlines() if p.startswith("idna=="))
    assert newest != "idna==3.6"
    lock = venv / "tfmatrix-requirements.lock"
    lock.write_text((tmp_path / "fresh.lock").read_text().replace(newest, "idna==3.6"))  # an older run's lock
    out = install.install(["requests==2.32.3"], venv=venv, python=py(venv), backend="uv", project_root=ROOT,
                          timeout=300, log=log)
    assert out.ok, out.error
    assert out.lock_sha256 == fresh and newest in out.resolved


def test_the_installers_words_are_never_wrapped_at_the_callers_terminal_width(tmp_path, monkeypatch):
    """uv wraps its resolver's error at COLUMNS; a user's 80-column terminal must not change a failure's class."""
    monkeypatch.setenv("COLUMNS", "80")
    outcome = install.InstallOutcome(backend="uv")
    steps = install._Steps(outcome, 60, tmp_path / "log")
    proc = steps.run("probe", [sys.executable, "-c", "import os; print(os.environ['COLUMNS'])"])
    assert proc.stdout.strip() == install.UNWRAPPED["COLUMNS"] and int(proc.stdout) > 1000


def test_a_pin_the_sync_cannot_find_right_after_its_resolve_is_synced_once_more_refreshed(tmp_path, monkeypatch):
    """CI, 2026-12-07: the resolve locked huggingface-hub==2.5.0, the sync 1 s later said "there is no version of
    huggingface-hub==2.5.0" (uv's cached page read stale); now the sync is tried once more with that page refreshed.
    FAKE uv (tests/fakes/fake_uv.py) answers as the real one did."""
    from fakes import fake_uv

    folder = tmp_path / "uv"
    uv = fake_uv.install(folder, {"huggingface-hub": "2.5.0"})
    monkeypatch.setattr(install, "find_uv", lambda: uv)
    fake_uv.set_stale(folder, "huggingface-hub")
    venv = tmp_path / "venv"
    out = install.install(["keras-hub==0.32.0"], venv=venv, python=str(venv / "bin" / "python"), backend="uv",
                          project_root=ROOT, timeout=60, log=tmp_path / "log", make_with=sys.executable)
    assert out.ok, out.error
    syncs = [c for c in fake_uv.calls(folder) if c[:2] == ["pip", "sync"]]
    assert len(syncs) == 2 and syncs[1][-2:] == ["--refresh-package", "huggingface-hub"]
    assert [s["step"] for s in out.steps if s["step"].startswith("sync")] == ["sync", "sync-refreshed"]
    assert "there is no version of huggingface-hub==2.5.0" in (tmp_path / "log").read_text()


def test_any_other_sync_failure_is_not_retried(tmp_path, monkeypatch):
    from fakes import fake_uv

    folder = tmp_path / "uv"
    uv = fake_uv.install(folder, {})
    monkeypatch.setattr(install, "find_uv", lambda: uv)
    venv = tmp_path / "venv"
    monkeypatch.setattr(install.subprocess, "run", _failing_sync(install.subprocess.run))
    out = install.install(["a==1"], venv=venv, python=str(venv / "bin" / "python"), backend="uv",
                          project_root=ROOT, timeout=60, log=tmp_path / "log", make_with=sys.executable)
    assert not out.ok and out.failed_step == "sync" and "disk full" in out.error
    assert [s["step"] for s in out.steps if s["step"].startswith("sync")] == ["sync"]


def _failing_sync(run):
    def fake(cmd, *args, **kw):
        if cmd[1:3] == ["pip", "sync"]:
            return subprocess.CompletedProcess(cmd, 2, "", "error: disk full")
        return run(cmd, *args, **kw)
    return fake
