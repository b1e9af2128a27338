"""The front door over many series: observations + catalog -> sample paths per indicator.

``Forecaster`` is pure configuration; ``fit`` gathers each indicator's history for a place and
returns a :class:`ForecastResults`; ``results.simulate(until, scenario)`` draws calibrated sample
paths for every series (the draws are the primary object: means, quantiles and target
probabilities all come from them) and returns :class:`SamplePaths`.

The unit of work, one series -> its paths, is a pure function of the series, the settings and
that series' own ``SeedSequence`` child (children are spawned in the sorted order of
``(indicator_id, place)``), so results do not depend on ``jobs``, on the row order of the data or
on which other series are present with the same keys; it runs on any ``concurrent.futures.Executor``
(:mod:`khforecast.engine.executor`: a process pool by default, dask's ``Client.get_executor()``
as well).
"""
from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from khforecast.engine.defaults import DEFAULT_SIMS, MIN_OBS
from khforecast.engine.executor import run_map
from khforecast.engine.interventions import Interventions
from khforecast.engine.model_choices import ModelChoices, SeriesChoice
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.engine.predictive import PooledCalibration, load_pooled_calibration, predictive_paths
from khforecast.engine.scenarios import apply_scenario, load_scenarios
from khforecast.engine.statespace import STATSMODELS_MODELS, preload
from khforecast.errors import KhforecastError, ModelFitError, ParamsError
from khforecast.observations.places import COMPARISON_PLACES, merge_places
from khforecast.plan.catalog import Catalog
from khforecast.plan.targets import DOMAIN_RANGE

__all__ = [
    "ForecastResults",
    "Forecaster",
    "model_input",
]




@dataclass(frozen=True)
class _Task:
    """Everything the unit of work needs (picklable)."""

    indicator_id: str
    place: str
    domain: str
    observed_as: str
    years: np.ndarray
    values: np.ndarray
    until: int
    n_sims: int
    seed_seq: np.random.SeedSequence
    calibration: PooledCalibration
    models: tuple[str, ...] | None
    choice: SeriesChoice | None = None




