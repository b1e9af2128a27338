"""statsmodels members of the model registry: ETS, a local linear trend, ARIMA with drift.

Each spec here has the interface of :mod:`khforecast.models` (``name``, ``min_obs``,
``fit(y, interventions) -> fitted`` with ``forecast(h)`` and ``simulate(h, n, rng)``), works on
the modelling (logit/log) scale like every member, and is fitted by maximum likelihood with
statsmodels:

``ets_damped``
    ``ETSModel(error="add", trend="add", damped_trend=True)``; paths from its own
    ``ETSResults.simulate`` (given the series' generator). It takes no regressors: pulse years
    are bridged by linear interpolation before the fit and their residuals are left out of the
    in-sample error; a declared step makes it decline (the registry falls back).
``uc_trend``
    ``UnobservedComponents(level="local linear trend")`` with the interventions as exogenous
    dummies (:class:`~khforecast.interventions.Interventions`).
``arima011_drift``, ``arima110_drift``
    ``SARIMAX(order=(0,1,1) or (1,1,0), trend="c")``: SARIMAX adds its trend to the
    differenced series, so with d = 1 the constant is the drift (``trend="t"`` would make the
    yearly change itself grow); interventions as exogenous dummies; the variance is
    concentrated out of the likelihood (one parameter fewer to search: half the fitting time).

State-space paths are drawn in one vectorised pass from the fitted model's matrices: the
projected mean is statsmodels' own ``forecast`` and each path adds ``Z x_k + e_k`` with
``x_{T+1} ~ N(0, P_{T+1})`` (the filtered state's uncertainty) and ``x_{k+1} = T x_k + R u_k``,
which is exactly what ``MLEResults.simulate(anchor="end")`` draws (``tests/test_statespace.py``
feeds both the same shocks), a thousand times faster for 4,000 paths.

A fit that raises, warns of non-convergence or returns non-finite values raises
:class:`~khforecast.errors.ModelFitError`, so the registry's fallback chain takes over and the
``model`` column says so. BLAS runs single-threaded inside the fits: on a busy machine
OpenBLAS threads made each tiny Kalman filter step 25 times slower.

The state-space likelihoods are maximised with statsmodels' complex-step score
(``optim_score="approx", optim_complex_step=True``) instead of L-BFGS-B's own finite
differences: the gradient is exact to rounding, so the optimiser stops at the maximum instead
of failing its line search in the finite-difference noise near it; a line search that stalls
where the exact gradient is nil counts as converged (:func:`_fit_quietly`), and the local linear
trend starts from equal variances (:func:`_uc_start`). The series is divided by a power of two
near the spread of its yearly changes for the search (:func:`_fitting_scale`: the models are
scale-equivariant, and on the logit/log scale the drift and the variances were otherwise
scaled a hundred to a thousand times unlike the AR/MA coefficient, so the search crept), the
maximum is mapped back and statsmodels filters the series itself at it (:func:`_rescaled`);
and the optimiser's value and gradient come from the same complex-step evaluations
(:func:`_loglike_and_score`). On the bundled batch's 63 state-space fits: none falls back
(9 with finite differences), 2,449 likelihood evaluations (8,944 with finite differences,
6,031 with the complex-step score alone), at the same maxima (11 fits at a boundary, an MA coefficient at +-1 or a variance at
0, end at most 1.3e-4 lower in log-likelihood, 7 higher by up to 0.04, the rest within 1e-6).
Each fit is memoised by content within a process (:func:`_memoised`):
the forecast, the deep dive's back-tests of a member alone and its diagnostics meet the same
(member, series, interventions) more than once, and a fit is a pure function of them.
"""
from __future__ import annotations

import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import ThreadpoolController

from khforecast.errors import ModelFitError
from khforecast.engine.interventions import Interventions

__all__ = ["ARIMADrift", "ETSDamped", "LocalLinearTrend", "STATSMODELS_MODELS", "preload"]


