"""Offline derivation, the command: ``python -m khforecast.engine.calibration --out PATH``."""
from __future__ import annotations

import argparse
import ast
import hashlib
import inspect
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast import __version__
from khforecast._io import atomic_write_text
from khforecast.engine import interventions, models, scales, statespace
from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.calibration.fit import (
    _params_per_row,
    calibration_table,
    fit_spread,
    out_of_sample_params,
)
from khforecast.engine.calibration.panels import PanelSeries, load_panel_series
from khforecast.engine.calibration.runtime import Calibration
from khforecast.engine.defaults import DEFAULT_SEED
from khforecast.errors import KhforecastError

__all__ = [
    "derive_calibration",
    "code_fingerprint",
    "models_fingerprint",
]


# --------------------------------------------------------------------------------------------
# derivation command
# --------------------------------------------------------------------------------------------
def derive_calibration(*, seed: int = DEFAULT_SEED, n_sims: int = 1000, max_cases: int = 5,
                       panels: Iterable[str] | None = None, max_series_per_panel: int = 120,
                       jobs: int = 1, gso_dir: Path | None = None,
                       country_dir: Path | None = None, executor: Executor | None = None
                       ) -> tuple[Calibration, pd.DataFrame, pd.DataFrame]:
    """Run the back-tests, fit the multipliers on all panels, and score them out of sample.

    Returns
    -------
    (Calibration, DataFrame, DataFrame)
        The calibration fitted on every panel (to ship), the back-tests, and the
        leave-one-panel-out :func:`calibration_table` by horizon.
    """
    series = load_panel_series(panels, gso_dir=gso_dir, country_dir=country_dir)
    series = _thin(series, max_series_per_panel, seed)
    if not series:
        raise KhforecastError("calibration: no panel series found to back-test")
    bt = backtest(series, n_sims=n_sims, seed=seed, max_cases=max_cases, jobs=jobs,
                  executor=executor)
    cal = fit_spread(bt)
    n_panels = int(bt.loc[bt["error"] == "", "panel"].nunique())
    table = calibration_table(bt, out_of_sample_params(bt) if n_panels > 1 else _params_per_row(bt, cal))

    meta = {
        "command": "python -m khforecast.engine.calibration",
        "seed": seed, "n_sims": n_sims, "max_cases": max_cases,
        "max_series_per_panel": max_series_per_panel,
        "panels": sorted({s.panel for s in series}),
        "n_series": len(series),
        "n_backtests": int((bt["error"] == "").sum()),
        "n_failed": int((bt["error"] != "").sum()),
        "models": sorted(bt.loc[bt["error"] == "", "model"].unique().tolist()),
        "out_of_sample": "leave-one-panel-out" if n_panels > 1 else "in-sample (one panel)",
        "oos_coverage80": round(float(table.iloc[-1]["coverage80"]), 4),
        "oos_coverage95": round(float(table.iloc[-1]["coverage95"]), 4),
        "khforecast_version": __version__,
        "models_sha256": models_fingerprint(),
    }
    return Calibration(cal.multipliers, cal.buckets, meta, cal.tails, cal.floor), bt, table


def models_fingerprint() -> str:
    """sha256 of the code of the models, scales, statespace and interventions modules (see
    :func:`code_fingerprint`): every registry member and what it is given.

    The multipliers are only valid for the models that made the back-tests: a change to the
    code of :mod:`~khforecast.engine.models` or :mod:`~khforecast.engine.scales` makes the
    shipped calibration stale (re-run the command); an edit of their documentation, of their
    import lines or a move of their files does not (the modules are found by import, not by
    path).
    """
    return code_fingerprint(inspect.getsource(m) for m in (models, scales, statespace, interventions))


def code_fingerprint(sources: Iterable[str]) -> str:
    """sha256 of Python sources' code: docstrings, ``__all__`` and import statements left out."""
    h = hashlib.sha256()
    for source in sources:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not isinstance(body, list):
                continue
            body = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom)) and not (
                isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                  for t in n.targets))]
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                body = body[1:]
            node.body = body or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()


def _thin(series: list[PanelSeries], k: int, seed: int) -> list[PanelSeries]:
    """At most ``k`` series per panel, a seeded sample (so no panel dominates the pool)."""
    out: list[PanelSeries] = []
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    for panel in sorted({s.panel for s in series}):
        group = [s for s in series if s.panel == panel]
        if len(group) > k:
            idx = np.sort(rng.choice(len(group), size=k, replace=False))
            group = [group[i] for i in idx]
        out.extend(group)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m khforecast.engine.calibration``: re-derive ``calibration.json`` and print the table."""
    p = argparse.ArgumentParser(prog="python -m khforecast.engine.calibration", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="where to write the calibration JSON")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--max-cases", type=int, default=5, help="back-test origins per series")
    p.add_argument("--max-series", type=int, default=120, help="series per panel (a seeded sample)")
    p.add_argument("--panels", nargs="*", default=None, help="e.g. gso:unemployment_rate country:hdi")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--gso-dir", type=Path, default=None)
    p.add_argument("--country-dir", type=Path, default=None)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        cal, _bt, table = derive_calibration(seed=args.seed, n_sims=args.sims, max_cases=args.max_cases,
                                            panels=args.panels, max_series_per_panel=args.max_series,
                                            jobs=args.jobs, gso_dir=args.gso_dir, country_dir=args.country_dir)
    except KhforecastError as exc:
        print(f"khforecast.engine.calibration: error: {exc}", file=sys.stderr)
        return 1
    atomic_write_text(args.out, cal.to_json())
    print(f"# {cal.meta['n_backtests']} back-tests on {cal.meta['n_series']} series, "
          f"{len(cal.meta['panels'])} panels; coverage {cal.meta['out_of_sample']}; "
          f"{time.perf_counter() - t0:.0f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
