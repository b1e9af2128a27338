"""Values on their target's scale (issue 12): the five rows whose shown value used to sit on
another scale than their target (33, 35, 80, 08, 49), on the bundled and illustrative data."""
from __future__ import annotations

import pandas as pd
import pytest

from khforecast.observations.read import (
    bundled_observations_path,
    illustrative_observations_path,
    read_observations,
)
from khforecast.plan.catalog import load_catalog
from khforecast.briefing.target_scale import (
    TargetLabel,
    format_value,
    target_label,
    value_decimals,
    value_on_target_scale,
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def bundled():
    return read_observations(bundled_observations_path())


def _scaled(catalog, obs, ind_id, year, lang="vi"):
    ind = catalog.get(ind_id)
    return value_on_target_scale(ind, ind.targets[year], obs, "khanh_hoa", lang)


def test_poverty_shows_its_yearly_fall_against_the_fall_target(catalog, bundled):
    v = _scaled(catalog, bundled, "33", 2025)
    assert v.value == pytest.approx(2.11 - 3.20)  # one year, 2022 -> 2023
    assert v.text == "giảm 1,09 điểm %/năm (3,20 % năm 2022 → 2,11 % năm 2023)"
    label = target_label(catalog.get("33"), catalog.get("33").targets[2025], "vi")
    assert label.text == "giảm 1–1,5 điểm %/năm (từ năm 2022)"
    en = _scaled(catalog, bundled, "33", 2025, "en")
    assert en.text.startswith("a fall of 1.09 points a year")


def test_income_of_the_poor_shows_the_ratio_to_2021(catalog):
    obs = read_observations(illustrative_observations_path())
    v = _scaled(catalog, obs, "35", 2025)
    assert v.value == pytest.approx(919.97 / 420.51)
    assert v.text.startswith("2,19 lần mức năm 2021")
    ind = catalog.get("35")
    assert target_label(ind, ind.targets[2025], "vi").text == "≥ 2 lần mức năm 2021"


def test_social_housing_sums_the_flows_and_uses_the_merged_province(catalog, bundled):
    v = _scaled(catalog, bundled, "80", 2030)
    assert v.place == "khanh_hoa_merged" and v.value == 3023
    assert "3.023 căn hộ" in v.text and "2025" in v.text
    ind = catalog.get("80")
    assert target_label(ind, ind.targets[2030], "en").text == \
        "48,749 apartments in total over 2021–2030"


def test_hdi_keeps_its_published_precision(catalog, bundled):
    v = _scaled(catalog, bundled, "08", 2030)
    assert v.text == "0,736 (2020)"
    ind = catalog.get("08")
    assert target_label(ind, ind.targets[2030], "en").text == "> 0.7"


def test_mistyped_target_is_shown_as_read_with_the_plan_text_as_footnote(catalog):
    ind = catalog.get("49")
    label = target_label(ind, ind.targets[2030], "vi")
    assert label.text == "> 97,5 %"
    assert "> 975" in label.footnote and "975" not in label.text


def test_a_plain_threshold_has_no_footnote_and_a_unit(catalog):
    ind = catalog.get("02")
    assert target_label(ind, ind.targets[2030], "vi") == TargetLabel("< 3 %", "")
    ind = catalog.get("59")
    assert target_label(ind, ind.targets[2030], "vi").text == "≥ 40 giường/10.000 dân"


def test_preliminary_figures_are_marked(catalog):
    obs = pd.DataFrame({"indicator_id": ["02", "02"], "place": "khanh_hoa", "year": [2023, 2024],
                        "value": [2.3, 2.27], "status": ["final", "preliminary"]})
    v = _scaled(catalog, obs, "02", 2030)
    assert v.not_final and v.text == "2,27 % (2024, sơ bộ)"


def test_a_change_needs_its_base_year(catalog):
    obs = pd.DataFrame({"indicator_id": ["33"], "place": "khanh_hoa", "year": [2024],
                        "value": [2.0], "status": ["final"]})
    assert _scaled(catalog, obs, "33", 2025) is None


def test_decimals_and_units(catalog):
    ind = catalog.get("57")
    assert value_decimals(ind, [73.9, 74]) == 1
    assert format_value(73.9, ind, "vi", 1) == "73,9 tuổi"
    assert format_value(48749, catalog.get("80"), "vi", 0, level=False) == "48.749 căn hộ"
