"""``source: keras-hub`` models (matrix/models.py, load.py's exporter check, expand.py, the contract's ModelSpec).

Pure Python: no TensorFlow, no KerasHub. A good entry reads into a ModelSpec whose export every combination
loads from the one exporter; each bad entry is one line naming the file, the key path and what was expected.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from matrices import BASE, SMALL_ONLY, base

from tfmatrix.errors import MatrixError
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.worker.contract import KERAS_HUB, BenchConfig, ModelSpec

#: A load-only TF 2.20 entry with keras-hub, and the KerasHub model it exports for every entry
EXPORTER = {"id": "tf2.20-kerashub", "version": "2.20.0", "requires": ["keras-hub==0.32.0"],
            "export_with": "tf2.20", "stacks": ["cpu"]}
KH = {"id": "kh", "source": "keras-hub", "architecture": "retinanet", "input_size": [128, 128],
      "export_with": "tf2.20-kerashub", "stacks": ["cpu"]}


def matrix_file(tmp_path: Path, model: dict[str, Any] | None = None, exporter: dict[str, Any] | None = None) -> Path:
    d = base(tensorflow=BASE["tensorflow"] + [exporter or EXPORTER], models=SMALL_ONLY + [model or KH])
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return path


def test_a_keras_hub_model_reads_into_its_spec(tmp_path: Path) -> None:
    m = load_matrix(matrix_file(tmp_path))
    kh = m.model("kh")
    assert (kh.source, kh.architecture, kh.input_size, kh.export_with, kh.stacks) == (
        KERAS_HUB, "retinanet", (128, 128), "tf2.20-kerashub", ("cpu",))
    assert kh.built and kh.signature == "serving_default" and kh.experiment == ""


def test_every_combination_loads_the_one_export_of_the_keras_hub_entry(tmp_path: Path) -> None:
    m = load_matrix(matrix_file(tmp_path))
    combos = {c.id: c for c in combinations(m, "all") if any(x.id == "kh" for x in c.models)}
    assert set(combos) == {"tf2.15-cpu", "tf2.20-cpu", "tf2.20-kerashub-cpu"}
    for cid, c in combos.items():
        who = c.exporter(m.model("kh"))
        assert who is not None and who.id == "tf2.20-kerashub-cpu", cid
    # the Model Garden model of the load-only exporter entry still comes from its own export_with (tf2.20)
    small = combos["tf2.20-kerashub-cpu"].exporter(m.model("small"))
    assert small is not None and small.id == "tf2.20-cpu"


def test_the_config_digest_names_the_source_and_keeps_model_garden_digests() -> None:
    kh = ModelSpec(id="a", source=KERAS_HUB, architecture="retinanet", input_size=(128, 128))
    assert kh.config_digest() != ModelSpec(id="a", source=KERAS_HUB, architecture="retinanet",
                                           input_size=(256, 256)).config_digest()
    # a Model Garden model's digest is the one it had before keras-hub existed (its export cache key)
    garden = ModelSpec(id="g", experiment="retinanet_resnetfpn_coco", input_size=(256, 256))
    assert garden.config_digest() == "8b1027f3e75a"  # as computed at 878e3bf


def test_the_spec_crosses_to_the_worker_intact() -> None:
    kh = ModelSpec(id="kh", source=KERAS_HUB, architecture="retinanet", input_size=(128, 128),
                   export_with="tf2.20-kerashub")
    config = BenchConfig(combination="c", models=(kh,), export_dirs={"kh": "/x"})
    assert BenchConfig.from_json(config.to_json()).model("kh") == kh


BAD: list[tuple[str, dict[str, Any], dict[str, Any] | None, str, str]] = [
    ("no-architecture", {k: v for k, v in KH.items() if k != "architecture"}, None, "models[1].architecture",
     "expected this key to be set"),
    ("unknown-architecture", dict(KH, architecture="yolov8"), None, "models[1].architecture",
     "expected one of retinanet (a KerasHub detector built from its config)"),
    ("no-export-with", {k: v for k, v in KH.items() if k != "export_with"}, None, "models[1].export_with",
     "expected this key to be set"),
    ("no-input-size", {k: v for k, v in KH.items() if k != "input_size"}, None, "models[1].input_size",
     "expected this key to be set"),
    ("input-size-not-multiple-of-32", dict(KH, input_size=[128, 100]), None, "models[1].input_size",
     "multiples of 32"),
    ("an-experiment-key", dict(KH, experiment="retinanet_resnetfpn_coco"), None, "models[1].experiment",
     "no such key (allowed: id, source, input_size, stacks, architecture, export_with)"),
    ("a-path-key", dict(KH, path="/tmp"), None, "models[1].path", "no such key"),
    ("exporter-without-keras-hub", KH, {k: v for k, v in EXPORTER.items() if k != "requires"},
     "models[1].export_with", "expected an entry with keras-hub in its requires"),
    ("exporter-with-keras-2", KH, dict(EXPORTER, version="2.15.1", requires=["keras-hub==0.32.0"]),
     "models[1].export_with", "expected an entry whose TensorFlow has Keras 3 (TensorFlow 2.15.1 requires keras"),
    ("exporter-unknown", dict(KH, export_with="tf9"), None, "models[1].export_with",
     "one of the tensorflow ids defined"),
]


@pytest.mark.parametrize("model,exporter,key,expected", [pytest.param(*c[1:], id=c[0]) for c in BAD])
def test_a_bad_keras_hub_entry_is_one_line(tmp_path: Path, model: dict[str, Any], exporter: dict[str, Any] | None,
                                           key: str, expected: str) -> None:
    path = matrix_file(tmp_path, copy.deepcopy(model), exporter)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: {key}: got "), text
    assert expected in text, text
