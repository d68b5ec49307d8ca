"""matrix.yaml: loading, the one selection predicate, profiles, ids, and every
way a malformed file is refused (one line naming file, key path and what was
expected; through the CLI: that line on stderr, exit status 2, no traceback).

Pure Python: no TensorFlow, no nox session is run.
"""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DEFAULT_MATRIX = REPO / "matrix.yaml"

try:
    import tfmatrix  # noqa: F401
except ImportError:  # plain `pytest` from a checkout, without `pip install -e .`
    sys.path.insert(0, str(SRC))

from matrices import BASE, SMALL_ONLY, base  # noqa: E402

from tfmatrix.errors import MatrixError  # noqa: E402
from tfmatrix.matrix.expand import combinations, is_selected, matrix_path_from_env  # noqa: E402
from tfmatrix.matrix.load import load_matrix, parse_matrix  # noqa: E402
from tfmatrix.matrix.model import Combination, Matrix  # noqa: E402
from tfmatrix.records.model import CombinationInfo  # noqa: E402

# --------------------------------------------------------------------------- helpers

def dump(d: Any) -> str:
    return yaml.safe_dump(d, sort_keys=False)


def write(tmp_path: Path, content: str | bytes, name: str = "matrix.yaml") -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def load(tmp_path: Path, d: dict[str, Any]) -> Matrix:
    return load_matrix(write(tmp_path, dump(d)))


def ids(combos: list[Combination]) -> list[str]:
    return [c.id for c in combos]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFMATRIX_")}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra)
    return env


