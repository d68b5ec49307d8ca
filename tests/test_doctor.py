"""The doctor: a CPU-only machine as recorded here, and FAKE GPU machines fed with recorded values."""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import pytest
from fakes import fake_gpu_box as box

from tfmatrix.diagnosis import compat
from tfmatrix.diagnosis.doctor import Diagnosis, diagnose, render
from tfmatrix.errors import TfmatrixError

#: This machine, as tfmatrix's probe recorded it in a tf2.20-cpu venv
#: (results/20261129T101357Z-794c82 and, for cpu/os/nvml, results/20261129T102512Z-b76e4e).
CPU_MACHINE = {
    "python": {"executable": "/tmp/pipenvs/bench-tf2-20-cpu/bin/python", "implementation": "CPython",
               "prefix": "/tmp/pipenvs/bench-tf2-20-cpu", "version": "3.11.7"},
    "tensorflow": {"build_info": {"cpu_compiler": "clang 18",
                                  "cuda_compute_capabilities": "['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']",
                                  "cuda_version": "12.5.1", "cudnn_version": "9", "is_cuda_build": True,
                                  "is_rocm_build": False, "is_tensorrt_build": False},
                   "built_with_cuda": True, "git_version": "v2.20.0-rc0-4-g72fbba3d20f", "version": "2.20.0"},
    "devices": {"gpu_details": [], "physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}]},
    "numpy": {"version": "2.4.6"},
    "loaded_libraries": [],
    "nvidia_wheels": {"nvidia-ml-py": "13.615.71"},
    "nvml": {"available": False, "reason": "NVMLError_LibraryNotFound: NVML Shared Library Not Found"},
    "cpu": {"flags": ["avx", "avx2", "avx512f", "fma", "sse4_1", "sse4_2"], "logical_cores": 2, "model": "AMD EPYC"},
    "os": {"machine": "x86_64", "release": "6.18.44-fc-v669", "system": "Linux",
           "version": "#1 SMP PREEMPT_DYNAMIC @0"},
    "env": {"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "1"},
}
NO_NVML = CPU_MACHINE["nvml"]
CPU_ONLY_TEXT = "no NVIDIA GPU/driver: TensorFlow runs on the CPU; GPU combinations will be skipped"


def classes(d: Diagnosis, severity: str = "error") -> list[str | None]:
    return [f.predicts for f in d.findings if f.severity == severity]


def fact(d: Diagnosis, name: str) -> str:
    return next(f.value for f in d.facts if f.name == name)


# --------------------------------------------------------------------------- (a) this CPU-only machine


def test_cpu_only_machine_is_an_honest_cpu_only_answer() -> None:
    d = diagnose(CPU_MACHINE, NO_NVML)
    assert d.ok and d.errors == () and d.warnings == ()
    assert [(f.severity, f.predicts) for f in d.findings] == [("info", None)]
    assert d.findings[0].what.startswith(CPU_ONLY_TEXT)
    assert "NVML Shared Library Not Found" in d.findings[0].what
    assert "driver >= 525.60.13" in d.findings[0].fix and "TensorFlow 2.20.0" in d.findings[0].fix
    assert d.verdict == "CPU only: TensorFlow 2.20.0 runs on the CPU; GPU combinations will be skipped"
    assert fact(d, "TensorFlow") == "2.20.0"
    assert fact(d, "TF built with") == "CUDA 12.5.1, cuDNN 9.3; kernels sm_60, sm_70, sm_80, sm_89, compute_90"
    assert fact(d, "NVIDIA driver").startswith("none (NVMLError_LibraryNotFound")
    text = render(d)
    assert CPU_ONLY_TEXT in text and text.rstrip().endswith(d.verdict)
    assert "ERROR" not in text


def test_cpu_only_tensorflow_build_without_gpu() -> None:
    probe = copy.deepcopy(CPU_MACHINE)
    probe["tensorflow"]["built_with_cuda"] = False
    probe["tensorflow"]["build_info"] = {"is_cuda_build": False, "is_rocm_build": False}
    d = diagnose(probe, NO_NVML)
    assert d.ok and classes(d, "info") == [None]
    assert fact(d, "TF built with") == "no CUDA (a CPU-only build)"


def test_numpy_abi_import_error_recorded_here() -> None:
    probe = copy.deepcopy(CPU_MACHINE)   # results/20261129T102512Z-b76e4e/tf2.15-numpy2-cpu.json
    probe["tensorflow"] = probe["devices"] = {"error": "ImportError: numpy.core.umath failed to import"}
    d = diagnose(probe, NO_NVML)
    assert classes(d) == ["numpy-abi"]
    assert "numpy.core.umath failed to import" in d.errors[0].what
    assert "numpy<2" in d.errors[0].fix and "2.4.6" in d.errors[0].fix
    assert d.verdict.startswith("NOT READY: 1 error(s)")


def test_unclassified_import_error_names_releases_for_this_python() -> None:
    probe = copy.deepcopy(CPU_MACHINE)
    probe["tensorflow"] = {"error": "ModuleNotFoundError: No module named 'tensorflow'"}
    d = diagnose(probe, NO_NVML)
    assert classes(d) == ["python-error"]
    assert "Python 3.11: 2.12 to 2.20" in d.errors[0].fix


def test_no_avx_is_illegal_instruction() -> None:
    probe = copy.deepcopy(CPU_MACHINE)
    probe["cpu"]["flags"] = ["sse4_1", "sse4_2"]
    d = diagnose(probe, NO_NVML)
    assert classes(d) == ["illegal-instruction"]
    assert "TF 1.6" in d.errors[0].what and "2011" in d.errors[0].fix


# --------------------------------------------------------------------------- (b) the access violation, on a FAKE


def test_windows_rtx2080_names_the_disagreement_and_the_fix() -> None:
    d = diagnose(*box.windows_rtx2080_tf210())
    assert classes(d) == ["cudnn-mismatch"]
    (err,) = d.errors
    for needle in ("TensorFlow 2.10.1", "CUDA 11.2 / cuDNN 8.1", "CUDA 12.2 runtime", "cudart64_12.dll",
                   "cuDNN 8.9.7 (cudnn64_8.dll) was loaded from the same folder"):
        assert needle in err.what
    assert err.fix == ("install cuDNN 8.1 for CUDA 11.2 (cudnn64_8.dll) into C:\\Program Files\\NVIDIA GPU Computing "
                       "Toolkit\\CUDA\\v11.2\\bin, and remove CUDA 12.2 from PATH (C:\\Program Files\\NVIDIA GPU "
                       "Computing Toolkit\\CUDA\\v12.2\\bin)")
    assert fact(d, "TF built with").startswith("CUDA 11.2, cuDNN 8.1")   # from build_info "64_112" / "64_8"
    assert "tensorflow_gpu-2.10.0" in fact(d, "TF tested with")
    assert fact(d, "GPU 0") == "NVIDIA GeForce RTX 2080, compute capability 7.5, 8 GiB"
    assert d.verdict == "NOT READY: 1 error(s), 0 warning(s); predicted cudnn-mismatch"


def test_windows_rtx2080_with_the_right_libraries_is_fine() -> None:
    probe, nvml = box.windows_rtx2080_tf210()
    probe["loaded_libraries"] = [
        {"path": f"{box.CUDA_WIN}\\v11.2\\bin\\cudart64_110.dll", "name": "cudart", "version": "11.2"},
        {"path": f"{box.CUDA_WIN}\\v11.2\\bin\\cudnn64_8.dll", "name": "cudnn", "version": "8.1.1"}]
    d = diagnose(probe, nvml)
    assert d.ok and d.findings == ()
    assert d.verdict == "OK: TensorFlow 2.10.1 sees 1 GPU(s) (NVIDIA GeForce RTX 2080)"


def test_windows_flags_not_read_are_not_no_avx() -> None:
    probe, _ = box.windows_rtx2080_tf210()
    assert probe["cpu"]["flags"] == []
    assert "illegal-instruction" not in classes(diagnose(*box.windows_rtx2080_tf210()))


def test_foreign_cuda_11_on_the_library_path_of_a_cuda_12_tensorflow() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["loaded_libraries"] += [
        {"path": "/usr/local/cuda-11.2/lib64/libcudart.so.11.2.152", "name": "libcudart", "version": "11.2"},
        {"path": "/usr/local/cuda-11.2/lib64/libcudnn.so.8.1.0", "name": "libcudnn", "version": "8.1.0"}]
    d = diagnose(probe, nvml)
    assert classes(d) == ["cudnn-mismatch"]
    assert "loaded the CUDA 11.2 runtime" in d.errors[0].what and "cuDNN 8.1.0" in d.errors[0].what
    assert d.errors[0].fix == ("install cuDNN 9.3 for CUDA 12 (pip install 'nvidia-cudnn-cu12==9.3.*') or use "
                               "tensorflow[and-cuda]==2.18.0, and remove CUDA 11.2 from the library path "
                               "(/usr/local/cuda-11.2/lib64)")


def test_library_versions_from_file_names_when_the_probe_has_none() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["loaded_libraries"] = [{"path": "/usr/local/cuda-11.2/lib64/libcudart.so.11.0"},
                                 {"path": "/usr/local/cuda-11.2/lib64/libcudnn.so.8"}]
    d = diagnose(probe, nvml)
    assert classes(d) == ["cudnn-mismatch", "cuda-lib-missing"]
    assert "did not load a CUDA 12 runtime" in d.errors[1].what


def test_torch_downgraded_cudnn_in_a_tensorflow_venv() -> None:
    d = diagnose(*box.linux_tf218_after_torch())
    assert classes(d) == ["cudnn-mismatch"]
    assert "cuDNN 9.1.0 is an older minor" in d.errors[0].what and "libcudnn.so.9" in d.errors[0].what
    assert d.errors[0].fix == ("install cuDNN 9.3 for CUDA 12 (pip install 'nvidia-cudnn-cu12==9.3.*') or use "
                               "tensorflow[and-cuda]==2.18.0")
    wheels = [f for f in d.warnings if "nvidia-* wheels" in f.what]
    assert len(wheels) == 1 and wheels[0].predicts == "cudnn-mismatch"
    assert "nvidia-cudnn-cu12 9.1.0.70 (wants ==9.3.0.75)" in wheels[0].what
    assert "nvidia-ml-py" not in wheels[0].what and "nvidia-cuda-nvcc-cu12" not in wheels[0].what
    assert wheels[0].fix.startswith("pip install --force-reinstall 'tensorflow[and-cuda]==2.18.0' to restore its "
                                    "12 pins (another package changed 10 of them)")
    assert any("CUDA runtime 12.1" in f.what for f in d.warnings)


def test_missing_cudnn_is_cuda_lib_missing() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["loaded_libraries"] = probe["loaded_libraries"][:1]   # libcudart only
    d = diagnose(probe, nvml)
    assert classes(d) == ["cuda-lib-missing"]
    assert "did not load cuDNN 9" in d.errors[0].what
    assert "pip install 'nvidia-cudnn-cu12==9.3.*'" in d.errors[0].fix


def test_no_libraries_read_while_tensorflow_uses_the_gpu_is_no_evidence() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["loaded_libraries"] = []            # e.g. a platform where the probe cannot list modules
    assert diagnose(probe, nvml).errors == ()
    probe["devices"]["physical"] = probe["devices"]["physical"][:1]
    assert classes(diagnose(probe, nvml)) == ["cuda-lib-missing"]   # and no second "lists none" error


def test_healthy_gpu_box() -> None:
    d = diagnose(*box.linux_tf218_healthy())
    assert d.ok and d.warnings == ()
    assert d.verdict == "OK: TensorFlow 2.18.0 sees 1 GPU(s) (NVIDIA GeForce RTX 3090)"


def test_tf215_as_pinned_without_the_optional_tensorrt_wheels() -> None:
    """tensorflow[and-cuda]==2.15.0 also pins tensorrt 8.6.1; TensorFlow runs without it, so no warning."""
    probe, nvml = box.linux_tf218_healthy()
    caps = "['sm_50', 'sm_60', 'sm_70', 'sm_75', 'compute_80']"   # build_info recorded for 2.15.1 here
    probe["tensorflow"] = {"version": "2.15.0", "built_with_cuda": True,
                           "build_info": {"cuda_compute_capabilities": caps, "cuda_version": "12.2",
                                          "cudnn_version": "8", "is_cuda_build": True}}
    probe["nvidia_wheels"] = {n: s[2:] for n, s in compat.and_cuda_pins("2.15.0").items() if n.startswith("nvidia-")}
    probe["loaded_libraries"] = [
        {"path": f"{box.SITE}/nvidia/cuda_runtime/lib/libcudart.so.12", "name": "libcudart", "version": "12.2"},
        {"path": f"{box.SITE}/nvidia/cudnn/lib/libcudnn.so.8", "name": "libcudnn", "version": "8.9.4"}]
    d = diagnose(probe, nvml)
    assert d.findings == ()
    assert fact(d, "TF built with").startswith("CUDA 12.2, cuDNN 8.9; kernels sm_50")
    probe["nvidia_wheels"]["nvidia-cudnn-cu12"] = "8.9.7.29"
    d = diagnose(probe, nvml)
    assert classes(d, "warning") == ["cudnn-mismatch"]
    assert d.warnings[0].fix.startswith("pip install 'nvidia-cudnn-cu12==8.9.4.25'")


# --------------------------------------------------------------------------- (c) the driver floor


def test_driver_below_cuda_12_floor() -> None:
    d = diagnose(*box.linux_tf218_old_driver())
    assert classes(d) == ["no-gpu"]       # and no cuda-lib-missing: the driver stopped TF before it loaded them
    (err,) = d.errors
    assert err.what == ("NVIDIA driver 470.57.02 is older than CUDA 12's floor 525.60.13 "
                        "(TensorFlow 2.18.0 was built with CUDA 12.5.1)")
    assert err.fix.startswith("upgrade the NVIDIA driver to >= 525.60.13")
    assert "TensorFlow 2.14 (built with CUDA 11.8, needs >= 450.80.02)" in err.fix
    assert not any("lists none" in f.what for f in d.findings)


@pytest.mark.parametrize("driver, cuda, floor_error", [
    ("525.60.12", "12.0", True), ("525.60.13", "12.0", False), ("525.105.17", "12.0", False),
])
def test_driver_floor_boundary(driver: str, cuda: str, floor_error: bool) -> None:
    probe, nvml = box.linux_tf218_healthy()
    d = diagnose(probe, {**nvml, "driver_version": driver, "cuda_driver_version": cuda})
    assert ("no-gpu" in classes(d)) is floor_error


def test_windows_uses_the_windows_floor() -> None:
    probe, nvml = box.windows_rtx2080_tf210()
    d = diagnose(probe, {**nvml, "driver_version": "451.82", "cuda_driver_version": "11.0"})
    assert d.errors[0].what.startswith("NVIDIA driver 451.82 is older than CUDA 11's floor 452.39")
    assert d.errors[0].fix.startswith("upgrade the NVIDIA driver to >= 452.39")


# --------------------------------------------------------------------------- other findings


def test_gpu_below_the_lowest_kernel() -> None:
    d = diagnose(*box.linux_tf220_gtx960m())
    assert d.errors == ()                 # explained: no "TensorFlow lists none" error on top
    assert classes(d, "warning") == ["no-gpu"]
    w = d.warnings[0]
    assert "compute capability 5.0" in w.what and "6.0 and up" in w.what
    assert w.fix == "use a GPU with compute capability >= 6.0, or TensorFlow 2.10 / 2.15 (built with kernels for 5.0)"
    assert any("cuDNN 9.28.0" in f.what for f in d.findings if f.severity == "info")


def test_tensorflow_sees_no_gpu_without_an_explanation() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["devices"]["physical"] = probe["devices"]["physical"][:1]
    d = diagnose(probe, nvml)
    assert classes(d) == ["no-gpu"]
    assert d.errors[0].what == "NVML sees 1 GPU(s) (NVIDIA GeForce RTX 3090) but TensorFlow 2.18.0 lists none"
    assert "tensorflow[and-cuda]==2.18.0" in d.errors[0].fix


def test_gpus_hidden_by_cuda_visible_devices_are_not_an_error() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["devices"]["physical"] = probe["devices"]["physical"][:1]
    probe["env"] = {"CUDA_VISIBLE_DEVICES": ""}
    d = diagnose(probe, nvml)
    assert d.ok
    assert any("CUDA_VISIBLE_DEVICES='' hides the 1 GPU(s)" in f.what for f in d.findings)


def test_cpu_only_build_on_a_gpu_machine() -> None:
    probe, nvml = box.linux_tf218_healthy()
    probe["tensorflow"]["built_with_cuda"] = False
    probe["tensorflow"]["build_info"] = {"is_cuda_build": False}
    d = diagnose(probe, nvml)
    assert classes(d, "warning") == ["no-gpu"]
    assert d.warnings[0].fix == "pip install 'tensorflow[and-cuda]==2.18.0' (the CUDA build, with its nvidia-* wheels)"


def test_cpu_only_build_on_windows_points_at_2_10_or_wsl2() -> None:
    probe, nvml = box.windows_rtx2080_tf210()
    probe["tensorflow"] = {"version": "2.15.1", "built_with_cuda": False, "build_info": {"is_cuda_build": False}}
    d = diagnose(probe, nvml)
    assert classes(d, "warning") == ["no-gpu"]
    assert "TensorFlow 2.10" in d.warnings[0].fix and "WSL2" in d.warnings[0].fix


# --------------------------------------------------------------------------- (d) every fix names versions


SCENARIOS = {
    "windows_rtx2080_tf210": box.windows_rtx2080_tf210, "linux_tf218_after_torch": box.linux_tf218_after_torch,
    "linux_tf218_old_driver": box.linux_tf218_old_driver, "linux_tf220_gtx960m": box.linux_tf220_gtx960m,
}


def _all_findings():
    for name, make in SCENARIOS.items():
        for f in diagnose(*make()).findings:
            yield pytest.param(f, id=f"{name}-{f.severity}-{f.predicts}")
    cpu = diagnose(CPU_MACHINE, NO_NVML)
    for f in cpu.findings:
        yield pytest.param(f, id=f"cpu-{f.severity}")


@pytest.mark.parametrize("finding", list(_all_findings()))
def test_every_fix_mentions_concrete_versions(finding) -> None:
    assert re.search(r"\b\d+\.\d+(\.\d+)?\b", finding.fix), finding.fix


def test_every_scenario_has_findings() -> None:
    assert all(diagnose(*make()).findings for make in SCENARIOS.values())


# --------------------------------------------------------------------------- shape


def test_findings_are_ordered_by_severity_and_json_serialisable() -> None:
    d = diagnose(*box.linux_tf218_after_torch())
    order = [f.severity for f in d.findings]
    assert order == sorted(order, key=["error", "warning", "info"].index)
    data = json.loads(json.dumps(d.to_json()))
    assert data["ok"] is False and data["verdict"] == d.verdict
    assert data["findings"][0] == {"severity": "error", "what": d.errors[0].what, "predicts": "cudnn-mismatch",
                                   "fix": d.errors[0].fix}


def test_render_lists_facts_findings_and_fixes() -> None:
    d = diagnose(*box.windows_rtx2080_tf210())
    text = render(d)
    assert text.startswith("tfmatrix doctor\n")
    assert "ERROR   [cudnn-mismatch]" in text
    assert "fix: install cuDNN 8.1 for CUDA 11.2" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert text.endswith(f"verdict: {d.verdict}\n")


def test_diagnosis_is_frozen() -> None:
    d = diagnose(CPU_MACHINE, NO_NVML)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.verdict = "fine"  # type: ignore[misc]


def test_probe_must_be_a_mapping() -> None:
    with pytest.raises(TfmatrixError, match="the probe must be a mapping"):
        diagnose(["not", "a", "probe"], NO_NVML)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Windows: the CUDA DLLs through PATH


def _windows_nothing_loaded(search: dict | None) -> tuple[dict, dict]:
    """TF 2.10.1's GPU build on the seed story's box, in a process that loaded no CUDA DLL and lists no GPU."""
    probe, nvml = box.windows_rtx2080_tf210()
    probe["loaded_libraries"] = []
    probe["devices"] = {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}], "gpu_details": []}
    if search is not None:
        probe["library_search"] = search
    return probe, nvml


