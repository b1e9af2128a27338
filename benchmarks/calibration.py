"""Calibration benchmark: held-out PIT, coverage at every level, by stratum, and Brier skill.

Run::

    .venv/bin/python benchmarks/calibration.py [--sims 1000] [--max-series 120] [--jobs 2]
        [--pit-png benchmarks/pit_histogram.png]

On rolling-origin back-tests of the whole pool (``khforecast.engine.pool``: 63-province GSO panels and
UN / UNDP / WHO / World Bank country panels, seven families), with the engine's calibration
(``khforecast.engine.predictive``) fitted **without** the held-out part, this prints

1. coverage of the central 50 / 80 / 90 / 95 / 98 % intervals and the share outside the 99 %
   band, leave-one-family-out and leave-one-panel-out, pooled and by stratum: domain x horizon
   (1-2, 3-5, 6-10) x history shape (smooth / noisy) x bound (on 0 or 100 / within 5 points /
   far); and by family held out;
2. the PIT histogram (20 bins; 1.0 everywhere when calibrated), saved as a PNG;
3. the Brier score of P(value in the last held-out year >= threshold) for thresholds at the
   10/25/50/75/90 % quantiles of that panel's realised values and at the last observed value
   ±2 % and ±5 %, against the ESCAP-style rule (extrapolated CAGR, answered 0 or 1) and a naive
   Gaussian random walk N(last, sd(yearly changes)^2 h);
4. the centre's held-out mean absolute error on the modelling scale (family out): the models'
   median, damped by history shape and length (calibration format 5), and damped by trend class
   and length as shipped, with a 95 % bootstrap interval over series for the change;
5. the issue's bars, PASS / FAIL.

At a point mass (a percent sitting on 0 or 100) the PIT is randomised within the mass, and the
coverage of an interval is read from that PIT, the standard check for discrete predictive
distributions (Czado, Gneiting & Held 2009).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from khforecast.engine import evaluation as E
from khforecast.assess.escap import escap_projection
from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.pool import load_pool, thin
from khforecast.engine.strata import TRENDS

_FMT = {"float_format": lambda v: f"{v:.3f}", "index": False}


def _pit_coverage(sc: pd.DataFrame) -> pd.DataFrame:
    """Coverage read from the (randomised) PIT, so point masses count at their nominal share."""
    sc = sc.copy()
    for a in E.COVERAGE_LEVELS:
        sc[f"cov{round(a * 100)}"] = (sc["pit"] >= (1 - a) / 2) & (sc["pit"] <= (1 + a) / 2)
    return sc


def _events(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per back-test case (its last held-out year) and threshold."""
    last = cells.loc[cells.groupby(["panel", "series_id", "origin", "n_train"])["horizon"].idxmax()]
    frames = []
    for _, g in last.groupby("panel", sort=True):
        for name, q in zip(("q10", "q25", "q50", "q75", "q90"),
                           np.quantile(g["value"], (0.10, 0.25, 0.50, 0.75, 0.90))):
            frames.append(g.assign(threshold=q, kind=f"realised {name}"))
        for f in (-0.05, -0.02, 0.02, 0.05):
            frames.append(g.assign(threshold=g["last_value"] * (1 + f), kind=f"last {f:+.0%}"))
    return pd.concat(frames, ignore_index=True)


def _p_escap(ev: pd.DataFrame) -> np.ndarray:
    proj = np.array([escap_projection(fy, fv, o, lv, y) for fy, fv, o, lv, y in
                     zip(ev["first_year"], ev["first_value"], ev["origin"], ev["last_value"],
                         ev["year"])])
    return (proj >= ev["threshold"].to_numpy()).astype(float)


