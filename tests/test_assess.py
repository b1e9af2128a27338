"""assess(): p_meet per target kind, status, planning figures; the forecast command's files."""
from __future__ import annotations

import json
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khforecast.assess.assessment import ASSESSMENT_COLUMNS, EXTRA_COLUMNS, assess
from khforecast.assess.statuses import status_of
from khforecast.cli import main
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.observations.read import bundled_observations_path
from khforecast.plan.kinds import KINDS
from khforecast.plan.targets import Target


@pytest.fixture(scope="module")
def bau(obs, catalog):
    return Forecaster(sims=2000, seed=5).fit(obs, catalog).simulate(2030)


# --------------------------------------------------------------------------------------------
# synthetic series: known paths, every target kind
# --------------------------------------------------------------------------------------------
def _one_series(paths: np.ndarray, years: np.ndarray, last_year: int, *, domain="positive",
                observed_as="level") -> SamplePaths:
    observed = np.where(years <= last_year, paths[0], np.nan)
    s = SeriesPaths("X", "khanh_hoa", domain, observed_as, years, observed, paths,
                    n_obs=int((years <= last_year).sum()), last_year=last_year,
                    last_value=float(paths[0, years == last_year][0]), model="test")
    return SamplePaths("khanh_hoa", "bau", int(years[-1]), {("X", "khanh_hoa"): s}, len(paths))


def _catalog(target: Target, direction: int = 1) -> SimpleNamespace:
    ind = SimpleNamespace(id="X", direction=direction, targets=MappingProxyType({2030: target}))
    return SimpleNamespace(indicators={"X": ind})


