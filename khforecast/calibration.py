"""Interval calibration borrowed across series: pooled rolling-origin back-tests on panels.

Ten yearly points cannot calibrate one series' intervals, so the width of the predictive paths
is calibrated on many similar series at once: the 63-province GSO panels and the multi-country
UN/UNDP/WHO panels. Each back-test hides the years after an origin, forecasts them from a short
training window (3 to 20 points, the lengths khforecast meets in practice) and records where the
realised value fell in the predictive distribution. Three things are fitted, all acting on the
paths' deviations from their median on the modelling (logit/log) scale:

- a **floor**: the dispersion at horizon h is at least ``floor * move * sqrt(h)``, ``move`` the
  history's typical yearly change (models that fit a flat or perfectly linear history otherwise
  claim near-certainty: on the country panel of mean years of schooling the 95 % intervals
  needed widening by a factor of 800,000 to cover 95 % of realised values before the floor
  was added);
- a **spread** per horizon and training-length bucket (the ``spread`` of
  :func:`khforecast.models.simulate_paths`);
- a **tail** per bucket: each path's deviations are scaled by ``exp(tail * e)``, ``e`` a standard
  normal clipped to ``±TAIL_CLIP`` (unclipped, the factor reaches ``exp(4.5)`` on log-scale
  series and the draws' mean explodes beyond any plausible value while the 80/95 % intervals the
  fit targets hardly change), which makes the 80 % and the 95 % intervals right at once (pooled series differ in how wrong
  their models are, so pooled errors are heavier-tailed than any one model's paths).

They are shipped in ``khforecast/data/calibration.json``; re-derive it with::

    python -m khforecast.calibration --out khforecast/data/calibration.json

Coverage reported by :func:`calibration_table` is out of sample: leave-one-panel-out, i.e. the
floor, spreads and tails used for a panel's back-tests were fitted on all the *other* panels.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast._io import atomic_write_text
from khforecast.errors import KhforecastError
from khforecast.panels import load_panel
from khforecast.scales import Domain, fit_scale

__all__ = [
    "HORIZONS",
    "TAIL_CLIP",
    "WINSOR",
    "QUANTILES",
    "Calibration",
    "PanelSeries",
    "backtest",
    "calibration_table",
    "derive_calibration",
    "fit_spread",
    "floor_factor",
    "load_calibration",
    "load_panel_series",
    "models_fingerprint",
    "out_of_sample_params",
]

# The tail's normal variate is clipped here (see the module docstring).
TAIL_CLIP = 2.0
#: each year's calibrated draws are winsorised at these quantiles (see Calibration.apply)
WINSOR = 0.005

QUANTILES = (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95)
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


# --------------------------------------------------------------------------------------------
# panels
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PanelSeries:
    """One yearly series of a panel (consecutive years)."""

    panel: str
    series_id: str
    domain: Domain
    years: np.ndarray
    values: np.ndarray


#: GSO panel file -> (main indicator, domain)
_GSO_PANELS: dict[str, tuple[str, Domain]] = {
    "unemployment_rate": ("unemployment_rate_working_age", "percent"),
    "trained_labour_force_share": ("trained_labour_force_share_15plus", "percent"),
    "informal_employment_rate": ("informal_employment_rate", "percent"),
    "employed_persons": ("employed_persons", "positive"),
    "labour_productivity": ("labour_productivity", "positive"),
    "labour_force": ("labour_force_15plus", "positive"),
    "poverty_rate": ("poverty_rate_households", "percent"),
    "literacy_rate_15plus": ("literacy_rate_15plus", "percent"),
    "population_average": ("population_average_total", "positive"),
    "infant_mortality_rate": ("infant_mortality_rate", "positive"),
    "patient_beds_provincial_doh": ("patient_beds_provincial_doh_total", "positive"),
    "doctors_provincial_doh": ("medical_staff_provincial_doh_doctor", "positive"),
    "trained_employed_workers_share_gso2016vintage": ("trained_employed_workers_share_15plus",
                                                      "percent"),
}
#: country panel file -> domain (covariate-only and single-year panels are left out)
_COUNTRY_PANELS: dict[str, Domain] = {
    "life_expectancy": "positive",
    "hdi": "positive",
    "expected_years_schooling": "positive",
    "mean_years_schooling": "positive",
    "secondary_education_25plus": "percent",
    "dtp3_coverage_sdg": "percent",
    "water_safely_managed": "percent",
    "sanitation_safely_managed": "percent",
    "physicians_per10k": "positive",
    "health_workers_per10k": "positive",
    "hospital_beds_per10k": "positive",
    "unemployment_rate": "percent",
    "completion_rate": "percent",
}


def _read_gso(name: str, gso_dir: Path | None) -> pd.DataFrame:
    """A GSO panel: the package copy (:func:`khforecast.panels.load_panel`) or ``gso_dir``'s CSV."""
    if gso_dir is None:
        return load_panel(name)
    return pd.read_csv(gso_dir / f"{name}.csv")