def _p_gauss(ev: pd.DataFrame) -> np.ndarray:
    sd = ev["sd_diff"].fillna(0.0).to_numpy() * np.sqrt(ev["horizon"].to_numpy())
    gap = ev["threshold"].to_numpy() - ev["last_value"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 1.0 - norm.cdf(gap / sd)
    return np.where(sd > 0, p, (gap <= 0).astype(float))


def _save_pit(pit: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pit), figsize=(5 * len(pit), 3.2), sharey=True)
    for ax, (name, p) in zip(np.atleast_1d(axes), pit.items()):
        dens = E.pit_histogram(p)
        ax.bar(np.arange(20) / 20, dens, width=0.05, align="edge", color="#4878a8")
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        ax.set_title(f"PIT, {name} ({len(p)} cells)")
        ax.set_xlabel("PIT")
    np.atleast_1d(axes)[0].set_ylabel("density")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _centre_errors(free: pd.DataFrame, classes: str | None) -> np.ndarray:
    """|error| of each cell's centre, damped (by ``classes``: ``trend`` or ``shape``, and length)
    as fitted on the other families, or the models' median when ``classes`` is None."""
    if classes is None:
        return np.abs(free["z"].to_numpy())
    df = free.assign(trend=free[classes])
    out = np.empty(len(df))
    for fam in df["family"].unique():
        m = (df["family"] == fam).to_numpy()
        out[m] = np.abs(E.damped_centre(df[m], E.fit_damping(df[~m]))["z"].to_numpy())
    return out


