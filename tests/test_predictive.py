"""The one engine: same distribution through every door, sane tails, point masses at bounds.

The probes are the histories issue 8 reported as broken (indicator 62 with zeros, a smooth
decline of 59, 51 at 100, the bundled unemployment, life expectancy and hospital beds).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from khforecast.cli import main
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.models import simulate_paths
from khforecast.engine.predictive import (LEVELS, PooledCalibration, at_precision, bound_of,
                                   history_classes, history_shape, load_pooled_calibration,
                                   percent_move_floor,
                                   predictive_paths, width_class, width_scale)
from khforecast.engine.ranks import draw_quantiles

PROBE_LEVELS = (0.005, 0.025, 0.05, 0.5, 0.95, 0.975, 0.995)


def _obs(iid: str, values, first: int = 2015, place: str = "khanh_hoa") -> pd.DataFrame:
    return pd.DataFrame({"indicator_id": iid, "place": place,
                         "year": np.arange(first, first + len(values)), "value": values,
                         "source": "probe"})


def _paths_2030(catalog, obs: pd.DataFrame, iid: str, sims: int = 4000, seed: int = 8):
    sp = Forecaster(sims=sims, seed=seed).fit(obs, catalog).simulate(2030)
    years, paths = sp.paths(iid)
    return years, paths


def _check_sane(years, paths, hist, domain, first_future):
    cal = load_pooled_calibration()
    for k, y in enumerate(years):
        if y < first_future:
            continue
        col = paths[:, k]
        q = np.quantile(col, PROBE_LEVELS)
        assert np.all(np.isfinite(col))
        mass = max((col == q[2]).mean(), (col == q[4]).mean())
        if mass < 0.05:
            assert q[2] <= col.mean() <= q[4], (y, col.mean(), q)
        else:  # more than 5 % of the paths on one value (a bound): the mean may pass q05 / q95
            assert q[0] <= col.mean() <= q[-1], (y, col.mean(), q)
        if domain == "percent":
            assert 0 <= q[0] and q[-1] <= 100
        else:
            h = y - first_future + 1
            ref = hist[-1] if hist[-1] > 0 else max(hist)
            # the cap, plus half a unit of the data's precision (draws are published values)
            assert 0 <= q[0] and q[-1] <= ref * np.exp(cal.ratio_cap(h)) + 0.005 + 1e-9


# --------------------------------------------------------------------------------------------
def test_forecast_and_forecast_series_draw_the_same_quantiles(tmp_path):
    # informal employment (04): no statistician's choice declared for it in params/models.yaml
    values = [74.62, 73.77, 72.47, 74.31, 74.04, 73.19, 71.0]
    obs = _obs("04", values, first=2018)
    obs.to_csv(tmp_path / "obs.csv", index=False)
    pd.DataFrame({"series_id": "04", "t": obs["year"], "value": values}).to_csv(
        tmp_path / "series.csv", index=False)
    assert main(["forecast", "--data", str(tmp_path / "obs.csv"), "--out", str(tmp_path / "fc"),
                 "--seed", "11", "--sims", "3001"]) == 0
    assert main(["forecast-series", "--input", str(tmp_path / "series.csv"), "--horizon", "6",
                 "--domain", "percent", "--seed", "11", "--sims", "3001",
                 "--quantiles", "0.05,0.1,0.25,0.5,0.75,0.9,0.95",
                 "--out", str(tmp_path / "fs.csv")]) == 0
    fc = pd.read_csv(tmp_path / "fc" / "forecasts.csv")
    fc = fc[(fc["indicator_id"].astype(str).str.zfill(2) == "04") & (fc["scenario"] == "bau")
            & (fc["year"] > 2024)].sort_values("year")
    fs = pd.read_csv(tmp_path / "fs.csv").sort_values("t")
    assert fc["year"].tolist() == fs["t"].tolist() == list(range(2025, 2031))
    for a, b in (("q05", "q_0.05"), ("q25", "q_0.25"), ("q50", "q_0.5"), ("q95", "q_0.95"),
                 ("mean", "mean")):
        np.testing.assert_allclose(fc[a].to_numpy(), fs[b].to_numpy(), rtol=1e-8)


def test_engine_marginals_are_the_calibrated_quantiles():
    """Each year's draws are the damped model median + s_h x the history-length factor x the
    pooled quantiles of its stratum."""
    cal = load_pooled_calibration()
    y = np.array([40.0, 42.1, 43.0, 45.2, 46.1, 48.0, 49.3, 51.0, 52.2]) + 0.0001234  # no rounding
    res = predictive_paths(y, 4, 20001, np.random.default_rng(3), domain="positive",
                           calibration=cal)
    raw = np.log(simulate_paths(y, 4, 20001, np.random.default_rng(3), domain="positive").paths)
    w = (np.quantile(raw, 0.9, axis=0) - np.quantile(raw, 0.1, axis=0)) / (2 * 1.2815515655446004)
    move, shape = history_shape(np.log(y))
    s = width_scale(w, move, cal.min_move["positive"])
    q = cal.error_quantiles(4, shape, "far", int(width_class(s, np.arange(1, 5))[3]))
    med = np.median(raw[:, 3])
    trend = history_classes(np.log(y))[2]
    centre = med + (cal.damping_of("positive", trend, len(y)) - 1) * (med - np.log(y[-1]))
    s = s * cal.length_factors("positive", 4, len(y))
    want = centre + s[3] * np.interp([0.1, 0.5, 0.9], LEVELS, q)
    np.testing.assert_allclose(np.quantile(np.log(res.paths[:, 3]), [0.1, 0.5, 0.9]), want,
                               atol=2e-3 * s[3])


def test_steady_trends_keep_more_of_the_projected_change_than_noisy_ones():
    """A history whose yearly changes hardly vary is "steady"; the shipped calibration keeps
    more of the models' change for it than for a noisy history of the same length."""
    steady = np.log(np.array([44.7, 41.6, 38.1, 34.4, 30.7, 27.3, 24.4, 21.9, 19.6, 17.7]))
    wobbly = np.log(np.array([40.0, 42.1, 43.0, 45.2, 46.1, 48.0, 49.3, 51.0, 52.2]))
    noisy = np.log(np.array([3.46, 3.49, 4.7, 5.72, 3.37, 2.44, 2.5, 2.6, 2.3]))
    trends = [history_classes(z)[2] for z in (steady, wobbly, noisy)]
    assert trends == ["steady", "smooth", "noisy"]
    assert history_shape(steady)[1] == history_shape(wobbly)[1] == "smooth"
    cal = load_pooled_calibration()
    for n in (4, 9, 14):
        assert (cal.damping_of("positive", "steady", n) >= cal.damping_of("positive", "smooth", n)
                >= cal.damping_of("positive", "noisy", n))


