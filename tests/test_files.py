"""Atomic writes: the old file or the new one, never a part, and nothing left behind."""

from __future__ import annotations

import os
import stat
import time

import pytest

from explorer.files import leftovers, write_atomically


def test_a_write_replaces_the_file_whole_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "state.npz"
    path.write_bytes(b"old")
    write_atomically(path, lambda out: out.write(b"new contents"))
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == ["state.npz"]


def test_a_write_that_fails_half_way_keeps_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"old")

    def fail_half_way(out):
        out.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail_half_way)
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_leftovers_are_the_hidden_temporary_files_of_killed_writes(tmp_path):
    (tmp_path / ".weights.npz.x1y2.tmp").write_bytes(b"part")
    (tmp_path / "weights.npz").write_bytes(b"whole")
    assert [p.name for p in leftovers(tmp_path)] == [".weights.npz.x1y2.tmp"]


def test_leftovers_by_age_leave_a_write_in_progress_alone(tmp_path):
    old, young = tmp_path / ".a.npz.1.tmp", tmp_path / ".b.npz.2.tmp"
    for path in (old, young):
        path.write_bytes(b"part")
    os.utime(old, (time.time() - 600, time.time() - 600))
    assert leftovers(tmp_path, older_than_seconds=300) == [old]
    assert leftovers(tmp_path) == [old, young]
