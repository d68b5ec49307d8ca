"""The pipeline's second pre-flight (after the install) reads the installer's ``pip check`` as well as its pins.

Issue 28's case: TF 2.18.1 + tf-models-official 2.18.0 with ``ml-dtypes==0.3.2`` forced was predicted ``ok``
although ``uv pip check`` said tensorflow requires ``ml-dtypes>=0.4.0,<1.0.0``.  The installer is the test double
of tests/fakes (its check output set here); no nox, uv or TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from fakes.fake_bench import Installer, Runner
from fakes.fake_session import FakeSession
from matrices import base

from tfmatrix.matrix.load import parse_matrix
from tfmatrix.records.model import InstallOutcome
from tfmatrix.records.store import new_run_id
from tfmatrix.run.execution.host import HostFacts
from tfmatrix.run.noxside.context import Context
from tfmatrix.run.noxside.options import Options
from tfmatrix.run.scheduling.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
CPU_HOST = HostFacts(gpus=(), driver_version=None, cpu_flags=("avx", "avx2"), machine="x86_64", system="Linux")
UV_CHECK = ("Checked 112 packages in 4ms\nFound 1 incompatibility\nThe package `tensorflow` requires "
            "`ml-dtypes>=0.4.0,<1.0.0`, but `0.3.2` is installed")


class CheckingInstaller(Installer):
    """The fake installer, with what ``uv pip check`` said after it installed."""

    def __init__(self, check_output: str, **kw) -> None:
        super().__init__(**kw)
        self.check_output = check_output

    def __call__(self, requirements, **kw) -> InstallOutcome:
        out = super().__call__(requirements, **kw)
        out.check_ok, out.check_output = not self.check_output, self.check_output
        return out


def pipeline(tmp_path: Path, installer: Installer, monkeypatch) -> Pipeline:
    monkeypatch.setenv("TFMATRIX_CACHE", str(tmp_path / "cache"))
    data = base(tensorflow=[{"id": "tf2.18-mldtypes", "version": "2.18.1", "models_official": "2.18.0",
                             "force": ["ml-dtypes==0.3.2"], "stacks": ["cpu"]}])
    ctx = Context(root=ROOT, matrix=parse_matrix(data, "m.yaml", sha256="0" * 64), profile="default",
                  run_id=new_run_id(), results_root=tmp_path / "results")
    (tmp_path / "venv").mkdir()
    opts = Options()
    run = ctx.run_to_write(opts)
    ctx.ensure_run(run, opts)
    p = Pipeline(FakeSession(tmp_path / "venv"), ctx, ctx.combination("tf2.18-mldtypes-cpu"), opts, run,
                 host=CPU_HOST, installer=installer, run_phase=Runner())
    p.log_dir.mkdir(parents=True, exist_ok=True)
    return p


RESOLVED = ("ml-dtypes==0.3.2", "numpy==2.0.2", "protobuf==5.29.6", "tensorflow==2.18.1",
            "tf-models-official==2.18.0")


def test_a_forced_pin_pip_check_rejects_is_predicted_after_the_install(tmp_path, monkeypatch):
    p = pipeline(tmp_path, CheckingInstaller(UV_CHECK, resolved=RESOLVED), monkeypatch)
    assert p.install().check_ok is False
    assert p.record.preflight is not None and p.record.preflight.predicted == "numpy-abi"
    assert p.record.preflight.reasons == ("ml-dtypes 0.3.2 is forced outside the range tensorflow declares "
                                          "(ml-dtypes>=0.4.0,<1.0.0) → predicted numpy-abi",)


def test_the_same_pins_with_a_clean_check_are_ok(tmp_path, monkeypatch):
    p = pipeline(tmp_path, CheckingInstaller("", resolved=RESOLVED), monkeypatch)
    p.install()
    assert p.record.preflight is not None and p.record.preflight.predicted == "ok"
