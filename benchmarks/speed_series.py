"""Series per second of the default model: fit, 4000 paths to h = 6, quantiles, one core.

Usage::

    python benchmarks/speed_series.py [--n 500] [--sims 4000] [--dataset m4|m3]
        [--statsforecast-python PY]

Times (1) ``simulate_paths`` + ``np.quantile`` in a loop (the models alone, uncalibrated) and
(2) the ``forecast_series`` front door with ``jobs=1`` (the calibrated engine; validation,
pandas in and out included) on the first ``n`` series of the M4 (or M3) yearly training data,
and (3) statsforecast's ``AutoETS`` (fit and 80/95 % intervals, h = 6) on the same series when a
Python with statsforecast is given. Prints series per wall-clock second and per CPU-second (the
rate per core; the wall-clock rate is lower when other jobs share the cores); asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast.engine.defaults import QUANTILES
from khforecast.engine.models import simulate_paths
from khforecast.engine.series import forecast_series

DATA = Path(os.environ.get("KHFORECAST_BENCHMARK_DATA", Path(__file__).resolve().parent / "data"))
FILES = {"m4": "m4_yearly.csv.gz", "m3": "m3_yearly.csv.gz"}


_SF_SCRIPT = r"""
import json, sys, time, warnings
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS
data = json.load(sys.stdin)
df = pd.DataFrame([(i, k, x) for i, v in enumerate(data) for k, x in enumerate(v)],
                  columns=["unique_id", "ds", "y"])
sf = StatsForecast(models=[AutoETS(season_length=1)], freq=1, n_jobs=1)
sf.forecast(df=df[df.unique_id < 3], h=6, level=[80, 95])  # compile (numba) outside the timing
t, c = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sf.forecast(df=df, h=6, level=[80, 95])
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c}))
"""


def print_rate(label: str, n: int, wall: float, cpu: float) -> None:
    print(f"{label:44s} {n / wall:7.1f} series/s wall-clock, {n / cpu:7.1f} per CPU-second "
          f"({1000 * cpu / n:.2f} CPU-ms per series)")


def measure(n: int = 500, sims: int = 4000, dataset: str = "m4",
            statsforecast_python: str | None = None) -> list[tuple[str, int, float, float]]:
    """``(label, series, wall seconds, CPU seconds)`` of the three timings on the first ``n``
    series (statsforecast's only when a Python with it is given and it ran)."""
    df = pd.read_csv(DATA / FILES[dataset], usecols=["series_id", "t", "value", "split"])
    df = df[df["split"] == "train"]
    ids = df["series_id"].drop_duplicates().iloc[:n]
    df = df[df["series_id"].isin(ids)][["series_id", "t", "value"]]
    series = [g["value"].to_numpy(dtype=float) for _, g in df.groupby("series_id", sort=False)]
    n = len(series)
    out = []
    forecast_series(df[df["series_id"].isin(ids.iloc[:3])], 6, domain="positive", seed=1,
                    sims=200, jobs=1)  # first-call costs outside the timing
    seeds = np.random.SeedSequence(1).spawn(n)
    t0, c0 = time.perf_counter(), time.process_time()
    for y, ss in zip(series, seeds):
        res = simulate_paths(y, 6, sims, np.random.default_rng(ss), domain="positive")
        np.quantile(res.paths, QUANTILES, axis=0)
    out.append(("simulate_paths + quantiles (uncalibrated)", n, time.perf_counter() - t0,
                time.process_time() - c0))
    t0, c0 = time.perf_counter(), time.process_time()
    forecast_series(df, 6, domain="positive", seed=1, sims=sims, jobs=1)
    out.append(("forecast_series(jobs=1), calibrated", n, time.perf_counter() - t0,
                time.process_time() - c0))
    if statsforecast_python:
        proc = subprocess.run([statsforecast_python, "-c", _SF_SCRIPT], check=False,
                              input=json.dumps([list(map(float, y)) for y in series]),
                              capture_output=True, text=True)
        if proc.returncode == 0:
            sf = json.loads(proc.stdout.strip().splitlines()[-1])
            out.append(("statsforecast AutoETS (80/95 % intervals)", n, sf["wall"], sf["cpu"]))
        else:
            print(f"statsforecast run failed: {proc.stderr.strip().splitlines()[-1:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--dataset", choices=["m4", "m3"], default="m4")
    p.add_argument("--statsforecast-python",
                   default=os.environ.get("KHFORECAST_STATSFORECAST_PYTHON"))
    args = p.parse_args(argv)
    print(f"first {args.n} {args.dataset.upper()} yearly series, {args.sims} paths, h = 6, "
          "one core")
    for row in measure(args.n, args.sims, args.dataset, args.statsforecast_python):
        print_rate(*row)
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
