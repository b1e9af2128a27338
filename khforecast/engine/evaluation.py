"""Pooled back-tests of the predictive engine: fit the calibration, score it out of sample.

Every back-test cell (a series of the pool, an origin, a horizon) holds where the realised value
fell relative to the models' own paths (:func:`khforecast.engine.calibration.backtest.backtest`). From those
cells and the pool's series this module

- fits a :class:`~khforecast.engine.predictive.PooledCalibration` (:func:`fit_pooled`);
- scores it **out of sample**, leave-one-panel-out or leave-one-family-out (a whole family of
  related panels held out at once: labour, health, education, access to services...):
  :func:`out_of_sample` gives each held-out cell its PIT and whether the central 50 / 80 / 90 /
  95 / 98 / 99 % intervals covered it;
- tabulates coverage by stratum (:func:`stratified_table`): domain x horizon group (1-2, 3-5,
  6-10) x history shape (smooth / noisy) x bound (``on``: a percent at 0 or 100; ``near``:
  within 5 points of one; ``far``).

Why one module of ~620 lines: fitting, scoring and the command that writes calibration.json all
read one table of back-test cells and one definition of its strata; split, the strata would be
defined twice and the fitted and the scored calibration could drift apart.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast import __version__
from khforecast._io import atomic_write_text
from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.calibration.derive import models_fingerprint
from khforecast.engine.pool import PoolSeries, load_pool, thin
from khforecast.engine.predictive import (BANDS, DEPART_LEVELS, HORIZONS, LENGTH_EDGES, LEVELS,
                                          NEAR, TRENDS, WIDTH_EDGES, PooledCalibration,
                                          bound_of, history_classes, length_class,
                                          percent_move_floor, width_class)
from khforecast.engine.scales import Scale, fit_scale

__all__ = ["COVERAGE_LEVELS", "PanelStats", "attach_features", "pool_stats", "coverage_table", "damped_centre", "derive", "fit_damping", "fit_pooled",
           "held_out_calibrations", "out_of_sample", "pit_histogram", "prob_at_least", "score",
           "strata_table", "stratified_table"]

COVERAGE_LEVELS: tuple[float, ...] = (0.50, 0.80, 0.90, 0.95, 0.98, 0.99)
_IQ80 = 2 * 1.2815515655446004
#: the share of the pooled series' yearly movements below which a history counts as flat
MIN_MOVE_QUANTILE = 0.10


def _hgroup(h: int) -> str:
    return "1-2" if h <= 2 else ("3-5" if h <= 5 else "6-10")


def attach_features(bt: pd.DataFrame, series: Sequence[PoolSeries]) -> pd.DataFrame:
    """Back-test cells (successful ones) with the history features the engine uses.

    Adds ``family, move`` (rms yearly change on the modelling scale), ``shape``, ``trend``
    (:func:`~khforecast.engine.strata.history_classes`), ``w`` (the
    models' own spread at that horizon), ``bound`` (0 / 100 when the last training value of a
    percent sits on it, else NaN), ``run`` (years on it), ``near`` (``on`` / ``near`` /
    ``far``) and ``hgroup``.
    """
    df = bt[bt["error"] == ""].drop(columns=["family"], errors="ignore").reset_index(drop=True)
    by_key = {(s.panel, s.series_id): s for s in series}
    cache: dict[tuple, tuple] = {}
    feats = []
    for panel, sid, fy, origin in zip(df["panel"], df["series_id"], df["first_year"], df["origin"]):
        key = (panel, sid, int(fy), int(origin))
        if key not in cache:
            s = by_key[(panel, sid)]
            i0 = int(np.searchsorted(s.years, fy))
            i1 = int(np.searchsorted(s.years, origin))
            train = s.values[i0:i1 + 1]
            z = fit_scale(train, s.domain).forward(train)
            move, shape, trend = history_classes(z)
            b, run = bound_of(train, s.domain)
            cache[key] = (s.family, move, shape, trend, np.nan if b is None else b, run)
        feats.append(cache[key])
    f = pd.DataFrame(feats, columns=["family", "move", "shape", "trend", "bound", "run"])
    df = pd.concat([df, f], axis=1)
    df["w"] = (df["d900"] - df["d100"]) / _IQ80
    last = df["last_value"].to_numpy()
    gap = np.minimum(last, 100 - last)
    df["near"] = np.where(df["bound"].notna(), "on",
                          np.where((df["domain"] == "percent") & (gap < NEAR), "near", "far"))
    df["hgroup"] = df["horizon"].map(_hgroup)
    return df


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PanelStats:
    """What one panel's series say about ratios and bounds (summed over panels when fitting)."""

    family: str
    ratios: list[list[float]]  # per horizon, the log h-year ratios of its positive series
    stay_n: dict[str, np.ndarray]  # run "1" / "2+" -> (HORIZONS,) cases on a bound
    stay_k: dict[str, np.ndarray]  # ... of which still on it h years later
    dists: list[list[float]]  # per horizon, the distances from the bound of those that left


