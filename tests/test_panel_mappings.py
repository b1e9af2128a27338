"""The documented GSO panel <-> catalog mappings and the panels as observations of any province."""
from __future__ import annotations

import pytest

from khforecast.observations.panels import load_panel
from khforecast.observations.read import check_observations
from khforecast.observations.panel_mappings import load_mappings, panel_observations
from khforecast.observations.provinces import PlacesError, load_places
from khforecast.plan.catalog import load_catalog


@pytest.fixture(scope="module")
def places():
    return load_places()


def test_every_bundled_panel_is_documented():
    maps = load_mappings(load_catalog().indicators)
    matches = {(m.panel, m.catalog_id) for m in maps if m.status == "match"}
    assert matches == {("unemployment_rate", "02"), ("informal_employment_rate", "04"),
                       ("trained_labour_force_share", "09"), ("dwelling_area_per_capita", "82")}
    # a proxy whose definition differs is documented, never used
    assert {m.catalog_id for m in maps if m.status == "mismatch"} >= {"33", "35", "51", "59", "60", "84"}


def test_panel_observations_are_valid_observations(places, tmp_path):
    obs = panel_observations(places, places.select("merged"))
    assert obs.groupby("indicator_id")["place"].nunique().to_dict() == {"02": 34, "04": 34, "09": 34, "82": 34}
    path = tmp_path / "panel_obs.csv"
    obs.to_csv(path, index=False)
    rows, problems = check_observations(str(path))
    assert not [p for p in problems if p.severity == "error"], problems[:3]


def test_old_province_values_are_the_panels(places):
    obs = panel_observations(places, ["khanh_hoa"])
    panel = load_panel("unemployment_rate")
    kh = panel[(panel.province_slug == "khanh_hoa") & (panel.geo_level == "province")]
    got = obs[obs.indicator_id == "02"].set_index("year")["value"]
    assert got.to_dict() == kh.set_index("year")["value"].to_dict()
    assert obs.loc[(obs.indicator_id == "02") & (obs.year == 2024), "status"].item() == "preliminary"


def test_merged_unit_uses_the_mapping_rule(places):
    obs = panel_observations(places, ["khanh_hoa_merged"])
    w = {p: x.value for p, x in places.weights_of("khanh_hoa_merged", "labour_force").items()}
    panel = load_panel("unemployment_rate").set_index(["province_slug", "year"])["value"]
    want = (panel[("khanh_hoa", 2023)] * w["khanh_hoa"] + panel[("ninh_thuan", 2023)] * w["ninh_thuan"]) / sum(w.values())
    got = obs[(obs.indicator_id == "02") & (obs.year == 2023)]
    assert got["value"].item() == pytest.approx(want)
    assert "weights: GSO labour_force 2021" in got["source"].item()


def test_unknown_place_in_a_run_is_located(places):
    with pytest.raises(PlacesError, match="unknown place code 'atlantis'"):
        panel_observations(places, ["atlantis"])
