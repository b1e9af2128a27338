"""Accuracy of khforecast's default model on the M4 and M3 yearly competitions.

Usage::

    python benchmarks/accuracy.py [--dataset m4|m3|both] [--limit N] [--jobs N] [--sims N]
        [--engine-only] [--statsforecast-python PY]

Steps, each printed:

1. Self-test of the metric code: the naive method on M4 yearly must give the official
   sMAPE 16.342, MASE 3.974 and MSIS 56.554 (when the full M4 set is used).
2. Design check on held-out TRAINING data: for every series the last 6 points of the training
   part are hidden and forecast from the rest (the test part is never looked at). Drift, damped
   trend and Theta are fitted on the log and the original scale, and a few principled
   combination rules are scored (equal-weight mean, inverse in-sample MSE weights, median).
   The design with the lowest mean OWA over the datasets run is printed; khforecast's default
   (``models.Combination``) is marked.
3. Interval calibration on the same held-out training points (never on the test part): the
   per-horizon ``spread`` that gives the 95% intervals (a) 95% coverage there, or (b) the least
   MSIS there (MSIS is a proper interval score, so (b) trades coverage for width).
4. The test part: sMAPE, MASE, OWA (against Naive2, which is the naive method for yearly data),
   95% coverage and MSIS (alpha = 0.05), beside the published figures.

Data: ``benchmarks/data/`` (copies of the M3/M4 files and published figures; override with ``KHFORECAST_BENCHMARK_DATA``); nothing is written.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast.engine.models import MODELS, TRIM_STEP, Combination, simulate_paths
from khforecast.engine.predictive import load_pooled_calibration, predictive_paths

DATA = Path(os.environ.get("KHFORECAST_BENCHMARK_DATA", Path(__file__).resolve().parent / "data"))
FILES = {"m4": "m4_yearly.csv.gz", "m3": "m3_yearly.csv.gz"}
H = 6
ALPHA = 0.05
SEED = 20240809
_CHUNK = 200
_DEFAULT = Combination()
_DEFAULT_SCALES = (0, 1) if _DEFAULT.original_scale else (0,)
MEMBERS = _DEFAULT.members


# ------------------------------------------------------------------------------------------
# data and metrics
# ------------------------------------------------------------------------------------------
def load(dataset: str, limit: int | None) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """(series_id, train, test, category) per series, in file order; ``limit``: even-spaced subset."""
    cols = pd.read_csv(DATA / FILES[dataset], nrows=0).columns
    use = ["series_id", "t", "value", "split"] + (["category"] if "category" in cols else [])
    df = pd.read_csv(DATA / FILES[dataset], usecols=use)
    df = df.sort_values(["series_id", "t"], kind="stable")
    out = []
    for sid, g in df.groupby("series_id", sort=False):
        is_train = (g["split"] == "train").to_numpy()
        v = g["value"].to_numpy(dtype=float)
        cat = str(g["category"].iloc[0]) if "category" in g else ""
        out.append((str(sid), v[is_train], v[~is_train], cat))
    if limit is not None and limit < len(out):
        idx = np.unique(np.linspace(0, len(out) - 1, limit).round().astype(int))
        out = [out[i] for i in idx]
    return out


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per-series sMAPE (M4 definition, percent), rows = series."""
    return np.mean(200.0 * np.abs(y - f) / (np.abs(y) + np.abs(f)), axis=1)


def mase_scale(train: list[np.ndarray]) -> np.ndarray:
    """In-sample mean absolute first difference per series (seasonal period 1)."""
    return np.array([np.mean(np.abs(np.diff(t))) for t in train])


