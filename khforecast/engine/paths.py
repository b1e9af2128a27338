"""The containers of simulated paths.

One series' :class:`SeriesPaths` and the whole run's :class:`SamplePaths`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from khforecast.engine.defaults import QUANTILES
from khforecast.errors import KhforecastError

__all__ = [
    "FORECAST_COLUMNS",
    "SamplePaths",
    "SeriesPaths",
]


FORECAST_COLUMNS = ("indicator_id", "place", "scenario", "year", "observed", "mean",
                    "q05", "q10", "q25", "q50", "q75", "q90", "q95")


@dataclass(frozen=True)
class SeriesPaths:
    """The history and simulated paths of one (indicator, place).

    ``years`` runs from the first observed year to ``until`` (or the last observed year if
    later); ``paths`` is (n_sims, len(years)) with observed years as constant columns and
    gaps between observations filled by linear interpolation (``observed`` is NaN there).
    With fewer than :data:`MIN_OBS` points or a failed fit, ``paths`` covers the observed span
    only and ``status`` says why.
    """

    indicator_id: str
    place: str
    domain: str
    observed_as: str
    years: np.ndarray
    observed: np.ndarray
    paths: np.ndarray
    n_obs: int
    last_year: int
    last_value: float
    model: str
    status: str = "ok"  # ok | insufficient_data | failed
    notes: tuple[str, ...] = ()

    @property
    def history(self) -> pd.Series:
        """The observed values indexed by year."""
        keep = ~np.isnan(self.observed)
        return pd.Series(self.observed[keep], index=self.years[keep].astype(int), dtype=float)

    @property
    def forecastable(self) -> bool:
        """True when the paths extend beyond the observations."""
        return self.status == "ok"


@dataclass(frozen=True)
class SamplePaths:
    """Simulated paths of every series of a forecast, under one scenario.

    Attributes
    ----------
    place : the place assessed (``khanh_hoa`` by default)
    scenario : the scenario name
    until : last simulated year
    series : ``{(indicator_id, place): SeriesPaths}``; comparison places included
    """

    place: str
    scenario: str
    until: int
    series: Mapping[tuple[str, str], SeriesPaths]
    n_sims: int
    seed: int | None = None

    def __iter__(self) -> Iterator[SeriesPaths]:
        return iter(self.series[k] for k in sorted(self.series))

    def get(self, indicator_id: str, place: str | None = None) -> SeriesPaths | None:
        """The series of one indicator (at ``place``, default the assessed place), or None."""
        return self.series.get((indicator_id, place or self.place))

    def paths(self, indicator_id: str, place: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(years, array (n_sims, n_years))`` of one indicator, history included.

        Raises
        ------
        KhforecastError
            When the data hold no series for that indicator and place.
        """
        s = self.get(indicator_id, place)
        if s is None:
            raise KhforecastError(f"no series for indicator {indicator_id!r} at "
                                  f"{place or self.place!r} (no observations)")
        return s.years.copy(), s.paths.copy()

    def with_series(self, series: Mapping[tuple[str, str], SeriesPaths], scenario: str) -> SamplePaths:
        """A copy holding other paths under another scenario name (for scenario transforms)."""
        return replace(self, series=dict(series), scenario=scenario)

    def to_frame(self) -> pd.DataFrame:
        """The long table of forecasts.csv (DESIGN §3).

        Returns
        -------
        DataFrame
            ``indicator_id, place, scenario, year, observed, mean, q05, q10, q25, q50, q75,
            q90, q95``: one row per series and year, observed years (``observed`` filled,
            quantiles equal to it) and projected ones; sorted by indicator, place, year.
        """
        series = list(self)
        if not series:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in FORECAST_COLUMNS})
        # one frame from stacked columns (a frame per series costs more than its numbers)
        n = [s.years.size for s in series]
        q = np.concatenate([np.quantile(s.paths, QUANTILES, axis=0) for s in series], axis=1)

        def labels(values: list[str]) -> np.ndarray:
            return np.repeat(np.array(values, dtype=object), n)

        return pd.DataFrame({
            "indicator_id": labels([s.indicator_id for s in series]),
            "place": labels([s.place for s in series]),
            "scenario": labels([self.scenario] * len(series)),
            "year": np.concatenate([s.years.astype(int) for s in series]),
            "observed": np.concatenate([s.observed for s in series]),
            "mean": np.concatenate([s.paths.mean(axis=0) for s in series]),
            **{f"q{round(p * 100):02d}": q[i] for i, p in enumerate(QUANTILES)},
        }, columns=list(FORECAST_COLUMNS))
