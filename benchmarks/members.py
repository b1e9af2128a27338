"""Accuracy and interval coverage of every registry member, alone, beside the default combination.

Run::

    .venv/bin/python benchmarks/members.py [--limit 200] [--per-panel 10] [--sims 1000] [--jobs 2]

Two evidence sets, the question being whether a statsmodels member should enter the default:

1. **M4 and M3 yearly** (``benchmarks/data``): an even-spaced subset of ``--limit`` series per
   set, the official test part (6 years) forecast from the training part on the log scale, as
   the engine runs a positive series. Point: sMAPE, MASE and OWA against the naive forecast.
   Intervals: 80 % and 95 % coverage and MSIS (alpha 0.05) of the member's own paths ("raw")
   and through the one calibrated engine (``predictive_paths`` with the member alone, exactly as
   a user asking for it gets them).
2. **The calibration panels** (GSO provinces, UN/UNDP/WHO countries; ``--per-panel`` series
   each): the engine's rolling-origin back-tests (``khforecast.engine.calibration.backtest``) with the
   member alone; coverage of the 80/95 % intervals under the shipped calibration
   (``evaluation.score``; in sample: the shipped file was fitted on these panels, with the
   default combination) and the median absolute percentage error of the median.

``fallback`` is the share of fits where the member could not run (too short, no convergence)
and the registry's fallback ran instead; every row's figures include those fallbacks, as a user
asking for the member would get them. Nothing is written.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from accuracy import ALPHA, H, SEED, load, mase, mase_scale, msis, naive, smape  # benchmarks/
from khforecast.engine import evaluation
from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.models import simulate_paths
from khforecast.engine.pool import load_pool
from khforecast.engine.predictive import load_pooled_calibration, predictive_paths

MEMBERS = ("combination", "drift", "theta", "damped_trend", "ets_damped", "uc_trend",
           "arima011_drift", "arima110_drift")
_LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)


def _chunk(task: tuple) -> list[dict]:
    """Quantiles (raw and calibrated) of one member's paths for a chunk of M series."""
    name, trains, seeds, sims = task
    cal = load_pooled_calibration()
    out = []
    for y, ss in zip(trains, seeds):
        res = simulate_paths(y, H, sims, np.random.default_rng(ss), domain="positive",
                             models=[name])
        calibrated = predictive_paths(y, H, sims, np.random.default_rng(ss), domain="positive",
                                      calibration=cal, models=[name])
        out.append({"raw": np.quantile(res.paths, _LEVELS, axis=0),
                    "cal": np.quantile(calibrated.paths, _LEVELS, axis=0),
                    "point": res.point, "fallback": "fallback" in res.model})
    return out


def m_table(dataset: str, limit: int, sims: int, jobs: int,
            members: tuple[str, ...] = MEMBERS) -> pd.DataFrame:
    data = load(dataset, limit)
    trains = [t for _, t, _, _ in data]
    y = np.array([te[:H] for _, _, te, _ in data])
    scale = mase_scale(trains)
    nv = naive(trains)[0]
    ref = (float(np.mean(smape(y, nv))), float(np.mean(mase(y, nv, scale))))
    rows = []
    for name in members:
        seeds = np.random.SeedSequence([SEED, 9]).spawn(len(trains))  # same seeds per member
        tasks = [(name, trains[i:i + 25], seeds[i:i + 25], sims) for i in range(0, len(trains), 25)]
        t0 = time.perf_counter()
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as ex:
                res = [r for part in ex.map(_chunk, tasks) for r in part]
        else:
            res = [r for t in tasks for r in _chunk(t)]
        point = np.array([r["point"] for r in res])
        s, m = float(np.mean(smape(y, point))), float(np.mean(mase(y, point, scale)))
        row = {"dataset": dataset, "member": name, "n": len(res), "sMAPE": s, "MASE": m,
               "OWA": 0.5 * (s / ref[0] + m / ref[1]),
               "fallback": float(np.mean([r["fallback"] for r in res]))}
        for kind in ("raw", "cal"):
            q = np.array([r[kind] for r in res])  # (n, levels, H)
            row[f"cov80_{kind}"] = float(np.mean((y >= q[:, 1]) & (y <= q[:, 3])))
            row[f"cov95_{kind}"] = float(np.mean((y >= q[:, 0]) & (y <= q[:, 4])))
            row[f"MSIS_{kind}"] = float(np.mean(msis(y, q[:, 0], q[:, 4], scale)))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"# {dataset} {name}: {row['seconds']:.0f} s", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def panel_table(per_panel: int, sims: int, jobs: int,
                members: tuple[str, ...] = MEMBERS) -> pd.DataFrame:
    series = load_pool()
    picked = []
    for panel in sorted({s.panel for s in series}):
        group = [s for s in series if s.panel == panel]
        idx = np.unique(np.linspace(0, len(group) - 1, min(per_panel, len(group))).round().astype(int))
        picked += [group[i] for i in idx]
    cal = load_pooled_calibration()
    rows = []
    for name in members:
        t0 = time.perf_counter()
        bt = backtest(picked, n_sims=sims, seed=SEED, models=[name], jobs=jobs)
        ok = bt[bt["error"] == ""]
        scored = evaluation.score(evaluation.attach_features(bt, picked), cal)
        ape = np.abs(ok["median"] - ok["value"]) / np.abs(ok["value"])
        rows.append({"member": name, "series": len(picked), "backtests": len(ok),
                     "failed": int((bt["error"] != "").sum()),
                     "fallback": float(ok["model"].str.contains("fallback").mean()),
                     "MdAPE_%": float(np.median(ape) * 100), "MAPE_%": float(np.mean(ape) * 100),
                     "cov80_cal": float(scored["cov80"].mean()),
                     "cov95_cal": float(scored["cov95"].mean()),
                     "seconds": time.perf_counter() - t0})
        print(f"# panels {name}: {rows[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=200, help="series per M dataset")
    p.add_argument("--per-panel", type=int, default=10)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--members", nargs="*", default=list(MEMBERS), choices=MEMBERS)
    p.add_argument("--skip-m", action="store_true")
    p.add_argument("--skip-panels", action="store_true")
    args = p.parse_args(argv)
    print("$ " + " ".join(["python", "benchmarks/members.py", *(argv if argv is not None else sys.argv[1:])]))
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    if not args.skip_m:
        for ds in ("m4", "m3"):
            print(f"\n## {ds.upper()} yearly, {args.limit} series, h = {H}, alpha = {ALPHA}")
            print(m_table(ds, args.limit, args.sims, args.jobs, tuple(args.members)).to_string(**fmt))
    if not args.skip_panels:
        print(f"\n## Calibration panels, {args.per_panel} series per panel, rolling origins, "
              "shipped calibration")
        print(panel_table(args.per_panel, args.sims, args.jobs, tuple(args.members)).to_string(**fmt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
