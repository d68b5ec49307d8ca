"""Issue 13 for real: your own SavedModel, one export loaded by several TensorFlow versions, TF 2.21, a nightly.

Real nox, uv, TensorFlow 2.15.1 / 2.20.0 / 2.21.0 and a pinned tf-nightly from PyPI. The SavedModel that
no tfmatrix code produced is made with a plain ``tf.saved_model.save`` of a small ``tf.Module`` (uint8
image in; boxes, scores, classes out) in a venv of its own, before nox reads the matrix that names it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from matrices import TINY_MODEL_AND_WORKLOAD, make_saved_models, python_version, run_nox

from tfmatrix.records.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]

MATRIX = """\
schema_version: 1
pythons: ["{python}"]
tensorflow:
  - version: "2.15.1"
    models_official: "2.15.0"
    requires: ["numpy<2", "tensorflow-metadata<1.18"]
  - version: "2.20.0"
    models_official: "2.20.0"
  - version: "2.21.0"              # load-only: TensorFlow alone
    export_with: tf2.20
  - id: nightly
    package: tf-nightly
    version: "{nightly}"
    export_with: tf2.20
stacks:
  - {{id: cpu, kind: cpu}}
models:
  - id: plain-saved-model
    source: saved_model
    path: plain-saved-model
    input_size: [96, 96]
  - id: retinanet-128-from-tf2.15
    experiment: retinanet_resnetfpn_coco
    export_with: tf2.15
    input_size: [128, 128]
""" + TINY_MODEL_AND_WORKLOAD + """\
profiles:
  default:
    tensorflow: [tf2.15, tf2.20, tf2.21]
  nightly:
    tensorflow: [nightly]
    models: [retinanet-128-from-tf2.15]