def _centre_table(cells: pd.DataFrame, n_boot: int = 1000) -> None:
    """Print :func:`_centre_errors` by cell group, the shipped damping against the others."""
    free = cells[cells["near"] != "on"].reset_index(drop=True)
    err = {"models' median": _centre_errors(free, None),
           "damped by shape (format 5)": _centre_errors(free, "shape"),
           "damped by trend class (shipped)": _centre_errors(free, "trend")}
    series = pd.factorize(free["panel"] + "/" + free["series_id"].astype(str))[0]
    rng = np.random.default_rng(0)
    groups = {"all": np.ones(len(free), bool), **{t: (free["trend"] == t).to_numpy()
                                                  for t in TRENDS},
              "percent": (free["domain"] == "percent").to_numpy(),
              "positive": (free["domain"] == "positive").to_numpy()}
    print(f"{'cells':9s} {'n':>6s} " + " ".join(f"{k:>32s}" for k in err)
          + "   shipped vs format 5 [95 % interval]")
    for name, m in groups.items():
        new, old = err["damped by trend class (shipped)"][m], err["damped by shape (format 5)"][m]
        by_series = pd.Series(new - old).groupby(series[m])
        diff, count = by_series.sum().to_numpy(), by_series.size().to_numpy().astype(float)
        boot = [diff[i].sum() / count[i].sum()
                for i in (rng.integers(0, len(diff), len(diff)) for _ in range(n_boot))]
        lo, hi = np.quantile(boot, [0.025, 0.975]) / old.mean() * 100
        print(f"{name:9s} {m.sum():6d} " + " ".join(f"{v[m].mean():32.5f}" for v in err.values())
              + f"   {(new.mean() / old.mean() - 1) * 100:+6.2f} % [{lo:+.2f}, {hi:+.2f}]")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=20240809)
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--max-series", type=int, default=120)
    p.add_argument("--max-cases", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--pit-png", type=Path, default=Path("benchmarks/pit_histogram.png"))
    p.add_argument("--cells", type=Path, default=None,
                   help="a pickle of back-test cells to reuse (written there when missing)")
    args = p.parse_args(argv)
    print("$ " + " ".join(["python", "benchmarks/calibration.py", *(argv if argv is not None else sys.argv[1:])]))
    t0 = time.perf_counter()
    full = load_pool()
    if args.cells is not None and args.cells.is_file():
        cells = pd.read_pickle(args.cells)
        missing = {"family", "shape", "trend", "near", "w"} - set(cells.columns)
        if missing:
            raise SystemExit(f"{args.cells}: back-test cells of an older khforecast (no column "
                             f"{', '.join(sorted(missing))}); delete the file to rebuild it")
    else:
        series = thin(full, args.max_series, args.seed)
        bt = backtest(series, n_sims=args.sims, seed=args.seed, max_cases=args.max_cases,
                      jobs=args.jobs)
        cells = E.attach_features(bt, series)
        if args.cells is not None:
            cells.to_pickle(args.cells)
    n_cases = cells[["panel", "series_id", "origin", "n_train"]].drop_duplicates().shape[0]
    print(f"# {len(cells)} back-test cells, {n_cases} cases, {cells['series_id'].nunique()} "
          f"series ids, {cells['panel'].nunique()} panels, {cells['family'].nunique()} families; "
          f"{time.perf_counter() - t0:.0f} s")
    stats = E.pool_stats(full)
    cals = E.held_out_calibrations(cells, stats, "family")
    scored = {"leave-one-family-out": E.out_of_sample(cells, stats, "family", cals),
              "leave-one-panel-out": E.out_of_sample(cells, stats, "panel")}
    for name, sc in scored.items():
        print(f"\n## 1. {name}: coverage of central intervals (cov), outside the 99 % band (out99)")
        print(E.stratified_table(sc, by=("hgroup",)).to_string(**_FMT))
        print(f"\n### {name}, by stratum (interval end points; 'on' rows: PIT-based below)")
        print(E.stratified_table(sc).to_string(**_FMT))
    lofo = scored["leave-one-family-out"]
    print("\n### leave-one-family-out, by family held out")
    print(E.stratified_table(lofo, by=("family",)).to_string(**_FMT))
    print("\n### leave-one-family-out, series on a bound, coverage read from the randomised PIT")
    on = _pit_coverage(lofo[lofo["near"] == "on"])
    print(E.stratified_table(on, by=("domain", "hgroup", "near")).to_string(**_FMT))

    print("\n## 2. PIT histogram (20 bins, density; 1.0 = calibrated)")
    for name, sc in scored.items():
        print(f"{name:22s} " + " ".join(f"{v:.2f}" for v in E.pit_histogram(sc["pit"])))
    _save_pit({k: v["pit"].to_numpy() for k, v in scored.items()}, args.pit_png)
    print(f"saved {args.pit_png}")

    print("\n## 3. Brier score of P(value in the last held-out year >= threshold), family held out")
    ev = _events(cells)
    p_k = np.empty(len(ev))
    for fam, cal in cals.items():
        m = (ev["family"] == fam).to_numpy()
        p_k[m] = E.prob_at_least(ev[m], ev.loc[m, "threshold"].to_numpy(), cal)
    outcome = (ev["value"].to_numpy() >= ev["threshold"].to_numpy()).astype(float)
    probs = {"khforecast (leave-one-family-out)": p_k,
             "ESCAP-style CAGR rule (0/1)": _p_escap(ev),
             "naive Gaussian random walk": _p_gauss(ev)}
    brier = {k: float(np.mean((v - outcome) ** 2)) for k, v in probs.items()}
    by_kind = pd.DataFrame({k: (v - outcome) ** 2 for k, v in probs.items()}).groupby(
        ev["kind"].to_numpy()).mean()
    print(by_kind.to_string(float_format=lambda v: f"{v:.4f}"))
    base = brier["khforecast (leave-one-family-out)"]
    print(f"\n{'method':40s} {'Brier':>8s} {'khforecast lower by':>20s}")
    for k, v in brier.items():
        print(f"{k:40s} {v:8.4f} {(v - base) / v * 100:19.1f}%")
    print(f"({len(ev)} events)")

    print("\n## 4. The centre: held-out mean absolute error on the modelling scale, family out")
    _centre_table(cells)

    tab = E.stratified_table(lofo)
    strata = tab[(tab["domain"] != "all") & (tab["n"] >= 150) & (tab["near"] != "on")]
    on_tab = E.stratified_table(on)
    on_strata = on_tab[(on_tab["domain"] != "all") & (on_tab["n"] >= 150)]
    allrow = tab.iloc[-1]
    checks = {f"pooled cov{k} within ±3 of {k}": abs(allrow[f"cov{k}"] - k / 100) <= 0.03
              for k in (50, 80, 95, 98)}
    for _, r in pd.concat([strata, on_strata]).iterrows():
        for k in (80, 95):
            name = f"stratum {r['domain']}/{r['hgroup']}/{r['shape']}/{r['near']} (n={r['n']}) cov{k}"
            checks[name + " within ±6"] = abs(r[f"cov{k}"] - k / 100) <= 0.06
    checks["99 % band breached <= 2 % pooled"] = allrow["out99"] <= 0.02
    checks["Brier >= 30 % below ESCAP-style"] = base <= 0.7 * brier["ESCAP-style CAGR rule (0/1)"]
    checks["Brier below naive Gaussian"] = base < brier["naive Gaussian random walk"]
    print("\n## 5. Bars (leave-one-family-out)")
    for k, v in checks.items():
        print(f"{'PASS' if v else 'FAIL'}  {k}")
    print(f"# total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
