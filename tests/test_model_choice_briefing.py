"""The deep dive's model sections and the explorer's model switch, on a real run folder."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from khforecast import briefing
from khforecast.batch.compute import COMPARED_MEMBERS
from khforecast.errors import ParamsError


@pytest.fixture(scope="module")
def run(bundled) -> briefing.Run:
    return briefing.load_run(bundled["run_dir"])


def test_the_run_records_its_models_yaml_and_each_series_choice(run):
    copy = run.path / "models.yaml"
    assert copy.read_bytes() == (Path(__file__).resolve().parents[1] / "params" / "models.yaml").read_bytes()
    assert any(i["kind"] == "models" for i in run.manifest["inputs"])
    s02 = run.manifest["compute"]["series"]["02|khanh_hoa"]
    assert s02["interventions"]["pulse"] == [2020, 2021]
    assert "+interventions(pulse 2020, 2021)" in s02["model"]


def test_model_comparison_lists_every_member_on_the_same_back_tests(run):
    table = pd.read_csv(run.path / "model_comparison.csv", dtype={"indicator_id": str})
    t02 = table[table["indicator_id"] == "02"]
    assert t02["member"].tolist() == ["run", *COMPARED_MEMBERS]
    assert t02["n_checks"].nunique() == 1 and t02["n_checks"].iloc[0] > 0
    own = pd.read_csv(run.path / "backtest.csv", dtype={"indicator_id": str})
    assert t02.iloc[0]["mae"] == pytest.approx(own[own["indicator_id"] == "02"]["abs_error"].mean())
    page = briefing.indicator_model_comparison(run, "02", "en")
    assert "COVID-19" in page and "arima110_drift" in page and "The run&#x27;s choice" in page


def test_diagnostics_and_interventions_sections(run):
    diag = json.loads((run.path / "diagnostics.json").read_text(encoding="utf-8"))["02"]
    page = briefing.indicator_diagnostics(run, "02", "en")
    if diag["model"] is None:  # 7 observations, two of them pulses: too short for MLE
        assert "No statsmodels member could run" in page
    else:
        assert "Ljung-Box" in page and "Jarque-Bera" in page
    assert set(diag["p_meet_without"]) == {"2025", "2030"}
    page = briefing.indicator_interventions(run, "02", "en")
    assert "pulse 2020, 2021" in page and page.count("<img") == 2
    assert "No intervention is declared" in briefing.indicator_interventions(run, "04", "en")


def test_model_switch_refits_one_series(run):
    series, p = briefing.refit_indicator(run, "02", models=["drift"])
    assert series.model.startswith("drift+interventions(pulse 2020, 2021)")
    assert 0.0 <= p <= 1.0
    again, p_again = briefing.refit_indicator(run, "02", models=["drift"])
    assert p_again == p  # the run's seed: reproducible
    plain, _ = briefing.refit_indicator(run, "02", pulse=[])
    assert "interventions" not in plain.model
    with pytest.raises(ParamsError, match="expected years within the data of indicator 02"):
        briefing.refit_indicator(run, "02", pulse=[2010])
    assert "switch the members" in briefing.model_switch_note("en")