def _uniform_paths(n: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """History 2020-2024 = 10, 11, ..., 14; then paths spread evenly in 2030 from 0 to 40."""
    years = np.arange(2020, 2031)
    end = np.linspace(0.0, 40.0, n)
    hist = np.arange(10.0, 15.0)
    fut = 14.0 + (end[:, None] - 14.0) * (np.arange(1, 7) / 6.0)[None, :]
    return years, np.hstack([np.broadcast_to(hist, (n, 5)), fut])


@pytest.mark.parametrize("target, expected", [
    (Target(2030, "> 30", "gt", value=30.0), lambda e: e > 30),
    (Target(2030, "< 10", "lt", value=10.0, direction=-1), lambda e: e < 10),
    (Target(2030, "30", "ge", value=30.0), lambda e: e >= 30),
    (Target(2030, "≤ 8", "le", value=8.0, direction=-1), lambda e: e <= 8),
    (Target(2030, "20-25", "between", low=20.0, high=25.0, direction=0),
     lambda e: (e >= 20) & (e <= 25)),
    (Target(2030, "14 (duy trì)", "maintain", value=14.0), lambda e: e >= 14),
    (Target(2030, "2 lần", "ratio_to_base", value=2.0, base_year=2020, decimals=1),
     lambda e: e / 10.0 >= 2.0 - 1e-9),
    (Target(2030, "+1/năm", "annual_change", low=1.0, base_year=2024, decimals=1),
     lambda e: (e - 14.0) / 6.0 >= 1.0 - 1e-9),
])
def test_p_meet_per_kind_is_the_share_of_paths(target, expected):
    years, paths = _uniform_paths()
    out = assess(_one_series(paths, years, 2024), _catalog(target, target.direction))
    row = out[out.target_year == 2030].iloc[0]
    assert row["p_meet"] == pytest.approx(expected(paths[:, -1]).mean())
    assert row["status"] == status_of(row["p_meet"])
    assert row["projected_q50"] == pytest.approx(np.quantile(target.quantity(paths, years), 0.5))


def test_cumulative_counts_observed_flows():
    years = np.arange(2021, 2031)
    rng = np.random.default_rng(0)
    flows = np.hstack([np.full((500, 4), 100.0), rng.uniform(50, 150, (500, 6))])
    target = Target(2030, "1.000", "cumulative", value=1000.0, start_year=2021)
    out = assess(_one_series(flows, years, 2024, observed_as="flow"), _catalog(target))
    row = out.iloc[0]
    assert row["p_meet"] == pytest.approx((flows.sum(axis=1) >= 1000).mean())
    assert row["historical_annual_change"] == pytest.approx(100.0)  # mean observed flow
    assert row["required_annual_change"] == pytest.approx((1000 - 400) / 6)


def test_qualitative_none_no_data_and_columns(catalog, bau):
    out = assess(bau, catalog)
    assert tuple(out.columns) == ASSESSMENT_COLUMNS + EXTRA_COLUMNS
    assert set(out["target_year"]) == {2025, 2030}
    assert not out.duplicated(["indicator_id", "place", "scenario", "target_year"]).any()
    kinds = out.set_index(["indicator_id", "target_year"])
    assert kinds.loc[("61", 2030), "status"] in ("no_data", "qualitative")
    q = out[out.target_kind == "qualitative"]
    assert (q["status"] == "qualitative").all() and q["p_meet"].isna().all()
    none = out[out.target_kind == "none"]  # '-' in the plan: no target that year
    assert len(none) and (none["status"] == "no_target").all() and none["p_meet"].isna().all()
    assert kinds.loc[("73", 2030), "status"] == "no_target"  # a heading row
    nd = out[out.status == "no_data"]
    assert (nd["n_obs"] == 0).all() and nd["p_meet"].isna().all()
    assert len(out) == 2 * len(catalog.indicators)


def test_bundled_rows_p_meet_equals_the_paths_share(catalog, bau):
    out = assess(bau, catalog)
    rows = out[out.status.isin(["on_track", "at_risk", "off_track"])]
    assert len(rows) >= 6  # 02, 04, 09, 57, 59 have forecasts
    for _, r in rows.iterrows():
        target = catalog.get(r.indicator_id).targets[r.target_year]
        years, arr = bau.paths(r.indicator_id)
        assert r.p_meet == pytest.approx(target.prob_met(arr, years))
        assert r.status == status_of(r.p_meet)
        assert r.nowcast == (r.target_year == 2025)
    short = out[(out.n_obs > 0) & (out.n_obs < 3) & out.target_kind.ne("none")
                & out.target_kind.ne("qualitative")]
    assert (short["status"] == "insufficient_data").all() and short["p_meet"].isna().all()


def test_status_follows_custom_thresholds(catalog, bau):
    out = assess(bau, catalog, thresholds=(0.9, 0.1))
    rows = out[out.p_meet.notna() & ~out.status.isin(["met", "missed"])]
    for _, r in rows.iterrows():
        assert r.status == ("on_track" if r.p_meet >= 0.9 else "at_risk" if r.p_meet >= 0.1 else "off_track")
    with pytest.raises(ValueError, match="thresholds"):
        assess(bau, catalog, thresholds=(0.5, 0.8))


def test_observed_target_year_is_met_or_missed(catalog, obs):
    extra = pd.DataFrame({"indicator_id": ["02", "04"], "place": "khanh_hoa", "year": 2025,
                          "value": [2.4, 70.0]})
    data = pd.concat([obs[["indicator_id", "place", "year", "value"]], extra], ignore_index=True)
    out = assess(Forecaster(sims=200, seed=1).fit(data, catalog).simulate(2030), catalog)
    r = out.set_index(["indicator_id", "target_year"])
    assert r.loc[("02", 2025), "status"] == "met" and r.loc[("02", 2025), "p_meet"] == 1.0  # < 3
    assert r.loc[("04", 2025), "status"] == "missed" and r.loc[("04", 2025), "p_meet"] == 0.0
    assert r.loc[("02", 2030), "status"] in ("on_track", "at_risk", "off_track")


def test_required_change_hits_the_probabilities(catalog, bau):
    out = assess(bau, catalog).set_index(["indicator_id", "target_year"])
    r = out.loc[("09", 2030)]  # > 40 by 2030, a rising target
    assert r.required_change_p80 > r.required_change_p50 > r.historical_annual_change
    from khforecast.assess.assessment import _shifted

    s = bau.get("09")
    target = catalog.get("09").targets[2030]
    med_change = np.median((s.paths[:, -1] - s.last_value) / 6)
    for prob, col in ((0.5, "required_change_p50"), (0.8, "required_change_p80")):
        shifted = _shifted(target, s, r[col] - med_change)
        assert target.prob_met(shifted, s.years) == pytest.approx(prob, abs=0.03)
    assert r.escap_label in ("maintain_progress", "accelerate", "reverse_trend")


def _plain_required_change(target: Target, s: SeriesPaths, prob: float) -> float | None:
    """The required change as first written: a bisection calling ``Target.prob_met`` each step
    (the reference the fast search must reproduce exactly)."""
    from khforecast.assess.assessment import _shift

    first = min(min(target.needed_years), target.year)
    cols = (s.years >= first) & (s.years <= target.year)
    paths, years = s.paths[:, cols], s.years[cols]
    flow = s.observed_as == "flow"
    scale = max(float(np.nanmax(np.abs(s.history.to_numpy()))), 1e-9)

    def p(d: float) -> float:
        return target.prob_met(_shift(paths, years, s.last_year, flow, s.domain, d), years)

    lo_d, hi_d = -20.0 * scale, 20.0 * scale
    p_lo, p_hi = p(lo_d), p(hi_d)
    if p_lo == p_hi or not (min(p_lo, p_hi) <= prob <= max(p_lo, p_hi)):
        return None
    rising = p_hi > p_lo
    while hi_d - lo_d > 1e-5 * scale:
        mid = 0.5 * (lo_d + hi_d)
        if (p(mid) >= prob) == rising:
            hi_d = mid
        else:
            lo_d = mid
    x = _shift(paths, years, s.last_year, flow, s.domain, hi_d if rising else lo_d)
    if flow:
        return float(np.median(x[:, years > s.last_year].mean(axis=1)))
    return float(np.median((x[:, -1] - s.last_value) / (target.year - s.last_year)))


_KIND_CASES = [  # (target, domain, observed_as): every kind the bisection reads
    (Target(2030, "x", "ge", value=55.0), "percent", "level"),
    (Target(2030, "x", "gt", value=52.5), "percent", "level"),
    (Target(2030, "x", "le", value=48.0, direction=-1), "percent", "level"),
    (Target(2030, "x", "lt", value=45.0, direction=-1), "positive", "level"),
    (Target(2030, "x", "maintain", value=50.0), "real", "level"),
    (Target(2030, "x", "maintain", value=50.0, direction=-1), "real", "level"),
    (Target(2030, "x", "between", low=40.0, high=60.0), "percent", "level"),
    (Target(2030, "x", "between", low=40.0, high=60.0, direction=-1), "percent", "level"),
    (Target(2030, "x", "eq", value=50.0), "percent", "level"),
    (Target(2030, "x", "annual_change", low=-1.0, high=-0.5, base_year=2024, direction=-1),
     "percent", "level"),
    (Target(2030, "x", "ratio_to_base", value=1.1, base_year=2024), "positive", "level"),
    (Target(2030, "x", "cumulative", value=400.0, start_year=2024), "positive", "flow"),
]


@pytest.mark.parametrize("target,domain,observed_as", _KIND_CASES,
                         ids=[f"{t.kind}{t.direction:+d}-{d}" for t, d, _ in _KIND_CASES])
@pytest.mark.parametrize("seed", [3, 11])
def test_required_change_is_the_plain_bisections_to_the_bit(target, domain, observed_as, seed):
    """The batched search (one path per step for monotone level tests) gives the same
    numbers as bisecting with Target.prob_met, also with paths held at 0/100 and NaN paths."""
    from khforecast.assess.assessment import _required_changes

    years = np.arange(2018, 2031)
    rng = np.random.default_rng(seed)
    paths = 50 + np.cumsum(rng.normal(0, 4, (1000, years.size)), axis=1)
    paths[:, :7] = paths[0, :7]  # 2018-2024 observed
    if domain == "percent":
        paths = np.clip(paths + rng.normal(0, 20, (1000, 1)) * (years > 2024), 0, 100)
    elif domain == "positive":
        paths = np.maximum(paths, 0.0)
    if seed == 11:
        paths[5, -1] = np.nan  # a failed path never meets
    s = _one_series(paths, years, 2024, domain=domain, observed_as=observed_as).get("X")
    got = _required_changes(target, s, s.history, (0.5, 0.8))
    want = tuple(_plain_required_change(target, s, prob) for prob in (0.5, 0.8))
    assert [repr(v) for v in got] == [repr(v) for v in want]  # to the bit (nan == nan here)
    assert any(v is not None for v in want) or target.kind == "eq"


@pytest.mark.parametrize("kind", [k for k, rule in KINDS.items() if rule.monotone])
def test_monotone_kinds_meet_on_one_side_of_the_level(kind):
    """KindRule.monotone: the paths that meet are the highest or the lowest (what lets the
    bisection read one path a step)."""
    level = np.round(np.linspace(0, 100, 2001), 9)[:, None]
    for direction in (1, -1):
        t = Target(2030, "x", kind, value=50.0, low=40.0, high=60.0, direction=direction)
        met = t.meets(level, np.array([2030]))
        changes = np.count_nonzero(np.diff(met.astype(int)))
        assert changes == 1, (kind, direction)


@settings(max_examples=40, deadline=None)
@given(v1=st.floats(0, 100), v2=st.floats(0, 100), seed=st.integers(0, 2**16))
def test_p_meet_moves_the_right_way_with_the_threshold(v1, v2, seed):
    lo, hi = sorted((v1, v2))
    years = np.arange(2022, 2031)
    rng = np.random.default_rng(seed)
    paths = np.clip(50 + np.cumsum(rng.normal(0, 5, (300, 9)), axis=1), 0, 100)
    paths[:, :3] = paths[0, :3]
    sp = _one_series(paths, years, 2024, domain="percent")
    p_ge = [assess(sp, _catalog(Target(2030, "x", "ge", value=v, decimals=2)))["p_meet"].iloc[0]
            for v in (lo, hi)]
    p_le = [assess(sp, _catalog(Target(2030, "x", "le", value=v, decimals=2, direction=-1), -1)
                   )["p_meet"].iloc[0] for v in (lo, hi)]
    assert p_ge[0] >= p_ge[1]  # a higher floor is harder to reach
    assert p_le[0] <= p_le[1]  # a higher ceiling is easier to stay under


# --------------------------------------------------------------------------------------------
# the forecast command
# --------------------------------------------------------------------------------------------
def test_forecast_command_is_byte_identical_for_a_seed(tmp_path, capsys):
    args = ["forecast", "--sims", "500", "--seed", "9", "--scenario", "bau", "--scenario", "shock"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--jobs", "2"]) == 0
    for name in ("forecasts.csv", "assessment.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["seed"] == 9 and man["params"]["scenarios"] == ["bau", "shock"]
    assert next(iter(man["inputs"].values())) == __import__("khforecast._io", fromlist=["x"]).sha256_file(
        bundled_observations_path())
    assert {"numpy", "pandas", "statsmodels", "khforecast"} <= set(man["versions"])
    a = pd.read_csv(tmp_path / "a" / "assessment.csv", dtype={"indicator_id": str})
    assert list(a.columns) == list(ASSESSMENT_COLUMNS + EXTRA_COLUMNS)
    assert set(a["scenario"]) == {"bau", "shock"}
    assert "assessment rows" in capsys.readouterr().out


def test_forecast_command_bad_data_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "obs.csv"
    bad.write_text("indicator_id,place,year,value,source\n02,khanh_hoa,2020,abc,x\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["forecast", "--data", str(bad), "--out", str(out)]) == 1
    assert "obs.csv" in capsys.readouterr().err
    assert not (out / "forecasts.csv").exists()


def test_forecast_command_unknown_scenario(tmp_path, capsys):
    assert main(["forecast", "--out", str(tmp_path), "--scenario", "nope", "--sims", "50"]) == 1
    assert "scenario 'nope' is not defined" in capsys.readouterr().err
