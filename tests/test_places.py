"""The places data (63 -> 34 provinces, Resolution 202/2025/QH15), its loader and the merge rule."""
from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from khforecast.observations.panels import list_panels, load_panel
from khforecast.observations.provinces import PlacesError, check_panel_places, combine_parts, load_places

UNCHANGED = {"ha_noi", "thua_thien_hue", "cao_bang", "dien_bien", "ha_tinh", "lai_chau",
             "lang_son", "nghe_an", "quang_ninh", "thanh_hoa", "son_la"}


@pytest.fixture(scope="module")
def places():
    return load_places()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A writable copy of the bundled places files."""
    src = resources.files("khforecast").joinpath("data", "places")
    for name in ("provinces_63.csv", "provinces_34.csv", "merge_weights.csv"):
        shutil.copyfile(str(src.joinpath(name)), tmp_path / name)
    return tmp_path


def test_63_provinces_form_34_units(places):
    assert len(places.before) == 63 and len(places.after) == 34 and len(places.merged) == 23
    unchanged = {c for c, u in places.after.items() if not u.merged}
    assert unchanged == UNCHANGED
    parts = [p for u in places.after.values() for p in u.parts]
    assert sorted(parts) == sorted(places.before)  # every old province in exactly one unit
    assert places.after["khanh_hoa_merged"].parts == ("khanh_hoa", "ninh_thuan")
    assert places.after["ho_chi_minh_merged"].parts == ("ho_chi_minh", "ba_ria_vung_tau", "binh_duong")
    assert {u.type for u in places.after.values()} == {"city", "province"}
    assert sum(u.type == "city" for u in places.after.values()) == 6
    for code, unit in places.after.items():  # a merged code is its name-giver's plus _merged
        assert code == (unit.parts[0] + "_merged" if unit.merged else unit.parts[0])


@pytest.mark.parametrize("name", list_panels())
def test_codes_are_the_gso_panels_slugs(places, name):
    panel = load_panel(name)
    assert set(panel.loc[panel.geo_level == "province", "province_slug"]) == set(places.before)


@pytest.mark.parametrize("kind", ["population", "labour_force"])
def test_weights_are_the_panels_latest_common_year(places, kind):
    rows = [w for (code, k), w in places.weights.items() if k == kind]
    assert len(rows) == 52  # every part of the 23 merged units
    panel, indicator = rows[0].panel, rows[0].indicator
    df = load_panel(panel)
    df = df[(df.geo_level == "province") & (df.indicator == indicator)]
    wide = df.pivot_table(index="year", columns="province_slug", values="value").dropna()
    year = int(wide.index.max())
    for w in rows:
        assert (w.panel, w.indicator, w.year) == (panel, indicator, year)
        assert w.value == wide.loc[year, w.code]


def test_merge_mapping_agrees_with_the_resolutions_populations(places):
    """A province put in the wrong merger would move two units' ratios far from the rest."""
    ratios = {}
    for code in places.merged:
        unit = places.after[code]
        total = sum(w.value for w in places.weights_of(code, "population").values())
        ratios[code] = unit.population / 1000.0 / total
    median = pd.Series(ratios).median()
    assert all(abs(r - median) < 0.1 for r in ratios.values()), ratios


def test_select(places):
    assert places.select("all") == tuple(sorted(places.before))
    assert places.select("merged") == tuple(sorted(places.after))
    assert places.select(["khanh_hoa,ninh_thuan", "khanh_hoa"]) == ("khanh_hoa", "ninh_thuan")
    with pytest.raises(PlacesError, match=r"unknown place code\(s\) 'khanh_hao' \(did you mean khanh_hoa"):
        places.select("khanh_hao,ha_noi")
    with pytest.raises(PlacesError, match="no code given"):
        places.select(" , ")


