"""The batch's compute step: forecast and assess every scenario once.

Writes the run's result files (forecasts, assessment, observations, draws, back-tests).
"""
from __future__ import annotations

import io
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from khforecast._io import atomic_write, atomic_write_csv
from khforecast.assess.assessment import assess_scenarios
from khforecast.batch.params import BatchParams
from khforecast.engine.calibration.runtime import load_calibration
from khforecast.engine.defaults import MIN_OBS
from khforecast.engine.draws import DRAWS_FILE, write_draws
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.scenarios import default_scenarios_path, load_scenarios
from khforecast.plan.catalog import Catalog

__all__ = [
    "backtest_indicators",
    "compute_results",
]


#: draws kept per indicator and scenario in ``draws.npz`` (for the deep dive and explorer)
_MAX_DRAWS = 1000
# --------------------------------------------------------------------------------------------
# 1. compute once
# --------------------------------------------------------------------------------------------


def compute_results(observations: pd.DataFrame, catalog: Catalog, params: BatchParams,
                    run_dir: Path, *, place: str = "khanh_hoa",
                    scenarios: Path | None = None, executor: Executor | None = None
                    ) -> dict[str, Any]:
    """Forecast and assess every scenario once; write the run's result files to ``run_dir``.

    Writes ``forecasts.csv`` (DESIGN §3 plus ``q025, q975``) and ``assessment.csv`` (DESIGN
    §3 plus the engine's extra columns), one block of rows per scenario;
    ``observations.csv`` (what was read, all places); ``draws.npz`` (up to 1000 simulated
    paths per indicator and scenario); ``backtest.csv`` for the deep-dive indicators
    (:func:`backtest_indicators`); ``calibration.csv`` when the calibration module provides a
    table; ``scenarios.yaml``, a copy of the scenario definitions used (``scenarios``, default
    :func:`~khforecast.engine.scenarios.default_scenarios_path`), which the explorer reads so that it
    describes this run's scenarios whatever folder it runs in. Returns a summary for the manifest.
    ``executor`` (any ``concurrent.futures.Executor``) runs the series; default: the forecaster's.
    """
    t0 = time.perf_counter()
    results = Forecaster(sims=params.sims, seed=params.seed, executor=executor).fit(
        observations, catalog, place=place)
    scenarios = scenarios if scenarios is not None else default_scenarios_path()
    definitions = load_scenarios(scenarios)
    paths, forecasts, assessment = assess_scenarios(results, params.scenarios, catalog,
                                                    thresholds=params.thresholds,
                                                    definitions=definitions)
    forecasts = _with_95_band(forecasts, paths.values())
    draws = {}
    for scenario, scenario_paths in paths.items():
        for ind_id in forecasts.loc[(forecasts["place"] == place)
                                    & (forecasts["scenario"] == scenario),
                                    "indicator_id"].drop_duplicates():
            years, arr = scenario_paths.paths(ind_id)
            draws[ind_id, scenario] = (years, arr[:_MAX_DRAWS])
    atomic_write_csv(run_dir / "forecasts.csv", forecasts)
    atomic_write_csv(run_dir / "assessment.csv", assessment)
    columns = [c for c in ("indicator_id", "place", "year", "value", "source", "status", "note")
               if c in observations.columns]
    atomic_write_csv(run_dir / "observations.csv", observations[columns])
    if scenarios is not None:
        with atomic_write(run_dir / "scenarios.yaml", "wb") as fh:
            fh.write(Path(scenarios).read_bytes())
    write_draws(run_dir / DRAWS_FILE, draws)
    if params.deep_dives:
        table = backtest_indicators(observations, catalog, params, params.deep_dives, place=place,
                                    executor=executor)
        atomic_write_csv(run_dir / "backtest.csv", table)
    calibration = _calibration_table()
    if calibration is not None:
        atomic_write_csv(run_dir / "calibration.csv", calibration)
    return {"seconds": round(time.perf_counter() - t0, 3), "n_forecast_rows": len(forecasts),
            "n_assessment_rows": len(assessment),
            "models": assessment["model"].value_counts(dropna=True).to_dict()}