def test_windows_finds_the_cuda_dlls_through_path_and_names_the_folder_to_put_on_it() -> None:
    from tfmatrix.worker.probe import collect_library_search

    environ, tree = box.windows_path_cuda12_first()
    search = collect_library_search(environ, windows=True, listdir=tree.listdir)
    v11, v12 = f"{box.CUDA_WIN}\\v11.2\\bin", f"{box.CUDA_WIN}\\v12.2\\bin"
    assert search["variable"] == "PATH" and search["folders"][2] == v12
    assert [(f["path"], f["on_path"]) for f in search["found"]] == [
        (f"{v12}\\cudart64_12.dll", True), (f"{v12}\\cudnn64_8.dll", True), (f"{v11}\\cudart64_110.dll", False)]

    d = diagnose(*_windows_nothing_loaded(search))
    (err,) = d.errors
    assert err.predicts == "cuda-lib-missing" and "did not load a CUDA 11 runtime" in err.what
    assert err.fix == (f"put {v11} on PATH (cudart64_110.dll is there, named by CUDA_PATH_V11_2), install cuDNN 8.1 "
                       f"for CUDA 11.2 (cudnn64_8.dll) into it, and remove CUDA 12 from PATH ({v12})")
    assert fact(d, "CUDA on PATH") == (f"cudart64_12.dll in {v12}; cudnn64_8.dll in {v12}; cudart64_110.dll in {v11} "
                                       f"(not on PATH: CUDA_PATH_V11_2)")