def pool_stats(series: Sequence[PoolSeries]) -> dict[str, PanelStats]:
    """Per panel: the largest h-year ratios and the bound statistics of its series."""
    out: dict[str, PanelStats] = {}
    for s in series:
        st = out.get(s.panel)
        if st is None:
            st = out[s.panel] = PanelStats(
                s.family, [[] for _ in range(HORIZONS)],
                {"1": np.zeros(HORIZONS), "2+": np.zeros(HORIZONS)},
                {"1": np.zeros(HORIZONS), "2+": np.zeros(HORIZONS)}, [[] for _ in range(HORIZONS)])
        v = s.values
        if s.domain == "positive":
            for h in range(1, min(HORIZONS, len(v) - 1) + 1):
                a, b = v[:-h], v[h:]
                ok = (a > 0) & (b > 0)
                st.ratios[h - 1].extend(np.log(b[ok] / a[ok]).tolist())
        if s.domain != "percent":
            continue
        for t in range(len(v) - 1):
            bnd, run = bound_of(v[:t + 1], "percent")
            if bnd is None:
                continue
            key = "2+" if run >= 2 else "1"
            for h in range(1, min(HORIZONS, len(v) - 1 - t) + 1):
                st.stay_n[key][h - 1] += 1
                if v[t + h] == bnd:
                    st.stay_k[key][h - 1] += 1
                else:
                    st.dists[h - 1].append(abs(v[t + h] - bnd))
    return out


#: the cap on a positive series' rise is this quantile of the pooled h-year ratios: the largest
#: ratios (x623 in one year, x1,100 in six) are series restarting from near zero
RATIO_QUANTILE = 0.999


def _ratio_up(stats: Sequence[PanelStats]) -> tuple[float, ...]:
    """Log of the 99.9 % quantile of the h-year ratios y[t+h] / y[t] of the positive series."""
    q = [float(np.quantile(r, RATIO_QUANTILE)) if (r := [x for st in stats for x in st.ratios[h]])
         else 0.0 for h in range(HORIZONS)]
    return tuple(np.maximum.accumulate(q).tolist())


def _bound_stats(stats: Sequence[PanelStats]) -> tuple[dict[str, tuple[float, ...]],
                                                      tuple[tuple[float, ...], ...]]:
    """P(still on the bound h years later) by run length, and departure distances."""
    stay = {}
    for key in ("1", "2+"):
        n = sum((st.stay_n[key] for st in stats), np.zeros(HORIZONS))
        k = sum((st.stay_k[key] for st in stats), np.zeros(HORIZONS))
        # a Beta(1, 1)-smoothed share, then non-increasing in h (leaving cannot be undone less)
        stay[key] = tuple(np.minimum.accumulate((k + 1) / (n + 2)).tolist())
    depart = []
    pooled: list[float] = []
    for h in range(HORIZONS):
        dh = [d for st in stats for d in st.dists[h]]
        pooled.extend(dh)
        d = dh if len(dh) >= 30 else pooled  # thin horizons borrow the shorter ones
        depart.append(np.quantile(d, DEPART_LEVELS) if d else np.zeros(len(DEPART_LEVELS)))
    depart_arr = np.maximum.accumulate(np.array(depart), axis=0)  # further ahead, not closer
    return stay, tuple(tuple(r) for r in depart_arr.tolist())


