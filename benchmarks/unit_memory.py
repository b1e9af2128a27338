"""Memory of a process running commune units one after another: flat, or climbing? (issue 10)

    .venv/bin/python benchmarks/unit_memory.py [--communes 96] [--chunk 4] [--sims 4000]
                                               [--every 1] [--dask [--profiler]]

Runs ``run_unit`` on ILLUSTRATIVE commune units and prints, every ``--every`` units, the
resident set now and the number of Python objects of the process that ran them: this one, or
with ``--dask`` the one worker of ``executor.local_cluster(1)`` (what ``--executor dask``
starts; ``--profiler`` leaves dask's statistical profiler on, dask's default). If the units, or
what runs them, kept anything, the figures would climb with the units run. ``scale.py`` gives
the peak per worker of a long run.
"""
from __future__ import annotations

import argparse
import gc
import warnings
from collections.abc import Iterator

from khforecast.batch.multiplace import RunSpec, plan_units, run_unit
from khforecast.engine.executor import local_cluster, map_ordered
from khforecast.engine.model_choices import load_model_choices
from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.observations.provinces import load_places


def _state() -> tuple[float, int]:
    """This process's resident set now (MiB, from /proc/self/statm) and its Python objects."""
    gc.collect()
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * 4096 / 2**20
    return rss, len(gc.get_objects())


def _in_process(units: Iterator, every: int) -> Iterator[tuple[int, tuple[float, int]]]:
    for i, unit in enumerate(units, start=1):
        run_unit(unit)  # the result is dropped at once
        if i % every == 0:
            yield i, _state()


def _on_dask(units: Iterator, every: int, profiler: bool) -> Iterator[tuple[int, tuple[float, int]]]:
    from distributed import Client

    with local_cluster(1, profiler=profiler) as cluster, Client(cluster) as client:
        ex = client.get_executor(pure=False)
        for i, _ in enumerate(map_ordered(ex, run_unit, units, window=8), start=1):
            if i % every == 0:
                yield i, next(iter(client.run(_state).values()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--communes", type=int, default=96)
    p.add_argument("--chunk", type=int, default=4, help="communes per unit of work")
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--every", type=int, default=1, help="print after every N units")
    p.add_argument("--dask", action="store_true", help="run the units on a 1-worker LocalCluster")
    p.add_argument("--profiler", action="store_true", help="with --dask: dask's profiler on")
    p.add_argument("--seed", type=int, default=20240809)
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    places = load_places()
    recipe = CommuneData.build(places)
    spec = RunSpec(seed=args.seed, sims=args.sims, sample_paths=20, choices=load_model_choices())
    units = plan_units(commune_codes(places)[: args.communes], spec, per_unit=args.chunk,
                       make_observations=recipe, partition_of=province_of)
    where = (f"one dask worker, profiler {'on' if args.profiler else 'off'}" if args.dask
             else "this process")
    print(f"ILLUSTRATIVE commune data, {len(recipe.base)} indicators per commune, {args.sims} "
          f"paths, {args.chunk} communes per unit, run in {where}")
    states = (_on_dask(units, args.every, args.profiler) if args.dask
              else _in_process(units, args.every))
    rss = []
    for i, (now, objects) in states:
        rss.append(now)
        print(f"after {i:>4} units: RSS {now:.0f} MiB, {objects:,} Python objects", flush=True)
    half = len(rss) // 2
    if half:
        print(f"median RSS, first half {sorted(rss[:half])[half // 2]:.0f} MiB, "
              f"second half {sorted(rss[half:])[(len(rss) - half) // 2]:.0f} MiB")


if __name__ == "__main__":
    main()
