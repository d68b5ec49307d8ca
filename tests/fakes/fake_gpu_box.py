"""FAKE GPU machines: explicit stand-ins for hosts this project's CI cannot have.

Each function returns ``(probe, nvml)`` shaped exactly as ``tfmatrix.worker.probe``
collects them inside a venv (``collect_all()`` and ``collect_nvml()``), filled with
real-world values.  Where each came from (values marked "unchecked" are
well-known figures that were not re-verified against a source here):

* TensorFlow ``build_info`` values: Linux ``"12.5.1"`` / ``"9"`` and
  ``['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']`` recorded by the probe
  for TF 2.20.0 on this project's machine (results/20261129T101357Z-794c82);
  TF 2.18 uses the same hermetic CUDA 12.5.1 / cuDNN 9.3.0 (.bazelrc).  Windows
  builds report ``"64_112"`` / ``"64_8"`` (cuda_configure.bzl returns
  ``"64_" + version.replace(".", "")`` on Windows, tensorflow PR #6047); the
  Windows release build's kernels come from TF's common_win.bat.
* GPU names, compute capabilities and memory sizes as NVML reports them for
  those cards (RTX 2080: 7.5, 8 GiB; RTX 3090: 8.6, 24 GiB; Tesla T4: 7.5,
  15 GiB usable -- unchecked; GTX 960M: 5.0, 4 GiB), and released driver
  versions with the CUDA version nvidia-smi prints for them (unchecked).
  The Windows DLL folder layout and the CPU model string are unchecked too.
* Library file names and folders as the CUDA installers and the nvidia-* wheels
  lay them out; versions as ``cudaRuntimeGetVersion`` / ``cudnnGetVersion`` return
  them (the probe formats 12010 as "12.1", 90100 as "9.1.0").
* nvidia-* wheel versions from the wheels' metadata: tensorflow[and-cuda]==2.18.0
  pins, and torch==2.4.1's pins (nvidia-cudnn-cu12==9.1.0.70, CUDA 12.1.x).

Never used outside tests.
"""

from __future__ import annotations

from typing import Any

CUDA_WIN = "C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA"
SITE = "/home/user/venvs/tf218/lib/python3.11/site-packages"
SITE220 = "/home/user/venvs/tf220/lib/python3.11/site-packages"

TF218_BUILD = {"cuda_compute_capabilities": "['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']",
               "cuda_version": "12.5.1", "cudnn_version": "9", "is_cuda_build": True,
               "is_rocm_build": False, "is_tensorrt_build": False}
TF220_BUILD = {**TF218_BUILD, "cpu_compiler": "clang 18"}   # recorded, TF 2.20.0

#: tensorflow[and-cuda]==2.18.0 as its metadata pins it (plus NVML's reader).
TF218_AND_CUDA = {
    "nvidia-cublas-cu12": "12.5.3.2", "nvidia-cuda-cupti-cu12": "12.5.82", "nvidia-cuda-nvcc-cu12": "12.5.82",
    "nvidia-cuda-nvrtc-cu12": "12.5.82", "nvidia-cuda-runtime-cu12": "12.5.82", "nvidia-cudnn-cu12": "9.3.0.75",
    "nvidia-cufft-cu12": "11.2.3.61", "nvidia-curand-cu12": "10.3.6.82", "nvidia-cusolver-cu12": "11.6.3.83",
    "nvidia-cusparse-cu12": "12.5.1.3", "nvidia-ml-py": "13.615.71", "nvidia-nccl-cu12": "2.21.5",
    "nvidia-nvjitlink-cu12": "12.5.82",
}