def run_validate(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfmatrix", "validate", *args],
        capture_output=True, text=True, env=cli_env(**env), cwd=cwd or REPO, timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def default() -> Matrix:
    return load_matrix(DEFAULT_MATRIX)


# --------------------------------------------------------------------------- the default matrix


def test_default_matrix_loads(default: Matrix) -> None:
    assert default.schema_version == 1
    assert default.path == str(DEFAULT_MATRIX)
    assert default.sha256 == hashlib.sha256(DEFAULT_MATRIX.read_bytes()).hexdigest()
    assert default.pythons == ("3.11",)
    assert [t.id for t in default.tensorflow] == ["tf2.15", "tf2.16", "tf2.17", "tf2.18", "tf2.19", "tf2.20",
                                                  "tf2.21", "nightly", "tf2.20-kerashub", "tf2.15-numpy2", "tf2.15-protobuf7",
                                                  "tf2.18-cudnn8", "tf2.15-cudnn9"]
    load_only = {t.id: (t.package, t.export_with, t.resolve_cutoff) for t in default.tensorflow if t.load_only}
    assert load_only == {"tf2.21": ("tensorflow", "tf2.20", None),
                         "nightly": ("tf-nightly", "tf2.20", "2026-10-27T00:00:00Z"),
                         "tf2.20-kerashub": ("tensorflow", "tf2.20", None)}
    known_bad = {t.id: (t.force, t.expect, t.stacks) for t in default.tensorflow if t.expect}
    assert known_bad == {"tf2.15-numpy2": (("numpy>=2",), "numpy-abi", ("cpu",)),
                         "tf2.15-protobuf7": (("protobuf>=7",), "degraded", ("cpu",)),
                         "tf2.18-cudnn8": (("nvidia-cudnn-cu12==8.9.7.29",), "cudnn-mismatch", ("cuda-pip",)),
                         "tf2.15-cudnn9": (("nvidia-cudnn-cu12==9.3.0.75",), "cudnn-mismatch", ("cuda-pip",))}
    assert [(s.id, s.kind) for s in default.stacks] == [
        ("cpu", "cpu"), ("cuda-pip", "cuda-pip"), ("cuda-system", "cuda-system")]
    assert default.stacks[2].library_path == ("/usr/local/cuda/lib64",)
    assert [m.id for m in default.models] == ["retinanet-mnv2-256", "retinanet-mnv2-256-from-tf2.15",
                                              "kerashub-retinanet-128", "retinanet-r50-640", "maskrcnn-r50-640"]
    shared = default.models[1]  # the YAML anchor's copy: the same model, exported once by TF 2.15
    assert shared.export_with == "tf2.15" and shared.config_digest() == default.models[0].config_digest()
    assert [p.id for p in default.profiles] == ["default", "known-bad", "cpu-all", "cross-version", "kerashub",
                                                "nightly", "gpu", "gpu-mismatch", "gpu-system"]


def test_default_matrix_workload_and_timeouts(default: Matrix) -> None:
    w = default.workload
    assert (w.seed, w.images, w.batch_sizes, w.warmup) == (0, 8, (1, 4), 2)
    assert (w.latency_min_queries, w.latency_min_seconds) == (30, 5.0)
    assert (w.throughput_min_queries, w.throughput_min_seconds) == (8, 3.0)
    assert (w.load_repeats, w.import_repeats) == (5, 5)  # the fewest with which a cold-start metric can reach p < 0.01
    assert [default.timeouts.for_phase(p) for p in ("install", "import", "export", "load", "inference")] == [
        1800.0, 300.0, 1200.0, 600.0, 1200.0]


def test_default_profile_ids_in_order(default: Matrix) -> None:
    assert ids(combinations(default)) == ["tf2.15-cpu", "tf2.15-cuda-pip", "tf2.20-cpu", "tf2.20-cuda-pip",
                                          "tf2.21-cpu", "tf2.21-cuda-pip", "tf2.15-numpy2-cpu",
                                          "tf2.15-protobuf7-cpu"]
    newest = {c.id: c for c in combinations(default)}["tf2.21-cpu"]
    assert {m: e.id for m, e in newest.exporters.items()} == {"retinanet-mnv2-256": "tf2.20-cpu"}
    assert newest.requirements() == ["tensorflow==2.21.0", "nvidia-ml-py"]  # load-only: TensorFlow alone
    assert ids(combinations(default, "default")) == ids(combinations(default))


def test_default_cpu_combos_run_only_the_cpu_model(default: Matrix) -> None:
    combos = {c.id: c for c in combinations(default)}
    for cid in ("tf2.15-cpu", "tf2.20-cpu"):
        assert [m.id for m in combos[cid].models] == ["retinanet-mnv2-256"]
        assert not combos[cid].needs_gpu
    for cid in ("tf2.15-cuda-pip", "tf2.20-cuda-pip"):
        assert [m.id for m in combos[cid].models] == [
            "retinanet-mnv2-256", "retinanet-r50-640", "maskrcnn-r50-640"]
        assert combos[cid].needs_gpu


def test_default_requirements(default: Matrix) -> None:
    combos = {c.id: c for c in combinations(default, "all")}
    assert combos["tf2.15-cpu"].requirements() == [
        "tensorflow==2.15.1", "tf-models-official==2.15.0", "numpy<2", "tensorflow-metadata<1.18", "nvidia-ml-py"]
    assert combos["tf2.15-cuda-pip"].requirements() == [
        "tensorflow[and-cuda]==2.15.1", "tf-models-official==2.15.0", "numpy<2", "tensorflow-metadata<1.18", "nvidia-ml-py"]
    assert combos["tf2.20-cuda-pip"].requirements() == [
        "tensorflow[and-cuda]==2.20.0", "tf-models-official==2.20.0", "nvidia-ml-py"]
    # cuda-system: plain tensorflow against the host's CUDA, plus the NVML reader
    assert combos["tf2.18-cuda-system"].requirements() == [
        "tensorflow==2.18.1", "tf-models-official==2.18.0", "tensorflow-metadata<1.18", "nvidia-ml-py"]
    assert combos["tf2.18-cuda-system"].stack.library_path == ("/usr/local/cuda/lib64",)
    assert CombinationInfo.of(combos["tf2.19-cpu"]).models_official == "2.19.1"


def test_default_profile_all_is_the_product_minus_exclusions(default: Matrix) -> None:
    # with the single Python 3.11 none of the default exclusions (3.12+, 3.13+) applies
    expected = [f"{t.id}-{s.id}" for t in default.tensorflow for s in default.stacks
                if not t.stacks or s.id in t.stacks]
    # 8 versions (2.21 and the nightly load-only) x 3 stacks + 2 known-bad + 2 mismatches + the KerasHub exporter
    assert len(expected) == 29
    assert ids(combinations(default, "all")) == expected
    # and 'all' is exactly the union of the one-stack profiles and the known-bad one
    union = set()
    for prof in ("cpu-all", "gpu", "gpu-system", "known-bad", "gpu-mismatch", "nightly", "cross-version", "kerashub"):
        union |= set(ids(combinations(default, prof)))
    assert union == set(expected)


def test_profile_all_honours_exclusions(tmp_path: Path) -> None:
    m = load(tmp_path, base(
        pythons=["3.11", "3.12"],
        stacks=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda-pip", "kind": "cuda-pip"}], models=SMALL_ONLY,
        exclude=[{"tensorflow": "<2.16", "python": ">=3.12", "reason": "no wheels"}],
    ))
    assert ids(combinations(m, "all")) == [
        "tf2.15-cpu-py3.11", "tf2.15-cuda-pip-py3.11",
        "tf2.20-cpu-py3.11", "tf2.20-cpu-py3.12", "tf2.20-cuda-pip-py3.11", "tf2.20-cuda-pip-py3.12",
    ]


def test_cli_validate_default_matrix() -> None:
    proc = run_validate(str(DEFAULT_MATRIX))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == [
        "bench(tf2.15-cpu)", "bench(tf2.15-cuda-pip)", "bench(tf2.20-cpu)", "bench(tf2.20-cuda-pip)",
        "bench(tf2.21-cpu)", "bench(tf2.21-cuda-pip)", "bench(tf2.15-numpy2-cpu)", "bench(tf2.15-protobuf7-cpu)"]
    assert lines[0].split()[1:] == ["models=retinanet-mnv2-256", "tags=cpu,tf2.15,py3.11"]


def test_cli_validate_reads_tfmatrix_matrix(tmp_path: Path) -> None:
    p = write(tmp_path, dump(base()), "other.yaml")
    proc = run_validate(cwd=tmp_path, TFMATRIX_MATRIX="other.yaml")  # relative to the cwd
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 6  # 2 tf x 3 stacks, no profiles: everything
    assert proc.stdout.startswith("bench(tf2.15-cpu)  models=small  tags=cpu,tf2.15,py3.11\n")
    p.unlink()
    proc = run_validate(cwd=tmp_path, TFMATRIX_MATRIX="other.yaml")
    assert proc.returncode == 2
    assert proc.stderr == f"tfmatrix: error: {p}: got nothing (key missing); expected an existing matrix file\n"


def test_matrix_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFMATRIX_MATRIX", raising=False)
    assert matrix_path_from_env(tmp_path) == tmp_path / "matrix.yaml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFMATRIX_MATRIX", "sub/m.yaml")
    assert matrix_path_from_env(REPO) == (tmp_path / "sub" / "m.yaml").resolve()


# --------------------------------------------------------------------------- ids and tags


