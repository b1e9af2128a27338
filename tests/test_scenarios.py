"""Scenarios: YAML loading with clear errors, and the transforms' effects on paths and p_meet."""
from __future__ import annotations

import numpy as np
import pytest

from khforecast.engine.forecaster import Forecaster
from khforecast.engine.scenarios import Scenario, apply_scenario, load_scenarios
from khforecast.errors import ParamsError
from khforecast.observations.read import bundled_observations_path, read_observations
from khforecast.plan.catalog import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def results(catalog):
    obs = read_observations(bundled_observations_path(), catalog=catalog)
    return Forecaster(sims=2001, seed=11).fit(obs, catalog)


def test_shipped_scenarios_load():
    defs = load_scenarios()
    assert {"bau", "accelerate", "target_path", "shock"} <= set(defs)
    assert defs["shock"].overrides["02"] == {"size": 1.5, "relative": False}
    assert defs["shock"].for_indicator("02").size == 1.5
    assert defs["shock"].for_indicator("09").size == 0.10


@pytest.mark.parametrize("text, match", [
    ("scenarios:\n  a: [1, 2", r"s\.yaml line \d+: expected valid YAML"),
    ("scenarios:\n  a:\n    kind: faster\n", r"s\.yaml, key 'scenarios\.a\.kind': expected one of bau"),
    ("scenarios:\n  a:\n    kind: shock\n    size: big\n", r"key 'scenarios\.a\.size': expected a number from -1e\+06 to 1e\+06, found 'big'"),
    ("scenarios:\n  a:\n    kind: shock\n    colour: red\n", r"key 'scenarios\.a\.colour': expected one of .*unknown key"),
    ("scenarios:\n  a:\n    factor: 2\n", r"key 'scenarios\.a\.kind': expected one of .* found nothing"),
    ("other: 1\n", r"key 'scenarios': expected a mapping"),
    ("scenarios:\n  a:\n    kind: shock\n    overrides:\n      '02': {only: ['02']}\n",
     r"key 'scenarios\.a\.overrides\.02\.only'"),
])
def test_bad_yaml_names_file_and_key(tmp_path, text, match):
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ParamsError, match=match):
        load_scenarios(p)


def test_missing_file_is_a_params_error(tmp_path):
    with pytest.raises(ParamsError, match="no such scenarios file"):
        load_scenarios(tmp_path / "nope.yaml")


def test_unknown_scenario_name(results):
    with pytest.raises(ParamsError, match="scenario 'nope': expected one of"):
        results.simulate(2030, "nope")


def test_accelerate_raises_p_meet_of_a_rising_target(results, catalog):
    bau = results.simulate(2030)
    fast = apply_scenario(bau, Scenario("fast", "accelerate", factor=2.0), catalog)
    years, a = bau.paths("09")
    _, b = fast.paths("09")
    observed = years <= 2024
    np.testing.assert_array_equal(a[:, observed], b[:, observed])  # history untouched
    target = catalog.get("09").targets[2030]  # > 40, and the 2008-2024 trend is rising
    assert target.prob_met(b, years) > target.prob_met(a, years) + 0.02
    assert fast.scenario == "fast" and bau.scenario == "bau"


def test_accelerate_leaves_a_wrong_way_trend_alone(results, catalog):
    bau = results.simulate(2030)
    years, a = bau.paths("02")  # unemployment: lower is better
    med = np.median(a, axis=0)
    fast = apply_scenario(bau, Scenario("fast", "accelerate", factor=3.0), catalog)
    _, b = fast.paths("02")
    if med[-1] >= med[years == 2024][0]:  # bau trend goes the wrong way: unchanged
        np.testing.assert_array_equal(a, b)
    else:
        assert np.median(b[:, -1]) < med[-1]


def test_shock_lowers_level_then_recovers(results, catalog):
    bau = results.simulate(2030)
    years, a = bau.paths("09")
    permanent = apply_scenario(bau, Scenario("s", "shock", year=2026, size=0.2, relative=True,
                                             recovery_years=0), catalog)
    fading = apply_scenario(bau, Scenario("s", "shock", year=2026, size=0.2, relative=True,
                                          recovery_years=2), catalog)
    _, p = permanent.paths("09")
    _, f = fading.paths("09")
    col = {int(y): i for i, y in enumerate(years)}
    np.testing.assert_array_equal(p[:, col[2025]], a[:, col[2025]])  # before the shock
    np.testing.assert_allclose(p[:, col[2026]], a[:, col[2026]] * 0.8)  # 09 higher is better
    np.testing.assert_allclose(p[:, col[2030]], a[:, col[2030]] * 0.8)
    np.testing.assert_allclose(f[:, col[2027]], a[:, col[2027]] * 0.9)
    np.testing.assert_array_equal(f[:, col[2028]], a[:, col[2028]])  # recovered


def test_adverse_shock_raises_a_lower_is_better_indicator(results, catalog):
    bau = results.simulate(2030)
    years, a = bau.paths("02")
    _, b = apply_scenario(bau, Scenario("s", "shock", year=2026, size=1.5, relative=False),
                          catalog).paths("02")
    j = int(np.flatnonzero(years == 2026)[0])
    assert np.all(b[:, j] >= a[:, j]) and np.median(b[:, j] - a[:, j]) == pytest.approx(1.5)
    assert np.all(b <= 100)


def test_target_path_puts_the_median_on_the_target(results, catalog):
    bau = results.simulate(2030)
    tp = apply_scenario(bau, Scenario("tp", "target_path", target_year=2030), catalog)
    years, b = tp.paths("04")
    target = catalog.get("04").targets[2030]
    s = bau.get("04")
    rate = target.required_annual_change(s.last_year, s.last_value, s.history)
    assert np.median(b[:, -1]) == pytest.approx(s.last_value + rate * (2030 - s.last_year), abs=1e-6)
    assert target.prob_met(b, years) == pytest.approx(0.5, abs=0.03)


def test_only_and_overrides_limit_a_scenario(results, catalog):
    bau = results.simulate(2030)
    sc = Scenario("s", "shock", year=2026, size=0.2, only=("09",))
    out = apply_scenario(bau, sc, catalog)
    np.testing.assert_array_equal(out.paths("04")[1], bau.paths("04")[1])
    assert not np.array_equal(out.paths("09")[1], bau.paths("09")[1])
    sc2 = Scenario("s", "shock", year=2026, size=0.2, overrides={"09": {"kind": "bau"}})
    np.testing.assert_array_equal(apply_scenario(bau, sc2, catalog).paths("09")[1], bau.paths("09")[1])


def test_comparison_places_keep_their_bau_paths(results, catalog):
    bau = results.simulate(2030)
    out = apply_scenario(bau, Scenario("s", "shock", year=2026, size=0.3), catalog)
    np.testing.assert_array_equal(out.paths("09", "vietnam")[1], bau.paths("09", "vietnam")[1])
