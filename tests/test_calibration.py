"""Calibration: the shipped file, the models' fingerprint it guards, back-tests and reproducibility."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from khforecast.engine import evaluation
from khforecast.engine.calibration.backtest import N_OBS_BUCKETS, backtest
from khforecast.engine.calibration.derive import code_fingerprint, models_fingerprint
from khforecast.engine.pool import load_pool
from khforecast.engine.predictive import HORIZONS, TRENDS, load_pooled_calibration


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


def test_backtest_rows_and_jobs_do_not_change_results():
    series = [s for s in load_pool(["labour"])
              if s.panel == "gso:unemployment_rate/unemployment_rate_working_age"][:12]
    assert len(series) == 12 and all(len(s.values) >= 6 for s in series)
    one = backtest(series, n_sims=200, seed=5, max_cases=2, jobs=1)
    two = backtest(series, n_sims=200, seed=5, max_cases=2, jobs=2)
    pd.testing.assert_frame_equal(one, two)
    assert (one["error"] == "").all()
    assert one["horizon"].between(1, HORIZONS).all()
    assert (one["n_train"] >= N_OBS_BUCKETS[0]).all()
    assert (one["year"] == one["origin"] + one["horizon"]).all()
    d = one[[c for c in one.columns if c[0] == "d" and c[1:].isdigit()]].to_numpy()
    assert np.all(np.diff(d, axis=1) >= -1e-12), "quantile offsets must be ordered"


def _synthetic_cells(n: int = 24000, seed: int = 0) -> pd.DataFrame:
    """Back-test cells whose realised value stays at the last one (plus noise twice as wide for
    3-4 point histories as for 12-20 point ones) while the models project a trend."""
    rng = np.random.default_rng(seed)
    h = rng.integers(1, HORIZONS + 1, n)
    short = rng.random(n) < 0.5
    n_train = np.where(short, rng.integers(3, 5, n), rng.integers(12, 21, n))
    trend = 0.05 * h  # model median minus the last value, modelling scale
    noise = rng.normal(0.0, 1.0, n) * np.where(short, 0.2, 0.1) * np.sqrt(h)
    trend_class = np.array(TRENDS)[rng.integers(0, len(TRENDS), n)]
    return pd.DataFrame({
        "panel": "p", "series_id": np.arange(n).astype(str), "origin": 2010, "n_train": n_train,
        "domain": "positive", "trend": trend_class,
        "shape": np.where(trend_class == "noisy", "noisy", "smooth"),
        "near": "far", "horizon": h, "z": noise - trend, "z_last": -trend, "w": 0.05,
        "move": 0.1, "value": 1.0, "median": 1.0})


def test_fit_learns_damping_and_history_length_from_the_back_tests():
    """A trend the realised values do not follow is damped away; short histories get wider
    standardised errors than long ones; held-out coverage comes out near nominal."""
    cells = _synthetic_cells()
    cal = evaluation.fit_pooled(cells, {})
    # classes 0 (3-4 points) and 3 (12+) hold the cells; the others have none: no damping
    assert all(row[0] <= 0.05 and row[3] <= 0.05 and row[1] == 1.0 for row in cal.damping.values())
    lf = np.asarray(cal.length_factor["positive"])
    assert np.all(lf[:, 0] > 1.5 * lf[:, -1])
    scored = evaluation.score(_synthetic_cells(seed=1), cal)
    assert abs(scored["cov80"].mean() - 0.80) < 0.02
    assert abs(scored["cov95"].mean() - 0.95) < 0.015


@pytest.mark.slow
def test_held_out_coverage_on_a_smaller_draw_of_the_pool():
    """Leave-one-family-out coverage stays near nominal on a fresh, smaller draw of back-tests."""
    cal, cells, lofo, _lopo = evaluation.derive(seed=3, n_sims=500, max_cases=3, max_series=30)
    assert cal.meta["out_of_sample"] == "leave-one-family-out"
    assert len(cells) > 5000
    assert 0.76 <= lofo["cov80"].mean() <= 0.84
    assert 0.92 <= lofo["cov95"].mean() <= 0.97
