"""Compatibility facts live only in data: no version in diagnosis/*.py, one sentence per verdict, one source.

The doctor, the pre-flight verdict and the taxonomy's texts all read
``diagnosis/data/compat.yaml``; these tests check that none of them restates a
fact (an AST scan of the modules), that the doctor and the pre-flight say the
same cuDNN verdict in the same words, and that a changed fact in a copy of the
YAML changes both verdicts and the taxonomy's texts.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from fakes import fake_gpu_box as box

from tfmatrix.diagnosis import compat, compat_text, rules
from tfmatrix.diagnosis.classify import load_taxonomy
from tfmatrix.diagnosis.doctor import diagnose
from tfmatrix.diagnosis.preflight import predict
from tfmatrix.errors import TfmatrixError
from tfmatrix.records.model import CombinationInfo
from tfmatrix.run.execution.host import GpuInfo, HostFacts

DIAGNOSIS = Path(compat.__file__).parent

#: A PEP 440 clause (``>=2.16``, ``<2``, ``==1.26``, ``~=3.1``) anywhere in a string
SPECIFIER = re.compile(r"(?:===|==|!=|~=|>=|<=|<|>)\s*v?[0-9]+(?:\.[0-9*]+)*")
#: A bare version (``"2.15"``, ``"1.26.4"``): a threshold a rule would compare against
BARE_VERSION = re.compile(r"^\s*v?[0-9]+(?:\.[0-9]+)+(?:(?:a|b|rc|\.post|\.dev)[0-9]+)?\s*$")
VERSION_PARTS = {"major", "minor", "micro", "release"}

#: The only strings in diagnosis/*.py the scan may find (module, a piece of the string), each with why it is not a
#: compatibility fact.
ALLOWED = {
    ("evidence.py", r"python(?P<ver>3\.\d+)"): "a regular expression: the named group `ver` matches the Python "
                                                "minor in a venv's lib/python3.N path",
}


def _allowed(filename: str, text: str) -> bool:
    return any(name == filename and piece in text for name, piece in ALLOWED)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _format_specs(tree: ast.AST) -> set[int]:
    """The ``:<7`` of an f-string: a width, not a version."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            out.update(id(n) for n in ast.walk(node.format_spec))
    return out