def mase(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-series MASE."""
    return np.mean(np.abs(y - f), axis=1) / scale


def msis(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-series MSIS (M4 definition) for (1 - ALPHA) intervals."""
    pen = (hi - lo) + 2.0 / ALPHA * (lo - y) * (y < lo) + 2.0 / ALPHA * (y - hi) * (y > hi)
    return np.mean(pen, axis=1) / scale


def naive(train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Naive point forecasts and M4's naive 95% intervals (sd = RMS of first differences)."""
    last = np.array([t[-1] for t in train])[:, None]
    sd = np.array([np.sqrt(np.mean(np.diff(t) ** 2)) for t in train])[:, None]
    half = 1.959964 * sd * np.sqrt(np.arange(1, H + 1))[None, :]
    return np.repeat(last, H, axis=1), last - half, last + half


def scores(y, f, lo, hi, scale, ref) -> dict[str, float]:
    """Dataset-level sMAPE, MASE, OWA (against ``ref`` = naive's (sMAPE, MASE)), coverage, MSIS."""
    s = float(np.mean(smape(y, f)))
    m = float(np.mean(mase(y, f, scale)))
    out = {"sMAPE": s, "MASE": m, "OWA": 0.5 * (s / ref[0] + m / ref[1]),
           "MSPE%": float(np.mean((f - y) / np.abs(y)) * 100.0)}
    if lo is not None:
        out["cov95"] = float(np.mean((y >= lo) & (y <= hi)) * 100.0)
        out["MSIS"] = float(np.mean(msis(y, lo, hi, scale)))
    return out


# ------------------------------------------------------------------------------------------
# workers (pure functions of their arguments)
# ------------------------------------------------------------------------------------------
def _members_chunk(trains: list[np.ndarray]) -> np.ndarray:
    """Point forecasts and in-sample MSE of every member on both scales, on the log scale.

    Returns (n, 2 scales, n_members, H + 1): the last slot holds the member's in-sample MSE on
    its own fitting scale (for inverse-MSE weights, which compare members within a scale).
    Members that need more points than the series has are NaN (left out, as in the library).
    """
    out = np.full((len(trains), 2, len(MEMBERS), H + 1), np.nan)
    for i, y in enumerate(trains):
        floor = y.min() / 2.0
        for s, data in enumerate((np.log(y), y)):
            for j, name in enumerate(MEMBERS):
                spec = MODELS[name]
                if data.shape[0] < spec.min_obs:
                    continue
                fit = spec.fit(data)
                f = fit.forecast(H)
                out[i, s, j, :H] = f if s == 0 else np.log(np.maximum(f, floor))
                out[i, s, j, H] = fit.mse
    return out


def _sim_chunk(task: tuple) -> np.ndarray:
    """Median and 95% bounds of the default model's paths: (n, 3, H)."""
    trains, seeds, sims, spread = task
    out = np.empty((len(trains), 3, H))
    for i, (y, ss) in enumerate(zip(trains, seeds)):
        res = simulate_paths(y, H, sims, np.random.default_rng(ss), domain="positive",
                             spread=spread)
        out[i] = np.quantile(res.paths, [0.5, ALPHA / 2, 1 - ALPHA / 2], axis=0)
    return out


def _engine_chunk(task: tuple) -> np.ndarray:
    """Median, 95% bounds and mean of the calibrated engine (what forecast-series draws):
    (n, 4, H)."""
    trains, seeds, sims = task
    cal = load_pooled_calibration()
    out = np.empty((len(trains), 4, H))
    for i, (y, ss) in enumerate(zip(trains, seeds)):
        res = predictive_paths(y, H, sims, np.random.default_rng(ss), domain="positive",
                               calibration=cal)
        out[i, :3] = np.quantile(res.paths, [0.5, ALPHA / 2, 1 - ALPHA / 2], axis=0)
        out[i, 3] = np.mean(res.paths, axis=0)
    return out


def simulate_engine(trains: list[np.ndarray], jobs: int, sims: int, salt: int) -> np.ndarray:
    """:func:`_engine_chunk` over all series (one seed spawn each)."""
    seeds = np.random.SeedSequence([SEED, salt]).spawn(len(trains))
    tasks = [(trains[i:i + _CHUNK], seeds[i:i + _CHUNK], sims)
             for i in range(0, len(trains), _CHUNK)]
    return np.concatenate(_pool_map(_engine_chunk, tasks, jobs), axis=0)


_SF_SCRIPT = r"""
import json, sys, warnings
import numpy as np, pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoTheta
data, h = json.load(sys.stdin)
df = pd.DataFrame([(i, k, x) for i, v in enumerate(data) for k, x in enumerate(v)],
                  columns=["unique_id", "ds", "y"])
sf = StatsForecast(models=[AutoETS(season_length=1), AutoTheta(season_length=1)], freq=1, n_jobs=1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    out = sf.forecast(df=df, h=h, level=[95]).sort_values(["unique_id", "ds"])
res = {}
for m in ("AutoETS", "AutoTheta"):
    res[m] = [out[c].to_numpy().reshape(len(data), h).tolist() for c in (m, m + "-lo-95", m + "-hi-95")]
print(json.dumps(res))
"""


def statsforecast_rows(python: str, train: list[np.ndarray], test: np.ndarray, scale: np.ndarray,
                       ref: tuple[float, float]) -> dict[str, dict[str, float]]:
    """statsforecast 2.x AutoETS, AutoTheta and their equal-weight combination (points and 95 %
    bounds averaged), run in ``python`` (its own environment: it is not a khforecast dependency)."""
    payload = json.dumps([[list(map(float, t)) for t in train], H])
    proc = subprocess.run([python, "-c", _SF_SCRIPT], input=payload, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        print(f"    statsforecast run failed: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    res = {k: np.array(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    res["ETS+Theta"] = (res["AutoETS"] + res["AutoTheta"]) / 2
    return {f"statsforecast {k}": scores(test, v[0], v[1], v[2], scale, ref) for k, v in res.items()}


def _pool_map(fn, tasks: list, jobs: int) -> list:
    if jobs == 1 or len(tasks) == 1:
        return [fn(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(fn, tasks))


def member_forecasts(trains: list[np.ndarray], jobs: int) -> np.ndarray:
    """:func:`_members_chunk` over all series, in parallel chunks."""
    chunks = [trains[i:i + _CHUNK] for i in range(0, len(trains), _CHUNK)]
    return np.concatenate(_pool_map(_members_chunk, chunks, jobs), axis=0)


def simulate(trains: list[np.ndarray], jobs: int, sims: int, spread: np.ndarray | None,
             salt: int) -> np.ndarray:
    """Median and 95% bounds of the default model for every series (one seed spawn each)."""
    seeds = np.random.SeedSequence([SEED, salt]).spawn(len(trains))
    tasks = [(trains[i:i + _CHUNK], seeds[i:i + _CHUNK], sims, spread)
             for i in range(0, len(trains), _CHUNK)]
    return np.concatenate(_pool_map(_sim_chunk, tasks, jobs), axis=0)


# ------------------------------------------------------------------------------------------
# steps
# ------------------------------------------------------------------------------------------
def combine(mem: np.ndarray, scales: tuple[int, ...], rule: str, trim: int = 0) -> np.ndarray:
    """Point forecast (original scale) of a combination rule over the cached member forecasts.

    ``trim`` drops that many members at each end, ranked by their forecast at step
    ``TRIM_STEP``, where at least ``2 * trim + 2`` members are available (as the library does).
    """
    f = mem[:, list(scales), :, :H]  # (n, s, m, H) on the log scale
    ok = np.isfinite(f[..., 0])
    if trim:
        ref = np.where(ok, f[..., TRIM_STEP - 1], np.nan).reshape(len(f), -1)
        n_ok = ok.reshape(len(f), -1).sum(axis=1)
        # rank among the available members (NaN last), drop the lowest and highest `trim`
        rank = np.argsort(np.argsort(np.where(np.isnan(ref), np.inf, ref), axis=1,
                                     kind="stable"), axis=1)
        drop = (rank < trim) | ((rank >= (n_ok - trim)[:, None]) & (rank < n_ok[:, None]))
        drop &= (n_ok >= 2 * trim + 2)[:, None]
        ok = ok & ~drop.reshape(ok.shape)
        f = np.where(ok[..., None], f, np.nan)
    if rule == "median":
        flat = f.reshape(f.shape[0], -1, H)
        return np.exp(np.nanmedian(flat, axis=1))
    if rule == "mean":
        w = ok / np.maximum(ok.sum(axis=2, keepdims=True), 1)
    else:  # inverse in-sample MSE within each scale
        inv = np.where(ok, 1.0 / np.maximum(mem[:, list(scales)][..., H], 1e-12), 0.0)
        w = inv / np.maximum(inv.sum(axis=2, keepdims=True), 1e-300)
    w = w / ok.any(axis=2).sum(axis=1)[:, None, None]  # each scale with members: equal share
    return np.exp(np.nansum(np.where(ok[..., None], f, 0.0) * w[..., None], axis=(1, 2)))


def design_table(trains, y, scale, ref, mem) -> pd.DataFrame:
    """Scores of single members and combination rules on held-out data."""
    rows = []
    names = {0: "log", 1: "original"}
    for s in (0, 1):
        for j, m in enumerate(MEMBERS):
            f = np.exp(mem[:, s, j, :H])
            miss = ~np.isfinite(f[:, 0])  # too short for the member: use Theta on that scale
            f[miss] = np.exp(mem[miss, s, MEMBERS.index("theta"), :H])
            rows.append({"design": f"{m} ({names[s]})", **scores(y, f, None, None, scale, ref)})
    for scales, label in (((0,), "log"), ((1,), "original"), ((0, 1), "log+original")):
        for rule, trim in (("mean", 0), ("inverse_mse", 0), ("median", 0), ("mean", 1),
                           ("inverse_mse", 1)):
            if trim and len(scales) == 1:
                continue  # trimming 3 members leaves one: not a combination
            f = combine(mem, scales, rule, trim)
            # the library's trim acts on the path mixture only: its point is untrimmed
            default = (scales, rule, trim) == (_DEFAULT_SCALES, _DEFAULT.rule, 0)
            name = f"{rule}{', trim 1' if trim else ''} of {3 * len(scales)} ({label})"
            rows.append({"design": name + (" <- default" if default else ""),
                         **scores(y, f, None, None, scale, ref)})
    return pd.DataFrame(rows).set_index("design")


def spread_for_coverage(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-horizon multipliers of log-scale dispersion that give 95% coverage on held-out data.

    For each series and step, the ratio of the actual's log-distance from the median to the
    interval's half-width on that side; the multiplier is the 95th percentile of the ratios
    (so that exactly 95% of held-out actuals would fall inside the rescaled intervals).
    """
    med, lo, hi = np.log(q[:, 0]), np.log(q[:, 1]), np.log(q[:, 2])
    ly = np.log(np.maximum(y, 1e-300))
    up = ly >= med
    width = np.where(up, hi - med, med - lo)
    ratio = np.abs(ly - med) / np.maximum(width, 1e-12)
    return np.quantile(ratio, 1 - ALPHA, axis=0)


def spread_min_msis(q: np.ndarray, y: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-horizon multipliers that minimise the held-out MSIS (grid 0.50, 0.51, ..., 3.00)."""
    grid = np.linspace(0.5, 3.0, 251)
    out = np.empty(H)
    for k in range(H):
        best = np.inf
        for s in grid:
            qq = apply_spread(q[:, :, k:k + 1], np.array([s]))[:, :, 0]
            lo, hi, yy = qq[:, 1], qq[:, 2], y[:, k]
            pen = (hi - lo) + 2 / ALPHA * ((lo - yy) * (yy < lo) + (yy - hi) * (yy > hi))
            v = np.mean(pen / scale)
            if v < best:
                best, out[k] = v, s
    return out


def apply_spread(q: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Quantiles (n, 3, H) after scaling log-scale dispersion around the median by ``spread``."""
    med = np.log(q[:, :1])
    return np.exp(med + spread[None, None, :] * (np.log(q) - med))


def _fmt(df: pd.DataFrame) -> str:
    return df.to_string(float_format=lambda v: f"{v:8.3f}")


def run(dataset: str, limit: int | None, jobs: int, sims: int, validate_only: bool = False,
        engine_only: bool = False, sf_python: str | None = None) -> pd.DataFrame | None:
    """All four steps on one dataset; prints its tables and returns the design table
    (``engine_only``: steps 1 and 4 for the calibrated engine alone; returns None)."""
    t0 = time.perf_counter()
    data = load(dataset, limit)
    train = [d[1] for d in data]
    test = np.array([d[2] for d in data])
    scale = mase_scale(train)
    n = len(data)
    print(f"\n=== {dataset.upper()} yearly: {n} series, h = {H} ===")

    # 1. metric self-test
    nf, nlo, nhi = naive(train)
    ref = (float(np.mean(smape(test, nf))), float(np.mean(mase(test, nf, scale))))
    nv = scores(test, nf, nlo, nhi, scale, ref)
    print(f"[1] naive on the test part: sMAPE {nv['sMAPE']:.3f}  MASE {nv['MASE']:.3f}  "
          f"MSIS {nv['MSIS']:.3f}  coverage {nv['cov95']:.1f}%")
    if dataset == "m4" and n == 23000:
        ok = (round(nv["sMAPE"], 3), round(nv["MASE"], 3), round(nv["MSIS"], 3)) == \
            (16.342, 3.974, 56.554)
        print(f"    official M4 Naive: sMAPE 16.342, MASE 3.974, MSIS 56.554 -> "
              f"{'REPRODUCED' if ok else 'MISMATCH'}")
        if not ok:
            raise SystemExit("metric self-test failed")

    refs = statsforecast_rows(sf_python, train, test, scale, ref) if sf_python else {}
    if engine_only:
        test_part(dataset, data, train, test, scale, ref, nf, nv, jobs, sims, refs, t0)
        return None

    # 2. designs on held-out training data
    # a series whose shortened training part is constant has no MASE scale: left out here
    usable = [t for t in train if np.any(np.diff(t[:-H]) != 0)]
    vtrain = [t[:-H] for t in usable]
    vy = np.array([t[-H:] for t in usable])
    vscale = mase_scale(vtrain)
    vnf, _, _ = naive(vtrain)
    vref = (float(np.mean(smape(vy, vnf))), float(np.mean(mase(vy, vnf, vscale))))
    mem = member_forecasts(vtrain, jobs)
    table = design_table(vtrain, vy, vscale, vref, mem)
    print(f"[2] designs on held-out TRAINING data: last {H} training points of {len(usable)} "
          f"series ({n - len(usable)} left out: constant before them); naive sMAPE "
          f"{vref[0]:.3f}, MASE {vref[1]:.3f}:")
    print(_fmt(table))
    check = simulate_paths(vtrain[0], H, 50, np.random.default_rng(0), domain="positive").point
    if not np.allclose(check, combine(mem[:1], _DEFAULT_SCALES, _DEFAULT.rule)[0], rtol=1e-9):
        raise SystemExit("design table's default differs from khforecast's default model")

    if validate_only:
        return table

    # 3. interval calibration on the same held-out training data
    vq = simulate(vtrain, jobs, sims, None, salt=1)
    raw = scores(vy, vq[:, 0], vq[:, 1], vq[:, 2], vscale, vref)
    spread = spread_for_coverage(vq, vy)
    spread_is = spread_min_msis(vq, vy, vscale)
    print(f"[3] held-out training data, uncalibrated 95% intervals: coverage "
          f"{raw['cov95']:.1f}%  MSIS {raw['MSIS']:.3f}")
    print("    spread by horizon, (a) for 95% coverage:     "
          + " ".join(f"{v:.3f}" for v in spread))
    print("    spread by horizon, (b) for the least MSIS:   "
          + " ".join(f"{v:.3f}" for v in spread_is))

    # 4. the test part; the spread is a monotone map of each step's values around the median,
    # so the calibrated quantiles are the uncalibrated ones mapped (checked on one series)
    q_raw = simulate(train, jobs, sims, None, salt=2)
    q = apply_spread(q_raw, spread)
    one = simulate(train[:1], 1, sims, spread, salt=2)
    if not np.allclose(one, q[:1], rtol=1e-3):  # quantile interpolation does not commute with exp
        raise SystemExit("calibrated quantiles differ from simulate_paths(..., spread=...)")
    res_raw = scores(test, q_raw[:, 0], q_raw[:, 1], q_raw[:, 2], scale, ref)
    res = scores(test, q[:, 0], q[:, 1], q[:, 2], scale, ref)
    q_is = apply_spread(q_raw, spread_is)
    res_is = scores(test, q_is[:, 0], q_is[:, 1], q_is[:, 2], scale, ref)
    others = {"khforecast, spread (a) coverage": res, "khforecast, spread (b) least MSIS": res_is,
              "khforecast, uncalibrated": res_raw, **refs}
    test_part(dataset, data, train, test, scale, ref, nf, nv, jobs, sims, others, t0)
    return table


def test_part(dataset, data, train, test, scale, ref, nf, nv, jobs, sims, others, t0) -> None:
    """Step 4 for the calibrated engine (what forecast-series draws), beside ``others``."""
    q_eng = simulate_engine(train, jobs, sims, salt=2)
    res_eng = scores(test, q_eng[:, 0], q_eng[:, 1], q_eng[:, 2], scale, ref)
    if dataset == "m4":
        cats = np.array([d[3] for d in data])
        print("    M4 by domain, sMAPE of the calibrated engine's median vs naive:")
        for c in sorted(set(cats)):
            m = cats == c
            a, b = float(np.mean(smape(test[m], q_eng[m, 0]))), float(np.mean(smape(test[m], nf[m])))
            print(f"      {c:12s} n={m.sum():5d}  engine {a:7.3f}  naive {b:7.3f}  "
                  f"{'beats naive' if a < b else 'LOSES to naive'}")
    res_mean = scores(test, q_eng[:, 3], None, None, scale, ref)
    out = pd.DataFrame({"khforecast engine (calibrated = forecast-series)": res_eng,
                        "khforecast engine, its mean as the point": res_mean,
                        **others, "Naive": nv}).T
    print(f"[4] test part ({time.perf_counter() - t0:.0f} s for this dataset, {sims} paths "
          "per series):")
    print(_fmt(out))
    print_published(dataset)


def print_published(dataset: str) -> None:
    """The published figures to compare with."""
    def show(df: pd.DataFrame) -> None:
        df = df.assign(team_or_benchmark=df["team_or_benchmark"].str.slice(0, 40))
        print("    " + df.to_string(index=False).replace("\n", "\n    "))

    if dataset == "m4":
        pt = pd.read_csv(DATA / "m4_published_accuracy_point.csv").sort_values("yearly_owa")
        bench = pt["method_id"].isin(["Theta", "Com", "Damped", "Naive2"])
        print("    published M4 yearly, point forecasts (best 6 and four benchmarks):")
        show(pt[bench | pt.index.isin(pt.head(6).index)][
            ["method_id", "team_or_benchmark", "method_type", "yearly_smape", "yearly_mase",
             "yearly_owa"]])
        pi = pd.read_csv(DATA / "m4_published_accuracy_pi95.csv").sort_values("yearly_msis")
        print("    published M4 yearly, 95% intervals (best 5 and the benchmarks; "
              "ACD = |coverage - 0.95|):")
        bench = pi["method_id"].isin(["ETS", "ARIMA", "Naive"])
        show(pi[bench | pi.index.isin(pi.head(5).index)][
            ["method_id", "team_or_benchmark", "yearly_msis", "yearly_acd"]])
    else:
        m3 = pd.read_csv(DATA / "m3_yearly_original_submissions_accuracy.csv")
        m3 = m3.sort_values("sMAPE_avg_h1_6").head(8)
        print("    M3 yearly original submissions (recomputed, best 8):")
        print("    " + m3[["method", "sMAPE_avg_h1_6", "MASE_avg_h1_6"]].to_string(index=False)
              .replace("\n", "\n    "))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["m4", "m3", "both"], default="both")
    p.add_argument("--limit", type=int, default=None, help="use N evenly spaced series")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--sims", type=int, default=4000)
    p.add_argument("--validate-only", action="store_true",
                   help="stop after the design check on held-out training data")
    p.add_argument("--engine-only", action="store_true",
                   help="only the metric self-test and the calibrated engine on the test part")
    p.add_argument("--statsforecast-python",
                   default=os.environ.get("KHFORECAST_STATSFORECAST_PYTHON"),
                   help="a Python with statsforecast: AutoETS, AutoTheta and their combination "
                        "as references in the same run")
    args = p.parse_args(argv)
    print("command: python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if argv is None
                                                              else argv))
    owa = {}
    for ds in (["m4", "m3"] if args.dataset == "both" else [args.dataset]):
        table = run(ds, args.limit, args.jobs, args.sims, args.validate_only, args.engine_only,
                    args.statsforecast_python)
        if table is not None:
            owa[ds] = table["OWA"]
    if not owa:
        return 0
    joint = pd.DataFrame(owa)
    joint["mean"] = joint.mean(axis=1)
    joint = joint.sort_values("mean")
    print("\n=== design choice: OWA on held-out training data, lowest mean first ===")
    print(_fmt(joint))
    print(f"lowest mean OWA: {joint.index[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
