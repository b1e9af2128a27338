"""Shared pytest fixtures and the two real batch runs the notebook, briefing and browser tests use.

``bundled`` runs the CLI on the bundled observations (sector II, the overview, a deep dive and the
explorer, two scenarios, a sector note holding ``<script>``, the task tracker with a task file of
mixed statuses and the scorecard of Sở Nội vụ); ``illustrative`` runs it on the
illustrative observations in English with a deliberately broken notebook added, over an
``outputs/latest`` that points at an earlier run. Each is built once per pytest session, also
under xdist (one worker builds, the others wait and reuse it).
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Plotting in tests must never need a display.
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import yaml  # noqa: E402

from khforecast.cli import main  # noqa: E402
from khforecast.observations.read import (  # noqa: E402
    bundled_observations_path,
    illustrative_observations_path,
    read_observations,
)
from khforecast.plan.catalog import load_catalog  # noqa: E402

TESTS = Path(__file__).resolve().parent
NOTE = '<script>alert("x")</script> & ghi chú'
#: the task progress file of the bundled run: every status once or more (issue 11)
TASK_REPORTS = TESTS / "data" / "task_reports_mixed.csv"


def shared_run(tmp_path_factory: pytest.TempPathFactory, key: str,
               build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Build a run once per session (one xdist worker builds it, the others wait and reuse it)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"khforecast-run-{key}"
    with open(root / f"khforecast-run-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "result.json"
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            done.write_text(json.dumps(build(folder)), encoding="utf-8")
        return json.loads(done.read_text(encoding="utf-8"))


def write_params(folder: Path, batch: dict[str, Any], sectors: dict[str, dict[str, Any]]) -> Path:
    """Write a params folder (batch.yaml and sectors/*.yaml) under ``folder``; return batch.yaml."""
    (folder / "params" / "sectors").mkdir(parents=True)
    path = folder / "params" / "batch.yaml"
    path.write_text(yaml.safe_dump(batch, allow_unicode=True), encoding="utf-8")
    for code, body in sectors.items():
        (folder / "params" / "sectors" / f"{code}.yaml").write_text(
            yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the ``khforecast`` CLI in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _build_bundled(folder: Path) -> dict[str, Any]:
    params = write_params(folder, {
        "seed": 7, "sims": 200, "scenarios": ["bau", "accelerate"], "deep_dives": ["02"],
        "run_date": "2026-06-30", "jobs": 2, "scorecards": ["Sở Nội vụ"]},
        {"II": {"sector": "II", "note": NOTE, "highlight": ["04"]}})
    rc, out, err = run_cli(["run", "--out", str(folder / "outputs"), "--params", str(params),
                         "--sectors", "II", "--tasks", str(TASK_REPORTS)])
    return {"rc": rc, "stdout": out, "stderr": err, "out": str(folder / "outputs"),
            "params": str(params), "run_dir": str(Path(out.strip().splitlines()[-1]).resolve().parent)}


def _build_illustrative(folder: Path) -> dict[str, Any]:
    params = write_params(folder, {
        "seed": 11, "sims": 200, "scenario_explorer": False, "scorecards": [],
        "extra_notebooks": [str(TESTS / "notebooks" / "broken.ipynb")]}, {})
    outputs = folder / "outputs"
    (outputs / "earlier-run").mkdir(parents=True)
    os.symlink("earlier-run", outputs / "latest")
    rc, out, err = run_cli(["run", "--data", str(illustrative_observations_path()), "--out",
                         str(outputs), "--params", str(params), "--sectors", "V", "--lang", "en",
                         "--jobs", "2"])
    return {"rc": rc, "stdout": out, "stderr": err, "out": str(outputs), "params": str(params),
            "run_dir": str(Path(out.strip().splitlines()[-1]).resolve().parent)}


def _build_places(folder: Path) -> dict[str, Any]:
    params = write_params(folder, {"seed": 7, "sims": 100, "scenario_explorer": False, "jobs": 2}, {})
    rc, out, err = run_cli(["run", "--places", "merged", "--out", str(folder / "outputs"),
                            "--params", str(params), "--sectors", "II"])
    return {"rc": rc, "stdout": out, "stderr": err, "out": str(folder / "outputs"),
            "run_dir": str(Path(out.strip().splitlines()[-1]).resolve().parent)}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def obs(catalog):
    return read_observations(bundled_observations_path(), catalog=catalog)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shared_run(tmp_path_factory, "bundled", _build_bundled)


@pytest.fixture(scope="module")
def illustrative(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shared_run(tmp_path_factory, "illustrative", _build_illustrative)


@pytest.fixture(scope="module")
def places_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``khforecast run --places merged`` on the bundled data (sector II, 100 paths)."""
    return shared_run(tmp_path_factory, "places", _build_places)
