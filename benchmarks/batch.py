"""Batch overhead: wall time of ``khforecast run`` against the floor of papermill + nbconvert.

floor = (time to execute with papermill and render with nbconvert ONE notebook that only imports
the libraries the briefings import) x (number of notebooks) / jobs. The ratio
``batch wall time / floor`` says how much the batch adds to the unavoidable kernel starts and
imports (acceptance: <= 1.5). The batch's own forecasting step is included in its wall time.

Usage: ``.venv/bin/python benchmarks/batch.py [--jobs N] [--sims N] [--repeats N]``
(prints the figures; asserts nothing).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from khforecast.batch.notebooks import KERNEL_ARGS, KERNEL_NAME
from khforecast.batch.run import run_batch
from khforecast.briefing.render import render_html

#: the imports a briefing's kernel performs (khforecast.briefing pulls pandas/numpy; the charts
#: pull matplotlib and seaborn; load_run reads the catalog module)
_FLOOR_IMPORTS = ("import numpy, pandas, matplotlib, matplotlib.figure, matplotlib.ticker, "
                  "seaborn\nimport khforecast.briefing, khforecast.plan.catalog")


def floor_seconds(workdir: Path, repeats: int) -> float:
    """Median time to execute (papermill) and render (nbconvert) a notebook that only imports."""
    import papermill

    nb = new_notebook(cells=[new_code_cell('lang = "vi"  # language', metadata={
        "tags": ["parameters"]}), new_code_cell(_FLOOR_IMPORTS)], metadata={
        "kernelspec": {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}})
    src = workdir / "floor.ipynb"
    nbformat.write(nb, src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = workdir / f"floor_out_{time.monotonic_ns()}.ipynb"
        papermill.execute_notebook(str(src), str(out), parameters={"lang": "vi"},
                                   kernel_name=KERNEL_NAME, progress_bar=False,
                                   extra_arguments=list(KERNEL_ARGS))
        render_html(out, out.with_suffix(".html"))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sims", type=int, default=None, help="default: params/batch.yaml")
    ap.add_argument("--repeats", type=int, default=3, help="floor notebook executions")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="khforecast-bench-") as tmp:
        work = Path(tmp)
        before = floor_seconds(work, args.repeats)
        t0 = time.perf_counter()
        result = run_batch(out=work / "outputs", jobs=args.jobs, sims=args.sims, progress=False,
                           log=lambda _msg: None)
        wall = time.perf_counter() - t0
        after = floor_seconds(work, args.repeats)  # before and after: the machine is shared
        floor_one = statistics.median([before, after])
        n = len(result.manifest["notebooks"])
        floor = floor_one * n / args.jobs
        timings = result.manifest["timings"]
        print(f"notebooks: {n}, jobs: {args.jobs}, sims: {result.manifest['params']['sims']}, "
              f"failed: {len(result.failed)}")
        print(f"floor, one import-only notebook (papermill + nbconvert, median of "
              f"{args.repeats} before: {before:.2f} s, after: {after:.2f} s): {floor_one:.2f} s")
        print(f"floor for the batch ({n} x {floor_one:.2f} s / {args.jobs}): {floor:.2f} s")
        print(f"batch wall time: {wall:.2f} s (forecasting {timings['compute_seconds']:.2f} s, "
              f"notebooks {timings['notebooks_seconds']:.2f} s)")
        print(f"ratio batch / floor: {wall / floor:.2f} (notebooks only: "
              f"{timings['notebooks_seconds'] / floor:.2f}; acceptance <= 1.5)")


if __name__ == "__main__":
    main()
