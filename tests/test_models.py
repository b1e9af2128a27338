"""Tests for khforecast.engine.models: the models against closed forms and statsmodels, the paths'
properties, and the minimum-length and fallback rules."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from khforecast.engine.models import (
    MIN_OBS_BY_MODEL,
    MODELS,
    Combination,
    DampedTrend,
    Drift,
    InsufficientDataError,
    Level,
    LinearTrend,
    Theta,
    fit_many_series,
    simulate_paths,
)
from khforecast.engine.scales import fit_scale
from khforecast.errors import ModelFitError


def _walk(seed: int, n: int = 30, drift: float = 0.5, start: float = 50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start + np.cumsum(rng.normal(drift, 1.0, n))


# -- reference tests ------------------------------------------------------------------------
def test_drift_variance_matches_the_closed_form_with_parameter_uncertainty():
    y = _walk(1, n=12)
    fit = Drift().fit(y)
    paths = fit.simulate(6, 200_000, np.random.default_rng(2))
    h = np.arange(1, 7)
    expected = fit.sigma**2 * h * (1 + h / (len(y) - 1))
    assert paths.var(axis=0) == pytest.approx(expected, rel=0.02)
    assert paths.mean(axis=0) == pytest.approx(y[-1] + fit.drift * h, abs=0.02)
    assert fit.drift == pytest.approx((y[-1] - y[0]) / (len(y) - 1))


def test_drift_without_parameter_uncertainty_would_fail_the_variance_check():
    # guards the test above: the plain random-walk variance sigma^2 h is clearly smaller at h=6
    y = _walk(1, n=12)
    fit = Drift().fit(y)
    paths = fit.simulate(6, 200_000, np.random.default_rng(2))
    assert paths.var(axis=0)[-1] > 1.3 * fit.sigma**2 * 6


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_damped_trend_forecast_equals_statsmodels_for_the_same_parameters(seed):
    y = _walk(seed)
    fit = DampedTrend().fit(y)
    ref = ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="known",
                               initial_level=fit.init[0], initial_trend=fit.init[1]).fit(
        smoothing_level=fit.alpha, smoothing_trend=fit.beta, damping_trend=fit.phi,
        optimized=False)
    assert fit.forecast(6) == pytest.approx(ref.forecast(6), rel=1e-10)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_damped_trend_least_squares_is_as_good_as_statsmodels(seed):
    y = _walk(seed)
    fit = DampedTrend().fit(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ExponentialSmoothing(y, trend="add", damped_trend=True,
                                   bounds={"damping_trend": (0.8, 0.98)}).fit()
    assert fit.mse * len(y) <= ref.sse * 1.01


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_theta_forecast_equals_statsmodels_theta_model(seed):
    y = _walk(seed, drift=0.8)
    ref = ThetaModel(y, deseasonalize=False).fit().forecast(6)
    assert Theta().fit(y).forecast(6) == pytest.approx(np.asarray(ref), rel=1e-4)


def test_linear_trend_is_ols_and_carries_parameter_uncertainty():
    y = _walk(9, n=15)
    fit = LinearTrend().fit(y)
    slope, intercept = np.polyfit(np.arange(15), y, 1)
    assert fit.forecast(2) == pytest.approx(intercept + slope * np.array([15, 16]))
    paths = fit.simulate(6, 100_000, np.random.default_rng(1))
    x = np.column_stack([np.ones(6), 14 + np.arange(1, 7)])
    xtx_inv = np.linalg.inv(np.column_stack([np.ones(15), np.arange(15)]).T
                            @ np.column_stack([np.ones(15), np.arange(15)]))
    expected = fit.sigma**2 * (1 + np.einsum("ij,jk,ik->i", x, xtx_inv, x))
    assert paths.var(axis=0) == pytest.approx(expected, rel=0.03)


def test_level_model_is_flat():
    f = Level().fit(_walk(10, drift=0.0)).forecast(5)
    assert np.ptp(f) == 0


# -- paths ----------------------------------------------------------------------------------
_series = st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=3, max_size=14)


@settings(max_examples=40, deadline=None)
@given(_series, st.sampled_from(["percent", "positive", "real"]), st.integers(0, 2**32 - 1))
def test_paths_stay_in_the_domain(values, domain, seed):
    y = np.array(values)
    res = simulate_paths(y, 6, 200, np.random.default_rng(seed), domain=domain)
    assert res.paths.shape == (200, 6)
    assert np.all(np.isfinite(res.paths))
    if domain == "percent":
        assert np.all((res.paths >= 0) & (res.paths <= 100))
    elif domain == "positive":
        assert np.all(res.paths >= 0)


def test_a_percent_near_100_and_rising_stays_below_100():
    y = np.array([97.8, 98.3, 98.7, 99.0, 99.2, 99.4])
    res = simulate_paths(y, 6, 4000, np.random.default_rng(1), domain="percent")
    assert res.paths.max() <= 100.0
    assert np.all(np.diff(np.median(res.paths, axis=0)) >= 0)


@pytest.mark.parametrize("domain", ["real", "positive", "percent"])
def test_intervals_widen_with_the_horizon_and_quantiles_are_ordered(domain):
    y = np.array([20.0, 21.5, 22.1, 23.8, 24.0, 25.9, 26.3, 27.5, 29.1, 29.8, 31.0, 32.4])
    res = simulate_paths(y, 8, 4000, np.random.default_rng(3), domain=domain)
    q = np.quantile(res.paths, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    assert np.all(np.diff(q, axis=0) >= 0)
    width = q[-1] - q[0]
    assert np.all(np.diff(width) > 0)


def test_paths_are_connected_across_years():
    res = simulate_paths(_walk(11), 6, 4000, np.random.default_rng(4))
    corr = np.corrcoef(res.paths.T)
    assert np.all(np.diag(corr, 1) > 0.5)


def test_same_seed_same_paths_and_a_different_seed_differs():
    y = _walk(12)
    a = simulate_paths(y, 6, 500, np.random.default_rng(5), domain="positive")
    b = simulate_paths(y, 6, 500, np.random.default_rng(5), domain="positive")
    c = simulate_paths(y, 6, 500, np.random.default_rng(6), domain="positive")
    assert np.array_equal(a.paths, b.paths)
    assert not np.array_equal(a.paths, c.paths)


def test_combination_median_is_the_combined_point_forecast():
    y = _walk(13)
    res = simulate_paths(y, 6, 4001, np.random.default_rng(7), domain="positive")
    assert res.model == "combination"
    assert np.median(res.paths, axis=0) == pytest.approx(res.point, rel=1e-9)


def test_combination_weights_follow_inverse_in_sample_mse_within_each_scale():
    y = np.log(_walk(14))
    fit = Combination(original_scale=False).fit(y)
    inv = np.array([1 / MODELS[m].fit(y).mse for m in ("drift", "damped_trend", "theta")])
    assert fit.weights == pytest.approx(inv / inv.sum())
    assert Combination(rule="mean", original_scale=False).fit(y).weights == pytest.approx([1 / 3] * 3)


def test_trimmed_mixture_leaves_out_the_extreme_members_but_the_point_keeps_them():
    y = np.r_[160.0, 170, 175, 420, 440, 520, 540, 600, 610, 650, 690, 900, 850, 940, 1320,
              2440, 3110, 2670, 1800, 960, 420, 350, 555, 4033]  # a late jump (M4 Y21480-like)
    scale = fit_scale(y, "positive")
    fit = Combination().fit(scale.forward(y), scale)
    ref = np.array([p.forecast(6)[-1] for p in fit.parts])
    assert fit.path_weights[np.argmax(ref)] == 0 and fit.path_weights[np.argmin(ref)] == 0
    assert np.all(fit.weights > 0)
    points = np.array([p.forecast(6) for p in fit.parts])
    assert fit.forecast(6) == pytest.approx(fit.weights @ points)
    untrimmed = Combination(trim=0).fit(scale.forward(y), scale)
    top = [np.quantile(f.simulate(6, 4000, np.random.default_rng(0))[:, -1], 0.975)
           for f in (fit, untrimmed)]
    assert top[0] < top[1] - np.log(100)  # the runaway member no longer sets the upper tail


def test_spread_scales_the_dispersion_around_the_median_on_the_model_scale():
    y = _walk(15)
    base = simulate_paths(y, 6, 4000, np.random.default_rng(8), domain="positive")
    wide = simulate_paths(y, 6, 4000, np.random.default_rng(8), domain="positive",
                          spread=np.full(6, 2.0))
    lb, lw = np.log(base.paths), np.log(wide.paths)
    mb = np.median(lb, axis=0)
    assert np.median(lw, axis=0) == pytest.approx(mb)
    assert lw - mb == pytest.approx(2 * (lb - mb))
    with pytest.raises(ValueError, match=r"spread must have shape \(6,\)"):
        simulate_paths(y, 6, 10, np.random.default_rng(8), spread=np.ones(3))


# -- minimum length and fallbacks ------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2])
def test_one_or_two_points_raise_insufficient_data(n):
    with pytest.raises(InsufficientDataError, match=f"series has {n} finite value"):
        simulate_paths(np.arange(n, dtype=float) + 1, 3, 10, np.random.default_rng(0))


def test_a_short_series_runs_the_members_that_fit_and_says_so():
    res = simulate_paths(np.array([3.0, 4.0, 4.5, 5.5]), 3, 100, np.random.default_rng(0),
                         domain="positive")
    assert res.model.startswith("combination(") and "damped_trend" not in res.model
    assert MIN_OBS_BY_MODEL["damped_trend"] > 4 >= MIN_OBS_BY_MODEL["drift"]


def test_a_single_model_too_short_falls_back_along_the_chain():
    res = simulate_paths(np.array([3.0, 4.0, 4.5, 5.5, 6.0]), 3, 100, np.random.default_rng(0),
                         models=["damped_trend"])
    assert res.model == "theta(fallback)"
    assert any("damped_trend: needs 7 points" in n for n in res.notes)


def test_unknown_model_and_combination_inside_a_list_are_errors():
    y = _walk(16)
    with pytest.raises(ModelFitError, match="unknown model 'arima'"):
        simulate_paths(y, 3, 10, np.random.default_rng(0), models=["arima"])
    with pytest.raises(ModelFitError, match="'combination' cannot be combined"):
        simulate_paths(y, 3, 10, np.random.default_rng(0), models=["combination", "drift"])


def test_a_constant_series_gives_constant_paths():
    res = simulate_paths(np.full(10, 42.0), 4, 200, np.random.default_rng(0), domain="percent")
    assert res.paths == pytest.approx(np.full((200, 4), 42.0))


def test_every_registered_model_runs_alone():
    y = _walk(17)
    for name in MODELS:
        res = simulate_paths(y, 4, 300, np.random.default_rng(0), models=[name])
        assert res.model == name and res.paths.shape == (300, 4)


# -- many series at once ----------------------------------------------------------------------
def test_fitting_many_series_together_gives_the_same_paths_as_one_at_a_time():
    """forecast-series fits a chunk's series together (fit_many_series); every draw must be
    the one a series alone gets, bit for bit: lengths from 2 to 40 (members dropping out below
    7 and 3 points, a series too short for any), a constant, zeros, both scales' members."""
    rng = np.random.default_rng(5)
    series = [np.exp(_walk(s, n=n, drift=0.02, start=1.0) / 10.0)
              for s, n in enumerate([40, 7, 6, 3, 2, 25, 12, 31, 9, 4])]
    series += [np.full(8, 3.0), np.r_[0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0], rng.gamma(2.0, 5.0, 18)]
    for domain, ys in (("positive", series), ("percent", [np.clip(y, 0, 100) for y in series]),
                       ("real", [np.log1p(y) - 1.0 for y in series])):
        fits = fit_many_series(ys, domain=domain)
        assert fits[4] is None  # 2 points: left to simulate_paths, which raises
        for y, fitted in zip(ys, fits):
            if fitted is None:
                continue
            alone = simulate_paths(y, 6, 300, np.random.default_rng(1), domain=domain)
            together = simulate_paths(y, 6, 300, np.random.default_rng(1), domain=domain,
                                      fitted=fitted)
            assert together.model == alone.model
            assert together.paths.tobytes() == alone.paths.tobytes()
            assert together.point.tobytes() == alone.point.tobytes()
