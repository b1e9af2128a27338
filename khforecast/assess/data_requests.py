"""The data to ask for: each indicator a run could not assess, whom to ask and what to send.

A briefing's "data gaps" and a department scorecard list, for every indicator whose 2030
target came out ``no_data`` or ``insufficient_data``, the survey or report that usually
publishes it (:mod:`khforecast.plan.data_sources`), how often, the department that leads it now
(:mod:`khforecast.plan.departments`) and the years to send: every year from ``since`` to the last
complete year, at least :data:`~khforecast.engine.defaults.MIN_OBS` of them for a forecast.

Examples
--------
>>> import pandas as pd
>>> from khforecast.plan.catalog import load_catalog
>>> a = pd.DataFrame({"indicator_id": ["07"], "place": ["khanh_hoa"], "scenario": ["bau"],
...                   "target_year": [2030], "status": ["no_data"], "n_obs": [0],
...                   "last_year": [None]})
>>> req = data_requests(load_catalog(), a, place="khanh_hoa", scenario="bau", until=2025)
>>> r = req.iloc[0]
>>> r.indicator_id, r.departments, r.kind, int(r.years_from), int(r.years_to), int(r.n_missing)
('07', 'Sở Nội vụ', 'administrative', 2018, 2025, 3)
"""
from __future__ import annotations

import pandas as pd

from khforecast.engine.defaults import MIN_OBS
from khforecast.plan.catalog import Catalog
from khforecast.plan.data_sources import source_of
from khforecast.plan.departments import leads_of

__all__ = ["GAP_STATUSES", "REQUEST_COLUMNS", "data_requests"]

#: assessment statuses that mean "not enough data to say"
GAP_STATUSES: tuple[str, ...] = ("no_data", "insufficient_data")
#: columns of :func:`data_requests`
REQUEST_COLUMNS: tuple[str, ...] = (
    "indicator_id", "sector", "status", "n_obs", "last_year", "unit", "observed_as",
    "departments", "kind", "source_vi", "source_en", "publisher_vi", "publisher_en",
    "frequency", "years_from", "years_to", "n_missing")


def data_requests(catalog: Catalog, assessment: pd.DataFrame, *, place: str, scenario: str,
                  until: int, since: int = 2018, target_year: int = 2030) -> pd.DataFrame:
    """One request per indicator whose ``target_year`` target could not be assessed.

    Parameters
    ----------
    catalog : Catalog
    assessment : DataFrame
        ``assessment.csv`` rows (at least ``indicator_id, place, scenario, target_year,
        status, n_obs, last_year``).
    place, scenario : str
        The run's place and outlook scenario.
    until : int
        The last complete year (values are asked up to it).
    since : int
        The first year asked for (2018: the start of the bundled provincial series).
    target_year : int

    Returns
    -------
    DataFrame
        :data:`REQUEST_COLUMNS` in catalog order; ``departments`` joins the current leads with
        ``"; "``; ``years_from``/``years_to`` the years to send (after the last observed year
        when there is one); ``n_missing`` how many more values a forecast needs (0 when the
        series is long enough but does not reach the years the target reads).
    """
    a = assessment[(assessment["place"] == place) & (assessment["scenario"] == scenario)
                   & (assessment["target_year"] == target_year)
                   & assessment["status"].isin(GAP_STATUSES)]
    by_id = {str(r["indicator_id"]): r for r in a.to_dict("records")}
    rows = []
    for ind in catalog.indicators.values():
        rec = by_id.get(ind.id)
        if rec is None:
            continue
        src = source_of(catalog, ind.id)
        n_obs = int(rec.get("n_obs") or 0)
        last = rec.get("last_year")
        last = int(last) if last is not None and pd.notna(last) else None
        rows.append({
            "indicator_id": ind.id, "sector": ind.sector, "status": rec["status"],
            "n_obs": n_obs, "last_year": last, "unit": ind.unit, "observed_as": ind.observed_as,
            "departments": "; ".join(dict.fromkeys(lead.current
                                                   for lead in leads_of(catalog, ind))),
            "kind": src.kind, "source_vi": src.source_vi, "source_en": src.source_en,
            "publisher_vi": src.publisher_vi, "publisher_en": src.publisher_en,
            "frequency": src.frequency,
            "years_from": max(since, last + 1) if last is not None and last < until else since,
            "years_to": until, "n_missing": max(0, MIN_OBS - n_obs),
        })
    frame = pd.DataFrame(rows, columns=list(REQUEST_COLUMNS))
    return frame.astype({"last_year": "Int64"})
