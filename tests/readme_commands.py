"""The README's commands, parsed from its quick start and "Everyday use" blocks, and the smoke form of each.

Every command of those two ``sh`` blocks is found here (the whole block: a line added to the README is a
command the test runs, or fails for having no smoke rule).  A line is split with :mod:`shlex` (its
trailing ``# comment`` dropped), at ``&&`` into commands, a leading ``NAME=value`` into the command's
environment, and an optional ``[--word]`` into two commands, with and without it.  :func:`smoke` gives
each command the argv list the test runs: the command itself where it is quick and harmless, or else the
form named by its rule (``--dry-run`` for bench, ``--help`` for bisect and fix, ``--collect-only`` for the tests).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = ("## Quick start", "## Everyday use")
ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class Command:
    """One command of a README line: its environment prefix and its words (brackets resolved)."""

    line: str  # the README line it comes from
    env: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return shlex.join([f"{k}={v}" for k, v in self.env] + list(self.argv))


def shown(env: dict[str, str], argv: tuple[str, ...]) -> str:
    """A command as a shell would take it (for the list of what ran; it is run as argv)."""
    return shlex.join([f"{k}={v}" for k, v in env.items()] + list(argv))


@dataclass(frozen=True)
class Smoke:
    """How the test runs a command: argv (never a shell string), the status it must end with, and why."""

    argv: tuple[str, ...]
    how: str  # the rule, in words
    status: int = 0
    env: dict[str, str] = field(default_factory=dict)  # on top of the fixture's (folders under tmp)
    cwd: Path = ROOT  # clean runs in a copy of the project, whose .nox holds the fixture's old venv
    venv: bool = False  # nox makes a venv and installs into it (PyPI): integration + network
    network: bool = False  # it asks the package index (PyPI), installing nothing: network


def blocks(text: str) -> list[str]:
    """The lines of the first ``sh`` block under each heading of :data:`BLOCKS` (missing: an error)."""
    out = []
    for heading in BLOCKS:
        found = re.search(rf"^{re.escape(heading)}\n(?:(?!^#).*\n)*?```sh\n", text, re.MULTILINE)
        assert found, f"README.md: no ```sh block under {heading!r}"
        start = found.end()
        out += [line for line in text[start:text.index("```", start)].splitlines() if line.strip()]
    return out


def commands(line: str) -> list[Command]:
    """The commands of one README line: ``A && B``, ``NAME=value cmd``, ``cmd [--opt]`` (both forms)."""
    words = shlex.split(line, comments=True)
    parts: list[list[str]] = [[]]
    for w in words:
        if w == "&&":
            parts.append([])
        else:
            parts[-1].append(w)
    out = []
    for part in parts:
        env = []
        while part and ENV_WORD.match(part[0]):
            name, value = part.pop(0).split("=", 1)
            env.append((name, value))
        for argv in _optional(part):
            out.append(Command(line, tuple(env), tuple(argv)))
    return out


def _optional(words: list[str]) -> list[list[str]]:
    """``[--word ...]`` (one or more words): the form with it, then the form without."""
    for i, w in enumerate(words):
        if w.startswith("["):
            j = next(k for k in range(i, len(words)) if words[k].endswith("]"))
            inner = list(words[i:j + 1])
            inner[0] = inner[0][1:]
            inner[-1] = inner[-1][:-1]
            rest = _optional(words[j + 1:])
            return [words[:i] + inner + r for r in rest] + [words[:i] + r for r in rest]
    return [words]


def readme_commands(text: str | None = None) -> list[Command]:
    """Every command of the two blocks, each once (the first line it appears on names it), in README order."""
    seen: dict[tuple[object, ...], Command] = {}
    for line in blocks(README.read_text(encoding="utf-8") if text is None else text):
        for c in commands(line):
            seen.setdefault((c.env, c.argv), c)
    return list(seen.values())


# --------------------------------------------------------------------------- the smoke rules


class NoRule(Exception):
    """A README command no rule knows how to smoke-run: add a rule to :func:`smoke`."""


def nox(*words: str, root: Path = ROOT) -> tuple[str, ...]:
    return (sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"), *words)


def posargs(argv: tuple[str, ...], *extra: str) -> tuple[str, ...]:
    """``argv`` with ``extra`` added after its ``--`` (one added where it has none)."""
    return (*argv, *extra) if "--" in argv else (*argv, "--", *extra)


def pip_python() -> str:
    """An interpreter with pip: this one, a ``python3`` on PATH, or the one this venv was made from (nox's and
    uv's venvs have no pip of their own)."""
    if importlib.util.find_spec("pip") is not None:
        return sys.executable
    on_path = [shutil.which("python3", path=folder) for folder in os.environ.get("PATH", "").split(os.pathsep)]
    base = [str(Path(sys.base_prefix) / "bin" / name) for name in ("python3", "python")]
    for found in dict.fromkeys(filter(None, [*on_path, *base])):
        probe = subprocess.run([found, "-m", "pip", "--version"], capture_output=True, timeout=60, check=False)
        if probe.returncode == 0:
            return found
    raise NoRule("python3 -m pip: no interpreter with pip on PATH or under this venv's base Python")


def gpus_here(words: tuple[str, ...]) -> str:
    """Why ``--gpus N,N,..`` is refused on this host ("": it is not): a host with GPUs, not all of them
    (nox then ends at import with one line and status 2; a host without GPUs runs one at a time)."""
    if "--gpus" not in words:
        return ""
    from tfmatrix.run.execution.host import visible_gpus

    here = {g.index for g in visible_gpus()}
    named = {int(i) for i in words[words.index("--gpus") + 1].split(",")}
    return f"; exit 2 here: this host has GPUs {sorted(here)}" if here and not named <= here else ""


def smoke(cmd: Command, paths: dict[str, str]) -> Smoke:
    """The smoke form of a README command; ``paths`` replaces the README's example paths (fixture files)."""
    argv = tuple(paths.get(w, w) for w in cmd.argv)
    env = {k: paths.get(v, v) for k, v in cmd.env}
    head = argv[:1]
    if head == ("python3",) and argv[1:4] == ("-m", "pip", "install"):
        return Smoke((pip_python(), "-m", "pip", "--version"), "pip install is replaced by `pip --version` (it "
                     "would change this interpreter); the distributions it names are checked installed here", env=env)
    if head == ("python3",) and argv[1:3] == ("-m", "tfmatrix"):
        return Smoke((sys.executable, *argv[1:]), "run as written (PYTHONPATH=src from the project)", env=env)
    if head == ("bash",) and argv[1:] == ("tools/install-browser.sh",):
        if shutil.which("chromium"):
            return Smoke(("bash", "tools/install-browser.sh"), "run as written: Chromium is here, so it "
                         "returns at once without apt-get", env=env)
        return Smoke(("bash", "-n", "tools/install-browser.sh"), "syntax check only: installing Chromium needs "
                     "apt-get and root", env=env)
    if head != ("nox",):
        raise NoRule(f"{cmd}: no smoke rule for {argv[0]!r}")
    words = argv[1:]
    if words == ("-l",):
        return Smoke(nox(*words), "run as written", env=env)
    if words[:1] == ("-t",):
        return Smoke(nox(*posargs(words, "--dry-run")), "every session the tag selects, with bench --dry-run",
                     env=env)
    if words[:1] != ("-s",):
        raise NoRule(f"{cmd}: no smoke rule for nox {' '.join(words[:1])}")
    session = words[1].split("(")[0]
    if session == "bench":
        return Smoke(nox(*posargs(words, "--dry-run")), "bench --dry-run: each session says what it would do, "
                     "installs nothing, writes no record" + gpus_here(words), env=env,
                     status=2 if gpus_here(words) else 0)
    if session == "compare" and "--rerun-base" in words:
        return Smoke(nox(*posargs(words, "--dry-run")), "--dry-run: the two bench sessions' dry runs, then "
                     "compare skips (nothing measured)", env=env)
    if session == "summary":
        return Smoke(nox(*words), "run as written, on the fixture run folders", env=env)
    if session == "clean":  # in a copy of the project: clean removes the project's old bench-* venvs
        project = Path(paths["project"])
        return Smoke(nox(*words, root=project), "run as written, in a copy of the project whose .nox and cache "
                     "hold an entry unused for 60 days", env=env, cwd=project)
    if session == "compare":  # "exit 1 if any": the two latest fixture runs are quiet, so none
        return Smoke(nox(*words), "run as written, on the fixture run folders: the two latest are quiet runs, "
                     "no regression, exit 0", env=env, venv=True)
    if session in ("report", "publish", "merge"):
        return Smoke(nox(*words), "run as written, on the fixture run folders", env=env, venv=True)
    if session == "scale":
        return Smoke(nox(*posargs(words, "--records", "200", "--samples", "1")), "its session for real, with 200 "
                     "synthetic records and one sample a case", env=env, venv=True)
    if session in ("bisect", "fix"):
        return Smoke(nox(*posargs(words, "--help")), f"its session for real, up to {session}'s --help (each of "
                     "its probes installs TensorFlow)", env=env, venv=True)
    if session == "predict":
        return Smoke(nox(*words), "run as written: uv resolves each combination for the platform (PyPI), "
                     "nothing is installed", env=env, network=True)
    if session == "lint":
        return Smoke(nox(*words), "run as written: ruff and mypy over the project", env=env, venv=True)
    if session == "tests" and "--" in words:  # the README's own pytest words, on one small module
        return Smoke(nox("-r", *posargs(words, "tests/test_atomic.py")), "its session for real (venv reused, -r), "
                     "its pytest words on tests/test_atomic.py alone", env=env, venv=True)
    if session == "tests":
        return Smoke(nox("-r", *posargs(words, "--collect-only", "-q")), "its session for real (venv reused, -r), "
                     "pytest --collect-only: every test module imports", env=env, venv=True)
    raise NoRule(f"{cmd}: no smoke rule for session {session!r}")
