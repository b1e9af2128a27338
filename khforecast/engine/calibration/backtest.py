"""Rolling-origin back-tests, in one place: hide the years after an origin, forecast them from
the years up to it, place the realised values in the forecast.

Two uses, two origin schemes, the same windows (a training span ``start..origin``, the later
years checked):

- :func:`backtest`: the models' own paths (no calibration) on the reference pool's series,
  at most one origin per training-length bucket (:data:`N_OBS_BUCKETS`): the cells the
  calibration is fitted and scored on (:mod:`khforecast.engine.evaluation`);
- :func:`backtest_indicators`: the full engine (:class:`~khforecast.engine.forecaster.Forecaster`:
  calibration, model choices) on one indicator's own history, every origin with at least
  ``MIN_OBS`` points (:func:`_expanding_origins`): the deep dive's check of what a run printed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from khforecast.engine.defaults import MIN_OBS
from khforecast.engine.executor import run_map
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import ModelChoices
from khforecast.engine.models import simulate_paths
from khforecast.engine.pool import PoolSeries
from khforecast.engine.predictive import HORIZONS
from khforecast.engine.scales import Domain, fit_scale
from khforecast.plan.catalog import Catalog

__all__ = [
    "N_OBS_BUCKETS",
    "backtest",
    "backtest_indicators",
]

#: training-length buckets (inclusive lower bounds): 3-4, 5-7, 8-11, 12+ (models need >= 3
#: points); each series gets at most one origin per bucket
N_OBS_BUCKETS = (3, 5, 8, 12)
#: the quantile levels of the draws stored per back-test cell (as offsets from the median)
_GRID = np.array([0.01, 0.025, 0.05, 0.075] + [k / 20 for k in range(2, 19)] + [0.925, 0.95, 0.975, 0.99])
_DCOLS = [f"d{round(q * 1000):03d}" for q in _GRID]


# --------------------------------------------------------------------------------------------
# back-tests
# --------------------------------------------------------------------------------------------
def _simulate(y: np.ndarray, h: int, n_sims: int, rng: np.random.Generator, domain: Domain,
              models: Sequence[str] | None) -> tuple[np.ndarray, str]:
    """Draw paths with khforecast's models at spread 1; returns (paths (n, h), model)."""
    res = simulate_paths(y, h, n_sims, rng, domain=domain, spread=None, models=models)
    return np.asarray(res.paths, dtype=float), str(res.model)


def _origins(n: int, rng: np.random.Generator, max_cases: int) -> list[tuple[int, int]]:
    """(train_start, origin) index pairs: one per training-length bucket that fits."""
    cases = []
    for b, lo in enumerate(N_OBS_BUCKETS):
        hi = N_OBS_BUCKETS[b + 1] - 1 if b + 1 < len(N_OBS_BUCKETS) else 20
        n_train = int(rng.integers(lo, hi + 1))
        if n_train + 1 > n:
            continue
        # the origin (last training index) leaves at least one year to check
        origin = int(rng.integers(n_train - 1, n - 1))
        cases.append((origin - n_train + 1, origin))
    rng.shuffle(cases)
    return cases[:max_cases]


def _expanding_origins(n: int) -> list[tuple[int, int]]:
    """(train_start, origin) index pairs: every origin with at least ``MIN_OBS`` points up to
    it and a later point to check, training from the first point."""
    return [(0, k - 1) for k in range(MIN_OBS, n)]


