"""What makes a briefing chart believable: axes chosen from what matters, gaps left as gaps.

A fan chart whose y-axis is scaled to the 95 % band's tail squashes the data into the bottom
tenth (issue 12: 95 % bands to 72 % for an unemployment rate of 2.5 %). Here the axis is chosen
from the observations, the comparison line, the targets and the 80 % band only
(:func:`y_limits`); the 95 % band is then drawn inside the axis and marked where it runs past
(:func:`clip_band`, :func:`draw_clipped_band`), and :func:`wide_band_caption` says in one line
why bands are wide when the data are few. :func:`segments` splits a series at missing years so
no line is drawn across a gap. :data:`STATUS_COLOURS` are the status colours the pages' CSS
uses, for the sector chart (:func:`khforecast.briefing.figures.plot_status_bars`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from khforecast.briefing.i18n import check_lang

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "QUANTILE_COLUMNS",
    "STATUS_COLOURS",
    "ClippedBand",
    "bands",
    "clip_band",
    "draw_clipped_band",
    "fan_limits",
    "fan_rows",
    "level_targets",
    "outer_band",
    "segments",
    "wide_band_caption",
    "y_limits",
]

#: status -> colour, the same as the pages' badges (khforecast.css), darker for legibility.
STATUS_COLOURS: dict[str, str] = {
    "met": "#1a7f37", "on_track": "#4cae6a", "at_risk": "#e0a100", "off_track": "#c0392b",
    "missed": "#8e1b12", "insufficient_data": "#9e9e9e", "no_data": "#cfcfcf",
    "qualitative": "#e6e6e6",
}
_LEVEL_KINDS = ("lt", "le", "gt", "ge", "eq", "maintain", "between")
_PAD = 0.08


def level_targets(targets: Iterable[Any]) -> list[float]:
    """The levels of the targets that are set on the observed level (thresholds and bands);
    a yearly change, a ratio or a sum is on another scale and does not set the axis."""
    out: list[float] = []
    for tg in targets:
        kind = getattr(tg, "kind", None)
        if kind not in _LEVEL_KINDS:
            continue
        for v in (getattr(tg, "value", None), getattr(tg, "low", None), getattr(tg, "high", None)):
            if v is not None and np.isfinite(v):
                out.append(float(v))
    return out


def _finite(values: Iterable[Any]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float).ravel()
    return arr[np.isfinite(arr)]


def y_limits(*, observed: Iterable[float], band80: Iterable[float] = (),
             targets: Iterable[float] = (), compare: Iterable[float] = (),
             domain: str = "real") -> tuple[float, float]:
    """The y-axis range: observations, comparison, targets and the 80 % band, padded by 8 %.

    Never includes the 95 % band. Clipped to the domain (a percent stays in 0-100, a positive
    quantity at or above 0). A flat series gets a range of ±5 % of its level (±1 at zero).

    >>> y_limits(observed=[2.2, 2.5], band80=[1.9, 3.4], targets=[3])
    (1.78, 3.52)
    """
    values = np.concatenate([_finite(observed), _finite(band80), _finite(targets),
                             _finite(compare)])
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    if span <= 0:
        span = abs(hi) * 0.1 or 2.0
        lo, hi = lo - span / 2, hi + span / 2
    lo, hi = lo - _PAD * span, hi + _PAD * span
    if domain == "percent":
        lo, hi = max(lo, 0.0), min(hi, 100.0)
    elif domain == "positive":
        lo = max(lo, 0.0)
    return (round(lo, 10), round(hi, 10))


@dataclass(frozen=True)
class ClippedBand:
    """A band cut to the axis: what to fill, and where it runs past the top or the bottom."""

    low: np.ndarray
    high: np.ndarray
    past_top: np.ndarray  # bool per x
    past_bottom: np.ndarray

    @property
    def runs_past(self) -> bool:
        """True when the band leaves the axis anywhere."""
        return bool(self.past_top.any() or self.past_bottom.any())


def clip_band(low: Iterable[float], high: Iterable[float], limits: tuple[float, float]
              ) -> ClippedBand:
    """Cut a band to ``limits``; record where it ran past them.

    >>> b = clip_band([1, 0], [3, 9], (0.5, 5))
    >>> b.low.tolist(), b.high.tolist(), b.past_top.tolist(), b.past_bottom.tolist()
    ([1.0, 0.5], [3.0, 5.0], [False, True], [False, True])
    """
    lo_arr, hi_arr = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    y0, y1 = limits
    return ClippedBand(np.clip(lo_arr, y0, y1), np.clip(hi_arr, y0, y1), hi_arr > y1 + 1e-12,
                       lo_arr < y0 - 1e-12)


def draw_clipped_band(ax: Axes, x: Sequence[float], band: ClippedBand, *, color: str,
                      alpha: float, label: str) -> None:
    """Fill a clipped band and put a small arrow at the edge where it runs past the axis."""
    x = np.asarray(x, dtype=float)
    ax.fill_between(x, band.low, band.high, color=color, alpha=alpha, linewidth=0, label=label)
    y0, y1 = ax.get_ylim()
    if band.past_top.any():
        ax.plot(x[band.past_top], np.full(int(band.past_top.sum()), y1), linestyle="none",
                marker="^", color=color, markersize=5, clip_on=False)
    if band.past_bottom.any():
        ax.plot(x[band.past_bottom], np.full(int(band.past_bottom.sum()), y0), linestyle="none",
                marker="v", color=color, markersize=5, clip_on=False)


_CAPTION = {
    "vi": ("Khoảng {level} % rộng vì chỉ có {n} năm số liệu ({y0}–{y1}); phần vượt khỏi trục "
           "được đánh dấu ▲▼."),
    "en": ("The {level}% band is wide because there are only {n} years of data ({y0}–{y1}); "
           "where it runs past the axis it is marked ▲▼."),
}
_FEW = 8


def wide_band_caption(n_obs: int, years: Sequence[int], band: ClippedBand | None,
                      lang: str = "vi", level: int = 95) -> str:
    """One line saying the band is wide because data are few; '' when it is not the case.

    Said when the series has fewer than 8 observed years and the band runs past the axis.
    """
    check_lang(lang)
    if band is None or not band.runs_past or n_obs >= _FEW or not len(years):
        return ""
    return _CAPTION[lang].format(level=level, n=n_obs, y0=min(years), y1=max(years))


#: the quantile columns of a forecasts.csv row, lowest first (q025/q975: the 95 % band).
QUANTILE_COLUMNS = ("q025", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q975")


def bands(frame: pd.DataFrame) -> list[tuple[int, str, str]]:
    """(level %, low column, high column) of the bands the frame's quantile columns allow,
    widest first: 95 % from ``q025``/``q975`` when present, else 90 % from ``q05``/``q95``."""
    out = [(50, "q25", "q75"), (80, "q10", "q90")]
    out.append((95, "q025", "q975") if {"q025", "q975"} <= set(frame.columns)
               else (90, "q05", "q95"))
    return sorted(out, reverse=True)


def fan_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observed rows, projected rows joined to the last observation) of one forecast series."""
    obs = rows[rows["observed"].notna()]
    proj = rows[rows["q50"].notna() & rows["observed"].isna()]
    if not proj.empty and not obs.empty:
        last = obs.iloc[[-1]].assign(**{c: obs["observed"].iloc[-1] for c in QUANTILE_COLUMNS
                                        if c in rows.columns})
        proj = pd.concat([last, proj])
    return obs, proj


