"""The statsmodels members draw what statsmodels itself draws, for the same fitted parameters."""
from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from khforecast.engine import statespace
from khforecast.engine.pool import load_pool
from khforecast.engine.interventions import Interventions
from khforecast.engine.models import MODELS  # the registry's members, as they run
from khforecast.engine.statespace import STATSMODELS_MODELS, _fit_quietly
from khforecast.errors import ModelFitError


@pytest.fixture(scope="module")
def labour_force() -> np.ndarray:
    """Khánh Hòa's labour force 2007-2021 (GSO), on the log scale: a real panel series."""
    s = [x for x in load_pool(["labour"]) if x.panel == "gso:labour_force/labour_force_15plus"
         and x.series_id == "khanh_hoa"][0]
    assert len(s.values) >= 12
    return np.log(s.values)


def test_ets_paths_are_statsmodels_own_simulate(labour_force):
    fitted = MODELS["ets_damped"].fit(labour_force)
    res = fitted.result
    assert res.model.damped_trend and res.model.trend == "add"
    np.testing.assert_allclose(fitted.forecast(6), res.forecast(6))
    ours = fitted.simulate(6, 500, np.random.default_rng(3))
    theirs = res.simulate(6, anchor="end", repetitions=500, rng=np.random.default_rng(3))
    np.testing.assert_allclose(ours, np.asarray(theirs).T)


@pytest.mark.parametrize("name", ["uc_trend", "arima011_drift", "arima110_drift"])
@pytest.mark.parametrize("iv", [Interventions(), Interventions(pulse=(9, 10), step=5)])
def test_state_space_paths_match_statsmodels_simulate(labour_force, name, iv):
    fitted = STATSMODELS_MODELS[name].fit(labour_force, iv)
    res = fitted.result
    h = 6
    mean = fitted.forecast(h)
    exog = iv.future(h) if iv else None
    np.testing.assert_allclose(mean, res.forecast(h, exog=exog))
    for k in (1, 12, 40):  # every horizon is statsmodels' own forecast, bit for bit
        np.testing.assert_array_equal(fitted.forecast(k),
                                      res.forecast(k, exog=iv.future(k) if iv else None))
    rng = np.random.default_rng(11)
    x1, e, u = fitted.shocks(h, 4, rng)
    ours = fitted.paths_from(mean, x1, e, u)
    a_next = res.filter_results.predicted_state[:, -1]
    for i in range(4):
        theirs = res.simulate(h, anchor="end", initial_state=a_next + x1[i],
                              measurement_shocks=e[i][:, None], state_shocks=u[i], exog=exog)
        np.testing.assert_allclose(ours[i], np.asarray(theirs).ravel(), rtol=1e-9, atol=1e-9)
    # and the draws have statsmodels' analytic predictive distribution
    paths = fitted.simulate(h, 20000, np.random.default_rng(5))
    ci = np.asarray(res.get_forecast(h, exog=exog).conf_int(alpha=0.2))
    sd = (ci[:, 1] - ci[:, 0]) / (2 * stats.norm.ppf(0.9))
    np.testing.assert_allclose(np.quantile(paths, [0.1, 0.9], axis=0).T, ci, atol=0.03 * sd.max() + 1e-6)


def test_arima_with_drift_projects_a_constant_yearly_change(labour_force):
    fitted = STATSMODELS_MODELS["arima011_drift"].fit(labour_force)
    steps = np.diff(fitted.forecast(12))  # an MA(1) forgets its last shock after one year
    np.testing.assert_allclose(steps, fitted.result.params[0], rtol=1e-6)


def test_pulse_dummies_take_the_pulse_out_of_the_projection(labour_force):
    shocked = labour_force.copy()
    shocked[[-3, -2]] -= 0.3  # two bad years, then back on the old path
    iv = Interventions(pulse=(len(shocked) - 3, len(shocked) - 2))
    for name in ("uc_trend", "arima011_drift"):
        clean = STATSMODELS_MODELS[name].fit(labour_force).forecast(5)
        naive = STATSMODELS_MODELS[name].fit(shocked).forecast(5)
        told = STATSMODELS_MODELS[name].fit(shocked, iv).forecast(5)
        assert np.abs(told - clean).max() < np.abs(naive - clean).max(), name


