"""Commune-scale throughput and memory on dask, and processes-vs-dask identical bytes (issue 10).

    .venv/bin/python benchmarks/scale.py [--series 50000] [--small 10000] [--identical 5000]
                                         [--sims 4000] [--chunk 4] [--workers 1 2]

Runs the streaming pipeline of ``khforecast forecast --communes`` (ILLUSTRATIVE generated data,
97 indicators per commune, partitioned Parquet out) and prints, for each series count and each
number of dask workers (a fresh ``LocalCluster`` each time, one thread per worker): the wall
time of the compute, series per second, peak RSS of each worker, and the load average of the
machine before and after (the 2 cores are shared). Then parallel efficiency (throughput at W
workers / (W x throughput at 1)), the time extrapolated to 332,000 series (3,321 communes x
100 indicators), and whether processes and dask wrote identical bytes on ``--identical``
series. Figures are measured, never asserted.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.engine.executor import open_executor
from khforecast.batch.multiplace import RunSpec, plan_units, stream_to_parquet
from khforecast.batch.parquet_out import StreamingParquetSink
from khforecast.engine.model_choices import load_model_choices
from khforecast.observations.provinces import load_places

TARGET_SERIES = 332_000


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.parquet")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _peak_rss_mib() -> float:
    """This process's peak resident set, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(executor, codes, recipe, spec, chunk, out: Path) -> float:
    sink = StreamingParquetSink(out, province_of, {"illustrative": True, "benchmark": True})
    t = time.perf_counter()
    stream_to_parquet(executor, plan_units(codes, spec, per_unit=chunk, make_observations=recipe),
                      sink, window=8)
    return time.perf_counter() - t


def _dask_run(n_workers: int, codes, recipe, spec, chunk, out: Path) -> tuple[float, list[float]]:
    """One run on a fresh LocalCluster (as ``open_executor('dask')`` makes it); wall s, RSS/worker."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=40) as cluster, Client(cluster) as client:
        ex = client.get_executor(pure=False, retries=2)
        wall = _run(ex, codes, recipe, spec, chunk, out)
        rss = sorted(client.run(_peak_rss_mib).values())
    return wall, rss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=50_000)
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--identical", type=int, default=5_000)
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--chunk", type=int, default=4, help="communes per unit of work")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=20240809)
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)

    places = load_places()
    recipe = CommuneData.build(places)
    per_commune = len(recipe.base)
    all_codes = commune_codes(places)
    spec = RunSpec(seed=args.seed, sims=args.sims, sample_paths=20,
                   choices=load_model_choices())  # params/models.yaml, as the CLI

    def codes_for(n_series: int) -> tuple[str, ...]:
        return all_codes[: math.ceil(n_series / per_commune)]

    print(f"ILLUSTRATIVE commune data, {per_commune} indicators per commune, {args.sims} paths per "
          f"series, {args.chunk} communes per unit; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="khf-scale-") as tmp:
        root = Path(tmp)
        # processes vs dask, same series: identical bytes?
        codes = codes_for(args.identical)
        n = len(codes) * per_commune
        load0 = os.getloadavg()[0]
        with open_executor("processes", workers=2) as ex:
            wp = _run(ex, codes, recipe, spec, args.chunk, root / "processes")
        wd, _ = _dask_run(2, codes, recipe, spec, 1, root / "dask")
        same = _digest(root / "processes") == _digest(root / "dask")
        print(f"identical bytes, processes (2, chunk {args.chunk}) vs dask (2 workers, chunk 1), "
              f"{n} series: {'YES' if same else 'NO'} ({wp:.0f} s / {wd:.0f} s; load {load0:.1f})")

        rates: dict[tuple[int, int], float] = {}
        for n_target in sorted({args.small, args.series}):
            codes = codes_for(n_target)
            n = len(codes) * per_commune
            for w in args.workers:
                load_before = os.getloadavg()[0]
                out = root / f"run-{n}-{w}"
                wall, rss = _dask_run(w, codes, recipe, spec, args.chunk, out)
                rates[(n, w)] = n / wall
                print(f"{n:>7} series, {w} dask worker(s): {wall:8.1f} s, {n / wall:7.1f} series/s, "
                      f"peak RSS per worker {', '.join(f'{r:.0f}' for r in rss)} MiB; load average "
                      f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}")
                for child in out.iterdir():  # keep the disk use of a big run bounded
                    if child.is_dir():
                        for f in child.rglob("*.parquet"):
                            f.unlink()
        big = max(n for n, _ in rates)
        one = rates.get((big, 1))
        for w in args.workers:
            if w > 1 and one:
                eff = rates[(big, w)] / (w * one)
                print(f"parallel efficiency at {w} workers, {big} series: {eff:.2f}")
        best_w = max(args.workers)
        rate = rates[(big, best_w)]
        print(f"extrapolated time for {TARGET_SERIES:,} series at {best_w} worker(s): "
              f"{TARGET_SERIES / rate / 3600:.2f} h ({rate:.1f} series/s); per worker-hour "
              f"{rate / best_w * 3600:,.0f} series")


if __name__ == "__main__":
    main()
