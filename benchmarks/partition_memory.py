"""The client's memory bound at commune scale: one partition (a province) buffered, then written (issue 10).

    .venv/bin/python benchmarks/partition_memory.py [--province ho_chi_minh_merged] [--sims 50]

The streaming sink holds one partition's tables until the partition ends, so the client of a
commune run (the ``khforecast`` process) peaks at the largest province, whatever the run's
length. This runs every ILLUSTRATIVE commune of one province (default: the one with the most
communes) through ``run_unit`` in this process, hands each result to a
``StreamingParquetSink`` and prints the rows buffered, their pandas memory and this process's
peak RSS (``VmHWM``) before, while buffering and after writing. The buffered tables (quantiles,
assessment, 20 sample paths per series) do not depend on ``--sims``, so a few paths give the
bound of a 4,000-path run; the units' own arrays are small at 50 paths. Figures are measured,
never asserted.
"""
from __future__ import annotations

import argparse
import collections
import tempfile
import warnings

from khforecast.batch.multiplace import RunSpec, plan_units, run_unit
from khforecast.batch.parquet_out import TABLES, StreamingParquetSink
from khforecast.engine.model_choices import load_model_choices
from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.observations.provinces import load_places
from scale import status_mib  # benchmarks/


def _peak() -> float:
    """This process's peak RSS so far, MiB (Linux only: ``VmHWM``)."""
    peak = status_mib("VmHWM")
    if peak is None:
        raise SystemExit("partition_memory.py reads /proc/self/status: Linux only")
    return peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--province", help="partition key (default: the province with most communes)")
    p.add_argument("--sims", type=int, default=50)
    p.add_argument("--chunk", type=int, default=4, help="communes per unit of work")
    p.add_argument("--seed", type=int, default=20240809)
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)

    places = load_places()
    recipe = CommuneData.build(places)
    codes = commune_codes(places)
    sizes = collections.Counter(province_of(c) for c in codes)
    province = args.province or sizes.most_common(1)[0][0]
    if province not in sizes:
        raise SystemExit(f"unknown province {province!r}; one of: {', '.join(sorted(sizes))}")
    mine = tuple(c for c in codes if province_of(c) == province)
    spec = RunSpec(seed=args.seed, sims=args.sims, sample_paths=20, choices=load_model_choices())
    print(f"ILLUSTRATIVE commune data; province {province}: {len(mine)} communes (largest "
          f"{sizes.most_common(1)[0][1]}, smallest {min(sizes.values())}, {len(codes)} in all), "
          f"{len(mine) * len(recipe.base)} series, {args.sims} paths")

    rows: collections.Counter[str] = collections.Counter()
    frame_mib: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="khf-partition-") as tmp:
        sink = StreamingParquetSink(tmp, province_of, {"illustrative": True, "benchmark": True})
        before = _peak()
        for unit in plan_units(mine, spec, per_unit=args.chunk, make_observations=recipe,
                               partition_of=province_of):
            result = run_unit(unit)
            sink.add(result)
            for table, frame in zip(TABLES, (result.forecasts, result.assessment, result.sample)):
                rows[table] += len(frame)
                frame_mib[table] += frame.memory_usage(deep=True).sum() / 2**20
        buffering = _peak()
        sink.commit()
        written = _peak()
    print("buffered: " + ", ".join(f"{t} {rows[t]:,} rows ({frame_mib[t]:.0f} MiB)" for t in TABLES)
          + f"; {sum(frame_mib.values()):.0f} MiB as pandas frames")
    print(f"peak RSS of this process: {before:.0f} MiB before the units, {buffering:.0f} MiB "
          f"while buffering, {written:.0f} MiB after writing the partition")


if __name__ == "__main__":
    main()
