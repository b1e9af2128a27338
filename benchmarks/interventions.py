"""Does declaring 2020-2021 as COVID pulses improve the forecasts? Back-tests on the GSO panels.

Run::

    .venv/bin/python benchmarks/interventions.py [--sims 2000] [--jobs 1] [--models combination]

1. The 63-province GSO panels of the unemployment rate and the informal-employment rate
   (2018-2024, khforecast's bundled copies): from origins 2022 and 2023 each province's series
   is forecast through the full engine (``Forecaster``: models, calibration) with and without
   ``interventions: {pulse: [2020, 2021]}``, and the held-out years up to 2024 are scored:
   quantile (pinball) loss averaged over the levels 0.05, 0.10, ..., 0.95 in percentage points,
   absolute error of the median, and coverage of the central 80 % and 95 % intervals.
2. The bundled indicator 02 (Khánh Hòa's unemployment rate): its 2030 distribution and the
   probability of meeting the 2030 target with ``params/models.yaml`` (pulses declared) and
   without (the registry defaults).

Nothing is written.
"""
from __future__ import annotations

import argparse
import sys
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pandas as pd

from khforecast.assess.assessment import assess
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import ModelChoices, SeriesChoice, load_model_choices
from khforecast.observations.panels import load_panel
from khforecast.observations.read import bundled_observations_path, read_observations
from khforecast.plan.catalog import load_catalog

PANELS = {"unemployment_rate": "unemployment_rate_working_age",
          "informal_employment_rate": "informal_employment_rate"}
LEVELS = np.round(np.arange(0.05, 0.96, 0.05), 2)
ORIGINS = (2022, 2023)
PULSES = (2020, 2021)


def _panel(name: str) -> tuple[pd.DataFrame, SimpleNamespace]:
    """The panel as observations (one "indicator" per province) and a matching catalog."""
    df = load_panel(name)
    df = df[(df["geo_level"] == "province") & (df["indicator"] == PANELS[name])]
    obs = pd.DataFrame({"indicator_id": df["province_slug"].astype(str), "place": "khanh_hoa",
                        "year": df["year"].astype(int), "value": df["value"].astype(float)})
    inds = {i: SimpleNamespace(id=i, domain="percent", observed_as="level",
                               targets=MappingProxyType({})) for i in sorted(obs["indicator_id"].unique())}
    return obs, SimpleNamespace(indicators=inds)


def _score(obs: pd.DataFrame, catalog: SimpleNamespace, choices: ModelChoices, origin: int,
           sims: int, jobs: int, models: tuple[str, ...] | None) -> pd.DataFrame:
    fc = Forecaster(models=models, sims=sims, seed=20240809, jobs=jobs, choices=choices)
    paths = fc.fit(obs[obs["year"] <= origin], catalog).simulate(until=int(obs["year"].max()))
    actual = obs.set_index(["indicator_id", "year"])["value"]
    rows = []
    for s in paths:
        for j, year in enumerate(s.years):
            if year <= origin or (s.indicator_id, year) not in actual.index:
                continue
            y = float(actual[(s.indicator_id, year)])
            draws = s.paths[:, j]
            q = np.quantile(draws, LEVELS)
            pin = np.mean(np.maximum(LEVELS * (y - q), (LEVELS - 1) * (y - q)))
            lo80, hi80, lo95, hi95 = np.quantile(draws, [0.1, 0.9, 0.025, 0.975])
            rows.append({"series": s.indicator_id, "origin": origin, "horizon": int(year - origin),
                         "model": s.model, "pinball": pin, "abs_err": abs(float(np.median(draws)) - y),
                         "cov80": lo80 <= y <= hi80, "cov95": lo95 <= y <= hi95,
                         "width80": hi80 - lo80})
    return pd.DataFrame(rows)


def panel_evidence(sims: int, jobs: int, models: tuple[str, ...] | None) -> pd.DataFrame:
    with_pulse = ModelChoices(default=SeriesChoice(pulse=PULSES))
    out = []
    for name in PANELS:
        obs, catalog = _panel(name)
        for origin in ORIGINS:
            for label, choices in (("none", ModelChoices()), ("pulse 2020-2021", with_pulse)):
                sc = _score(obs, catalog, choices, origin, sims, jobs, models)
                out.append(sc.assign(panel=name, interventions=label))
    return pd.concat(out, ignore_index=True)


def bundled_02(sims: int) -> pd.DataFrame:
    catalog = load_catalog()
    obs = read_observations(bundled_observations_path(), catalog=catalog)
    rows = []
    for label, choices in (("registry defaults (none)", ModelChoices()),
                           ("params/models.yaml (pulse 2020, 2021)", load_model_choices())):
        paths = Forecaster(sims=sims, seed=20240809, choices=choices).fit(obs, catalog).simulate(2030)
        s = paths.get("02")
        last = s.paths[:, list(s.years).index(2030)]
        table = assess(paths, catalog)
        row = table[(table["indicator_id"] == "02") & (table["target_year"] == 2030)].iloc[0]
        rows.append({"interventions": label, "model": s.model,
                     **{f"q{round(p * 100):02d}": float(np.quantile(last, p))
                        for p in (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95)},
                     "mean": float(last.mean()), "target": row["target_text"],
                     "p_meet": float(row["p_meet"]), "status": row["status"]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sims", type=int, default=2000)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--models", nargs="*", default=None, help="registry names (default: the default)")
    args = p.parse_args(argv)
    print("$ " + " ".join(["python", "benchmarks/interventions.py", *(argv if argv is not None else sys.argv[1:])]))
    models = tuple(args.models) if args.models else None
    bt = panel_evidence(args.sims, args.jobs, models)
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    summary = (bt.groupby(["panel", "origin", "interventions"], sort=True)
               .agg(n=("pinball", "size"), pinball=("pinball", "mean"), abs_err=("abs_err", "mean"),
                    cov80=("cov80", "mean"), cov95=("cov95", "mean"), width80=("width80", "mean"))
               .reset_index())
    print(f"\n## GSO panels, 63 provinces, origins {ORIGINS}, held-out years to 2024 "
          f"(models: {', '.join(models) if models else 'default'})")
    print(summary.to_string(**fmt))
    pooled = (bt.groupby("interventions").agg(n=("pinball", "size"), pinball=("pinball", "mean"),
                                              abs_err=("abs_err", "mean"), cov80=("cov80", "mean"),
                                              cov95=("cov95", "mean"), width80=("width80", "mean"))
              .reset_index())
    print("\npooled:")
    print(pooled.to_string(**fmt))
    base, told = pooled.set_index("interventions").loc[["none", "pulse 2020-2021"], "pinball"]
    print(f"\nquantile loss change with the pulses declared: {100 * (told / base - 1):+.1f} %")
    print("models that ran: " + "; ".join(f"{k} x{v}" for k, v in bt["model"].value_counts().items()))
    print("\n## Bundled 02 (Khánh Hòa unemployment), 2030")
    print(bundled_02(args.sims).to_string(**fmt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
