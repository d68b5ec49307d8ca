"""cache: list venvs and exports with size and last use; prune the unused, never one in use, never outside."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfmatrix.errors import TfmatrixError
from tfmatrix.run.provisioning import cache

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400


def make(folder: Path, size: int, age_days: float, now: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "blob").write_bytes(b"x" * size)
    cache.touch(folder)
    os.utime(folder / cache.LAST_USED, (now - age_days * DAY, now - age_days * DAY))
    return folder


@pytest.fixture
def tree(tmp_path):
    now = time.time()
    nox_dir, cache_root = tmp_path / ".nox", tmp_path / "cache"
    old_venv = make(nox_dir / "bench-tf2-15-cpu", 3000, 40, now)
    new_venv = make(nox_dir / "bench-tf2-20-cpu", 2000, 1, now)
    make(nox_dir / "tests", 1000, 400, now)  # not a bench venv: never listed
    old_export = make(cache_root / "exports" / "tf2.15-cpu" / "m-1", 500, 31, now)
    outside = make(tmp_path / "precious", 100, 999, now)
    (nox_dir / "bench-link").symlink_to(outside)  # never followed
    return nox_dir, cache_root, now, old_venv, new_venv, old_export, outside


def test_lists_bench_venvs_and_exports_with_size_and_age(tree):
    nox_dir, cache_root, now, old_venv, new_venv, old_export, _ = tree
    found = {e.path: e for e in cache.entries(nox_dir, cache_root)}
    assert set(found) == {old_venv, new_venv, old_export}
    assert found[old_venv].kind == "venv" and found[old_export].kind == "export"
    assert found[old_venv].bytes == 3000
    assert (now - found[old_venv].last_used) / DAY == pytest.approx(40, abs=0.01)


def test_prune_older_than_removes_only_the_unused(tree):
    nox_dir, cache_root, now, old_venv, new_venv, old_export, outside = tree
    found = cache.entries(nox_dir, cache_root)
    dry = dict((e.path, a) for e, a in cache.prune(found, 30 * DAY, dry_run=True, now=now))
    assert dry == {old_venv: "would remove", new_venv: "kept", old_export: "would remove"}
    assert old_venv.exists() and old_export.exists()
    done = dict((e.path, a) for e, a in cache.prune(found, 30 * DAY, dry_run=False, now=now))
    assert done[old_venv] == "removed" and not old_venv.exists() and not old_export.exists()
    assert new_venv.exists() and outside.exists() and (nox_dir / "tests").exists()
    text = cache.render(list(cache.prune(cache.entries(nox_dir, cache_root), 30 * DAY, True, now)), now)
    assert "1 entries" in text and "bench-tf2-20-cpu" in text


def test_a_venv_in_use_is_kept(tree):
    nox_dir, cache_root, now, old_venv, *_ = tree
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); "
         "l.acquire(); print('held', flush=True); time.sleep(60)", str(old_venv / ".tfmatrix.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = dict((e.path, a) for e, a in cache.prune(cache.entries(nox_dir, cache_root), 30 * DAY, False, now))
        assert done[old_venv] == "in use by a run: kept" and old_venv.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("text", ["30", "30 days", "-1d", "1y", "../d"])
def test_bad_age_is_one_line(text):
    with pytest.raises(TfmatrixError, match=r"--older-than: got .*; expected a number and a unit"):
        cache.parse_age(text)


def test_ages():
    assert [cache.parse_age(t) for t in ("12h", "30d", "2w")] == [12 * 3600, 30 * DAY, 14 * DAY]


def test_a_venvs_hard_links_into_uvs_cache_are_listed_but_not_counted_as_freed(tree, tmp_path):
    """uv links a venv's files from its cache: removing the venv frees only the files it alone holds (its
    bytecode), which is what a duplicate venv costs on disk."""
    nox_dir, cache_root, now, old_venv, *_ = tree
    wheel = tmp_path / "uv-cache" / "tensorflow.so"
    wheel.parent.mkdir()
    wheel.write_bytes(b"x" * 7000)
    os.link(wheel, old_venv / "tensorflow.so")
    entry = next(e for e in cache.entries(nox_dir, cache_root) if e.path == old_venv)
    assert (entry.bytes, entry.alone) == (10000, 3000)
    big = dataclasses.replace(entry, bytes=10 * 2**30, alone=2**30)
    text = cache.render([(big, "would remove")], now)
    assert "10.00 GiB, 1.00 GiB of it their own" in text and text.endswith("would free 1.00 GiB")
