"""Domain transforms: the scale each kind of indicator is modelled on, and back.

A percent (0-100) is modelled on the logit scale, a positive rate or count on the log scale and
a real-valued series as is. Draws made on the modelling scale and sent back with
:meth:`Scale.backward` always lie inside the domain.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from khforecast.errors import KhforecastError
from khforecast.plan.targets import DOMAINS, Domain  # defined with the catalog; re-exported

__all__ = ["Domain", "DOMAINS", "DomainError", "EXP_CAP", "Scale", "fit_scale",
           "data_resolution"]


_MAX_DECIMALS = 6
#: a positive series' draws are capped here on the log scale before ``exp`` (no overflow)
EXP_CAP = 700.0


class DomainError(KhforecastError, ValueError):
    """Raised when a series holds a value outside its domain (a percent above 100, a negative count)."""


def data_resolution(y: np.ndarray) -> float:
    """The precision the values were recorded to, e.g. 0.1 for ``[99.4, 98.7]``.

    It is ``10**-d`` for the smallest ``d`` in 0..6 such that every value is a multiple of it
    (to a relative 1e-9); ``1e-6`` when the values carry more digits than that.
    """
    y = np.asarray(y, dtype=float)
    for d in range(_MAX_DECIMALS + 1):
        scaled = y * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return 10.0**-d
    return 10.0**-_MAX_DECIMALS


@dataclass(frozen=True)
class Scale:
    """A forward/backward transform pair for one series (vectorised over any array shape).

    Attributes
    ----------
    domain : {"percent", "positive", "real"}
    eps : float
        Percent only: values are clipped to ``[eps, 100 - eps]`` before the logit.
    offset : float
        Positive only: the model works on ``log(y + offset)``; 0 when every value is > 0.
    floor : float
        Positive only: ``y + offset`` is floored here before the log, so a draw made on the
        original scale that falls to or below 0 maps to a finite value.
    """

    domain: Domain
    eps: float = 0.0
    offset: float = 0.0
    floor: float = 0.0

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Map values from the original scale to the modelling scale."""
        x = np.asarray(x, dtype=float)
        # in place on one temporary: the same operations as the formulas, less memory traffic
        if self.domain == "percent":
            p = np.clip(x, self.eps, 100.0 - self.eps, out=np.empty_like(x))
            p /= 100.0
            z = np.log(p)
            np.negative(p, out=p)
            z -= np.log1p(p, out=p)  # log(p) - log1p(-p)
            return z
        if self.domain == "positive":
            t = np.add(x, self.offset, out=np.empty_like(x))
            np.maximum(t, self.floor, out=t)
            return np.log(t, out=t)[()]  # log(max(x + offset, floor)); a scalar for a scalar
        return x.copy()

    def backward(self, z: np.ndarray) -> np.ndarray:
        """Map values from the modelling scale back into the domain."""
        z = np.asarray(z, dtype=float)
        if self.domain == "percent":
            return 100.0 * expit(z)
        if self.domain == "positive":
            # capped below exp's overflow, so even a runaway draw stays a finite number
            t = np.minimum(z, EXP_CAP, out=np.empty_like(z))
            np.exp(t, out=t)
            t -= self.offset
            return np.maximum(t, 0.0, out=t)[()]  # max(exp(min(z, 700)) - offset, 0)
        return z.copy()


def fit_scale(y: np.ndarray, domain: Domain) -> Scale:
    """Check ``y`` against its domain and choose the transform's constants from the data.

    Parameters
    ----------
    y : array of float
        The observed values on the original scale.
    domain : {"percent", "positive", "real"}

    Returns
    -------
    Scale

    Raises
    ------
    DomainError
        When the domain is unknown, a value is not finite, or a value lies outside the domain.

    Notes
    -----
    *Percent*: the logit is infinite at 0 and 100, so values are clipped to
    ``[eps, 100 - eps]`` with ``eps`` half the data's resolution (capped at 0.5): a value
    published as ``100`` with one decimal means "at least 99.95", so 99.95 is the most the data
    can tell. A series at 99.4 rising towards 100 thus keeps a finite, data-justified trend on
    the logit scale, and back-transformed draws stay strictly inside (0, 100) except where
    floating point rounds them to the bound itself.

    *Positive*: ``log(y + offset)``; the offset is 0 when all values are > 0, otherwise half the
    smallest positive value (1 if all are zero), so zeros stay finite; draws are sent back with
    ``exp(z) - offset`` floored at 0. Values at or below 0 (e.g. draws of a model fitted on the
    original scale) enter the log at the floor: ``offset`` if there is one, else half the
    smallest observed value.
    """
    if domain not in DOMAINS:
        raise DomainError(f"domain: expected one of {', '.join(DOMAINS)}, found {domain!r}")
    y = np.asarray(y, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise DomainError(f"value at position {bad[0]}: expected a finite number, found {y[bad[0]]}")
    if domain == "percent":
        out = np.flatnonzero((y < 0) | (y > 100))
        if out.size:
            raise DomainError(f"value at position {out[0]}: expected a percent in 0-100, "
                              f"found {y[out[0]]:g}")
        eps = min(0.5, max(data_resolution(y) / 2.0, 1e-6))
        return Scale("percent", eps=eps)
    if domain == "positive":
        out = np.flatnonzero(y < 0)
        if out.size:
            raise DomainError(f"value at position {out[0]}: expected a value >= 0 for domain "
                              f"'positive', found {y[out[0]]:g}")
        tiny = np.finfo(float).tiny  # half a subnormal value is 0, whose log is -inf
        if np.all(y > 0):
            return Scale("positive", floor=max(float(y.min() / 2.0), tiny))
        pos = y[y > 0]
        offset = max(float(pos.min() / 2.0), tiny) if pos.size else 1.0
        return Scale("positive", offset=offset, floor=offset)
    return Scale("real")
