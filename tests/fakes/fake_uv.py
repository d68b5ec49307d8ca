"""FAKE uv: the few ``uv`` commands tfmatrix's installer runs, offline, with uv's one habit that matters here.

``uv pip compile`` pins each requirement, plus the transitive packages of a small index (a JSON file named
by ``FAKE_UV_INDEX``: package -> its newest version).  Like the real uv, it keeps a transitive pin that is
already in its output file (``--output-file``) instead of taking the newest: how a reused venv keeps older
pins than a fresh resolve.  ``uv venv`` makes a folder with ``pyvenv.cfg``; ``uv pip sync`` notes the lock
it synced in the venv (``installed.txt``), and ``uv pip freeze`` prints it.  Every call is appended to the
JSON lines of ``FAKE_UV_CALLS``.  :func:`set_stale` makes ``uv pip sync`` answer as the real uv did once in CI
for a page of its cache read stale: "there is no version of PKG==V" for a pin the resolve had just locked,
until a sync with ``--refresh-package PKG``.

Run it through :func:`install` (a shell wrapper with this interpreter), which returns the wrapper's path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

INSTALLED = "installed.txt"


def install(folder: Path, index: dict[str, str]) -> str:
    """A ``uv`` executable in ``folder`` answering from ``index``; its calls are logged to ``folder/calls``."""
    folder.mkdir(parents=True, exist_ok=True)
    set_index(folder, index)
    uv = folder / "uv"
    uv.write_text(f"#!/bin/sh\nFAKE_UV_INDEX={folder / 'index.json'} FAKE_UV_CALLS={folder / 'calls'} "
                  f"FAKE_UV_STALE={folder / 'stale'} "
                  f"exec {sys.executable} {Path(__file__).resolve()} \"$@\"\n")
    uv.chmod(0o755)
    return str(uv)


def set_index(folder: Path, index: dict[str, str]) -> None:
    """What the index offers from now on (a release published between two resolves)."""
    (folder / "index.json").write_text(json.dumps(index))


def set_stale(folder: Path, package: str) -> None:
    """``uv pip sync`` cannot find the lock's pin of ``package`` until it refreshes that package's page."""
    (folder / "stale").write_text(package)


def calls(folder: Path) -> list[list[str]]:
    log = folder / "calls"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _compile(argv: list[str]) -> int:
    reqs = [r.strip() for r in Path(argv[2]).read_text().splitlines() if r.strip()]
    out = Path(_opt(argv, "--output-file"))
    kept = dict(line.split("==", 1) for line in out.read_text().splitlines() if "==" in line) if out.exists() else {}
    pins = {r.split("==", 1)[0]: r.split("==", 1)[1] for r in reqs if "==" in r}
    for name, newest in json.loads(Path(os.environ["FAKE_UV_INDEX"]).read_text()).items():
        pins.setdefault(name, kept.get(name, newest))
    out.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    return 0


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_UV_CALLS"], "a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    if argv[0] == "venv":
        venv = Path(argv[-1])
        (venv / "bin").mkdir(parents=True, exist_ok=True)
        (venv / "pyvenv.cfg").write_text("uv = fake\n")
        return 0
    command = argv[1]
    if command == "compile":
        return _compile(argv)
    venv = Path(_opt(argv, "--python")).parents[1]
    if command == "sync":
        stale = Path(os.environ["FAKE_UV_STALE"])
        pkg = stale.read_text() if stale.exists() else ""
        pin = next((ln for ln in Path(argv[2]).read_text().splitlines() if ln.startswith(f"{pkg}==")), "")
        if pin and "--refresh-package" not in argv:
            sys.stderr.write("error: No solution found when resolving dependencies\n  cause: Because there is no "
                             f"version of {pin} and you require {pin}, we can conclude that your requirements are "
                             "unsatisfiable.\n")
            return 1
        (venv / INSTALLED).write_text(Path(argv[2]).read_text())
    elif command == "freeze":
        print((venv / INSTALLED).read_text(), end="")
    return 0  # install (tfmatrix itself), check


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
