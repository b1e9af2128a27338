"""Tests of the bundled GSO panels: complete copies, typed columns, clear errors."""
from __future__ import annotations

import gzip
from importlib import resources

import pandas as pd
import pytest

from khforecast.errors import KhforecastError
from khforecast.observations.panels import PANEL_COLUMNS, list_panels, load_panel

EXPECTED = {
    "doctors_provincial_doh", "dwelling_area_per_capita", "employed_persons",
    "households_using_electricity_share", "infant_mortality_rate", "informal_employment_rate",
    "labour_force", "labour_productivity", "literacy_rate_15plus", "monthly_income_per_capita",
    "monthly_income_per_capita_by_source", "patient_beds_provincial_doh", "population_average",
    "population_average_urban_rural", "poverty_rate",
    "trained_employed_workers_share_gso2016vintage", "trained_labour_force_share",
    "unemployment_rate",
    # added for the calibration pool (khforecast.engine.pool, issue 8)
    "administrative_units", "crude_birth_death_rates", "editorial_offices",
    "employed_share_of_population_15plus", "general_education_classes", "general_education_pupils",
    "general_education_schools", "general_education_teachers",
    "health_establishments_provincial_doh", "hiv_aids", "kindergarten_education",
    "libraries_local", "nurses_midwives_provincial_doh", "pharmaceutical_staff_provincial_doh",
    "professional_secondary_teachers_students_to2015", "total_fertility_rate",
    "university_college_teachers_students", "upper_secondary_graduation_rate",
}


def test_every_shared_panel_is_bundled() -> None:
    assert set(list_panels()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panel_loads_typed_with_khanh_hoa(name: str) -> None:
    df = load_panel(name)
    assert tuple(df.columns) == PANEL_COLUMNS
    assert df["year"].dtype == "int64" and df["value"].dtype == "float64"
    assert df["preliminary"].dtype == bool
    assert df["value"].notna().all()
    assert (df["province_slug"] == "khanh_hoa").any()
    # the README's promise: the main indicator covers the 63 provinces
    prov = df[df["geo_level"] == "province"]
    assert prov["province_slug"].nunique() == 63


def test_known_figure_khanh_hoa_unemployment_2018() -> None:
    # the same figure is in the bundled observations (indicator 02, GSO E02.63)
    df = load_panel("unemployment_rate.csv")
    row = df[(df.province_slug == "khanh_hoa") & (df.year == 2018)]
    assert row["value"].tolist() == [3.46]


def test_bundled_file_is_plain_gzip_csv() -> None:
    path = resources.files("khforecast").joinpath("data", "gso_panels", "poverty_rate.csv.gz")
    with path.open("rb") as fh:
        head = gzip.decompress(fh.read()).splitlines()[0].decode()
    assert head == ",".join(PANEL_COLUMNS)


def test_unknown_panel_suggests_nearest() -> None:
    with pytest.raises(KhforecastError, match=r"no bundled GSO panel named 'unemployment'.*"
                                              r"did you mean 'unemployment_rate'"):
        load_panel("unemployment")


def test_read_panel_is_a_fresh_frame() -> None:
    a = load_panel("labour_force")
    a.loc[:, "value"] = 0.0
    b = load_panel("labour_force")
    assert isinstance(b, pd.DataFrame) and (b["value"] > 0).any()
