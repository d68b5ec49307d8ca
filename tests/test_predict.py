"""``nox -s predict`` offline: the resolver's real words read into records, the command, the records' store.

The resolver is the one seam: :func:`tfmatrix.predicting.predict.resolve_lock` is replaced by one that answers
with uv's own words, saved from real ``uv pip compile --python-platform`` runs (tests/data/predict/*.log, uv
0.13.10, 2026-12-07).  The network test (tests/test_predict_real.py) runs the real resolver.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfmatrix.diagnosis import platforms
from tfmatrix.errors import ResultsError, TfmatrixError
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.predicting import command
from tfmatrix.predicting import predict as predict_mod
from tfmatrix.records.model import InstallOutcome
from tfmatrix.records.prediction import PlatformPrediction, split_key
from tfmatrix.records.schema import check
from tfmatrix.records.store import RunDir, load_run

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "predict"


def uv_words(name: str) -> str:
    """A saved resolve log less its command line and exit line: what the resolver said."""
    lines = (SAMPLES / f"{name}.log").read_text(encoding="utf-8").splitlines()
    return "\n".join(ln for ln in lines[1:] if not ln.startswith("[exit ")).strip()


def fake_resolver(answers: dict[str, str]):
    """``resolve_lock`` answering with the saved words of the first requirement it finds in ``answers``,
    else resolving to the requirements themselves."""
    def resolve_lock(requirements, *, lock, timeout, log, python="", target=None, force=(), index_url=None,
                     as_of=None):
        argv = ["uv", "pip", "compile", str(lock.with_suffix(".in")), "--python-platform", target[0],
                "--python-version", target[1]]
        out = InstallOutcome(backend="uv", seconds=0.5, steps=[{"name": "resolve", "argv": argv}])
        words = next((w for req, w in answers.items() if req in requirements), None)
        if words is None:
            out.ok, out.resolved = True, sorted(requirements)
        else:
            out.failed_step, out.error = "resolve", words
        return out
    return resolve_lock


@pytest.fixture
def combos(ctx):
    return {c.id: c for c in ctx.combos}


def predicted(monkeypatch, tmp_path, combo, platform: str, words: str | None, python: str | None = None):
    answers = {r: words for r in combo.requirements()[:1]} if words else {}
    monkeypatch.setattr(predict_mod, "resolve_lock", fake_resolver(answers))
    data = platforms.load()
    return predict_mod.predict(combo, data.platform(platform), python or combo.python, data, run_id="r",
                               work=tmp_path)


@pytest.mark.parametrize("cid,log,platform,why", [
    ("tf2.15-cpu", "tf2.15-cpu@windows-py3.11", "windows",
     "tensorflow-text 2.15.0 has no win_amd64 wheel; it is required by tf-models-official 2.15.0 "
     "(its wheels: manylinux_2_17_x86_64, manylinux2014_x86_64, macosx_10_9_x86_64)"),
    ("tf2.20-cpu", "tf2.20-cpu@windows-py3.11", "windows",
     "tensorflow-text>=2.20.0,<=2.20.1 has no win_amd64 wheel; it is required by tf-models-official>=2.20.0 "
     "(its wheels: manylinux_2_17_aarch64, manylinux_2_17_x86_64, manylinux2014_aarch64, manylinux2014_x86_64, "
     "macosx_11_0_arm64)"),
    ("tf2.15-cpu", "tf2.15-cpu@macos-arm64-py3.11", "macos-arm64",
     "tensorflow-text 2.15.0 has no macosx_arm64 wheel; it is required by tf-models-official 2.15.0 "
     "(its wheels: manylinux_2_17_x86_64, manylinux2014_x86_64, macosx_10_9_x86_64)"),
])
def test_the_model_gardens_missing_tensorflow_text_is_one_line_with_the_platforms_fix(
        monkeypatch, tmp_path, combos, cid, log, platform, why):
    rec = predicted(monkeypatch, tmp_path, combos[cid], platform, uv_words(log))
    assert rec.status == "no-wheel" and rec.why == why
    assert rec.failure is not None and rec.failure.culprit.startswith("tensorflow-text")
    advice = platforms.load().advice("tensorflow-text", platform)
    assert advice is not None and rec.failure.fix == advice.advice  # the platform's own, not a generic fix
    assert rec.statements == [] and not rec.installable


def test_cuda_pip_on_windows_names_the_gpu_wheel_then_what_stops_its_cpu_form(monkeypatch, tmp_path, combos):
    """uv stops at the first missing wheel (NCCL); TensorFlow says no GPU there anyway, so the CPU form is
    resolved too, and what stops it (the Model Garden's tensorflow-text) is the culprit with its fix."""
    combo = combos["tf2.15-cuda-pip"]
    monkeypatch.setattr(predict_mod, "resolve_lock", fake_resolver({
        "tensorflow[and-cuda]==2.15.1": uv_words("tf2.15-cuda-pip@windows-py3.11"),
        "tf-models-official==2.15.0": uv_words("tf2.15-cpu@windows-py3.11")}))
    data = platforms.load()
    rec = predict_mod.predict(combo, data.platform("windows"), "3.11", data, run_id="r", work=tmp_path)
    assert rec.status == "no-wheel"
    assert rec.why == ("nvidia-nccl-cu12 2.16.5 has no win_amd64 wheel; it is required by tensorflow[and-cuda] 2.15.1 "
                       "(its wheels: manylinux1_x86_64); without its CUDA extra: tensorflow-text 2.15.0 has no "
                       "win_amd64 wheel; it is required by tf-models-official 2.15.0 (its wheels: "
                       "manylinux_2_17_x86_64, manylinux2014_x86_64, macosx_10_9_x86_64)")
    (said,) = rec.statements
    assert said["statement"] == "no GPU on native Windows after TF 2.10 (use WSL2)"
    assert said["source"].startswith("[tf-pip]") and "2.10 was the last" in said["quote"]
    assert rec.failure is not None and rec.failure.culprit == "tensorflow-text 2.15.0"
    assert "examples/windows.yaml" in rec.failure.fix


def test_a_gpu_combination_whose_cpu_form_resolves_keeps_tensorflows_advice(monkeypatch, tmp_path, combos):
    combo = combos["tf2.21-cuda-pip"]
    monkeypatch.setattr(predict_mod, "resolve_lock", fake_resolver({
        "tensorflow[and-cuda]==2.21.0": uv_words("tf2.15-cuda-pip@windows-py3.11")}))
    data = platforms.load()
    rec = predict_mod.predict(combo, data.platform("windows"), "3.11", data, run_id="r", work=tmp_path)
    assert rec.status == "no-wheel" and rec.why.endswith("; without its CUDA extra it resolves (the CPU only)")
    assert rec.failure is not None and "WSL2" in rec.failure.fix and rec.failure.culprit.startswith("nvidia-nccl")


def test_a_wheel_missing_for_the_python_names_its_abi_tag(monkeypatch, tmp_path):
    combo = combinations(load_matrix(ROOT / "examples" / "windows-native.yaml"))[0]
    rec = predicted(monkeypatch, tmp_path, combo, "windows", uv_words("tf2.10-cp310-abi@windows-py3.10"), "3.10")
    assert rec.key == "tf2.10-win-cuda112@windows-py3.10"
    assert rec.status == "no-wheel"
    assert rec.why == ("opencv-python-headless 4.5.2.52 has no cp310 wheel; the matrix requires it "
                       "(its wheels: cp36m, cp37m, cp38, cp39)")


def test_a_yanked_pin_is_a_resolver_conflict_with_the_resolvers_words(monkeypatch, tmp_path):
    combo = combinations(load_matrix(ROOT / "examples" / "windows-native.yaml"))[0]
    rec = predicted(monkeypatch, tmp_path, combo, "windows", uv_words("tf2.10-yanked@windows-py3.10"), "3.10")
    assert rec.status == "resolver-conflict"
    assert "opencv-python-headless==4.5.2.52 was yanked" in rec.why
    assert "tf-models-official==2.10.0 depends on opencv-python-headless==4.5.2.52" in rec.why


def test_an_installable_gpu_combination_says_tensorflow_denies_its_gpu_there(monkeypatch, tmp_path, combos):
    rec = predicted(monkeypatch, tmp_path, combos["tf2.21-cuda-pip"], "windows", None)
    assert rec.installable and rec.gpu_denied and rec.verdict == "installable, no GPU"
    assert rec.why == "no GPU on native Windows after TF 2.10 (use WSL2)"
    assert rec.pins == sorted(combos["tf2.21-cuda-pip"].requirements())
    assert rec.argv[-4:] == ["--python-platform", "x86_64-pc-windows-msvc", "--python-version", "3.11"]
    cpu = predicted(monkeypatch, tmp_path, combos["tf2.21-cpu"], "windows", None)
    assert cpu.verdict == "installable" and cpu.why == ""


def test_a_record_round_trips_through_its_schema_and_the_store(monkeypatch, tmp_path, combos, new_run):
    rec = predicted(monkeypatch, tmp_path, combos["tf2.15-cpu"], "windows", uv_words("tf2.15-cpu@windows-py3.11"))
    run = new_run()
    rec.run_id = run.run_id
    path = run.write_prediction(rec)
    assert path.name == "tf2.15-cpu@windows-py3.11.json" and path.parent.name == "predictions"
    doc = check(json.loads(path.read_text()), str(path))
    assert doc["kind"] == "prediction" and doc["status"] == "no-wheel"
    back = PlatformPrediction.from_json(doc)
    assert back.to_json() == rec.to_json()
    with pytest.raises(ResultsError, match="already exists"):
        run.write_prediction(rec)  # create-only, as every record
    loaded = load_run(run.path)
    assert [p.key for p in loaded.predictions] == [rec.key] and loaded.records == []
    assert not any("no readable" in w for w in loaded.warnings)
    assert split_key(rec.key) == ("tf2.15-cpu", "windows", "3.11")


def test_a_prediction_in_the_measured_records_folder_is_left_out_saying_so(monkeypatch, tmp_path, combos, new_run):
    rec = predicted(monkeypatch, tmp_path, combos["tf2.21-cpu"], "windows", None)
    run = new_run()
    rec.run_id = run.run_id
    (run.path / "tf2.21-cpu.json").write_text(json.dumps(rec.to_json()))
    loaded = load_run(run.path)
    assert loaded.records == [] and any("a prediction record where combination records belong" in w
                                        for w in loaded.warnings)


@pytest.mark.parametrize("words,expect", [
    ([], "the following arguments are required: --platform"),
    (["--platform", "windows", "--python", "3.x"], "--python: got '3.x'"),
    (["--platform", "windows", "--jobs", "0"], "--jobs: got 0"),
    (["--platform", "windows", "--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_options_are_one_line(words, expect):
    with pytest.raises(TfmatrixError) as err:
        command.parse(words)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_platform_or_combination_is_one_line(ctx):
    with pytest.raises(TfmatrixError, match="--platform: got 'amiga'; expected one of linux"):
        command.main(ctx, ["--platform", "windows,amiga"], say=lambda _: None)
    with pytest.raises(TfmatrixError, match="nope"):
        command.main(ctx, ["--platform", "windows", "--only", "nope"], say=lambda _: None)


def test_the_command_records_every_prediction_in_its_run_and_prints_the_table(monkeypatch, ctx):
    words = uv_words("tf2.15-cpu@windows-py3.11")
    mg = {r: words for c in ctx.combos if c.tf.models_official for r in c.requirements()[:1]}
    monkeypatch.setattr(predict_mod, "resolve_lock", fake_resolver(mg))
    out: list[str] = []
    records = command.main(ctx, ["--platform", "windows", "--jobs", "2"], say=out.append)
    run = load_run(RunDir(ctx.results_root, ctx.run_id).path)
    assert sorted(p.key for p in run.predictions) == sorted(r.key for r in records)
    assert len(records) == len(ctx.combos)
    assert run.info is not None and run.info.options["predict"] == {"platforms": ["windows"], "pythons": []}
    text = "\n".join(out)
    load_only = [c.id for c in ctx.combos if not c.tf.models_official]
    assert f"windows (x86_64-pc-windows-msvc), Python 3.11: {len(load_only)} of {len(records)} installable" in text
    assert "TensorFlow says: no GPU on native Windows after TF 2.10 (use WSL2)" in text
    assert f"the grid: nox -s report -- {ctx.run_id}" in out[-1]
