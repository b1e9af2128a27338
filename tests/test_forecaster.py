"""Forecaster: sample paths per series, reproducibility, the forecasts.csv table."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khforecast.engine.forecaster import Forecaster
from khforecast.engine.paths import FORECAST_COLUMNS, SamplePaths
from khforecast.errors import KhforecastError
from khforecast.engine.predictive import load_pooled_calibration


@pytest.fixture(scope="module")
def bau(obs, catalog) -> SamplePaths:
    return Forecaster(sims=1000, seed=7).fit(obs, catalog).simulate(2030)


def test_to_frame_columns_history_and_ordered_quantiles(bau, obs):
    f = bau.to_frame()
    assert tuple(f.columns) == FORECAST_COLUMNS
    assert set(f["scenario"]) == {"bau"}
    q = f[["q05", "q10", "q25", "q50", "q75", "q90", "q95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    seen = f.dropna(subset=["observed"])
    np.testing.assert_allclose(seen["q05"], seen["observed"])
    np.testing.assert_allclose(seen["q95"], seen["observed"])
    # every observed row of the assessed and comparison places appears as observed
    want = obs[obs["place"].isin(["khanh_hoa", "vietnam"])]
    merged = want.merge(seen, on=["indicator_id", "place", "year"])
    assert len(merged) == len(want)
    np.testing.assert_allclose(merged["value"], merged["observed"])


def test_paths_include_history_and_stay_in_domain(bau, catalog):
    years, arr = bau.paths("09")
    assert years[0] == 2008 and years[-1] == 2030 and arr.shape == (1000, len(years))
    assert np.all(arr[:, years == 2024] == 26.23)
    for s in bau:
        if catalog.get(s.indicator_id).domain == "percent":
            assert np.all((s.paths >= 0) & (s.paths <= 100))
        assert np.all(np.isfinite(s.paths))
    with pytest.raises(KhforecastError, match="no series for indicator '61'"):
        bau.paths("61")


def test_intervals_widen_with_the_horizon(bau):
    f = bau.to_frame()
    proj = f[(f.indicator_id == "09") & (f.place == "khanh_hoa") & f.observed.isna()]
    width = (proj["q90"] - proj["q10"]).to_numpy()
    assert np.all(np.diff(width) > 0)


def test_short_series_are_insufficient_data_not_forecast(bau):
    s = bau.get("33")  # two points (2022, 2023)
    assert s.status == "insufficient_data" and s.n_obs == 2
    assert s.years[-1] == 2023 and not s.forecastable


def test_same_seed_same_paths_and_other_seed_differs(obs, catalog):
    a = Forecaster(sims=300, seed=1).fit(obs, catalog).simulate(2030)
    b = Forecaster(sims=300, seed=1).fit(obs, catalog).simulate(2030)
    c = Forecaster(sims=300, seed=2).fit(obs, catalog).simulate(2030)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert not np.array_equal(a.paths("09")[1], c.paths("09")[1])


def test_jobs_and_row_order_do_not_change_results(obs, catalog):
    one = Forecaster(sims=300, seed=3, jobs=1).fit(obs, catalog).simulate(2030).to_frame()
    two = Forecaster(sims=300, seed=3, jobs=2).fit(obs, catalog).simulate(2030).to_frame()
    shuffled = obs.sample(frac=1.0, random_state=0)
    three = Forecaster(sims=300, seed=3).fit(shuffled, catalog).simulate(2030).to_frame()
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, three)


def test_spec_is_pure_configuration(obs, catalog):
    fc = Forecaster(sims=200, seed=1)
    res = fc.fit(obs, catalog, place="ninh_thuan")
    assert res.forecaster is fc and res.observations is obs and fc.sims == 200
    assert res.simulate(2030).place == "ninh_thuan"
    with pytest.raises(KhforecastError, match="expected columns .* missing value"):
        fc.fit(obs.drop(columns=["value"]), catalog)
    with pytest.raises(KhforecastError, match="sims: expected a positive number"):
        Forecaster(sims=0)


def test_calibration_widens_the_paths(obs, catalog):
    base = load_pooled_calibration()
    wider = dataclasses.replace(base, quantiles={k: tuple(3 * v for v in q)
                                                 for k, q in base.quantiles.items()})
    narrow = Forecaster(sims=2001, seed=5, calibration=base).fit(obs, catalog)
    wide = Forecaster(sims=2001, seed=5, calibration=wider).fit(obs, catalog)
    _, a = narrow.simulate(2030).paths("04")
    _, b = wide.simulate(2030).paths("04")
    assert np.ptp(np.quantile(b[:, -1], [0.1, 0.9])) > 2 * np.ptp(np.quantile(a[:, -1], [0.1, 0.9]))


def test_fallback_is_recorded_with_one_summary_warning(catalog):
    rows = [("02", "khanh_hoa", 2019 + i, v) for i, v in enumerate([3.1, 3.0, 2.9, 2.7])]
    rows += [("04", "khanh_hoa", 2019 + i, v) for i, v in enumerate([74.0, 73.0, 72.5, 72.0])]
    obs = pd.DataFrame(rows, columns=["indicator_id", "place", "year", "value"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = Forecaster(models=("damped_trend",), sims=200, seed=1).fit(obs, catalog).simulate(2030)
    assert paths.get("02").model.startswith("theta(fallback)")
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("2 series fell back to `theta`")


def test_merged_province_built_from_its_parts(catalog):
    from khforecast.observations.places import MERGED_PLACE, merge_places
    from khforecast.observations.provinces import load_places

    obs = pd.DataFrame({
        "indicator_id": ["02", "02", "80", "80", "80", "02"],
        "place": ["khanh_hoa", "ninh_thuan", "khanh_hoa", "ninh_thuan", MERGED_PLACE, "ninh_thuan"],
        "year": [2023, 2023, 2024, 2024, 2025, 2022],
        "value": [2.0, 4.0, 100.0, 50.0, 3023.0, 3.0],
    })
    out = merge_places(obs, catalog)
    merged = out[out.place == MERGED_PLACE].set_index(["indicator_id", "year"])["value"]
    # 02 (unemployment) is sector II: labour-force weights
    w = {p: x.value for p, x in load_places().weights_of(MERGED_PLACE, "labour_force").items()}
    assert merged[("02", 2023)] == pytest.approx((2.0 * w["khanh_hoa"] + 4.0 * w["ninh_thuan"])
                                                 / (w["khanh_hoa"] + w["ninh_thuan"]))
    assert merged[("80", 2024)] == 150.0  # a flow: summed
    assert merged[("80", 2025)] == 3023.0  # observed: kept
    assert ("02", 2022) not in merged.index  # one part only: nothing derived
    assert out["source"].dropna().str.startswith("derived").sum() == 2
    res = Forecaster(sims=100, seed=1).fit(obs, catalog, place=MERGED_PLACE)
    assert (("02", MERGED_PLACE)) in res.histories


@settings(max_examples=20, deadline=None)
@given(values=st.lists(st.floats(0.0, 100.0), min_size=3, max_size=12),
       count=st.lists(st.floats(0.0, 1e6), min_size=3, max_size=12))
def test_paths_stay_in_the_domain(catalog, values, count):
    """Percent paths stay in 0-100 and positive ones >= 0, whatever the (calibrated) width."""
    rows = [("02", "khanh_hoa", 2024 - len(values) + 1 + i, v) for i, v in enumerate(values)]
    rows += [("80", "khanh_hoa", 2024 - len(count) + 1 + i, v) for i, v in enumerate(count)]
    obs = pd.DataFrame(rows, columns=["indicator_id", "place", "year", "value"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        paths = Forecaster(sims=200, seed=1).fit(obs, catalog).simulate(2030)
    _, pct = paths.paths("02")
    _, flow = paths.paths("80")
    assert np.all((pct >= 0) & (pct <= 100)) and np.all(flow >= 0)
    assert np.all(np.isfinite(pct)) and np.all(np.isfinite(flow))