def _fill_gaps(years: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive years from the first to the last, gaps filled by linear interpolation."""
    full = np.arange(int(years[0]), int(years[-1]) + 1)
    return full, np.interp(full, years, values)


def model_input(years: np.ndarray, values: np.ndarray, domain: str, choice: SeriesChoice
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, Interventions]:
    """What the models see of one series: the years a statistician did not exclude, gaps
    bridged, the modelling domain (the indicator's own unless ``transform`` is set) and the
    declared interventions as positions.

    Returns ``(kept, fit_years, fit_values, domain, interventions)``; ``kept`` marks the
    observed years used.
    """
    kept = ~np.isin(years, choice.exclude_years)
    fit_years, fit_values = _fill_gaps(years[kept], values[kept])
    return kept, fit_years, fit_values, choice.domain(domain), choice.interventions(fit_years)


def _run_series(task: _Task) -> SeriesPaths:
    """The unit of work: one series -> its calibrated paths (pure in its inputs and seed)."""
    years = task.years.astype(int)
    vals = task.values.astype(float)
    full_years, filled = _fill_gaps(years, vals)
    observed = np.full(full_years.shape, np.nan)
    observed[years - full_years[0]] = vals
    last_year, last_value = int(years[-1]), float(vals[-1])
    h = max(task.until - last_year, 0)
    base = {"indicator_id": task.indicator_id, "place": task.place, "domain": task.domain,
                "observed_as": task.observed_as, "n_obs": len(years), "last_year": last_year,
                "last_value": last_value}
    history_only = np.broadcast_to(filled, (task.n_sims, filled.size)).copy()
    if len(years) < MIN_OBS:
        return SeriesPaths(years=full_years, observed=observed, paths=history_only, model="",
                           status="insufficient_data",
                           notes=(f"{len(years)} observation(s); at least {MIN_OBS} needed",), **base)
    if h == 0:
        return SeriesPaths(years=full_years, observed=observed, paths=history_only, model="",
                           **base)
    rng = np.random.default_rng(task.seed_seq)
    choice = task.choice or SeriesChoice()
    kept, fit_years, fit_values, domain, interventions = model_input(years, vals, task.domain,
                                                                     choice)
    try:
        # the one engine (forecast-series draws with it too)
        res = predictive_paths(fit_values, h, task.n_sims, rng, domain=domain,
                               calibration=task.calibration, models=task.models,
                               interventions=interventions)
    except (ModelFitError, ValueError) as exc:
        return SeriesPaths(years=full_years, observed=observed, paths=history_only,
                           model="", status="failed", notes=(f"{type(exc).__name__}: {exc}",), **base)
    model = res.model + ("+interpolated" if len(fit_years) > int(kept.sum()) else "")
    if interventions:
        model += f"+interventions({interventions.describe(int(fit_years[0]))})"
    if not kept.all():
        model += "+excluded(" + ", ".join(str(int(y)) for y in years[~kept]) + ")"
    drawn = res.paths
    if domain != task.domain or choice.bounds is not None:
        lo, hi = DOMAIN_RANGE[task.domain]  # paths modelled on another scale are held inside
        if choice.bounds is not None:
            lo, hi = max(lo, choice.bounds[0]), min(hi, choice.bounds[1])
        drawn = np.clip(drawn, lo, hi)
    paths = np.hstack([history_only, drawn])
    all_years = np.arange(int(full_years[0]), task.until + 1)
    observed_all = np.r_[observed, np.full(h, np.nan)]
    return SeriesPaths(years=all_years, observed=observed_all, paths=paths, model=model,
                       notes=tuple(res.notes), **base)


# --------------------------------------------------------------------------------------------
# spec and results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forecaster:
    """Forecast specification: which models, how many paths, which seed and calibration.

    Parameters
    ----------
    models
        Model names of :mod:`khforecast.engine.models` (one, or several combined); ``None`` means the
        models' default combination.
    sims
        Sample paths per series (at least 4,000 by default so that a probability is known to
        about ±0.8 points).
    seed
        Root of the random streams (``None``: fresh entropy, not reproducible).
    calibration
        The pooled calibration; ``None`` loads the shipped ``calibration.json``.
    jobs
        Worker processes (``None``: one per core when there are many series, else 1).
    executor
        Any ``concurrent.futures.Executor`` to run the series on (e.g. dask's
        ``Client.get_executor()``); it overrides ``jobs``. Results are the same on any.
    choices
        Per-indicator members, interventions, excluded years, transform and bounds
        (``params/models.yaml``, :func:`khforecast.engine.model_choices.load_model_choices`);
        ``None``: the registry defaults for every series. ``models``, when given, overrides the
        members the file names.

    Examples
    --------
    >>> fc = Forecaster(sims=500, seed=1)
    >>> fc.sims
    500
    """

    models: tuple[str, ...] | None = None
    sims: int = DEFAULT_SIMS
    seed: int | None = None
    calibration: PooledCalibration | None = None
    jobs: int | None = None
    executor: Executor | None = field(default=None, compare=False, repr=False)
    choices: ModelChoices | None = None

    def __post_init__(self) -> None:
        if self.sims < 1:
            raise KhforecastError(f"sims: expected a positive number of paths, found {self.sims}")
        if self.models is not None:
            object.__setattr__(self, "models", tuple(self.models))

    def fit(self, observations: pd.DataFrame, catalog: Catalog, place: str = "khanh_hoa") -> ForecastResults:
        """Gather the history of every catalog indicator at ``place`` (and comparison places).

        Parameters
        ----------
        observations
            Columns ``indicator_id, place, year, value`` (as :func:`read_observations` returns).
        catalog
            The :class:`Catalog` (domain, observed_as and targets of each indicator).
        place
            The place assessed; ``vietnam`` series are carried for comparison. For a merged
            province (``khanh_hoa_merged`` and the other 22 of ``khforecast/data/places/``)
            the years without a merged value are built from its former provinces
            (:func:`merge_places`).

        Returns
        -------
        ForecastResults

        Raises
        ------
        KhforecastError
            When a required column is missing. A place without data is not an error: its
            indicators are assessed as ``no_data``.
        """
        need = {"indicator_id", "place", "year", "value"}
        missing = sorted(need - set(observations.columns))
        if missing:
            raise KhforecastError(f"observations: expected columns {', '.join(sorted(need))}, "
                                  f"missing {', '.join(missing)}")
        obs = observations.copy()
        obs["indicator_id"] = obs["indicator_id"].astype(str)
        obs["place"] = obs["place"].astype(str)
        obs = merge_places(obs, catalog, place)
        places = (place,) + tuple(p for p in COMPARISON_PLACES if p != place)
        obs = obs[obs["place"].isin(places) & obs["indicator_id"].isin(list(catalog.indicators))]
        obs = obs.dropna(subset=["value"])
        histories: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for (iid, plc), g in obs.groupby(["indicator_id", "place"], sort=True):
            g = g.sort_values("year")
            histories[(str(iid), str(plc))] = (g["year"].to_numpy(dtype=int),
                                               g["value"].to_numpy(dtype=float))
        return ForecastResults(forecaster=self, observations=observations, catalog=catalog,
                               place=place, histories=histories)


@dataclass
class ForecastResults:
    """What :meth:`Forecaster.fit` returns: the spec, the data, and the series to simulate."""

    forecaster: Forecaster
    observations: pd.DataFrame
    catalog: Catalog
    place: str
    histories: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    _bau: dict[int, SamplePaths] = field(default_factory=dict, repr=False)

    def simulate(self, until: int = 2030, scenario: str = "bau", *,
                 scenarios: Mapping[str, Any] | None = None) -> SamplePaths:
        """Sample paths of every series to ``until`` under ``scenario``.

        The business-as-usual paths are drawn once (and cached); another scenario is a pure
        transform of them (:func:`khforecast.engine.scenarios.apply_scenario`), so scenarios differ
        only by their assumption, never by simulation noise.

        Parameters
        ----------
        until
            Last year simulated.
        scenario
            A name from ``scenarios`` (default: ``params/scenarios.yaml``).
        scenarios
            Scenario definitions (from :func:`khforecast.engine.scenarios.load_scenarios`).

        Returns
        -------
        SamplePaths
        """
        bau = self._bau.get(until)
        if bau is None:
            bau = self._simulate_bau(until)
            self._bau[until] = bau
        if scenario == "bau":
            return bau
        defs = scenarios if scenarios is not None else load_scenarios()
        if scenario not in defs:
            raise ParamsError(f"scenario {scenario!r}: expected one of {', '.join(sorted(defs))}")
        return apply_scenario(bau, defs[scenario], self.catalog)

    def _simulate_bau(self, until: int) -> SamplePaths:
        fc = self.forecaster
        cal = fc.calibration or load_pooled_calibration()
        keys = sorted(self.histories)
        children = np.random.SeedSequence(fc.seed).spawn(len(keys))
        tasks = []
        for key, child in zip(keys, children):
            ind = self.catalog.indicators[key[0]]
            yrs, vals = self.histories[key]
            choice = fc.choices.for_indicator(key[0]) if fc.choices is not None else None
            models = fc.models or (choice.models if choice is not None else None)
            tasks.append(_Task(key[0], key[1], str(ind.domain), str(ind.observed_as), yrs, vals,
                               until, fc.sims, child, cal, models, choice))
        jobs = fc.jobs if fc.jobs is not None else (1 if len(tasks) < 16 else None)
        if any(_may_fit_statsmodels(t) for t in tasks):
            preload()  # once here: forked workers inherit the import
        done = run_map(_run_series, tasks, executor=fc.executor, jobs=jobs)
        _warn_fallbacks(done)
        return SamplePaths(place=self.place, scenario="bau", until=until,
                           series={(s.indicator_id, s.place): s for s in done},
                           n_sims=fc.sims, seed=fc.seed)


def _may_fit_statsmodels(task: _Task) -> bool:
    """Whether the series names a statsmodels member its span of years is long enough for
    (else it falls back without one, and the ~1 CPU-second import is not needed)."""
    span = int(task.years[-1] - task.years[0]) + 1 if len(task.years) >= MIN_OBS else 0
    return any(span >= STATSMODELS_MODELS[m].min_obs
               for m in (task.models or ()) if m in STATSMODELS_MODELS)


def _warn_fallbacks(done: Sequence[SeriesPaths]) -> None:
    """One summary warning per model that fell back or failed, with the reasons counted."""
    by_model: dict[str, Counter] = defaultdict(Counter)
    for s in done:
        if s.status == "failed":
            by_model["all models"][s.notes[0] if s.notes else "failed"] += 1
        elif "fallback" in s.model:
            by_model[s.model.split("(")[0]][s.notes[0] if s.notes else "fit failed"] += 1
    for model, reasons in sorted(by_model.items()):
        n = sum(reasons.values())
        detail = "; ".join(f"{r} ×{k}" for r, k in reasons.most_common())
        verb = "failed" if model == "all models" else f"fell back to `{model}`"
        warnings.warn(f"{n} series {verb}: {detail}", RuntimeWarning, stacklevel=3)
