"""The classes of a history that the pooled calibration's strata are keyed by.

Shape and trend (how steady its yearly changes are), length, width of its error scale and its
place in the domain (near a bound of a percent, or on it): :mod:`khforecast.engine.predictive`
looks up its quantiles, damping and length factors by these, and
:mod:`khforecast.engine.evaluation` fits them by the same classes.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "BANDS",
    "LENGTH_EDGES",
    "NEAR",
    "NOISE_CUT",
    "STEADY_CUT",
    "TRENDS",
    "WIDTH_EDGES",
    "bound_of",
    "history_classes",
    "history_shape",
    "length_class",
    "near_of",
    "quantile_band",
    "width_class",
]

#: a history is "noisy" when sd(yearly change) / rms(yearly change) on the modelling scale is at
#: least this: then the year-to-year noise is as large as the trend (a pure trend gives 0)
NOISE_CUT = 0.7
#: a smooth history is "steady" when sd(yearly change) / rms(yearly change) is below this: its
#: yearly changes hardly vary. Only the centre's damping tells steady from smooth: held out a
#: family at a time, damping steady histories like the other smooth ones made their median
#: worse than none (+2 %); with a class of their own (0.6-1.05 of the models' change kept) it
#: is 6 % better than none, and the centre's error over all cells 1.45 % lower
STEADY_CUT = 0.2
#: the history classes of the centre's damping
TRENDS: tuple[str, ...] = ("steady", "smooth", "noisy")


def history_classes(z: np.ndarray) -> tuple[float, str, str]:
    """(typical yearly movement, shape, trend) of a history on the modelling scale, from one
    pass over its yearly changes: the rms of the changes; ``"smooth"``/``"noisy"`` by
    :data:`NOISE_CUT`; the damping class (:data:`TRENDS`), a smooth history ``"steady"`` below
    :data:`STEADY_CUT`. A flat or one-point history moves 0 and is steady."""
    dz = np.diff(np.asarray(z, dtype=float))
    rms = float(np.sqrt(np.mean(dz ** 2))) if dz.size else 0.0
    noise = float(np.std(dz)) / rms if rms > 0 else 0.0
    if noise >= NOISE_CUT:
        return rms, "noisy", "noisy"
    return rms, "smooth", "steady" if noise < STEADY_CUT else "smooth"


def history_shape(z: np.ndarray) -> tuple[float, str]:
    """(typical yearly movement, ``"smooth"``/``"noisy"``) of a history (:func:`history_classes`)."""
    move, shape, _ = history_classes(z)
    return move, shape


#: upper edges of the width classes: the error scale per year, s_h / sqrt(h), on the modelling
#: scale (pooled back-tests: the smaller a series' own scale, the heavier its standardised
#: errors' tails, e.g. 99.5 % quantile 33 below 0.017, 2.8 above 0.29 for positive series)
WIDTH_EDGES: tuple[float, ...] = (0.02, 0.05, 0.12, 0.3)


def width_class(s: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Index 0..len(WIDTH_EDGES) of the width class of error scales ``s`` at horizons ``h``."""
    return np.searchsorted(np.asarray(WIDTH_EDGES), np.asarray(s) / np.sqrt(np.asarray(h)))


#: lower edges of the history-length classes 5-7, 8-11 and 12+ points (below 5: 3-4 points).
#: The shorter the history, the less its own scale s_h says: pooled back-tests give 3-4 point
#: histories a 95 % range of the standardised error about 1.5 times that of 12-20 point ones
LENGTH_EDGES: tuple[int, ...] = (5, 8, 12)


def length_class(n: np.ndarray | int) -> np.ndarray:
    """Index 0..len(LENGTH_EDGES) of the length class of histories of ``n`` points."""
    return np.searchsorted(np.asarray(LENGTH_EDGES), np.asarray(n), side="right")


#: a percent within this many points of 0 or 100 is "near" a bound (its errors on the logit
#: scale behave differently: the pool shows them wider)
NEAR = 5.0


def near_of(last: float, domain: str) -> str:
    """``"near"`` for a percent within :data:`NEAR` points of 0 or 100, else ``"far"``."""
    return "near" if domain == "percent" and min(last, 100.0 - last) < NEAR else "far"


#: the strata of the error quantiles by place in the domain: ``near`` a bound (a percent within
#: :data:`NEAR` points of 0 or 100), ``mid`` (any other percent) and ``far`` (positive and real
#: series). Percents away from a bound get their own quantiles: held out a family at a time,
#: their errors run above the damped median (pooled median of the standardised error +0.3 to
#: +0.6 at 3-10 years), which quantiles shared with the positive series did not carry
BANDS: tuple[str, ...] = ("near", "mid", "far")


def quantile_band(domain: str, near: str) -> str:
    """The quantile band (:data:`BANDS`) of a series: ``near`` as given, else ``mid`` for a
    percent, ``far`` for the others."""
    if near == "near":
        return "near"
    return "mid" if domain == "percent" else "far"


def bound_of(y: np.ndarray, domain: str) -> tuple[float | None, int]:
    """(the bound the last value sits on, how many trailing values sit on it): percent 0 / 100."""
    y = np.asarray(y, dtype=float)
    if domain != "percent" or y.size == 0 or y[-1] not in (0.0, 100.0):
        return None, 0
    b = float(y[-1])
    run = int(np.argmax(y[::-1] != b)) if np.any(y != b) else int(y.size)
    return b, run
