"""The one predictive engine: a history in, calibrated sample paths out.

``khforecast forecast``, ``khforecast forecast-series`` and the Python API all draw their paths
with :func:`predictive_paths`, so the same series with the same seed gets the same distribution
whichever door it came in by. The models (:func:`khforecast.models.simulate_paths`) supply a
median path, their own width and the way years hang together; the *shape and width* of each
year's distribution come from pooled back-tests (:class:`PooledCalibration`):

0. **Centre.** The models' projected change (their median minus the last value, on the
   modelling scale) is kept only in the share the pooled back-tests bear out (``damping``, by
   domain, trend class and length: about none of it for a noisy history of fewer than 12
   points, 0.5-0.95 for a smooth one of 5 or more, 0.8-1.05 for a steady one, whose yearly
   changes hardly vary): held out a family at a time, this cut the mean absolute error of the
   median by 18 % (25 % for percents 6-10 years ahead).
1. **Width.** On the modelling scale (logit for percents, log for positive values) the scale of
   a series' error at horizon ``h`` is ``s_h = sqrt(w_h^2 + m^2 h)``: ``w_h`` the models' own
   spread (their 10-90 % range over 2.563), ``m`` the history's typical yearly movement (root
   mean square of its changes; at least the pooled ``min_move`` of the domain, so a constant
   history still gets a width learned from how real series move, never zero; for a percent
   also at least the pooled floor in percentage points carried to the logit at the last value,
   :func:`move_floor`: the logit is steep near 0 or 100, so a history flat at 99 % would
   otherwise get a band a fraction of a point wide), times a pooled
   factor by domain, horizon and history length (``length_factor``: a 3-4 point history's own
   scale says less, its errors run about 1.2 times wider; a 12+ point one's 0.7-0.85 times).
2. **Shape.** The realised error divided by ``s_h`` has, over thousands of pooled back-tests, a
   distribution of its own; its quantiles are stored per horizon (1-10) and history shape
   (``smooth``: the trend dominates the yearly noise; ``noisy``: it does not), by band
   (:func:`quantile_band`: a percent within 5 points of 0 or 100, any other percent, or a
   positive / real series, whose quantiles pool every cell away from a bound), and by the size of
   ``s_h`` itself (a series whose own scale is tiny has heavy-tailed standardised errors, one
   with a large scale light ones). Each path's rank
   among the model's paths at that horizon is mapped to that quantile, so every year gets the
   pooled, calibrated distribution while each path stays one coherent trajectory. The
   distribution is bounded by the stored 0.1 % and 99.9 % quantiles: no runaway tail.
3. **Bounds.** A positive series never goes above its reference level (the last value, or the
   history's largest when the last is 0) times the 99.9 % quantile of the ``h``-year ratios
   seen in the pooled positive series (``ratio_up``: x4.3 in one year, x11 in six; the very
   largest ratios, x623 and x1,100, are series restarting from near zero); a percent stays in
   [0, 100] by the logit.
4. **Point masses.** A percent whose last value sits exactly at 0 or 100 stays there with the
   pooled probability of staying (``stay``, by horizon and by whether the history had been at
   the bound for one year or longer) and otherwise departs by a pooled distance (``depart``),
   so "maintain 100" targets get honest probabilities.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from khforecast.errors import KhforecastError
from khforecast.engine.interventions import Interventions
from khforecast.engine.models import FittedSeries, SimResult, simulate_on_scale
from khforecast.engine.ranks import (PredictiveResult, median_and_draws, rank_interp,
                                     round_trip_order, stable_order, unrank)
from khforecast.engine.scales import Domain, data_resolution, fit_scale
from khforecast.engine.strata import (BANDS, LENGTH_EDGES, NEAR, NOISE_CUT, STEADY_CUT, TRENDS,
                                      WIDTH_EDGES, bound_of, history_classes, history_shape,
                                      length_class, near_of, quantile_band, width_class)

__all__ = [
    "HORIZONS",
    "LEVELS",
    "NOISE_CUT",
    "PooledCalibration",
    "bound_of",
    "history_classes",
    "history_shape",
    "STEADY_CUT",
    "TRENDS",
    "near_of",
    "BANDS",
    "quantile_band",
    "percent_move_floor",
    "move_floor",
    "series_stratum",
    "load_strata_table",
    "width_class",
    "length_class",
    "at_precision",
    "load_pooled_calibration",
    "predictive_paths",
    "width_scale",
]

#: horizons with their own quantiles; longer horizons use the last one's, widened by sqrt(h)
HORIZONS = 10
#: quantile levels of the standardised error stored per stratum
LEVELS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
    0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.98, 0.99, 0.995,
    0.9975, 0.999)
#: quantile levels of the distance from a bound of a series that left it
DEPART_LEVELS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
_IQ80 = 2 * 1.2815515655446004


def percent_move_floor(points: float, z_last: np.ndarray | float) -> np.ndarray:
    """The pooled least yearly movement of a percent, ``points`` (percentage points), carried to
    the logit at the last value ``z_last``: the logit distance from it to a value ``points``
    closer to 50. Near 0 or 100 a point is many logit units, so a history that sat flat at 99
    gets the width that the pool's flat series near a bound bear out (with the domain's logit
    floor alone, held out a family at a time, only 61 % of such 6-10-year errors fell in the 80 %
    band)."""
    z = np.asarray(z_last, dtype=float)
    p = 1.0 / (1.0 + np.exp(-z))
    step = float(points) / 100.0
    q = np.clip(np.where(p > 0.5, p - step, p + step), 1e-12, 1 - 1e-12)
    return np.abs(z - (np.log(q) - np.log1p(-q)))


def move_floor(min_move: Mapping[str, float], domain: str, z_last: float) -> float:
    """The least yearly movement assumed for a history (modelling scale): the domain's pooled
    ``min_move``, for a percent at least :func:`percent_move_floor` too."""
    m = float(min_move.get(domain, 0.01))
    if domain == "percent" and "percent_points" in min_move:
        m = max(m, float(percent_move_floor(min_move["percent_points"], z_last)))
    return m


def width_scale(model_width: np.ndarray, move: float, min_move: float) -> np.ndarray:
    """``s_h = sqrt(w_h^2 + max(move, min_move)^2 h)`` for horizons 1..len(model_width)."""
    w = np.asarray(model_width, dtype=float)
    m = max(float(move), float(min_move))
    return np.sqrt(w ** 2 + m ** 2 * np.arange(1, w.shape[0] + 1))


def _sorted_quantiles(columns: Callable[[np.ndarray], np.ndarray], n: int,
                      levels: Sequence[float]) -> list[np.ndarray]:
    """Per-row quantiles of row-sorted draws, ``columns(i)`` the values ranked ``i`` (an index
    array) of ``n`` (numpy's default linear interpolation)."""
    pos = [(n - 1) * q for q in levels]
    lo = [int(np.floor(p)) for p in pos]
    at = columns(np.array(lo + [min(i + 1, n - 1) for i in lo]))
    m = len(levels)
    return [at[:, j] + (p - i) * (at[:, m + j] - at[:, j])
            for j, (p, i) in enumerate(zip(pos, lo))]


def at_precision(x: np.ndarray, resolution: float) -> np.ndarray:
    """Values as they would be published at ``resolution`` (e.g. 0.1): rounded half away from 0."""
    d = max(0, round(-np.log10(resolution)))
    a = np.asarray(x, dtype=float)
    # sign(a) * floor(|a| 10^d + 0.5) / 10^d rounded to d decimals, in place on one temporary
    t = np.abs(a, out=np.empty_like(a))
    t *= 10.0 ** d
    t += 0.5
    np.floor(t, out=t)
    t *= np.sign(a)
    t /= 10.0 ** d
    return np.round(t, d, out=t)[()]


@dataclass(frozen=True)
class PooledCalibration:
    """What the pooled back-tests taught: error quantiles, width floor, ratio caps, bound masses.

    Attributes
    ----------
    quantiles
        ``{"<h>|<shape>|<band>|<w>": (len(LEVELS),)}`` quantiles of the standardised error,
        h = 1..10, shape ``smooth``/``noisy``, band ``near``/``mid``/``far``
        (:func:`quantile_band`), w the width class (:func:`width_class`).
    min_move
        ``{domain: m}`` the least yearly movement assumed on the modelling scale, and
        ``percent_points``: the same for percents in percentage points (:func:`move_floor`).
    length_factor
        ``{domain: (HORIZONS, len(LENGTH_EDGES) + 1)}`` (and ``all`` for a domain not in the
        pool): ``s_h`` is multiplied by this for a history of that length class
        (:func:`length_class`) before the quantiles apply.
    damping
        ``{"<domain>|<trend>": (len(LENGTH_EDGES) + 1,)}``: the share of the models' projected
        change (median minus last value, modelling scale) that the pooled back-tests bear out,
        by trend class (:func:`history_classes`) and length class (short noisy histories: about
        none of it; steady ones most of it).
    ratio_up
        ``(HORIZONS,)`` log of the 99.9 % quantile of the pooled positive series' h-year ratios.
    stay
        ``{"1"|"2+": (HORIZONS,)}`` probability that a percent at 0 or 100 is still there h
        years on, by how long the history had been there.
    depart
        ``(HORIZONS, len(DEPART_LEVELS))`` quantiles of the distance (points) from the bound of
        a series that left it, by horizon.
    """

    quantiles: Mapping[str, tuple[float, ...]]
    min_move: Mapping[str, float]
    length_factor: Mapping[str, tuple[tuple[float, ...], ...]]
    damping: Mapping[str, tuple[float, ...]]
    ratio_up: tuple[float, ...]
    stay: Mapping[str, tuple[float, ...]]
    depart: tuple[tuple[float, ...], ...]
    meta: dict = field(default_factory=dict, compare=False)

    def error_quantiles(self, h: int, shape: str, band: str, width: int) -> np.ndarray:
        """The standardised error's quantiles at horizon ``h`` (past 10: the 10-year ones);
        ``band`` as :func:`quantile_band`."""
        return np.asarray(self.quantiles[f"{min(h, HORIZONS)}|{shape}|{band}|{width}"],
                          dtype=float)

    def length_factors(self, domain: str, h: int, n: int) -> np.ndarray:
        """``(h,)`` factors on ``s_1 .. s_h`` for a history of ``n`` points (past 10: the 10th)."""
        rows = self.length_factor.get(domain, self.length_factor["all"])
        c = int(length_class(n))
        return np.array([rows[min(k, HORIZONS) - 1][c] for k in range(1, h + 1)])

    def damping_of(self, domain: str, trend: str, n: int) -> float:
        """The damping factor of a history of ``n`` points in trend class ``trend``
        (:func:`history_classes`; ``all`` domains' for a domain not in the pool)."""
        row = self.damping.get(f"{domain}|{trend}", self.damping[f"all|{trend}"])
        return float(row[int(length_class(n))])

    def ratio_cap(self, h: int) -> float:
        """Log of the largest ``h``-year ratio of the pool (past 10: grows like ``h / 10``)."""
        r = self.ratio_up
        return float(r[h - 1]) if h <= len(r) else float(r[-1]) * h / len(r)

    def stay_prob(self, h: int, run: int) -> float:
        """P(a percent on a bound is still on it ``h`` years later)."""
        row = self.stay["2+" if run >= 2 else "1"]
        return float(row[min(h, len(row)) - 1])

    def depart_quantiles(self, h: int) -> np.ndarray:
        """Quantiles (:data:`DEPART_LEVELS`) of the distance from the bound after leaving it."""
        return np.asarray(self.depart[min(h, len(self.depart)) - 1], dtype=float)

    # ----------------------------------------------------------------------------------------
    def calibrate(self, z: np.ndarray, history_z: np.ndarray, domain: str, near: str = "far"
                  ) -> np.ndarray:
        """Map model paths on the modelling scale to calibrated ones (same shape, ranks kept)."""
        return unrank(*self.calibrate_ranked(z, history_z, domain, near))

    def calibrate_ranked(self, z: np.ndarray, history_z: np.ndarray, domain: str,
                         near: str = "far") -> tuple[np.ndarray, np.ndarray]:
        """:meth:`calibrate` as ``(order, ranked)``, both ``(h, n)``: ``ranked[k, i]`` is the
        calibrated value of the path ranked ``i`` at step ``k``, the path ``order[k, i]``."""
        # one sort per horizon (rows of the transposed paths) gives ranks and quantiles
        order, zs = stable_order(np.ascontiguousarray(z.T))
        return order, self.calibrate_sorted(lambda i: zs[:, i], z.shape, history_z, domain, near)

    def calibrate_sorted(self, columns: Callable[[np.ndarray], np.ndarray],
                         paths_shape: tuple[int, int], history_z: np.ndarray, domain: str,
                         near: str = "far") -> np.ndarray:
        """The ``ranked`` half of :meth:`calibrate_ranked` from paths of ``paths_shape``
        ``(n, h)`` sorted at each step, ``columns(i)`` the ``(h, len(i))`` values ranked ``i``
        (only the columns of the 10, 50 and 90 % quantiles are read)."""
        n, h = paths_shape
        med, q90, q10 = _sorted_quantiles(columns, n, (0.5, 0.9, 0.1))
        w = (q90 - q10) / _IQ80
        move, shape, trend = history_classes(history_z)
        # the models' projected change, damped as the pool bears it out (ranks unchanged)
        keep = self.damping_of(domain, trend, history_z.shape[0])
        med = med + (keep - 1.0) * (med - float(history_z[-1]))
        s = width_scale(w, move, move_floor(self.min_move, domain, float(history_z[-1])))
        wc = width_class(s, np.arange(1, h + 1))
        s = s * self.length_factors(domain, h, history_z.shape[0])
        levels = np.asarray(LEVELS)
        mid = levels.tolist().index(0.5)
        centre = np.empty(h)
        offs = np.empty((h, levels.size))  # s_h x (quantile - median quantile), per level
        band = quantile_band(domain, near)
        for k in range(h):
            q = self.error_quantiles(k + 1, shape, band, int(wc[k]))
            if k + 1 > HORIZONS:  # the 10-year shape, widened like a random walk
                q = q * np.sqrt((k + 1) / HORIZONS)
            centre[k] = med[k] + s[k] * q[mid]
            offs[k] = s[k] * (q - q[mid])
        # the 90 % band never narrows further ahead (the strata are fitted horizon by horizon,
        # and a series can change width class between two horizons); the levels beyond it are
        # left as fitted: carrying a thin stratum's noisy 99.5 % quantile forward would let one
        # horizon's estimate set every later year's tail
        lo, hi = levels.tolist().index(0.05), levels.tolist().index(0.95)
        offs[:, mid:hi + 1] = np.maximum.accumulate(offs[:, mid:hi + 1], axis=0)
        offs[:, lo:mid] = np.minimum.accumulate(offs[:, lo:mid], axis=0)
        # the path ranked i gets p = (i + 0.5) / n at every horizon
        return centre[:, None] + rank_interp(n, LEVELS, offs)

    def bound_paths(self, bound: float, run: int, h: int, n: int, rng: np.random.Generator
                    ) -> np.ndarray:
        """Paths of a percent on a bound: stay there, or leave it by a pooled distance."""
        u = rng.random(n)
        v = rng.random(n)
        out = np.full((n, h), bound)
        sign = -1.0 if bound >= 100 else 1.0
        for k in range(h):
            left = u >= self.stay_prob(k + 1, run)
            d = np.interp(v[left], DEPART_LEVELS, self.depart_quantiles(k + 1))
            out[left, k] = bound + sign * d
        return np.clip(out, 0.0, 100.0)

    # ----------------------------------------------------------------------------------------
    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, fixed float precision)."""
        doc = {
            "format": 6,
            "levels": list(LEVELS),
            "depart_levels": list(DEPART_LEVELS),
            "noise_cut": NOISE_CUT,
            "steady_cut": STEADY_CUT,
            "quantiles": {k: [round(float(v), 5) for v in q] for k, q in self.quantiles.items()},
            "min_move": {k: round(float(v), 6) for k, v in self.min_move.items()},
            "length_edges": list(LENGTH_EDGES),
            "length_factor": {k: [[round(float(v), 4) for v in r] for r in rows]
                              for k, rows in self.length_factor.items()},
            "damping": {k: [round(float(v), 4) for v in r] for k, r in self.damping.items()},
            "ratio_up": [round(float(v), 5) for v in self.ratio_up],
            "stay": {k: [round(float(v), 4) for v in r] for k, r in self.stay.items()},
            "depart": [[round(float(v), 4) for v in r] for r in self.depart],
            "meta": self.meta,
        }
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "calibration.json") -> PooledCalibration:
        """Parse the JSON written by :meth:`to_json` (clear error naming the file otherwise)."""
        try:
            doc = json.loads(text)
            if doc.get("format") != 6:
                raise ValueError(f"format {doc.get('format')!r}, expected 6")
            if doc["noise_cut"] != NOISE_CUT or doc["steady_cut"] != STEADY_CUT:
                raise ValueError("history-shape cuts differ from this version's")
            if tuple(doc["levels"]) != LEVELS or tuple(doc["depart_levels"]) != DEPART_LEVELS:
                raise ValueError("quantile levels differ from this version's")
            if tuple(doc["length_edges"]) != LENGTH_EDGES:
                raise ValueError("history-length classes differ from this version's")
            lf = {k: tuple(tuple(float(x) for x in r) for r in rows)
                  for k, rows in doc["length_factor"].items()}
            if "all" not in lf or any(len(rows) != HORIZONS or any(
                    len(r) != len(LENGTH_EDGES) + 1 or min(r) <= 0 for r in rows)
                    for rows in lf.values()):
                raise ValueError(f"expected, per domain and 'all', {HORIZONS} rows of "
                                 f"{len(LENGTH_EDGES) + 1} positive length factors")
            damping = {k: tuple(float(x) for x in v) for k, v in doc["damping"].items()}
            if any(f"all|{t}" not in damping for t in TRENDS) or any(
                    len(v) != len(LENGTH_EDGES) + 1 for v in damping.values()):
                raise ValueError("expected damping factors per domain, trend and length class")
            q = {k: tuple(float(x) for x in v) for k, v in doc["quantiles"].items()}
            cal = cls(q, {k: float(v) for k, v in doc["min_move"].items()}, lf, damping,
                      tuple(float(v) for v in doc["ratio_up"]),
                      {k: tuple(float(x) for x in v) for k, v in doc["stay"].items()},
                      tuple(tuple(float(x) for x in r) for r in doc["depart"]), doc.get("meta", {}))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KhforecastError(f"{source}: expected a khforecast calibration file (format 6), "
                                  f"could not read it ({exc})") from exc
        want = {f"{h}|{s}|{n}|{w}" for h in range(1, HORIZONS + 1) for s in ("smooth", "noisy")
                for n in BANDS for w in range(len(WIDTH_EDGES) + 1)}
        bad = sorted(want - set(q)) or [k for k, v in q.items() if len(v) != len(LEVELS)
                                        or np.any(np.diff(v) < 0)]
        if bad:
            raise KhforecastError(f"{source}: expected non-decreasing quantiles for every "
                                  f"horizon 1-{HORIZONS} and shape; problem with {bad[0]!r}")
        return cal


def series_stratum(y: np.ndarray, domain: str) -> dict[str, str]:
    """The calibration stratum of a history: ``domain``, ``shape`` and ``near`` (on/near/far)."""
    y = np.asarray(y, dtype=float)
    _, shape = history_shape(fit_scale(y, domain).forward(y))
    near = "on" if bound_of(y, domain)[0] is not None else near_of(float(y[-1]), domain)
    return {"domain": domain, "shape": shape, "near": near}


def load_strata_table() -> pd.DataFrame | None:
    """Leave-one-family-out coverage and PIT histogram by stratum, shipped beside the calibration
    (``data/calibration_strata.csv``, written by ``python -m khforecast.engine.evaluation``); None if absent."""
    ref = resources.files("khforecast") / "data" / "calibration_strata.csv"
    if not ref.is_file():
        return None
    return pd.read_csv(io.StringIO(ref.read_text(encoding="utf-8")),
                       dtype={"domain": str, "hgroup": str, "shape": str, "near": str})


@lru_cache(maxsize=1)
def load_pooled_calibration() -> PooledCalibration:
    """The calibration shipped in ``khforecast/data/calibration.json`` (cached)."""
    ref = resources.files("khforecast") / "data" / "calibration.json"
    return PooledCalibration.from_json(ref.read_text(encoding="utf-8"), source=str(ref))


def predictive_paths(y: np.ndarray, h: int, n_sims: int, rng: np.random.Generator, *,
                     domain: Domain = "real", calibration: PooledCalibration | None = None,
                     models: Sequence[str] | None = None,
                     interventions: Interventions | None = None,
                     fitted: FittedSeries | None = None) -> SimResult:
    """Calibrated sample paths of one series: THE engine behind every command.

    Parameters
    ----------
    y : observed values, consecutive steps, oldest first (gaps already filled)
    h, n_sims : steps ahead and number of paths (>= 1)
    rng : the series' own generator
    domain : ``percent``, ``positive`` or ``real``
    calibration : ``None`` loads the shipped one
    models : model names (default: the combination)
    interventions : declared shocks / level shifts the models fit around (see
        :mod:`khforecast.engine.interventions`)
    fitted : the models already fitted to ``y`` (:func:`khforecast.engine.models.fit_many_series`);
        ``None`` fits them here

    Returns
    -------
    SimResult
        ``paths`` (n_sims, h) calibrated, inside the domain and at the precision the history is
        published at (:func:`khforecast.scales.data_resolution`: a series given with one
        decimal gets draws with one decimal, so a target is compared with the value as it
        would be published); ``point`` their per-step median.

    Raises
    ------
    InsufficientDataError, DomainError, ModelFitError
        As :func:`khforecast.models.simulate_paths`.
    """
    cal = calibration if calibration is not None else load_pooled_calibration()
    y = np.asarray(y, dtype=float).ravel()
    fitted, model_z, recentre = simulate_on_scale(y, h, n_sims, rng, domain=domain,
                                                  models=models, interventions=interventions,
                                                  fitted=fitted, recentre_later=True)
    notes = tuple(fitted.notes)
    resolution = data_resolution(y)
    bound, run = bound_of(y, domain)
    if bound is not None:
        paths = at_precision(cal.bound_paths(bound, run, h, n_sims, rng), resolution)
        return SimResult(paths, f"{fitted.label}+bound", np.median(paths, axis=0), notes)
    scale = fit_scale(y, domain)
    # the models' paths as they come back from the domain, ranked at each step; the work runs
    # on the draws ordered by rank (h, n): elementwise, so the same numbers as on the paths,
    # and the result comes out sorted for the median and quantiles
    order, columns = round_trip_order(model_z, fitted.scale, scale, recentre)
    z = cal.calibrate_sorted(columns, model_z.shape, scale.forward(y), domain,
                             near_of(float(y[-1]), domain))
    if domain == "positive":
        ref = float(y[-1]) if y[-1] > 0 else float(np.max(y))
        if ref > 0:
            ratio = np.exp([cal.ratio_cap(k + 1) for k in range(h)])
            cap = np.log(ref * ratio + scale.offset)
            z = np.minimum(z, cap[:, None])
    ranked = at_precision(scale.backward(z), resolution)
    paths = unrank(order, ranked)
    point, draws = median_and_draws(paths, ranked)
    return PredictiveResult(paths, fitted.label, point, notes, draws)
