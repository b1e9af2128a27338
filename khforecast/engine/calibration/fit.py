"""Offline derivation, step 3: fit floor, spreads and tails to the back-tests.

Out-of-sample coverage.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from khforecast.engine.calibration.runtime import (
    _DCOLS,
    _GRID,
    _IQ80,
    HORIZONS,
    N_OBS_BUCKETS,
    TAIL_CLIP,
    Calibration,
    _bucket,
)
from khforecast.errors import KhforecastError

__all__ = [
    "calibration_table",
    "fit_spread",
    "out_of_sample_params",
]


# --------------------------------------------------------------------------------------------
# fitting and scoring
# --------------------------------------------------------------------------------------------
# A predictive distribution at spread s and tail tau is the scale mixture
#     F(z) = E_e[ F1(z / (s * exp(tau * e))) ],  e = clip(N(0, 1), -TAIL_CLIP, TAIL_CLIP),
# of the models' own distribution F1 (spread 1) on the modelling scale: tau = 0 is a plain
# widening, tau > 0 gives heavier tails (pooled series differ in how wrong their models are).
# F1 is known per back-test through its quantile offsets d; the expectation uses Gauss-Hermite
# nodes. To fit fast, F1(z * c) is tabulated once per back-test on a log grid of c = 1/s, and a
# node's factor exp(tau * x_k) is a shift along that grid.
_LOG_C = np.linspace(np.log(1 / 30), np.log(30), 341)  # c = 1 / spread, step 0.02 in log
_STEP = float(_LOG_C[1] - _LOG_C[0])
_TAU_GRID = np.round(np.arange(0.0, 1.21, 0.2), 2)
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(9)
_GH_X = np.clip(_GH_X, -TAIL_CLIP, TAIL_CLIP)  # quadrature of the clipped normal
_GH_W = _GH_W / _GH_W.sum()


def _offsets(bt: pd.DataFrame) -> np.ndarray:
    return bt[_DCOLS].to_numpy(dtype=float)


def _cdf_rows(z: np.ndarray, d: np.ndarray) -> np.ndarray:
    """F1 of each row at ``z`` (rows, or rows x k), piecewise linear through the row's offsets."""
    z2 = z if z.ndim == 2 else z[:, None]
    out = np.empty(z2.shape)
    n_knots = d.shape[1]
    for j in range(z2.shape[1]):
        zj = z2[:, j]
        idx = (d <= zj[:, None]).sum(axis=1)  # knots at or below zj
        lo = np.clip(idx - 1, 0, n_knots - 1)
        hi = np.clip(idx, 0, n_knots - 1)
        dl, dh = d[np.arange(len(zj)), lo], d[np.arange(len(zj)), hi]
        gl, gh = _GRID[lo], _GRID[hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(dh > dl, (zj - dl) / (dh - dl), 0.0)
        val = gl + np.clip(frac, 0.0, 1.0) * (gh - gl)
        val = np.where(idx == 0, 0.0, np.where(idx == n_knots, 1.0, val))
        out[:, j] = val
    return out if z.ndim == 2 else out[:, 0]


def _mix_cdf(bt: pd.DataFrame, s: np.ndarray, tau: np.ndarray, col: str = "z") -> np.ndarray:
    """The calibrated predictive CDF of each back-test at its ``col`` offset."""
    d = _offsets(bt)
    z = bt[col].to_numpy(dtype=float)
    m = np.exp(np.outer(np.asarray(tau, dtype=float), _GH_X))  # rows x nodes
    vals = _cdf_rows(z[:, None] / (np.asarray(s, dtype=float)[:, None] * m), d)
    return vals @ _GH_W


_FLOOR_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)


