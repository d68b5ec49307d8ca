"""Both branches of every POSIX/Windows fork in the harness, run here through explicit seams."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.run.execution import runner
from tfmatrix.run.execution.exits import describe_exit
from tfmatrix.run.execution.phases import stack_env
from tfmatrix.run.noxside import interrupts
from tfmatrix.worker import probe

ROOT = Path(__file__).resolve().parents[1]


def test_worker_process_group_on_both_systems():
    assert runner._popen_kwargs(windows=False) == {"start_new_session": True}
    assert runner._popen_kwargs(windows=True) == {"creationflags": 0x00000200}  # CREATE_NEW_PROCESS_GROUP


def test_killing_the_worker_tree_on_windows_is_taskkill_with_tree():
    calls = []

    class Proc:
        pid = 4242
    runner._kill_group(Proc(), windows=True, run=lambda argv, **kw: calls.append(argv))
    assert calls == [["taskkill", "/F", "/T", "/PID", "4242"]]


def test_killing_the_worker_group_on_posix_takes_the_grandchild_too(tmp_path):
    if os.name == "nt":
        pytest.skip("the POSIX branch")
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                              "print(p.pid, flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True, **runner._popen_kwargs(windows=False))
    grandchild = int(child.stdout.readline())
    runner._kill_group(child, windows=False)
    child.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        state = Path(f"/proc/{grandchild}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the grandchild outlived its group")


@pytest.mark.parametrize("code, windows, text", [
    (-11, False, "signal SIGSEGV"), (-1073741819, True, "STATUS_ACCESS_VIOLATION"),
    (3221225477, True, "STATUS_ACCESS_VIOLATION"), (-1073741795, True, "STATUS_ILLEGAL_INSTRUCTION"),
])
def test_exit_codes_read_as_signals_on_posix_and_ntstatus_on_windows(code, windows, text):
    assert text in describe_exit(code, windows).text


def test_sigterm_becomes_an_interrupt_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(interrupts.Interrupted) as err:
        with interrupts.signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises long before; without it SIGTERM would end pytest itself
    assert err.value.signal_name == "SIGTERM" and isinstance(err.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before


def test_started_with_sigint_ignored_it_keeps_ignoring_it_and_sigterm_still_interrupts(tmp_path):
    """What docs/operations.md says of a bench started by ``nohup … &`` from a script (issue 18)."""
    if os.name == "nt":
        pytest.skip("POSIX signal dispositions")
    code = ("import os, signal, sys, time\n"
            "from tfmatrix.run.noxside import interrupts\n"
            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)\n"
            "try:\n"
            "    with interrupts.signals_as_interrupt():\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "        time.sleep(0.5)  # an ignored SIGINT: nothing happens\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        time.sleep(5)\n"
            "except interrupts.Interrupted as exc:\n"
            "    print(exc.signal_name, flush=True)\n")
    ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731 - as such a shell starts a job
    out = subprocess.run([sys.executable, "-c", code], preexec_fn=ignore, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert out.stdout.split() == ["True", "SIGTERM"], out.stdout + out.stderr


def test_loaded_libraries_from_a_windows_module_list():
    """The module list EnumProcessModules gives on the seed story's box (paths as Windows writes them)."""
    cuda = r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA"
    paths = [cuda + r"\v11.2\bin\cudart64_110.dll", cuda + r"\v12.2\bin\cudnn64_8.dll",
             r"C:\Windows\System32\kernel32.dll"]
    libs = probe.collect_loaded_libraries(paths)
    assert [lib["path"] for lib in libs] == sorted(paths[:2])
    assert [lib["name"] for lib in libs] == ["cudart", "cudnn"]


def test_the_windows_native_example_matrix_validates():
    path = ROOT / "examples" / "windows-native.yaml"
    matrix = load_matrix(path)
    combos = combinations(matrix, "windows-native")
    assert [c.id for c in combos] == ["tf2.10-win-cuda112"]
    (combo,) = combos
    assert combo.python == "3.9" and combo.tf.version.startswith("2.10")  # TFM 2.10.0: opencv wheels to cp39
    assert combo.stack.kind == "cuda-system" and combo.stack.library_path[0].startswith("C:\\")
    assert yaml.safe_load(path.read_text())["profiles"]["windows-native"]["description"]


