from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfmatrix.atomic import write_json_atomic, write_json_new, write_text_atomic

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


def test_written_files_get_the_mode_open_would_give(tmp_path):
    """mkstemp makes 0600 files; records and reports must stay readable by the umask's rules."""
    old = os.umask(0o022)
    try:
        write_json_atomic(str(tmp_path / "a.json"), {"a": 1})
        write_json_new(str(tmp_path / "b.json"), {"b": 1})
        write_text_atomic(str(tmp_path / "c.html"), "<p>é</p>")
    finally:
        os.umask(old)
    for name in ("a.json", "b.json", "c.html"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.html").read_text(encoding="utf-8") == "<p>é</p>"
