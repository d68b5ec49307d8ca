"""locks: one run per venv (the second waits and says so), one run per GPU unless shared on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tfmatrix.run.provisioning import locks

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys, time
from pathlib import Path
from tfmatrix.run.provisioning import locks
with locks.gpu_lease(Path(sys.argv[1])) as alone:
    print("alone" if alone else "shared", flush=True)
    time.sleep(60)
"""


def hold_in_other_process(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert proc.stdout.readline().strip() == "alone"
    return proc


def test_second_run_on_the_gpu_is_told_so_until_the_first_ends(tmp_path):
    lock = tmp_path / "gpu.lock"
    first = hold_in_other_process(lock)
    try:
        with locks.gpu_lease(lock) as alone:
            assert alone is False
    finally:
        first.send_signal(signal.SIGKILL)  # even a killed run frees the GPU: the lock dies with its process
        first.wait()
    with locks.gpu_lease(lock) as alone:
        assert alone is True


def test_exclusive_waits_for_the_holder_and_says_so(tmp_path):
    path = tmp_path / "venv" / ".tfmatrix.lock"
    path.parent.mkdir()
    said: list[str] = []
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with locks.exclusive(path, said.append):
            holding.set()
            time.sleep(0.5)
            order.append("first done")

    t = threading.Thread(target=first)
    t.start()
    holding.wait()
    with locks.exclusive(path, said.append):
        order.append("second in")
    t.join()
    assert order == ["first done", "second in"]
    assert len(said) == 1 and "waiting for another run that is using venv" in said[0]
