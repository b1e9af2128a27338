"""Places beside the plan's province: comparison places and the merged province (weighted parts)."""
from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = [
    "COMPARISON_PLACES",
    "MERGED_PLACE",
    "merge_places",
]


#: places forecast beside the chosen one, for comparison only (never assessed)
COMPARISON_PLACES = ("vietnam",)
#: the province formed on 1 July 2025 from the two below (Resolution 202/2025/QH15)
MERGED_PLACE = "khanh_hoa_merged"
MERGED_PARTS = ("khanh_hoa", "ninh_thuan")
#: weights of the parts, (panel, indicator): labour force for sector II (labour), else population
_WEIGHT_PANELS = {"II": ("labour_force", "labour_force_15plus"),
                  "": ("population_average", "population_average_total")}


def _part_weights(sector: str) -> tuple[dict[str, float], str]:
    """Weights of the merged province's parts from the latest GSO year holding both."""
    from khforecast.observations.panels import load_panel

    name, indicator = _WEIGHT_PANELS.get(sector, _WEIGHT_PANELS[""])
    df = load_panel(name)
    df = df[(df["indicator"] == indicator) & df["province_slug"].isin(MERGED_PARTS)]
    wide = df.pivot_table(index="year", columns="province_slug", values="value").dropna()
    year = int(wide.index.max())
    row = wide.loc[year]
    return {p: float(row[p]) for p in MERGED_PARTS}, f"{name} {year}"


def merge_places(observations: pd.DataFrame, catalog: Any) -> pd.DataFrame:
    """Add ``khanh_hoa_merged`` rows built from the former provinces where the data lack them.

    For each indicator and year with a value for both ``khanh_hoa`` and ``ninh_thuan`` and none
    for ``khanh_hoa_merged``: a LEVEL (a rate, a share, an average) is their weighted mean,
    weighted by labour force (sector II, labour) or population (other sectors) in the latest
    GSO panel year holding both; a FLOW (the yearly count of a cumulative target) is their sum.
    Observed merged values are kept as they are. The added rows carry ``source`` naming the
    weights, so a reader can tell them from observed ones.

    Returns
    -------
    DataFrame
        The observations with the derived rows appended (same columns).
    """
    obs = observations
    parts = obs[obs["place"].isin(MERGED_PARTS)]
    have = set(zip(obs.loc[obs["place"] == MERGED_PLACE, "indicator_id"],
                   obs.loc[obs["place"] == MERGED_PLACE, "year"]))
    added = []
    for (iid, year), g in parts.groupby(["indicator_id", "year"], sort=True):
        if (iid, year) in have or set(g["place"]) != set(MERGED_PARTS) or iid not in catalog.indicators:
            continue
        ind = catalog.indicators[iid]
        vals = g.set_index("place")["value"].astype(float)
        if str(ind.observed_as) == "flow":
            value, how = float(vals.sum()), "sum of khanh_hoa and ninh_thuan"
        else:
            weights, src = _part_weights(str(getattr(ind, "sector", "")))
            total = sum(weights.values())
            value = sum(vals[p] * weights[p] for p in MERGED_PARTS) / total
            how = f"weighted mean of khanh_hoa and ninh_thuan (weights: GSO {src})"
        added.append({"indicator_id": iid, "place": MERGED_PLACE, "year": int(year),
                      "value": value, "source": f"derived: {how}"})
    if not added:
        return obs
    return pd.concat([obs, pd.DataFrame(added)], ignore_index=True)


# --------------------------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------------------------
