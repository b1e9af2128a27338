"""The engine's defaults, each defined once (no imports: the CLI's parser reads them cheaply)."""
from __future__ import annotations

__all__ = ["DEFAULT_SEED", "DEFAULT_SIMS", "MIN_OBS", "QUANTILES"]

#: root of the random streams when none is given (one ``SeedSequence`` spawn per series)
DEFAULT_SEED = 20240809
#: sample paths per series: a probability is then known to about ±0.8 points
DEFAULT_SIMS = 4000
#: quantile levels of forecasts.csv (``q05 … q95``) and of ``forecast-series`` by default
QUANTILES: tuple[float, ...] = (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95)
#: fewest observations a series needs for a forecast; with 1-2 points the back-tests give no
#: evidence that any interval is calibrated, so those series are reported as insufficient_data
MIN_OBS = 3

#: the most paths per series: 100,000 x 30 years of float64 is 24 MB per series and scenario
#: (4000, the default, pins p_meet to about ±0.8 points); above this memory runs out first
SIMS_MAX = 100_000
#: the most steps ahead a series is forecast
HORIZON_MAX = 200
#: the largest magnitude a value may have: the models square differences of values, and
#: beyond about 1e154 a square overflows float64 (rescale such series, e.g. to millions)
VALUE_MAX = 1e100
