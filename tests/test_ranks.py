"""The draws' order statistics are numpy's, bit for bit: the engine's outputs must not depend on
how (or how fast) it sorts and selects."""
from __future__ import annotations

import numpy as np
import pytest

from khforecast.engine.ranks import (median_and_draws, rank_interp, round_trip_order,
                                    sorted_median, sorted_quantiles, stable_order)
from khforecast.engine.scales import Scale


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rows of the kinds the engine meets: spread draws, heavy ties, a constant row, signed
    zeros, infinities, values one ulp apart, NaNs of either sign."""
    rows = [rng.standard_normal(n), np.round(rng.standard_normal(n), 1), np.full(n, 0.25),
            rng.choice([-0.0, 0.0, 1.0], n), np.where(rng.random(n) < 0.1, np.inf, 1.0)]
    near = np.full(n, 1.0 + 2.0 ** -40)  # differ only in the low bits the sort keys replace
    near += rng.integers(0, 64, n) * np.spacing(near)
    rows.append(near)
    rows.append(-near)
    rows.append(np.exp(rng.standard_normal(n) * 30))
    for sign in (1.0, -1.0):
        r = rng.standard_normal(n)
        r[rng.integers(0, n, 3)] = sign * np.nan
        rows.append(r)
    return np.array(rows)


@pytest.mark.parametrize("n", [1, 2, 3, 17, 4000, 4099])
def test_stable_order_is_a_stable_argsort(n):
    zt = _rows(np.random.default_rng(n), n)
    order, zs = stable_order(zt)
    want = np.argsort(zt, axis=1, kind="stable")
    assert np.array_equal(order, want)
    assert zs.tobytes() == np.take_along_axis(zt, want, axis=1).tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 1000, 4000, 4001])
def test_median_and_quantiles_by_position_are_numpys(n):
    """Sorted rows of draws (ties, zeros, infinities): the same bits as np.median /
    np.quantile; rows with -0.0 or NaN go through numpy itself."""
    rng = np.random.default_rng(n)
    draws = np.sort(np.array([rng.standard_normal(n), np.round(rng.standard_normal(n), 1),
                              np.full(n, 3.5), rng.choice([0.0, 2.0], n),
                              np.where(rng.random(n) < 0.3, np.inf, rng.random(n)),
                              np.exp(rng.standard_normal(n) * 20)]), axis=1) + 0.0  # no -0.0
    levels = np.array([0.0, 0.001, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.999, 1.0])
    with np.errstate(invalid="ignore"):
        assert sorted_quantiles(draws, levels).tobytes() == np.quantile(draws, levels,
                                                                        axis=1).tobytes()
    assert sorted_median(draws).tobytes() == np.median(draws, axis=1).tobytes()
    paths = np.ascontiguousarray(draws.T)
    for odd in (None, -0.0, np.nan):
        if odd is not None:
            paths[0, 1] = odd
        ranked = np.take_along_axis(paths.T, np.argsort(paths.T, axis=1, kind="stable"), axis=1)
        point, sorted_ = median_and_draws(paths, ranked)
        assert point.tobytes() == np.median(paths, axis=0).tobytes()
        assert (sorted_ is None) == (odd is not None)


@pytest.mark.parametrize("scale", [Scale("positive", floor=1e-6), Scale("positive", offset=1e-5,
                                                                          floor=1e-5),
                                   Scale("real"), Scale("percent", eps=0.05)])
@pytest.mark.parametrize("case", ["spread", "ties", "zeros", "close", "floor", "below", "edge",
                                  "cap", "nan"])
@pytest.mark.parametrize("shift", [None, 0.3, 0.0])
def test_round_trip_order_is_the_order_of_the_paths_sent_to_the_domain_and_back(scale, case,
                                                                                 shift):
    """The ranks and sorted values of the model's paths (recentred on a point by their median,
    as a combination's are) after a trip to the domain and back, whether shift and trip are
    made on every value or (when they cannot reorder them) only on the columns read: the same
    bits as sorting the recentred, round-tripped paths."""
    rng = np.random.default_rng(7)
    z = rng.standard_normal((3000, 4)) * 2
    if case == "ties":
        z = np.round(z, 1)
    elif case == "zeros":
        z[::3] = rng.choice([-0.0, 0.0], z[::3].shape)
    elif case == "close":  # distinct values a rounding apart: exp and log may merge them
        z[1::2] = z[::2] + np.spacing(z[::2]) * rng.integers(1, 4, z[::2].shape)
    elif case == "floor":
        z[::7, 1] = -40.0
    elif case == "below":  # distinct values the floor sends to one: tied there, by path
        z[::3, 1] = -40.0 - rng.random(z[::3, 1].shape)
    elif case == "edge":  # within a rounding of the floor (or not, after the shift)
        z[::3, 2] = np.log(scale.floor) if scale.domain == "positive" else 0.0
    elif case == "cap":
        z[::5, 2] = 701.0 + rng.random(z[::5, 2].shape)
    elif case == "nan":
        z[3, 0] = np.nan

    def recentre(median):
        return shift - median

    with np.errstate(all="ignore"):
        full = z if shift is None else z + recentre(np.median(np.ascontiguousarray(z.T), axis=1))
        full = scale.forward(scale.backward(full))
        order, columns = round_trip_order(z, scale, scale, None if shift is None else recentre)
        values = columns(np.arange(z.shape[0]))
    want = np.argsort(full.T, axis=1, kind="stable")
    assert np.array_equal(order, want)
    assert values.tobytes() == np.take_along_axis(full.T, want, axis=1).tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 4000, 4001])
def test_rank_interp_is_numpys_interp_row_by_row(n):
    """The calibration maps each rank's p through every step's quantiles at once: the same bits
    as np.interp step by step (p outside the levels, on a level, flat and infinite segments)."""
    from khforecast.engine.predictive import LEVELS

    rng = np.random.default_rng(n)
    fp = np.sort(rng.standard_normal((5, len(LEVELS))) * 3, axis=1)
    fp[1, 10:14] = fp[1, 10]  # flat
    fp[2, -2:] = np.inf
    fp[3, :2] = -np.inf
    fp[4] = np.round(fp[4])
    want = np.array([np.interp((np.arange(n) + 0.5) / n, LEVELS, row) for row in fp])
    with np.errstate(invalid="ignore"):
        got = rank_interp(n, LEVELS, fp)
    assert got.tobytes() == want.tobytes()
