"""A tiny benchmark suite in asv's conventions, for testing the worker without TensorFlow.

Each method ends its process in one of the ways a real benchmark can.
"""

from __future__ import annotations

import os
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

    def track_hang(self):
        # a grandchild in the same process group: a timeout must kill it too
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["TINY_PIDFILE"], "w") as f:
            f.write(str(child.pid))
        time.sleep(300)