@lru_cache(maxsize=1)
def _threads() -> ThreadpoolController:
    return ThreadpoolController()


def preload() -> None:
    """Import the statsmodels modules the members use (about 1 CPU-second), e.g. once in a
    parent process before it forks workers, instead of once in every worker."""
    import statsmodels.tools.sm_exceptions  # noqa: F401
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401
    import statsmodels.tsa.statespace.structural  # noqa: F401

    _threads()


#: largest |gradient| of the mean log-likelihood at which a stopped optimiser is at the maximum
_STALL_GTOL = 1e-3


def _fit_quietly(fit: Callable[[], Any], name: str,
                 gradient: Callable[[Any], np.ndarray] | None = None) -> Any:
    """Run a statsmodels fit with one BLAS thread; non-convergence and failures -> ModelFitError.

    statsmodels warns when L-BFGS-B did not converge, i.e. stopped at its iteration limit or
    with a line search finding no better point. Given ``gradient`` (the exact, complex-step
    gradient of the mean log-likelihood at what ``fit`` returned; for the state-space members, of
    the series divided by :func:`_fitting_scale`), such a stop still counts as converged where the gradient is below :data:`_STALL_GTOL`: a stalled line search happens at
    the maximum when a variance is estimated at zero (on the bundled batch's series the two such
    stops had gradients of 3e-4 and 7e-4; fits L-BFGS-B called converged had up to 0.16), the
    iteration limit on the flat ridge of an MA coefficient near 1 (the likelihood by then above
    finite differences' converged one)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught, _threads().limit(limits=1, user_api="blas"):
        warnings.simplefilter("always")
        try:
            res = fit()
            warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            stalled = (warned and gradient is not None
                       and float(np.max(np.abs(gradient(res)))) <= _STALL_GTOL)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError,
                IndexError) as exc:
            raise ModelFitError(f"{name}: statsmodels fit failed ({type(exc).__name__}: {exc})") from exc
    if warned and not stalled:
        raise ModelFitError(f"{name}: maximum likelihood did not converge")
    if not np.all(np.isfinite(np.asarray(getattr(res, "params", res), dtype=float))):
        raise ModelFitError(f"{name}: non-finite parameters")
    return res


#: fitted members (or the ModelFitError a fit raised) by content, most recently used last
_FITS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_FITS_MAX = 256


def _memoised(spec: Any, y: np.ndarray, iv: Interventions, fit: Callable[[], Any]) -> Any:
    """``fit()``, or what it returned (or raised) for the same spec, values and interventions
    earlier in this process: a fit is a pure function of them, so the result is the same."""
    key = (spec, y.shape, y.tobytes(), iv)
    if key in _FITS:
        _FITS.move_to_end(key)
        hit = _FITS[key]
    else:
        try:
            hit = fit()
        except ModelFitError as exc:
            hit = exc
        _FITS[key] = hit
        if len(_FITS) > _FITS_MAX:
            _FITS.popitem(last=False)
    if isinstance(hit, ModelFitError):
        raise ModelFitError(str(hit))
    return hit


def _interventions(iv: Interventions | None) -> Interventions:
    return iv if iv is not None else Interventions()


def _enough(name: str, min_obs: int, n: int, iv: Interventions) -> None:
    """Each dummy takes one point's information: ``n - dummies`` must reach ``min_obs``."""
    if n - iv.n_regressors < min_obs:
        raise ModelFitError(f"{name}: needs {min_obs} points besides its {iv.n_regressors} "
                            f"intervention dummies, has {n}")


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L @ L.T == m`` for a symmetric positive semi-definite ``m``."""
    m = 0.5 * (m + m.T)
    vals, vecs = np.linalg.eigh(m)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))[None, :]


#: steps of the one statsmodels forecast a fitted member makes (shorter horizons are its head)
_FORECAST_STEPS = 30


def _forecast_head(cache: dict[str, np.ndarray], h: int, compute: Callable[[int], Any]) -> np.ndarray:
    """The first ``h`` steps of one forecast of ``max(h, _FORECAST_STEPS)`` steps, made once.

    A state-space forecast costs several milliseconds whatever its horizon (statsmodels builds
    an extended model for it) and the engine asks a member for it four or five times (the fit's
    check, the combination's trim, its recentring, the point); step ``k`` does not depend on
    the horizon (identical bits on the bundled batch's 80 fits, horizons 1-11)."""
    if "mean" not in cache or cache["mean"].shape[0] < h:
        cache["mean"] = np.asarray(compute(max(h, _FORECAST_STEPS)), dtype=float)
    return cache["mean"][:h].copy()


# -- ETS ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _FittedETS:
    result: Any  # statsmodels ETSResults
    n_obs: int
    mse: float
    name: str = "ets_damped"
    interventions: Interventions = Interventions()
    estimates: ClassVar[str] = "alpha, beta, phi, initial level and trend, sigma2 (maximum likelihood)"
    _forecasts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def forecast(self, h: int) -> np.ndarray:
        return _forecast_head(self._forecasts, h, self.result.forecast)

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        sims = self.result.simulate(h, anchor="end", repetitions=n, rng=rng)
        return np.asarray(sims, dtype=float).reshape(h, n).T


def _ets_start(model: Any, z: np.ndarray, start: "Callable[[np.ndarray], tuple[float, ...]] | None"
               ) -> np.ndarray | None:
    """ETSModel's start with (alpha, beta, phi, l0, b0) from ``start`` (None: statsmodels' own).

    The registry (:data:`khforecast.engine.models.MODELS`) passes its least-squares ETS(A,Ad,N)
    fit, :class:`~khforecast.engine.models.DampedTrend`: it minimises the same model's sum of
    squared one-step errors on a refined grid with the initial states concentrated out, i.e. it
    maximises the same concentrated Gaussian likelihood on a grid; ETSModel's maximum
    likelihood polishes it. From statsmodels' own start L-BFGS-B stopped at a lower local
    maximum (alpha at its lower bound) on 12 of the bundled batch's 17 ETS series (by 0.05 to
    24.6 in log-likelihood; equal on the other 5), with 3.7 times the likelihood evaluations."""
    if start is None:
        return None
    try:
        grid = start(z)
    except ModelFitError:
        return None
    params = np.array(model.start_params, dtype=float)
    params[:5] = grid
    return params


@dataclass(frozen=True)
class ETSDamped:
    """Additive damped trend ETS(A,Ad,N) by maximum likelihood, paths from its own simulate."""

    name: str = "ets_damped"
    min_obs: int = 8
    source: str = "statsmodels ETSModel(error='add', trend='add', damped_trend=True)"
    takes: tuple[str, ...] = ("pulse",)
    start: Callable[[np.ndarray], tuple[float, ...]] | None = field(default=None, repr=False)
    """(alpha, beta, phi, l0, b0) to start the likelihood from (see :func:`_ets_start`)."""

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedETS:
        """Fit by maximum likelihood; pulse years bridged by interpolation (no regressors)."""
        iv = _interventions(interventions)
        if iv.step is not None:
            raise ModelFitError(f"{self.name}: takes no step intervention (no regressors)")
        y = np.ascontiguousarray(y, dtype=float)
        _enough(self.name, self.min_obs, len(y), iv)
        return _memoised(self, y, iv, lambda: self._fit(y, iv))

    def _fit(self, y: np.ndarray, iv: Interventions) -> _FittedETS:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        keep = iv.keep(len(y))
        z = iv.bridge(y)
        model = ETSModel(z, error="add", trend="add", damped_trend=True)
        res = _fit_quietly(lambda: model.fit(start_params=_ets_start(model, z, self.start), disp=False),
                           self.name)
        resid = np.asarray(res.resid, dtype=float)[keep]
        fitted = _FittedETS(res, len(y), float(np.mean(resid ** 2)), self.name, iv)
        if not np.all(np.isfinite(fitted.forecast(1))):
            raise ModelFitError(f"{self.name}: non-finite forecast")
        return fitted


# -- linear Gaussian state-space models (UC, SARIMAX) --------------------------------------
_SYSTEM_MATRICES = ("design", "obs_intercept", "obs_cov", "transition", "state_intercept",
                    "selection", "state_cov")
#: the dummies' effects among the parameters (UC: beta.x1, SARIMAX: x1)
_EXOG_PARAM = re.compile(r"(beta\.)?x\d+$")


@dataclass(frozen=True, eq=False)
class _FittedStateSpace:
    result: Any  # statsmodels MLEResults
    interventions: Interventions
    n_obs: int
    mse: float
    name: str
    _forecasts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def _exog(self, h: int) -> np.ndarray | None:
        return self.interventions.future(h) if self.interventions.n_regressors else None

    def forecast(self, h: int) -> np.ndarray:
        return _forecast_head(self._forecasts, h, self._forecast)

    def _forecast(self, h: int) -> np.ndarray:
        """statsmodels' forecast, given the system matrices of the ``h`` future years.

        Each member's matrices are constant in time but for the dummies' effects in the
        observation intercept (``exog @ beta``) and SARIMAX's drift term, which it stores per
        year; ``result.forecast`` rebuilds (clones) the model to extend them, this passes them to
        ``get_prediction(extend_model=False)``: the same numbers to the bit (tests), in half
        the time."""
        fr, n = self.result.filter_results, self.n_obs
        future = {m: np.repeat(getattr(fr, m)[..., -1:], h, axis=-1) for m in _SYSTEM_MATRICES
                  if getattr(fr, m).shape[-1] > 1}
        if self.interventions.n_regressors:
            names = self.result.model.param_names
            beta = np.asarray(self.result.params)[[i for i, p in enumerate(names)
                                                   if _EXOG_PARAM.match(p)]]
            future["obs_intercept"] = np.dot(self._exog(h), beta)[None, :]
        with _threads().limit(limits=1, user_api="blas"):
            return self.result.get_prediction(start=n, end=n + h - 1, extend_model=False,
                                              **future).predicted_mean

    def _matrices(self) -> tuple[np.ndarray, ...]:
        fr = self.result.filter_results  # its matrices carry a concentrated-out variance
        return (fr.design[:, :, -1], fr.transition[:, :, -1], fr.selection[:, :, -1],
                fr.state_cov[:, :, -1], fr.obs_cov[:, :, -1], fr.predicted_state_cov[:, :, -1])

    def shocks(self, h: int, n: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Standard-normal-built draws (x_{T+1} deviation (n, k), e (n, h), u (n, h, r))."""
        _, _, _, q, obs, p = self._matrices()
        x1 = rng.standard_normal((n, p.shape[0])) @ _psd_sqrt(p).T
        e = rng.standard_normal((n, h)) * np.sqrt(max(float(obs[0, 0]), 0.0))
        u = rng.standard_normal((n, h, q.shape[0])) @ _psd_sqrt(q).T
        return x1, e, u

    def paths_from(self, mean: np.ndarray, x1: np.ndarray, e: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Paths ``mean_k + Z x_k + e_k``, ``x_{k+1} = T x_k + R u_k`` (shapes as :meth:`shocks`)."""
        z, tr, r, *_ = self._matrices()
        h = mean.shape[0]
        out = np.empty((x1.shape[0], h))
        x = x1
        for k in range(h):
            out[:, k] = mean[k] + x @ z[0] + e[:, k]
            x = x @ tr.T + u[:, k, :] @ r.T
        return out

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.paths_from(self.forecast(h), *self.shocks(h, n, rng))


#: parameter name -> power of the data's scale it carries (variances 2, AR/MA coefficients 0,
#: the drift and the dummies' effects 1)
_SCALE_POWERS = ((re.compile(r"sigma2(\..+)?$"), 2), (re.compile(r"(ar|ma)\.L\d+$"), 0),
                 (re.compile(r"intercept$"), 1), (_EXOG_PARAM, 1))


def _fitting_scale(y: np.ndarray) -> float:
    """The power of two nearest the standard deviation of the yearly change (1 if it is nil).

    The likelihood is maximised on ``y / scale``: on the logit/log scale the changes are often
    0.001-0.1, so the drift's and the variances' gradients were 1/scale^2 times the MA/AR
    coefficient's and L-BFGS-B crept along in tiny steps. The models are scale-equivariant, so
    the maximum maps back exactly (a power of two keeps the division and the mapping exact)."""
    sd = float(np.std(np.diff(y))) if y.size > 1 else 0.0
    return float(2.0 ** np.round(np.log2(sd))) if np.isfinite(sd) and sd > 0 else 1.0


def _rescaled(names: list[str], params: np.ndarray, scale: float) -> np.ndarray:
    """Parameters fitted on ``y / scale`` in the units of ``y``."""
    out = np.array(params, dtype=float)
    for i, name in enumerate(names):
        power = next((k for pattern, k in _SCALE_POWERS if pattern.match(name)), None)
        if power is None:
            raise ValueError(f"no scale rule for the parameter {name!r}")
        out[i] *= scale ** power
    return out


def _loglike_and_score(model: Any) -> Callable[..., tuple[float, np.ndarray]]:
    """The mean log-likelihood and its gradient in the optimiser's (unconstrained) parameters,
    both from the same complex-step evaluations.

    The gradient is statsmodels' complex-step score to the bit (its step ``sqrt(eps) *
    max(|p|, 0.1)``, one ``loglike(complex_step=True)`` per parameter, times
    ``transform_jacobian``); the value is the real part of the first of them, equal to the real
    log-likelihood to O(step^2) (1e-16 relative), where statsmodels' fit pays one more, real,
    evaluation for it: a quarter to a third fewer Kalman filter passes."""
    nobs = model.endog.shape[0]

    def both(x: np.ndarray, *_: Any) -> tuple[float, np.ndarray]:
        params = model.transform_params(x)
        step = np.sqrt(np.finfo(float).eps) * np.maximum(np.abs(params), 0.1)
        ll = np.array([model.loglike(params + 1j * step[k] * (np.arange(params.size) == k),
                                     transformed=True, complex_step=True)
                       for k in range(params.size)])
        return float(ll[0].real) / nobs, np.dot(model.transform_jacobian(x), ll.imag / step) / nobs

    return both


def _state_space_fit(name: str, make: Callable[[np.ndarray, np.ndarray | None], Any], y: np.ndarray,
                     iv: Interventions, start: Callable[[Any], np.ndarray] | None = None
                     ) -> _FittedStateSpace:
    """Fit ``make(values, exog)`` by maximum likelihood (complex-step score) on the series
    divided by :func:`_fitting_scale`, from ``start(model)`` if given, else statsmodels' own
    start; the result is statsmodels' filter of ``make(y, exog)`` at the maximum mapped back
    (:func:`_rescaled`); the fit is scored by its one-step residuals."""
    exog = iv.regressors(len(y)) if iv.n_regressors else None
    scale = _fitting_scale(y)
    scaled: Any = None

    def fit() -> np.ndarray:
        nonlocal scaled
        scaled = make(y / scale, exog)
        return scaled.fit(start_params=start(scaled) if start else None, disp=False,
                          return_params=True, optim_score="approx", optim_complex_step=True,
                          loglike_and_score=_loglike_and_score(scaled))

    def gradient(params: np.ndarray) -> np.ndarray:
        return _loglike_and_score(scaled)(scaled.untransform_params(params))[1]

    found = _fit_quietly(fit, name, gradient)
    model = make(y, exog)
    params = _rescaled(model.param_names, found, scale)
    res = _fit_quietly(lambda: model.filter(params, cov_type="none"), name)
    burn = int(getattr(res, "loglikelihood_burn", 0))
    keep = iv.keep(len(y))
    keep[:burn] = False
    resid = np.asarray(res.resid, dtype=float)[keep]
    if resid.size == 0 or not np.all(np.isfinite(resid)):
        raise ModelFitError(f"{name}: no finite one-step residuals to score the fit")
    fitted = _FittedStateSpace(res, iv, len(y), float(np.mean(resid ** 2)), name)
    if not np.all(np.isfinite(fitted.forecast(1))):
        raise ModelFitError(f"{name}: non-finite forecast")
    return fitted


def _uc_start(model: Any) -> np.ndarray:
    """statsmodels' start with each variance a third of the variance of the yearly change.

    Its own start takes the variances from Hodrick-Prescott filters; on the bundled batch's 21
    series this start reached the higher likelihood of the two in every fit (by up to 0.87) with
    a third fewer likelihood evaluations."""
    v = float(np.var(np.diff(model.endog[:, 0])))
    variances = np.array([n.startswith("sigma2.") for n in model.param_names])
    if v > 0 and variances.all():  # no dummies: nothing of statsmodels' start is left to take
        return np.full(variances.size, v / 3)
    sp = np.array(model.start_params, dtype=float)
    if v > 0:
        sp[variances] = v / 3
    return sp


@dataclass(frozen=True)
class LocalLinearTrend:
    """Local linear trend unobserved-components model, interventions as exogenous dummies."""

    name: str = "uc_trend"
    estimates: ClassVar[str] = "variances of the irregular, level and slope; dummies' effects (maximum likelihood)"
    min_obs: int = 6
    source: str = "statsmodels UnobservedComponents(level='local linear trend', exog=dummies)"
    takes: tuple[str, ...] = ("pulse", "step")

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedStateSpace:
        """Fit the three variances (and the dummies' effects) by maximum likelihood."""
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        iv = _interventions(interventions)
        y = np.ascontiguousarray(y, dtype=float)
        _enough(self.name, self.min_obs, len(y), iv)
        return _memoised(self, y, iv, lambda: _state_space_fit(
            self.name, lambda v, x: UnobservedComponents(v, level="local linear trend", exog=x), y,
            iv, start=_uc_start))


@dataclass(frozen=True)
class ARIMADrift:
    """ARIMA(p,1,q) with drift (SARIMAX, ``trend="c"``), interventions as exogenous dummies."""

    order: tuple[int, int, int] = (0, 1, 1)
    name: str = "arima011_drift"
    estimates: ClassVar[str] = "MA or AR coefficient, drift, dummies' effects, sigma2 (maximum likelihood)"
    min_obs: int = 6
    source: str = "statsmodels SARIMAX(order, trend='c', exog=dummies, concentrate_scale=True)"
    takes: tuple[str, ...] = ("pulse", "step")

    def fit(self, y: np.ndarray, interventions: Interventions | None = None) -> _FittedStateSpace:
        """Fit the ARMA coefficient, the drift and the variance by maximum likelihood."""
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        iv = _interventions(interventions)
        y = np.ascontiguousarray(y, dtype=float)
        _enough(self.name, self.min_obs, len(y), iv)
        return _memoised(self, y, iv, lambda: _state_space_fit(self.name, lambda v, x: SARIMAX(
            v, order=self.order, trend="c", exog=x, concentrate_scale=True), y, iv))


STATSMODELS_MODELS = {
    "ets_damped": ETSDamped(),
    "uc_trend": LocalLinearTrend(),
    "arima011_drift": ARIMADrift((0, 1, 1), "arima011_drift"),
    "arima110_drift": ARIMADrift((1, 1, 0), "arima110_drift"),
}
"""The statsmodels members, by registry name (merged into :data:`khforecast.models.MODELS`)."""