def _read_country(name: str, country_dir: Path | None) -> pd.DataFrame:
    """A country panel: the package copy (``data/country_panels``) or ``country_dir``'s CSV."""
    if country_dir is None:
        ref = resources.files("khforecast").joinpath("data", "country_panels", f"panel_{name}.csv.gz")
        with ref.open("rb") as fh:
            return pd.read_csv(fh, compression="gzip", dtype={"code": str})
    return pd.read_csv(country_dir / f"panel_{name}.csv", dtype={"code": str})


def _runs(years: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The longest run of consecutive years (the latest one on ties)."""
    order = np.argsort(years)
    years, values = years[order], values[order]
    breaks = np.flatnonzero(np.diff(years) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(years)]
    lengths = ends - starts
    i = int(np.flatnonzero(lengths == lengths.max())[-1])
    return years[starts[i]:ends[i]], values[starts[i]:ends[i]]


def load_panel_series(panels: Iterable[str] | None = None, *, gso_dir: Path | None = None,
                      country_dir: Path | None = None, min_years: int = 6) -> list[PanelSeries]:
    """Every usable yearly series of the calibration panels.

    Parameters
    ----------
    panels
        Panel names to keep, ``gso:<file>`` or ``country:<file>`` (default: all known).
    gso_dir, country_dir
        Folders of plain CSVs to use instead of the copies shipped in the package
        (``data/gso_panels``, ``data/country_panels``).
    min_years
        Shortest run of consecutive years kept.

    Returns
    -------
    list of PanelSeries
        Sorted by panel then series id; each the longest run of consecutive years of one
        province / country (and breakdown).
    """
    wanted = None if panels is None else set(panels)
    out: list[PanelSeries] = []
    for name, (indicator, domain) in _GSO_PANELS.items():
        key = f"gso:{name}"
        if wanted is not None and key not in wanted:
            continue
        df = _read_gso(name, gso_dir)
        df = df[(df["geo_level"] == "province") & (df["indicator"] == indicator)]
        for slug, g in df.groupby("province_slug", sort=True):
            out.extend(_series(key, str(slug), domain, g, min_years))
    for name, domain in _COUNTRY_PANELS.items():
        key = f"country:{name}"
        if wanted is not None and key not in wanted:
            continue
        df = _read_country(name, country_dir)
        extra = [c for c in df.columns if c not in ("entity", "code", "year", "value")]
        if "sex" in extra and (df["sex"] == "both").any():  # keep totals where they exist
            df = df[df["sex"] == "both"]
        if "age" in extra:
            df = df[df["age"] == "15+"]
        keys = ["code"] + extra
        for k, g in df.groupby(keys, sort=True):
            sid = "/".join(str(v) for v in (k if isinstance(k, tuple) else (k,)))
            out.extend(_series(key, sid, domain, g, min_years))
    out.sort(key=lambda s: (s.panel, s.series_id))
    return out


def _series(panel: str, sid: str, domain: Domain, g: pd.DataFrame, min_years: int) -> list[PanelSeries]:
    g = g.dropna(subset=["value"]).drop_duplicates("year", keep="last")
    years = g["year"].to_numpy(dtype=int)
    values = g["value"].to_numpy(dtype=float)
    if len(years) < min_years:
        return []
    years, values = _runs(years, values)
    if len(years) < min_years or (domain != "real" and np.any(values <= 0)):
        return []
    if domain == "percent" and np.any(values >= 100):
        return []
    return [PanelSeries(panel, sid, domain, years, values)]


# --------------------------------------------------------------------------------------------
# back-tests
# --------------------------------------------------------------------------------------------
def _simulate(y: np.ndarray, h: int, n_sims: int, rng: np.random.Generator, domain: Domain,
              models: Sequence[str] | None) -> tuple[np.ndarray, str]:
    """Draw paths with khforecast's models at spread 1; returns (paths (n, h), model)."""
    from khforecast.models import simulate_paths

    res = simulate_paths(y, h, n_sims, rng, domain=domain, spread=None, models=models)
    return np.asarray(res.paths, dtype=float), str(res.model)


def _origins(n: int, rng: np.random.Generator, max_cases: int) -> list[tuple[int, int]]:
    """(train_start, origin) index pairs: one per training-length bucket that fits."""
    cases = []
    for b, lo in enumerate(N_OBS_BUCKETS):
        hi = N_OBS_BUCKETS[b + 1] - 1 if b + 1 < len(N_OBS_BUCKETS) else 20
        n_train = int(rng.integers(lo, hi + 1))
        if n_train + 1 > n:
            continue
        # the origin (last training index) leaves at least one year to check
        origin = int(rng.integers(n_train - 1, n - 1))
        cases.append((origin - n_train + 1, origin))
    rng.shuffle(cases)
    return cases[:max_cases]


def _backtest_one(args: tuple) -> list[dict]:
    """All back-test cells of one series: a pure function of the series, settings and seed."""
    s, seed_seq, n_sims, max_cases, models = args
    rng = np.random.default_rng(seed_seq)
    rows: list[dict] = []
    for start, origin in _origins(len(s.values), rng, max_cases):
        train = s.values[start:origin + 1]
        test = s.values[origin + 1:origin + 1 + HORIZONS]
        h = len(test)
        try:
            paths, model = _simulate(train, h, n_sims, rng, s.domain, models)
        except Exception as exc:  # noqa: BLE001 - recorded, the series is skipped
            rows.append({"panel": s.panel, "series_id": s.series_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        scale = fit_scale(train, s.domain)  # the transform simulate_paths applied the spread on
        zp = scale.forward(paths)
        med = np.median(zp, axis=0)
        offs = np.quantile(zp - med, _GRID, axis=0)  # (len(_GRID), h)
        zy = scale.forward(test)
        zl = float(scale.forward(train[-1]))
        sd_dz = _yearly_sd(scale.forward(train))
        for j in range(h):
            row = {
                "panel": s.panel, "series_id": s.series_id, "domain": s.domain,
                "n_train": len(train), "origin": int(s.years[origin]), "horizon": j + 1,
                "year": int(s.years[origin + 1 + j]), "value": float(test[j]),
                "last_value": float(train[-1]), "first_value": float(train[0]),
                "first_year": int(s.years[start]), "model": model,
                "median": float(scale.backward(med[j])),
                "z": float(zy[j] - med[j]), "z_last": zl - float(med[j]), "error": "",
                "scale_eps": scale.eps, "scale_offset": scale.offset,
                "sd_diff": float(np.std(np.diff(train), ddof=1)) if len(train) > 2 else math.nan,
                "sd_dz": sd_dz,
            }
            row.update({c: float(offs[k, j]) for k, c in enumerate(_DCOLS)})
            rows.append(row)
    return rows


def backtest(series: Sequence[PanelSeries], *, n_sims: int = 1000, seed: int = 0,
             max_cases: int = 5, models: Sequence[str] | None = None, jobs: int = 1) -> pd.DataFrame:
    """Pooled rolling-origin back-tests at spread 1.

    For each series, up to ``max_cases`` origins are drawn, one per training-length bucket,
    the training window is forecast up to :data:`HORIZONS` years ahead and the realised values
    are placed in the predictive distribution. Each series gets its own
    ``SeedSequence(seed).spawn`` child (in input order), so results do not depend on ``jobs``.

    Returns
    -------
    DataFrame
        One row per series, origin and horizon: ``panel, series_id, domain, n_train, origin,
        horizon, year, value`` (realised), ``last_value, first_value, first_year, model,
        median`` (natural scale), ``z`` (realised minus median on the modelling scale),
        ``z_last`` (the last training value, likewise), ``scale_eps, scale_offset`` (the
        transform's constants, see :class:`khforecast.scales.Scale`), ``sd_diff`` (standard
        deviation of the training window's yearly changes), ``sd_dz`` (its typical yearly
        movement on the modelling scale, as the floor uses it),
        ``d010 … d990`` (quantiles of the draws at levels 0.010 … 0.990, minus their median,
        on the modelling scale) and
        ``error`` (non-empty where the models failed; those rows carry no values).
    """
    children = np.random.SeedSequence(seed).spawn(len(series))
    tasks = [(s, c, n_sims, max_cases, tuple(models) if models else None)
             for s, c in zip(series, children)]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            results = list(ex.map(_backtest_one, tasks, chunksize=8))
    else:
        results = [_backtest_one(t) for t in tasks]
    rows = [r for rs in results for r in rs]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if "z" not in df:
        df["z"] = np.nan
    return df.reset_index(drop=True)


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


# --------------------------------------------------------------------------------------------
# derivation command
# --------------------------------------------------------------------------------------------
def derive_calibration(*, seed: int = 20240809, n_sims: int = 1000, max_cases: int = 5,
                       panels: Iterable[str] | None = None, max_series_per_panel: int = 120,
                       jobs: int = 1, gso_dir: Path | None = None,
                       country_dir: Path | None = None) -> tuple[Calibration, pd.DataFrame, pd.DataFrame]:
    """Run the back-tests, fit the multipliers on all panels, and score them out of sample.

    Returns
    -------
    (Calibration, DataFrame, DataFrame)
        The calibration fitted on every panel (to ship), the back-tests, and the
        leave-one-panel-out :func:`calibration_table` by horizon.
    """
    series = load_panel_series(panels, gso_dir=gso_dir, country_dir=country_dir)
    series = _thin(series, max_series_per_panel, seed)
    if not series:
        raise KhforecastError("calibration: no panel series found to back-test")
    bt = backtest(series, n_sims=n_sims, seed=seed, max_cases=max_cases, jobs=jobs)
    cal = fit_spread(bt)
    n_panels = int(bt.loc[bt["error"] == "", "panel"].nunique())
    table = calibration_table(bt, out_of_sample_params(bt) if n_panels > 1 else _params_per_row(bt, cal))
    from khforecast import __version__

    meta = {
        "command": "python -m khforecast.calibration",
        "seed": seed, "n_sims": n_sims, "max_cases": max_cases,
        "max_series_per_panel": max_series_per_panel,
        "panels": sorted({s.panel for s in series}),
        "n_series": len(series),
        "n_backtests": int((bt["error"] == "").sum()),
        "n_failed": int((bt["error"] != "").sum()),
        "models": sorted(bt.loc[bt["error"] == "", "model"].unique().tolist()),
        "out_of_sample": "leave-one-panel-out" if n_panels > 1 else "in-sample (one panel)",
        "oos_coverage80": round(float(table.iloc[-1]["coverage80"]), 4),
        "oos_coverage95": round(float(table.iloc[-1]["coverage95"]), 4),
        "khforecast_version": __version__,
        "models_sha256": models_fingerprint(),
    }
    return Calibration(cal.multipliers, cal.buckets, meta, cal.tails, cal.floor), bt, table


def models_fingerprint() -> str:
    """sha256 of the code of ``models.py`` and ``scales.py`` (docstrings, comments, ``__all__`` left out).

    The multipliers are only valid for the models that made the back-tests: a change to the
    code of ``models.py`` or ``scales.py`` makes the shipped calibration stale (re-run the
    command); an edit of their documentation does not.
    """
    import ast
    import hashlib

    h = hashlib.sha256()
    for name in ("models.py", "scales.py"):
        tree = ast.parse((resources.files("khforecast") / name).read_text(encoding="utf-8"))
        tree.body = [n for n in tree.body if not (isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets))]
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()


def _thin(series: list[PanelSeries], k: int, seed: int) -> list[PanelSeries]:
    """At most ``k`` series per panel, a seeded sample (so no panel dominates the pool)."""
    out: list[PanelSeries] = []
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    for panel in sorted({s.panel for s in series}):
        group = [s for s in series if s.panel == panel]
        if len(group) > k:
            idx = np.sort(rng.choice(len(group), size=k, replace=False))
            group = [group[i] for i in idx]
        out.extend(group)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m khforecast.calibration``: re-derive ``calibration.json`` and print the table."""
    p = argparse.ArgumentParser(prog="python -m khforecast.calibration", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="where to write the calibration JSON")
    p.add_argument("--seed", type=int, default=20240809)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--max-cases", type=int, default=5, help="back-test origins per series")
    p.add_argument("--max-series", type=int, default=120, help="series per panel (a seeded sample)")
    p.add_argument("--panels", nargs="*", default=None, help="e.g. gso:unemployment_rate country:hdi")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--gso-dir", type=Path, default=None)
    p.add_argument("--country-dir", type=Path, default=None)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        cal, _bt, table = derive_calibration(seed=args.seed, n_sims=args.sims, max_cases=args.max_cases,
                                            panels=args.panels, max_series_per_panel=args.max_series,
                                            jobs=args.jobs, gso_dir=args.gso_dir, country_dir=args.country_dir)
    except KhforecastError as exc:
        print(f"khforecast.calibration: error: {exc}", file=sys.stderr)
        return 1
    atomic_write_text(args.out, cal.to_json())
    print(f"# {cal.meta['n_backtests']} back-tests on {cal.meta['n_series']} series, "
          f"{len(cal.meta['panels'])} panels; coverage {cal.meta['out_of_sample']}; "
          f"{time.perf_counter() - t0:.0f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