def test_host_cuda_folders_go_to_ld_library_path_on_linux_and_path_on_windows(monkeypatch):
    monkeypatch.setenv("LD_LIBRARY_PATH", "/old")
    monkeypatch.setenv("PATH", "/bin")
    win = next(iter(combinations(load_matrix(ROOT / "examples" / "windows-native.yaml"), "windows-native")))
    env = stack_env(win, windows=True)
    assert env["PATH"].split(";")[:2] == list(win.stack.library_path) and env["PATH"].endswith("/bin")
    assert "LD_LIBRARY_PATH" not in env
    env = stack_env(win, windows=False)
    assert env["LD_LIBRARY_PATH"].split(":")[-1] == "/old" and "PATH" not in env


@pytest.mark.parametrize("venv, platform, expected", [
    (r"C:\work\.nox\bench-tf2-10-win", "win32", r"C:\work\.nox\bench-tf2-10-win\Scripts\python.exe"),
    ("C:/work/.nox/bench-tf2-10-win", "nt", r"C:\work\.nox\bench-tf2-10-win\Scripts\python.exe"),
    ("/work/.nox/bench-tf2-20-cpu", "linux", "/work/.nox/bench-tf2-20-cpu/bin/python"),
    ("/work/.nox/bench-tf2-20-cpu", "posix", "/work/.nox/bench-tf2-20-cpu/bin/python"),
    ("/Users/me/.nox/bench-tf2-20-cpu", "darwin", "/Users/me/.nox/bench-tf2-20-cpu/bin/python"),
])
def test_a_venvs_interpreter_is_scripts_python_exe_on_windows_and_bin_python_elsewhere(venv, platform, expected):
    assert runner.python_in(venv, platform) == expected
    if platform not in ("win32", "nt"):  # the harness passes a Path
        assert runner.python_in(Path(venv), platform) == expected


def test_this_platforms_venv_interpreter_is_the_one_venv_makes(tmp_path):
    import venv as venvlib

    venvlib.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(tmp_path / "v")
    python = runner.python_in(tmp_path / "v")  # sys.platform, as the harness calls it
    out = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == tmp_path / "v"


def test_no_module_spells_a_venvs_interpreter_path_itself():
    """Every venv interpreter path goes through runner.python_in (the doctor, the installer, the exporter, the
    worker): no other module writes bin/python or Scripts/python.exe."""
    spelled = []
    for path in (ROOT / "src" / "tfmatrix").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "runner.py" and any(s in text for s in ('"bin/python', "'bin/python", '"bin", "python"',
                                                                 "Scripts", "python.exe")):
            spelled.append(str(path.relative_to(ROOT)))
    assert spelled == []


def test_the_library_search_reads_ld_library_path_on_linux_from_a_real_tree(tmp_path):
    cuda, cudnn, other = tmp_path / "cuda-11.8" / "lib64", tmp_path / "cudnn" / "lib", tmp_path / "not-on-path"
    for folder, names in ((cuda, ["libcudart.so.11.0", "libcudart.so", "libcublas.so.11"]),
                          (cudnn, ["libcudnn.so.8", "libcudnn.so.8.6.0", "README"]), (other, ["libcudart.so.12"])):
        folder.mkdir(parents=True)
        for n in names:
            (folder / n).write_bytes(b"")
    environ = {"LD_LIBRARY_PATH": f"{cuda}::{cudnn}:{tmp_path / 'missing'}", "CUDA_PATH": str(other),
               "PATH": str(other)}
    search = probe.collect_library_search(environ, windows=False)
    assert search["variable"] == "LD_LIBRARY_PATH" and search["toolkits"] == {}  # CUDA_PATH is Windows' installer's
    assert [(Path(f["path"]).name, f["on_path"]) for f in search["found"]] == [
        ("libcudart.so.11.0", True), ("libcudnn.so.8", True), ("libcudnn.so.8.6.0", True)]


def test_the_windows_search_compares_folders_as_windows_does():
    tree = {r"C:\CUDA\v11.2\bin": ["cudart64_110.dll", "CUDNN64_8.DLL"]}
    environ = {"PATH": r"c:\cuda\V11.2\BIN\;C:\Windows", "CUDA_PATH_V11_2": r"C:\CUDA\v11.2"}

    def listdir(folder):
        match = [k for k in tree if k.lower() == folder.lower().rstrip("\\")]
        if not match:
            raise FileNotFoundError(folder)
        return tree[match[0]]

    search = probe.collect_library_search(environ, windows=True, listdir=listdir)
    assert [(f["path"], f["on_path"]) for f in search["found"]] == [
        (r"c:\cuda\V11.2\BIN\CUDNN64_8.DLL", True), (r"c:\cuda\V11.2\BIN\cudart64_110.dll", True)]