def test_windows_with_the_dlls_on_path_but_no_toolkit_of_its_cuda_says_install_it() -> None:
    from tfmatrix.worker.probe import collect_library_search

    environ, tree = box.windows_path_cuda12_first()
    del environ["CUDA_PATH_V11_2"], tree.folders[f"{box.CUDA_WIN}\\v11.2\\bin"]
    d = diagnose(*_windows_nothing_loaded(collect_library_search(environ, windows=True, listdir=tree.listdir)))
    v11, v12 = f"{box.CUDA_WIN}\\v11.2\\bin", f"{box.CUDA_WIN}\\v12.2\\bin"
    assert d.errors[0].fix == (f"install the CUDA 11.2 toolkit and put {v11} on PATH, install cuDNN 8.1 for CUDA "
                               f"11.2 (cudnn64_8.dll) into it, and remove CUDA 12 from PATH ({v12})")


def test_windows_without_a_search_keeps_the_fix_it_gave_before() -> None:
    d = diagnose(*_windows_nothing_loaded(None))
    assert d.errors[0].fix == f"install the CUDA 11.2 toolkit and put {box.CUDA_WIN}\\v11.2\\bin on PATH"
    assert all(f.name != "CUDA on PATH" for f in d.facts)


@pytest.mark.parametrize("error, cls, says", [
    ("ImportError: DLL load failed while importing _pywrap_tensorflow_internal: The specified module could not be "
     "found.", "dll-not-found", "Visual C++ Redistributable for Visual Studio 2015-2022"),
    ("ImportError: DLL load failed while importing _pywrap_tensorflow_internal: A dynamic link library (DLL) "
     "initialization routine failed.", "illegal-instruction", "Run on a CPU with AVX"),
])
def test_windows_tensorflow_that_does_not_import_gets_the_dll_class_and_its_fix(error: str, cls: str, says: str) -> None:
    probe, nvml = box.windows_rtx2080_tf210()
    probe["tensorflow"] = probe["devices"] = {"error": error}
    (err,) = diagnose(probe, nvml).errors
    assert err.predicts == cls and says in err.fix and "TensorFlow releases tested on Python 3.10" in err.fix


