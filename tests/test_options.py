"""run.options: one parser, strict for a bench session, lenient for the noxfile at import."""

from __future__ import annotations

import pytest

from tfmatrix.errors import TfmatrixError
from tfmatrix.matrix.shard import Shard
from tfmatrix.run.noxside.options import Options, parse, parse_lenient


def test_bench_options():
    assert parse(["--models", "a,b", "--models", "c", "--quick"]).models == ("a", "b", "c")
    assert parse([]) == Options()
    assert parse(["--assume-gpu"]).assume_gpu is parse(["--force-gpu-stacks"]).assume_gpu is True
    opts = parse(["--shard", "1/4", "--resume", "--telemetry-period", "0", "--gpu", "2"])
    assert (opts.shard, opts.resume, opts.telemetry_ms, opts.gpu) == (Shard(1, 4), "latest", 0, 2)
    assert parse(["--gpus", "1"]).gpu == 1 and not parse(["--gpus", "1"]).pooled  # --gpus N is --gpu N
    assert parse(["--gpus", "0,1"]).pooled


@pytest.mark.parametrize("posargs, message", [
    (["--frobnicate"], "expected --models ID"),
    (["--resume", "../etc"], "--resume: got '../etc'; expected a run id"),
    (["--gpu", "-1"], "--gpu: got -1; expected a GPU index"),
    (["--gpu", "x"], "bench options: argument --gpu: invalid int value"),
    (["--telemetry-period", "-5"], "--telemetry-period: got -5"),
    (["--shard", "2/2"], "--shard: got '2/2'"),
    (["--cold-starts", "-1"], "--cold-starts: got -1; expected a number of fresh processes"),
])
def test_a_bad_option_is_one_line(posargs, message):
    with pytest.raises(TfmatrixError) as err:
        parse(posargs)
    assert message in err.value.one_line()


def test_what_run_json_keeps_of_the_options():
    assert parse(["--quick", "--models", "m", "--shard", "0/2"]).to_run_json() == {
        "models": ["m"], "import_only": False, "quick": True, "assume_gpu": False, "shard": "0/2", "executor": "local"}
    assert parse(["--import-only"]).to_run_json()["import_only"] is True
    assert parse(["--gpus", "0,1"]).to_run_json()["executor"] == "gpus"


def test_the_lenient_parse_reads_only_what_the_noxfile_needs_and_never_fails():
    assert parse_lenient(["nox", "-s", "bench", "--", "--gpus", "0,1", "--quick"]).gpus == (0, 1)
    assert parse_lenient(["nox", "-s", "bench", "--", "--executor", "ray"]).executor == "ray"
    assert parse_lenient(["nox", "-s", "report", "--", "20260101T000000Z-aaaaaa"]) == Options()
    assert parse_lenient(["nox", "-s", "bench", "--", "--gpus", "0,0"]) == Options()  # the session says why
    assert parse_lenient(["nox", "-s", "bench", "--", "--gpu"]) == Options()
    assert parse_lenient(["nox"]) == Options()


def test_cold_starts_raise_the_workloads_repeats_and_are_kept_in_run_json():
    from tfmatrix.worker.contract import Workload

    matrix = Workload()
    assert parse([]).workload(matrix) == matrix
    five = parse(["--cold-starts", "5"])
    assert (five.workload(matrix).load_repeats, five.workload(matrix).import_repeats) == (5, 5)
    assert five.to_run_json()["cold_starts"] == 5 and "cold_starts" not in parse([]).to_run_json()
    quick = parse(["--quick", "--cold-starts", "5"]).workload(matrix)  # --quick's variant, then at least 5
    assert quick.cold_starts == 5 and quick.latency_min_queries == matrix.quick().latency_min_queries
    more = Workload(load_repeats=8, import_repeats=3)
    assert parse(["--cold-starts", "5"]).workload(more).load_repeats == 8  # never fewer than the matrix asks
