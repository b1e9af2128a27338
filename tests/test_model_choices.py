"""params/models.yaml: every key checked, located errors, and the checks against the data."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from khforecast.engine.model_choices import check_choices, default_models_path, load_model_choices
from khforecast.errors import ParamsError
from khforecast.plan.catalog import load_catalog

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "models.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _obs() -> pd.DataFrame:
    years = range(2018, 2025)
    vals = [3.46, 3.49, 4.7, 5.72, 3.37, 2.44, 2.5]
    return pd.DataFrame({"indicator_id": "02", "place": "khanh_hoa", "year": list(years),
                         "value": vals})


def test_repository_file_reads_and_checks_against_the_bundled_data():
    from khforecast.observations.read import bundled_observations_path, read_observations

    assert default_models_path() == REPO / "params" / "models.yaml"
    choices = load_model_choices()
    assert choices.sha256 == hashlib.sha256((REPO / "params" / "models.yaml").read_bytes()).hexdigest()
    assert choices.default.models == ("combination",)
    c02 = choices.for_indicator("02")
    assert c02.pulse == (2020, 2021) and "COVID" in c02.note
    assert choices.for_indicator("57") == choices.default
    catalog = load_catalog()
    check_choices(choices, catalog, read_observations(bundled_observations_path(), catalog=catalog))


def test_indicator_entry_overrides_the_default_key_by_key(tmp_path):
    p = _write(tmp_path, "default:\n  models: [drift, theta]\n  interventions: {pulse: [2020]}\n"
                         "indicators:\n  02:\n    transform: none\n    bounds: [0, 20]\n"
                         "  57:\n    models: [damped_trend]\n    interventions: {step: 2019}\n")
    c = load_model_choices(p)
    assert c.for_indicator("02").models == ("drift", "theta")  # unquoted 02 is indicator "02"
    assert c.for_indicator("02").pulse == (2020,)
    assert c.for_indicator("02").domain("percent") == "real"
    assert c.for_indicator("57").models == ("damped_trend",)
    assert (c.for_indicator("57").pulse, c.for_indicator("57").step) == ((2020,), 2019)
    iv = c.for_indicator("57").interventions(range(2015, 2023))
    assert (iv.pulse, iv.step) == ((5,), 4)


@pytest.mark.parametrize("text, match", [
    ("default:\n  models: [nope]\n", r"key 'default.models': expected model names from the registry .* found 'nope'"),
    ("default:\n  models: [combination, drift]\n", r"'combination' alone"),
    ("default:\n  modles: [drift]\n", r"key 'default.modles': expected one of models, interventions"),
    ("indicators:\n  '02':\n    interventions: {pulse: [20200]}\n",
     r"key 'indicators.02.interventions.pulse': expected a year 1900-2100, found 20200"),
    ("indicators:\n  '02':\n    interventions: {pluse: [2020]}\n", r"interventions.pluse': expected pulse or step"),
    ("indicators:\n  '02':\n    bounds: [20, 0]\n", r"key 'indicators.02.bounds': expected \[low, high\] with low < high"),
    ("indicators:\n  '02':\n    bounds: [0]\n", r"expected \[low, high\]"),
    ("indicators:\n  '02':\n    transform: sqrt\n", r"transform': expected one of logit, log, none, found 'sqrt'"),
    ("indicators:\n  '02':\n    note: [a]\n", r"note': expected text"),
    ("indicators:\n  '02':\n    exclude_years: [2019, 2019]\n", r"each year once"),
    ("defaults: {}\n", r"key 'defaults': expected default or indicators"),
    ("default:\n  models: [drift\n", r"models.yaml line \d+: expected valid YAML"),
])
def test_bad_files_name_the_file_and_the_key(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(ParamsError, match=match) as info:
        load_model_choices(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("text, match", [
    ("indicators:\n  '02':\n    interventions: {pulse: [2015]}\n",
     r"key 'indicators.02.interventions.pulse': expected years within the data of indicator 02 "
     r"at khanh_hoa \(2018-2024\), found 2015"),
    ("indicators:\n  '02':\n    interventions: {step: 2026}\n", r"interventions.step': expected years within"),
    ("indicators:\n  '02':\n    bounds: [3, 20]\n", r"bounds': expected bounds that hold the observations, found 2.44 in 2023"),
    ("indicators:\n  '02':\n    bounds: [0, 120]\n", r"bounds': expected bounds inside the percent domain"),
    ("indicators:\n  '57':\n    transform: logit\n", r"indicators.57.transform': expected log or none"),
    ("indicators:\n  '999':\n    models: [drift]\n", r"key 'indicators.999': expected an indicator id of the catalog"),
])
def test_checks_against_the_catalog_and_the_data(tmp_path, text, match):
    with pytest.raises(ParamsError, match=match):
        check_choices(load_model_choices(_write(tmp_path, text)), load_catalog(), _obs())


def test_a_default_pulse_applies_only_where_the_data_hold_it(tmp_path):
    c = load_model_choices(_write(tmp_path, "default:\n  interventions: {pulse: [2010]}\n"
                                            "indicators:\n  '02':\n    note: covid\n"))
    check_choices(c, load_catalog(), _obs())  # inherited from the default: not an error
    assert not c.for_indicator("02").interventions(range(2018, 2025))


def test_explorer_switch_changes_one_indicator_only():
    c = load_model_choices()
    d = c.with_indicator("04", pulse=(2021,), models=("drift",))
    assert d.for_indicator("04").pulse == (2021,) and d.for_indicator("04").models == ("drift",)
    assert d.for_indicator("02") == c.for_indicator("02")
    assert c.for_indicator("04") == c.default


def test_an_indicator_the_data_do_not_hold_is_not_checked_against_them(tmp_path):
    c = load_model_choices(_write(tmp_path, "indicators:\n  '57':\n    interventions: {pulse: [2020]}\n"))
    check_choices(c, load_catalog(), _obs())  # the data hold only 02
