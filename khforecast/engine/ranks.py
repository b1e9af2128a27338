"""Order statistics of simulated draws, computed once: the ranks the calibration maps, the
sorted draws the median and quantiles come from.

Every function here gives the numbers numpy's own (stable argsort, ``np.median``,
``np.quantile``) would, bit for bit, in less time; ``tests/test_predictive.py`` checks it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from khforecast.engine.models import SimResult

__all__ = [
    "PredictiveResult",
    "draw_quantiles",
    "has_negative_zero",
    "sorted_draws",
    "stable_order",
    "unrank",
]


def stable_order(zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, sorted)`` of each row of ``zt`` as a stable argsort gives them, faster.

    An unstable (SIMD) argsort orders distinct values exactly as a stable one does; only a row
    with equal values or NaNs (their order is arbitrary there) is sorted again stably.
    """
    order = np.argsort(zt, axis=1)
    zs = np.take_along_axis(zt, order, axis=1)
    redo = np.isnan(zs[:, -1]) | np.any(zs[:, 1:] == zs[:, :-1], axis=1)
    for k in np.flatnonzero(redo):
        order[k] = np.argsort(zt[k], kind="stable")
        zs[k] = zt[k, order[k]]
    return order, zs


def unrank(order: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Paths ``(n, h)`` (C order) from values by rank: path ``order[k, i]`` gets ``ranked[k, i]``."""
    out = np.empty(ranked.shape)
    for k in range(ranked.shape[0]):
        out[k, order[k]] = ranked[k]
    return np.ascontiguousarray(out.T)


def sorted_draws(ranked: np.ndarray) -> np.ndarray:
    """Each row of ``ranked`` in increasing order: usually it already is (the calibrated value
    grows with the rank, and rounding and the caps keep the order), so the sort is rare."""
    if np.all(ranked[:, 1:] >= ranked[:, :-1]):
        return ranked
    return np.sort(ranked, axis=1)


def has_negative_zero(x: np.ndarray) -> bool:
    """Whether ``x`` holds a -0.0 (a sort and numpy's selection may place it apart from +0.0)."""
    return bool(np.any(np.signbit(x) & (x == 0.0)))


def draw_quantiles(res: SimResult, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(res.paths, levels, axis=0)``, from the sorted draws when the result has them
    (:class:`PredictiveResult`): the same numbers without selecting order statistics again."""
    draws = getattr(res, "sorted_draws", None)
    if draws is None or has_negative_zero(draws):
        return np.quantile(res.paths, levels, axis=0)
    return np.quantile(draws, levels, axis=1)


@dataclass(frozen=True)
class PredictiveResult(SimResult):
    """A :class:`SimResult` that also keeps each step's draws sorted (``(h, n)``), so quantiles
    come without another sort (:func:`draw_quantiles`)."""

    sorted_draws: np.ndarray | None = None