#: The same venv after `pip install torch==2.4.1`: torch's exact pins win (CUDA 12.1.x, cuDNN 9.1.0.70);
#: nvcc and nvjitlink, which torch does not pin, stay at TensorFlow's versions.
TF218_AFTER_TORCH241 = {
    **TF218_AND_CUDA,
    "nvidia-cublas-cu12": "12.1.3.1", "nvidia-cuda-cupti-cu12": "12.1.105", "nvidia-cuda-nvrtc-cu12": "12.1.105",
    "nvidia-cuda-runtime-cu12": "12.1.105", "nvidia-cudnn-cu12": "9.1.0.70", "nvidia-cufft-cu12": "11.0.2.54",
    "nvidia-curand-cu12": "10.3.2.106", "nvidia-cusolver-cu12": "11.4.5.107", "nvidia-cusparse-cu12": "12.1.0.106",
    "nvidia-nccl-cu12": "2.20.5", "nvidia-nvtx-cu12": "12.1.105",
}


#: tensorflow[and-cuda]==2.20.0 as its ranges resolved on 2026-11-29 (uv pip compile, Python 3.11).
TF220_RESOLVED = {
    "nvidia-cublas-cu12": "12.9.3.13", "nvidia-cuda-cupti-cu12": "12.9.79", "nvidia-cuda-nvcc-cu12": "12.9.86",
    "nvidia-cuda-nvrtc-cu12": "12.9.86", "nvidia-cuda-runtime-cu12": "12.9.79", "nvidia-cudnn-cu12": "9.28.0.42",
    "nvidia-cufft-cu12": "11.4.1.4", "nvidia-curand-cu12": "10.3.10.19", "nvidia-cusolver-cu12": "11.7.5.82",
    "nvidia-cusparse-cu12": "12.5.10.65", "nvidia-nccl-cu12": "2.32.3", "nvidia-nvjitlink-cu12": "12.9.86",
}


def _linux(python: str = "3.11.9") -> dict[str, Any]:
    return {"python": {"version": python, "implementation": "CPython"},
            "cpu": {"model": "AMD Ryzen 9 5950X 16-Core Processor",
                    "flags": ["avx", "avx2", "fma", "sse4_1", "sse4_2"], "logical_cores": 32},
            "os": {"system": "Linux", "release": "6.8.0-49-generic", "machine": "x86_64"}}


def windows_rtx2080_tf210() -> tuple[dict[str, Any], dict[str, Any]]:
    """Windows 10, RTX 2080, TF 2.10.1 (built for CUDA 11.2 / cuDNN 8.1): the access violation.

    CUDA 11.2 is installed for TensorFlow, but CUDA 12.2 with cuDNN 8.9.7 "for CUDA 12.x"
    was installed later and its bin folder comes first on PATH.  TensorFlow loads its
    cudart64_110.dll from v11.2, then cudnn64_8.dll from v12.2\\bin - the CUDA 12 build of
    cuDNN 8, which pulls cudart64_12.dll and cublasLt64_12.dll into the process.  The
    version check passes (8.9 >= 8.1, same major); the process dies with 0xC0000005 in
    the first convolution.
    """
    probe = {
        "python": {"version": "3.10.11", "implementation": "CPython"},
        "tensorflow": {"version": "2.10.1", "built_with_cuda": True,
                       "build_info": {"cuda_compute_capabilities":
                                      "['sm_35', 'sm_50', 'sm_60', 'sm_70', 'sm_75', 'compute_80']",
                                      "cuda_version": "64_112", "cudnn_version": "64_8", "is_cuda_build": True,
                                      "is_rocm_build": False, "is_tensorrt_build": False,
                                      "msvcp_dll_names": "msvcp140.dll,msvcp140_1.dll",
                                      "nvcuda_dll_name": "nvcuda.dll"}},
        "devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                 {"name": "/physical_device:GPU:0", "type": "GPU"}], "gpu_details": []},
        "numpy": {"version": "1.23.5"},
        "loaded_libraries": [
            {"path": f"{CUDA_WIN}\\v11.2\\bin\\cudart64_110.dll", "name": "cudart", "version": "11.2"},
            {"path": f"{CUDA_WIN}\\v12.2\\bin\\cublasLt64_12.dll", "name": "cublasLt", "version": None},
            {"path": f"{CUDA_WIN}\\v12.2\\bin\\cudart64_12.dll", "name": "cudart", "version": "12.2"},
            {"path": f"{CUDA_WIN}\\v12.2\\bin\\cudnn64_8.dll", "name": "cudnn", "version": "8.9.7"},
        ],
        "nvidia_wheels": {},
        # platform.processor() of an i7-9700K; no /proc/cpuinfo on Windows, so the probe reads no flags
        "cpu": {"model": "Intel64 Family 6 Model 158 Stepping 12, GenuineIntel", "flags": [], "logical_cores": 8},
        "os": {"system": "Windows", "release": "10", "version": "10.0.19045", "machine": "AMD64"},
    }
    nvml = {"available": True, "driver_version": "537.58", "cuda_driver_version": "12.2",
            "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 2080", "memory_total_bytes": 8589934592,
                      "compute_capability": "7.5"}]}
    return probe, nvml


