"""Commune-scale throughput and memory on dask, and processes-vs-dask identical bytes (issue 10).

    .venv/bin/python benchmarks/scale.py [--series 50000] [--small 10000] [--identical 5000]
                                         [--sims 4000] [--chunk 4] [--workers 1 2]

Runs the streaming pipeline of ``khforecast forecast --communes`` (ILLUSTRATIVE generated data,
97 indicators per commune, partitioned Parquet out) and prints, for each series count and each
number of dask workers (a fresh ``LocalCluster`` each time, one thread per worker): the wall
time of the compute, series per second, the CPU seconds the workers spent (series per
CPU-second does not depend on how busy the machine is, wall time does), peak RSS of each
worker, and the load average of the machine before and after (the 2 cores are shared). Then
parallel efficiency (throughput at W workers / (W x throughput at 1); on a loaded machine it
mixes the speed-up with the load's changes), the time extrapolated to 332,000 series (3,321
communes x 100 indicators), and whether processes and dask wrote identical bytes on at least
``--identical`` series, the first communes of each of the 34 provinces, so that units are cut
at every province boundary (0 skips it; ``--small 0`` runs one size). Figures are measured,
never asserted.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.engine.executor import local_cluster, open_executor
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


def status_mib(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MiB; None without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _peak_rss_mib() -> float:
    """This process's own peak resident set, MiB: ``VmHWM`` where Linux has it.

    Not ``ru_maxrss``: Linux carries a parent's peak over ``exec`` into the child's, so a dask
    worker (spawned by its nanny in this process) would report this process's size at the
    time it was started, not its own (measured: 314 MiB for a child whose own peak was 14).
    """
    peak = status_mib("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, else KiB


def _cpu_s() -> float:
    """This process's CPU time so far (user + system), s."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _load() -> str:
    """The load average (1, 5, 15 min), as ``uptime`` prints it."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(executor, codes, recipe, spec, chunk, out: Path) -> float:
    sink = StreamingParquetSink(out, province_of, {"illustrative": True, "benchmark": True})
    t = time.perf_counter()
    stream_to_parquet(executor, plan_units(codes, spec, per_unit=chunk, make_observations=recipe,
                                           partition_of=province_of),
                      sink, window=8)
    return time.perf_counter() - t


def _dask_run(n_workers: int, codes, recipe, spec, chunk, out: Path
              ) -> tuple[float, list[float], float]:
    """One run on a fresh LocalCluster (as ``open_executor('dask')`` makes it): wall s, peak RSS
    per worker, and the CPU seconds the workers spent in the run."""
    from distributed import Client

    with local_cluster(n_workers) as cluster, Client(cluster) as client:
        ex = client.get_executor(pure=False, retries=2)
        cpu0 = sum(client.run(_cpu_s).values())
        wall = _run(ex, codes, recipe, spec, chunk, out)
        cpu = sum(client.run(_cpu_s).values()) - cpu0
        rss = sorted(client.run(_peak_rss_mib).values())
    return wall, rss, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=50_000)
    p.add_argument("--small", type=int, default=10_000, help="0: skip")
    p.add_argument("--identical", type=int, default=5_000, help="0: skip")
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

    def spread_codes(n_series: int) -> tuple[str, ...]:
        """The first k communes of every province, at least ``n_series`` series in all."""
        provinces = sorted({province_of(c) for c in all_codes})
        k = math.ceil(n_series / per_commune / len(provinces))
        taken: dict[str, int] = {}
        out = []
        for c in all_codes:
            if taken.setdefault(province_of(c), 0) < k:
                taken[province_of(c)] += 1
                out.append(c)
        return tuple(out)

    print(f"ILLUSTRATIVE commune data, {per_commune} indicators per commune, {args.sims} paths per "
          f"series, {args.chunk} communes per unit; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="khf-scale-") as tmp:
        root = Path(tmp)
        if args.identical:  # processes vs dask, same series: identical bytes?
            codes = spread_codes(args.identical)
            n = len(codes) * per_commune
            n_prov = len({province_of(c) for c in codes})
            load0 = _load()
            with open_executor("processes", workers=2) as ex:
                wp = _run(ex, codes, recipe, spec, args.chunk, root / "processes")
            wd, _, _ = _dask_run(2, codes, recipe, spec, 1, root / "dask")
            same = _digest(root / "processes") == _digest(root / "dask")
            print(f"identical bytes, processes (2, chunk {args.chunk}) vs dask (2 workers, chunk "
                  f"1), {n} series in {n_prov} provinces: {'YES' if same else 'NO'} ({wp:.0f} s "
                  f"/ {wd:.0f} s; load average {load0} -> {_load()})", flush=True)

        rates: dict[tuple[int, int], float] = {}
        cpu_rates: dict[tuple[int, int], float] = {}
        for n_target in sorted({n for n in (args.small, args.series) if n > 0}):
            codes = codes_for(n_target)
            n = len(codes) * per_commune
            for w in args.workers:
                load_before = _load()
                out = root / f"run-{n}-{w}"
                wall, rss, cpu = _dask_run(w, codes, recipe, spec, args.chunk, out)
                rates[(n, w)] = n / wall
                cpu_rates[(n, w)] = n / cpu
                print(f"{n:>7} series, {w} dask worker(s): {wall:8.1f} s, {n / wall:7.1f} series/s, "
                      f"workers' CPU {cpu:.0f} s ({n / cpu:.1f} series per CPU-second, "
                      f"{cpu / wall / w:.0%} of their wall time on a core), peak RSS per worker "
                      f"{', '.join(f'{r:.0f}' for r in rss)} MiB, client RSS now "
                      f"{status_mib('VmRSS') or 0:.0f} MiB; load average {load_before} -> "
                      f"{_load()}", flush=True)
                for child in out.iterdir():  # keep the disk use of a big run bounded
                    if child.is_dir():
                        for f in child.rglob("*.parquet"):
                            f.unlink()
        big = max(n for n, _ in rates)
        one = rates.get((big, 1))
        for w in args.workers:
            if w > 1 and one:
                eff = rates[(big, w)] / (w * one)
                print(f"parallel efficiency at {w} workers, {big} series: {eff:.2f} (wall); "
                      f"CPU per series at {w} workers vs 1: "
                      f"{cpu_rates[(big, 1)] / cpu_rates[(big, w)]:.2f}x")
        best_w = max(args.workers)
        rate = rates[(big, best_w)]
        print(f"extrapolated time for {TARGET_SERIES:,} series at {best_w} worker(s): "
              f"{TARGET_SERIES / rate / 3600:.2f} h ({rate:.1f} series/s); per worker-hour "
              f"{rate / best_w * 3600:,.0f} series")
        per_cpu = cpu_rates[(big, best_w)]
        print(f"if {best_w} cores were the run's alone (an estimate from the CPU time, not a "
              f"measurement): {TARGET_SERIES / (per_cpu * best_w) / 3600:.2f} h at {per_cpu:.1f} "
              f"series per CPU-second")


if __name__ == "__main__":
    main()
