"""`khforecast models` and a bad models.yaml through `forecast` and `run`: located, nothing written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from khforecast.cli import main

REPO = Path(__file__).resolve().parents[1]
BAD = {
    "unknown model": ("default:\n  models: [prophet]\n", "key 'default.models': expected model names"),
    "pulse outside the data": ("indicators:\n  '02':\n    interventions: {pulse: [2010]}\n",
                               "key 'indicators.02.interventions.pulse': expected years within the data"),
    "bounds reversed": ("indicators:\n  '02':\n    bounds: [10, 1]\n",
                        "key 'indicators.02.bounds': expected [low, high] with low < high"),
    "YAML syntax": ("indicators:\n  '02': {note: [\n", "models.yaml line 3: expected valid YAML"),
}


def test_models_lists_the_registry(capsys):
    assert main(["models", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert {"drift", "combination", "ets_damped", "uc_trend", "arima011_drift",
            "arima110_drift"} <= set(rows)
    assert rows["uc_trend"]["source"].startswith("statsmodels UnobservedComponents")
    assert rows["arima110_drift"]["settings"] == "order=1,1,0"
    assert rows["ets_damped"]["fallback"] == "damped_trend"
    assert main(["models"]) == 0
    assert "uc_trend" in capsys.readouterr().out


def test_models_check_accepts_the_shipped_file(capsys):
    assert main(["models", "--check", str(REPO / "params" / "models.yaml")]) == 0
    assert capsys.readouterr().out.startswith("valid: ")


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_models_yaml_is_located_and_nothing_is_written(tmp_path, capsys, case):
    text, message = BAD[case]
    params = tmp_path / "params"
    params.mkdir()
    shutil.copy(REPO / "params" / "batch.yaml", params / "batch.yaml")
    (params / "models.yaml").write_text(text, encoding="utf-8")
    assert main(["models", "--check", str(params / "models.yaml")]) == 1
    assert message in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["forecast", "--out", str(out), "--params", str(params / "batch.yaml"),
                 "--sims", "50"]) == 1
    err = capsys.readouterr().err
    assert str(params / "models.yaml") in err and message in err
    assert not out.exists()
    runs = tmp_path / "runs"
    assert main(["run", "--out", str(runs), "--params", str(params / "batch.yaml"),
                 "--sims", "50", "--sectors", "II"]) == 1
    assert message in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())
    assert (params / "models.yaml").read_text(encoding="utf-8") == text  # input untouched


def test_forecast_records_the_choices_in_the_manifest(tmp_path):
    out = tmp_path / "out"
    assert main(["forecast", "--out", str(out), "--sims", "200"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    shipped = REPO / "params" / "models.yaml"
    assert manifest["config_files"][str(shipped)] == manifest["params"]["model_choices"]["sha256"]
    s02 = manifest["series"]["02|khanh_hoa"]
    assert s02["interventions"] == {"pulse": [2020, 2021], "step": None}
    assert s02["model"].endswith("+interventions(pulse 2020, 2021)")
    assert manifest["series"]["57|khanh_hoa"]["interventions"] == {"pulse": [], "step": None}
