"""Atomic writes: a failed write leaves the old file (or files, for a group written as one);
a good one has the usual mode."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from khforecast._io import atomic_write, atomic_write_all, atomic_write_text, sha256_file


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old good content\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as fh:
            fh.write("half a new fi")
            raise RuntimeError("boom")
    assert target.read_text() == "old good content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]  # no temp file left


def test_successful_write_replaces_and_uses_umask_mode(tmp_path):
    target = tmp_path / "sub" / "result.csv"
    old = os.umask(0o022)
    try:
        atomic_write_text(target, "a,b\n1,2\n")
    finally:
        os.umask(old)
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib

    p = tmp_path / "x.bin"
    data = bytes(range(256)) * 5000
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()


def _fail_renaming_onto(monkeypatch, name: str) -> None:
    replace = os.replace

    def failing(src, dst, *a, **k):
        if os.path.basename(dst) == name:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)


def test_a_group_is_written_whole(tmp_path):
    (tmp_path / "a.csv").write_text("old a")
    atomic_write_all({tmp_path / "a.csv": "new a", tmp_path / "b.csv": "new b"})
    assert (tmp_path / "a.csv").read_text() == "new a"
    assert (tmp_path / "b.csv").read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_failed_rename_puts_the_group_back(tmp_path, monkeypatch, hard_links):
    (tmp_path / "a.csv").write_text("old a")  # b.csv did not exist: it must not exist after
    os.symlink("a.csv", tmp_path / "c.csv")  # a symbolic link is put back as a link
    if not hard_links:  # a file system without hard links: the previous files are copied
        def no_link(*a, **k):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        monkeypatch.setattr(os, "link", no_link)
    _fail_renaming_onto(monkeypatch, "d.csv")
    with pytest.raises(OSError) as info:
        atomic_write_all({tmp_path / n: f"new {n}" for n in ("a.csv", "b.csv", "c.csv", "d.csv")})
    monkeypatch.undo()
    assert info.value.filename == str(tmp_path / "d.csv")
    assert (tmp_path / "a.csv").read_text() == "old a"
    assert os.readlink(tmp_path / "c.csv") == "a.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "c.csv"]  # nothing left


def test_a_full_disk_in_a_group_changes_no_file(tmp_path, monkeypatch):
    for n in ("a.csv", "b.csv"):
        (tmp_path / n).write_text(f"old {n}")
    fsync = os.fsync

    def full_for_b(fd):
        if ".b.csv." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", full_for_b)
    with pytest.raises(OSError, match="No space left") as info:
        atomic_write_all({tmp_path / "a.csv": "new a", tmp_path / "b.csv": "new b"})
    monkeypatch.undo()
    assert info.value.filename == str(tmp_path / "b.csv")
    assert [(tmp_path / n).read_text() for n in ("a.csv", "b.csv")] == ["old a.csv", "old b.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]
