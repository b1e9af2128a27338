"""A dask worker's memory over a long run: flat, or climbing with the units run? (issue 10)

    .venv/bin/python benchmarks/worker_memory.py [--units 220] [--sims 50] [--profiler]

Runs ILLUSTRATIVE one-commune units on ``executor.local_cluster(1)`` (what ``--executor
dask`` starts) and prints the worker's current RSS and number of Python objects every 50
units. ``--profiler`` turns dask's statistical profiler back on, to compare with dask's
default; small ``--sims`` keep the run short, since what is measured is what stays behind.
"""
from __future__ import annotations

import argparse
import gc
import warnings

from distributed import Client, LocalCluster

from khforecast.batch.multiplace import RunSpec, plan_units, run_unit
from khforecast.engine.executor import local_cluster, map_ordered
from khforecast.engine.model_choices import load_model_choices
from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.observations.provinces import load_places


def _state() -> dict[str, int]:
    """The worker's resident set now (MiB) and its number of Python objects."""
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * 4096 / 2**20
    return {"rss_mib": round(rss), "objects": len(gc.get_objects())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, default=220)
    p.add_argument("--sims", type=int, default=50)
    p.add_argument("--profiler", action="store_true", help="dask's profiler on, as dask's default")
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    places = load_places()
    recipe = CommuneData.build(places)
    spec = RunSpec(seed=20240809, sims=args.sims, sample_paths=20, choices=load_model_choices())
    units = plan_units(commune_codes(places)[: args.units], spec, per_unit=1,
                       make_observations=recipe, partition_of=province_of)
    if args.profiler:  # the same cluster with dask's default profiler setting
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
    else:
        cluster = local_cluster(1)
    print(f"ILLUSTRATIVE commune data, {len(recipe.base)} series per unit, {args.sims} paths, "
          f"dask profiler {'on' if args.profiler else 'off'}")
    with cluster, Client(cluster) as client:
        ex = client.get_executor(pure=False)
        for i, _ in enumerate(map_ordered(ex, run_unit, units, window=8), start=1):
            if i % 50 == 0 or i == args.units:
                state = next(iter(client.run(_state).values()))
                print(f"after {i:>4} units: worker RSS {state['rss_mib']} MiB, "
                      f"{state['objects']:,} Python objects", flush=True)


if __name__ == "__main__":
    main()