# --------------------------------------------------------------------------- a probe that dies: its end names the class


def test_a_probe_killed_by_a_signal_is_named_by_it_though_it_printed_nothing(tmp_path) -> None:
    from tfmatrix.cli import doctor_text

    python = tmp_path / "python"  # a real interpreter stand-in that dies as a native crash does, silently
    python.write_text("#!/bin/sh\nkill -SEGV $$\n")
    python.chmod(0o755)
    text, status = doctor_text(str(python))
    assert status == 1 and "the probe itself died (ended by signal SIGSEGV): segfault" in text


@pytest.mark.parametrize("returncode", [3221225781, -1073741515], ids=["unsigned", "signed"])
def test_a_windows_probe_that_cannot_find_a_dll_gets_the_dll_fix(returncode: int) -> None:
    """The seam: the probe's end as Windows reports it (no process here can exit with an NTSTATUS)."""
    from tfmatrix.cli import doctor_text
    from tfmatrix.run.execution.exits import describe_exit

    def died(python: str) -> dict:
        return {"crashed": describe_exit(returncode).text, "stderr_tail": "", "returncode": returncode}

    text, status = doctor_text(r"C:\work\.nox\doctor\Scripts\python.exe", run_probe=died)
    assert status == 1 and "0xC0000135 STATUS_DLL_NOT_FOUND" in text and ": dll-not-found\n" in text
    assert "fix: Install the Microsoft Visual C++ Redistributable for Visual Studio 2015-2022 (x64)" in text
