"""The reference pool: every panel the back-tests learn from, with its domain and family.

Calibration borrows strength across many series (one province's ten points cannot calibrate its
own intervals). The pool is the 63-province GSO panels (``data/gso_panels``) and the
multi-country UN / UNDP / WHO / World Bank panels (``data/country_panels``), each tagged with a
*family* of related indicators (labour, health, education, access to services, population,
living standards, culture and administration) so that a whole family can be held out at once:
users bring indicators the pool has never seen, and leave-one-family-out is the honest test of
that. Unlike the panels' use for comparison, series that touch a bound (a percent at 0 or 100,
a count at 0) are kept: how such series move is exactly what the engine's point masses learn.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from khforecast.observations.panels import load_panel
from khforecast.engine.scales import Domain

__all__ = ["FAMILIES", "PANELS", "PanelSpec", "PoolSeries", "load_pool", "thin"]

FAMILIES: tuple[str, ...] = ("labour", "health", "education", "access", "population",
                             "living", "culture_admin")


@dataclass(frozen=True)
class PanelSpec:
    """One panel of the pool: where it is, what it measures, its domain and family."""

    key: str  # "gso:<file>/<indicator>" or "country:<file>"
    source: str  # "gso" | "country"
    file: str
    indicator: str | None  # GSO: the indicator row kept
    domain: Domain
    family: str


def _g(file: str, indicator: str, domain: Domain, family: str) -> PanelSpec:
    key = f"gso:{file}" if indicator == file else f"gso:{file}/{indicator}"
    return PanelSpec(key, "gso", file, indicator, domain, family)


def _c(file: str, domain: Domain, family: str) -> PanelSpec:
    return PanelSpec(f"country:{file}", "country", file, None, domain, family)


PANELS: tuple[PanelSpec, ...] = (
    # labour
    _g("unemployment_rate", "unemployment_rate_working_age", "percent", "labour"),
    _g("trained_labour_force_share", "trained_labour_force_share_15plus", "percent", "labour"),
    _g("informal_employment_rate", "informal_employment_rate", "percent", "labour"),
    _g("employed_persons", "employed_persons", "positive", "labour"),
    _g("labour_productivity", "labour_productivity", "positive", "labour"),
    _g("labour_force", "labour_force_15plus", "positive", "labour"),
    _g("trained_employed_workers_share_gso2016vintage", "trained_employed_workers_share_15plus",
       "percent", "labour"),
    _g("employed_share_of_population_15plus", "employed_share_of_population_15plus", "percent",
       "labour"),
    _c("unemployment_rate", "percent", "labour"),
    _c("neet_youth", "percent", "labour"),
    _c("gdp_per_employed", "positive", "labour"),
    # health (outcomes, workforce, facilities)
    _g("infant_mortality_rate", "infant_mortality_rate", "positive", "health"),
    _g("patient_beds_provincial_doh", "patient_beds_provincial_doh_total", "positive", "health"),
    _g("doctors_provincial_doh", "medical_staff_provincial_doh_doctor", "positive", "health"),
    _g("nurses_midwives_provincial_doh", "medical_staff_provincial_doh_nurse", "positive", "health"),
    _g("pharmaceutical_staff_provincial_doh", "pharmaceutical_staff_provincial_doh_pharmacist_high_degree",
       "positive", "health"),
    _g("health_establishments_provincial_doh", "health_establishments_provincial_doh_total",
       "positive", "health"),
    _g("hiv_aids", "hiv_infected_new_cases", "positive", "health"),
    _c("life_expectancy", "positive", "health"),
    _c("physicians_per10k", "positive", "health"),
    _c("health_workers_per10k", "positive", "health"),
    _c("hospital_beds_per10k", "positive", "health"),
    _c("hiv_incidence_per1000", "positive", "health"),
    _c("alcohol_litres_per_capita", "positive", "health"),
    _c("adolescent_birth_rate", "positive", "health"),
    _c("stunting_u5", "percent", "health"),
    # education
    _g("literacy_rate_15plus", "literacy_rate_15plus", "percent", "education"),
    _g("general_education_pupils", "general_education_pupils_total", "positive", "education"),
    _g("general_education_teachers", "general_education_teachers_total", "positive", "education"),
    _g("general_education_classes", "general_education_classes_total", "positive", "education"),
    _g("general_education_schools", "general_education_schools_total", "positive", "education"),
    _g("kindergarten_education", "kindergarten_teachers", "positive", "education"),
    _g("university_college_teachers_students", "university_college_students_total", "positive",
       "education"),
    _g("professional_secondary_teachers_students_to2015", "professional_secondary_students_total",
       "positive", "education"),
    _g("upper_secondary_graduation_rate", "upper_secondary_graduation_rate", "percent", "education"),
    _c("expected_years_schooling", "positive", "education"),
    _c("mean_years_schooling", "positive", "education"),
    _c("secondary_education_25plus", "percent", "education"),
    _c("completion_rate", "percent", "education"),
    _c("trained_teachers", "percent", "education"),
    # access to services
    _c("dtp3_coverage_sdg", "percent", "access"),
    _c("water_safely_managed", "percent", "access"),
    _c("sanitation_safely_managed", "percent", "access"),
    _c("measles_second_dose", "percent", "access"),
    _c("skilled_birth_attendance", "percent", "access"),
    _c("clean_cooking_fuels", "percent", "access"),
    _c("uhc_service_coverage_index", "positive", "access"),
    _c("renewable_energy_share", "percent", "access"),
    # population
    _g("population_average", "population_average_total", "positive", "population"),
    _g("total_fertility_rate", "total_fertility_rate", "positive", "population"),
    _g("crude_birth_death_rates", "crude_birth_rate", "positive", "population"),
    # living standards
    _g("poverty_rate", "poverty_rate_households", "percent", "living"),
    _c("hdi", "positive", "living"),
    _c("gni_per_capita_ppp", "positive", "living"),
    _c("homicide_per100k", "positive", "living"),
    # culture and administration
    _g("libraries_local", "libraries_local_books", "positive", "culture_admin"),
    _g("editorial_offices", "editorial_offices", "positive", "culture_admin"),
    _g("administrative_units", "admin_units_communes", "positive", "culture_admin"),
)
"""Every panel of the pool (the order is the order series are loaded in)."""

#: breakdown values that denote a total; where a breakdown column has one, only it is kept
_TOTALS = ("both", "bothsex", "total", "15+", "allage", "15_24", "15")


@dataclass(frozen=True)
class PoolSeries:
    """One yearly series of the pool (consecutive years)."""

    panel: str
    family: str
    series_id: str
    domain: Domain
    years: np.ndarray
    values: np.ndarray


def _longest_run(years: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The longest run of consecutive years (the latest one on ties)."""
    order = np.argsort(years)
    years, values = years[order], values[order]
    breaks = np.flatnonzero(np.diff(years) != 1) + 1
    starts, ends = np.r_[0, breaks], np.r_[breaks, len(years)]
    i = int(np.flatnonzero((ends - starts) == (ends - starts).max())[-1])
    return years[starts[i]:ends[i]], values[starts[i]:ends[i]]