def test_single_python_ids_have_no_suffix(tmp_path: Path) -> None:
    got = ids(combinations(load(tmp_path, base()), "all"))
    assert got == ["tf2.15-cpu", "tf2.15-cuda-pip", "tf2.15-cuda-system",
                   "tf2.20-cpu", "tf2.20-cuda-pip", "tf2.20-cuda-system"]


def test_second_python_appends_suffix(tmp_path: Path) -> None:
    m = load(tmp_path, base(pythons=["3.11", "3.12"], stacks=[{"id": "cpu", "kind": "cpu"}], models=SMALL_ONLY))
    assert ids(combinations(m, "all")) == [
        "tf2.15-cpu-py3.11", "tf2.15-cpu-py3.12", "tf2.20-cpu-py3.11", "tf2.20-cpu-py3.12"]
    assert [c.python for c in combinations(m, "all")] == ["3.11", "3.12", "3.11", "3.12"]


def test_suffix_kept_when_a_profile_picks_one_python(tmp_path: Path) -> None:
    m = load(tmp_path, base(pythons=["3.11", "3.12"], stacks=[{"id": "cpu", "kind": "cpu"}], models=SMALL_ONLY,
                            profiles={"default": {"pythons": ["3.12"]}}))
    assert ids(combinations(m)) == ["tf2.15-cpu-py3.12", "tf2.20-cpu-py3.12"]


def test_ids_are_stable(tmp_path: Path) -> None:
    d = base(pythons=["3.11", "3.12"])
    p = write(tmp_path, dump(d))
    first = combinations(load_matrix(p), "all")
    second = combinations(load_matrix(p), "all")
    third = combinations(parse_matrix(copy.deepcopy(d), str(p)), "all")
    assert ids(first) == ids(second) == ids(third)
    assert len(set(ids(first))) == len(first) == 12
    assert [c.tags for c in first] == [c.tags for c in second]
    assert [c.requirements() for c in first] == [c.requirements() for c in third]


def test_tags(tmp_path: Path) -> None:
    m = load(tmp_path, base(
        pythons=["3.11", "3.12"],
        stacks=[{"id": "cpu", "kind": "cpu"}, {"id": "cpu-mkl", "kind": "cpu"},
                {"id": "cuda-pip", "kind": "cuda-pip"}],
        models=SMALL_ONLY,
    ))
    combos = {c.id: c for c in combinations(m, "all")}
    assert combos["tf2.20-cuda-pip-py3.12"].tags == ("cuda-pip", "tf2.20", "py3.12", "gpu")
    assert combos["tf2.15-cpu-mkl-py3.11"].tags == ("cpu-mkl", "tf2.15", "py3.11", "cpu")
    # a stack called "cpu" is not tagged "cpu" twice
    assert combos["tf2.15-cpu-py3.11"].tags == ("cpu", "tf2.15", "py3.11")
    assert CombinationInfo.of(combos["tf2.15-cpu-py3.11"]).tags == ("cpu", "tf2.15", "py3.11")


def test_explicit_tensorflow_id(tmp_path: Path) -> None:
    d = base()
    d["tensorflow"][1]["id"] = "tf-latest"
    m = load(tmp_path, d)
    assert [t.id for t in m.tensorflow] == ["tf2.15", "tf-latest"]
    assert "tf-latest-cpu" in ids(combinations(m, "all"))


# --------------------------------------------------------------------------- the one predicate


def _triple(m: Matrix, tf_id: str, stack_id: str) -> tuple[Any, Any]:
    tf = next(t for t in m.tensorflow if t.id == tf_id)
    stack = next(s for s in m.stacks if s.id == stack_id)
    return tf, stack


def test_exclude_by_tensorflow_and_python(tmp_path: Path) -> None:
    m = load(tmp_path, base(pythons=["3.11", "3.12"], exclude=[
        {"tensorflow": "<2.16", "python": ">=3.12", "reason": "TF 2.15 has no 3.12 wheels"}]))
    tf15, cpu = _triple(m, "tf2.15", "cpu")
    tf20, _ = _triple(m, "tf2.20", "cpu")
    assert is_selected(m, tf15, cpu, "3.12") == (False, "TF 2.15 has no 3.12 wheels")
    assert is_selected(m, tf15, cpu, "3.11") == (True, "")
    assert is_selected(m, tf20, cpu, "3.12") == (True, "")
    assert "tf2.15-cpu-py3.12" not in ids(combinations(m, "all"))
    assert "tf2.20-cpu-py3.12" in ids(combinations(m, "all"))


def test_exclude_by_stack_list_and_default_reason(tmp_path: Path) -> None:
    m = load(tmp_path, base(exclude=[{"tensorflow": "==2.15.*", "stack": ["cuda-pip", "cuda-system"]}]))
    tf15, cpu = _triple(m, "tf2.15", "cpu")
    _, pip = _triple(m, "tf2.15", "cuda-pip")
    _, system = _triple(m, "tf2.15", "cuda-system")
    assert is_selected(m, tf15, cpu, "3.11") == (True, "")
    assert is_selected(m, tf15, pip, "3.11") == (False, "excluded by a rule")
    assert is_selected(m, tf15, system, "3.11") == (False, "excluded by a rule")
    assert ids(combinations(m, "all")) == ["tf2.15-cpu", "tf2.20-cpu", "tf2.20-cuda-pip", "tf2.20-cuda-system"]


def test_exclude_single_stack_string(tmp_path: Path) -> None:
    m = load(tmp_path, base(exclude=[{"stack": "cuda-system", "reason": "no host CUDA"}]))
    assert m.exclude[0].stacks == ("cuda-system",)
    assert [c.stack.id for c in combinations(m, "all")] == ["cpu", "cuda-pip", "cpu", "cuda-pip"]


