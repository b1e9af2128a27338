"""Order statistics of simulated draws, computed once: the ranks the calibration maps, the
sorted draws the median and quantiles come from.

Every function here gives the numbers numpy's own (stable argsort, ``np.median``,
``np.quantile``, ``np.interp``) or the plain computation would, bit for bit, in less time;
``tests/test_ranks.py`` checks it (with signed zeros, ties, NaNs and infinities).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from khforecast.engine.models import SimResult
from khforecast.engine.scales import EXP_CAP, Scale

__all__ = [
    "PredictiveResult",
    "draw_quantiles",
    "has_negative_zero",
    "median_and_draws",
    "rank_interp",
    "round_trip_order",
    "sorted_draws",
    "sorted_median",
    "sorted_quantiles",
    "stable_order",
    "unrank",
]


_SIGN = np.uint64(1 << 63)


def stable_order(zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, sorted)`` of each row of ``zt`` as a stable argsort gives them, faster.

    Each value's bits are mapped to an unsigned key that sorts in the same order (-0.0 as +0.0),
    its lowest bits replaced by the value's place in ``zt`` (row by row): one plain (SIMD) sort
    of each row's keys then orders distinct values as an argsort does and equal ones by column,
    as a stable one does. Two distinct values that differ only in the replaced bits (closer
    than about 1e-11 of each other) may come out of order: a row where that happened, or that
    holds a NaN, is sorted again by a stable argsort.
    """
    h, n = zt.shape
    bits = max(1, (h * n - 1).bit_length())
    if bits > 24:  # too few bits of the value left in the key
        return _argsort_rows(zt)
    keys = np.add(zt, 0.0).view(np.uint64)  # -0.0 + 0.0 is +0.0
    flip = keys >> np.uint64(63)
    np.negative(flip, out=flip)  # all ones for a negative value, else 0
    flip |= _SIGN
    keys ^= flip  # negative values: every bit flipped; others: the sign bit
    low = np.uint64((1 << bits) - 1)
    keys &= ~low
    keys |= np.arange(h * n, dtype=np.uint64).reshape(h, n)
    keys.sort(axis=1)
    keys &= low
    at = keys.view(np.int64)  # places in zt, row by row
    zs = np.ravel(zt).take(at)
    at -= (np.arange(h) * n)[:, None]
    order = at
    redo = (np.isnan(zs[:, 0]) | np.isnan(zs[:, -1])  # NaNs sort to one end or the other
            | np.any(zs[:, 1:] < zs[:, :-1], axis=1))
    for k in np.flatnonzero(redo):
        order[k] = np.argsort(zt[k], kind="stable")
        zs[k] = zt[k, order[k]]
    return order, zs