def _country_frame(file: str) -> pd.DataFrame:
    ref = resources.files("khforecast").joinpath("data", "country_panels", f"panel_{file}.csv.gz")
    with ref.open("rb") as fh:
        df = pd.read_csv(fh, compression="gzip", dtype={"code": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")  # ">95", "<5": bounds, not numbers
    extra = [c for c in df.columns if c not in ("entity", "code", "year", "value")]
    for col in extra:
        vals = df[col].astype(str)
        total = next((t for t in _TOTALS if (vals == t).any()), None)
        if total is not None:
            df = df[vals == total]
    return df


def _panel_series(spec: PanelSpec, min_years: int) -> list[PoolSeries]:
    if spec.source == "gso":
        df = load_panel(spec.file)
        df = df[(df["geo_level"] == "province") & (df["indicator"] == spec.indicator)]
        groups = df.groupby("province_slug", sort=True)
    else:
        df = _country_frame(spec.file)
        keys = ["code"] + [c for c in df.columns if c not in ("entity", "code", "year", "value")]
        groups = df.groupby(keys, sort=True)
    out = []
    for k, g in groups:
        g = g.dropna(subset=["value"]).drop_duplicates("year", keep="last")
        if len(g) < min_years:
            continue
        years, values = _longest_run(g["year"].to_numpy(dtype=int), g["value"].to_numpy(dtype=float))
        if len(years) < min_years or np.any(values < 0):
            continue
        if spec.domain == "percent" and np.any(values > 100):
            continue
        sid = "/".join(str(v) for v in (k if isinstance(k, tuple) else (k,)))
        out.append(PoolSeries(spec.key, spec.family, sid, spec.domain, years, values))
    return out


def load_pool(families: Iterable[str] | None = None, *, min_years: int = 6) -> list[PoolSeries]:
    """Every usable series of the pool (optionally of some families only).

    A series is one province / country (and breakdown) over its longest run of consecutive
    years, kept when it has at least ``min_years`` values, none negative (and none above 100
    for a percent).

    Examples
    --------
    >>> s = load_pool(["labour"])
    >>> sorted({x.family for x in s}), len(s) > 500
    (['labour'], True)
    """
    wanted = None if families is None else set(families)
    out: list[PoolSeries] = []
    for spec in PANELS:
        if wanted is None or spec.family in wanted:
            out.extend(_panel_series(spec, min_years))
    return out


def thin(series: list[PoolSeries], k: int, seed: int) -> list[PoolSeries]:
    """At most ``k`` series per panel, a seeded sample, so no panel dominates the pool."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    out: list[PoolSeries] = []
    for panel in dict.fromkeys(s.panel for s in series):
        group = [s for s in series if s.panel == panel]
        if len(group) > k:
            group = [group[i] for i in np.sort(rng.choice(len(group), size=k, replace=False))]
        out.extend(group)
    return out
