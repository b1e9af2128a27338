"""Offline derivation, step 1: the GSO and country panels as consecutive yearly series."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast.engine.scales import Domain
from khforecast.observations.panels import load_panel

__all__ = [
    "PanelSeries",
    "load_panel_series",
]


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
    """A GSO panel: the package copy (:func:`khforecast.observations.panels.load_panel`) or ``gso_dir``'s CSV."""
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
