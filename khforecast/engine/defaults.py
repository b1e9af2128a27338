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