def test_ets_bridges_pulses_and_declines_a_step(labour_force):
    shocked = labour_force.copy()
    shocked[-3] += 0.5
    iv = Interventions(pulse=(len(shocked) - 3,))
    told = MODELS["ets_damped"].fit(shocked, iv)
    naive = MODELS["ets_damped"].fit(shocked)
    assert told.mse < naive.mse
    with pytest.raises(ModelFitError, match="no step"):
        MODELS["ets_damped"].fit(labour_force, Interventions(step=4))


def test_too_few_points_for_the_dummies_is_a_fit_error(labour_force):
    with pytest.raises(ModelFitError, match="besides its 2 intervention dummies"):
        STATSMODELS_MODELS["uc_trend"].fit(labour_force[:7], Interventions(pulse=(3, 4)))


def test_non_convergence_is_a_fit_error():
    def fit():
        warnings.warn("did not converge", ConvergenceWarning)
        return None

    with pytest.raises(ModelFitError, match="did not converge"):
        _fit_quietly(fit, "uc_trend")
    # an exact gradient that is nil where the optimiser stopped: at the maximum after all
    assert _fit_quietly(lambda: fit() or np.ones(2), "uc_trend", lambda p: np.full(2, 1e-4)) is not None
    with pytest.raises(ModelFitError, match="did not converge"):
        _fit_quietly(lambda: fit() or np.ones(2), "uc_trend", lambda p: np.full(2, 0.1))


def test_diagnostics_are_statsmodels_tests_and_reproducible(labour_force):
    from statsmodels.stats.diagnostic import acorr_ljungbox

    from khforecast.engine.diagnostics import diagnostics

    fitted = STATSMODELS_MODELS["uc_trend"].fit(labour_force, Interventions(pulse=(13,)))
    d = diagnostics(fitted)
    assert d["n_resid"] == len(labour_force) - 2 - 1  # diffuse start and the pulse left out
    e = fitted.result.standardized_forecasts_error[0][2:]
    e = np.delete(e, 11)
    lb = acorr_ljungbox(e, lags=[d["ljung_box"]["lag"]])
    assert d["ljung_box"]["p_value"] == pytest.approx(float(lb["lb_pvalue"].iloc[0]))
    assert 0 <= d["jarque_bera"]["p_value"] <= 1
    assert "Unobserved Components Results" in d["summary"]
    # the fit's date and time are blanked, so the run's files stay byte-identical
    assert re.search(r"Date: +-{16}", d["summary"]) and re.search(r"Time: +--:--:--", d["summary"])


def test_statsmodels_members_same_seed_same_bytes_any_jobs():
    from khforecast.engine.forecaster import Forecaster
    from khforecast.engine.model_choices import ModelChoices, SeriesChoice
    from khforecast.observations.read import bundled_observations_path, read_observations
    from khforecast.plan.catalog import load_catalog

    catalog = load_catalog()
    obs = read_observations(bundled_observations_path(), catalog=catalog)
    obs = obs[obs["indicator_id"] == "09"]  # 17 years here and for Viet Nam: two series
    members = ("drift", "theta", *STATSMODELS_MODELS)
    choices = ModelChoices(default=SeriesChoice(models=members, pulse=(2020, 2021)))
    frames = [Forecaster(sims=200, seed=5, jobs=jobs, choices=choices).fit(obs, catalog)
              .simulate(2030).to_frame() for jobs in (1, 2)]
    assert frames[0].to_csv().encode() == frames[1].to_csv().encode()
    assert frames[0]["place"].nunique() == 2


def test_a_fit_is_memoised_by_content_and_draws_the_same_paths(labour_force):
    spec = STATSMODELS_MODELS["arima011_drift"]
    statespace._FITS.clear()
    first = spec.fit(labour_force)
    assert spec.fit(labour_force.copy()) is first  # same values, same fit
    assert spec.fit(labour_force[:-1]) is not first
    assert spec.fit(labour_force, Interventions(pulse=(3,))) is not first
    assert STATSMODELS_MODELS["arima110_drift"].fit(labour_force) is not first
    statespace._FITS.clear()
    fresh = spec.fit(labour_force)
    assert fresh is not first
    np.testing.assert_array_equal(fresh.result.params, first.result.params)
    np.testing.assert_array_equal(fresh.simulate(6, 300, np.random.default_rng(2)),
                                  first.simulate(6, 300, np.random.default_rng(2)))


