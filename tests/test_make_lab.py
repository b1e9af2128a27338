"""`make lab` starts JupyterLab as root (adding --allow-root) and as a normal user (without it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(folder: Path, user: str | None = None) -> str:
    cmd = ["make", "-n", "-C", str(folder), "lab"]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def project():
    # a folder a normal user can enter (pytest's tmp_path sits under a root-only folder)
    folder = Path(tempfile.mkdtemp(prefix="khforecast-lab-"))
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    stamp = folder / ".venv" / ".khforecast-installed"
    stamp.parent.mkdir()
    stamp.touch()  # set up already: the dry run shows only the lab command
    for path in (folder, stamp.parent):
        path.chmod(0o755)
    for path in (folder / "Makefile", folder / "pyproject.toml", stamp):
        path.chmod(0o644)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_runs_jupyter_lab_on_the_notebooks(project):
    out = _dry_run(project)
    (line,) = [ln for ln in out.splitlines() if "jupyter lab" in ln]
    assert line.startswith(".venv/bin/jupyter lab notebooks/")
    assert ("--allow-root" in line) == (os.geteuid() == 0)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="needs root and runuser to try a normal user")
def test_make_lab_as_a_normal_user_does_not_allow_root(project):
    out = _dry_run(project, user="nobody")
    (line,) = [ln for ln in out.splitlines() if "jupyter lab" in ln]
    assert "--allow-root" not in line
