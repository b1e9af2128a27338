"""Calibration: the shipped multipliers, the spread fit, back-tests and reproducibility."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.calibration.derive import (
    code_fingerprint,
    derive_calibration,
    main,
    models_fingerprint,
)
from khforecast.engine.calibration.fit import (
    _params_per_row,
    calibration_table,
    fit_spread,
    out_of_sample_params,
)
from khforecast.engine.calibration.panels import load_panel_series
from khforecast.engine.calibration.runtime import (
    _DCOLS,
    _GRID,
    _IQ80,
    HORIZONS,
    MIN_MOVE,
    N_OBS_BUCKETS,
    TAIL_CLIP,
    WINSOR,
    Calibration,
    _yearly_sd,
    floor_factor,
    load_calibration,
)
from khforecast.errors import KhforecastError
from khforecast.engine.predictive import load_pooled_calibration


def _synthetic_backtests(true_scale: float, n: int = 12000, seed: int = 0) -> pd.DataFrame:
    """Back-test rows whose realised offsets are N(0, true_scale) and draws are N(0, 1)."""
    rng = np.random.default_rng(seed)
    offsets = norm.ppf(_GRID)
    df = pd.DataFrame({c: np.full(n, offsets[k]) for k, c in enumerate(_DCOLS)})
    df["n_train"] = rng.integers(3, 20, n)
    df["z"] = rng.normal(0.0, true_scale, n)
    df["z_last"] = 0.0
    df["sd_dz"] = 0.0  # no floor: the draws' own width is right or wrong only by scale
    df["horizon"] = rng.integers(1, HORIZONS + 1, n)
    df["error"] = ""
    df["panel"] = np.where(np.arange(n) % 2 == 0, "a", "b")
    df["value"] = df["z"]
    df["last_value"] = 0.0
    return df


def test_shipped_calibration_loads_and_has_out_of_sample_coverage_in_band():
    cal = load_pooled_calibration()
    assert cal.meta["out_of_sample"] == "leave-one-family-out"
    for k, lo, hi in ((50, 0.47, 0.53), (80, 0.77, 0.83), (95, 0.92, 0.98), (98, 0.95, 1.0)):
        assert lo <= cal.meta[f"oos_coverage{k}"] <= hi
    assert cal.meta["oos_out99"] <= 0.02
    assert all(r >= 0 for r in cal.ratio_up) and list(cal.ratio_up) == sorted(cal.ratio_up)


def test_shipped_calibration_matches_the_current_models():
    """Fails when models.py/scales.py changed after calibration.json was derived: re-run
    ``python -m khforecast.engine.evaluation --out khforecast/data/calibration.json``."""
    assert load_pooled_calibration().meta["models_sha256"] == models_fingerprint()


def test_fingerprint_ignores_file_location_imports_and_docs_but_not_code():
    """Moving models.py (new import lines, another folder) must not force a re-derivation."""
    code = 'from khforecast.scales import fit_scale\n\ndef f(y):\n    return fit_scale(y) * 2\n'
    moved = ('"""Models."""\nfrom __future__ import annotations\n\nimport numpy as np\n\n'
             'from khforecast.engine.scales import fit_scale\n\n__all__ = ["f"]\n\n'
             'def f(y):\n    """Twice the scale."""\n    import math\n    return fit_scale(y) * 2\n')
    changed = code.replace("* 2", "* 3")
    assert code_fingerprint([code]) == code_fingerprint([moved])
    assert code_fingerprint([code]) != code_fingerprint([changed])


def test_heavy_tailed_errors_get_a_tail_and_both_coverages():
    bt = _synthetic_backtests(1.0)
    rng = np.random.default_rng(1)
    bt["z"] = rng.standard_t(3, len(bt))  # heavier tails than the Gaussian draws
    cal = fit_spread(bt, min_cell=40)
    assert min(cal.tails) >= 0.3
    overall = calibration_table(bt, out_of_sample_params(bt)).iloc[-1]
    assert abs(overall["coverage80"] - 0.80) < 0.03
    assert abs(overall["coverage95"] - 0.95) < 0.02


def test_floor_widens_paths_that_claim_certainty():
    dev = np.random.default_rng(0).normal(0, 1e-6, (4001, 3))  # a model fitting a flat history
    f = floor_factor(dev, sd_dz=0.05, floor=1.0)
    width = (np.quantile(dev * f, 0.9, axis=0) - np.quantile(dev * f, 0.1, axis=0)) / _IQ80
    np.testing.assert_allclose(width, 0.05 * np.sqrt([1, 2, 3]), rtol=1e-9)
    assert np.all(floor_factor(np.random.default_rng(0).normal(0, 1, (4001, 3)), 0.05, 1.0) == 1)
    # a flat history still moves MIN_MOVE a year; a linear one moves its slope
    assert _yearly_sd(np.full(6, 2.0)) == MIN_MOVE
    assert _yearly_sd(np.arange(6) * 0.3) == pytest.approx(0.3)


def test_widen_tails_keeps_median_and_fattens_tails():
    cal = Calibration(((1.0,),) * 4, N_OBS_BUCKETS, {}, (0.5, 0.5, 0.5, 0.5))
    z = np.random.default_rng(0).standard_normal((20001, 2))  # odd: the median is a draw
    w = cal.widen_tails(z, 10, np.random.default_rng(1))
    np.testing.assert_allclose(np.median(w, axis=0), np.median(z, axis=0), atol=1e-12)
    kurt = lambda a: ((a - a.mean()) ** 4).mean() / a.var() ** 2
    assert kurt(w[:, 0]) > kurt(z[:, 0]) + 1.0
    np.testing.assert_array_equal(Calibration.identity().widen_tails(z, 10, np.random.default_rng(1)), z)


def test_tail_factor_is_bounded_and_apply_winsorises_each_year():
    cal = Calibration(((1.0,),) * 4, N_OBS_BUCKETS, {}, (1.2, 1.2, 1.2, 1.2))
    z = np.random.default_rng(0).standard_normal((4001, 3))
    w = cal.widen_tails(z, 10, np.random.default_rng(1))
    med = np.median(z, axis=0)
    ratio = np.abs(w - med) / np.maximum(np.abs(z - med), 1e-300)
    assert ratio.max() <= np.exp(1.2 * TAIL_CLIP) * (1 + 1e-9)
    assert ratio.max() > np.exp(1.2 * TAIL_CLIP) * 0.99  # the clip is reached, not avoided
    out = cal.apply(z, np.cumsum(np.full(8, 0.1)), np.random.default_rng(2))
    lo, hi = np.quantile(out, [WINSOR, 1 - WINSOR], axis=0)
    assert np.all(out >= lo - 1e-12) and np.all(out <= hi + 1e-12)
    # the central quantiles the calibration targets are untouched by the winsorising
    raw = cal.widen_tails(med + floor_factor(z - med, _yearly_sd(np.cumsum(np.full(8, 0.1))),
                                               cal.floor) * cal.spread(3, 8) * (z - med), 8,
                          np.random.default_rng(2))
    np.testing.assert_allclose(np.quantile(out, [0.025, 0.5, 0.975], axis=0),
                               np.quantile(raw, [0.025, 0.5, 0.975], axis=0), rtol=1e-9)


def test_spread_shape_bucket_and_beyond_last_horizon():
    cal = Calibration(((1.0, 2.0), (3.0, 4.0)), (3, 8))
    assert cal.spread(1, 3).tolist() == [1.0]
    assert cal.spread(4, 7).tolist() == [1.0, 2.0, 2.0, 2.0]  # later horizons reuse the last
    assert cal.spread(2, 30).tolist() == [3.0, 4.0]


def test_calibration_json_round_trip_and_bad_file_message():
    cal = Calibration(((1.0, 1.25),) * len(N_OBS_BUCKETS), N_OBS_BUCKETS, {"seed": 3})
    back = Calibration.from_json(cal.to_json())
    assert back.multipliers == cal.multipliers and back.meta == {"seed": 3}
    with pytest.raises(KhforecastError, match=r"cal\.json: expected a khforecast calibration file"):
        Calibration.from_json("{not json", source="cal.json")
    with pytest.raises(KhforecastError, match="positive multipliers"):
        Calibration.from_json(json.dumps({"buckets": [3], "multipliers": [[1.0, -1.0]]}))


@pytest.mark.parametrize("true_scale", [0.6, 2.0])
def test_fit_recovers_the_scale_that_calibrates(true_scale):
    bt = _synthetic_backtests(true_scale)
    cal = fit_spread(bt, min_cell=40)
    assert max(cal.tails) <= 0.2  # Gaussian errors on Gaussian draws: no heavy tail needed
    fitted = np.array(cal.multipliers)
    assert np.all(np.abs(fitted / true_scale - 1) < 0.15)  # ~300 back-tests per cell
    assert abs(np.exp(np.log(fitted / true_scale).mean()) - 1) < 0.04
    table = calibration_table(bt, out_of_sample_params(bt))
    overall = table.iloc[-1]
    assert abs(overall["coverage80"] - 0.80) < 0.03
    assert abs(overall["coverage95"] - 0.95) < 0.02
    raw = calibration_table(bt).iloc[-1]  # spread 1: wrong unless the scale is 1
    if true_scale == 2.0:
        assert raw["coverage80"] < 0.55


def test_backtest_rows_and_jobs_do_not_change_results():
    series = load_panel_series(["gso:unemployment_rate"])[:12]
    assert all(s.panel == "gso:unemployment_rate" and len(s.values) >= 6 for s in series)
    one = backtest(series, n_sims=200, seed=5, max_cases=2, jobs=1)
    two = backtest(series, n_sims=200, seed=5, max_cases=2, jobs=2)
    pd.testing.assert_frame_equal(one, two)
    assert (one["error"] == "").all()
    assert one["horizon"].between(1, HORIZONS).all()
    assert (one["n_train"] >= 3).all()
    assert (one["year"] == one["origin"] + one["horizon"]).all()
    d = one[_DCOLS].to_numpy()
    assert np.all(np.diff(d, axis=1) >= -1e-12), "quantile offsets must be ordered"


def test_command_reproduces_the_file_on_a_tiny_subset(tmp_path, capsys):
    args = ["--panels", "gso:unemployment_rate", "gso:informal_employment_rate",
            "--max-series", "15", "--sims", "200", "--seed", "11", "--max-cases", "2"]
    assert main(["--out", str(tmp_path / "a.json"), *args]) == 0
    assert main(["--out", str(tmp_path / "b.json"), *args]) == 0
    a = (tmp_path / "a.json").read_bytes()
    assert a == (tmp_path / "b.json").read_bytes()
    doc = json.loads(a)
    assert doc["meta"]["seed"] == 11 and doc["meta"]["out_of_sample"] == "leave-one-panel-out"
    assert "coverage80" in capsys.readouterr().out
    cal, _, _ = derive_calibration(seed=11, n_sims=200, max_cases=2, max_series_per_panel=15,
                                     panels=["gso:unemployment_rate", "gso:informal_employment_rate"])
    assert cal.to_json().encode() == a


@pytest.mark.slow
def test_held_out_coverage_on_a_smaller_draw_of_the_panels():
    """Leave-one-panel-out coverage stays near nominal on a fresh, smaller draw of back-tests."""
    cal, _bt, table = derive_calibration(seed=3, n_sims=500, max_cases=3, max_series_per_panel=30)
    overall = table.iloc[-1]
    assert cal.meta["out_of_sample"] == "leave-one-panel-out"
    assert int(overall["n"]) > 5000
    assert 0.76 <= overall["coverage80"] <= 0.87
    assert 0.91 <= overall["coverage95"] <= 0.98