@pytest.mark.parametrize("iid, values, first", [
    ("62", [14.0, 2.6, 0, 0, 2.4, 0.98, 0, 2.2, 2.1, 4.2], 2015),  # nurses, zeros in the history
    ("59", [44.7, 41.6, 38.1, 34.4, 30.7, 27.3, 24.4, 21.9, 19.6, 17.7], 2015),  # smooth decline
    ("59", [17.7] * 8, 2017),  # constant
    ("57", [73.2, 73.4, 73.5, 73.6, 73.7, 73.8, 74.0, 74.1, 74.2, 74.3], 2015),
    ("02", [3.46, 3.49, 4.7, 5.72, 3.37, 2.44, 2.5], 2018),
    ("51", [100.0] * 7, 2018),
])
def test_probe_tails_are_sane(catalog, iid, values, first):
    years, paths = _paths_2030(catalog, _obs(iid, values, first), iid)
    _check_sane(years, paths, np.asarray(values, float), catalog.get(iid).domain,
                first + len(values))


def test_a_constant_history_gets_a_finite_nonzero_width(catalog):
    years, paths = _paths_2030(catalog, _obs("59", [17.7] * 8, 2017), "59")
    col = paths[:, years == 2030][:, 0]
    width = np.quantile(col, 0.9) - np.quantile(col, 0.1)
    assert 0 < width < 17.7


def test_bundled_unemployment_2030_band_is_plausible(catalog, obs):
    sp = Forecaster(sims=4000, seed=20240809).fit(obs, catalog).simulate(2030)
    years, paths = sp.paths("02")
    lo, hi = np.quantile(paths[:, years == 2030][:, 0], [0.025, 0.975])
    # history 2018-2024: 2.4-5.7 %; a labour statistician's plausible 2030 range
    assert 0.2 < lo < 2.5 and 3.0 < hi < 10.0


