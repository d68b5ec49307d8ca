"""Property-based tests (hypothesis): hostile or random input never gives a traceback.

* the matrix loader, fed random YAML documents and random mutations of the
  default matrix, returns a valid matrix or raises the one-line MatrixError;
* the classifier, fed random bytes as a child's stderr, always returns a class.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfmatrix.diagnosis.classify import classify_failure, load_taxonomy
from tfmatrix.errors import MatrixError
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.matrix.model import Matrix

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "matrix.yaml").read_text())
CLASSES = {r.cls for r in load_taxonomy().rules}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["2.20.0", "tf2.20", "cpu", "cuda-pip", "../x",
                                                           "tensorflow==2.15; rm -rf ~", "--index-url=http://evil",
                                                           "<script>alert(1)</script>", "numpy<2", "3.11"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12) | st.sampled_from(list(DEFAULT)), inner,
                                                 max_size=5)), max_leaves=25)


def check_load(path: Path) -> None:
    try:
        matrix = load_matrix(path)
    except MatrixError as exc:
        line = exc.one_line()
        assert "\n" not in line and line.startswith(str(path)), line
        return
    assert isinstance(matrix, Matrix)
    for profile in matrix.profiles:
        for combo in combinations(matrix, profile.id):
            assert combo.id and "/" not in combo.id


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(doc=documents)
def test_random_yaml_documents(tmp_path, doc):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check_load(path)


@SETTINGS
@given(text=st.text(max_size=300))
def test_random_text_files(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check_load(path)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(DEFAULT) if p]


@SETTINGS
@given(where=st.sampled_from(PATHS), value=documents, action=st.sampled_from(["set", "delete", "duplicate"]))
def test_mutations_of_the_default_matrix(tmp_path, where, value, action):
    doc = copy.deepcopy(DEFAULT)
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    last = where[-1]
    if action == "set":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = [parent[last], value]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check_load(path)


@settings(max_examples=300, deadline=None)
@given(stderr=st.binary(max_size=4000), status=st.sampled_from(["error", "crashed", "timeout", "no-result",
                                                                   "install-failed"]),
       signal=st.sampled_from([None, "SIGSEGV", "SIGABRT", "SIGKILL", "SIGXYZ"]), gpu=st.booleans())
def test_classifier_always_returns_a_class(stderr, status, signal, gpu):
    text = stderr.decode("utf-8", "replace")
    cls = classify_failure(status=status, text=text, signal=signal, gpu_stack=gpu)
    assert cls.cls in CLASSES
    assert cls.evidence and cls.explanation and cls.fix
