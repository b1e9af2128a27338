"""``khforecast run`` and ``khforecast forecast`` read a params folder the same way (issue 14):
the ``scenarios.yaml`` beside ``--params`` defines the scenarios of both, and the params file's
``seed``/``sims`` apply to both unless given on the command line."""
from __future__ import annotations

import pandas as pd
import yaml
from conftest import run_cli, write_params

import khforecast.batch.run as batch_run
from khforecast.batch.params import load_params, scenarios_file
from khforecast.engine.scenarios import default_scenarios_path

#: a scenario only the params folder's own scenarios.yaml defines
CUSTOM = {"scenarios": {"bau": {"kind": "bau", "description": "as observed"},
                        "faster": {"kind": "accelerate", "description": "twice the trend",
                                   "factor": 2.0}}}


def _params(folder, **batch):
    path = write_params(folder, batch, {})
    (path.parent / "scenarios.yaml").write_text(yaml.safe_dump(CUSTOM), encoding="utf-8")
    return path


def test_scenarios_beside_the_params_file_win_over_the_default(tmp_path):
    path = _params(tmp_path, seed=7)
    assert scenarios_file(load_params(path)) == (path.parent / "scenarios.yaml").resolve()
    plain = write_params(tmp_path / "plain", {"seed": 7}, {})
    assert scenarios_file(load_params(plain)) == default_scenarios_path().resolve()


def test_run_defines_its_scenarios_from_the_yaml_beside_params(tmp_path, monkeypatch):
    path = _params(tmp_path, seed=7, sims=50, scenarios=["bau", "faster"])
    monkeypatch.setattr(batch_run, "plan_jobs", lambda *a, **k: [])  # the compute step only
    result = batch_run.run_batch(out=tmp_path / "outputs", params=path, progress=False,
                                 log=lambda msg: None)
    assessment = pd.read_csv(result.run_dir / "assessment.csv", dtype={"indicator_id": str})
    assert set(assessment["scenario"]) == {"bau", "faster"}
    kinds = {i["kind"]: i["path"] for i in result.manifest["inputs"]}
    assert kinds["scenarios"] == str((path.parent / "scenarios.yaml").resolve())


def test_forecast_takes_seed_and_sims_from_params_unless_given(tmp_path):
    path = _params(tmp_path, seed=7, sims=60)
    rc, _, err = run_cli(["forecast", "--out", str(tmp_path / "a"), "--params", str(path),
                          "--scenario", "faster"])
    assert rc == 0, err
    rc, _, err = run_cli(["forecast", "--out", str(tmp_path / "b"), "--params", str(path),
                          "--scenario", "faster", "--seed", "7", "--sims", "60"])
    assert rc == 0, err
    rc, _, err = run_cli(["forecast", "--out", str(tmp_path / "c"), "--params", str(path),
                          "--scenario", "faster", "--seed", "8"])
    assert rc == 0, err
    a, b, c = ((tmp_path / x / "forecasts.csv").read_bytes() for x in "abc")
    assert a == b and a != c
    manifest = yaml.safe_load((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["seed"], manifest["params"]["sims"]) == (7, 60)
