"""Calibration benchmark: held-out coverage and Brier scores of target-attainment probabilities.

Run::

    .venv/bin/python benchmarks/calibration.py [--sims 1000] [--max-series 120] [--jobs 1]

On rolling-origin back-tests of the GSO provincial panels and the multi-country panels
(``khforecast.engine.calibration``), this prints

1. coverage of the 80 % and 95 % intervals by horizon, **out of sample**: each panel's
   back-tests use the spread and tail fitted on all the *other* panels (leave-one-panel-out);
2. the Brier score of P(value in the last held-out year >= threshold) for thresholds at the
   10/25/50/75/90 % quantiles of that panel's realised values and at the last observed value
   ±2 % and ±5 %, for khforecast (calibrated out of sample, and uncalibrated) beside two
   reference methods computed here on the same back-tests:

   - the ESCAP-style rule: extrapolate the training window's CAGR to the year and answer 0 or 1;
   - a naive Gaussian random walk: N(last value, sd(yearly changes)^2 * h).

Acceptance (issue): pooled out-of-sample coverage 77-83 % (80 % intervals) and 93-97 % (95 %);
Brier at least 20 % below the ESCAP-style rule and below the naive Gaussian.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import norm

from khforecast.assess.escap import escap_projection
from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.calibration.derive import _thin
from khforecast.engine.calibration.fit import _mix_cdf, calibration_table, out_of_sample_params
from khforecast.engine.calibration.panels import load_panel_series
from khforecast.engine.scales import Scale


def _events(bt: pd.DataFrame) -> pd.DataFrame:
    """One row per back-test case (its last held-out year) and threshold."""
    ok = bt[bt["error"] == ""]
    last = ok.loc[ok.groupby(["panel", "series_id", "origin", "n_train"])["horizon"].idxmax()]
    last = last.assign(bt_row=last.index)  # bt has a 0..n-1 index: the row's position
    frames = []
    for panel, g in last.groupby("panel", sort=True):
        qs = np.quantile(g["value"], (0.10, 0.25, 0.50, 0.75, 0.90))
        for name, q in zip(("q10", "q25", "q50", "q75", "q90"), qs):
            frames.append(g.assign(threshold=q, kind=f"realised {name}"))
        for f in (-0.05, -0.02, 0.02, 0.05):
            frames.append(g.assign(threshold=g["last_value"] * (1 + f), kind=f"last {f:+.0%}"))
    return pd.concat(frames, ignore_index=True)


def _p_model(ev: pd.DataFrame, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(value >= threshold) under khforecast's calibrated predictive distribution."""
    zthr = np.array([Scale(d, eps, off).forward(thr) - Scale(d, eps, off).forward(med)
                     for d, eps, off, thr, med in zip(ev["domain"], ev["scale_eps"],
                                                     ev["scale_offset"], ev["threshold"],
                                                     ev["median"])], dtype=float)
    return 1.0 - _mix_cdf(ev.assign(zthr=zthr), s, t, col="zthr")


def _p_escap(ev: pd.DataFrame) -> np.ndarray:
    proj = np.array([escap_projection(fy, fv, o, lv, y) for fy, fv, o, lv, y in
                     zip(ev["first_year"], ev["first_value"], ev["origin"], ev["last_value"], ev["year"])])
    return (proj >= ev["threshold"].to_numpy()).astype(float)


def _p_gauss(ev: pd.DataFrame) -> np.ndarray:
    sd = ev["sd_diff"].fillna(0.0).to_numpy() * np.sqrt(ev["horizon"].to_numpy())
    gap = ev["threshold"].to_numpy() - ev["last_value"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 1.0 - norm.cdf(gap / sd)
    return np.where(sd > 0, p, (gap <= 0).astype(float))


def _gauss_coverage(bt: pd.DataFrame) -> tuple[float, float]:
    ok = bt[bt["error"] == ""]
    sd = ok["sd_diff"].to_numpy() * np.sqrt(ok["horizon"].to_numpy())
    err = np.abs(ok["value"].to_numpy() - ok["last_value"].to_numpy())
    return float((err <= norm.ppf(0.9) * sd).mean()), float((err <= norm.ppf(0.975) * sd).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=20240809)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--max-series", type=int, default=120)
    p.add_argument("--max-cases", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args(argv)
    print("$ " + " ".join(["python", "benchmarks/calibration.py", *(argv if argv is not None else sys.argv[1:])]))
    t0 = time.perf_counter()
    series = _thin(load_panel_series(), args.max_series, args.seed)
    bt = backtest(series, n_sims=args.sims, seed=args.seed, max_cases=args.max_cases, jobs=args.jobs)
    t1 = time.perf_counter()
    s, t = out_of_sample_params(bt)
    ok = (bt["error"] == "").to_numpy()
    print(f"# {ok.sum()} back-test cells, {bt.loc[ok, ['panel', 'series_id', 'origin', 'n_train']].drop_duplicates().shape[0]} "
          f"cases, {len(series)} series, {bt['panel'].nunique()} panels; failed: {(~ok).sum()}; "
          f"back-tests {t1 - t0:.0f} s")

    print("\n## 1. Interval coverage by horizon (leave-one-panel-out)")
    table = calibration_table(bt, (s, t))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    raw = calibration_table(bt).iloc[-1]
    g80, g95 = _gauss_coverage(bt)
    print(f"uncalibrated models: coverage80 {raw.coverage80:.3f}, coverage95 {raw.coverage95:.3f}; "
          f"naive Gaussian RW: coverage80 {g80:.3f}, coverage95 {g95:.3f}")

    print("\n## 2. Brier score of P(value in the last held-out year >= threshold)")
    ev = _events(bt)
    rows = ev["bt_row"].to_numpy()
    outcome = (ev["value"].to_numpy() >= ev["threshold"].to_numpy()).astype(float)
    probs = {
        "khforecast (calibrated, out of sample)": _p_model(ev, s[rows], t[rows]),
        "khforecast (uncalibrated)": _p_model(ev, np.ones(len(ev)), np.zeros(len(ev))),
        "ESCAP-style CAGR rule (0/1)": _p_escap(ev),
        "naive Gaussian random walk": _p_gauss(ev),
    }
    brier = {k: float(np.mean((v - outcome) ** 2)) for k, v in probs.items()}
    by_kind = pd.DataFrame({k: ((v - outcome) ** 2) for k, v in probs.items()}).groupby(ev["kind"].to_numpy()).mean()
    print(by_kind.to_string(float_format=lambda v: f"{v:.4f}"))
    base = brier["khforecast (calibrated, out of sample)"]
    print(f"\n{'method':42s} {'Brier':>8s} {'khforecast lower by':>20s}")
    for k, v in brier.items():
        print(f"{k:42s} {v:8.4f} {(v - base) / v * 100:19.1f}%")
    print(f"({len(ev)} events from {len(ev) // 9} cases)")

    cov80, cov95 = table.iloc[-1]["coverage80"], table.iloc[-1]["coverage95"]
    checks = {
        "coverage80 in [0.77, 0.83]": 0.77 <= cov80 <= 0.83,
        "coverage95 in [0.93, 0.97]": 0.93 <= cov95 <= 0.97,
        "Brier >= 20% below ESCAP-style": base <= 0.8 * brier["ESCAP-style CAGR rule (0/1)"],
        "Brier below naive Gaussian": base < brier["naive Gaussian random walk"],
    }
    print("\n## Acceptance")
    for k, v in checks.items():
        print(f"{'PASS' if v else 'FAIL'}  {k}")
    print(f"# total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