def test_unknown_part_is_located(folder):
    path = folder / "provinces_34.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("khanh_hoa;ninh_thuan",
                                                              "khanh_hoa;ninh_thuann"), "utf-8")
    with pytest.raises(PlacesError) as err:
        load_places(str(folder))
    msg = str(err.value)
    assert "provinces_34.csv line 18, column 'parts': 'ninh_thuann' is not one of the 63" in msg
    assert "provinces_63.csv line 44: 'ninh_thuan' has successor 'khanh_hoa_merged'" in msg


def test_merged_province_without_weight_is_located(folder):
    path = folder / "merge_weights.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(x for x in lines if not x.startswith("ninh_thuan,labour_force")), "utf-8")
    with pytest.raises(PlacesError, match="merged province 'khanh_hoa_merged' has no labour_force "
                                          "weight for its part 'ninh_thuan'"):
        load_places(str(folder))


def test_panel_missing_a_province_is_located(places):
    panel = load_panel("unemployment_rate")
    check_panel_places(panel, places.select("all"), "unemployment_rate")  # complete: no error
    with pytest.raises(PlacesError, match="GSO panel 'unemployment_rate': no rows for province"
                                          r"\(s\) ninh_thuan"):
        check_panel_places(panel[panel.province_slug != "ninh_thuan"], places.select("all"),
                           "unemployment_rate")


def test_combine_parts(places):
    frame = pd.DataFrame({"place": ["lam_dong", "dak_nong", "binh_thuan", "lam_dong", "dak_nong"],
                          "year": [2020, 2020, 2020, 2021, 2021], "value": [1.0, 2.0, 3.0, 1.0, 2.0]})
    w = {p: x.value for p, x in places.weights_of("lam_dong_merged", "population").items()}
    out = combine_parts(frame, places, "lam_dong_merged", "population")
    assert out["year"].tolist() == [2020]  # 2021 lacks binh_thuan: no value rather than a partial one
    assert out["value"].iloc[0] == pytest.approx(
        (1.0 * w["lam_dong"] + 2.0 * w["dak_nong"] + 3.0 * w["binh_thuan"]) / sum(w.values()))
    assert out["how"].iloc[0].startswith("weighted mean of lam_dong and dak_nong and binh_thuan "
                                         "(weights: GSO population_average 2016")
    assert combine_parts(frame, places, "lam_dong_merged", "sum")["value"].tolist() == [6.0]
    with pytest.raises(PlacesError, match="combine rule 'mean'"):
        combine_parts(frame, places, "lam_dong_merged", "mean")  # type: ignore[arg-type]


def test_khanh_hoa_merged_is_one_case_of_the_rule(places):
    """The forecaster's merged rows for any merged unit come from the one rule and its weights."""
    from khforecast.observations.places import merge_places
    from khforecast.plan.catalog import load_catalog

    obs = pd.DataFrame({"indicator_id": ["02", "02", "02", "45", "45"],
                        "place": ["quang_tri", "quang_binh", "khanh_hoa", "khanh_hoa", "ninh_thuan"],
                        "year": [2024] * 5, "value": [2.0, 4.0, 1.0, 50.0, 70.0]})
    catalog = load_catalog()
    out = merge_places(obs, catalog, "quang_tri_merged")
    want = combine_parts(obs[obs.indicator_id == "02"], places, "quang_tri_merged", "labour_force")
    got = out[out.place == "quang_tri_merged"]
    assert got["value"].tolist() == want["value"].tolist()
    assert got["source"].item() == "derived: " + want["how"].item()
    kh = merge_places(obs, catalog)  # default: khanh_hoa_merged; 45 is sector VI -> population
    w = {p: x.value for p, x in places.weights_of("khanh_hoa_merged", "population").items()}
    assert kh.loc[kh.place == "khanh_hoa_merged", "value"].item() == pytest.approx(
        (50.0 * w["khanh_hoa"] + 70.0 * w["ninh_thuan"]) / sum(w.values()))
    assert merge_places(obs, catalog, "ha_noi") is obs  # not a merged unit