def test_first_matching_exclude_gives_the_reason(tmp_path: Path) -> None:
    m = load(tmp_path, base(exclude=[
        {"stack": "cpu", "reason": "first"}, {"tensorflow": ">=2", "reason": "second"}]))
    tf20, cpu = _triple(m, "tf2.20", "cpu")
    _, pip = _triple(m, "tf2.20", "cuda-pip")
    assert is_selected(m, tf20, cpu, "3.11") == (False, "first")
    assert is_selected(m, tf20, pip, "3.11") == (False, "second")


def test_include_rules_restrict(tmp_path: Path) -> None:
    m = load(tmp_path, base(include=[{"stack": "cpu"}, {"tensorflow": ">=2.20", "stack": "cuda-pip"}]))
    tf15, cpu = _triple(m, "tf2.15", "cpu")
    _, pip = _triple(m, "tf2.15", "cuda-pip")
    tf20, _ = _triple(m, "tf2.20", "cpu")
    assert is_selected(m, tf15, cpu, "3.11") == (True, "")
    assert is_selected(m, tf15, pip, "3.11") == (False, "matches no include rule")
    assert is_selected(m, tf20, pip, "3.11") == (True, "")
    assert ids(combinations(m, "all")) == ["tf2.15-cpu", "tf2.20-cpu", "tf2.20-cuda-pip"]


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    m = load(tmp_path, base(include=[{"stack": "cpu"}],
                            exclude=[{"tensorflow": "<2.16", "stack": "cpu", "reason": "old"}]))
    tf15, cpu = _triple(m, "tf2.15", "cpu")
    assert is_selected(m, tf15, cpu, "3.11") == (False, "old")
    assert ids(combinations(m, "all")) == ["tf2.20-cpu"]


def test_specifiers_match_prereleases(tmp_path: Path) -> None:
    d = base()
    d["tensorflow"].append({"version": "2.21.0rc1", "models_official": "2.20.0"})
    d["exclude"] = [{"tensorflow": ">2.20", "reason": "not released"}]  # 2.21.0rc1 > 2.20
    m = load(tmp_path, d)
    tf21, cpu = _triple(m, "tf2.21", "cpu")
    assert is_selected(m, tf21, cpu, "3.11") == (False, "not released")


# --------------------------------------------------------------------------- profiles


def test_unknown_profile(default: Matrix) -> None:
    with pytest.raises(MatrixError) as info:
        combinations(default, "weekly")
    err = info.value
    assert err.key == "profiles"
    assert err.value == "weekly"
    assert str(err) == (f"{DEFAULT_MATRIX}: profiles: got 'weekly' (str); expected one of the profiles defined: "
                        "default, known-bad, cpu-all, cross-version, kerashub, nightly, gpu, gpu-mismatch, gpu-system, all")


def test_cli_unknown_profile() -> None:
    proc = run_validate(str(DEFAULT_MATRIX), "--profile", "weekly")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"tfmatrix: error: {DEFAULT_MATRIX}: profiles: got 'weekly'")


def test_profile_filters_tensorflow_stacks_models(tmp_path: Path) -> None:
    m = load(tmp_path, base(pythons=["3.11", "3.12"], profiles={
        "default": {"tensorflow": ["tf2.20"], "stacks": ["cpu"]},
        "big-only": {"description": "the large model", "models": ["big"]},
        "py312": {"pythons": ["3.12"], "stacks": ["cuda-pip"]},
    }))
    assert ids(combinations(m)) == ["tf2.20-cpu-py3.11", "tf2.20-cpu-py3.12"]
    # the large model runs on the cuda stacks only, so the cpu combinations drop out
    big = combinations(m, "big-only")
    assert {c.stack.id for c in big} == {"cuda-pip", "cuda-system"}
    assert all([x.id for x in c.models] == ["big"] for c in big)
    assert len(big) == 8
    assert m.profile("big-only").description == "the large model"
    assert ids(combinations(m, "py312")) == ["tf2.15-cuda-pip-py3.12", "tf2.20-cuda-pip-py3.12"]


def test_models_argument_narrows_models(tmp_path: Path) -> None:
    m = load(tmp_path, base())
    combos = combinations(m, "all", models=["big"])
    assert ids(combos) == ["tf2.15-cuda-pip", "tf2.15-cuda-system", "tf2.20-cuda-pip", "tf2.20-cuda-system"]
    assert ids(combinations(m, "all", models=["nope"])) == []


def test_no_profiles_key_means_default_is_everything(tmp_path: Path) -> None:
    m = load(tmp_path, base())
    assert [p.id for p in m.profiles] == ["default"]
    assert ids(combinations(m)) == ids(combinations(m, "all"))


def test_empty_profile_body(tmp_path: Path) -> None:
    p = write(tmp_path, dump(base()) + "profiles:\n  default:\n")
    m = load_matrix(p)
    assert ids(combinations(m)) == ids(combinations(m, "all"))


def test_yaml_merge_keys_are_allowed(tmp_path: Path) -> None:
    text = dump(base(models=[])).replace("models: []\n", """models:
  - &small {id: small, experiment: retinanet_resnetfpn_coco, input_size: [256, 256]}
  - <<: *small
    id: small-320
    input_size: [320, 320]
""")
    m = load_matrix(write(tmp_path, text))
    assert [(x.id, x.experiment, x.input_size) for x in m.models] == [
        ("small", "retinanet_resnetfpn_coco", (256, 256)),
        ("small-320", "retinanet_resnetfpn_coco", (320, 320)),
    ]


