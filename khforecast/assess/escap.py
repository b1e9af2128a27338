"""The ESCAP "anticipated progress" rule: a deterministic CAGR extrapolation and its label.

ESCAP's Asia-Pacific SDG progress reports classify each indicator with a target by extrapolating
its compound annual growth rate (CAGR) to the target year and comparing the anticipated progress
with the progress the target requires. khforecast shows this label beside its calibrated
probability, and the calibration benchmark uses the same rule as a 0/1 reference forecast.

This is the CAGR form of the Anticipated Progress Index (ESCAP Statistics Division Working Paper
SD/WP/05, May 2017, used in the 2017-2019 progress reports). ESCAP's technical notes
(https://data.unescap.org/resource-guides/progress-assessment-methodology) and the UNECE
reports that apply the same index (e.g. https://w3.unece.org/sdg2023/technical-notes.html)
describe the later estimate of the anticipated value by a time-weighted linear regression that
gives recent years more weight; with the five to ten yearly points a province has, the two
differ little, and the CAGR form is the one the plan's own monitoring tables can reproduce.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

__all__ = [
    "EscapLabel",
    "cagr",
    "escap_label",
    "escap_projection",
    "escap_ratio",
]

EscapLabel = Literal["maintain_progress", "accelerate", "reverse_trend", ""]

#: ratio of anticipated to required progress at or above which ESCAP says "maintain progress"
MAINTAIN_RATIO = 0.95


def cagr(first_value: float, last_value: float, years: float) -> float:
    """Compound annual growth rate between two positive values ``years`` apart (NaN if undefined)."""
    if years <= 0 or not (first_value > 0 and last_value > 0):
        return math.nan
    return (last_value / first_value) ** (1.0 / years) - 1.0


def escap_projection(first_year: int, first_value: float, last_year: int, last_value: float,
                     target_year: int | np.ndarray) -> float | np.ndarray:
    """Extrapolate the CAGR of ``first``->``last`` to ``target_year`` (ESCAP anticipated value).

    Where the CAGR is undefined (a zero or negative value) the yearly linear change is
    extrapolated instead, the fallback ESCAP notes for indicators that can reach zero.
    """
    span = last_year - first_year
    if span <= 0:
        return np.asarray(target_year, dtype=float) * 0.0 + last_value
    rate = cagr(first_value, last_value, span)
    ahead = np.asarray(target_year, dtype=float) - last_year
    if math.isnan(rate):
        out = last_value + (last_value - first_value) / span * ahead
    else:
        out = last_value * (1.0 + rate) ** ahead
    return float(out) if np.ndim(out) == 0 else out


def escap_ratio(base_value: float, anticipated_value: float, target_value: float) -> float:
    """Ratio of anticipated to required progress, ``(x̂_T − x_0) / (x*_T − x_0)`` (NaN if x* = x_0)."""
    required = target_value - base_value
    if required == 0 or not math.isfinite(required):
        return math.nan
    return (anticipated_value - base_value) / required


def escap_label(first_year: int, first_value: float, last_year: int, last_value: float,
                target_year: int, target_value: float, direction: int = 0) -> EscapLabel:
    """The ESCAP anticipated-progress label of one indicator towards one target value.

    Parameters
    ----------
    first_year, first_value
        The base observation progress is measured from (ESCAP uses the baseline year).
    last_year, last_value
        The latest observation.
    target_year, target_value
        The year and the value the target asks for (for a range, the nearer bound).
    direction
        +1 when higher is better, -1 when lower is better; only used when the target equals
        the base value (a "maintain" target), where the required progress is zero.

    Returns
    -------
    str
        ``"maintain_progress"`` when the anticipated progress is at least 95 % of the required
        progress, ``"accelerate"`` when it is positive but short of that, ``"reverse_trend"``
        when the indicator is anticipated to move away from the target; ``""`` when there is
        no trend to extrapolate (fewer than two distinct years).

    Notes
    -----
    With :math:`x_0` the base value, :math:`x_t` the latest one, the CAGR
    :math:`r = (x_t/x_0)^{1/(t-t_0)} - 1` gives the anticipated value
    :math:`\\hat x_T = x_t (1+r)^{T-t}`, and the ratio
    :math:`R = (\\hat x_T - x_0)/(x^*_T - x_0)` is read as: :math:`R \\ge 0.95` maintain progress,
    :math:`0 \\le R < 0.95` accelerate, :math:`R < 0` reverse trend.

    References
    ----------
    .. [1] UN ESCAP, *Asia and the Pacific SDG Progress Report* (2017-2024), technical note
       "Measuring anticipated progress" (CAGR-based ratio of anticipated to required progress).
    .. [2] A. Bidarbakht Nia, "Tracking progress towards the SDGs: measuring the otherwise
       ambiguous progress", ESCAP Statistics Division Working Paper SD/WP/05, May 2017.

    Examples
    --------
    >>> escap_label(2018, 10.0, 2024, 8.0, 2030, 4.0)
    'accelerate'
    >>> escap_label(2018, 10.0, 2024, 12.0, 2030, 4.0)
    'reverse_trend'
    """
    if last_year <= first_year:
        return ""
    anticipated = float(escap_projection(first_year, first_value, last_year, last_value, target_year))
    if target_value == first_value:  # a "hold the level" target: only the direction counts
        if direction == 0:
            return "maintain_progress" if anticipated == target_value else "accelerate"
        return "maintain_progress" if (anticipated - target_value) * direction >= 0 else "reverse_trend"
    ratio = escap_ratio(first_value, anticipated, target_value)
    if ratio >= MAINTAIN_RATIO:
        return "maintain_progress"
    if ratio >= 0:
        return "accelerate"
    return "reverse_trend"