def fan_limits(rows: pd.DataFrame, targets: Iterable[Any] = (),
               compare: pd.DataFrame | None = None, domain: str = "real") -> tuple[float, float]:
    """The fan chart's y-axis (:func:`y_limits`) from one series' forecast rows."""
    obs, proj = fan_rows(rows)
    band80 = proj[["q10", "q90"]].to_numpy().ravel() if not proj.empty else ()
    other = compare["value"] if compare is not None and not compare.empty else ()
    return y_limits(observed=obs["observed"], band80=band80, targets=level_targets(targets),
                    compare=other, domain=domain)


def outer_band(rows: pd.DataFrame, limits: tuple[float, float]) -> tuple[int, ClippedBand] | None:
    """(level, the widest band cut to ``limits``) of a series, or None without projections."""
    _, proj = fan_rows(rows)
    if proj.empty:
        return None
    level, lo, hi = bands(rows)[0]
    return level, clip_band(proj[lo], proj[hi], limits)


def segments(years: Sequence[int], values: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The runs of consecutive years of a series (missing values dropped), so that a line is
    never drawn across a gap.

    >>> [r[0].tolist() for r in segments([2014, 2016, 2018, 2019], [1, 2, 3, 4])]
    [[2014], [2016], [2018, 2019]]
    """
    y = np.asarray(years, dtype=int)
    v = np.asarray(values, dtype=float)
    keep = np.isfinite(v)
    y, v = y[keep], v[keep]
    order = np.argsort(y)
    y, v = y[order], v[order]
    if not y.size:
        return []
    cuts = np.flatnonzero(np.diff(y) > 1) + 1
    return list(zip(np.split(y, cuts), np.split(v, cuts)))
