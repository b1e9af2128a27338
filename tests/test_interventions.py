"""Declared interventions: a pulse year's value no longer matters, a step's shift carries on."""
from __future__ import annotations

import numpy as np
import pytest

from khforecast.engine.interventions import Interventions
from khforecast.engine.models import MODELS, simulate_paths

# Khánh Hòa's labour force 2007-2021 (thousand people, GSO), on the log scale
Y = np.log(np.array([622.5, 618.4, 621.2, 648.6, 667.5, 667.5, 685.1, 700.0, 701.1, 691.9,
                     708.0, 713.1, 706.0, 682.2, 635.0]))
NUMPY_MEMBERS = ["drift", "linear_trend", "theta", "level", "damped_trend"]
STATE_SPACE = ["uc_trend", "arima011_drift", "arima110_drift"]


def test_positions_from_years():
    iv = Interventions.from_years(range(2015, 2025), [2020, 2021, 2030], 2019)
    assert (iv.pulse, iv.step) == ((5, 6), 4)
    np.testing.assert_array_equal(iv.regressors(10)[:, 0], np.eye(10)[5])
    np.testing.assert_array_equal(iv.regressors(10)[:, 2], (np.arange(10) >= 4).astype(float))
    np.testing.assert_array_equal(iv.future(3), [[0, 0, 1]] * 3)
    assert iv.describe(2015) == "pulse 2020, 2021; step 2019"
    assert not Interventions.from_years(range(2015, 2019), [2020], 2015)  # nothing inside


@pytest.mark.parametrize("name", NUMPY_MEMBERS + ["ets_damped"] + STATE_SPACE)
def test_a_pulse_years_value_does_not_change_the_projection(name):
    iv = Interventions(pulse=(9, 10))
    a = MODELS[name].fit(Y, iv)
    shocked = Y.copy()
    shocked[[9, 10]] += [0.4, -0.3]
    b = MODELS[name].fit(shocked, iv)
    tol = 1e-9 if name in NUMPY_MEMBERS + ["ets_damped"] else 2e-3  # MLE stops at a tolerance
    np.testing.assert_allclose(a.forecast(6), b.forecast(6), atol=tol)
    if name in NUMPY_MEMBERS:
        np.testing.assert_allclose(a.simulate(6, 200, np.random.default_rng(1)),
                                   b.simulate(6, 200, np.random.default_rng(1)), atol=1e-9)
        assert a.mse == pytest.approx(b.mse)


@pytest.mark.parametrize("name", NUMPY_MEMBERS + STATE_SPACE)
def test_a_step_shift_carries_into_the_projection(name):
    iv = Interventions(step=8)
    shifted = Y + 0.25 * (np.arange(len(Y)) >= 8)
    a = MODELS[name].fit(Y, iv).forecast(6)
    b = MODELS[name].fit(shifted, iv).forecast(6)
    tol = 1e-9 if name in NUMPY_MEMBERS else 3e-3
    np.testing.assert_allclose(b - a, 0.25, atol=tol)


def test_a_trailing_pulse_projects_from_the_last_ordinary_year():
    iv = Interventions(pulse=(14,))
    fitted = MODELS["drift"].fit(Y, iv)
    expect = Y[13] + (Y[13] - Y[0]) / 13 * np.arange(2, 8)
    np.testing.assert_allclose(fitted.forecast(6), expect)


def test_pulses_narrow_the_noise_they_would_have_inflated():
    y = np.log(np.array([3.46, 3.49, 4.70, 5.72, 3.37, 2.44, 2.50]) / 100)  # 02, unemployment
    told = simulate_paths(y, 6, 4000, np.random.default_rng(0), models=["drift"],
                          interventions=Interventions(pulse=(2, 3)))
    naive = simulate_paths(y, 6, 4000, np.random.default_rng(0), models=["drift"])
    assert np.ptp(np.quantile(told.paths[:, -1], [0.1, 0.9])) < np.ptp(np.quantile(naive.paths[:, -1], [0.1, 0.9]))


def test_too_few_ordinary_years_falls_back_and_says_why():
    y = Y[:8]
    res = simulate_paths(y, 3, 100, np.random.default_rng(0), models=["damped_trend"],
                         interventions=Interventions(pulse=(5, 6)))
    assert res.model == "theta(fallback)"
    assert res.notes == ("damped_trend: needs 7 points, has 6 besides the pulse years",)