def linux_tf218_after_torch() -> tuple[dict[str, Any], dict[str, Any]]:
    """Linux, RTX 3090, tensorflow[and-cuda]==2.18.0 and then `pip install torch==2.4.1` in the same venv.

    torch's pins replace TensorFlow's: cuDNN 9.1.0 (TensorFlow needs >= 9.3 of major 9) and
    the CUDA 12.1 runtime.  TensorFlow still lists the GPU; cuDNN fails at the first
    convolution ("Loaded runtime CuDNN library: 9.1.0 but source was compiled with: 9.3.0").
    """
    probe = {
        **_linux(),
        "tensorflow": {"version": "2.18.0", "built_with_cuda": True,
                       "build_info": dict(TF218_BUILD)},
        "devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                 {"name": "/physical_device:GPU:0", "type": "GPU"}], "gpu_details": []},
        "numpy": {"version": "2.0.2"},
        "loaded_libraries": [
            {"path": f"{SITE}/nvidia/cublas/lib/libcublas.so.12", "name": "libcublas", "version": None},
            {"path": f"{SITE}/nvidia/cublas/lib/libcublasLt.so.12", "name": "libcublasLt", "version": None},
            {"path": f"{SITE}/nvidia/cuda_runtime/lib/libcudart.so.12", "name": "libcudart", "version": "12.1"},
            {"path": f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", "name": "libcudnn", "version": "9.1.0"},
        ],
        "nvidia_wheels": dict(TF218_AFTER_TORCH241),
    }
    nvml = {"available": True, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
            "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3090", "memory_total_bytes": 25769803776,
                      "compute_capability": "8.6"}]}
    return probe, nvml


def linux_tf218_old_driver() -> tuple[dict[str, Any], dict[str, Any]]:
    """Linux, Tesla T4 on driver 470.57.02 (CUDA 11.4), tensorflow[and-cuda]==2.18.0 (CUDA 12.5.1).

    The driver is below CUDA 12's floor, so cuInit fails and TensorFlow lists no GPU; it
    never gets as far as loading its CUDA libraries.
    """
    probe = {
        **_linux(),
        "tensorflow": {"version": "2.18.0", "built_with_cuda": True,
                       "build_info": dict(TF218_BUILD)},
        "devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}], "gpu_details": []},
        "numpy": {"version": "2.0.2"},
        "loaded_libraries": [
            {"path": "/usr/lib/x86_64-linux-gnu/libcuda.so.470.57.02", "name": "libcuda", "version": "11.4"},
        ],
        "nvidia_wheels": dict(TF218_AND_CUDA),
    }
    nvml = {"available": True, "driver_version": "470.57.02", "cuda_driver_version": "11.4",
            "gpus": [{"index": 0, "name": "Tesla T4", "memory_total_bytes": 16106127360,
                      "compute_capability": "7.5"}]}
    return probe, nvml