def _last_z(df: pd.DataFrame) -> np.ndarray:
    """The last training value of each cell on the logit scale (percents; NaN elsewhere)."""
    eps = df["scale_eps"].to_numpy()
    p = np.clip(df["last_value"].to_numpy(), eps, 100 - eps) / 100
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df["domain"].to_numpy() == "percent", np.log(p) - np.log1p(-p), np.nan)


def _min_move(df: pd.DataFrame) -> dict[str, float]:
    """Per domain the pooled 10 % quantile of the histories' yearly movement (modelling scale);
    ``percent_points``: the percents' in percentage points at the last value (the logit movement
    over the logit's slope there)."""
    cases = df.drop_duplicates(["panel", "series_id", "origin", "n_train"])
    out = {}
    for dom, g in cases.groupby("domain"):
        m = g["move"].to_numpy()
        m = m[m > 0]
        out[str(dom)] = float(np.quantile(m, MIN_MOVE_QUANTILE)) if m.size else 0.01
    for dom in ("percent", "positive", "real"):
        out.setdefault(dom, 0.01)
    pc = cases[cases["domain"] == "percent"]
    if len(pc):
        p = 1 / (1 + np.exp(-_last_z(pc)))
        pts = pc["move"].to_numpy() * 100 * p * (1 - p)
        pts = pts[pts > 0]
        if pts.size:
            out["percent_points"] = float(np.quantile(pts, MIN_MOVE_QUANTILE))
    return out


def _scale(df: pd.DataFrame, min_move: Mapping[str, float]) -> np.ndarray:
    """s_h of every cell (:func:`khforecast.engine.predictive.width_scale`, with
    :func:`khforecast.engine.predictive.move_floor`)."""
    mm = df["domain"].map({k: v for k, v in min_move.items() if k != "percent_points"}
                          ).fillna(0.01).to_numpy()
    m = np.maximum(df["move"].to_numpy(), mm)
    pc = (df["domain"] == "percent").to_numpy()
    if "percent_points" in min_move and pc.any():
        m[pc] = np.maximum(m[pc], percent_move_floor(min_move["percent_points"],
                                                     _last_z(df)[pc]))
    return np.sqrt(df["w"].to_numpy() ** 2 + m ** 2 * df["horizon"].to_numpy())


def _bands(df: pd.DataFrame) -> np.ndarray:
    """Each cell's quantile band (:func:`khforecast.engine.predictive.quantile_band`)."""
    near = df["near"].to_numpy()
    return np.where(near == "near", "near",
                    np.where(df["domain"].to_numpy() == "percent", "mid", "far"))


def _length_factors(u: np.ndarray, h: np.ndarray, lc: np.ndarray, dom: np.ndarray
                    ) -> dict[str, tuple[tuple[float, ...], ...]]:
    """Per domain (and ``all``), horizon and length class: how much wider that domain's and
    class's standardised errors are than all cells' (the mean of the ratios of their 80 % and
    95 % central ranges; horizons h-1..h+1 pooled; a class with too few cells gets its
    domain's factor, a domain with too few 1). The percents' errors
    on the logit scale are wider than the positive series' on the log scale: the quantiles are
    pooled over both, the factor carries the difference."""
    out = {"all": _length_rows(u, h, lc, u, h)}
    for d in sorted(set(dom)):
        m = dom == d
        out[str(d)] = _length_rows(u[m], h[m], lc[m], u, h)
    return out


