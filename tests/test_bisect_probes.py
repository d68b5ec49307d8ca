"""Each probe is a bench session: the matrix written for it, and nox run as a child that an interruption reaches."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
import yaml

from tfmatrix.bisection.probes import PROFILE, Plan, Slot, probe_combination, run_nox
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix, parse_matrix

ROOT = Path(__file__).resolve().parent.parent


def plan(like: str = "tf2.20-cpu", **changes) -> Plan:
    matrix = load_matrix(ROOT / "matrix.yaml")
    template = next(c for c in combinations(matrix) if c.id == like)
    fields = dict(template=template, raw=yaml.safe_load((ROOT / "matrix.yaml").read_text()), matrix_dir=ROOT,
                  companions={"2.17.1": "2.17.0", "2.21.0": None})
    fields.update(changes)
    return Plan(**fields)


def test_the_probe_matrix_is_the_users_with_the_probe_and_one_profile():
    doc = plan().matrix([Slot("2.17.1")])
    matrix = parse_matrix(doc, "probe.yaml")
    combo = probe_combination(matrix, Slot("2.17.1"))
    assert combo.id == "bisect-2.17.1-cpu" and combo.tf.models_official == "2.17.0"
    assert [m.id for m in combo.models] == ["retinanet-mnv2-256"]  # the template's models, as its profile has them
    assert {c.id for c in combinations(matrix, PROFILE)} == {combo.id}
    assert {t.id for t in matrix.tensorflow} >= {"tf2.15", "tf2.20", "nightly"}  # the user's entries stay


def test_a_version_without_its_model_garden_loads_the_templates_export():
    combo = probe_combination(parse_matrix(plan().matrix([Slot("2.21.0")]), "p.yaml"), Slot("2.21.0"))
    assert combo.tf.load_only and combo.tf.export_with == "tf2.20"
    assert combo.exporter(combo.models[0]).tf.id == "tf2.20"


def test_a_nightly_is_tf_nightly_and_load_only():
    night = Slot("2.23.0.dev20261026")
    combo = probe_combination(parse_matrix(plan().matrix([night]), "p.yaml"), night)
    assert combo.tf.package == "tf-nightly" and combo.tf.load_only and combo.tf.resolve_cutoff is not None


def test_the_bisected_metric_gets_its_repeats_and_twice_as_many_when_measured_again():
    p = plan(repeats={"workload.import_repeats": 5})
    assert parse_matrix(p.matrix([Slot("2.17.1")]), "p.yaml").workload.import_repeats == 5
    again = parse_matrix(p.matrix([Slot("2.15.1", True, beside="2.17.1"), Slot("2.17.1", True)]), "p.yaml")
    assert again.workload.import_repeats == 10
    assert [c.tf.id for c in combinations(again, PROFILE)] == ["bisect-2.15.1-beside-2.17.1-more", "bisect-2.17.1-more"]
    assert probe_combination(again, Slot("2.17.1", True)).tf.id == "bisect-2.17.1-more"
    nested = plan(repeats={"workload.latency.min_queries": 40}).matrix([Slot("2.17.1")])
    assert parse_matrix(nested, "p.yaml").workload.latency_min_queries == 40


def test_model_paths_of_the_users_matrix_stay_where_they_point(tmp_path):
    raw = yaml.safe_load((ROOT / "matrix.yaml").read_text())
    raw["models"].append({"id": "mine", "source": "saved_model", "path": "models/mine", "input_size": [64, 64]})
    doc = plan(raw=raw, matrix_dir=tmp_path).matrix([Slot("2.17.1")])
    assert next(m for m in doc["models"] if m["id"] == "mine")["path"] == str(tmp_path / "models" / "mine")


def test_the_templates_pins_travel_with_each_probe():
    entry = plan("tf2.15-numpy2-cpu", companions={"2.16.1": "2.16.0"}).entry("2.16.1")
    assert entry["force"] == ["numpy>=2"] and entry["models_official"] == "2.16.0" and "expect" not in entry
    alone = plan("tf2.15-numpy2-cpu", bench_args=("--import-only",)).entry("2.16.1")
    assert "models_official" not in alone and alone["export_with"] == "tf2.15-numpy2"


CHILD = """
import signal, sys, time
def got(signum, frame):
    open(sys.argv[1], "w").write(signal.Signals(signum).name)
    sys.exit(143)
signal.signal(signal.SIGTERM, got)
open(sys.argv[1] + ".ready", "w").close()
time.sleep(60)
"""


def test_an_interruption_reaches_the_probe_as_sigterm_and_is_waited_for(tmp_path):
    mark = tmp_path / "mark"

    def ready(signum, frame):
        if Path(str(mark) + ".ready").exists():
            signal.setitimer(signal.ITIMER_REAL, 0)  # once, as one Ctrl-C
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ready)
    signal.setitimer(signal.ITIMER_REAL, 0.2, 0.2)  # Ctrl-C, once the child is up
    try:
        with pytest.raises(KeyboardInterrupt):
            run_nox([sys.executable, "-c", CHILD, str(mark)], {"PATH": "/usr/bin:/bin"}, tmp_path,
                    tmp_path / "logs" / "nox.log")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert mark.read_text() == "SIGTERM"  # it got SIGTERM, and ran its handler before run_nox returned
