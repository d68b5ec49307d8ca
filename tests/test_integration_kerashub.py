"""Issue 29, part 3, for real: a KerasHub detector exported once by TF 2.20 with keras-hub, loaded by others.

Real nox, uv, keras-hub 0.32.0 and TensorFlow 2.20.0 / 2.21.0 / a pinned tf-nightly (the releases
test_integration_sources.py installs already, so the uv cache holds their wheels), plus 2.15.1 on Python 3.11
(a Keras 2 TensorFlow loading a Keras 3 export). The export is built from its config with random weights
from the seed; nothing is downloaded but PyPI wheels. Each consumer's record ends ok or in a classified
failure, names the same export, and compares its detections (drift) with the exporter's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from matrices import TINY_WORKLOAD, python_version, run_nox

from tfmatrix.records.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network,
              pytest.mark.skipif(sys.version_info < (3, 11), reason="keras-hub 0.32.0 requires Python >= 3.11: the "
                                 "exporter's venv runs the tests' Python")]

MODEL = "kerashub-retinanet-128"
MATRIX = """\
schema_version: 1
pythons: ["{python}"]
tensorflow:
  - id: tf2.20-kerashub
    version: "2.20.0"
    requires: ["keras-hub==0.32.0"]
  - version: "2.15.1"
    requires: ["numpy<2"]
  - version: "2.20.0"
  - version: "2.21.0"
  - id: nightly
    package: tf-nightly
    version: "2.23.0.dev20261026"
stacks:
  - {{id: cpu, kind: cpu}}
models:
  - id: kerashub-retinanet-128
    source: keras-hub
    architecture: retinanet
    input_size: [128, 128]
    export_with: tf2.20-kerashub
""" + TINY_WORKLOAD + """\
  fidelity_rounds: 2
exclude:
  - {{tensorflow: "<2.16", python: ">=3.12", reason: "TensorFlow 2.15 has no wheels for Python 3.12+"}}
profiles:
  default:
    description: "the exporter and every consumer"
  consumer-alone:
    description: "TF 2.21 alone: the exporter is not in the run, so the export is made in the cache's venv"
    tensorflow: [tf2.21]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("kerashub")
    (d / "kerashub.yaml").write_text(MATRIX.format(python=python_version()))
    return d


def nox(workdir: Path, *args: str, **folders: str) -> subprocess.CompletedProcess[str]:
    return run_nox(workdir / "kerashub.yaml", *args, **folders)


def phases_of(doc: dict) -> dict[str, dict]:
    return {p["name"]: p for p in doc["phases"]}


def test_one_keras_hub_export_loads_in_every_tensorflow_and_the_grid_shows_it(workdir):
    proc = nox(workdir, "-s", "bench")
    out = proc.stdout + proc.stderr
    (run,) = sorted(p for p in (workdir / "results").iterdir() if p.is_dir())
    docs = {p.stem: json.loads(p.read_text()) for p in run.glob("*.json") if p.name != "run.json"}
    for doc in docs.values():
        jsonschema.validate(doc, load_schema("combination"))
    consumers = {"tf2.20-cpu", "tf2.21-cpu", "nightly-cpu"} | ({"tf2.15-cpu"} if python_version() == "3.11" else set())
    assert set(docs) == consumers | {"tf2.20-kerashub-cpu"}, out[-6000:]
    exporter = docs["tf2.20-kerashub-cpu"]
    assert exporter["status"] == "ok", (exporter["reason"], out[-6000:])
    assert phases_of(exporter)[f"export-{MODEL}"]["status"] == "ok"
    assert any(p.startswith("keras-hub==0.32.0") for p in exporter["resolved_pins"])
    digests = set()
    for cid, doc in docs.items():
        made = {p["model"]: p for p in doc["producers"]}[MODEL]
        assert made["combination"] == "tf2.20-kerashub-cpu" and made["tensorflow"] == "2.20.0", cid
        assert made["source"] == ("own" if cid == "tf2.20-kerashub-cpu" else "shared")
        digests.add(made["export_sha256"])
        if doc["status"] != "ok":  # a TensorFlow that cannot load it: a recorded, classified failure
            assert doc["failure"] and doc["failure"]["class"], (cid, doc["reason"])
            continue
        assert made["saved_model"]["input"]["name"] == "images" and made["saved_model"]["input"]["dtype"] == "float32"
        ph = phases_of(doc)
        if cid != "tf2.20-kerashub-cpu":
            assert ph[f"shared-export-{MODEL}"]["status"] == "cached", cid
            # TensorFlow alone: the consumers' venvs hold no keras-hub
            assert not any(p.startswith("keras-hub") for p in doc["resolved_pins"]), cid
        for kind in ("inspect", "load", "first-inference", "latency"):
            name = next(n for n in ph if n.startswith(f"{kind}-{MODEL}"))
            assert ph[name]["status"] == "ok", (cid, name, ph[name]["note"])
        detections = ph[f"first-inference-{MODEL}-b1"]["extra"]["detections"]
        assert len(detections["sha256"]) == 64 and detections["images"][0]["num_detections"] > 0, cid
    assert len(digests) == 1 and len(next(iter(digests))) == 64  # one export, the same bytes everywhere
    assert sum(d["status"] == "ok" for c, d in docs.items() if c != "tf2.20-kerashub-cpu") >= 3

    proc = nox(workdir, "-s", "report", "--", run.name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = "".join(p.read_text() for p in (workdir / "reports" / run.name).glob("*.html"))
    assert f'<table class="loads" data-model="{MODEL}">' in html
    assert "exported by TF 2.20.0 (tf2.20-kerashub-cpu)" in html
    for cid in consumers:
        assert cid in html


def test_a_consumer_without_its_exporter_in_the_run_has_the_export_made_in_the_cache(workdir):
    proc = nox(workdir, "-s", "bench", profile="consumer-alone", cache="cache-alone", results="results-alone")
    out = proc.stdout + proc.stderr
    (run,) = sorted(p for p in (workdir / "results-alone").iterdir() if p.is_dir())
    docs = {p.stem: json.loads(p.read_text()) for p in run.glob("*.json") if p.name != "run.json"}
    assert set(docs) == {"tf2.21-cpu"}, out[-6000:]
    doc = docs["tf2.21-cpu"]
    assert doc["status"] == "ok", (doc["reason"], out[-6000:])
    shared = phases_of(doc)[f"shared-export-{MODEL}"]
    assert shared["status"] == "ok" and "exported by tf2.20-kerashub-cpu (TensorFlow 2.20.0)" in shared["note"]
    assert (workdir / "cache-alone" / "exporters" / "tf2.20-kerashub-cpu").is_dir()
    made = doc["producers"][0]
    assert (made["source"], made["combination"], made["relation"]) == ("shared", "tf2.20-kerashub-cpu", "newer")