def _length_rows(u: np.ndarray, h: np.ndarray, lc: np.ndarray, ref_u: np.ndarray,
                 ref_h: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """:func:`_length_factors` of one domain (``ref_*``: every cell)."""
    def spread(x: np.ndarray) -> np.ndarray:
        q = np.quantile(x, (0.025, 0.1, 0.9, 0.975))
        return np.array([q[2] - q[1], q[3] - q[0]])

    rows = []
    for hh in range(1, HORIZONS + 1):
        near = np.abs(h - hh) <= 1
        ref = spread(ref_u[np.abs(ref_h - hh) <= 1])
        whole = float(np.mean(spread(u[near]) / ref)) if near.sum() >= MIN_CELLS else 1.0
        rows.append(tuple(float(np.mean(spread(u[near & (lc == k)]) / ref))
                          if (near & (lc == k)).sum() >= MIN_CELLS else whole
                          for k in range(len(LENGTH_EDGES) + 1)))
    return tuple(rows)


#: damping factors tried (the share of the models' projected change kept)
DAMPING_GRID = np.round(np.arange(0.0, 1.2001, 0.05), 2)


def fit_damping(df: pd.DataFrame) -> dict[str, tuple[float, ...]]:
    """Per domain (and ``all``), trend class and length class: the damping factor ``d`` with the
    least mean absolute error of ``last + d x (model median - last)`` on the modelling scale."""
    z, zl = df["z"].to_numpy(), df["z_last"].to_numpy()
    lc = length_class(df["n_train"].to_numpy())
    dom, trend = df["domain"].to_numpy(), df["trend"].to_numpy()
    out: dict[str, tuple[float, ...]] = {}
    for d in ("all", *sorted(set(dom))):
        for t in TRENDS:
            row = []
            for k in range(len(LENGTH_EDGES) + 1):
                sel = (trend == t) & (lc == k) & ((dom == d) | (d == "all"))
                if sel.sum() < MIN_CELLS:
                    row.append(out[f"all|{t}"][k] if d != "all" else 1.0)
                    continue
                err = [np.mean(np.abs(z[sel] + (g - 1.0) * zl[sel])) for g in DAMPING_GRID]
                row.append(float(DAMPING_GRID[int(np.argmin(err))]))
            out[f"{d}|{t}"] = tuple(row)
    return out


def damped_centre(df: pd.DataFrame, damping: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """``df`` with ``z`` and ``z_last`` measured from the damped median (the engine's centre);
    ``shift`` is that median minus the models' (modelling scale)."""
    lc = length_class(df["n_train"].to_numpy())
    keys = (df["domain"] + "|" + df["trend"]).to_numpy()
    lam = np.array([(damping.get(k) or damping["all|" + k.split("|")[1]])[c]
                    for k, c in zip(keys, lc)], dtype=float) if len(df) else np.zeros(0)
    zl = df["z_last"].to_numpy()
    out = df.copy()
    out["shift"] = -(lam - 1.0) * zl
    out["z"] = df["z"].to_numpy() - out["shift"].to_numpy()
    out["z_last"] = zl - out["shift"].to_numpy()
    return out


def _factor(df: pd.DataFrame, length_factor: Mapping[str, Sequence[Sequence[float]]]
            ) -> np.ndarray:
    """Each cell's length factor (:meth:`~khforecast.engine.predictive.PooledCalibration.length_factors`)."""
    h = np.minimum(df["horizon"].to_numpy(), HORIZONS) - 1
    lc = length_class(df["n_train"].to_numpy())
    dom = df["domain"].to_numpy()
    out = np.empty(len(df))
    for d in set(dom):
        m = dom == d
        lf = np.asarray(length_factor.get(d, length_factor["all"]), dtype=float)
        out[m] = lf[h[m], lc[m]]
    return out


MIN_CELLS = 200
"""Fewest back-test cells behind a stratum's quantiles (adjacent horizons are pooled until then)."""


def _stratum_quantiles(u: np.ndarray, dist: np.ndarray, pools: list[np.ndarray], h: int
                       ) -> tuple[float, ...]:
    """Quantiles of u over the first pool (then the wider ones) with enough cells at horizons
    within a growing distance of h."""
    for pool in pools:
        for width in range(0 if h == 1 else 1, HORIZONS):
            sel = pool & (dist <= width)
            if sel.sum() >= MIN_CELLS:
                return tuple(np.quantile(u[sel], LEVELS).tolist())
    return tuple(np.quantile(u, LEVELS).tolist())


def fit_pooled(cells: pd.DataFrame, stats: Mapping[str, PanelStats], meta: dict | None = None
               ) -> PooledCalibration:
    """Fit the calibration from back-test cells (:func:`attach_features`) and :func:`pool_stats`."""
    free = cells[cells["near"] != "on"]
    damping = fit_damping(free)
    free = damped_centre(free, damping)
    mm = _min_move(free)
    s = _scale(free, mm)
    h = free["horizon"].to_numpy()
    away = (free["near"] != "near").to_numpy()
    # the length factors are measured away from a bound, where the standardised errors are not
    # distorted by the logit's steepness (the near band's quantiles carry that)
    lf = _length_factors((free["z"].to_numpy() / s)[away], h[away],
                         length_class(free["n_train"].to_numpy())[away],
                         free["domain"].to_numpy()[away])
    u = free["z"].to_numpy() / (s * _factor(free, lf))
    shape = free["shape"].to_numpy()
    band = _bands(free)
    wc = width_class(s, h)
    quantiles = {}
    for hh in range(1, HORIZONS + 1):
        for sh in ("smooth", "noisy"):
            for b in BANDS:
                # the positive series' quantiles stay pooled with the interior percents' cells:
                # held out a family at a time, alone they were too thin in the tails (up to
                # 2.4 % outside the 99 % band)
                inb = away if b == "far" else band == b
                for k in range(len(WIDTH_EDGES) + 1):
                    quantiles[f"{hh}|{sh}|{b}|{k}"] = _stratum_quantiles(
                        u, np.abs(h - hh), [(shape == sh) & inb & (wc == k), inb & (wc == k),
                                            wc == k], hh)
    stay, depart = _bound_stats(list(stats.values()))
    return PooledCalibration(quantiles, mm, lf, damping, _ratio_up(list(stats.values())), stay,
                             depart, meta or {})


# --------------------------------------------------------------------------------------------
def _bound_quantile(p: np.ndarray, bound: float, stay: float, dq: np.ndarray) -> np.ndarray:
    """Quantiles at levels ``p`` of the on-bound mixture (point mass ``stay`` at the bound)."""
    lv = np.asarray(DEPART_LEVELS)
    if bound >= 100:
        return np.where(p >= 1 - stay, 100.0,
                        100.0 - np.interp(1 - p / max(1 - stay, 1e-12), lv, dq))
    return np.where(p <= stay, 0.0, np.interp((p - stay) / max(1 - stay, 1e-12), lv, dq))


def score(cells: pd.DataFrame, cal: PooledCalibration, rng: np.random.Generator | None = None
          ) -> pd.DataFrame:
    """Each cell's PIT and coverage of the central intervals under ``cal``.

    Adds ``pit`` (randomised at a point mass), ``cov50 ... cov99`` (bool) and ``p_above_last``
    (P(value > the last training value)) to a copy of ``cells``, whose ``z`` and ``z_last`` are
    measured from the damped median there (``shift``: it minus the models' median).
    """
    rng = rng or np.random.default_rng(0)
    df = damped_centre(cells, cal.damping)
    n = len(df)
    pit = np.full(n, np.nan)
    lo = {a: np.full(n, np.nan) for a in COVERAGE_LEVELS}
    hi = {a: np.full(n, np.nan) for a in COVERAGE_LEVELS}
    levels = np.asarray(LEVELS)
    free = (df["near"] != "on").to_numpy()
    s = _scale(df, cal.min_move)
    wc = width_class(s, df["horizon"].to_numpy())
    s = s * _factor(df, cal.length_factor)
    u = df["z"].to_numpy() / s
    zl = df["z_last"].to_numpy()
    p_last = np.full(n, np.nan)
    keys = (df["horizon"].astype(str) + "|" + df["shape"] + "|"
            + pd.Series(_bands(df), index=df.index) + "|"
            + pd.Series(wc, index=df.index).astype(str)).to_numpy()
    for key in np.unique(keys[free]):
        sel = free & (keys == key)
        hh, sh, band, k = key.split("|")
        if sel.any():
            q = cal.error_quantiles(int(hh), sh, band, int(k))
            pit[sel] = np.interp(u[sel], q, levels, left=0.0, right=1.0)
            p_last[sel] = 1 - np.interp(zl[sel] / s[sel], q, levels, left=0.0, right=1.0)
            for a in COVERAGE_LEVELS:
                lo[a][sel] = np.interp((1 - a) / 2, levels, q) * s[sel]
                hi[a][sel] = np.interp((1 + a) / 2, levels, q) * s[sel]
    z = df["z"].to_numpy()
    cov = {a: (z >= lo[a]) & (z <= hi[a]) for a in COVERAGE_LEVELS}
    value = df["value"].to_numpy()
    for i in np.flatnonzero(~free):
        b, run, hh = float(df["bound"].iat[i]), int(df["run"].iat[i]), int(df["horizon"].iat[i])
        st, dq = cal.stay_prob(hh, run), cal.depart_quantiles(hh)
        for a in COVERAGE_LEVELS:
            lo_v, hi_v = _bound_quantile(np.array([(1 - a) / 2, (1 + a) / 2]), b, st, dq)
            cov[a][i] = lo_v - 1e-9 <= value[i] <= hi_v + 1e-9
        dist = abs(value[i] - b)
        f_d = float(np.interp(dist, dq, np.asarray(DEPART_LEVELS))) if dist > 0 else 0.0
        if b >= 100:  # value = 100 - D: F(v) = (1 - stay) * P(D >= 100 - v)
            pit[i] = rng.uniform(1 - st, 1) if dist == 0 else (1 - st) * (1 - f_d)
            p_last[i] = 0.0
        else:
            pit[i] = rng.uniform(0, st) if dist == 0 else st + (1 - st) * f_d
            p_last[i] = 1 - st
    df["pit"] = pit
    for a in COVERAGE_LEVELS:
        df[f"cov{round(a * 100)}"] = cov[a]
    df["p_above_last"] = p_last
    return df


def held_out_calibrations(cells: pd.DataFrame, stats: Mapping[str, PanelStats],
                          by: str = "family") -> dict[str, PooledCalibration]:
    """For each ``by`` group (family or panel), the calibration fitted on all the others."""
    def group(panel: str, st: PanelStats) -> str:
        return st.family if by == "family" else panel

    return {g: fit_pooled(cells[cells[by] != g],
                          {p: st for p, st in stats.items() if group(p, st) != g})
            for g in sorted(cells[by].unique())}


def out_of_sample(cells: pd.DataFrame, stats: Mapping[str, PanelStats], by: str = "family",
                  cals: dict[str, PooledCalibration] | None = None) -> pd.DataFrame:
    """Score every cell with a calibration fitted without its ``by`` group (family or panel)."""
    cals = cals or held_out_calibrations(cells, stats, by)
    parts = [score(cells[cells[by] == g], cal, np.random.default_rng(i))
             for i, (g, cal) in enumerate(sorted(cals.items()))]
    return pd.concat(parts).sort_index()


def prob_at_least(cells: pd.DataFrame, threshold: np.ndarray, cal: PooledCalibration
                  ) -> np.ndarray:
    """P(value >= threshold) of each cell under ``cal`` (thresholds on the original scale)."""
    thr = np.asarray(threshold, dtype=float)
    out = np.empty(len(cells))
    levels = np.asarray(LEVELS)
    s = _scale(cells, cal.min_move)
    wc = width_class(s, cells["horizon"].to_numpy())
    s = s * _factor(cells, cal.length_factor)
    shift = damped_centre(cells, cal.damping)["shift"].to_numpy()
    bands = _bands(cells)
    for i, r in enumerate(cells.itertuples(index=False)):
        if r.near == "on":
            st, dq = cal.stay_prob(r.horizon, r.run), cal.depart_quantiles(r.horizon)
            lv = np.asarray(DEPART_LEVELS)
            if r.bound >= 100:  # value = 100 - D
                out[i] = st * (thr[i] <= 100) + (1 - st) * (1 - np.interp(100 - thr[i], dq, lv))
            else:  # value = D
                out[i] = 1.0 if thr[i] <= 0 else (1 - st) * (1 - np.interp(thr[i], dq, lv))
            continue
        sc = Scale(r.domain, r.scale_eps, r.scale_offset,
                   r.scale_offset if r.scale_offset > 0 else np.finfo(float).tiny)
        zt = float(sc.forward(thr[i]) - sc.forward(r.median)) - shift[i]
        q = cal.error_quantiles(r.horizon, r.shape, str(bands[i]), int(wc[i]))
        out[i] = 1.0 - np.interp(zt / s[i], q, levels, left=0.0, right=1.0)
    return out


def _summary(g: pd.DataFrame) -> dict:
    p = np.sort(g["pit"].to_numpy())
    k = len(p)
    ks = float(max(np.max(np.arange(1, k + 1) / k - p), np.max(p - np.arange(k) / k))) if k else np.nan
    out = {"n": k}
    for a in COVERAGE_LEVELS[:-1]:
        out[f"cov{round(a * 100)}"] = float(g[f"cov{round(a * 100)}"].mean())
    out["out99"] = float(1 - g["cov99"].mean())
    out["pit_ks"] = ks
    return out


def stratified_table(scored: pd.DataFrame,
                     by: Sequence[str] = ("domain", "hgroup", "shape", "near")) -> pd.DataFrame:
    """Coverage of the central 50/80/90/95/98 % intervals, 99 % breaches and PIT KS by stratum."""
    rows = [{**dict(zip(by, k if isinstance(k, tuple) else (k,))), **_summary(g)}
            for k, g in scored.groupby(list(by), sort=True)]
    rows.append({**{c: "all" for c in by}, **_summary(scored)})
    return pd.DataFrame(rows)


def strata_table(scored: pd.DataFrame) -> pd.DataFrame:
    """:func:`stratified_table` with each stratum's 20-bin PIT histogram (``pit01..pit20``)."""
    by = ["domain", "hgroup", "shape", "near"]
    tab = stratified_table(scored, by)
    hist = {k: pit_histogram(g["pit"]) for k, g in scored.groupby(by, sort=True)}
    hist[("all",) * 4] = pit_histogram(scored["pit"])
    cols = np.array([hist[tuple(r)] for r in tab[by].itertuples(index=False)])
    return pd.concat([tab, pd.DataFrame(cols, columns=[f"pit{i:02d}" for i in range(1, 21)])],
                     axis=1)


def pit_histogram(pit: np.ndarray, bins: int = 20) -> np.ndarray:
    """Densities of the PIT in ``bins`` equal bins (1.0 everywhere when calibrated)."""
    counts, _ = np.histogram(np.asarray(pit, dtype=float), bins=bins, range=(0.0, 1.0))
    return counts / max(counts.sum(), 1) * bins


# --------------------------------------------------------------------------------------------
# the derivation command
# --------------------------------------------------------------------------------------------
def coverage_table(lofo: pd.DataFrame, lopo: pd.DataFrame, n_series: int) -> pd.DataFrame:
    """The shipped summary (``calibration_table.csv``): coverage of each central interval."""
    rows = []
    for a in COVERAGE_LEVELS:
        c = f"cov{round(a * 100)}"
        rows.append({"interval": f"{round(a * 100)}%", "nominal": a,
                     "coverage": round(float(lofo[c].mean()), 4),
                     "coverage_panel_out": round(float(lopo[c].mean()), 4),
                     "n_backtests": len(lofo), "n_series": n_series,
                     "method": "leave-one-family-out (and leave-one-panel-out)"})
    return pd.DataFrame(rows)


def _backtests(series: Sequence[PoolSeries], *, seed: int, n_sims: int, max_cases: int, jobs: int,
               cache: Path | None) -> pd.DataFrame:
    """The pool's back-tests, reused from ``cache`` when it holds the same run (the slow step)."""
    key = {"seed": seed, "n_sims": n_sims, "max_cases": max_cases,
           "series": [(s.panel, s.series_id) for s in series], "models_sha256": models_fingerprint()}
    if cache is not None and cache.is_file():
        saved = pd.read_pickle(cache)
        if saved.get("key") == key:
            return saved["backtests"]
        print(f"# {cache}: back-tests of another run or other models, not reused", file=sys.stderr)
    bt = backtest(series, n_sims=n_sims, seed=seed, max_cases=max_cases, jobs=jobs)
    if cache is not None:
        tmp = cache.with_name(cache.name + ".tmp")
        pd.to_pickle({"key": key, "backtests": bt}, tmp)
        tmp.replace(cache)
    return bt


def derive(*, seed: int = 20240809, n_sims: int = 1000, max_series: int = 120, max_cases: int = 5,
           jobs: int = 1, cache: Path | None = None
           ) -> tuple[PooledCalibration, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Back-test the pool, fit the shipped calibration on all of it, score it out of sample.

    ``cache``: a pickle of the back-tests, written when missing and reused when it holds the
    same run (seed, sims, cases, series and models' fingerprint). Returns (calibration, cells,
    leave-one-family-out scores, leave-one-panel-out scores).
    """
    full = load_pool()
    series = thin(full, max_series, seed)
    bt = _backtests(series, seed=seed, n_sims=n_sims, max_cases=max_cases, jobs=jobs, cache=cache)
    cells = attach_features(bt, series)
    stats = pool_stats(full)
    lofo = out_of_sample(cells, stats, by="family")
    lopo = out_of_sample(cells, stats, by="panel")
    meta = {
        "command": "python -m khforecast.engine.evaluation --out khforecast/data/calibration.json",
        "seed": seed, "n_sims": n_sims, "max_cases": max_cases, "max_series_per_panel": max_series,
        "panels": sorted({s.panel for s in series}),
        "families": sorted({s.family for s in series}),
        "n_series": len(series), "n_backtests": len(cells),
        "n_failed": int((bt["error"] != "").sum()),
        "out_of_sample": "leave-one-family-out",
        **{f"oos_coverage{round(a * 100)}": round(float(lofo[f'cov{round(a * 100)}'].mean()), 4)
           for a in COVERAGE_LEVELS},
        "oos_out99": round(float(1 - lofo["cov99"].mean()), 4),
        "khforecast_version": __version__,
        "models_sha256": models_fingerprint(),
    }
    cal = fit_pooled(cells, stats, meta)
    return cal, cells, lofo, lopo


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m khforecast.engine.evaluation --out PATH``: re-derive the calibration, print the tables."""
    p = argparse.ArgumentParser(prog="python -m khforecast.engine.evaluation",
                                description="re-derive khforecast's calibration from the pool")
    p.add_argument("--out", required=True, type=Path, help="the calibration JSON to write")
    p.add_argument("--table", type=Path, default=None,
                   help="coverage summary CSV (default: calibration_table.csv beside --out)")
    p.add_argument("--seed", type=int, default=20240809)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--max-series", type=int, default=120, help="series per panel (seeded sample)")
    p.add_argument("--max-cases", type=int, default=5, help="back-test origins per series")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--backtests", type=Path, default=None,
                   help="a pickle of the back-tests to reuse (written there when missing)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    cal, cells, lofo, lopo = derive(seed=args.seed, n_sims=args.sims, max_series=args.max_series,
                                    max_cases=args.max_cases, jobs=args.jobs, cache=args.backtests)
    atomic_write_text(args.out, cal.to_json())
    table = coverage_table(lofo, lopo, cal.meta["n_series"])
    atomic_write_text(args.table or args.out.with_name("calibration_table.csv"),
                      table.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(args.out.with_name("calibration_strata.csv"),
                      strata_table(lofo).to_csv(index=False, lineterminator="\n",
                                                float_format="%.4f"))
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    print(f"# {len(cells)} back-test cells, {cal.meta['n_series']} series, "
          f"{len(cal.meta['panels'])} panels, {len(cal.meta['families'])} families; "
          f"{time.perf_counter() - t0:.0f} s")
    print(table.to_string(**fmt))
    print("\n## leave-one-family-out, by stratum")
    print(stratified_table(lofo).to_string(**fmt))
    print("\n## leave-one-family-out, by family held out")
    print(stratified_table(lofo, by=("family",)).to_string(**fmt))
    print("\n## leave-one-panel-out, by stratum")
    print(stratified_table(lopo).to_string(**fmt))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