def test_a_failed_fit_is_remembered_and_raised_again(monkeypatch, labour_force):
    calls = []

    def failing(fit, name, gradient=None):
        calls.append(name)
        raise ModelFitError(f"{name}: maximum likelihood did not converge")

    statespace._FITS.clear()
    monkeypatch.setattr(statespace, "_fit_quietly", failing)
    for _ in range(2):
        with pytest.raises(ModelFitError, match="uc_trend: maximum likelihood did not converge"):
            STATSMODELS_MODELS["uc_trend"].fit(labour_force)
    assert calls == ["uc_trend"]
    statespace._FITS.clear()


def test_statsmodels_is_not_imported_when_no_series_is_long_enough_for_it():
    """Series shorter than every statsmodels member named fall back without the ~1 s import."""
    code = """
import sys, warnings
import pandas as pd
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import ModelChoices, SeriesChoice
from khforecast.plan.catalog import load_catalog
catalog = load_catalog()
obs = pd.DataFrame({"indicator_id": "09", "place": "khanh_hoa", "year": range(2019, 2024),
                    "value": [60.0, 61.0, 61.5, 62.5, 63.0]})
choices = ModelChoices(default=SeriesChoice(models=("drift", "uc_trend", "ets_damped")))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    paths = Forecaster(sims=100, seed=1, jobs=1, choices=choices).fit(obs, catalog).simulate(2030)
print(paths.get("09").model, "statsmodels" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    model, imported = out.stdout.split()
    assert model.startswith("combination(drift")
    assert imported == "False"


@pytest.mark.parametrize("name", ["uc_trend", "arima011_drift", "arima110_drift"])
@pytest.mark.parametrize("iv", [Interventions(), Interventions(pulse=(9, 10), step=5)])
def test_the_fit_on_the_rescaled_series_is_statsmodels_own_maximum(labour_force, name, iv):
    """Fitted on the series divided by a power of two, the maximum mapped back is the maximum of
    the series itself: as high as statsmodels' own fit of it, and a stationary point there."""
    fitted = STATSMODELS_MODELS[name].fit(labour_force, iv)
    model = fitted.result.model
    assert np.array_equal(model.endog[:, 0], labour_force)  # filtered on the series itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = model.fit(disp=False, cov_type="none", optim_score="approx", optim_complex_step=True)
    assert fitted.result.llf >= own.llf - 1e-4
    np.testing.assert_allclose(fitted.result.llf, model.loglike(fitted.result.params), rtol=1e-12)


def test_the_scale_is_a_power_of_two_and_maps_each_parameter_back():
    assert statespace._fitting_scale(np.array([1.0, 1.03, 1.05, 1.1])) == 2.0 ** -6  # sd 0.0125
    assert statespace._fitting_scale(np.ones(5)) == 1.0
    names = ["intercept", "x1", "beta.x2", "ma.L1", "ar.L1", "sigma2", "sigma2.level"]
    np.testing.assert_array_equal(statespace._rescaled(names, np.ones(7), 0.25),
                                  [0.25, 0.25, 0.25, 1, 1, 0.0625, 0.0625])
    with pytest.raises(ValueError, match="no scale rule"):
        statespace._rescaled(["phi"], np.ones(1), 0.25)


@pytest.mark.parametrize("name", ["uc_trend", "arima011_drift"])
def test_the_optimiser_gets_statsmodels_own_score_and_loglike(labour_force, name):
    model = STATSMODELS_MODELS[name].fit(labour_force, Interventions(pulse=(9,))).result.model
    x = model.untransform_params(model.start_params) + 0.05
    value, gradient = statespace._loglike_and_score(model)(x)
    nobs = len(labour_force)
    np.testing.assert_array_equal(gradient, model.score(x, transformed=False,
                                                        approx_complex_step=True) / nobs)
    assert value == pytest.approx(model.loglike(x, transformed=False) / nobs, rel=1e-13)


def test_ets_from_the_registry_grid_reaches_at_least_statsmodels_own_maximum(labour_force):
    """ETSModel starts from the damped-trend least-squares grid (the same likelihood on a grid),
    and its maximum is at least as high as from statsmodels' own start."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    for y in (labour_force, labour_force[:9], np.log(np.r_[3.49, 3.4, 3.3, 3.2, 4.7, 5.72, 3.37,
                                                           3.1, 3.0, 2.9])):
        fitted = MODELS["ets_damped"].fit(y)
        model = ETSModel(y, error="add", trend="add", damped_trend=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = model.fit(disp=False)
        assert fitted.result.llf >= own.llf - 1e-6
