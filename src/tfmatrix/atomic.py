"""Atomic JSON writes (standard library only: the worker uses this too).

A record is written to a temp file in the same folder, flushed and fsynced,
then renamed into place: a reader sees the old file or the new one, never
half of one, and a process killed mid-write leaves only a ``.tmp-*`` file.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def _file_mode() -> int:
    """What ``open()`` would give a new file (mkstemp's own 0600 would hide records from other readers)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_temp(path: str, text: str, suffix: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _dump_to_temp(path: str, data: Any) -> str:
    return _write_temp(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n", ".json")


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` to ``path`` atomically, replacing what was there."""
    _replace(_dump_to_temp(path, data), path)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, replacing what was there."""
    _replace(_write_temp(path, text, ".tmp"), path)


def write_json_new(path: str, data: Any) -> None:
    """Write ``data`` to ``path`` atomically; refuse if ``path`` already exists.

    Records are create-only: nothing already recorded is overwritten.  A hard
    link is atomic and fails on an existing name; where links are unsupported
    the rename is guarded by an existence check.
    """
    tmp = _dump_to_temp(path, data)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:
            if os.path.exists(path):
                raise FileExistsError(path) from None
            os.replace(tmp, path)
    finally:
        _unlink_quietly(tmp)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
