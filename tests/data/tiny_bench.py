"""A tiny benchmark suite in asv's conventions, for testing the worker without TensorFlow.

Each method ends its process in one of the ways a real benchmark can.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


class Tiny:
    params = [[1, 2]]
    param_names = ["n"]

    def setup(self, n):
        self.n = n
        self.min_queries = 5
        self.min_seconds = 0.05
        self.warmup = 1
        self.tfmatrix_extra = {"setup_n": n}

    def timeraw_sleep(self, n):
        return "time.sleep(0.01)", "import time"

    def time_sleep(self, n):
        time.sleep(0.001 * n)

    def track_value(self, n):
        print("benchmark noise on stdout must not matter")
        return 42.5 * n

    track_value.unit = "widgets"

    def peakmem_alloc(self, n):
        self.blob = bytearray(64 * 1024 * 1024)

    def track_pid(self, n):
        return os.getpid()

    def track_segfault_later(self, n):
        import threading

        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGSEGV)).start()  # after the step reported
        return 1.0

    track_pid.unit = "pid"

    def track_leaves_teardown_work(self, n):
        """Prints without flushing, and leaves an exit handler (a TensorFlow process leaves seconds of them)."""
        import atexit

        atexit.register(lambda: open(os.environ["TINY_AT_EXIT"], "w").close())
        print("printed last, not flushed")
        return 1.0


class Crash:
    def track_abort(self):
        os.abort()

    def track_segfault(self):
        import ctypes

        ctypes.string_at(0)

    def track_raise(self):
        raise ValueError("Descriptors cannot be created directly.")

    def track_exit_zero(self):
        sys.stdout.flush()
        os._exit(0)

    def track_sigill(self):
        os.kill(os.getpid(), signal.SIGILL)

    def track_sigbus(self):
        os.kill(os.getpid(), signal.SIGBUS)

    def track_sigfpe(self):
        os.kill(os.getpid(), signal.SIGFPE)

    def track_sigkill(self):
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does

    def track_memory_error(self):
        return len(bytearray(1 << 60))

    def track_exit_three(self):
        sys.stderr.write("giving up\n")
        sys.stderr.flush()
        os._exit(3)

    def track_windows_dll_load_failed(self):  # what `import tensorflow` raises on Windows without the MSVC runtime
        raise ImportError("DLL load failed while importing _pywrap_tensorflow_internal: The specified module could "
                          "not be found.")

    def track_windows_dll_init_failed(self):  # the same import on a CPU without AVX
        raise ImportError("DLL load failed while importing _pywrap_tensorflow_internal: A dynamic link library (DLL) "
                          "initialization routine failed.")

    def track_flood_stderr(self):
        sys.stderr.write("A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.0 as it may crash.\n")
        for _ in range(5 * 1024):
            sys.stderr.write("x" * 1023 + "\n")
        raise ImportError("numpy.core.multiarray failed to import")

    def track_hang(self):
        # a grandchild in the same process group: a timeout must kill it too
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["TINY_PIDFILE"], "w") as f:
            f.write(str(child.pid))
        time.sleep(300)