def _is_version_part(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in VERSION_PARTS


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def version_literals(source: str, filename: str = "<src>") -> list[str]:
    """Every version specifier, bare version or major/minor threshold written in ``source`` (docstrings aside)."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _format_specs(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            hit = SPECIFIER.search(node.value)
            if hit and not _allowed(filename, node.value):
                found.append(f"{filename}:{node.lineno}: {hit.group(0)!r} in {node.value[:60]!r}")
            elif BARE_VERSION.match(node.value):
                found.append(f"{filename}:{node.lineno}: the version {node.value!r}")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_version_part(s) for s in sides) and any(_is_number(s) for s in sides):
                found.append(f"{filename}:{node.lineno}: the threshold {ast.unparse(node)!r}")
    return found


def test_no_version_literal_in_diagnosis_modules() -> None:
    modules = sorted(DIAGNOSIS.glob("*.py"))
    assert {m.name for m in modules} >= {"rules.py", "doctor.py", "preflight.py", "compat.py", "classify.py"}
    found = [hit for m in modules for hit in version_literals(m.read_text(encoding="utf-8"), m.name)]
    assert found == []


def test_each_allowed_exception_is_still_there() -> None:
    """An exception whose string is gone must leave the list (it would hide a new literal of the same text)."""
    for (name, snippet), reason in ALLOWED.items():
        assert reason and snippet in (DIAGNOSIS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("source", [
    'NEEDS = ">=2.16"',
    'fix = "pip install \'numpy<2\'"',
    'fix = f"pin protobuf (TF 2.15-2.17: protobuf<5; {x})"',
    'if minor == "2.15": pass',
    'needs = 2 if tf.minor <= 15 else 3',
    'ok = v.major >= 2',
    'spec = "~=1.26"',
])
def test_the_scan_finds_a_restated_fact(source: str) -> None:
    assert version_literals(source), source


@pytest.mark.parametrize("source", [
    'def f():\n    """TensorFlow <= 2.15 is built around Keras 2 (an example in a docstring)."""\n',
    'line = f"{severity:<7} {what}"',
    'ok = len(parts) >= 3',
    'fix = f"upgrade the NVIDIA driver to >= {floor}"',
])
def test_the_scan_leaves_docstrings_widths_and_lengths(source: str) -> None:
    assert version_literals(source) == []


# --------------------------------------------------------------------------- one sentence, one source

GPU_HOST = HostFacts(gpus=(GpuInfo(0, "NVIDIA GeForce RTX 3090", "nvml"),), driver_version="550.54.15",
                     cpu_flags=("avx", "avx2", "fma"), machine="x86_64", system="Linux")
#: what torch==2.4.1 leaves in a tensorflow[and-cuda]==2.18.0 venv (tests/fakes/fake_gpu_box.py)
AFTER_TORCH = [f"{n}=={v}" for n, v in box.TF218_AFTER_TORCH241.items()] + ["numpy==2.0.2", "protobuf==5.29.6"]


def _combo(tf: str) -> CombinationInfo:
    return CombinationInfo(id=f"tf{tf}-cuda-pip", tensorflow=tf, tensorflow_id=f"tf{tf}", models_official=tf,
                           stack="cuda-pip", stack_kind="cuda-pip", python="3.11", models=(), tags=(),
                           requirements=(), force=(), expect=None, library_path=())


def _cudnn_sentences() -> tuple[list[str], list[str]]:
    """The cuDNN verdict as the pre-flight says it (pins) and as the doctor says it (loaded libraries)."""
    pre = [r.split("; this venv pins ")[0] for r in predict(_combo("2.18.0"), AFTER_TORCH, GPU_HOST).reasons
           if "; this venv pins nvidia-cudnn-" in r]
    doc = [f.what.split("; this process loaded it from ")[0] for f in diagnose(*box.linux_tf218_after_torch()).findings
           if "; this process loaded it from " in f.what]
    return pre, doc


def test_doctor_and_preflight_say_the_same_cudnn_sentence() -> None:
    assert box.TF218_AFTER_TORCH241["nvidia-cudnn-cu12"].startswith("9.1.0")  # the same cuDNN pinned and loaded
    pre, doc = _cudnn_sentences()
    expected = rules.match_cudnn("9.3", "9.1.0").sentence("2.18")
    assert expected is not None and "cuDNN 9.1.0 is an older minor" in expected
    assert pre == doc == [expected]


def _copy_with(tmp_path: Path, **release: dict[str, object]) -> Path:
    data = yaml.safe_load(compat.COMPAT.read_text(encoding="utf-8"))
    for minor, fields in release.items():
        data["tensorflow"][minor.replace("_", ".")].update(fields)
    path = tmp_path / "compat.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("cudnn, sentence", [
    ("9.1", None),  # the loaded 9.1.0 is then what TensorFlow was built against: no verdict
    ("9.5", "TensorFlow 2.18 was built against cuDNN 9.5; cuDNN 9.1.0 is an older minor"),
])
def test_a_changed_cudnn_fact_changes_both_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    cudnn: str, sentence: str | None) -> None:
    monkeypatch.setattr(compat, "COMPAT", _copy_with(tmp_path, **{"2_18": {"cudnn": cudnn}}))
    pre, doc = _cudnn_sentences()
    assert pre == doc
    if sentence is None:
        assert pre == []
    else:
        assert len(pre) == 1 and pre[0].startswith(sentence)


def test_a_changed_keras_fact_changes_the_rule_and_the_taxonomy(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    keras3 = ["keras==3.5.0", "numpy==1.26.4"]
    cpu = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx",), machine="x86_64", system="Linux")
    assert any("written for Keras 2" in r for r in predict(_combo("2.15.1"), keras3, cpu).reasons)
    assert "TF 2.15: keras<2.16" in load_taxonomy().rule("keras-mismatch").fix
    monkeypatch.setattr(compat, "COMPAT", _copy_with(tmp_path, **{"2_15": {"requires": {
        "numpy": ">=1.23.5,<2.0.0", "protobuf": ">=3.20.3,<5.0.0dev", "keras": ">=3.0.0"}}}))
    assert not any("Keras" in r for r in predict(_combo("2.15.1"), keras3, cpu).reasons)
    assert "TF 2.14: keras<2.15" in load_taxonomy().rule("keras-mismatch").fix


def test_taxonomy_ranges_are_the_compat_data() -> None:
    data = compat.load_compat()
    tax = load_taxonomy()
    protobuf = tax.rule("protobuf").fix
    for bc in data.tensorflow:  # every release's protobuf range, as TensorFlow declares it, without exclusions
        spec = ",".join(p for p in bc.protobuf_requirement.split(",") if not p.startswith("!="))
        assert f"protobuf{spec}" in protobuf
    numpy = tax.rule("numpy-abi")
    last_old = [bc for bc in data.tensorflow if bc.numpy_abi < data.tensorflow[-1].numpy_abi][-1]
    assert f"TensorFlow <= {last_old.tf}" in numpy.fix and f"built against NumPy {last_old.numpy_abi}.x" in numpy.explanation
    assert all("{" not in r.fix + r.explanation for r in tax.rules)


def test_an_unknown_placeholder_is_a_user_error() -> None:
    with pytest.raises(TfmatrixError, match=r"\{numpy_oldest\}"):
        compat_text.fill("pin {numpy_oldest}", compat_text.words())


def test_keras_major_is_read_from_the_declared_requirement() -> None:
    majors = {bc.tf: bc.keras_major for bc in compat.load_compat().tensorflow}
    assert majors["2.15"] == 2 and majors["2.16"] == 3 and None not in majors.values()
    assert compat.lower_bound_major(">=2.15.0,<2.16") == 2 and compat.lower_bound_major("<3") is None


def test_library_rules_are_the_compat_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relations = {rules.OTHER_MAJOR, rules.OLDER_MINOR, rules.NEWER_MINOR}
    data = yaml.safe_load(compat.COMPAT.read_text(encoding="utf-8"))
    assert all(set(rels) == relations for rels in data["libraries"].values())
    assert rules.match_cudnn("9.3", "9.1.0").broken and not rules.match_cuda_runtime("12.5", "12.1").broken
    data["libraries"]["cuDNN"]["older-minor"] = "accepted"
    path = tmp_path / "compat.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(compat, "COMPAT", path)
    assert not rules.match_cudnn("9.3", "9.1.0").broken


@pytest.mark.parametrize("error, cls", [
    ("ImportError: numpy.core.umath failed to import", "numpy-abi"),
    ("TypeError: Descriptors cannot be created directly.", "protobuf"),
])
def test_doctor_gives_the_taxonomys_fix_for_an_import_error(error: str, cls: str) -> None:
    """One text of the ranges: the doctor's fix for an unimportable TensorFlow is the taxonomy's, filled from compat."""
    probe, nvml = box.linux_tf218_after_torch()
    probe["tensorflow"] = probe["devices"] = {"error": error}
    finding = diagnose(probe, nvml).errors[0]
    assert finding.predicts == cls and finding.fix.startswith(load_taxonomy().rule(cls).fix)
    assert compat_text.requirement_table(cls.split("-")[0]) in finding.fix
