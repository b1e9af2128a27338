"""Series per second of the default model: fit, 4000 paths to h = 6, quantiles, one core.

Usage::

    python benchmarks/speed_series.py [--n 500] [--sims 4000] [--dataset m4|m3]

Times (1) ``simulate_paths`` + ``np.quantile`` in a loop and (2) the ``forecast_series`` front
door with ``jobs=1`` (validation, pandas in and out included) on the first ``n`` series of the
M4 (or M3) yearly training data. Prints series per second; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
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


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--dataset", choices=["m4", "m3"], default="m4")
    args = p.parse_args(argv)
    df = pd.read_csv(DATA / FILES[args.dataset], usecols=["series_id", "t", "value", "split"])
    df = df[df["split"] == "train"]
    ids = df["series_id"].drop_duplicates().iloc[: args.n]
    df = df[df["series_id"].isin(ids)][["series_id", "t", "value"]]
    series = [g["value"].to_numpy(dtype=float) for _, g in df.groupby("series_id", sort=False)]
    lengths = np.array([len(y) for y in series])
    print(f"{len(series)} {args.dataset.upper()} yearly series, length median "
          f"{np.median(lengths):.0f} (max {lengths.max()}), {args.sims} paths, h = 6, one core")

    seeds = np.random.SeedSequence(1).spawn(len(series))
    t0 = time.perf_counter()
    for y, ss in zip(series, seeds):
        res = simulate_paths(y, 6, args.sims, np.random.default_rng(ss), domain="positive")
        np.quantile(res.paths, QUANTILES, axis=0)
    dt = time.perf_counter() - t0
    print(f"simulate_paths + quantiles: {len(series) / dt:.1f} series/s "
          f"({1000 * dt / len(series):.2f} ms per series)")

    t0 = time.perf_counter()
    forecast_series(df, 6, domain="positive", seed=1, sims=args.sims, jobs=1)
    dt = time.perf_counter() - t0
    print(f"forecast_series(jobs=1):    {len(series) / dt:.1f} series/s "
          f"({1000 * dt / len(series):.2f} ms per series)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
