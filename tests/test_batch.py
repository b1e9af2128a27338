"""The batch: compute once, notebooks in parallel, manifest, failures, atomic ``latest``, params.

The two real runs (``bundled``, ``illustrative``) are conftest fixtures shared with
test_notebooks.py, test_briefing.py and test_browser.py.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import NOTE, TESTS, run_cli, write_params

from khforecast._io import sha256_file
from khforecast.batch.notebooks import NotebookJob, execute_notebook, plan_jobs
from khforecast.batch.params import BatchParams, load_params
from khforecast.batch.run import run_batch, switch_latest
from khforecast.errors import KhforecastError, ObservationError, ParamsError
from khforecast.observations.read import bundled_observations_path
from khforecast.plan.catalog import load_catalog

REPO = TESTS.parent
DESIGN_FORECAST = ["indicator_id", "place", "scenario", "year", "observed", "mean", "q05", "q10",
                   "q25", "q50", "q75", "q90", "q95"]
DESIGN_ASSESSMENT = ["indicator_id", "place", "scenario", "target_year", "target_text",
                     "target_kind", "p_meet", "status", "n_obs", "last_year", "last_value",
                     "projected_q10", "projected_q50", "projected_q90",
                     "historical_annual_change", "required_annual_change", "model"]


def _manifest(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(run["run_dir"]) / "manifest.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# a successful run
# --------------------------------------------------------------------------------------------
def test_successful_run_exits_0_and_moves_latest(bundled):
    assert bundled["rc"] == 0, bundled["stderr"]
    latest = Path(bundled["out"]) / "latest"
    assert latest.is_symlink() and latest.resolve() == Path(bundled["run_dir"]).resolve()
    manifest = _manifest(bundled)
    assert manifest["status"] == "ok"
    assert [n["name"] for n in manifest["notebooks"]] == [
        "overview", "sector_II", "deep_dive_02", "scenario_explorer", "task_tracker",
        "scorecard_so_noi_vu"]
    assert all(n["status"] == "ok" and n["error"] is None for n in manifest["notebooks"])


def test_run_folder_has_the_design_layout(bundled):
    import pandas as pd

    run = Path(bundled["run_dir"])
    for name in ("index.html", "forecasts.csv", "assessment.csv", "manifest.json"):
        assert (run / name).is_file(), name
    for nb in _manifest(bundled)["notebooks"]:
        assert (run / "html" / f"{nb['name']}.html").is_file()
        assert (run / "notebooks" / f"{nb['name']}.ipynb").is_file()
    forecasts = pd.read_csv(run / "forecasts.csv", dtype={"indicator_id": str})
    assessment = pd.read_csv(run / "assessment.csv", dtype={"indicator_id": str})
    assert list(forecasts.columns) == DESIGN_FORECAST + ["q025", "q975"]
    assert (forecasts["q025"] <= forecasts["q05"]).all()
    assert (forecasts["q975"] >= forecasts["q95"]).all()
    assert list(assessment.columns[:len(DESIGN_ASSESSMENT)]) == DESIGN_ASSESSMENT
    # computed once for every scenario of the params, in one table
    assert set(assessment["scenario"]) == {"bau", "accelerate"}
    assert set(forecasts["scenario"]) == {"bau", "accelerate"}
    assert not list(run.glob("**/.*.tmp*")), "temporary files left behind"


def test_manifest_records_inputs_params_versions_seed_timings(bundled):
    manifest = _manifest(bundled)
    data = [i for i in manifest["inputs"] if i["kind"] == "data"]
    assert data == [{"kind": "data", "path": str(bundled_observations_path().resolve()),
                     "sha256": sha256_file(bundled_observations_path())}]
    params = [i for i in manifest["inputs"] if i["kind"] == "params"]
    assert {Path(i["path"]).name for i in params} == {"batch.yaml", "II.yaml"}
    assert all(i["sha256"] == sha256_file(i["path"]) for i in manifest["inputs"])
    assert manifest["seed"] == 7 and manifest["params"]["sims"] == 200
    assert manifest["as_of"] == "2026-06-30"
    assert manifest["versions"]["pandas"] and manifest["versions"]["papermill"]
    assert manifest["timings"]["compute_seconds"] > 0
    assert manifest["timings"]["total_seconds"] >= manifest["timings"]["notebooks_seconds"]
    sector = next(n for n in manifest["notebooks"] if n["name"] == "sector_II")
    assert sector["parameters"]["note"] == NOTE and sector["parameters"]["highlight"] == ["04"]
    assert sector["seconds"] > 0 and sector["attempts"] == 1


def test_same_seed_gives_the_same_results(bundled, tmp_path):
    """Determinism: the batch's compute step repeated with the manifest's seed reproduces it."""
    from khforecast.batch.compute import compute_results
    from khforecast.observations.read import read_observations

    params = load_params(bundled["params"])
    catalog = load_catalog()
    compute_results(read_observations(bundled_observations_path(), catalog=catalog), catalog,
                    params, tmp_path)
    run = Path(bundled["run_dir"])
    for name in ("forecasts.csv", "assessment.csv"):
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name


# --------------------------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------------------------
def test_a_failing_notebook_leaves_the_others_done_and_latest_untouched(illustrative):
    assert illustrative["rc"] == 1
    assert re.search(r"broken failed: cell \d+: ValueError: this notebook fails on purpose",
                     illustrative["stderr"])
    assert "outputs/latest was not moved" in illustrative["stderr"]
    latest = Path(illustrative["out"]) / "latest"
    assert os.readlink(latest) == "earlier-run"
    manifest = _manifest(illustrative)
    assert manifest["status"] == "failed"
    by_name = {n["name"]: n for n in manifest["notebooks"]}
    assert by_name["broken"]["status"] == "error"
    assert "fails on purpose" in by_name["broken"]["error"]
    assert {k: v["status"] for k, v in by_name.items() if k != "broken"} == {
        "overview": "ok", "sector_V": "ok", "task_tracker": "ok"}
    run = Path(illustrative["run_dir"])
    # the failed notebook is saved with its error, and listed on the index page
    saved = json.loads((run / "notebooks" / "broken.ipynb").read_text(encoding="utf-8"))
    assert any(o.get("output_type") == "error" for c in saved["cells"]
               for o in c.get("outputs", []))
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "broken" in index and "fails on purpose" in index and "kh-failed" in index


def test_a_dead_kernel_is_retried_once(tmp_path):
    job = NotebookJob("dies", TESTS / "notebooks" / "dies.ipynb", {"lang": "vi"}, "dies")
    (tmp_path / "notebooks").mkdir()
    entry = execute_notebook(job, tmp_path, start_timeout=120, cell_timeout=60)
    assert entry["status"] == "error"
    assert entry["attempts"] == 2
    assert "DeadKernelError" in entry["error"]


def test_bad_data_writes_nothing(tmp_path):
    bad = tmp_path / "obs.csv"
    bad.write_text("indicator_id,place,year,value,source\n02,khanh_hoa,2020,abc,x\n",
                   encoding="utf-8")
    with pytest.raises(ObservationError, match="obs.csv"):
        run_batch([bad], out=tmp_path / "outputs", sectors=["II"], progress=False)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())
    assert bad.read_text(encoding="utf-8").endswith("abc,x\n")  # inputs are never written


def test_cli_usage_errors_exit_2(tmp_path):
    rc, _out, err = run_cli(["run", "--out", str(tmp_path), "--sectors", "XI"])
    assert rc == 2 and "--sectors: unknown sector 'XI'" in err
    rc, _out, err = run_cli(["run", "--out", str(tmp_path), "--jobs", "0"])
    assert rc == 2 and "--jobs" in err
    assert not any(tmp_path.iterdir())


def test_plan_jobs_names_every_notebook_and_rejects_unknown_ids(tmp_path):
    catalog = load_catalog()
    jobs = plan_jobs(BatchParams(deep_dives=("33",), scorecards=("so_y_te", "Sở Nội vụ")),
                     catalog, tmp_path, lang="en", sectors=["I", "X"])
    assert [j.name for j in jobs] == ["overview", "sector_I", "sector_X", "deep_dive_33",
                                      "scenario_explorer", "task_tracker", "scorecard_so_y_te",
                                      "scorecard_so_noi_vu"]
    assert jobs[-1].parameters["department"] == "Sở Nội vụ"
    every = plan_jobs(BatchParams(), catalog, tmp_path, sectors=["I"])
    assert sum(j.name.startswith("scorecard_") for j in every) == 14  # scorecards: all
    with pytest.raises(ParamsError, match="'scorecards': expected current lead departments"):
        plan_jobs(BatchParams(scorecards=("Sở Ma",)), catalog, tmp_path)
    assert all(j.parameters["lang"] == "en" and j.parameters["run_dir"] == str(tmp_path)
               for j in jobs)
    assert all(j.template.is_file() for j in jobs)
    with pytest.raises(ParamsError, match="--sectors: expected sectors among I, II"):
        plan_jobs(BatchParams(), catalog, tmp_path, sectors=["XI"])
    with pytest.raises(ParamsError, match="'deep_dives': expected indicator ids .* found '99'"):
        plan_jobs(BatchParams(deep_dives=("99",)), catalog, tmp_path)


# --------------------------------------------------------------------------------------------
# latest
# --------------------------------------------------------------------------------------------
def test_switch_latest_replaces_the_link_atomically(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    switch_latest(tmp_path, "a")
    assert os.readlink(tmp_path / "latest") == "a"
    switch_latest(tmp_path, "b")
    assert os.readlink(tmp_path / "latest") == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "latest"]


def test_switch_latest_refuses_a_real_folder(tmp_path):
    (tmp_path / "latest").mkdir()
    with pytest.raises(KhforecastError, match="latest: exists and is not a symbolic link"):
        switch_latest(tmp_path, "a")


# --------------------------------------------------------------------------------------------
# params
# --------------------------------------------------------------------------------------------
def test_repository_params_equal_the_builtin_defaults():
    repo = load_params(REPO / "params" / "batch.yaml")
    defaults = BatchParams()
    for name in ("seed", "sims", "thresholds", "scenarios", "jobs", "kernel_start_timeout",
                 "cell_timeout", "run_date", "deep_dives", "scenario_explorer",
                 "extra_notebooks", "task_tracker", "scorecards"):
        assert getattr(repo, name) == getattr(defaults, name), name
    assert sorted(repo.sectors) == sorted(["I", "II", "III", "IV", "V", "VI", "VII", "VIII",
                                           "IX", "X"])
    assert repo.kernel_start_timeout > 60  # above papermill's default


def test_params_overrides_win_and_none_is_ignored(tmp_path):
    path = write_params(tmp_path, {"sims": 500, "seed": 3}, {})
    p = load_params(path, sims=100, seed=None)
    assert (p.sims, p.seed) == (100, 3)


@pytest.mark.parametrize(("text", "message"), [
    ("sims: [1\n", r"batch.yaml line 2: expected valid YAML"),
    ("simulations: 10\n", r"batch.yaml, key 'simulations': expected one of"),
    ("sims: -5\n", r"batch.yaml, key 'sims': expected an integer from 1 to at most 100000, found -5"),
    ("thresholds: [0.5, 0.8]\n", r"key 'thresholds': expected \[high, low\]"),
    ("run_date: 30/06/2026\n", r"key 'run_date': expected a date YYYY-MM-DD"),
    ("scenarios: []\n", r"key 'scenarios': expected at least one scenario name"),
    ("extra_notebooks: [nope.ipynb]\n", r"key 'extra_notebooks': expected paths of existing"),
    ("- a list\n", r"batch.yaml: expected a mapping of keys to values, found a list"),
])
def test_bad_batch_yaml_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "batch.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParamsError, match=message):
        load_params(path)


def test_bad_sector_yaml_names_file_and_key(tmp_path):
    path = write_params(tmp_path, {}, {"III": {"sector": "IV"}})
    with pytest.raises(ParamsError, match=r"III.yaml, key 'sector': expected the file's own"):
        load_params(path)
    (tmp_path / "params" / "sectors" / "III.yaml").write_text("colour: red\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"III.yaml, key 'colour'"):
        load_params(path)


def test_missing_params_file_is_a_params_error(tmp_path):
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")


def test_a_failed_forecast_is_recorded_and_runs_no_notebook(tmp_path, monkeypatch):
    def fail(*_args, **_kwargs):
        raise KhforecastError("no model could be fitted to 02")

    monkeypatch.setattr("khforecast.batch.run.compute_results", fail)
    with pytest.raises(KhforecastError, match="no model could be fitted"):
        run_batch(out=tmp_path, sectors=["II"], progress=False, log=lambda _m: None)
    (run,) = [p for p in tmp_path.iterdir()]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed"
    assert manifest["error"] == "forecasting failed: KhforecastError: no model could be fitted to 02"
    assert not (run / "notebooks").exists() and not (tmp_path / "latest").exists()
