"""Install a combination's pins into the venv nox made for it.

With uv (nox's ``uv`` backend): resolve the requirements into a lock
(``uv pip compile``), and ``uv pip sync`` the venv to it with bytecode compiled
at install -- unless the venv already holds exactly that lock, in which case it
is reused untouched.  Each resolve starts from no lock: ``uv pip compile`` keeps
the versions already in its output file, so a reused venv would keep older
transitive pins than a fresh resolve of the same requirements (lxml 6.1.3
against 6.2.0), and the same requirements would hash to two locks
(:func:`resolve`, an exporter's key, must give the lock a session's own install
gives).  With the ``virtualenv`` backend: pip installs the requirements (pip
compiles bytecode itself).  Then tfmatrix itself goes in with
``--no-deps`` (the combination's pins stay exactly as the matrix says), the
installer's check runs and its verdict is recorded, and ``freeze`` gives the
resolved pins.  Every command is an argument list; nothing passes a shell.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ...records.model import InstallOutcome

if TYPE_CHECKING:
    from ...matrix.model import Combination

LOCK_MARKER = ".tfmatrix-lock.sha256"


def find_uv() -> str | None:
    uv = shutil.which("uv")
    if uv:
        return uv
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return None


class _Steps:
    def __init__(self, outcome: InstallOutcome, timeout: float, log: Path) -> None:
        self.outcome, self.deadline, self.log = outcome, time.monotonic() + timeout, log

    def run(self, name: str, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        left = max(1.0, self.deadline - time.monotonic())
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=left,
                                  stdin=subprocess.DEVNULL, check=False, env={**os.environ, **UNWRAPPED})
        except subprocess.TimeoutExpired as exc:
            proc = subprocess.CompletedProcess(list(cmd), returncode=-9, stdout=_text(exc.stdout),
                                               stderr=_text(exc.stderr) + f"\ntimed out after {left:.0f} s")
        seconds = time.perf_counter() - t0
        self.outcome.steps.append({"step": name, "argv": list(cmd), "exit_code": proc.returncode,
                                   "seconds": round(seconds, 3)})
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n[exit {proc.returncode}, {seconds:.1f} s]\n")
        return proc

    def fail(self, name: str, proc: subprocess.CompletedProcess[str]) -> InstallOutcome:
        self.outcome.ok = False
        self.outcome.failed_step = name
        self.outcome.error = (proc.stderr or proc.stdout or f"exit status {proc.returncode}").strip()
        return self.outcome


#: uv's words when a sync cannot find a pin the resolve just locked (seen in CI: huggingface-hub 2.5.0, found by
#: the resolve and "no version" 1 s later, for a page of uv's cache read stale): synced once more, that page refreshed
_VANISHED = re.compile(r"there is no version of (?P<pkg>[A-Za-z0-9][\w.-]*)==")

#: uv wraps its resolver's words at the caller's COLUMNS (80 in many terminals, and under pytest): one line each,
#: or "has no wheels with\n a matching Python ABI tag" would classify as a plain conflict, not a missing wheel
UNWRAPPED = {"COLUMNS": "10000"}


def _text(b: Any) -> str:
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def install(requirements: Sequence[str], *, venv: Path, python: str, backend: str, project_root: Path,
            timeout: float, log: Path, force: Sequence[str] = (), index_url: str | None = None,
            as_of: tuple[str, str] | None = None, lock: Path | None = None,
            make_with: str | None = None) -> InstallOutcome:
    """Make ``venv`` hold exactly ``requirements`` (resolved) plus tfmatrix.

    ``force`` (the matrix's ``force:``) is installed over the resolver's choice (``uv --override``; with
    pip, installed with ``--no-deps`` afterwards): how a known-bad combination
    such as TF 2.15 with NumPy 2 is reproduced on purpose.  ``index_url`` (the
    matrix's own key) is passed as one argument, never spliced into a command line.  ``as_of``
    (cutoff, package): resolve every package but ``package`` as it was at ``cutoff`` (uv's
    ``--exclude-newer``), how a nightly gets the companion nightlies of its own date.  ``lock``: the lock
    :func:`resolve` already made of these requirements, synced as it is (not resolved a second time: the pins
    that keyed an exporter's export are the ones it is made with).  ``make_with``: the Python ``venv`` is
    made with (``uv venv``) where it does not exist yet: an exporter's venv in the cache (nox makes its
    sessions' own).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    uv = find_uv() if backend == "uv" else None
    outcome = InstallOutcome(backend="uv" if uv else "pip")
    steps = _Steps(outcome, timeout, log)
    if make_with and not (venv / "pyvenv.cfg").exists():
        if not uv:
            outcome.ok, outcome.failed_step, outcome.error = False, "venv", "an exporter's venv needs uv (nox[uv])"
            return outcome
        venv.parent.mkdir(parents=True, exist_ok=True)
        proc = steps.run("venv", [uv, "venv", "--quiet", "--python", make_with, str(venv)])
        if proc.returncode != 0:
            return steps.fail("venv", proc)
    req_in = venv / "tfmatrix-requirements.in"
    req_in.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    override_txt = venv / "tfmatrix-overrides.txt"
    override_txt.write_text("".join(f"{o}\n" for o in force), encoding="utf-8")
    t0 = time.perf_counter()
    index = ["--index-url", index_url] if index_url else []
    marker = venv / LOCK_MARKER
    previous = marker.read_text().strip() if marker.exists() else ""

    if (as_of or lock) and not uv:
        outcome.ok, outcome.failed_step = False, "resolve"
        outcome.error = (f"{as_of[1]} needs uv to resolve its companions as of {as_of[0]} (--exclude-newer); "
                         "install nox[uv]") if as_of else "installing a resolved lock needs uv (nox[uv])"
        return outcome
    if uv:
        locked = venv / "tfmatrix-requirements.lock"
        if lock is not None:
            shutil.copyfile(lock, locked)
        else:
            proc = _resolve(steps, uv, req_in, override_txt if force else None, locked, python, index, as_of)
            if proc.returncode != 0:
                return steps.fail("resolve", proc)
        outcome.lock_sha256 = lock_hash(locked)
        if outcome.lock_sha256 == previous:
            outcome.reused = True
        else:
            marker.unlink(missing_ok=True)  # a half-synced venv is never taken for a good one
            sync = [uv, "pip", "sync", str(locked), "--python", python, "--compile-bytecode", *index]
            proc = steps.run("sync", sync)
            stale = _VANISHED.search(proc.stderr or "") if proc.returncode != 0 else None
            if stale:  # the lock's own pin "not found" a moment after the resolve found it: a stale index page
                proc = steps.run("sync-refreshed", [*sync, "--refresh-package", stale.group("pkg")])
            if proc.returncode != 0:
                return steps.fail("sync", proc)
        self_cmd = [uv, "pip", "install", "--python", python, "--no-deps", "--reinstall-package", "tfmatrix",
                    "--refresh-package", "tfmatrix", str(project_root)]
        check_cmd = [uv, "pip", "check", "--python", python]
        freeze_cmd = [uv, "pip", "freeze", "--python", python]
    else:
        outcome.lock_sha256 = hashlib.sha256(req_in.read_bytes() + override_txt.read_bytes()).hexdigest()
        if outcome.lock_sha256 == previous:
            outcome.reused = True
        else:
            marker.unlink(missing_ok=True)
            proc = steps.run("install", [python, "-m", "pip", "install", "--disable-pip-version-check",
                                         *index, "-r", str(req_in)])
            if proc.returncode != 0:
                return steps.fail("install", proc)
            if force:
                proc = steps.run("force", [python, "-m", "pip", "install", "--disable-pip-version-check",
                                           *index, "--no-deps", "-r", str(override_txt)])
                if proc.returncode != 0:
                    return steps.fail("force", proc)
        self_cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
                    "--force-reinstall", str(project_root)]
        check_cmd = [python, "-m", "pip", "check", "--disable-pip-version-check"]
        freeze_cmd = [python, "-m", "pip", "freeze", "--disable-pip-version-check"]

    proc = steps.run("install-tfmatrix", self_cmd)
    if proc.returncode != 0:
        return steps.fail("install-tfmatrix", proc)
    marker.write_text(outcome.lock_sha256 + "\n")
    proc = steps.run("check", check_cmd)
    outcome.check_output = (proc.stdout + proc.stderr).strip()
    outcome.check_ok = check_verdict(proc.returncode, outcome.check_output)
    proc = steps.run("freeze", freeze_cmd)
    outcome.resolved = sorted(line.strip() for line in proc.stdout.splitlines()
                              if line.strip() and not line.lower().startswith("tfmatrix"))
    outcome.seconds = time.perf_counter() - t0
    outcome.ok = True
    return outcome


def lock_hash(lock: Path) -> str:
    """What keys a venv's pins (and the exports made with them): the sha256 of its resolved lock."""
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def _resolve(steps: _Steps, uv: str, req_in: Path, overrides: Path | None, lock: Path, python: str,
             index: list[str], as_of: tuple[str, str] | None,
             target: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``uv pip compile`` into ``lock``, from no lock (uv prefers the pins of an existing output file); for
    ``python`` (an interpreter), or for ``target`` (python_platform, python_version) without one."""
    lock.unlink(missing_ok=True)
    cutoff = []
    if as_of:  # the pinned package itself may be uploaded after its build day
        cutoff = ["--exclude-newer", as_of[0], "--exclude-newer-package", f"{as_of[1]}=2100-01-01T00:00:00Z"]
    where = ["--python-platform", target[0], "--python-version", target[1]] if target else ["--python", python]
    return steps.run("resolve", [uv, "pip", "compile", str(req_in), *where, "--no-header",
                                 "--no-annotate", "--quiet", "--output-file", str(lock), *index, *cutoff,
                                 *(["--override", str(overrides)] if overrides else [])])


def resolve(requirements: Sequence[str], *, lock: Path, python: str, timeout: float, log: Path,
            force: Sequence[str] = (), index_url: str | None = None,
            as_of: tuple[str, str] | None = None) -> tuple[str, str]:
    """The hash of the lock :func:`install` gives any venv of these requirements, without a venv: (sha256,
    error).  The lock is left at ``lock`` (its inputs beside it), for :func:`install` to sync as it is.

    How a combination finds the export another entry made of the same pins before deciding to make it.
    """
    outcome = resolve_lock(requirements, lock=lock, python=python, timeout=timeout, log=log, force=force,
                           index_url=index_url, as_of=as_of)
    return outcome.lock_sha256, "" if outcome.ok else outcome.error


def resolve_lock(requirements: Sequence[str], *, lock: Path, timeout: float, log: Path, python: str = "",
                 target: tuple[str, str] | None = None, force: Sequence[str] = (), index_url: str | None = None,
                 as_of: tuple[str, str] | None = None) -> InstallOutcome:
    """Resolve ``requirements`` into ``lock`` as :func:`install` does, for ``python`` or for ``target``
    (python_platform, python_version: another platform's resolve, ``nox -s predict``): the outcome holds the
    command, the lock's hash and pins when it resolved, the resolver's words when not."""
    outcome = InstallOutcome(backend="uv")
    uv = find_uv()
    if uv is None:
        outcome.ok, outcome.failed_step, outcome.error = False, "resolve", "resolving needs uv (nox[uv])"
        return outcome
    steps = _Steps(outcome, timeout, log)
    req_in, override_txt = lock.with_suffix(".in"), lock.with_suffix(".overrides.txt")
    lock.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    req_in.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    override_txt.write_text("".join(f"{o}\n" for o in force), encoding="utf-8")
    index = ["--index-url", index_url] if index_url else []
    t0 = time.perf_counter()
    proc = _resolve(steps, uv, req_in, override_txt if force else None, lock, python, index, as_of, target)
    outcome.seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return steps.fail("resolve", proc)
    outcome.ok = True
    outcome.lock_sha256 = lock_hash(lock)
    outcome.resolved = [ln.strip() for ln in lock.read_text(encoding="utf-8").splitlines()
                        if ln.strip() and not ln.lstrip().startswith("#")]
    return outcome


def install_args(combo: "Combination") -> dict[str, Any]:
    """What :func:`install` is given for a combination: its requirements, its forced pins, its resolve date."""
    cutoff = combo.tf.resolve_cutoff
    return {"requirements": combo.requirements(), "force": combo.force,
            "as_of": (cutoff, combo.tf.package) if cutoff else None}


def check_verdict(returncode: int, output: str) -> bool:
    """The installer's check, less tfmatrix's own requirements.

    tfmatrix goes into each venv with ``--no-deps`` on purpose (the worker needs
    only the standard library), so "tfmatrix requires nox" is not a conflict of
    the combination.  Any other reported problem is.
    """
    if returncode == 0:
        return True
    problems = [ln for ln in output.splitlines()
                if ("requires" in ln or "has requirement" in ln or "incompatib" in ln.lower())
                and not ln.lower().startswith(("found ", "checked "))
                and not _about_tfmatrix(ln)]
    return not problems


def _about_tfmatrix(line: str) -> bool:
    words = line.replace("`", " ").split()
    # uv: "The package `tfmatrix` requires ..."; pip: "tfmatrix 0.1.0 requires ..."
    return (len(words) > 2 and words[0] == "The" and words[2].lower() == "tfmatrix") or (
        bool(words) and words[0].lower() == "tfmatrix")
