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

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
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
        series = _Series(s) if s is not None else None  # what both target years read, once
        for year in TARGET_YEARS:
            target = ind.targets.get(year)
            if target is None:
                continue
            rows.append(_row(ind, target, series, paths, (hi, lo)))
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


class _Series:
    """One series and what its target rows read, each computed once: the history (a pandas
    Series, slow to build) and the median path."""

    def __init__(self, s: SeriesPaths) -> None:
        self.s = s
        self.history = s.history
        self._median: np.ndarray | None = None

    @property
    def median(self) -> np.ndarray:
        """The median of the paths, per year (1, n_years)."""
        if self._median is None:
            self._median = np.median(self.s.paths, axis=0)[None, :]
        return self._median


def _row(ind: Indicator, target: Target, series: _Series | None, paths: SamplePaths,
         thresholds: tuple[float, float]) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in ASSESSMENT_COLUMNS + EXTRA_COLUMNS}
    row.update(indicator_id=ind.id, place=paths.place, scenario=paths.scenario,
               target_year=target.year, target_text=target.text, target_kind=target.kind,
               escap_label="", model="", nowcast=False)
    s = series.s if series is not None else None
    if series is not None:
        row.update(n_obs=s.n_obs, last_year=s.last_year, last_value=s.last_value, model=s.model,
                   historical_annual_change=_historical_change(s, series.history))
    else:
        row.update(n_obs=0)
    if not target.is_quantitative:  # qualitative, or no target for this year ('-')
        row["status"] = KINDS[target.kind].no_test_status
        return row
    if series is None:
        row["status"] = "no_data"
        return row
    history = series.history
    row["required_annual_change"] = target.required_annual_change(s.last_year, s.last_value, history)
    observed_years = set(history.index.tolist())
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
    row["required_change_p50"], row["required_change_p80"] = _required_changes(
        target, s, history, (0.5, 0.8))
    row["year_reached_median"] = _year_reached(target, s, series.median)
    row["escap_label"] = _escap(target, history, getattr(ind, "direction", 0))
    return row


def _projected(row: dict[str, Any], target: Target, s: SeriesPaths) -> None:
    q = target.quantity(s.paths, s.years)
    q = q[np.isfinite(q)]
    if q.size:
        row["projected_q10"], row["projected_q50"], row["projected_q90"] = (
            float(v) for v in np.quantile(q, (0.1, 0.5, 0.9)))


def _historical_change(s: SeriesPaths, h: pd.Series) -> float | None:
    """Least-squares slope of the observed values ``h`` per year (the mean flow for flows)."""
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


#: bisection steps decided per batch (2**steps - 1 shifts, see _bisect): all paths, few paths
_LOOKAHEAD = {"all": 2, "few": 4}


class _ShiftedProb:
    """``p_meet`` of the paths with yearly trends ``d`` added, as ``target.prob_met(_shift(...))``
    computes it (the same float operations, so the same numbers) for many ``d`` in one pass and
    without its per-call checks: the bisection of :func:`_required_changes` asks for ~50."""

    def __init__(self, target: Target, paths: np.ndarray, years: np.ndarray, last_year: int,
                 flow: bool, domain: str) -> None:
        self.target, self.paths = target, paths
        self.rule = KINDS[target.kind]
        self.first = int(years[0])
        self.steps = np.clip(years - last_year, 0, None).astype(float)
        self.flow, self.domain = flow, domain

    def meets(self, ds: Sequence[float]) -> np.ndarray:
        """Whether each path meets the target with each trend: bool (len(ds), n_paths)."""
        d = np.asarray(ds, dtype=float)[:, None]
        add = np.where(self.steps > 0, d, 0.0) if self.flow else d * self.steps  # (m, k)
        n, k = self.paths.shape
        x = clip_to_domain((self.paths[None, :, :] + add[:, None, :]).reshape(len(d) * n, k),
                           self.domain)
        q = self.rule.quantity(self.target, x, self.first)
        return self.rule.meets(self.target, q, self.target.rounded(q)).reshape(len(d), n)

    def __call__(self, ds: Sequence[float]) -> list[float]:
        return (np.count_nonzero(self.meets(ds), axis=1) / self.paths.shape[0]).tolist()

    def decider(self, prob: float) -> tuple[Callable[[Sequence[float]], list[bool]], int]:
        """``ds -> [p(d) >= prob for d in ds]``, reading one path per ``d`` where it can, and
        the bisection steps to decide per call (:data:`_LOOKAHEAD`).

        When the target tests one year's level with a monotone test (:attr:`KindRule.monotone`)
        the paths that meet are the highest (or the lowest) of that column, so "at least K of
        n meet" is whether the K-th from that end meets: the same answer from 4 values
        (both ends, to see which end meets, and the two K-th) instead of n.
        """
        col = self.paths[:, 0]
        n = col.size
        if not (self.rule.monotone and self.paths.shape[1] == 1 and n
                and not np.isnan(col).any()):
            return (lambda ds: [v >= prob for v in self(ds)]), _LOOKAHEAD["all"]
        k = min(max(int(prob * n) - 1, 0), n + 1)  # the fewest paths that make p >= prob, as
        while k > 0 and (k - 1) / n >= prob:     # p is computed (count / n): found from an
            k -= 1                               # estimate a step or two away
        while k <= n and k / n < prob:
            k += 1
        order = np.sort(col)
        few = copy.copy(self)
        few.paths = order[[0, n - 1, max(n - k, 0), max(k - 1, 0)]][:, None]

        def decide(ds: Sequence[float]) -> list[bool]:
            out = []
            for low, high, kth_top, kth_bottom in few.meets(ds).tolist():
                if k > n:
                    out.append(False)
                elif k == 0 or low == high:  # nobody or everybody meets
                    out.append(k == 0 or low)
                else:
                    out.append(kth_top if high else kth_bottom)
            return out

        return decide, _LOOKAHEAD["few"]