def _row_floor(bt: pd.DataFrame, floor: float) -> np.ndarray:
    """Per back-test row, the floor factor (>= 1) of :func:`floor_factor` for its horizon."""
    if floor <= 0:
        return np.ones(len(bt))
    width = (bt["d900"].to_numpy(dtype=float) - bt["d100"].to_numpy(dtype=float)) / _IQ80
    want = floor * bt["sd_dz"].to_numpy(dtype=float) * np.sqrt(bt["horizon"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(width > 0, want / width, 1.0)
    return np.maximum(np.nan_to_num(f, nan=1.0, posinf=1.0), 1.0)


def _coverage_counts(bt: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per (panel, bucket, horizon) cell: n, and covered counts (floor, cell, tau, c-grid)."""
    d = _offsets(bt)
    z = bt["z"].to_numpy(dtype=float)
    table = _cdf_rows(z[:, None] * np.exp(_LOG_C)[None, :], d).astype(np.float32)  # rows x C
    cells = pd.DataFrame({"panel": bt["panel"].to_numpy(),
                          "bucket": bt["n_train"].map(_bucket).to_numpy(),
                          "horizon": bt["horizon"].to_numpy()})
    key = cells.groupby(["panel", "bucket", "horizon"], sort=True).ngroup().to_numpy()
    n_cells = int(key.max()) + 1
    n_c = len(_LOG_C)
    shape = (len(_FLOOR_GRID), n_cells, len(_TAU_GRID), n_c)
    c80 = np.zeros(shape, dtype=np.float32)
    c95 = np.zeros(shape, dtype=np.float32)
    order = np.argsort(key, kind="stable")
    table = table[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key[order])) + 1]
    grid = np.arange(n_c)
    done: dict[bytes, int] = {}
    for f_i, floor in enumerate(_FLOOR_GRID):
        # widening a row by f moves it log(f) / step grid points down the c grid
        shift_row = np.round(np.log(_row_floor(bt, floor)[order]) / _STEP).astype(int)
        same = done.setdefault(shift_row.tobytes(), f_i)
        if same != f_i:  # this floor widens nothing more than an earlier one
            c80[f_i], c95[f_i] = c80[same], c95[same]
            continue
        t_f = table[np.arange(len(order))[:, None], np.clip(grid[None, :] - shift_row[:, None], 0, n_c - 1)]
        for t, tau in enumerate(_TAU_GRID):
            mix = np.zeros(t_f.shape, dtype=np.float32)
            for x, w in zip(_GH_X, _GH_W):
                shift = round(tau * x / _STEP)  # c / exp(tau x) is `shift` grid steps lower
                mix += np.float32(w) * t_f[:, np.clip(grid - shift, 0, n_c - 1)]
            c80[f_i, :, t, :] = np.add.reduceat(((mix >= 0.1) & (mix <= 0.9)).astype(np.float32), starts, axis=0)
            c95[f_i, :, t, :] = np.add.reduceat(((mix >= 0.025) & (mix <= 0.975)).astype(np.float32),
                                                starts, axis=0)
    index = cells.assign(key=key).drop_duplicates("key").sort_values("key").reset_index(drop=True)
    index["n"] = np.bincount(key, minlength=n_cells)
    return index, c80, c95


def _fit_counts(index: pd.DataFrame, c80: np.ndarray, c95: np.ndarray, keep: np.ndarray,
                min_cell: int) -> Calibration:
    """Fit (floor, tail per bucket, spread per bucket and horizon) from the cells in ``keep``."""
    bucket_of = index["bucket"].to_numpy()
    horizon_of = index["horizon"].to_numpy()
    n_of = index["n"].to_numpy()
    # the cells pooled for each (bucket, horizon): adjacent horizons until min_cell back-tests
    pools: dict[tuple[int, int], np.ndarray] = {}
    for b in range(len(N_OBS_BUCKETS)):
        for h in range(1, HORIZONS + 1):
            width = 0
            sel = keep & (bucket_of == b) & (horizon_of == h)
            while n_of[sel].sum() < min_cell and width < HORIZONS:
                width += 1
                sel = keep & (bucket_of == b) & (np.abs(horizon_of - h) <= width)
            if n_of[sel].sum() < min_cell:  # a thin bucket: pool every bucket
                sel = keep & (np.abs(horizon_of - h) <= max(width, 1))
            pools[(b, h)] = sel
    best_total, best = math.inf, None
    for f_i in range(len(_FLOOR_GRID)):
        total_f, rows, tails = 0.0, [], []
        for b in range(len(N_OBS_BUCKETS)):
            best_b: tuple[float, int, list[float], list[float]] | None = None
            for t in range(len(_TAU_GRID)):
                total, spreads, weights = 0.0, [], []
                for h in range(1, HORIZONS + 1):
                    sel = pools[(b, h)]
                    n = float(n_of[sel].sum())
                    if n == 0:
                        spreads.append(1.0)
                        weights.append(1.0)
                        continue
                    cov80 = c80[f_i, sel, t, :].sum(axis=0) / n
                    cov95 = c95[f_i, sel, t, :].sum(axis=0) / n
                    loss = ((cov80 - 0.80) / 0.03) ** 2 + ((cov95 - 0.95) / 0.02) ** 2
                    j = int(np.argmin(loss))
                    total += float(loss[j]) * n
                    spreads.append(float(np.exp(-_LOG_C[j])))
                    weights.append(n)
                if best_b is None or total < best_b[0] - 1e-9:
                    best_b = (total, t, spreads, weights)
            assert best_b is not None
            total_f += best_b[0]
            rows.append(tuple(_isotonic(np.log(best_b[2]), np.asarray(best_b[3])).round(12).tolist()))
            tails.append(float(_TAU_GRID[best_b[1]]))
        if total_f < best_total - 1e-9:
            best_total, best = total_f, (rows, tails, float(_FLOOR_GRID[f_i]))
    assert best is not None
    rows, tails, floor = best
    return Calibration(tuple(rows), N_OBS_BUCKETS, {}, tuple(tails), floor)


def fit_spread(bt: pd.DataFrame, *, min_cell: int = 40) -> Calibration:
    """Fit the floor, a tail per bucket and the spread per training-length bucket and horizon.

    Every floor and tail of a grid is tried; for each horizon the spread that brings the 80 %
    and 95 % coverages jointly closest to nominal is found (each miss measured in units of its
    tolerance, ±3 points at 80 %, ±2 at 95 %); the tail per bucket and the floor with the
    smallest total miss win. A cell with fewer than ``min_cell`` back-tests is pooled with
    adjacent horizons of its bucket. Spreads are then made non-decreasing in the horizon (an
    interval should not narrow further ahead) by a weighted isotonic fit on the log scale.
    """
    ok = bt[bt["error"] == ""]
    if ok.empty:
        raise KhforecastError("calibration: no successful back-test to fit the spread on")
    index, c80, c95 = _coverage_counts(ok)
    return _fit_counts(index, c80, c95, np.ones(len(index), dtype=bool), min_cell)


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators); returns exp of it."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for yi, wi in zip(np.asarray(y, float), np.asarray(w, float)):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.exp(np.concatenate([[m] * c for m, _, c in blocks]))


def _params_per_row(bt: pd.DataFrame, cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """(effective spread = floor factor x spread, tail) of each back-test row."""
    s = np.array([cal.spread(int(h), int(n))[-1] for h, n in zip(bt["horizon"], bt["n_train"])])
    s = s * _row_floor(bt, cal.floor)
    t = np.array([cal.tail(int(n)) for n in bt["n_train"]])
    return s, t


def out_of_sample_params(bt: pd.DataFrame, *, min_cell: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-panel-out (spread, tail) per back-test row: fitted on every other panel."""
    ok = (bt["error"] == "").to_numpy()
    s = np.full(len(bt), np.nan)
    t = np.full(len(bt), np.nan)
    okdf = bt[ok]
    index, c80, c95 = _coverage_counts(okdf)
    pos = np.flatnonzero(ok)
    for panel in sorted(okdf["panel"].unique()):
        cal = _fit_counts(index, c80, c95, (index["panel"] != panel).to_numpy(), min_cell)
        rows = (okdf["panel"] == panel).to_numpy()
        s_p, t_p = _params_per_row(okdf[rows], cal)
        s[pos[rows]], t[pos[rows]] = s_p, t_p
    return s, t


def calibration_table(bt: pd.DataFrame, params: tuple[np.ndarray, np.ndarray] | None = None,
                      by: str = "horizon") -> pd.DataFrame:
    """Coverage, PIT summary and Brier score of back-tests, by horizon (or ``by`` any column).

    Parameters
    ----------
    bt
        Back-tests from :func:`backtest`.
    params
        ``(spread, tail)`` per row (e.g. :func:`out_of_sample_params`); ``None`` means the
        models' own distribution (spread 1, no tail).
    by
        Column to group on (``horizon``, ``panel``, ``n_train``...); an ``all`` row is added.

    Returns
    -------
    DataFrame
        ``<by>, n, coverage80, coverage95, pit_lo10, pit_hi10, pit_ks, brier`` where coverage
        is the share of realised values inside the central 80 / 95 % interval, ``pit_lo10`` /
        ``pit_hi10`` the shares of PIT values below 0.1 / above 0.9 (0.10 each when
        calibrated), ``pit_ks`` the largest gap between the PIT's empirical CDF and the
        uniform one, and ``brier`` the mean Brier score of P(value > the last training
        value), a "will it rise" event.
    """
    ok = (bt["error"] == "").to_numpy()
    df = bt[ok].copy()
    if params is None:
        s, t = np.ones(len(df)), np.zeros(len(df))
    else:
        s, t = np.asarray(params[0], dtype=float)[ok], np.asarray(params[1], dtype=float)[ok]
    pit = _mix_cdf(df, s, t)
    df["_pit"] = pit
    df["_c80"] = (pit >= 0.1) & (pit <= 0.9)
    df["_c95"] = (pit >= 0.025) & (pit <= 0.975)
    p_above = 1.0 - _mix_cdf(df, s, t, col="z_last")
    event = (df["value"].to_numpy() > df["last_value"].to_numpy()).astype(float)
    df["_brier"] = (p_above - event) ** 2

    def summarise(g: pd.DataFrame) -> dict:
        p = np.sort(g["_pit"].to_numpy())
        ecdf_hi = np.arange(1, len(p) + 1) / len(p)
        ecdf_lo = np.arange(0, len(p)) / len(p)
        ks = float(max(np.max(ecdf_hi - p), np.max(p - ecdf_lo))) if len(p) else math.nan
        return {
            "n": len(g),
            "coverage80": float(g["_c80"].mean()),
            "coverage95": float(g["_c95"].mean()),
            "pit_lo10": float((p < 0.1).mean()),
            "pit_hi10": float((p > 0.9).mean()),
            "pit_ks": ks,
            "brier": float(g["_brier"].mean()),
        }

    rows = [{by: k, **summarise(g)} for k, g in df.groupby(by, sort=True)]
    rows.append({by: "all", **summarise(df)})
    out = pd.DataFrame(rows)
    out[by] = out[by].astype(str)
    return out