def linux_tf218_healthy() -> tuple[dict[str, Any], dict[str, Any]]:
    """Linux, RTX 3090, driver 550.54.15, tensorflow[and-cuda]==2.18.0 exactly as pinned: nothing wrong."""
    probe = {
        **_linux(),
        "tensorflow": {"version": "2.18.0", "built_with_cuda": True,
                       "build_info": dict(TF218_BUILD)},
        "devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"},
                                 {"name": "/physical_device:GPU:0", "type": "GPU"}], "gpu_details": []},
        "numpy": {"version": "2.0.2"},
        "loaded_libraries": [
            {"path": f"{SITE}/nvidia/cuda_runtime/lib/libcudart.so.12", "name": "libcudart", "version": "12.5"},
            {"path": f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", "name": "libcudnn", "version": "9.3.0"},
        ],
        "nvidia_wheels": dict(TF218_AND_CUDA),
    }
    nvml = {"available": True, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
            "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3090", "memory_total_bytes": 25769803776,
                      "compute_capability": "8.6"}]}
    return probe, nvml


def linux_tf220_gtx960m() -> tuple[dict[str, Any], dict[str, Any]]:
    """Linux laptop, GTX 960M (compute capability 5.0), TF 2.20.0 whose kernels start at sm_60.

    TensorFlow ignores the device ("The minimum required Cuda capability is 6.0") and
    lists only the CPU.
    """
    probe = {
        **_linux("3.11.7"),
        "tensorflow": {"version": "2.20.0", "built_with_cuda": True,
                       "build_info": dict(TF220_BUILD)},
        "devices": {"physical": [{"name": "/physical_device:CPU:0", "type": "CPU"}], "gpu_details": []},
        "numpy": {"version": "2.3.5"},
        "loaded_libraries": [
            {"path": f"{SITE220}/nvidia/cuda_runtime/lib/libcudart.so.12", "name": "libcudart", "version": "12.9"},
            {"path": f"{SITE220}/nvidia/cudnn/lib/libcudnn.so.9", "name": "libcudnn", "version": "9.28.0"},
        ],
        "nvidia_wheels": dict(TF220_RESOLVED),
    }
    nvml = {"available": True, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
            "gpus": [{"index": 0, "name": "NVIDIA GeForce GTX 960M", "memory_total_bytes": 4294967296,
                      "compute_capability": "5.0"}]}
    return probe, nvml


class FakeTree:
    """A FAKE Windows file tree for the PATH search (``probe.collect_library_search``'s ``listdir`` seam):
    {folder: file names}; a folder it does not hold raises as os.listdir does."""

    def __init__(self, folders: dict[str, list[str]]) -> None:
        self.folders = folders

    def listdir(self, folder: str) -> list[str]:
        try:
            return self.folders[folder]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the path specified", folder) from None


def windows_path_cuda12_first() -> tuple[dict[str, str], FakeTree]:
    """The seed story's box before TensorFlow loads anything: CUDA 11.2 and 12.2 both installed, the 12.2
    installer put its bin folder (with cuDNN 8.9 "for CUDA 12.x" copied in) on PATH, and the 11.2 bin folder is
    named only by CUDA_PATH_V11_2 -- the variables the CUDA installer sets (unchecked layout)."""
    v11, v12 = f"{CUDA_WIN}\\v11.2", f"{CUDA_WIN}\\v12.2"
    environ = {
        "PATH": f"C:\\Windows\\system32;C:\\Windows;{v12}\\bin;{v12}\\libnvvp;C:\\Users\\me\\AppData\\Local\\"
                f"Programs\\Python\\Python310\\Scripts\\;C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python310\\",
        "CUDA_PATH": v12, "CUDA_PATH_V12_2": v12, "CUDA_PATH_V11_2": v11,
    }
    tree = FakeTree({
        "C:\\Windows\\system32": ["kernel32.dll", "msvcp140.dll", "msvcp140_1.dll", "vcruntime140.dll",
                                 "vcruntime140_1.dll", "nvcuda.dll"],
        "C:\\Windows": ["explorer.exe"],
        f"{v12}\\bin": ["cublas64_12.dll", "cublasLt64_12.dll", "cudart64_12.dll", "cudnn64_8.dll",
                        "cudnn_ops_infer64_8.dll", "nvcc.exe"],
        f"{v11}\\bin": ["cublas64_11.dll", "cublasLt64_11.dll", "cudart64_110.dll", "cufft64_10.dll", "nvcc.exe"],
    })
    return environ, tree
