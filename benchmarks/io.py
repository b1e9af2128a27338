"""Peak memory and time of ``khforecast validate`` on large observation CSVs (issue 13).

Usage::

    python benchmarks/io.py [--rows 100000 1000000 2000000] [--bad] [--json]

For each row count it writes a CSV in a temporary folder (valid rows: every catalog indicator
that is not a heading, places ``p0000``..., years 1990-2035, value 50, a source and a note;
with ``--bad`` every value is ``not-a-number``), runs ``khforecast validate`` on it in a child
process and prints the file size, the wall time and the child's peak resident memory
(``ru_maxrss`` from ``wait4``). Asserts nothing; ``--json`` prints one JSON object per line
(the slow test suite reads these to check the memory bound).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from khforecast.plan.catalog import load_catalog

HEADER = "indicator_id,place,year,value,source,status,note\n"
YEARS = range(1990, 2036)


def write_csv(path: Path, rows: int, *, bad: bool = False) -> None:
    """Write ``rows`` distinct observations (or bad rows) to ``path``."""
    cat = load_catalog()
    parents = {i.parent for i in cat.indicators.values() if i.parent}
    ids = [i for i in cat.indicators if i not in parents]
    value = "not-a-number" if bad else "50"
    keys = ((i, p, y) for p in itertools.count() for i in ids for y in YEARS)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        for iid, place, year in itertools.islice(keys, rows):
            fh.write(f"{iid},p{place:04d},{year},{value},GSO yearbook table {year},final,"
                     f"row of place {place}\n")


def measure(path: Path) -> dict[str, float | int]:
    """Run ``khforecast validate path`` in a child; its exit code, seconds and peak RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "khforecast.cli", "validate", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = b""
    while True:  # drain stderr so a long problem list cannot block the child
        chunk = proc.stderr.read(1 << 16) if proc.stderr else b""
        if not chunk:
            break
        err += chunk[-(1 << 16):] if len(err) > (1 << 20) else chunk
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    return {"exit": os.waitstatus_to_exitcode(status), "seconds": round(seconds, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 1), "stderr_lines": err.count(b"\n")}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 2_000_000])
    p.add_argument("--bad", action="store_true", help="every value is not a number")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"obs_{rows}.csv"
            write_csv(path, rows, bad=args.bad)
            fig = {"rows": rows, "bad": args.bad, "mb": round(path.stat().st_size / 2**20, 1),
                   **measure(path)}
            path.unlink()
            if args.json:
                print(json.dumps(fig), flush=True)
            else:
                print(f"{rows:>9,} {'bad ' if args.bad else 'valid'} rows ({fig['mb']:6.1f} MB): "
                      f"exit {fig['exit']}, {fig['seconds']:7.2f} s, peak {fig['peak_mb']:7.1f} MB"
                      f", {fig['stderr_lines']} stderr lines", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
