"""The batch's compute step: forecast and assess every scenario once.

Writes the run's result files (forecasts, assessment, observations, draws, back-tests).
"""
from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from khforecast._io import atomic_write, atomic_write_csv, atomic_write_text
from khforecast.assess.assessment import assess_scenarios
from khforecast.batch.params import BatchParams
from khforecast.engine.calibration.backtest import backtest_indicators
from khforecast.engine.draws import DRAWS_FILE, write_draws
from khforecast.engine.forecaster import Forecaster, model_input
from khforecast.engine.model_choices import (
    ModelChoices,
    default_models_path,
    load_model_choices,
    series_summary,
)
from khforecast.engine.models import MODELS
from khforecast.engine.paths import FORECAST_COLUMNS
from khforecast.engine.predictive import load_pooled_calibration
from khforecast.engine.scales import fit_scale
from khforecast.engine.scenarios import default_scenarios_path, load_scenarios
from khforecast.engine.diagnostics import diagnostics
from khforecast.engine.statespace import STATSMODELS_MODELS
from khforecast.errors import ModelFitError
from khforecast.plan.catalog import Catalog

__all__ = [
    "COMPARED_MEMBERS",
    "compare_members",
    "compute_results",
]


#: draws kept per indicator and scenario in ``draws.npz`` (for the deep dive and explorer)
_MAX_DRAWS = 1000
# --------------------------------------------------------------------------------------------
# 1. compute once
# --------------------------------------------------------------------------------------------


