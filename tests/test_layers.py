"""The architecture's import rules, read from the source (docs/architecture.md draws them).

* The worker side (``tfmatrix.worker``) runs inside each combination's venv, where tfmatrix is installed with
  ``--no-deps``: it imports the standard library, TensorFlow's own packages, and nothing else of tfmatrix
  but itself and ``tfmatrix.atomic``.
* Each package imports only the packages below it (``LAYERS``), so the run side never reaches the report's
  pandas, and the records never reach the run side.
* What runs in nox's own process never imports the report's heavy packages (nox installs only the core).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "tfmatrix"
#: what the worker side may import besides the standard library (inside a combination's venv)
WORKER_THIRD_PARTY = {"tensorflow", "numpy", "official", "tf_keras", "keras", "keras_hub", "pynvml", "ctypes"}
#: tfmatrix modules every layer may use: exceptions, atomic writes, statistics
SHARED = {"tfmatrix", "tfmatrix.errors", "tfmatrix.atomic", "tfmatrix.stats"}
#: each package and the packages it may import (besides itself and SHARED)
LAYERS = {
    "worker": set(),
    "matrix": {"worker", "diagnosis"},  # the Workload and ModelSpec of the contract; the failure classes
    "records": set(),  # (the matrix's Combination for type hints only)
    "diagnosis": {"records"},  # (the run side's HostFacts for type hints only)
    "run": {"matrix", "records", "diagnosis", "worker"},
    "history": {"records", "run", "worker"},
    "report": {"records", "diagnosis", "matrix"},
    "executors": {"run", "records", "matrix", "diagnosis"},
    "bisection": {"matrix", "records", "diagnosis", "history", "run", "report"},  # probes are bench sessions
    "predicting": {"matrix", "records", "diagnosis", "run"},  # the installer's own resolve and classification
}
REPORT_ONLY = ("pandas", "matplotlib", "jinja2", "scipy", "asv", "asv_runner")


def imports(path: Path, at_run_time: bool = False) -> set[str]:
    """Every module a file imports, at any depth (function-level too), as absolute names.

    ``at_run_time``: leave out what is imported under ``if TYPE_CHECKING:`` (for type hints only).
    """
    module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
             and getattr(node.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if at_run_time and id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            found.update([f"{base}.{node.module}"] if node.module else [f"{base}.{a.name}" for a in node.names])
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
    return found


def layer(name: str) -> str | None:
    """The package of ``tfmatrix.<package>[.<module>]`` (None for shared modules and other packages)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tfmatrix" and parts[1] in LAYERS else None


@pytest.mark.parametrize("path", sorted((PKG / "worker").glob("*.py")), ids=lambda p: p.name)
def test_the_worker_side_imports_only_the_standard_library_tensorflow_and_itself(path):
    for name in imports(path):
        top = name.split(".")[0]
        if top == "tfmatrix":
            assert name.startswith("tfmatrix.worker") or name in SHARED - {"tfmatrix.stats", "tfmatrix.errors"}, \
                f"{path.name} imports {name}: the worker side runs where only itself is installed"
        else:
            assert top in sys.stdlib_module_names or top in WORKER_THIRD_PARTY, f"{path.name} imports {name}"


def test_what_the_worker_side_shares_is_standard_library_only():
    for shared in ("__init__.py", "atomic.py"):
        for name in imports(PKG / shared):
            assert name.split(".")[0] in sys.stdlib_module_names or name == "__future__", (shared, name)


IN_LAYERS = sorted(p for p in PKG.rglob("*.py") if p.relative_to(PKG).parts[0] in LAYERS)


@pytest.mark.parametrize("path", IN_LAYERS, ids=lambda p: str(p.relative_to(PKG)))
def test_each_package_imports_only_the_layers_below_it(path):
    own = path.relative_to(PKG).parts[0]
    allowed = LAYERS[own] | {own}
    for name in imports(path, at_run_time=True):
        other = layer(name)
        assert other is None or other in allowed, \
            f"{path.relative_to(PKG)} imports {name}: {own} may use {sorted(allowed)}"


def test_noxs_own_process_never_imports_the_reports_packages():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import tfmatrix.sessions, tfmatrix.run.scheduling.pipeline, "
            "tfmatrix.executors.dispatch, tfmatrix.executors.pool, tfmatrix.report.summary, tfmatrix.run.noxside.options; "
            f"bad = [m for m in {REPORT_ONLY!r} if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code, str(SRC)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------- the house's bars, read from the source

MODULES = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
           for p in PKG.rglob("*.py")}
MAX_LINES = 400


def module_level_imports(path: Path) -> set[str]:
    """The tfmatrix modules a file imports when it is imported: its top-level statements (and their
    ``try``/``if`` blocks), not a function's body, not ``if TYPE_CHECKING:`` (type hints only)."""
    module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)
                for h in getattr(node, "handlers", []):
                    visit(h.body)
                visit(getattr(node, "finalbody", []))
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{up}.{node.module}" if node.module else up
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in MODULES and m != module}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once (Tarjan's strongly connected components of two modules or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_cycles_finds_a_circle_and_names_its_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_package_has_an_import_circle():
    """A circle works only in the order its modules happen to be imported: `nox -s scale` once crashed on one
    side of a broken import that no test imported first."""
    graph = {m: module_level_imports(p) for m, p in MODULES.items()}
    parents = {m: {p for p in graph[m] if m.startswith(p + ".")} for m in graph}  # a package runs before its modules
    graph = {m: graph[m] - parents[m] for m in graph}
    assert cycles(graph) == [], "import circles (module-level imports): " + "; ".join(
        " <-> ".join(c) for c in cycles(graph))


def test_no_global_statement_and_no_module_over_the_bar():
    globals_ = [f"{p.relative_to(SRC)}:{n.lineno}" for p in MODULES.values()
                for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.Global)]
    assert globals_ == [], "`global` statements (state belongs to an object a session is given)"
    long = {str(p.relative_to(SRC)): n for p in MODULES.values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them by concept"
