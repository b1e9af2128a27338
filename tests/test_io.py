"""Atomic writes: a failed write leaves the old file; a good one has the usual mode."""
from __future__ import annotations

import os
import stat

import pytest

from khforecast._io import atomic_write, atomic_write_text, sha256_file


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
