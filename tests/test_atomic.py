from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfmatrix.atomic import write_json_atomic, write_json_new

ROOT = Path(__file__).resolve().parents[1]


def test_write_new_refuses_to_overwrite(tmp_path):
    p = tmp_path / "r.json"
    write_json_new(str(p), {"a": 1})
    with pytest.raises(FileExistsError):
        write_json_new(str(p), {"a": 2})
    assert json.loads(p.read_text()) == {"a": 1}
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "r.json"
    write_json_atomic(str(p), {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(str(p), {"a": float("nan")})  # allow_nan=False
    assert json.loads(p.read_text()) == {"a": 1}
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
def test_sigkill_mid_write_never_leaves_half_a_record(tmp_path):
    """A writer killed at random points leaves the old record or the new one, whole."""
    p = tmp_path / "r.json"
    write_json_atomic(str(p), {"v": "old"})
    code = ("import sys; sys.path.insert(0, 'src'); from tfmatrix.atomic import write_json_atomic\n"
            "big = {'v': 'new', 'pad': ['x' * 1000] * 20000}\n"
            "while True: write_json_atomic(sys.argv[1], big)\n")
    for delay in (0.05, 0.15, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", code, str(p)], cwd=ROOT)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(p.read_text())  # never a truncated file
        assert data["v"] in ("old", "new")
