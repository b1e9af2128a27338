"""The shipped calibration at run time: the :class:`Calibration` (floor, spreads, tails) and its loader.

How it is derived: :mod:`khforecast.engine.calibration` (package docstring).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from khforecast.errors import KhforecastError

__all__ = [
    "HORIZONS",
    "TAIL_CLIP",
    "WINSOR",
    "Calibration",
    "floor_factor",
    "load_calibration",
]


# The tail's normal variate is clipped here (see the module docstring).
TAIL_CLIP = 2.0
#: each year's calibrated draws are winsorised at these quantiles (see Calibration.apply)
WINSOR = 0.005

#: horizons calibrated one by one; longer horizons reuse the last one's multiplier
HORIZONS = 10
#: training-length buckets (inclusive lower bounds): 3-4, 5-7, 8-11, 12+ (models need >= 3 points)
N_OBS_BUCKETS = (3, 5, 8, 12)
#: the quantile levels of the draws stored per back-test cell (as offsets from the median)
_GRID = np.array([0.01, 0.025, 0.05, 0.075] + [k / 20 for k in range(2, 19)] + [0.925, 0.95, 0.975, 0.99])
_DCOLS = [f"d{round(q * 1000):03d}" for q in _GRID]


def _bucket(n_obs: int, buckets: Sequence[int] = N_OBS_BUCKETS) -> int:
    """Index of the training-length bucket of ``n_obs`` points (the first for fewer points)."""
    return max((i for i, lo in enumerate(buckets) if n_obs >= lo), default=0)


def _bucket_label(i: int, buckets: Sequence[int] = N_OBS_BUCKETS) -> str:
    lo = buckets[i]
    hi = buckets[i + 1] - 1 if i + 1 < len(buckets) else None
    return f"{lo}+" if hi is None else (f"{lo}" if hi == lo else f"{lo}-{hi}")


#: the least yearly movement the floor assumes, on the modelling scale (1 % of the level on the
#: log scale; about 1 % of p(1-p) on the logit scale): a flat history is not a certain future
MIN_MOVE = 0.01


def _yearly_sd(z: np.ndarray) -> float:
    """Typical yearly movement of ``z``: root mean square of its yearly changes, at least MIN_MOVE.

    The root mean square (not the standard deviation) counts a steady trend as movement: a
    perfectly linear history has changes of zero spread but it does move.
    """
    dz = np.diff(np.asarray(z, dtype=float))
    rms = float(np.sqrt(np.mean(dz ** 2))) if dz.size else 0.0
    return max(rms, MIN_MOVE)


#: the 10-90 % range of a normal distribution in standard deviations
_IQ80 = 2 * 1.2815515655446004


def floor_factor(dev: np.ndarray, sd_dz: float, floor: float) -> np.ndarray:
    """Per-horizon factors (>= 1) raising the paths' 10-90 % range to ``floor * sd_dz * sqrt(h)``.

    ``dev`` is (n_paths, h), the deviations from the per-horizon median (modelling scale).
    """
    h = dev.shape[1]
    if floor <= 0 or sd_dz <= 0:
        return np.ones(h)
    width = (np.quantile(dev, 0.9, axis=0) - np.quantile(dev, 0.1, axis=0)) / _IQ80
    want = floor * sd_dz * np.sqrt(np.arange(1, h + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(width > 0, want / width, 1.0)
    return np.maximum(f, 1.0)


# --------------------------------------------------------------------------------------------
# the shipped calibration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Spread multipliers per horizon and training-length bucket, and a tail per bucket.

    ``multipliers[b][h-1]`` widens (>1) or narrows (<1) the paths' dispersion around their
    median on the modelling scale, for a series of bucket ``b`` at horizon ``h``;
    ``tails[b]`` is the spread of a per-path log-normal scale factor (0: none) that gives the
    predictive distribution the heavier tails pooled back-tests show.
    """

    multipliers: tuple[tuple[float, ...], ...]
    buckets: tuple[int, ...] = N_OBS_BUCKETS
    meta: dict = field(default_factory=dict, compare=False)
    tails: tuple[float, ...] = ()
    floor: float = 0.0

    def spread(self, h: int, n_obs: int) -> np.ndarray:
        """The (h,) multipliers for horizons 1..h of a series with ``n_obs`` points."""
        row = np.asarray(self.multipliers[_bucket(n_obs, self.buckets)], dtype=float)
        idx = np.minimum(np.arange(h), len(row) - 1)
        return row[idx]

    def tail(self, n_obs: int) -> float:
        """The tail parameter for a series with ``n_obs`` points (0 when none was fitted)."""
        return float(self.tails[_bucket(n_obs, self.buckets)]) if self.tails else 0.0

    def apply(self, z: np.ndarray, history_z: np.ndarray, rng: np.random.Generator,
              n_obs: int | None = None) -> np.ndarray:
        """Calibrate paths drawn at spread 1: floor, then spread, then tail (modelling scale).

        Parameters
        ----------
        z
            (n_paths, h) projected paths on the modelling scale, as the models drew them.
        history_z
            The observed values on the modelling scale (their yearly changes set the floor).
        rng
            The series' generator (used by the tail).
        n_obs
            Observations behind the history (default ``len(history_z)``; fewer when gaps
            were interpolated): picks the training-length bucket.

        Returns
        -------
        ndarray
            (n_paths, h): each horizon's dispersion around its median is first raised to at
            least ``floor * move * sqrt(h)``, ``move`` the history's typical yearly change
            (:data:`MIN_MOVE` at least; a model that fits a flat or
            step-like history perfectly would otherwise claim near-certainty), then multiplied
            by :meth:`spread`, then given the per-path tail factor (:meth:`widen_tails`), and
            finally each year's draws are winsorised at their ``WINSOR`` and ``1 - WINSOR``
            quantiles: the calibration fits the distribution up to its 2.5/97.5 % quantiles
            only, and beyond them a log-scale mixture reaches values (10^11 housing units)
            that would make the draws' mean meaningless.
        """
        n_obs = len(history_z) if n_obs is None else n_obs
        h = z.shape[1]
        med = np.median(z, axis=0)
        factor = floor_factor(z - med[None, :], _yearly_sd(history_z), self.floor)
        out = med[None, :] + (factor * self.spread(h, n_obs))[None, :] * (z - med[None, :])
        out = self.widen_tails(out, n_obs, rng)
        lo, hi = np.quantile(out, [WINSOR, 1.0 - WINSOR], axis=0)
        return np.clip(out, lo[None, :], hi[None, :])

    def widen_tails(self, z: np.ndarray, n_obs: int, rng: np.random.Generator) -> np.ndarray:
        """Scale each path's deviation from the median by its own factor ``exp(tail * e)``.

        ``z`` is (n_paths, h) on the modelling scale (after the spread); one ``e ~ N(0, 1)`` per
        path keeps the path's years coherent. Returns a new array; every value stays on its side
        of the median, so the median (of an odd number of paths) is unchanged.
        """
        tau = self.tail(n_obs)
        if tau == 0.0:
            return z.copy()
        med = np.median(z, axis=0)
        factor = np.exp(tau * np.clip(rng.standard_normal(z.shape[0]), -TAIL_CLIP, TAIL_CLIP))
        return med[None, :] + factor[:, None] * (z - med[None, :])

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, fixed float precision)."""
        doc = {
            "format": 2,
            "buckets": list(self.buckets),
            "bucket_labels": [_bucket_label(i, self.buckets) for i in range(len(self.buckets))],
            "horizons": len(self.multipliers[0]),
            "multipliers": [[round(float(v), 4) for v in row] for row in self.multipliers],
            "tails": [round(float(v), 4) for v in self.tails],
            "floor": round(float(self.floor), 4),
            "meta": self.meta,
        }
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "calibration.json") -> Calibration:
        """Parse the JSON written by :meth:`to_json`."""
        try:
            doc = json.loads(text)
            mult = tuple(tuple(float(v) for v in row) for row in doc["multipliers"])
            buckets = tuple(int(b) for b in doc["buckets"])
            tails = tuple(float(v) for v in doc.get("tails", ()))
            floor = float(doc.get("floor", 0.0))
        except (ValueError, KeyError, TypeError) as exc:
            raise KhforecastError(f"{source}: expected a khforecast calibration file, "
                                  f"could not read it ({exc})") from exc
        if len(mult) != len(buckets) or any(len(r) != len(mult[0]) or min(r) <= 0 for r in mult):
            raise KhforecastError(f"{source}: expected one row of positive multipliers per "
                                  f"bucket ({len(buckets)}), found {len(mult)} rows")
        if tails and (len(tails) != len(buckets) or min(tails) < 0):
            raise KhforecastError(f"{source}: expected one tail >= 0 per bucket "
                                  f"({len(buckets)}), found {list(tails)}")
        return cls(mult, buckets, doc.get("meta", {}), tails, floor)

    @classmethod
    def identity(cls) -> Calibration:
        """No widening: every multiplier is 1 and no tail (the models' own intervals)."""
        return cls(tuple(tuple([1.0] * HORIZONS) for _ in N_OBS_BUCKETS), N_OBS_BUCKETS,
                   {"note": "identity"}, tuple(0.0 for _ in N_OBS_BUCKETS), 0.0)


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The calibration shipped in ``khforecast/data/calibration.json`` (cached)."""
    ref = resources.files("khforecast") / "data" / "calibration.json"
    return Calibration.from_json(ref.read_text(encoding="utf-8"), source=str(ref))