def _backtest_one(args: tuple) -> list[dict]:
    """All back-test cells of one series: a pure function of the series, settings and seed."""
    s, seed_seq, n_sims, max_cases, models = args
    rng = np.random.default_rng(seed_seq)
    rows: list[dict] = []
    for start, origin in _origins(len(s.values), rng, max_cases):
        train = s.values[start:origin + 1]
        test = s.values[origin + 1:origin + 1 + HORIZONS]
        h = len(test)
        try:
            paths, model = _simulate(train, h, n_sims, rng, s.domain, models)
        except Exception as exc:  # noqa: BLE001 - recorded, the series is skipped
            rows.append({"panel": s.panel, "series_id": s.series_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        scale = fit_scale(train, s.domain)  # the transform simulate_paths applied the spread on
        zp = scale.forward(paths)
        med = np.median(zp, axis=0)
        offs = np.quantile(zp - med, _GRID, axis=0)  # (len(_GRID), h)
        zy = scale.forward(test)
        zl = float(scale.forward(train[-1]))
        for j in range(h):
            row = {
                "panel": s.panel, "series_id": s.series_id, "domain": s.domain,
                "n_train": len(train), "origin": int(s.years[origin]), "horizon": j + 1,
                "year": int(s.years[origin + 1 + j]), "value": float(test[j]),
                "last_value": float(train[-1]), "first_value": float(train[0]),
                "first_year": int(s.years[start]), "model": model,
                "median": float(scale.backward(med[j])),
                "z": float(zy[j] - med[j]), "z_last": zl - float(med[j]), "error": "",
                "scale_eps": scale.eps, "scale_offset": scale.offset,
                "sd_diff": float(np.std(np.diff(train), ddof=1)) if len(train) > 2 else math.nan,
            }
            row.update({c: float(offs[k, j]) for k, c in enumerate(_DCOLS)})
            rows.append(row)
    return rows


def backtest(series: Sequence[PoolSeries], *, n_sims: int = 1000, seed: int = 0,
             max_cases: int = 5, models: Sequence[str] | None = None, jobs: int = 1,
             executor: Executor | None = None) -> pd.DataFrame:
    """Pooled rolling-origin back-tests of the models' own paths (no calibration).

    For each series, up to ``max_cases`` origins are drawn, one per training-length bucket,
    the training window is forecast up to :data:`HORIZONS` years ahead and the realised values
    are placed in the predictive distribution. Each series gets its own
    ``SeedSequence(seed).spawn`` child (in input order), so results do not depend on ``jobs``
    or on the ``executor`` (any ``concurrent.futures.Executor``; it overrides ``jobs``).

    Returns
    -------
    DataFrame
        One row per series, origin and horizon: ``panel, series_id, domain, n_train, origin,
        horizon, year, value`` (realised), ``last_value, first_value, first_year, model,
        median`` (natural scale), ``z`` (realised minus median on the modelling scale),
        ``z_last`` (the last training value, likewise), ``scale_eps, scale_offset`` (the
        transform's constants, see :class:`khforecast.engine.scales.Scale`), ``sd_diff`` (standard
        deviation of the training window's yearly changes),
        ``d010 … d990`` (quantiles of the draws at levels 0.010 … 0.990, minus their median,
        on the modelling scale) and
        ``error`` (non-empty where the models failed; those rows carry no values).
    """
    children = np.random.SeedSequence(seed).spawn(len(series))
    tasks = [(s, c, n_sims, max_cases, tuple(models) if models else None)
             for s, c in zip(series, children)]
    results = run_map(_backtest_one, tasks, executor=executor, jobs=jobs, chunksize=8)
    rows = [r for rs in results for r in rs]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if "z" not in df:
        df["z"] = np.nan
    return df.reset_index(drop=True)


def backtest_indicators(observations: pd.DataFrame, catalog: Catalog,
                        indicator_ids: Sequence[str], *, sims: int, seed: int,
                        place: str = "khanh_hoa", executor: Executor | None = None,
                        choices: ModelChoices | None = None,
                        models: Sequence[str] | None = None) -> pd.DataFrame:
    """Rolling-origin back-test of the full engine on each indicator's own history.

    For every origin with at least ``MIN_OBS`` observations up to it, the same
    :class:`~khforecast.engine.forecaster.Forecaster` (same sims, seed, calibration, model
    choices; ``models`` to back-test other members) is fitted on the years up to the origin
    and its paths are compared with each later observed year.

    Returns
    -------
    DataFrame
        ``indicator_id, origin, horizon, year, value, median, abs_error, q10, q90, covered80,
        pit, model``: one row per origin and later observed year (none for short series).
    """
    columns = ["indicator_id", "origin", "horizon", "year", "value", "median", "abs_error",
               "q10", "q90", "covered80", "pit", "model"]
    rows = []
    spec = Forecaster(models=tuple(models) if models else None, sims=sims, seed=seed,
                      executor=executor, choices=choices)
    for ind_id in indicator_ids:
        obs = observations[(observations["indicator_id"] == ind_id)
                           & (observations["place"] == place)].sort_values("year")
        years = obs["year"].astype(int).tolist()
        actual = dict(zip(years, obs["value"].astype(float)))
        for _, last in _expanding_origins(len(years)):
            origin = years[last]
            paths = spec.fit(obs[obs["year"] <= origin], catalog, place=place).simulate(
                until=years[-1])
            series = paths.get(ind_id)
            if series is None or not series.forecastable:
                continue
            sim_years = series.years.tolist()
            for year in years[last + 1:]:
                draws = series.paths[:, sim_years.index(year)]
                q10, median, q90 = np.quantile(draws, (0.10, 0.5, 0.90))
                value = actual[year]
                rows.append({"indicator_id": ind_id, "origin": origin, "horizon": year - origin,
                             "year": year, "value": value, "median": float(median),
                             "abs_error": abs(float(median) - value), "q10": float(q10),
                             "q90": float(q90), "covered80": bool(q10 <= value <= q90),
                             "pit": float(np.mean(draws <= value)), "model": series.model})
    return pd.DataFrame(rows, columns=columns)
