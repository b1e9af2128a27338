"""Run the main job again and again, as `make run` does, and count the runs that fail (issue 7).

Each run is ``khforecast run --jobs 2`` with the default relative ``--out`` (``outputs``),
started in the repository folder; a run counts as good when it exits 0 and ``outputs/latest``
then points at the run folder it printed. Prints one line per run and a summary.

    .venv/bin/python benchmarks/main_job_repeat.py            # 50 runs in this checkout
    .venv/bin/python benchmarks/main_job_repeat.py --runs 5 --repo /tmp/fresh-clone
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    exe = args.repo / ".venv" / "bin" / "khforecast"
    good = 0
    seen: set[str] = set()
    t0 = time.perf_counter()
    for i in range(1, args.runs + 1):
        t = time.perf_counter()
        proc = subprocess.run([str(exe), "run", "--jobs", str(args.jobs)], cwd=args.repo,
                              capture_output=True, text=True)
        latest = args.repo / "outputs" / "latest"
        target = os.readlink(latest) if latest.is_symlink() else None
        named = [ln for ln in proc.stderr.splitlines() if ln.startswith("khforecast run: /")]
        printed = Path(named[0].split(": ", 1)[1]).name if named else None
        ok = proc.returncode == 0 and target is not None and target == printed \
            and target not in seen
        seen.add(str(target))
        good += ok
        print(f"run {i:2d}: exit {proc.returncode}, latest -> {target}, "
              f"{time.perf_counter() - t:.1f} s, {'ok' if ok else 'FAILED'}", flush=True)
        if not ok:
            print(proc.stderr[-2000:], file=sys.stderr)
    print(f"{good} of {args.runs} runs exited 0 with outputs/latest at the newest run "
          f"({time.perf_counter() - t0:.0f} s in all)")
    return 0 if good == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