def _with_95_band(frame: pd.DataFrame, scenario_paths: Iterable[Any]) -> pd.DataFrame:
    """``frame`` (forecasts.csv columns) plus ``q025`` and ``q975`` from the same draws, so the
    fan charts can show a 95 % band (DESIGN's columns stop at q05/q95)."""
    extra = []
    for paths in scenario_paths:
        for s in paths:
            q = np.quantile(s.paths, (0.025, 0.975), axis=0)
            extra.append(pd.DataFrame({"indicator_id": s.indicator_id, "place": s.place,
                                       "scenario": paths.scenario, "year": s.years.astype(int),
                                       "q025": q[0], "q975": q[1]}))
    if not extra:
        return frame.assign(q025=np.nan, q975=np.nan)
    return frame.merge(pd.concat(extra, ignore_index=True),
                       on=["indicator_id", "place", "scenario", "year"], how="left",
                       validate="one_to_one")


def backtest_indicators(observations: pd.DataFrame, catalog: Catalog, params: BatchParams,
                        indicator_ids: Sequence[str], *, place: str = "khanh_hoa",
                        executor: Executor | None = None) -> pd.DataFrame:
    """Rolling-origin back-test of the full engine on each indicator's own history.

    For every origin with at least ``MIN_OBS`` observations up to it, the same
    :class:`~khforecast.engine.forecaster.Forecaster` (same sims, seed, calibration) is fitted on the
    years up to the origin and its paths are compared with each later observed year.

    Returns
    -------
    DataFrame
        ``indicator_id, origin, horizon, year, value, median, abs_error, q10, q90, covered80,
        pit, model``: one row per origin and later observed year (none for short series).
    """
    columns = ["indicator_id", "origin", "horizon", "year", "value", "median", "abs_error",
               "q10", "q90", "covered80", "pit", "model"]
    rows = []
    spec = Forecaster(sims=params.sims, seed=params.seed, executor=executor)
    for ind_id in indicator_ids:
        obs = observations[(observations["indicator_id"] == ind_id)
                           & (observations["place"] == place)].sort_values("year")
        years = obs["year"].astype(int).tolist()
        actual = dict(zip(years, obs["value"].astype(float)))
        for k in range(MIN_OBS, len(years)):
            origin = years[k - 1]
            paths = spec.fit(obs[obs["year"] <= origin], catalog, place=place).simulate(
                until=years[-1])
            series = paths.get(ind_id)
            if series is None or not series.forecastable:
                continue
            sim_years = series.years.tolist()
            for year in years[k:]:
                draws = series.paths[:, sim_years.index(year)]
                q10, median, q90 = np.quantile(draws, (0.10, 0.5, 0.90))
                value = actual[year]
                rows.append({"indicator_id": ind_id, "origin": origin, "horizon": year - origin,
                             "year": year, "value": value, "median": float(median),
                             "abs_error": abs(float(median) - value), "q10": float(q10),
                             "q90": float(q90), "covered80": bool(q10 <= value <= q90),
                             "pit": float(np.mean(draws <= value)), "model": series.model})
    return pd.DataFrame(rows, columns=columns)


def _calibration_table() -> pd.DataFrame | None:
    """Out-of-sample interval coverage of the shipped calibration, from its recorded back-tests.

    Uses ``khforecast/data/calibration_table.csv`` when the calibration module ships one (e.g.
    coverage by horizon), else the summary in ``calibration.json``'s ``meta``; None if neither.
    """
    shipped = resources.files("khforecast") / "data" / "calibration_table.csv"
    if shipped.is_file():
        return pd.read_csv(io.StringIO(shipped.read_text(encoding="utf-8")))
    meta = load_calibration().meta
    rows = [{"interval": f"{level}%", "nominal": level / 100, "coverage": meta[key],
             "n_backtests": meta.get("n_backtests"), "n_series": meta.get("n_series"),
             "method": meta.get("out_of_sample", "")}
            for level, key in ((80, "oos_coverage80"), (95, "oos_coverage95")) if key in meta]
    return pd.DataFrame(rows) if rows else None
