"""Resident memory of one process running commune units one after another (issue 10).

    .venv/bin/python benchmarks/unit_memory.py [--communes 96] [--chunk 4] [--sims 4000]

Runs ``run_unit`` on ILLUSTRATIVE commune units in this process, no executor, and prints the
current and peak RSS after each unit: if the unit of work kept anything (paths, caches), the
current RSS would climb with the units run. ``scale.py`` gives the peak per dask worker, which
also holds dask's own bookkeeping.
"""
from __future__ import annotations

import argparse
import gc
import resource
import warnings

from khforecast.batch.multiplace import RunSpec, plan_units, run_unit
from khforecast.engine.model_choices import load_model_choices
from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.observations.provinces import load_places


def _rss_mib() -> float:
    """This process's resident set now, MiB (Linux /proc/self/statm, 4 KiB pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--communes", type=int, default=96)
    p.add_argument("--chunk", type=int, default=4, help="communes per unit of work")
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--seed", type=int, default=20240809)
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    places = load_places()
    recipe = CommuneData.build(places)
    codes = commune_codes(places)[: args.communes]
    spec = RunSpec(seed=args.seed, sims=args.sims, sample_paths=20, choices=load_model_choices())
    print(f"ILLUSTRATIVE commune data, {len(recipe.base)} indicators per commune, {args.sims} "
          f"paths, {args.chunk} communes per unit")
    now = []
    for i, unit in enumerate(plan_units(codes, spec, per_unit=args.chunk, make_observations=recipe,
                                        partition_of=province_of)):
        run_unit(unit)  # the result is dropped at once
        gc.collect()
        now.append(_rss_mib())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"unit {i:>3}: RSS now {now[-1]:.0f} MiB, peak {peak:.0f} MiB", flush=True)
    half = len(now) // 2
    print(f"median RSS after a unit, first half {sorted(now[:half])[half // 2]:.0f} MiB, "
          f"second half {sorted(now[half:])[(len(now) - half) // 2]:.0f} MiB")


if __name__ == "__main__":
    main()
