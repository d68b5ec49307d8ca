"""A Windows worker's end, from the raw return code (both forms) or the import error, to its class and fix.

No Windows machine runs these: the NTSTATUS codes reach the runner through a named seam, a worker that
reports the return code Windows' ``subprocess`` gives (Linux cannot exit with a code above 255).  Everything
after it is the real runner (:func:`runner.run_phase`), the real record and the real classifier
(:func:`classify_phase`, the taxonomy's rules and fixes).  The DLL import errors are raised by a real
worker process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tfmatrix.diagnosis.classify import load_taxonomy
from tfmatrix.records.status import PhaseStatus
from tfmatrix.run.execution import runner
from tfmatrix.run.execution.exits import describe_exit
from tfmatrix.run.execution.phases import classify_phase

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny_bench.py"
SPEC = runner.PhaseSpec("load", "load", "LoadSuite", "timeraw_load_saved_model", ("m",), "m")


class ExitedWith:
    """The seam: a worker process that ended with ``returncode`` before writing its result, as a crashed
    Windows process does (``subprocess`` reports the NTSTATUS unsigned; PyCharm and PowerShell print it
    signed)."""

    def __init__(self, returncode: int, log_path: Path, printed: str = "") -> None:
        self.returncode, self.log_path, self.gone_before = returncode, log_path, False
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(printed, encoding="utf-8")

    @property
    def name(self) -> str:
        return self.log_path.stem

    def run(self, spec: object) -> tuple[int | None, bool, None, float]:
        return self.returncode, False, None, 0.25


#: (NTSTATUS, as subprocess.returncode gives it on Windows, as PyCharm/PowerShell print it, its name, the class,
#: words of that class's fix)
CODES = [
    (0xC0000005, 3221225477, -1073741819, "STATUS_ACCESS_VIOLATION", "access-violation",
     "align the CUDA toolkit and cuDNN"),
    (0xC00000FD, 3221225725, -1073741571, "STATUS_STACK_OVERFLOW", "stack-overflow", "threading.stack_size"),
    (0xC0000409, 3221226505, -1073740791, "STATUS_STACK_BUFFER_OVERRUN", "abort", "a cuDNN or CUDA DLL on PATH"),
    (0xC0000135, 3221225781, -1073741515, "STATUS_DLL_NOT_FOUND", "dll-not-found",
     "Visual C++ Redistributable for Visual Studio 2015-2022"),
]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("code, unsigned, signed_form, name, cls, fix", CODES, ids=[c[4] for c in CODES])
def test_a_windows_worker_that_crashes_with_an_ntstatus_gets_its_class_and_fix(tmp_path, code, unsigned, signed_form,
                                                                               name, cls, fix, signed):
    returncode = signed_form if signed else unsigned
    worker = ExitedWith(returncode, tmp_path / "logs" / "cold-1-m.log")
    record, _ = runner.run_phase(SPEC, python="unused", benchmark_file=TINY, log_dir=tmp_path / "logs",
                                 timeout=60, env={}, worker=worker)  # type: ignore[arg-type]
    assert (record.status, record.exit_code, record.ntstatus, record.signal) == (PhaseStatus.CRASHED, returncode,
                                                                                 name, None)
    failure = classify_phase(record, gpu_stack=False)
    assert failure.cls == cls, failure.evidence
    assert f"0x{code:08X} {name}" in failure.evidence and str(returncode) in failure.evidence
    assert fix in failure.fix and failure.fix == load_taxonomy().rule(cls).fix


def test_the_same_code_on_a_windows_host_reads_the_same_and_a_small_one_is_a_plain_status():
    for code, unsigned, signed, name, _, _ in CODES:
        assert code == unsigned == signed + (1 << 32)
        assert describe_exit(unsigned, windows=True).ntstatus == describe_exit(signed, windows=True).ntstatus \
            == describe_exit(unsigned, windows=False).ntstatus == name
    assert describe_exit(1, windows=True).ntstatus is None and describe_exit(1, windows=True).signal is None


def test_a_dll_crash_whose_log_says_which_dll_keeps_that_line_as_its_evidence(tmp_path):
    said = "Could not locate zlibwapi.dll. Please make sure it is in your library path!"
    worker = ExitedWith(0xC0000409 - (1 << 32), tmp_path / "logs" / "cold-1-m.log", printed=said + "\n")
    record, _ = runner.run_phase(SPEC, python="unused", benchmark_file=TINY, log_dir=tmp_path / "logs",
                                 timeout=60, env={}, worker=worker)  # type: ignore[arg-type]
    failure = classify_phase(record, gpu_stack=True)
    assert (failure.cls, failure.evidence) == ("dll-not-found", said)  # the DLL it named, not the fail-fast


@pytest.mark.parametrize("method, cls, fix", [
    ("track_windows_dll_load_failed", "dll-not-found", "use WSL2 for the GPU"),
    ("track_windows_dll_init_failed", "illegal-instruction", "Run on a CPU with AVX"),
])
def test_tensorflows_windows_import_errors_from_a_real_worker_get_their_class_and_fix(tmp_path, method, cls, fix):
    spec = runner.PhaseSpec("import", "import", "Crash", method)
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    record, _ = runner.run_phase(spec, python=sys.executable, benchmark_file=TINY, log_dir=tmp_path / "logs",
                                 timeout=60, env=env)
    assert record.status == PhaseStatus.ERROR
    failure = classify_phase(record, gpu_stack=False)
    assert failure.cls == cls and fix in failure.fix
    assert failure.evidence.startswith("ImportError: DLL load failed while importing _pywrap_tensorflow_internal")