def _argsort_rows(zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stable_order` by numpy's argsort (unstable SIMD, then stable where rows tie)."""
    order = np.argsort(zt, axis=1)
    zs = np.take_along_axis(zt, order, axis=1)
    redo = np.isnan(zs[:, -1]) | np.any(zs[:, 1:] == zs[:, :-1], axis=1)
    for k in np.flatnonzero(redo):
        order[k] = np.argsort(zt[k], kind="stable")
        zs[k] = zt[k, order[k]]
    return order, zs


def round_trip_order(paths: np.ndarray, back: Scale, forward: Scale,
                     recentre: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """:func:`stable_order` of the rows of ``forward.forward(back.backward(z)).T`` as ``(order,
    columns)``, ``columns(i)`` the ``(h, len(i))`` values ranked ``i`` (an index array);
    ``z = paths``, or with ``recentre`` ``paths + recentre(their per-step median)`` (as
    ``np.median`` gives it).

    A shift and a trip to the domain and back (a positive series: ``exp`` then ``log``) move
    each value by a rounding, and send every value below the scale's floor to the floor. Where
    that cannot reorder them otherwise (the same scale both ways, no value within 1e-9 of the
    floor or above the cap, no two distinct values above the floor closer than 1e-12
    relative: each step is within about 1e-15), the order is that of ``paths``, whose sort
    also gives the median, with the values sent to the floor (tied there) taken by path, as a
    stable sort takes ties; only the columns read are shifted and sent the round trip.
    Otherwise every value is, and sorted again.
    """
    zt = np.ascontiguousarray(paths.T)
    if back == forward and back.domain in ("real", "positive"):
        order, zs = stable_order(zt)
        shifted = zs
        if recentre is not None:
            shift = recentre(sorted_median(zs) if _plain(zs) else np.median(zt, axis=1))[:, None]
            shifted = zs + shift
        if back.domain == "real":  # both ways a copy
            if _kept(zs, shifted, np.zeros(zs.shape[0], dtype=int), -np.inf, np.inf, 0.0):
                return order, lambda i: shifted[:, i]
        else:
            floor = np.log(max(back.offset, back.floor))
            flat = np.sum(shifted < floor - 1e-9, axis=1)  # sent to the floor: a prefix
            if _kept(zs, shifted, flat, floor + 1e-9, EXP_CAP, 1e-12):
                for k in np.flatnonzero(flat > 1):
                    order[k, :flat[k]].sort()  # tied at the floor: by path
                return order, lambda i: forward.forward(back.backward(shifted[:, i]))
        if recentre is not None:
            zt += shift
    elif recentre is not None:
        zt += recentre(np.median(zt, axis=1))[:, None]
    order, zs = stable_order(forward.forward(back.backward(zt)))
    return order, lambda i: zs[:, i]


def _kept(zs: np.ndarray, shifted: np.ndarray, start: np.ndarray, low: float, high: float,
          rel: float) -> bool:
    """Whether row-sorted ``zs`` shifted (``shifted``) and then sent a trip that moves each
    value by at most ~1e-15 relative keep their order strictly (equal values stay equal) from
    each row's column ``start`` on: every shifted value there within ``(low, high)``, distinct
    ones more than ``rel`` apart (relative to the largest magnitude of the row; 0: merely
    distinct)."""
    past = np.arange(zs.shape[1])[None, :] >= start[:, None]
    if not (np.all(shifted[:, -1] < high) and np.all(~past | (shifted > low))):  # NaN: False
        return False
    same = zs[:, 1:] == zs[:, :-1]
    gaps = shifted[:, 1:] - shifted[:, :-1]
    big = np.maximum(np.abs(shifted[:, :1]), np.abs(shifted[:, -1:]))
    tol = rel * np.maximum(1.0, np.maximum(big, np.maximum(np.abs(zs[:, :1]), np.abs(zs[:, -1:]))))
    return bool(np.all(~past[:, :-1] | same | (gaps > tol)))


def rank_interp(n: int, xp: tuple[float, ...], fp: np.ndarray) -> np.ndarray:
    """``np.interp((arange(n) + 0.5) / n, xp, fp[k])`` as row ``k`` (the p of the path ranked
    ``i`` of ``n``, mapped through each row's quantiles ``fp`` at levels ``xp``), bit for bit:
    numpy's formula (the slope of the segment times the distance into it, plus its left end;
    an end value outside ``xp`` or on one of its points), for every row at once."""
    x, seg, dx, n_left, n_right, exact = _interp_plan(n, xp)
    h, m = fp.shape
    xa = np.asarray(xp)
    slopes = (fp[:, 1:] - fp[:, :-1]) / (xa[1:] - xa[:-1])
    at = seg + (np.arange(h) * (m - 1))[:, None]  # the segments' places in slopes, flat
    out = np.ravel(slopes).take(at)
    out *= dx
    at += np.arange(h)[:, None]  # the segments' left ends in fp, flat
    out += np.ravel(fp).take(at)
    if np.isnan(out).any():  # numpy tries the segment's other end, then its (equal) ends
        a, b = np.ravel(fp).take(at), np.ravel(fp).take(at + 1)
        retry = np.ravel(slopes).take(at - np.arange(h)[:, None]) * (x - xa[seg + 1]) + b
        retry = np.where(np.isnan(retry) & (a == b), a, retry)
        out = np.where(np.isnan(out), retry, out)
    out[:, :n_left] = fp[:, :1]
    out[:, n - n_right:] = fp[:, -1:]
    out[:, exact] = fp[:, seg[exact]]
    return out


@lru_cache(maxsize=8)
def _interp_plan(n: int, xp: tuple[float, ...]) -> tuple:
    """Where each ``x = (i + 0.5) / n`` (increasing) falls among the increasing ``xp``: ``x``,
    its segment, the distance into it, how many lie left of ``xp`` and at or right of its last
    point, and those inside that sit on a point of ``xp``."""
    x = (np.arange(n) + 0.5) / n
    xa = np.asarray(xp)
    j = np.searchsorted(xa, x, side="right") - 1  # xp[j] <= x < xp[j + 1]
    seg = np.clip(j, 0, xa.size - 2)
    inside = (j >= 0) & (j < xa.size - 1)
    exact = np.flatnonzero(inside & (xa[seg] == x))
    plan = (x, seg, x - xa[seg], int(np.sum(j < 0)), int(np.sum(j >= xa.size - 1)), exact)
    for a in plan:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return plan


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


def _plain(draws: np.ndarray) -> bool:
    """Whether rows (sorted: a NaN sorts last) give numpy's order statistics by position once
    sorted: no -0.0, no NaN."""
    return not (np.isnan(draws).any() or has_negative_zero(draws))


def median_and_draws(paths: np.ndarray, ranked: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """``np.median(paths, axis=0)`` of paths ``(n, h)`` whose values by rank are ``ranked``
    ``(h, n)``, and the draws sorted (:func:`sorted_draws`): the median by position in them, or,
    when they hold a -0.0 or a NaN, numpy's own and ``None`` for the draws (checked before the
    sort: numpy's SIMD sort may turn a -0.0 among zeros into +0.0)."""
    if _plain(ranked):
        draws = sorted_draws(ranked)
        return sorted_median(draws), draws
    return np.median(paths, axis=0), None


def sorted_median(draws: np.ndarray) -> np.ndarray:
    """``np.median(draws, axis=1)`` of row-sorted ``draws`` without NaN or -0.0: the middle
    value, or the two middle ones' sum halved (numpy's mean of the two), without a selection."""
    n = draws.shape[1]
    if n % 2:
        return draws[:, n // 2].copy()
    return (draws[:, n // 2 - 1] + draws[:, n // 2]) / 2


def sorted_quantiles(draws: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(draws, levels, axis=1)`` of row-sorted ``draws`` without NaN or -0.0:
    numpy's linear method (virtual index ``(n - 1) q``, its two-sided interpolation) on the
    values at those positions, without a selection."""
    n = draws.shape[1]
    q = np.asarray(levels, dtype=float)
    virtual = (n - 1) * q
    prev = np.floor(virtual).astype(np.intp)
    nxt = prev + 1
    top = virtual >= n - 1
    prev[top] = nxt[top] = -1
    prev[virtual < 0] = nxt[virtual < 0] = 0
    gamma = (virtual - prev)[:, None]
    a, b = draws[:, prev].T, draws[:, nxt].T
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def draw_quantiles(res: SimResult, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(res.paths, levels, axis=0)``, from the sorted draws when the result has them
    (:class:`PredictiveResult`): the same numbers without selecting order statistics again."""
    draws = getattr(res, "sorted_draws", None)
    if draws is None:
        return np.quantile(res.paths, levels, axis=0)
    return sorted_quantiles(draws, levels)


@dataclass(frozen=True)
class PredictiveResult(SimResult):
    """A :class:`SimResult` that also keeps each step's draws sorted (``(h, n)``), so quantiles
    come without another sort (:func:`draw_quantiles`); ``None`` when they hold a -0.0 or a NaN
    (numpy's selection may place those apart from a sort)."""

    sorted_draws: np.ndarray | None = None
