"""Places beside the plan's province: comparison places and merged provinces (weighted parts)."""
from __future__ import annotations

import pandas as pd

from khforecast.observations.provinces import bundled_places, combine_parts
from khforecast.plan.catalog import Catalog

__all__ = [
    "COMPARISON_PLACES",
    "MERGED_PLACE",
    "merge_places",
]


#: places forecast beside the chosen one, for comparison only (never assessed)
COMPARISON_PLACES = ("vietnam",)
#: the province formed on 1 July 2025 from Khánh Hòa and Ninh Thuận (Resolution 202/2025/QH15),
#: one of the 23 merged units of ``khforecast/data/places/``
MERGED_PLACE = "khanh_hoa_merged"


def merge_places(observations: pd.DataFrame, catalog: Catalog, place: str = MERGED_PLACE) -> pd.DataFrame:
    """Add rows of a merged province (default ``khanh_hoa_merged``) built from its former provinces.

    For each indicator and year with a value for every part and none for ``place``: a LEVEL
    (a rate, a share, an average) is their weighted mean, weighted by labour force (sector II,
    labour) or population (other sectors), a FLOW (the yearly count of a cumulative target) is
    their sum (:func:`khforecast.observations.provinces.combine_parts`, weights from
    ``khforecast/data/places/merge_weights.csv``). Observed merged values are kept as they are.
    The added rows carry ``source`` naming the weights, so a reader can tell them from observed
    ones. A place that is not a merged unit is returned unchanged.

    Returns
    -------
    DataFrame
        The observations with the derived rows appended (same columns).
    """
    places = bundled_places()
    unit = places.after.get(place)
    if unit is None or not unit.merged:
        return observations
    obs = observations
    own = obs[obs["place"] == place]
    have = set(zip(own["indicator_id"], own["year"]))
    added = []
    for iid, g in obs[obs["place"].isin(unit.parts)].groupby("indicator_id", sort=True):
        if iid not in catalog.indicators:
            continue
        ind = catalog.indicators[iid]
        rule = ("sum" if str(ind.observed_as) == "flow"
                else "labour_force" if str(getattr(ind, "sector", "")) == "II" else "population")
        for r in combine_parts(g, places, place, rule).itertuples():
            if (iid, r.year) not in have:
                added.append({"indicator_id": iid, "place": place, "year": int(r.year),
                              "value": float(r.value), "source": f"derived: {r.how}"})
    if not added:
        return obs
    return pd.concat([obs, pd.DataFrame(added)], ignore_index=True)