def _bisect(decide: Callable[[Sequence[float]], list[bool]], steps: int, rising: bool,
            lo_d: float, hi_d: float, tol: float) -> tuple[float, float]:
    """The bisection ``while hi - lo > tol: mid = (lo + hi) / 2; ...`` on ``p(mid) >= prob``
    (``decide``), step for step (the same mids, so the same result), deciding ``steps`` steps
    per call: every mid those steps could visit is asked in one batch."""
    while hi_d - lo_d > tol:
        mids: list[float] = []  # the tree of mids, breadth first: node i's children 2i+1, 2i+2
        bounds = [(lo_d, hi_d)]
        for i in range(2 ** steps - 1):
            lo, hi = bounds[i]
            mid = 0.5 * (lo + hi)
            mids.append(mid)
            bounds += [(lo, mid), (mid, hi)]
        verdicts = decide(mids)
        i = 0
        for _ in range(steps):
            if not hi_d - lo_d > tol:
                break
            if verdicts[i] == rising:
                hi_d = mids[i]
                i = 2 * i + 1
            else:
                lo_d = mids[i]
                i = 2 * i + 2
    return lo_d, hi_d


def _required_changes(target: Target, s: SeriesPaths, history: pd.Series,
                      probs: Sequence[float]) -> tuple[float | None, ...]:
    """For each of ``probs``: the median path's yearly change that gives ``p_meet == prob``
    (bisection on a trend added to every path).

    None when the target reads a band (p_meet is not monotone in the trend) or when no shift
    within ±20 times the series' scale per year reaches ``prob``.
    """
    if KINDS[target.kind].band(target) is not None:
        return tuple(None for _ in probs)
    # only the years the target reads matter: bisect on those columns
    first = min(min(target.needed_years), target.year)
    cols = (s.years >= first) & (s.years <= target.year)
    paths, years = s.paths[:, cols], s.years[cols]
    flow = s.observed_as == "flow"
    scale = max(float(np.nanmax(np.abs(history.to_numpy()))), 1e-9)
    p = _ShiftedProb(target, paths, years, s.last_year, flow, s.domain)
    out: list[float | None] = []
    with np.errstate(invalid="ignore"):  # as Target.meets: a NaN path does not meet
        p_lo, p_hi = p([-20.0 * scale, 20.0 * scale])  # the same ends for every prob
        for prob in probs:
            if p_lo == p_hi or not (min(p_lo, p_hi) <= prob <= max(p_lo, p_hi)):
                out.append(None)
                continue
            rising = p_hi > p_lo
            lo_d, hi_d = _bisect(*p.decider(prob), rising, -20.0 * scale, 20.0 * scale,
                                 1e-5 * scale)
            delta = hi_d if rising else lo_d
            x = _shift(paths, years, s.last_year, flow, s.domain, delta)
            fut = years > s.last_year
            if flow:
                out.append(float(np.median(x[:, fut].mean(axis=1))))
            else:
                out.append(float(np.median((x[:, -1] - s.last_value) / (target.year - s.last_year))))
    return tuple(out)


def _year_reached(target: Target, s: SeriesPaths, med: np.ndarray) -> int | None:
    """First year (from the last observed one) in which the median path ``med`` meets the target."""
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


def _escap(target: Target, h: pd.Series, direction: int) -> str:
    """ESCAP label from the first and last observations ``h`` towards the target's binding level."""
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