def compute_results(observations: pd.DataFrame, catalog: Catalog, params: BatchParams,
                    run_dir: Path, *, place: str = "khanh_hoa",
                    scenarios: Path | None = None, executor: Executor | None = None,
                    choices: ModelChoices | None = None) -> dict[str, Any]:
    """Forecast and assess every scenario once; write the run's result files to ``run_dir``.

    Writes ``forecasts.csv`` (DESIGN §3 plus ``q025, q975``) and ``assessment.csv`` (DESIGN
    §3 plus the engine's extra columns), one block of rows per scenario;
    ``observations.csv`` (what was read, all places); ``draws.npz`` (up to 1000 simulated
    paths per indicator and scenario); ``backtest.csv`` for the deep-dive indicators
    (:func:`~khforecast.engine.calibration.backtest.backtest_indicators`); ``calibration.csv`` when the calibration module provides a
    table; ``scenarios.yaml``, a copy of the scenario definitions used (``scenarios``, default
    :func:`~khforecast.engine.scenarios.default_scenarios_path`), which the explorer reads so that it
    describes this run's scenarios whatever folder it runs in; ``models.yaml``, a copy of the
    model choices used (``choices``; default the ``models.yaml`` a run with ``params`` reads);
    for deep dives also ``model_comparison.csv``, ``diagnostics.json`` and
    ``without_interventions.csv`` (:func:`compare_members`). Returns a summary for the
    manifest, with each series' model, members and interventions.
    ``executor`` (any ``concurrent.futures.Executor``) runs the series; default: the forecaster's.
    """
    t0 = time.perf_counter()
    if choices is None:
        choices = load_model_choices(default_models_path(params.source or None))
    results = Forecaster(sims=params.sims, seed=params.seed, executor=executor,
                         choices=choices).fit(
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
    if choices.source:
        with atomic_write(run_dir / "models.yaml", "wb") as fh:
            fh.write(Path(choices.source).read_bytes())
    write_draws(run_dir / DRAWS_FILE, draws)
    if params.deep_dives:
        table = backtest_indicators(observations, catalog, params.deep_dives, sims=params.sims,
                                    seed=params.seed, place=place, executor=executor,
                                    choices=choices)
        atomic_write_csv(run_dir / "backtest.csv", table)
        comparison, diag, without = compare_members(observations, catalog, params,
                                                    params.deep_dives, place=place,
                                                    choices=choices, own=table)
        atomic_write_csv(run_dir / "model_comparison.csv", comparison)
        atomic_write_text(run_dir / "diagnostics.json",
                          json.dumps(diag, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        atomic_write_csv(run_dir / "without_interventions.csv", without)
    calibration = _calibration_table()
    if calibration is not None:
        atomic_write_csv(run_dir / "calibration.csv", calibration)
    return {"seconds": round(time.perf_counter() - t0, 3), "n_forecast_rows": len(forecasts),
            "n_assessment_rows": len(assessment),
            "models": assessment["model"].value_counts(dropna=True).to_dict(),
            "model_choices": {"file": choices.source, "sha256": choices.sha256},
            "series": series_summary(paths[next(iter(paths))], choices)}


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


#: the members a deep dive compares (each alone), beside the run's own choice
COMPARED_MEMBERS = ("combination", "drift", "theta", "damped_trend", "ets_damped", "uc_trend",
                    "arima011_drift", "arima110_drift")


def compare_members(observations: pd.DataFrame, catalog: Catalog, params: BatchParams,
                    indicator_ids: Sequence[str], *, place: str = "khanh_hoa",
                    choices: ModelChoices | None = None, own: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """The deep dive's model comparison, diagnostics and interventions' effect, per indicator.

    Returns
    -------
    (comparison, diagnostics, without)
        ``comparison``: one row per indicator and member (each of :data:`COMPARED_MEMBERS`
        alone, and ``run`` for the run's own choice, ``own`` = its back-tests) with
        ``n_checks, mae, coverage80, coverage95, fallback`` from rolling-origin back-tests of
        the full engine
        (:func:`~khforecast.engine.calibration.backtest.backtest_indicators`, calibration included); ``fallback`` the
        share of checks where the member could not run. ``diagnostics``: for each indicator,
        :func:`khforecast.engine.diagnostics.diagnostics` of the statsmodels member the file names for
        it, else of the one with the least back-test error that ran, fitted on the whole
        history (``{"model": None, "reason": ...}`` when none could run), and
        ``p_meet_without`` (target year -> probability) when interventions are declared. ``without``:
        forecasts.csv rows (scenario ``without_interventions``) of the indicators whose
        interventions are declared, refitted with none, for the fan chart beside the run's.
    """
    choices = choices if choices is not None else ModelChoices()
    rows, diag, without = [], {}, []

    def summarise(bt: pd.DataFrame, ind_id: str, member: str) -> dict[str, Any]:
        pit = bt["pit"].to_numpy(dtype=float)
        return {"indicator_id": ind_id, "member": member, "n_checks": len(bt),
                "mae": float(bt["abs_error"].mean()) if len(bt) else np.nan,
                "coverage80": float(bt["covered80"].mean()) if len(bt) else np.nan,
                "coverage95": float(np.mean((pit >= 0.025) & (pit <= 0.975))) if len(bt) else np.nan,
                "fallback": float(bt["model"].str.contains("fallback").mean()) if len(bt) else np.nan,
                "models": "; ".join(sorted(set(bt["model"]))) if len(bt) else ""}

    for ind_id in indicator_ids:
        if own is not None:
            rows.append(summarise(own[own["indicator_id"] == ind_id], ind_id, "run"))
        for member in COMPARED_MEMBERS:
            with warnings.catch_warnings():  # each fallback is counted in the table instead
                warnings.simplefilter("ignore", RuntimeWarning)
                bt = backtest_indicators(observations, catalog, [ind_id], sims=params.sims,
                                         seed=params.seed, place=place, choices=choices,
                                         models=[member])
            rows.append(summarise(bt, ind_id, member))
        choice = choices.for_indicator(ind_id)
        obs = observations[(observations["indicator_id"] == ind_id)
                           & (observations["place"] == place)].dropna(subset=["value"])
        obs = obs.sort_values("year")
        named = [m for m in (choice.models or ()) if m in STATSMODELS_MODELS]
        ranked = sorted((r for r in rows if r["indicator_id"] == ind_id
                         and r["member"] in STATSMODELS_MODELS and r["n_checks"]
                         and r["fallback"] < 1), key=lambda r: r["mae"])
        pick = named[0] if named else (ranked[0]["member"] if ranked else None)
        diag[ind_id] = {"model": None, "reason": f"the history has {len(obs)} observations"}
        if pick is not None and len(obs):
            ind = catalog.indicators[ind_id]
            _, _, values, domain, iv = model_input(obs["year"].to_numpy(dtype=int),
                                                   obs["value"].to_numpy(dtype=float),
                                                   str(ind.domain), choice)
            z = fit_scale(values, domain).forward(values)
            try:
                diag[ind_id] = {**diagnostics(MODELS[pick].fit(z, iv)),
                                "chosen_by": "models.yaml" if named else "least back-test error",
                                "scale": domain}
            except ModelFitError as exc:
                diag[ind_id] = {"model": None, "reason": str(exc)}
        if choice.pulse or choice.step is not None:
            plain = choices.with_indicator(ind_id, pulse=(), step=None)
            paths = Forecaster(sims=params.sims, seed=params.seed, choices=plain).fit(
                observations[observations["indicator_id"] == ind_id], catalog, place=place
            ).simulate(2030)
            frame = paths.to_frame()
            without.append(frame[frame["place"] == place].assign(scenario="without_interventions"))
            series = paths.get(ind_id)
            if series is not None and series.forecastable:
                p_without = {}
                for year, target in catalog.indicators[ind_id].targets.items():
                    if not target.is_quantitative:
                        continue
                    try:
                        p_without[str(year)] = float(target.prob_met(series.paths, series.years))
                    except ValueError:  # the target needs years the series lacks
                        continue
                diag[ind_id]["p_meet_without"] = p_without
    comparison = pd.DataFrame(rows, columns=["indicator_id", "member", "n_checks", "mae",
                                             "coverage80", "coverage95", "fallback", "models"])
    return comparison, diag, (pd.concat(without, ignore_index=True) if without else
                              pd.DataFrame(columns=list(FORECAST_COLUMNS)))


def _calibration_table() -> pd.DataFrame | None:
    """Out-of-sample interval coverage of the shipped calibration, from its recorded back-tests.

    Uses ``khforecast/data/calibration_table.csv`` when the calibration module ships one (e.g.
    coverage by horizon), else the summary in ``calibration.json``'s ``meta``; None if neither.
    """
    shipped = resources.files("khforecast") / "data" / "calibration_table.csv"
    if shipped.is_file():
        return pd.read_csv(io.StringIO(shipped.read_text(encoding="utf-8")))
    meta = load_pooled_calibration().meta
    rows = [{"interval": f"{level}%", "nominal": level / 100, "coverage": meta[key],
             "n_backtests": meta.get("n_backtests"), "n_series": meta.get("n_series"),
             "method": meta.get("out_of_sample", "")}
            for level, key in ((80, "oos_coverage80"), (95, "oos_coverage95")) if key in meta]
    return pd.DataFrame(rows) if rows else None