def test_a_run_at_100_keeps_its_mass_and_gets_no_more_certain_further_out(catalog):
    obs = _obs("51", [100.0] * 7, 2018)
    sp = Forecaster(sims=4000, seed=2).fit(obs, catalog).simulate(2030)
    years, paths = sp.paths("51")
    at = {y: float((paths[:, years == y][:, 0] == 100).mean()) for y in (2025, 2030)}
    assert 0.5 < at[2030] <= at[2025] < 1.0
    assert np.median(paths[:, years == 2030]) == 100
    t = catalog.get("51").targets
    assert t[2030].prob_met(paths, years) <= t[2025].prob_met(paths, years)


def test_a_percent_at_zero_keeps_mass_at_zero():
    cal = load_pooled_calibration()
    res = predictive_paths(np.zeros(8), 5, 4000, np.random.default_rng(0), domain="percent",
                           calibration=cal)
    share = (res.paths == 0).mean(axis=0)
    assert np.all(share > 0.5) and np.all(np.diff(share) <= 0) and res.paths.max() <= 100


def test_a_flat_percent_near_a_bound_gets_a_width_in_points_like_one_in_the_middle():
    """The pooled floor on the yearly movement is in points as well as in logit units, so a
    history flat at 99 is not given a band a tenth of a point wide (the logit is steep there)."""
    cal = load_pooled_calibration()
    assert cal.min_move["percent_points"] > 0
    z = np.log(np.array([0.5, 0.9, 0.99]) / (1 - np.array([0.5, 0.9, 0.99])))
    floor = percent_move_floor(cal.min_move["percent_points"], z)
    assert floor[0] < floor[1] < floor[2]  # the same points are more logit units near 100
    np.testing.assert_allclose(percent_move_floor(0.2, -z), percent_move_floor(0.2, z))  # about 50
    widths = {}
    for level in (50.0, 99.0):
        res = predictive_paths(np.full(6, level), 6, 4000, np.random.default_rng(1),
                               domain="percent", calibration=cal)
        lo, hi = np.quantile(res.paths[:, -1], [0.1, 0.9])
        assert lo <= level <= hi <= 100
        widths[level] = hi - lo
    assert widths[99.0] > 0.3 * widths[50.0]


def test_bound_of_and_precision():
    assert bound_of(np.array([98.0, 100, 100]), "percent") == (100.0, 2)
    assert bound_of(np.array([100.0, 99.9]), "percent") == (None, 0)
    assert bound_of(np.array([0.0, 0.0]), "positive") == (None, 0)
    np.testing.assert_array_equal(at_precision(np.array([99.95, 99.94, -1.25, 2.3]), 0.1),
                                  [100.0, 99.9, -1.3, 2.3])


def test_calibration_file_errors_name_the_file():
    from khforecast.errors import KhforecastError

    with pytest.raises(KhforecastError, match="cal.json.*format 6"):
        PooledCalibration.from_json('{"format": 3}', source="cal.json")
    cal = load_pooled_calibration()
    assert PooledCalibration.from_json(cal.to_json()) == cal


def test_tied_model_draws_are_ranked_in_path_order():
    """Equal model draws (a constant history's) are ranked by path index, as a stable sort
    ranks them, so the calibrated paths do not depend on the sorting algorithm."""
    z = np.zeros((500, 3))
    z[:, 1] = np.repeat([0.2, 0.1], 250)
    out = load_pooled_calibration().calibrate(z, np.linspace(0.0, 1.0, 8), "positive")
    assert np.all(np.diff(out[:, 0]) > 0)
    assert np.all(np.diff(out[:250, 1]) > 0) and np.all(np.diff(out[250:, 1]) > 0)
    assert out[:250, 1].min() > out[250:, 1].max()


@pytest.mark.parametrize("y, domain", [([3.1, 3.4, 3.2, 3.9, 4.4, 4.1], "positive"),
                                       ([0.0, 1.0, 0.0, 2.0, 1.0, 0.0], "positive"),
                                       ([97.0, 98.0, 99.0, 99.0, 98.0], "percent"),
                                       ([-0.3, 0.2, -0.1, 0.4, 0.1, -0.2], "real")])
def test_quantiles_from_the_sorted_draws_are_numpys(y, domain):
    """forecast-series takes its quantiles from the engine's sorted draws: the same numbers as
    np.quantile and np.median of the paths (draws rounded to ties, zeros, -0.0 included)."""
    levels = np.array([0.001, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.999])
    res = predictive_paths(np.array(y), 5, 2000, np.random.default_rng(3), domain=domain)
    assert draw_quantiles(res, levels).tobytes() == np.quantile(res.paths, levels, axis=0).tobytes()
    assert res.point.tobytes() == np.median(res.paths, axis=0).tobytes()
