"""Yearly forecasting models: numpy in, connected sample paths out.

Each model is a spec (``MODELS[name]``) with ``fit(y) -> FittedModel``; a fitted model gives a
point forecast and ``simulate(h, n, rng)``, an ``(n, h)`` array of paths that are correlated
across horizons (each path is one possible future, year after year). Everything here works on
the modelling scale; :func:`simulate_paths` is the front door that applies the domain transform
(:mod:`khforecast.engine.scales`), the fallback chain, the combination and the calibration ``spread``.

The fits are closed forms (drift, OLS) or concentrated least squares on a vectorised grid of
smoothing parameters (SES, damped trend), so that thousands of series fit in seconds; the
point forecasts match statsmodels' for the same parameters (see ``tests/test_models.py``).

Minimum lengths (:data:`MIN_OBS_BY_MODEL`): 3 points for ``drift``, ``theta``, ``linear_trend``,
``level`` and ``combination``; 7 for ``damped_trend`` (5 estimated quantities plus 2 degrees of
freedom). With fewer than 3 points :func:`simulate_paths` raises :class:`InsufficientDataError`
so the caller can report ``insufficient_data``. Fallback chain (:data:`FALLBACK`):
``damped_trend -> theta -> drift``, ``linear_trend -> drift``, ``level -> drift``; a
combination leaves out members that cannot run (``"combination(drift,theta,...)"``) and falls
back to ``drift`` only when none can be fitted. ``SimResult.model`` names what ran, e.g.
``"theta(fallback)"``.

Why one module of ~1,150 lines: the models, the fallback chain, the combination and
:func:`simulate_paths` are the one unit the shipped calibration was derived for (its fingerprint
hashes this module's code); they change together, and a change anywhere here means re-deriving.
The batched fits (``fit_many``: many series' grid searches in one time loop, for
forecast-series) sit beside the one-series code they must match bit for bit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import ClassVar, Literal, Protocol

import numpy as np

from khforecast.engine.scales import Domain, Scale, fit_scale
from khforecast.engine.interventions import Interventions
from khforecast.engine.statespace import STATSMODELS_MODELS
from khforecast.errors import KhforecastError, ModelFitError

__all__ = [
    "DEFAULT_MODELS",
    "FALLBACK",
    "MIN_OBS_BY_MODEL",
    "MODELS",
    "TRIM_STEP",
    "Combination",
    "DampedTrend",
    "Drift",
    "FittedModel",
    "FittedSeries",
    "InsufficientDataError",
    "Level",
    "LinearTrend",
    "Model",
    "SimResult",
    "Theta",
    "fit_many_series",
    "fit_series",
    "simulate_on_scale",
    "simulate_paths",
]


class InsufficientDataError(ModelFitError):
    """Raised when a series has fewer points than any model needs (``.n_obs``, ``.min_obs``)."""

    def __init__(self, n_obs: int, min_obs: int):
        self.n_obs = n_obs
        self.min_obs = min_obs
        super().__init__(f"series has {n_obs} finite value(s): expected at least {min_obs} "
                         "to fit a forecasting model")


# --------------------------------------------------------------------------------------------
# fitted models
# --------------------------------------------------------------------------------------------
class FittedModel(Protocol):
    """What every fitted model offers (statsmodels' results object, in miniature)."""

    name: str
    n_obs: int
    mse: float  # in-sample one-step mean squared error

    def forecast(self, h: int) -> np.ndarray:
        """Point forecast for steps 1..h, shape ``(h,)``."""

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` connected sample paths for steps 1..h, shape ``(n, h)``."""


class Model(Protocol):
    """A model spec: pure configuration, ``fit`` returns a new fitted object."""

    name: str
    min_obs: int

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> FittedModel:
        """Fit to ``y`` (1-d, finite, on the modelling scale), honouring declared interventions."""


def _steps(h: int) -> np.ndarray:
    return np.arange(1, h + 1, dtype=float)


_NORMAL, _PULSE, _STEP = 0, 1, 2


def _kinds(n: int, iv: Interventions | None) -> np.ndarray | None:
    """Per year: 0 an ordinary year, 1 a pulse (its residual left out), 2 the step year
    (the level jumps to it, its residual left out); ``None`` when nothing is declared."""
    if not iv:
        return None
    kind = np.zeros(n, dtype=int)
    kind[list(iv.pulse)] = _PULSE
    if iv.step is not None:
        kind[iv.step] = _STEP
    return kind


def _n_fit(n: int, kind: np.ndarray | None) -> int:
    """Residuals a fit counts: every year but the pulse and step years."""
    return n if kind is None else int(np.sum(kind == _NORMAL))


def _ima_paths(point: np.ndarray, sigma: float, alpha: float, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """Paths ``point_k + e_k + alpha * sum_{j<k} e_j`` (SES / IMA(1,1) error structure)."""
    h = point.shape[0]
    e = rng.standard_normal((n, h)) * sigma
    carried = np.zeros((n, h))
    if h > 1:
        carried[:, 1:] = alpha * np.cumsum(e[:, :-1], axis=1)
    return point[None, :] + e + carried


# -- random walk with drift ------------------------------------------------------------------
@dataclass(frozen=True)
class _FittedDrift:
    last: float
    drift: float
    sigma: float
    n_obs: int
    mse: float
    name: str = "drift"
    span: int = 0  # years the drift is estimated over (0: n_obs - 1)
    lead: int = 0  # trailing pulse years: the paths start from the last ordinary year

    def forecast(self, h: int) -> np.ndarray:
        return self.last + self.drift * _steps(h + self.lead)[self.lead:]

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        # the drift is drawn once per path (its standard error sigma / sqrt(T-1)), then
        # yearly shocks accumulate: Var(y_{T+h}) = sigma^2 h (1 + h / (T - 1)).
        drift = self.drift + self.sigma / np.sqrt(self.span or self.n_obs - 1) * rng.standard_normal((n, 1))
        shocks = rng.standard_normal((n, h + self.lead)) * self.sigma
        return (self.last + np.cumsum(drift + shocks, axis=1))[:, self.lead:]


@dataclass(frozen=True)
class Drift:
    """Random walk with drift, drift uncertainty included (fable ``RW(y ~ drift())``).

    Notes
    -----
    ``c = (y_T - y_1) / (T - 1)``; ``sigma^2`` is the variance of the first differences around
    ``c`` with ``T - 2`` degrees of freedom; the h-step variance is
    ``sigma^2 * h * (1 + h / (T - 1))``.
    """

    name: str = "drift"
    estimates: ClassVar[str] = "drift c, noise sigma (closed form)"
    min_obs: int = 3

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedDrift:
        """Fit by the closed form; interventions: the changes they touch are left out.

        With pulse years the drift and noise come from the changes between ordinary years (a
        change over g years counts g years of drift and g years of noise); the change into a
        step year is left out; the paths start from the last ordinary year.
        """
        y = np.asarray(y, dtype=float)
        t = y.shape[0]
        if interventions:
            return self._fit_around(y, interventions)
        d = np.diff(y)
        drift = (y[-1] - y[0]) / (t - 1)
        sse = float(np.sum((d - drift) ** 2))
        sigma = np.sqrt(sse / max(t - 2, 1))
        return _FittedDrift(float(y[-1]), float(drift), float(sigma), t, sse / (t - 1))

    def _fit_around(self, y: np.ndarray, iv: Interventions) -> _FittedDrift:
        t = y.shape[0]
        pos = np.flatnonzero(iv.keep(t))
        gaps = np.diff(pos).astype(float)
        d = np.diff(y[pos])
        ok = np.ones(d.shape[0], dtype=bool)
        if iv.step is not None:
            ok &= ~((pos[:-1] < iv.step) & (pos[1:] >= iv.step))
        if not ok.any():
            raise ModelFitError("drift: no year-on-year change is left besides the interventions")
        drift = float(d[ok].sum() / gaps[ok].sum())
        resid = (d[ok] - drift * gaps[ok]) / np.sqrt(gaps[ok])
        sse = float(resid @ resid)
        sigma = np.sqrt(sse / max(int(ok.sum()) - 1, 1))
        return _FittedDrift(float(y[pos[-1]]), drift, float(sigma), t, sse / int(ok.sum()),
                            span=int(gaps[ok].sum()), lead=int(t - 1 - pos[-1]))


# -- linear trend ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _FittedLinear:
    coef: np.ndarray  # (k,) intercept, slope on t = 0..T-1[, the step's shift]
    cov: np.ndarray  # (k, k) sigma^2 (X'X)^-1
    sigma: float
    n_obs: int
    mse: float
    name: str = "linear_trend"

    def forecast(self, h: int) -> np.ndarray:
        tt = self.n_obs - 1 + _steps(h)
        return self.coef[0] + self.coef[1] * tt + (self.coef[2] if self.coef.shape[0] > 2 else 0.0)

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        k = self.coef.shape[0]
        chol = np.linalg.cholesky(self.cov + 1e-300 * np.eye(k)) if self.sigma > 0 else np.zeros((k, k))
        beta = self.coef[None, :] + rng.standard_normal((n, k)) @ chol.T
        tt = self.n_obs - 1 + _steps(h)
        shift = beta[:, 2:].sum(axis=1, keepdims=True)  # the step's shift lasts (none: 0)
        return beta[:, :1] + beta[:, 1:2] * tt[None, :] + shift + rng.standard_normal((n, h)) * self.sigma


@dataclass(frozen=True)
class LinearTrend:
    """OLS line on time with parameter uncertainty: paths draw (intercept, slope) then noise."""

    name: str = "linear_trend"
    estimates: ClassVar[str] = "intercept, slope[, step shift], sigma (OLS)"
    min_obs: int = 3

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedLinear:
        """Fit by ordinary least squares; pulse years left out, a step as a shift regressor."""
        y = np.asarray(y, dtype=float)
        t = y.shape[0]
        x, rows = _trend_design(t, interventions)
        coef, *_ = np.linalg.lstsq(x[rows], y[rows], rcond=None)
        resid = y[rows] - x[rows] @ coef
        sse = float(resid @ resid)
        m = int(rows.sum())
        s2 = sse / max(m - x.shape[1], 1)
        cov = s2 * np.linalg.inv(x[rows].T @ x[rows])
        return _FittedLinear(coef, cov, float(np.sqrt(s2)), t, sse / m)


def _trend_design(t: int, iv: Interventions | None) -> tuple[np.ndarray, np.ndarray]:
    """Columns (1, time[, step shift]) and the rows a trend regression uses (no pulse year)."""
    cols = [np.ones(t), np.arange(t, dtype=float)]
    if iv and iv.step is not None:
        cols.append((np.arange(t) >= iv.step).astype(float))
    rows = iv.keep(t) if iv else np.ones(t, dtype=bool)
    return np.column_stack(cols), rows


# -- simple exponential smoothing machinery ---------------------------------------------------
_ALPHA_GRID = np.linspace(0.0001, 0.9999, 41)


def _ses_errors_grid(y: np.ndarray, alphas: np.ndarray, l0: float | None,
                     kind: np.ndarray | None = None) -> np.ndarray:
    """One-step SES errors for each alpha, shape ``(T, G)``.

    With ``l0=None`` the initial level is concentrated out by least squares (the errors are
    affine in it); otherwise it is fixed (statsmodels' ``initialization_method="known"``).
    With ``kind`` (:func:`_kinds`) a pulse year does not update the level (a missing year)
    and the step year sets it to the year's value; neither counts in the least squares.
    """
    t = y.shape[0]
    g = alphas.shape[0]
    e0 = np.empty((t, g))
    lev = np.zeros(g) if l0 is None else np.full(g, float(l0))
    if kind is None:
        for i in range(t):
            e0[i] = y[i] - lev
            lev = lev + alphas * e0[i]
        if l0 is not None:
            return e0
        # d e_t / d l0 = -(1 - alpha)^t
        grad = -((1.0 - alphas)[None, :] ** np.arange(t)[:, None])
        best = -np.sum(e0 * grad, axis=0) / np.sum(grad * grad, axis=0)
        return e0 + grad * best[None, :]
    grad = np.empty((t, g))
    dl = np.ones(g)  # d level / d l0
    for i in range(t):
        e0[i] = y[i] - lev
        grad[i] = -dl
        if kind[i] == _NORMAL:
            lev = lev + alphas * e0[i]
            dl = dl * (1.0 - alphas)
        elif kind[i] == _STEP:
            lev = np.full(g, y[i])
            dl = np.zeros(g)
    if l0 is not None:
        return e0
    w = (kind == _NORMAL)[:, None]
    best = -np.sum(w * e0 * grad, axis=0) / np.maximum(np.sum(w * grad * grad, axis=0), 1e-300)
    return e0 + grad * best[None, :]


def _fit_ses(y: np.ndarray, l0: float | None, kind: np.ndarray | None = None
             ) -> tuple[float, float, np.ndarray]:
    """Least-squares SES: (alpha, final level, one-step errors), alpha refined on a local grid.

    The errors of pulse and step years (``kind``) are returned as 0: they count in no sum.
    """
    if kind is None and l0 is not None:
        return _ses_search([np.asarray(y, dtype=float)], [float(l0)])[0]
    w = None if kind is None else (kind == _NORMAL).astype(float)
    alphas = _ALPHA_GRID
    for _ in range(3):
        e = _ses_errors_grid(y, alphas, l0, kind)
        if w is not None:
            e = e * w[:, None]
        sse = np.sum(e * e, axis=0)
        k = int(np.argmin(sse))
        step = alphas[1] - alphas[0]
        alphas = np.clip(np.linspace(alphas[k] - step, alphas[k] + step, 11), 0.0001, 0.9999)
    e = _ses_errors_grid(y, np.array([alphas[5]]), l0, kind)
    alpha = float(alphas[5])
    errs = e[:, 0]
    gain = alpha if kind is None or kind[-1] == _NORMAL else float(kind[-1] == _STEP)
    level = float(y[-1] - errs[-1] + gain * errs[-1])  # l_T = yhat_T + alpha e_T
    return alpha, level, errs if w is None else errs * w


def _linspace_rows(start: np.ndarray, stop: np.ndarray, num: int) -> np.ndarray:
    """``np.linspace(start[i], stop[i], num)`` as row ``i``, bit for bit (numpy's own array form
    switches every row to another formula when any one row has a zero step)."""
    delta = stop - start
    step = delta / (num - 1)
    k = np.arange(num, dtype=float)
    y = np.where((step == 0)[:, None], (k / (num - 1))[None, :] * delta[:, None],
                 k[None, :] * step[:, None])
    y += start[:, None]
    y[:, -1] = stop
    return y


@dataclass(frozen=True)
class _Batch:
    """Many series laid out for one time loop: longest first (stable), zero-padded; at step
    ``t`` the series still running are the first ``active[t]`` rows."""

    order: list[int]  # input position of each row
    n: np.ndarray  # (S,) lengths
    y: np.ndarray  # (S, T) values, zero-padded
    active: np.ndarray  # (T,) rows longer than t

    @classmethod
    def of(cls, ys: Sequence[np.ndarray]) -> _Batch:
        """The layout of ``ys`` (1-d arrays, at least one)."""
        order = sorted(range(len(ys)), key=lambda j: -ys[j].shape[0])
        n = np.array([ys[j].shape[0] for j in order])
        y = np.zeros((len(ys), int(n[0])))
        for i, j in enumerate(order):
            y[i, :n[i]] = ys[j]
        return cls(order, n, y, np.sum(n[None, :] > np.arange(int(n[0]))[:, None], axis=1))

    def unsort(self, rows: Sequence) -> list:
        """Per-row results back in the input order."""
        out: list = [None] * len(rows)
        for i, j in enumerate(self.order):
            out[j] = rows[i]
        return out


def _ses_search(ys: Sequence[np.ndarray], l0s: Sequence[float]
                ) -> list[tuple[float, float, np.ndarray]]:
    """:func:`_fit_ses` with a fixed initial level and no interventions, for many series at once.

    The time loop runs once for all series (a series that has ended drops out of the active
    prefix of rows); every element sees the operations of the one-series recursion in the same
    order (the sums over time accumulate step by step, as numpy sums a ``(T, G)`` column).
    """
    batch = _Batch.of(ys)
    n, Y, active = batch.n, batch.y, batch.active
    S, T = Y.shape
    l0 = np.array([float(l0s[j]) for j in batch.order])[:, None]
    rows = np.arange(S)
    alphas = np.broadcast_to(_ALPHA_GRID, (S, _ALPHA_GRID.shape[0]))
    for _ in range(3):
        lev = np.repeat(l0, alphas.shape[1], axis=1)
        sse = np.zeros(alphas.shape)
        for t in range(T):
            m = int(active[t])
            e = Y[:m, t:t + 1] - lev[:m]
            sse[:m] += e * e
            lev[:m] = lev[:m] + alphas[:m] * e
        k = np.argmin(sse, axis=1)
        step = alphas[:, 1] - alphas[:, 0]
        centre = alphas[rows, k]
        alphas = np.clip(_linspace_rows(centre - step, centre + step, 11), 0.0001, 0.9999)
    alpha = alphas[:, 5:6]
    errs = np.empty((S, T))
    lev = l0.copy()
    for t in range(T):
        m = int(active[t])
        errs[:m, t:t + 1] = Y[:m, t:t + 1] - lev[:m]
        lev[:m] = lev[:m] + alpha[:m] * errs[:m, t:t + 1]
    out = []
    for i in range(S):
        e = errs[i, :n[i]].copy()
        a = float(alpha[i, 0])
        # l_T = yhat_T + alpha e_T
        out.append((a, float(Y[i, n[i] - 1] - e[-1] + a * e[-1]), e))
    return batch.unsort(out)


@dataclass(frozen=True)
class _FittedSES:
    level: float
    alpha: float
    slope: float  # per-step drift added to the forecast (0 for the level model)
    offset: float  # constant added to every step (theta's correction term)
    sigma: float
    slope_se: float
    n_obs: int
    mse: float
    name: str

    def forecast(self, h: int) -> np.ndarray:
        return self.level + self.offset + self.slope * (_steps(h) - 1.0)

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        paths = _ima_paths(self.forecast(h), self.sigma, self.alpha, n, rng)
        if self.slope_se > 0:
            paths += (self.slope_se * rng.standard_normal((n, 1))) * _steps(h)[None, :]
        return paths


@dataclass(frozen=True)
class Level:
    """Simple exponential smoothing (ETS(A,N,N)): a flat forecast for series without a trend."""

    name: str = "level"
    estimates: ClassVar[str] = "alpha, initial level, sigma (least squares)"
    min_obs: int = 3

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedSES:
        """Fit alpha and the initial level by least squares (interventions as in the SES part)."""
        y = np.asarray(y, dtype=float)
        kind = _kinds(y.shape[0], interventions)
        alpha, level, errs = _fit_ses(y, None, kind)
        sse = float(errs @ errs)
        m = _n_fit(y.shape[0], kind)
        sigma = np.sqrt(sse / max(m - 2, 1))
        return _FittedSES(level, alpha, 0.0, 0.0, float(sigma), 0.0, y.shape[0], sse / m, self.name)


@dataclass(frozen=True)
class Theta:
    """The Theta method (Assimakopoulos & Nikolopoulos 2000) as statsmodels ``ThetaModel``.

    Notes
    -----
    SES with the initial level fixed at ``y_1`` and alpha by least squares, plus half the OLS
    slope ``b0`` (theta = 2): ``f_h = l_T + b0/2 * (h - 1 + 1/alpha - (1 - alpha)^T / alpha)``
    (Hyndman & Billah 2003: SES with drift). Paths carry the SES error structure,
    ``Var = sigma^2 (1 + (h - 1) alpha^2)``, plus the slope's sampling uncertainty.
    """

    name: str = "theta"
    estimates: ClassVar[str] = "alpha, OLS slope b0 (half of it is the drift), sigma"
    min_obs: int = 3

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedSES:
        """Fit the OLS slope and the SES part; pulse and step years as in both parts."""
        y = np.asarray(y, dtype=float)
        kind = _kinds(y.shape[0], interventions)
        l0 = float(y[0] if kind is None else y[np.flatnonzero(kind != _PULSE)[0]])
        return self._fitted(y, kind, interventions, _fit_ses(y, l0, kind))

    def fit_many(self, ys: Sequence[np.ndarray]) -> list[_FittedSES]:
        """:meth:`fit` of many series without interventions (the SES searches run together)."""
        ys = [np.asarray(y, dtype=float) for y in ys]
        ses = _ses_search(ys, [float(y[0]) for y in ys])
        return [self._fitted(y, None, None, r) for y, r in zip(ys, ses)]

    def _fitted(self, y: np.ndarray, kind: np.ndarray | None, interventions: Interventions | None,
                ses: tuple[float, float, np.ndarray]) -> _FittedSES:
        """The fitted model from the SES part ``(alpha, level, errors)`` and the OLS slope."""
        t = y.shape[0]
        if kind is None:
            tt = np.arange(t, dtype=float)
            tc = tt - tt.mean()
            b0 = float(tc @ (y - y.mean()) / (tc @ tc))
            resid = y - y.mean() - b0 * tc
            slope_se = np.sqrt(float(resid @ resid) / max(t - 2, 1) / float(tc @ tc))
        else:
            fitted = LinearTrend().fit(y, interventions)
            b0, slope_se = float(fitted.coef[1]), float(np.sqrt(fitted.cov[1, 1]))
        alpha, level, errs = ses
        sse = float(errs @ errs)
        sigma = np.sqrt(sse / max(_n_fit(t, kind) - 2, 1))
        half = b0 / 2.0
        offset = half * (1.0 / alpha - (1.0 - alpha) ** t / alpha)
        return _FittedSES(level, alpha, half, offset, float(sigma), float(slope_se) / 2.0, t,
                          sse / _n_fit(t, kind), self.name)


# -- damped trend ----------------------------------------------------------------------------
_DAMP_ALPHA = np.linspace(0.02, 0.98, 9)
_DAMP_BETA = np.linspace(0.02, 0.98, 7)  # beta* (statsmodels' smoothing_trend)
_DAMP_PHI = np.linspace(0.80, 0.98, 7)
_PHI_BOUNDS = (0.80, 0.98)


def _damped_sse_grid(y: np.ndarray, alpha: np.ndarray, beta: np.ndarray, phi: np.ndarray,
                     kind: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SSE and least-squares initial states (l0, b0) for each parameter triple, vectorised.

    The one-step errors of Holt's damped method are affine in (l0, b0), so the initial states
    are concentrated out: run the recursion on y with zero states and on zero data with unit
    states, then solve the 2x2 normal equations per triple. With ``kind`` (:func:`_kinds`) a
    pulse year updates no state and the step year moves the level by its whole error (the
    trend untouched); neither counts in the sums.
    """
    g = alpha.shape[0]
    lev = np.zeros((3, g))
    lev[1] = 1.0
    tr = np.zeros((3, g))
    tr[2] = 1.0
    ab = alpha * beta
    s = np.zeros((6, g))  # sums e0e0, e0eL, e0eB, eLeL, eLeB, eBeB
    for i, yt in enumerate(y):
        fc = lev + phi * tr
        e = -fc
        e[0] += yt
        if kind is not None and kind[i] != _NORMAL:
            lev = fc + e if kind[i] == _STEP else fc
            tr = phi * tr
            continue
        s[0] += e[0] * e[0]
        s[1] += e[0] * e[1]
        s[2] += e[0] * e[2]
        s[3] += e[1] * e[1]
        s[4] += e[1] * e[2]
        s[5] += e[2] * e[2]
        lev = fc + alpha * e
        tr = phi * tr + ab * e
    det = s[3] * s[5] - s[4] * s[4]
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    l0 = -(s[5] * s[1] - s[4] * s[2]) / det
    b0 = -(s[3] * s[2] - s[4] * s[1]) / det
    sse = s[0] + 2 * (l0 * s[1] + b0 * s[2]) + l0 * l0 * s[3] + 2 * l0 * b0 * s[4] + b0 * b0 * s[5]
    return sse, np.vstack([l0, b0])


_DAMP_BASE = tuple(g.ravel() for g in np.meshgrid(_DAMP_ALPHA, _DAMP_BETA, _DAMP_PHI, indexing="ij"))


@lru_cache(maxsize=None)
def _unit_responses(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """The base grid's responses to a unit initial level and trend (rows 1 and 2 of
    :func:`_damped_sse_grid`): they do not depend on the data, so many series share them.

    Returns ``(e, sums)``: ``e[t]`` the two rows' one-step errors at step ``t``, ``sums[t]`` the
    running sums of e1e1, e1e2, e2e2 after step ``t``, for ``t < capacity``; the same floating
    point operations in the same order as the one-series recursion.
    """
    a, b, p = _DAMP_BASE
    ab = a * b
    lev = np.zeros((2, a.shape[0]))
    lev[0] = 1.0
    tr = np.zeros((2, a.shape[0]))
    tr[1] = 1.0
    acc = np.zeros((3, a.shape[0]))
    e_all = np.empty((capacity, 2, a.shape[0]))
    sums = np.empty((capacity, 3, a.shape[0]))
    with np.errstate(all="ignore"):  # steps past a series' end may overflow; never used
        for i in range(capacity):
            ptr = p * tr
            fc = lev + ptr
            e = -fc
            acc[0] += e[0] * e[0]
            acc[1] += e[0] * e[1]
            acc[2] += e[1] * e[1]
            lev = fc + a * e
            tr = ptr + ab * e
            e_all[i] = e
            sums[i] = acc
    return e_all, sums


def _damped_sse_batch(batch: _Batch, a: np.ndarray, b: np.ndarray, p: np.ndarray,
                      base: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_damped_sse_grid` (no interventions) for many series at once, bit for bit.

    ``batch`` the series (:class:`_Batch`); ``a, b, p`` of shape ``(S, G)``, one grid per row
    (``base``: the shared base grid, whose unit responses come from :func:`_unit_responses`).
    The time loop runs once for all series (a series that has ended drops out of the active
    prefix of rows); every element sees the same operations as in the one-series recursion.
    Returns ``(sse, l0, b0)``, each ``(S, G)``.
    """
    n, Y, active = batch.n, batch.y, batch.active
    S, G = a.shape
    ab = a * b
    rows = 1 if base else 3  # the data's response, then (refined grids) the unit ones
    lev, tr = np.zeros((rows, S, G)), np.zeros((rows, S, G))
    if not base:
        lev[1] = 1.0
        tr[2] = 1.0
    acc = np.zeros((3 if base else 6, S, G))  # sums e0e0, e0e1, e0e2[, e1e1, e1e2, e2e2]
    ptr, fc, e, tmp = (np.empty((rows, S, G)) for _ in range(4))
    if base:
        unit_e, unit_sums = _unit_responses(1 << max(6, int(n[0] - 1).bit_length()))
    for t in range(int(n[0])):
        m = int(active[t])  # in place on the active rows: the same operations, no temporaries
        L, R, P, F, E, X = (v[:, :m] for v in (lev, tr, ptr, fc, e, tmp))
        np.multiply(p[:m], R, out=P)
        np.add(L, P, out=F)
        np.negative(F, out=E)
        E[0] += Y[:m, t:t + 1]
        e1, e2 = (unit_e[t, 0], unit_e[t, 1]) if base else (E[1], E[2])
        x = X[0]
        for k, (u, v) in enumerate(((E[0], E[0]), (E[0], e1), (E[0], e2)) if base else
                                   ((E[0], E[0]), (E[0], e1), (E[0], e2), (e1, e1), (e1, e2),
                                    (e2, e2))):
            np.multiply(u, v, out=x)
            acc[k, :m] += x
        np.multiply(a[:m], E, out=X)
        np.add(F, X, out=L)
        np.multiply(ab[:m], E, out=X)
        np.add(P, X, out=R)
    s0, s1, s2 = acc[0], acc[1], acc[2]
    s3, s4, s5 = ((unit_sums[n - 1, r] for r in range(3)) if base else (acc[3], acc[4], acc[5]))
    det = s3 * s5 - s4 * s4
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    l0 = -(s5 * s1 - s4 * s2) / det
    b0 = -(s3 * s2 - s4 * s1) / det
    sse = s0 + 2 * (l0 * s1 + b0 * s2) + l0 * l0 * s3 + 2 * l0 * b0 * s4 + b0 * b0 * s5
    return sse, l0, b0


def _damped_search(ys: Sequence[np.ndarray], kind: np.ndarray | None = None
                   ) -> list[tuple[float, float, float, float, float]]:
    """``(alpha, beta, phi, l0, b0)`` of :class:`DampedTrend`'s least squares on a grid refined
    twice around its best point, for many series without interventions at once (the same
    numbers as one at a time), or for one series whose years have a ``kind`` (:func:`_kinds`)."""
    batch = _Batch.of(ys)
    S = len(ys)
    a, b, p = (np.broadcast_to(g, (S, g.shape[0])) for g in _DAMP_BASE)
    steps = [_DAMP_ALPHA[1] - _DAMP_ALPHA[0], _DAMP_BETA[1] - _DAMP_BETA[0],
             _DAMP_PHI[1] - _DAMP_PHI[0]]
    lo = (0.0001, 0.0001, _PHI_BOUNDS[0])
    hi = (0.9999, 0.9999, _PHI_BOUNDS[1])
    rows = np.arange(S)
    for it in range(3):
        if kind is None:
            sse, l0, b0 = _damped_sse_batch(batch, a, b, p, base=it == 0)
        else:
            sse, init = _damped_sse_grid(ys[0], a[0], b[0], p[0], kind)
            sse, l0, b0 = sse[None, :], init[:1], init[1:]
        sse = np.where(np.isfinite(sse), sse, np.inf)
        k = np.argmin(sse, axis=1)
        best = [g[rows, k] for g in (a, b, p, l0, b0)]
        grids = [np.clip(_linspace_rows(c - st, c + st, 5), l, u)
                 for c, st, l, u in zip(best[:3], steps, lo, hi)]
        a = np.broadcast_to(grids[0][:, :, None, None], (S, 5, 5, 5)).reshape(S, 125)
        b = np.broadcast_to(grids[1][:, None, :, None], (S, 5, 5, 5)).reshape(S, 125)
        p = np.broadcast_to(grids[2][:, None, None, :], (S, 5, 5, 5)).reshape(S, 125)
        steps = [st / 2.0 for st in steps]
    return batch.unsort([tuple(float(v[i]) for v in best) for i in range(S)])


@dataclass(frozen=True)
class _FittedDamped:
    level: float
    trend: float
    alpha: float
    beta: float  # beta* (component form); the error-correction gain is alpha * beta
    phi: float
    sigma: float
    n_obs: int
    mse: float
    init: tuple[float, float]
    name: str = "damped_trend"

    def forecast(self, h: int) -> np.ndarray:
        return self.level + self.trend * np.cumsum(self.phi ** _steps(h))

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        lev = np.full(n, self.level)
        tr = np.full(n, self.trend)
        out = np.empty((n, h))
        e = rng.standard_normal((n, h)) * self.sigma
        ab = self.alpha * self.beta
        for k in range(h):
            ek = e[:, k]
            ptr = self.phi * tr
            fc = lev + ptr
            out[:, k] = fc + ek
            lev = fc + self.alpha * ek
            tr = ptr + ab * ek
        return out


def _holt_states(y: np.ndarray, alpha: float, beta: float, phi: float, l0: float, b0: float,
                 kind: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """Final (level, trend) and one-step errors (0 for pulse and step years, see the grid)."""
    lev, tr = l0, b0
    ab = alpha * beta
    errs = []
    for i, yt in enumerate(y.tolist()):  # Python floats: the same double arithmetic, sooner
        fc = lev + phi * tr
        if kind is not None and kind[i] != _NORMAL:
            lev = yt if kind[i] == _STEP else fc
            tr = phi * tr
            errs.append(0.0)
            continue
        e = yt - fc
        errs.append(e)
        lev = fc + alpha * e
        tr = phi * tr + ab * e
    return np.float64(lev), np.float64(tr), np.array(errs, dtype=float)


@dataclass(frozen=True)
class DampedTrend:
    """Additive damped trend exponential smoothing, ETS(A,Ad,N) (Gardner & McKenzie 1985).

    Notes
    -----
    Least squares over alpha, beta* in (0, 1) and phi in [0.80, 0.98] (statsmodels' and
    fable's bounds), on a grid refined twice around the best point, with the initial level and
    trend concentrated out exactly. ``sigma^2 = SSE / (T - 5)``. Paths run the state-space
    recursion with Gaussian errors.
    """

    name: str = "damped_trend"
    estimates: ClassVar[str] = "alpha, beta*, phi in [0.80, 0.98], initial level and trend, sigma"
    min_obs: int = 7

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedDamped:
        """Fit by concentrated least squares on a refined grid (interventions as in the grid)."""
        y = np.asarray(y, dtype=float)
        kind = _kinds(y.shape[0], interventions)
        return self._fitted(y, kind, _damped_search([y], kind)[0])

    def fit_many(self, ys: Sequence[np.ndarray]) -> list[_FittedDamped]:
        """:meth:`fit` of many series without interventions (the grid searches run together)."""
        ys = [np.asarray(y, dtype=float) for y in ys]
        return [self._fitted(y, None, best) for y, best in zip(ys, _damped_search(ys))]

    @staticmethod
    def _fitted(y: np.ndarray, kind: np.ndarray | None,
                best: tuple[float, float, float, float, float]) -> _FittedDamped:
        """The fitted model at the grid's best ``(alpha, beta, phi, l0, b0)``."""
        alpha, beta, phi, l0, b0 = best
        lev, tr, errs = _holt_states(y, alpha, beta, phi, l0, b0, kind)
        t = y.shape[0]
        m = _n_fit(t, kind)
        sse = float(errs @ errs)
        sigma = np.sqrt(sse / max(m - 5, 1))
        return _FittedDamped(lev, tr, alpha, beta, phi, float(sigma), t, sse / m, (l0, b0))


# --------------------------------------------------------------------------------------------
# combination
# --------------------------------------------------------------------------------------------
Rule = Literal["median", "mean", "inverse_mse"]
TRIM_STEP = 6
"""Steps ahead at which a trimmed combination ranks its members (fixed, so the members kept do
not depend on the horizon asked for)."""
_FIT_ERRORS = (FloatingPointError, np.linalg.LinAlgError, ValueError, ZeroDivisionError)


def _n_effective(n: int, iv: Interventions | None) -> int:
    """Points that inform a fit: a pulse year's value is set aside (compared with ``min_obs``)."""
    return n - (len(iv.pulse) if iv else 0)


def _fit_each(spec: Model, ys: Sequence[np.ndarray], interventions: Interventions | None = None
              ) -> list[FittedModel | Exception]:
    """``spec`` fitted to each series, or the error its fit raised; series without interventions
    are fitted together when the spec has ``fit_many`` (one at a time if that fails)."""
    many = getattr(spec, "fit_many", None)
    if many is not None and not interventions and ys:
        try:
            return list(many(ys))
        except (*_FIT_ERRORS, ModelFitError):
            pass  # each series on its own below, so each gets its own error
    out: list[FittedModel | Exception] = []
    for y in ys:
        try:
            out.append(spec.fit(y, interventions))
        except (*_FIT_ERRORS, ModelFitError) as exc:
            out.append(exc)
    return out


@dataclass(frozen=True)
class _Member:
    """A fitted member; ``scale`` set when it was fitted on the original scale (mapped here)."""

    fitted: FittedModel
    scale: Scale | None = None

    @property
    def label(self) -> str:
        return self.fitted.name + ("@original" if self.scale is not None else "")

    def forecast(self, h: int) -> np.ndarray:
        f = self.fitted.forecast(h)
        return f if self.scale is None else self.scale.forward(f)

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        p = self.fitted.simulate(h, n, rng)
        return p if self.scale is None else self.scale.forward(p)


@dataclass(frozen=True)
class _FittedCombination:
    parts: tuple[_Member, ...]
    weights: np.ndarray  # of the point forecast
    path_weights: np.ndarray  # of the mixture (0 for trimmed members)
    rule: Rule
    n_obs: int
    mse: float
    name: str = "combination"

    def forecast(self, h: int) -> np.ndarray:
        points = np.array([m.forecast(h) for m in self.parts])
        if self.rule == "median":
            return np.median(points, axis=0)
        return self.weights @ points

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        # the mixture shifted so its per-step median (from contiguous rows: the same numbers,
        # sooner) is the combined point forecast
        paths = self.mixture(h, n, rng)
        return paths + self.recentre(h, np.median(np.ascontiguousarray(paths.T), axis=1))[None, :]

    def mixture(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """The paths before :meth:`simulate` recentres them: each comes whole from one member
        (counts proportional to the weights), so disagreement between members widens the
        intervals; they are shuffled so that their position carries no information about the
        member."""
        raw = self.path_weights * n
        counts = np.floor(raw).astype(int)
        rest = n - counts.sum()
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
        blocks = [m.simulate(h, int(c), rng) for m, c in zip(self.parts, counts) if c > 0]
        return np.concatenate(blocks, axis=0)[rng.permutation(n)]

    def recentre(self, h: int, median: np.ndarray) -> np.ndarray:
        """The ``(h,)`` shift :meth:`simulate` adds to the mixture whose per-step median is
        ``median``: its median becomes the combined point forecast."""
        return self.forecast(h) - median


@dataclass(frozen=True)
class Combination:
    """A combination of models, formed as a recentred mixture of their sample paths.

    Parameters
    ----------
    members : model names from :data:`MODELS`
    rule : ``"inverse_mse"`` (weights proportional to 1 / in-sample MSE within each scale, each
        scale half), ``"mean"`` (equal weights) or ``"median"`` (median of the members' point
        forecasts, equal path shares)
    original_scale : for a ``positive`` series, also fit every numpy member on the original
        scale (a hedge against the log transform's exponential extrapolation); its points and
        paths are floored into the domain and mapped to the log scale before combining. The
        statsmodels members (:mod:`khforecast.engine.statespace`) are fitted on the modelling scale
        only.
    trim : leave this many members at each end out of the path mixture, ranked by their point
        forecast ``TRIM_STEP`` steps ahead, so that one member's runaway trend cannot blow up
        the intervals (the point forecast keeps every member); applied when at least
        ``2 * trim + 2`` members were fitted.

    Notes
    -----
    The default (drift, damped trend and Theta, each on the log and the original scale,
    weighted by inverse in-sample MSE within each scale, the two scales equally) had the lowest
    mean OWA over M3 and M4 among nine principled designs on held-out data: the last 6 points of
    the training part of every M3 and M4 yearly series, never their test part (see
    ``benchmarks/README.md``, ``benchmarks/accuracy.py --validate-only``).

    Mixing whole paths (rather than averaging paths) keeps each path a coherent yearly
    trajectory and lets the members' disagreement widen the intervals; recentring on the
    combined point keeps the median where the validated point forecast is. Trimming one member
    at each end of the mixture lowered the held-out MSIS (M4 36.5 -> 31.5, M3 35.7 -> 32.3,
    uncalibrated; a damped trend fitted to a late jump on the log scale can otherwise put the
    97.5% quantile orders of magnitude above the data).
    """

    members: tuple[str, ...] = ("drift", "damped_trend", "theta")
    rule: Rule = "inverse_mse"
    original_scale: bool = True
    trim: int = 1
    name: str = "combination"
    source: ClassVar[str] = "khforecast (a recentred mixture of the members' paths)"
    estimates: ClassVar[str] = "the members' weights (inverse in-sample MSE within each scale)"

    @property
    def min_obs(self) -> int:
        """The fewest points any member needs (members that cannot run are left out)."""
        return min(MODELS[m].min_obs for m in self.members)

    def fit(self, y: np.ndarray, scale: Scale | None = None,
            interventions: Interventions | None = None) -> _FittedCombination:
        """Fit every member that has enough data (``y`` on the modelling scale of ``scale``)."""
        fitted = self.fit_many([y], [scale], [interventions])[0]
        if isinstance(fitted, Exception):
            raise fitted
        return fitted

    def fit_many(self, ys: Sequence[np.ndarray], scales: Sequence[Scale | None],
                 interventions: Sequence[Interventions | None] | None = None
                 ) -> list[_FittedCombination | ModelFitError]:
        """:meth:`fit` of many series: each member's fits to the series without interventions
        run together where the member can (``fit_many``: the same numbers, in less time); a
        series no member could be fitted to gets the error :meth:`fit` would raise."""
        ys = [np.asarray(y, dtype=float) for y in ys]
        ivs = list(interventions) if interventions is not None else [None] * len(ys)
        inputs: list[list[tuple[np.ndarray, Scale | None]]] = []
        for y, scale in zip(ys, scales):
            inputs.append([(y, None)])
            if self.original_scale and scale is not None and scale.domain == "positive":
                inputs[-1].append((scale.backward(y), scale))
        fits: dict[tuple[int, int, str], FittedModel | Exception] = {}
        for m in dict.fromkeys(self.members):
            plain: list[tuple[int, int]] = []
            for j, (y, iv) in enumerate(zip(ys, ivs)):
                if _n_effective(y.shape[0], iv) < MODELS[m].min_obs:
                    continue
                for gi, (data, sc) in enumerate(inputs[j]):
                    if sc is not None and m in STATSMODELS_MODELS:
                        continue  # statsmodels members are fitted on the modelling scale only
                    if iv:
                        fits[j, gi, m] = _fit_each(MODELS[m], [data], iv)[0]
                    else:
                        plain.append((j, gi))
            done = _fit_each(MODELS[m], [inputs[j][gi][0] for j, gi in plain])
            fits.update(((j, gi, m), f) for (j, gi), f in zip(plain, done))
        out: list[_FittedCombination | ModelFitError] = []
        for j, y in enumerate(ys):
            got = [(fits[j, gi, m], sc, gi) for gi, (_, sc) in enumerate(inputs[j])
                   for m in self.members if (j, gi, m) in fits]
            out.append(self._assemble(y, inputs[j], [g for g in got
                                                     if not isinstance(g[0], Exception)]))
        return out

    def _assemble(self, y: np.ndarray, inputs: list[tuple[np.ndarray, Scale | None]],
                  fitted: list[tuple[FittedModel, Scale | None, int]]
                  ) -> _FittedCombination | ModelFitError:
        """The combination of the members fitted to one series (or the error if none was)."""
        parts = [_Member(f, sc) for f, sc, _ in fitted]
        groups = [gi for _, _, gi in fitted]
        if not parts:
            if y.shape[0] < self.min_obs:
                return InsufficientDataError(y.shape[0], self.min_obs)
            return ModelFitError(f"no member of the combination could be fitted to the series "
                                 f"({y.shape[0]} points)")
        on_original = [m for m in self.members if m not in STATSMODELS_MODELS]
        full = len(parts) == len(self.members) + len(on_original) * (len(inputs) - 1)
        keep = np.ones(len(parts), dtype=bool)
        if self.trim and len(parts) >= 2 * self.trim + 2:
            # the paths leave out the members with the most extreme forecast TRIM_STEP ahead
            ref = np.array([p.forecast(TRIM_STEP)[-1] for p in parts])
            order = np.argsort(ref, kind="stable")
            keep[order[:self.trim]] = False
            keep[order[len(parts) - self.trim:]] = False
        mse = float(np.mean([p.fitted.mse for p, gi in zip(parts, groups) if gi == 0] or [np.nan]))
        name = self.name if full else self.name + "(" + ",".join(p.label for p in parts) + ")"
        return _FittedCombination(tuple(parts), self._weights(parts, groups, np.ones_like(keep)),
                                  self._weights(parts, groups, keep), self.rule, y.shape[0], mse,
                                  name)

    def _weights(self, parts: list[_Member], groups: list[int], keep: np.ndarray) -> np.ndarray:
        """Rule weights over the kept members: within each scale, then each scale an equal share."""
        g = np.where(keep, np.array(groups), -1)
        w = np.zeros(len(parts))
        for gi in np.unique(g[g >= 0]):
            sel = g == gi
            if self.rule == "inverse_mse":
                inv = np.array([1.0 / max(p.fitted.mse, 1e-12) for p, s in zip(parts, sel) if s])
                w[sel] = inv / inv.sum()
            else:
                w[sel] = 1.0 / sel.sum()
        return w / w.sum()


def _damped_grid_start(z: np.ndarray) -> tuple[float, ...]:
    """ETSModel's (alpha, beta, phi, l0, b0) from :class:`DampedTrend`'s least-squares grid fit
    (statsmodels' beta is alpha * beta*): the start of the ``ets_damped`` member's likelihood."""
    grid = DampedTrend().fit(z)
    return (grid.alpha, grid.alpha * grid.beta, grid.phi, *grid.init)


MODELS: Mapping[str, Model] = {
    "drift": Drift(),
    "damped_trend": DampedTrend(),
    "linear_trend": LinearTrend(),
    "theta": Theta(),
    "level": Level(),
    **STATSMODELS_MODELS,
    "ets_damped": replace(STATSMODELS_MODELS["ets_damped"], start=_damped_grid_start),
    "combination": Combination(),
}
"""The registry of stable model names (they become the ``model`` column)."""

DEFAULT_MODELS: tuple[str, ...] = ("combination",)
"""What :func:`simulate_paths` runs when no model is named."""

MIN_OBS_BY_MODEL: Mapping[str, int] = {name: m.min_obs for name, m in MODELS.items()}
"""Fewest finite points each model needs; below 3 no model runs (:class:`InsufficientDataError`)."""

FALLBACK: Mapping[str, str] = {
    "ets_damped": "damped_trend",
    "uc_trend": "damped_trend",
    "arima011_drift": "drift",
    "arima110_drift": "drift",
    "damped_trend": "theta",
    "theta": "drift",
    "linear_trend": "drift",
    "level": "drift",
    "combination": "drift",
}
"""Where a model goes when the series is too short for it or its fit fails; ``drift`` ends it."""


# --------------------------------------------------------------------------------------------
# the front door
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimResult:
    """Sample paths for one series.

    Attributes
    ----------
    paths : (n_sims, h) float on the original scale, inside the domain
    model : the stable name of what ran, e.g. ``"combination"``, ``"drift(fallback)"``
    point : (h,) the point forecast on the original scale (the back-transformed model point;
        for the combination it is also the paths' per-step median)
    notes : why a fallback ran, one line per model skipped (empty when none was)
    """

    paths: np.ndarray
    model: str
    point: np.ndarray
    notes: tuple[str, ...] = field(default_factory=tuple)


def _fit_with_fallback(spec: Model, z: np.ndarray, scale: Scale,
                       interventions: Interventions | None = None
                       ) -> tuple[FittedModel, str, list[str]]:
    """Fit ``spec``, walking :data:`FALLBACK` when the series is too short or the fit fails."""
    notes: list[str] = []
    fell_back = False
    n_eff = _n_effective(z.shape[0], interventions)
    while True:
        if n_eff >= spec.min_obs:
            try:
                fitted = (spec.fit(z, scale, interventions) if isinstance(spec, Combination)
                          else spec.fit(z, interventions))
                return fitted, fitted.name + ("(fallback)" if fell_back else ""), notes
            except (*_FIT_ERRORS, ModelFitError) as exc:
                notes.append(f"{spec.name}: fit failed ({exc})")
        else:
            notes.append(f"{spec.name}: needs {spec.min_obs} points, has {n_eff}"
                         + (" besides the pulse years" if n_eff < z.shape[0] else ""))
        if spec.name not in FALLBACK:
            raise ModelFitError("no model could be fitted: " + "; ".join(notes))
        spec = MODELS[FALLBACK[spec.name]]
        fell_back = True


Recentre = Callable[[np.ndarray], np.ndarray]
"""A combination's shift of its mixture of paths, from their per-step median."""


@dataclass(frozen=True)
class FittedSeries:
    """One series' models fitted on its modelling scale, ready for :func:`simulate_paths`."""

    scale: Scale
    model: FittedModel
    label: str  # what ran, e.g. "combination", "drift(fallback)"
    notes: tuple[str, ...] = ()


def _spec_of(models: Sequence[str] | None) -> Model:
    """The model spec that ``models`` names (one model, or a combination of several)."""
    names = tuple(models) if models else DEFAULT_MODELS
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise ModelFitError(f"unknown model {unknown[0]!r}: expected one of {', '.join(MODELS)}")
    if len(names) > 1 and "combination" in names:
        raise ModelFitError("'combination' cannot be combined with other models: pass it alone "
                            "or list the members")
    return MODELS[names[0]] if len(names) == 1 else Combination(members=names)


def _scale_of(y: np.ndarray, domain: Domain) -> Scale:
    """The series' scale, once its values and length are checked."""
    scale = fit_scale(y, domain)
    min_all = min(MIN_OBS_BY_MODEL.values())
    if y.shape[0] < min_all:
        raise InsufficientDataError(y.shape[0], min_all)
    return scale


def fit_series(y: np.ndarray, *, domain: Domain = "real", models: Sequence[str] | None = None,
               interventions: Interventions | None = None) -> FittedSeries:
    """Fit the models of :func:`simulate_paths` to one series (fallbacks included).

    Raises
    ------
    InsufficientDataError, DomainError, ModelFitError
        As :func:`simulate_paths`.
    """
    y = np.asarray(y, dtype=float).ravel()
    scale = _scale_of(y, domain)
    spec = _spec_of(models)
    fitted, label, notes = _fit_with_fallback(spec, scale.forward(y), scale, interventions)
    return FittedSeries(scale, fitted, label, tuple(notes))


def fit_many_series(ys: Sequence[np.ndarray], *, domain: Domain = "real",
                    models: Sequence[str] | None = None) -> list[FittedSeries | None]:
    """:func:`fit_series` of many series without interventions, in a fraction of the time.

    A combination's members are fitted to all the series together (their grid searches share
    one time loop; the same numbers as one series at a time). ``None`` for a series this does
    not settle (an error to raise, a fallback to walk): :func:`simulate_paths` then fits it
    itself, as it would have.
    """
    try:
        spec = _spec_of(models)
    except ModelFitError:
        return [None] * len(ys)
    ys = [np.asarray(y, dtype=float).ravel() for y in ys]
    if not isinstance(spec, Combination):
        return [None] * len(ys)
    scales: list[Scale | None] = []
    for y in ys:
        try:
            scales.append(_scale_of(y, domain))
        except KhforecastError:
            scales.append(None)
    ok = [j for j, sc in enumerate(scales) if sc is not None]
    fits = spec.fit_many([scales[j].forward(ys[j]) for j in ok], [scales[j] for j in ok])
    out: list[FittedSeries | None] = [None] * len(ys)
    for j, f in zip(ok, fits):
        if not isinstance(f, Exception):
            out[j] = FittedSeries(scales[j], f, f.name)
    return out


def simulate_on_scale(y: np.ndarray, h: int, n_sims: int, rng: np.random.Generator, *,
                      domain: Domain = "real", models: Sequence[str] | None = None,
                      interventions: Interventions | None = None,
                      fitted: FittedSeries | None = None, recentre_later: bool = False
                      ) -> tuple[FittedSeries, np.ndarray, Recentre | None]:
    """The fitted models and their ``(n_sims, h)`` paths on the modelling scale (what
    :func:`simulate_paths` sends back to the domain; the same arguments, errors and draws),
    and ``None``; with ``recentre_later`` a combination's paths come before their recentring,
    with the function that gives its shift from their per-step median (the caller's sort of
    the paths then yields the median too)."""
    y = np.asarray(y, dtype=float).ravel()
    if h < 1 or n_sims < 1:
        raise ValueError(f"h and n_sims must be >= 1, got h={h}, n_sims={n_sims}")
    if fitted is None:
        fitted = fit_series(y, domain=domain, models=models, interventions=interventions)
    model = fitted.model
    if recentre_later and isinstance(model, _FittedCombination):
        return fitted, model.mixture(h, n_sims, rng), partial(model.recentre, h)
    return fitted, model.simulate(h, n_sims, rng), None


def simulate_paths(y: np.ndarray, h: int, n_sims: int, rng: np.random.Generator, *,
                   domain: Domain = "real", spread: np.ndarray | None = None,
                   models: Sequence[str] | None = None,
                   interventions: Interventions | None = None,
                   fitted: FittedSeries | None = None) -> SimResult:
    """Fit, simulate ``n_sims`` connected paths ``h`` steps ahead, and return them in the domain.

    Parameters
    ----------
    y : 1-d array of the observed values (consecutive steps, oldest first, on the original scale)
    h : steps ahead (>= 1)
    n_sims : number of paths (>= 1)
    rng : the series' own generator (one ``SeedSequence`` spawn per series)
    domain : ``"percent"`` (logit scale), ``"positive"`` (log scale) or ``"real"``
    spread : (h,) multipliers of the dispersion around the per-step median on the modelling
        scale (from calibration); ``None`` leaves the paths as the models made them
    models : model names; one name runs that model (with its fallback chain), several are
        combined by :class:`Combination`'s default rule; default: ``("combination",)``
    interventions : pulse and step positions within ``y``
        (:class:`~khforecast.interventions.Interventions`), given to every member
    fitted : the series' models already fitted (:func:`fit_series`, :func:`fit_many_series`
        with the same ``y``, ``domain``, ``models`` and ``interventions``); ``None`` fits here

    Returns
    -------
    SimResult

    Raises
    ------
    InsufficientDataError
        When ``y`` has fewer than 3 points (no model is honest with fewer).
    DomainError
        When a value is not finite or lies outside the domain.
    ModelFitError
        When a name is unknown or no model in the fallback chain could be fitted.
    """
    fitted, paths, _ = simulate_on_scale(y, h, n_sims, rng, domain=domain, models=models,
                                         interventions=interventions, fitted=fitted)
    scale, label, notes = fitted.scale, fitted.label, fitted.notes
    point = fitted.model.forecast(h)
    if spread is not None:
        spread = np.asarray(spread, dtype=float)
        if spread.shape != (h,):
            raise ValueError(f"spread must have shape ({h},), got {spread.shape}")
        med = np.median(paths, axis=0)
        paths = med[None, :] + spread[None, :] * (paths - med[None, :])
    return SimResult(scale.backward(paths), label, scale.backward(point), tuple(notes))
