"""Assess every target on the sample paths: p_meet, status and the planning figures.

One row per indicator, place, scenario and target year (2025 and 2030) with the columns of
assessment.csv (DESIGN §3), then khforecast's extra columns at the end:

``escap_label``
    ESCAP's anticipated-progress label (:func:`khforecast.assess.escap.escap_label`).
``required_change_p50``, ``required_change_p80``
    the yearly change of the level (of the flow, for cumulative targets) from the last
    observation that the median path would need so that the target is met with probability
    0.5 / 0.8: a linear trend is added to every path and found by bisection.
``year_reached_median``
    the first year the business-as-usual median path meets the target's test (empty: not by
    the last simulated year).
``nowcast``
    True where a 2025 probability is a nowcast (2025 not yet observed).

``p_meet`` is the share of sample paths that meet the target (``Target.prob_met``), never a
point forecast's verdict; it is empty where no probability is honest to give.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from khforecast.assess.escap import escap_label
from khforecast.assess.statuses import THRESHOLDS, status_of
from khforecast.engine.forecaster import ForecastResults
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.plan.catalog import TARGET_YEARS, Catalog, Indicator
from khforecast.plan.kinds import KINDS
from khforecast.plan.targets import Target, clip_to_domain

__all__ = [
    "ASSESSMENT_COLUMNS",
    "EXTRA_COLUMNS",
    "assess",
    "assess_scenarios",
]

ASSESSMENT_COLUMNS = (
    "indicator_id", "place", "scenario", "target_year", "target_text", "target_kind", "p_meet",
    "status", "n_obs", "last_year", "last_value", "projected_q10", "projected_q50",
    "projected_q90", "historical_annual_change", "required_annual_change", "model",
)
EXTRA_COLUMNS = ("escap_label", "required_change_p50", "required_change_p80",
                 "year_reached_median", "nowcast")


def assess(paths: SamplePaths, catalog: Catalog, thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """Assess each catalog indicator's 2025 and 2030 targets at ``paths.place``.

    Parameters
    ----------
    paths
        Sample paths from :meth:`ForecastResults.simulate` (any scenario).
    catalog
        The :class:`Catalog` whose targets are assessed.
    thresholds
        ``(on_track, at_risk)`` lower bounds of ``p_meet``.

    Returns
    -------
    DataFrame
        :data:`ASSESSMENT_COLUMNS` then :data:`EXTRA_COLUMNS`; one row per indicator (headings
        included) and target year, sorted by indicator id and year. Status: ``no_target``
        where the plan sets none for that year (``-``, kind ``none``; an extension of
        DESIGN §3's list); ``qualitative`` for targets without a number; ``met``/``missed``
        when every year the target reads is observed; ``no_data`` without observations;
        ``insufficient_data`` when the series is too short to forecast or does not reach
        back to a year the target needs; else from ``p_meet``.

    Raises
    ------
    ValueError
        When ``thresholds`` is not two probabilities in decreasing order.
    """
    hi, lo = (float(t) for t in thresholds)
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"thresholds: expected (on_track, at_risk) with 1 >= on_track >= at_risk "
                         f">= 0, found {tuple(thresholds)}")
    rows = []
    for iid in sorted(catalog.indicators, key=_id_key):
        ind = catalog.indicators[iid]
        s = paths.get(iid)
        for year in TARGET_YEARS:
            target = ind.targets.get(year)
            if target is None:
                continue
            rows.append(_row(ind, target, s, paths, (hi, lo)))
    out = pd.DataFrame(rows, columns=list(ASSESSMENT_COLUMNS + EXTRA_COLUMNS))
    for col in ("target_year", "n_obs", "last_year", "year_reached_median"):
        out[col] = out[col].astype("Int64")
    for col in ("p_meet", "last_value", "projected_q10", "projected_q50", "projected_q90",
                "historical_annual_change", "required_annual_change", "required_change_p50",
                "required_change_p80"):
        out[col] = out[col].astype(float)
    out["nowcast"] = out["nowcast"].astype(bool)
    return out


def _id_key(iid: str) -> tuple:
    head, _, tail = iid.partition(".")
    return (int(head) if head.isdigit() else 10**6, head, tail)


def _row(ind: Indicator, target: Target, s: SeriesPaths | None, paths: SamplePaths,
         thresholds: tuple[float, float]) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in ASSESSMENT_COLUMNS + EXTRA_COLUMNS}
    row.update(indicator_id=ind.id, place=paths.place, scenario=paths.scenario,
               target_year=target.year, target_text=target.text, target_kind=target.kind,
               escap_label="", model="", nowcast=False)
    if s is not None:
        row.update(n_obs=s.n_obs, last_year=s.last_year, last_value=s.last_value, model=s.model,
                   historical_annual_change=_historical_change(s))
    else:
        row.update(n_obs=0)
    if not target.is_quantitative:  # qualitative, or no target for this year ('-')
        row["status"] = KINDS[target.kind].no_test_status
        return row
    if s is None:
        row["status"] = "no_data"
        return row
    row["required_annual_change"] = target.required_annual_change(s.last_year, s.last_value, s.history)
    observed_years = set(s.history.index.tolist())
    needed = set(target.needed_years)
    if needed <= observed_years:  # the target year (and all it reads) is observed
        met = bool(target.meets(s.paths[:1], s.years)[0])
        row["status"] = "met" if met else "missed"
        row["p_meet"] = 1.0 if met else 0.0
        _projected(row, target, s)
        return row
    usable = s.forecastable and s.years[0] <= min(needed) and s.years[-1] >= target.year
    if not usable:
        row["status"] = "insufficient_data"
        return row
    row["p_meet"] = target.prob_met(s.paths, s.years)
    row["status"] = status_of(row["p_meet"], thresholds)
    row["nowcast"] = target.year == 2025
    _projected(row, target, s)
    row["required_change_p50"] = _required_change(target, s, 0.5)
    row["required_change_p80"] = _required_change(target, s, 0.8)
    row["year_reached_median"] = _year_reached(target, s)
    row["escap_label"] = _escap(target, s, getattr(ind, "direction", 0))
    return row


def _projected(row: dict[str, Any], target: Target, s: SeriesPaths) -> None:
    q = target.quantity(s.paths, s.years)
    q = q[np.isfinite(q)]
    if q.size:
        row["projected_q10"], row["projected_q50"], row["projected_q90"] = (
            float(v) for v in np.quantile(q, (0.1, 0.5, 0.9)))


def _historical_change(s: SeriesPaths) -> float | None:
    """Least-squares slope of the observed values per year (the mean flow for flows)."""
    h = s.history
    if s.observed_as == "flow":
        return float(h.mean()) if len(h) else None
    if len(h) < 2:
        return None
    x = h.index.to_numpy(dtype=float)
    return float(np.polyfit(x - x.mean(), h.to_numpy(), 1)[0])


def _shifted(target: Target, s: SeriesPaths, delta: float) -> np.ndarray:
    """The paths with ``delta`` added per projected year (to the level, or to each flow)."""
    return _shift(s.paths, s.years, s.last_year, s.observed_as == "flow", s.domain, delta)


def _shift(paths: np.ndarray, years: np.ndarray, last_year: int, flow: bool, domain: str,
           delta: float) -> np.ndarray:
    steps = np.clip(years - last_year, 0, None).astype(float)
    add = np.where(steps > 0, delta, 0.0) if flow else delta * steps
    return clip_to_domain(paths + add[None, :], domain)


def _required_change(target: Target, s: SeriesPaths, prob: float) -> float | None:
    """The median path's yearly change that gives ``p_meet == prob`` (bisection on a trend).

    None when the target reads a band (p_meet is not monotone in the trend) or when no shift
    within ±20 times the series' scale per year reaches ``prob``.
    """
    if KINDS[target.kind].band(target) is not None:
        return None
    # only the years the target reads matter: bisect on those columns
    first = min(min(target.needed_years), target.year)
    cols = (s.years >= first) & (s.years <= target.year)
    paths, years = s.paths[:, cols], s.years[cols]
    flow = s.observed_as == "flow"
    scale = max(float(np.nanmax(np.abs(s.history.to_numpy()))), 1e-9)
    lo_d, hi_d = -20.0 * scale, 20.0 * scale

    def p(d: float) -> float:
        return target.prob_met(_shift(paths, years, s.last_year, flow, s.domain, d), years)

    p_lo, p_hi = p(lo_d), p(hi_d)
    if p_lo == p_hi or not (min(p_lo, p_hi) <= prob <= max(p_lo, p_hi)):
        return None
    rising = p_hi > p_lo
    while hi_d - lo_d > 1e-5 * scale:
        mid = 0.5 * (lo_d + hi_d)
        if (p(mid) >= prob) == rising:
            hi_d = mid
        else:
            lo_d = mid
    delta = hi_d if rising else lo_d
    x = _shift(paths, years, s.last_year, flow, s.domain, delta)
    fut = years > s.last_year
    if flow:
        return float(np.median(x[:, fut].mean(axis=1)))
    return float(np.median((x[:, -1] - s.last_value) / (target.year - s.last_year)))


def _year_reached(target: Target, s: SeriesPaths) -> int | None:
    """First year (from the last observed one) in which the median path meets the target."""
    med = np.median(s.paths, axis=0)[None, :]
    for y in range(s.last_year, int(s.years[-1]) + 1):
        at_y = dataclasses.replace(target, year=y)
        reads = at_y.needed_years
        # judged in y only when it reads y last and each year once (not before a base year
        # or a start year)
        if not reads or reads[-1] != y or any(a >= b for a, b in zip(reads, reads[1:])):
            continue
        try:
            if bool(at_y.meets(med, s.years)[0]):
                return y
        except ValueError:  # a year the target reads lies before the series starts
            continue
    return None


def _escap(target: Target, s: SeriesPaths, direction: int) -> str:
    """ESCAP label from the first and last observations towards the target's binding level."""
    h = s.history
    rule = KINDS[target.kind]
    if len(h) < 2 or rule.flows:  # a sum of flows has no level trajectory
        return ""
    base = None
    if rule.base:
        by = int(target.base_year)
        base = float(h[by]) if by in h.index else None
    level = target.threshold_level(base)
    band = rule.band(target)
    if level is None and band is not None:  # the nearer edge of the band
        last = float(h.iloc[-1])
        level = band[0] if abs(last - band[0]) <= abs(last - band[1]) else band[1]
    if level is None or not math.isfinite(level):
        return ""
    return escap_label(int(h.index[0]), float(h.iloc[0]), int(h.index[-1]), float(h.iloc[-1]),
                       target.year, float(level), direction=int(direction or 0))


# --------------------------------------------------------------------------------------------
# simulate and assess every scenario: the one compute step of forecast and run
# --------------------------------------------------------------------------------------------
def assess_scenarios(results: ForecastResults, scenarios: Sequence[str], catalog: Catalog, *,
                     thresholds: Sequence[float] = THRESHOLDS, until: int = 2030,
                     definitions: Mapping[str, Any] | None = None
                     ) -> tuple[dict[str, SamplePaths], pd.DataFrame, pd.DataFrame]:
    """Simulate each scenario of fitted ``results`` once and assess it.

    The one compute step behind both ``khforecast forecast`` and ``khforecast run``.

    Returns
    -------
    (paths, forecasts, assessment)
        ``paths[name]`` the :class:`SamplePaths` of each scenario (names de-duplicated, order
        kept); ``forecasts`` the forecasts.csv rows and ``assessment`` the assessment.csv rows
        of every scenario, one block after another.
    """
    paths: dict[str, SamplePaths] = {}
    for name in dict.fromkeys(scenarios):
        paths[name] = results.simulate(until, name, scenarios=definitions)
    forecasts = pd.concat([p.to_frame() for p in paths.values()], ignore_index=True)
    assessment = pd.concat([assess(p, catalog, thresholds=thresholds) for p in paths.values()],
                           ignore_index=True)
    return paths, forecasts, assessment
