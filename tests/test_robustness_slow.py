"""Issue 13's big inputs (slow suite): memory stays bounded for 2 million rows, good or bad.

Runs ``benchmarks/io.py`` (which runs ``khforecast validate`` in a child process and reports
its peak resident memory) and checks the documented bound: at most 1 GB for 2 million rows.
Timings are printed by the benchmark, never asserted.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "io.py"
PEAK_MB_MAX = 1024


@pytest.mark.slow
@pytest.mark.parametrize("bad", [False, True], ids=["valid", "bad"])
def test_two_million_rows_validate_within_one_gigabyte(bad):
    args = [sys.executable, str(BENCH), "--rows", "2000000", "--json", *(["--bad"] if bad else [])]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=3600).stdout
    fig = json.loads(out.strip().splitlines()[-1])
    assert fig["exit"] == (1 if bad else 0)
    assert fig["peak_mb"] <= PEAK_MB_MAX, fig
    if bad:
        assert fig["stderr_lines"] <= 205  # 200 problems listed, one line counting the rest