# --------------------------------------------------------------------------- malformed matrices

Content = Callable[[], "str | bytes | None"]


def _data(**changes: Any) -> Content:
    return lambda: dump(base(**changes))


def _edit(fn: Callable[[dict[str, Any]], None]) -> Content:
    def make() -> str:
        d = base()
        fn(d)
        return dump(d)
    return make


def _text(text: str | bytes | None) -> Content:
    return lambda: text


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set d[a][b]... for "a.0.b"; a trailing "-" deletes the key instead."""
    def fn(d: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.rstrip("-").split(".")]
        target: Any = d
        for k in keys[:-1]:
            target = target[k]
        if path.endswith("-"):
            del target[keys[-1]]
        else:
            target[keys[-1]] = copy.deepcopy(value)
    return fn


def _append(key: str, item: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d[key].append(copy.deepcopy(item))


_MINIMAL = dump(base())

#: (id, content, key path ("" for file-level problems), fragment of "expected ...", also via the CLI?)
#: issue 13's entries: a load-only TF 2.21, a pinned nightly (both loading TF 2.20's export), a SavedModel
LOAD_ONLY = {"id": "tf2.21", "version": "2.21.0", "export_with": "tf2.20"}
NIGHTLY = {"id": "nightly", "package": "tf-nightly", "version": "2.23.0.dev20261026", "export_with": "tf2.20"}
BROUGHT = {"id": "mine", "source": "saved_model", "path": "mine"}

BAD: list[tuple[str, Content, str, str, bool]] = [
    ("unknown-top-level-key", _data(benchmarks=["x"]), "benchmarks", "no such key (allowed: schema_version", True),
    ("unknown-stack-key", _edit(_set("stacks.0.cuda", "12.3")), "stacks[0].cuda",
     "no such key (allowed: id, kind, requires, library_path, hardware)", False),
    ("unknown-latency-key", _data(workload={"latency": {"min_query": 3}}), "workload.latency.min_query",
     "no such key (allowed: min_queries, min_seconds)", False),
    # issue 13: load-only entries, exports shared between entries, SavedModels you bring, packages, nightlies
    ("load-only-without-a-producer", _edit(_set("tensorflow.0.models_official-", None)), "tensorflow[0]",
     "a load-only entry (no models_official) cannot build the Model Garden model 'small'", True),
    ("export-with-an-unknown-entry", _edit(_set("models.0.export_with", "tf9.9")), "models[0].export_with",
     "one of the tensorflow ids defined: tf2.15, tf2.20", True),
    ("entry-export-with-an-unknown-entry", _edit(_set("tensorflow.0.export_with", "nope")),
     "tensorflow[0].export_with", "one of the tensorflow ids defined", True),
    ("export-with-a-load-only-entry", _data(tensorflow=BASE["tensorflow"] + [LOAD_ONLY],
                                            models=[dict(BASE["models"][0], export_with="tf2.21")]),
     "models[0].export_with", "an entry with models_official (a load-only entry cannot export)", True),
    ("export-with-an-entry-without-a-cpu-stack",
     _data(tensorflow=[BASE["tensorflow"][0], dict(BASE["tensorflow"][1], stacks=["cuda-pip"])],
           models=[dict(BASE["models"][0], export_with="tf2.20")]),
     "models[0].export_with", "an entry that may run on a stack of kind cpu", True),
    ("saved-model-folder-missing", _data(models=SMALL_ONLY + [dict(BROUGHT, path="no-such-folder")]),
     "models[1].path", "an existing SavedModel folder", True),
    ("saved-model-folder-without-saved-model-pb", _data(models=SMALL_ONLY + [dict(BROUGHT, path=".")]),
     "models[1].path", "holds no saved_model.pb", True),
    ("saved-model-with-an-experiment", _data(models=SMALL_ONLY + [dict(BROUGHT, experiment="retinanet")]),
     "models[1].experiment", "no such key (allowed: id, source, input_size, stacks, path", True),
    ("saved-model-with-export-with", _data(models=SMALL_ONLY + [dict(BROUGHT, export_with="tf2.20")]),
     "models[1].export_with", "no such key", True),
    ("model-source-unknown", _data(models=SMALL_ONLY + [dict(BROUGHT, source="hub")]), "models[1].source",
     "one of model-garden, saved_model", True),
    ("saved-model-without-a-path", _data(models=SMALL_ONLY + [{"id": "mine", "source": "saved_model"}]),
     "models[1].path", "this key to be set", True),
    ("requires-imports-not-a-module", _data(models=SMALL_ONLY + [dict(BROUGHT, requires_imports=["tensorflow-text"])]),
     "models[1].requires_imports[0]", "a Python module name such as tensorflow_text", True),
    ("saved-model-input-size-zero", _data(models=SMALL_ONLY + [dict(BROUGHT, input_size=[0, 320])]),
     "models[1].input_size", "integers from 1 to 8192", True),
    ("unknown-tensorflow-package", _data(tensorflow=BASE["tensorflow"] + [dict(NIGHTLY, package="tensorflow-gpu")]),
     "tensorflow[2].package", "one of tensorflow, tensorflow-cpu, tf-nightly", True),
    ("nightly-not-pinned-to-a-build", _data(tensorflow=BASE["tensorflow"] + [dict(NIGHTLY, version="2.23.0")]),
     "tensorflow[2].version", "one nightly build, pinned exactly: X.Y.Z.devYYYYMMDD", True),
    ("nightly-with-an-impossible-date",
     _data(tensorflow=BASE["tensorflow"] + [dict(NIGHTLY, version="2.23.0.dev20261399")]),
     "tensorflow[2].version", "one nightly build, pinned exactly", True),
    ("nightly-latest", _data(tensorflow=BASE["tensorflow"] + [dict(NIGHTLY, version="latest")]),
     "tensorflow[2].version", "a PEP 440 version", True),
    ("nightly-with-models-official",
     _data(tensorflow=BASE["tensorflow"] + [dict(NIGHTLY, models_official="2.20.0")]),
     "tensorflow[2].models_official", "no models_official with package tf-nightly", True),
    ("nightly-pinned-through-requires", _edit(_set("tensorflow.1.requires", ["tf-nightly==2.23.0.dev20261026"])),
     "tensorflow[1].requires[0]", "an extra pin", True),
    ("missing-stacks", _edit(_set("stacks-", None)), "stacks", "this key to be set", False),
    ("pythons-a-string", _data(pythons="3.11"), "pythons", "a list", False),
    ("pythons-empty", _data(pythons=[]), "pythons", "a non-empty list", False),
    ("input-size-one-number", _edit(_set("models.0.input_size", [256])), "models[0].input_size",
     "[height, width], integers from 32 to 4096, multiples of 32", False),
    ("input-size-not-multiple-of-32", _edit(_set("models.1.input_size", [640, 600])), "models[1].input_size",
     "multiples of 32", False),
    ("batch-size-zero", _data(workload={"batch_sizes": [1, 0]}), "workload.batch_sizes[1]", "an integer >= 1", False),
    ("batch-size-string", _data(workload={"batch_sizes": ["4"]}), "workload.batch_sizes[0]", "an integer >= 1", False),
    ("batch-sizes-repeated", _data(workload={"batch_sizes": [4, 4]}), "workload.batch_sizes",
     "distinct values", False),
    # YAML reads an unquoted 3.10 as the float 3.1
    ("python-unquoted-3.10", _text(_MINIMAL.replace("- '3.11'", "- 3.10")), "pythons[0]",
     'a quoted Python version such as "3.11"', True),
    ("python-not-3.x", _data(pythons=["2.7"]), "pythons[0]", "a quoted Python version", False),
    ("tf-version-unquoted", _text(_MINIMAL.replace("version: 2.20.0", "version: 2.20")),
     "tensorflow[1].version", "a quoted version string", False),
    ("tf-version-not-pep440", _edit(_set("tensorflow.0.version", "2.15.x")), "tensorflow[0].version",
     'a PEP 440 version such as "2.20.0"', False),
    ("models-official-not-pep440", _edit(_set("tensorflow.1.models_official", "latest")),
     "tensorflow[1].models_official", "a PEP 440 version", False),
    ("pin-shell-injection", _edit(_set("tensorflow.0.requires", ["tensorflow==2.15; rm -rf ~"])),
     "tensorflow[0].requires[0]", 'a PEP 508 requirement such as "numpy<2"', True),
    ("pin-installer-option", _edit(_set("tensorflow.0.requires", ["numpy<2", "--index-url=http://evil"])),
     "tensorflow[0].requires[1]", "not an installer option", True),
    ("index-url-not-a-url", _data(index_url="evil; rm -rf ~"), "index_url", "an http:// or https:// URL", True),
    ("index-url-other-scheme", _data(index_url="file:///etc/passwd"), "index_url", "an http:// or https:// URL",
     False),
    ("index-url-with-space", _data(index_url="https://a.example/simple --trusted-host x"), "index_url",
     "an http:// or https:// URL", False),
    ("pin-not-a-string", _edit(_set("stacks.1.requires", [2])), "stacks[1].requires[0]",
     "a PEP 508 requirement", False),
    ("pin-overrides-tensorflow", _edit(_set("tensorflow.0.requires", ["tensorflow-cpu==2.16.1"])),
     "tensorflow[0].requires[0]", "an extra pin; TensorFlow and tf-models-official come from", False),
    # pip reads tf.models.official as tf-models-official (PEP 503 names)
    ("pin-overrides-models-official-spelled-oddly", _edit(_set("stacks.0.requires", ["TF.Models_Official==2.0"])),
     "stacks[0].requires[0]", "an extra pin", False),
    ("duplicate-tensorflow-id",
     _edit(_append("tensorflow", {"version": "2.15.0", "models_official": "2.15.0"})),
     "tensorflow[2]", "an id not already used in tensorflow", False),
    ("duplicate-stack-id", _edit(_append("stacks", {"id": "cpu", "kind": "cuda-pip"})),
     "stacks[3]", "an id not already used in stacks", True),
    ("duplicate-model-id", _edit(_append("models", {"id": "small", "experiment": "x", "input_size": [32, 32]})),
     "models[2].id", "an id not already used in models", False),
    ("ids-that-collide-as-combination-ids",
     _data(tensorflow=[{"version": "2.15.1", "models_official": "2.15.0"},
                       {"id": "tf2.15-cuda", "version": "2.16.2", "models_official": "2.16.0"}],
           stacks=[{"id": "cpu", "kind": "cpu"}, {"id": "pip", "kind": "cpu"},
                   {"id": "cuda-pip", "kind": "cuda-pip"}], models=SMALL_ONLY),
     "stacks[2].id", "ids that keep combination ids distinct", True),
    ("duplicate-yaml-key", _text(_MINIMAL + "pythons: ['3.12']\n"), "line 34 column 1", "valid YAML", True),
    ("unknown-stack-kind", _edit(_set("stacks.1.kind", "rocm")), "stacks[1].kind",
     "one of cpu, cuda-pip, cuda-system", False),
    ("model-names-unknown-stack", _edit(_set("models.1.stacks", ["cuda-pip", "cuda"])), "models[1].stacks[1]",
     "one of the stacks defined: cpu, cuda-pip, cuda-system", False),
    ("rule-names-unknown-stack", _data(exclude=[{"stack": "tpu"}]), "exclude[0].stack[0]",
     "one of the stacks defined", True),
    ("id-with-path", _edit(_set("stacks.0.id", "../evil")), "stacks[0].id",
     "an id of letters, digits, '.', '_' or '-'", True),
    ("id-with-space", _edit(_set("models.0.id", "a b")), "models[0].id", "an id of letters, digits", False),
    ("id-too-long", _edit(_set("tensorflow.0.id", "t" * 64)), "tensorflow[0].id", "at most 63", False),
    ("schema-version-2", _data(schema_version=2), "schema_version", "the integer 1", False),
    ("schema-version-string", _data(schema_version="1"), "schema_version", "the integer 1", False),
    ("empty-file", _text(""), "(top level)", "a mapping", True),
    ("top-level-list", _text("- schema_version: 1\n"), "(top level)", "a mapping", False),
    ("yaml-syntax-error", _text("schema_version: 1\npythons: ['3.11'\nstacks: []\n"), "line 3 column 1",
     "valid YAML", True),
    ("yaml-tab-indent", _text("schema_version: 1\n\tpythons: []\n"), "line 2 column 1", "valid YAML", False),
    ("yaml-unhashable-key", _text(_MINIMAL + "? [a, b]\n: 1\n"), "line 34 column 3", "valid YAML", True),
    ("yaml-nested-too-deep", _text("schema_version: " + "[" * 5000 + "]" * 5000 + "\n"), "document",
     "valid YAML", True),
    ("two-yaml-documents", _text(_MINIMAL + "---\nschema_version: 1\n"), "line 34 column 1", "valid YAML", False),
    ("not-utf8", _text(b"schema_version: 1\npythons: ['3.11\xff']\n"), "", "a UTF-8 text file", True),
    ("missing-file", _text(None), "", "an existing matrix file", True),
    ("profiles-a-list", _data(profiles=["default"]), "profiles", "a mapping of profile name to profile", False),
    ("profile-without-default", _data(profiles={"cpu": {"stacks": ["cpu"]}}), "profiles",
     "a 'default' profile", True),
    ("profile-named-all", _data(profiles={"default": {}, "all": {}}), "profiles.all",
     "a profile name other than 'all' (reserved)", False),
    ("profile-names-unknown-tensorflow", _data(profiles={"default": {"tensorflow": ["tf2.99"]}}),
     "profiles.default.tensorflow[0]", "one of the tensorflow ids defined: tf2.15, tf2.20", False),
    ("profile-unknown-key", _data(profiles={"default": {"stack": ["cpu"]}}), "profiles.default.stack",
     "no such key (allowed: description, tensorflow, stacks, pythons, models, hardware)", False),
    ("rule-without-condition", _data(exclude=[{"reason": "everything?"}]), "exclude[0]",
     "at least one of tensorflow, stack, python", True),
    ("rule-with-empty-stack-list", _data(include=[{"stack": []}]), "include[0].stack",
     "a stack id or a non-empty list of stack ids", False),
    ("rule-specifier-without-operator", _data(include=[{"tensorflow": "2.16"}]), "include[0].tensorflow",
     "a PEP 440 specifier", False),
    ("rule-python-unquoted", _text(_MINIMAL + "exclude:\n- {python: 3.12}\n"), "exclude[0].python",
     "a quoted version specifier", False),
    ("rule-empty-specifier", _data(exclude=[{"tensorflow": ""}]), "exclude[0].tensorflow",
     "a non-empty specifier", False),
    ("library-path-relative", _edit(_set("stacks.2.library_path", ["cuda/lib64"])), "stacks[2].library_path[0]",
     "an absolute folder", True),
    ("library-path-escapes", _edit(_set("stacks.2.library_path", ["/usr/local/../../etc"])),
     "stacks[2].library_path[0]", "without '..'", True),
    ("library-path-is-a-path-list", _edit(_set("stacks.2.library_path", ["/a/lib:/b/lib"])),
     "stacks[2].library_path[0]", "one folder per list item", False),
    ("library-path-with-newline", _edit(_set("stacks.2.library_path", ["/a/lib\nrm -rf ~"])),
     "stacks[2].library_path[0]", "an absolute folder", False),
    ("library-path-on-cpu-stack", _edit(_set("stacks.0.library_path", ["/usr/lib"])), "stacks[0].library_path",
     "no library_path except on a cuda-system stack", True),
    ("negative-timeout", _data(timeouts={"export": -5}), "timeouts.export", "a finite number >= 1.0", True),
    ("timeout-nan", _text(_MINIMAL + "timeouts: {load: .nan}\n"), "timeouts.load", "a finite number >= 1.0", False),
    ("timeout-inf", _text(_MINIMAL + "timeouts: {load: .inf}\n"), "timeouts.load", "a finite number >= 1.0", False),
    ("unknown-phase-timeout", _data(timeouts={"compile": 10}), "timeouts.compile", "no such key", False),
    ("negative-seed", _data(workload={"seed": -1}), "workload.seed", "an integer >= 0", False),
    ("overrides-not-a-mapping", _edit(_set("models.0.overrides", ["task"])), "models[0].overrides",
     "a mapping of Model Garden config overrides", False),
    ("overrides-with-mixed-keys", _text(_MINIMAL.replace("input_size:\n  - 256", "overrides: {1: a, b: c}\n  input_size:\n  - 256", 1)),
     "models[0].overrides", "plain YAML values", False),
    ("overrides-with-a-date", _text(_MINIMAL.replace("input_size:\n  - 256", "overrides: {since: 2024-01-01}\n  input_size:\n  - 256", 1)),
     "models[0].overrides", "plain YAML values", False),
    ("key-with-a-newline", _text(_MINIMAL + '"pythons\\nextra": 1\n'), "'pythons\\nextra'", "no such key", True),
]

_CLI = [pytest.param(*case[1:4], id=case[0]) for case in BAD if case[4]]


def _materialise(tmp_path: Path, content: Content) -> Path:
    body = content()
    path = tmp_path / "bad-matrix.yaml"
    if body is not None:
        write(tmp_path, body, path.name)
    return path


def test_bad_case_ids_are_distinct() -> None:
    names = [case[0] for case in BAD]
    assert len(names) == len(set(names))
    assert len(names) >= 15
    assert len(_CLI) >= 5


@pytest.mark.parametrize("content,key,expected", [pytest.param(*c[1:4], id=c[0]) for c in BAD])
def test_malformed_matrix_is_refused(tmp_path: Path, content: Content, key: str, expected: str) -> None:
    path = _materialise(tmp_path, content)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    err = info.value
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, msg
    assert err.file == str(path)
    assert err.key == key, msg
    assert msg.startswith(f"{path}: {key}: got " if key else f"{path}: got "), msg
    assert "; expected " in msg
    assert expected in msg.split("; expected ", 1)[1], msg


@pytest.mark.parametrize("content,key,expected", _CLI)
def test_malformed_matrix_via_cli(tmp_path: Path, content: Content, key: str, expected: str) -> None:
    path = _materialise(tmp_path, content)
    proc = run_validate(str(path))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr.endswith("\n"), proc.stderr
    assert lines[0].startswith(f"tfmatrix: error: {path}: {key}" if key else f"tfmatrix: error: {path}: got ")
    assert expected in lines[0]


def test_python_3_10_message_shows_the_float(tmp_path: Path) -> None:
    p = write(tmp_path, _MINIMAL.replace("- '3.11'", "- 3.10"))
    with pytest.raises(MatrixError, match=r"pythons\[0\]: got 3\.1 \(float\)"):
        load_matrix(p)
    assert load_matrix(write(tmp_path, _MINIMAL.replace("- '3.11'", "- '3.10'"))).pythons == ("3.10",)


def test_duplicate_yaml_key_is_named(tmp_path: Path) -> None:
    p = write(tmp_path, _MINIMAL + "pythons: ['3.12']\n")
    with pytest.raises(MatrixError, match=r"got \"duplicate key 'pythons'\""):
        load_matrix(p)


def test_overriding_a_merged_key_is_not_a_duplicate(tmp_path: Path) -> None:
    text = _MINIMAL.replace("models:\n", "models:\n- &m {id: m, experiment: e, input_size: [64, 64]}\n"
                                         "- {<<: *m, id: m2, id: m3}\n", 1)
    with pytest.raises(MatrixError, match=r"duplicate key 'id'"):
        load_matrix(write(tmp_path, text))
    ok = _MINIMAL.replace("models:\n", "models:\n- &m {id: m, experiment: e, input_size: [64, 64]}\n"
                                       "- {<<: *m, id: m2}\n", 1)
    assert [m.id for m in load_matrix(write(tmp_path, ok)).models][:2] == ["m", "m2"]


def test_index_url_comes_from_its_own_key_and_reaches_the_installer_as_one_argument(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(dump(base(index_url="https://mirror.example/simple")))
    assert load_matrix(path).index_url == "https://mirror.example/simple"
    path.write_text(dump(base()))
    assert load_matrix(path).index_url is None


# --------------------------------------------------------------------------- a SavedModel you bring, once per stack


def _per_stack(tmp_path: Path, *models: dict[str, Any]) -> dict[str, Any]:
    for name in ("plain", "trt"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "saved_model.pb").write_bytes(b"graph")
    return dict(base(), models=SMALL_ONLY + list(models))


def test_a_saved_model_given_once_per_stack_gives_each_combination_its_own(tmp_path: Path) -> None:
    d = _per_stack(tmp_path, dict(BROUGHT, path="plain", stacks=["cpu"]),
                   dict(BROUGHT, path="trt", stacks=["cuda-pip"]))
    m = load(tmp_path, d)
    paths = {c.id: [str(x.path) for x in c.models if x.id == "mine"] for c in combinations(m, "default")}
    names = {cid: [Path(x).name for x in p] for cid, p in paths.items()}
    assert names["tf2.15-cpu"] == names["tf2.20-cpu"] == ["plain"]
    assert names["tf2.15-cuda-pip"] == ["trt"] and names["tf2.15-cuda-system"] == []  # neither entry names it


@pytest.mark.parametrize("second", [
    {"path": "trt", "stacks": ["cpu"]},  # the same stack twice: a combination would get two models of one id
    {"path": "trt"},  # no stacks: every stack
    {"source": "model-garden", "experiment": "x", "input_size": [32, 32], "stacks": ["cuda-pip"]},
])
def test_a_repeated_model_id_needs_saved_models_on_disjoint_stacks(tmp_path: Path, second: dict[str, Any]) -> None:
    first = dict(BROUGHT, path="plain", stacks=["cpu"])
    extra = {k: v for k, v in dict(BROUGHT, **second).items() if not (k == "path" and "experiment" in second)}
    with pytest.raises(MatrixError, match=r"models\[\d\]\.id.*given once per stack"):
        load(tmp_path, _per_stack(tmp_path, first, extra))