"""
NIGHTLY = "2.23.0.dev20261026"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sources")
    make_saved_models(d, ["tensorflow==2.15.1", "numpy<2"], {"plain-saved-model": 0})
    (d / "sources.yaml").write_text(MATRIX.format(python=python_version(), nightly=NIGHTLY))
    return d


def nox(workdir: Path, *args: str, profile: str = "default") -> subprocess.CompletedProcess[str]:
    return run_nox(workdir / "sources.yaml", *args, profile=profile)


def records(run: Path) -> dict[str, dict]:
    out = {p.stem: json.loads(p.read_text()) for p in run.glob("*.json") if p.name != "run.json"}
    for doc in out.values():
        jsonschema.validate(doc, load_schema("combination"))
    return out


def phases_of(doc: dict) -> dict[str, dict]:
    return {p["name"]: p for p in doc["phases"]}


def test_tf_2_21_and_the_nightly_are_listed(workdir):
    listed = {}
    for profile in ("default", "nightly"):
        proc = nox(workdir, "-l", "--json", profile=profile)
        assert proc.returncode == 0, proc.stderr
        listed.update({s["session"]: s["tags"] for s in json.loads(proc.stdout) if s["name"] == "bench"})
    assert set(listed) == {"bench(tf2.15-cpu)", "bench(tf2.20-cpu)", "bench(tf2.21-cpu)", "bench(nightly-cpu)"}
    assert "load-only" in listed["bench(tf2.21-cpu)"] and "nightly" in listed["bench(nightly-cpu)"]


def test_one_export_and_a_plain_saved_model_load_in_three_tensorflow_versions(workdir):
    proc = nox(workdir, "-s", "bench")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    (run,) = sorted(p for p in (workdir / "results").iterdir() if p.is_dir())
    docs = records(run)
    assert set(docs) == {"tf2.15-cpu", "tf2.20-cpu", "tf2.21-cpu"}
    for cid, doc in docs.items():
        assert doc["status"] == "ok", (cid, doc["reason"])
        made = {p["model"]: p for p in doc["producers"]}
        shared, plain = made["retinanet-128-from-tf2.15"], made["plain-saved-model"]
        # the one export: made by TF 2.15.1, named by every record
        assert shared["combination"] == "tf2.15-cpu" and shared["tensorflow"] == "2.15.1"
        assert shared["source"] == ("own" if cid == "tf2.15-cpu" else "shared")
        assert shared["saved_model"]["tensorflow_version"] == "2.15.1"
        assert shared["saved_model"]["unknown_ops"] == []
        assert len(shared["export_sha256"]) == 64
        assert shared["relation"] == ("same" if cid == "tf2.15-cpu" else "newer")
        # the SavedModel no tfmatrix code made: its producer read from saved_model.pb
        assert plain["source"] == "brought" and plain["saved_model"]["tensorflow_version"] == "2.15.1"
        assert plain["saved_model"]["input"] == {"name": "input_tensor", "dtype": "uint8", "height": 96, "width": 96,
                                                "channels": 3, "fixed_batch": None}
        ph = phases_of(doc)
        assert "export-plain-saved-model" not in ph and "shared-export-plain-saved-model" not in ph
        for model in ("retinanet-128-from-tf2.15", "plain-saved-model"):
            for kind in ("inspect", "load", "first-inference", "latency", "throughput", "peakmem"):
                name = next(n for n in ph if n.startswith(f"{kind}-{model}"))
                assert ph[name]["status"] == "ok", (cid, name, ph[name]["note"])
            first = ph[f"first-inference-{model}-b1"]["extra"]
            assert len(first["detections"]["sha256"]) == 64, first
        assert len(ph["load-plain-saved-model"]["samples"]) == 2
    # one export for all: TF 2.15's own; the others found it in the cache
    assert phases_of(docs["tf2.15-cpu"])["export-retinanet-128-from-tf2.15"]["status"] == "ok"
    for cid in ("tf2.20-cpu", "tf2.21-cpu"):
        assert phases_of(docs[cid])["shared-export-retinanet-128-from-tf2.15"]["status"] == "cached"
    assert len({d["producers"][1]["export_sha256"] for d in docs.values()}) == 1
    assert {d["producers"][1]["model"] for d in docs.values()} == {"retinanet-128-from-tf2.15"}
    # TF 2.21 is load-only: TensorFlow alone in its venv
    assert not any(p.startswith("tf-models-official") for p in docs["tf2.21-cpu"]["resolved_pins"])
    assert "tensorflow==2.21.0" in docs["tf2.21-cpu"]["resolved_pins"]


@pytest.mark.browser
def test_the_report_shows_the_cross_version_grid_in_chromium(workdir):
    from browser import chromium, visit

    (run,) = sorted(p for p in (workdir / "results").iterdir() if p.is_dir())
    proc = nox(workdir, "-s", "report", "--", run.name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with chromium() as browser:
        v = visit(browser, workdir / "reports" / run.name / "index.html")
        grid = v.page.locator('table.loads[data-model="retinanet-128-from-tf2.15"]')
        assert grid.count() == 1
        assert grid.locator("thead th").all_inner_texts()[1:] == ["tf2.15-cpu", "tf2.20-cpu", "tf2.21-cpu"]
        assert "exported by TF 2.15.1 (tf2.15-cpu)" in grid.locator("tbody th").inner_text()
        cells = grid.locator("td.load")
        assert cells.count() == 3
        relations = [cells.nth(i).get_attribute("data-relation") for i in range(3)]
        assert relations == ["same", "newer", "newer"]
        text = grid.inner_text()
        assert "the producer itself" in text and "p50 ×1.00" in text
        assert "identical" in text or "differs within tolerance" in text or "drift:" in text
        assert v.page.locator('table.loads[data-model="plain-saved-model"]').count() == 0  # brought: no export shared
        assert "plain-saved-model: brought SavedModel (TF 2.15.1)" in v.page.content()  # in each detail
        assert v.errors == [], v.console


def test_the_nightly_loads_the_same_export_with_companions_of_its_date(workdir):
    proc = nox(workdir, "-s", "bench", profile="nightly")
    out = proc.stdout + proc.stderr
    runs = sorted(p for p in (workdir / "results").iterdir() if p.is_dir())
    doc = records(runs[-1])["nightly-cpu"]
    steps = {s["step"]: s for s in doc["install"]["steps"]}
    assert "--exclude-newer" in steps["resolve"]["argv"]
    assert steps["resolve"]["argv"][steps["resolve"]["argv"].index("--exclude-newer") + 1] == "2026-10-27T00:00:00Z"
    assert f"tf-nightly=={NIGHTLY}" in doc["resolved_pins"]
    companions = [p for p in doc["resolved_pins"] if p.startswith("keras-nightly==")]
    assert companions and all(".dev202610" in p for p in companions), companions
    if doc["status"] != "ok":  # what really happens is recorded and classified, in TensorFlow's own words
        assert doc["failure"]["class"] and doc["failure"]["evidence"], doc
        pytest.fail(f"the nightly ended {doc['status']}: {doc['failure']}")
    assert proc.returncode == 0, out[-4000:]
    (made,) = doc["producers"]
    assert made["combination"] == "tf2.15-cpu" and made["relation"] == "newer" and made["source"] == "shared"
    export = phases_of(doc)["shared-export-retinanet-128-from-tf2.15"]
    # after the default run: found in the cache; run alone (-k nightly): made once in the exporter's own venv
    assert export["status"] in ("cached", "ok"), export
    assert "tf2.15-cpu" in export["note"]
