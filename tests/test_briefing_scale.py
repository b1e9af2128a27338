"""The five rows whose value used to sit on another scale than its target (issue 12: 33, 35,
80, 08, 49): in the briefing tables and in the rendered sector page, value and target are on
one scale, with the plan's literal text as a footnote where the target was normalised."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from khforecast import briefing


@pytest.fixture(scope="module")
def real(bundled) -> briefing.Run:
    return briefing.load_run(bundled["run_dir"])


@pytest.fixture(scope="module")
def made_up(illustrative) -> briefing.Run:
    return briefing.load_run(illustrative["run_dir"])


def _row(page: str, ind_id: str) -> str:
    """The text of the table row of ``ind_id`` (tags removed, entities decoded)."""
    rows = re.findall(r"<tr><td>" + re.escape(ind_id) + r"</td>(.*?)</tr>", page, re.DOTALL)
    assert rows, f"no row {ind_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", rows[0]))


def _footnotes(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", " ".join(
        re.findall(r'<ol class="kh-footnote">(.*?)</ol>', page, re.DOTALL))))


def test_33_poverty_fall_against_the_fall_target(real):
    page = briefing.look_back_2025(real, "V", "vi")
    row = _row(page, "33")
    assert "giảm 1,09 điểm %/năm (3,20 % năm 2022 → 2,11 % năm 2023)" in row
    assert "giảm 1–1,5 điểm %/năm (từ năm 2022)" in row
    assert "2,1 (2023)" not in row  # the level is no longer shown against the fall's target


def test_35_income_ratio_against_the_ratio_target(made_up):
    row = _row(briefing.look_back_2025(made_up, "V", "en", rows=None), "35")
    assert "2.19 times the 2021 level (2025)" in row and "≥ 2 times the 2021 level" in row
    assert "920" not in row


def test_80_cumulative_value_from_the_merged_province(real):
    row = _row(briefing.outlook_2030(real, "IX", "vi"), "80")
    assert "tổng 3.023 căn hộ" in row and "sau hợp nhất" in row
    assert "tổng 48.749 căn hộ trong 2021–2030" in row


def test_08_hdi_with_its_published_precision(real):
    row = _row(briefing.outlook_2030(real, "III", "vi"), "08")
    assert "0,736 (2020)" in row and "> 0,7" in row


def test_49_target_as_read_with_the_plans_text_as_footnote(real):
    # no data for 49 in the bundled run: its target is in the annex's data gaps (issue 12)
    assert "49" in briefing.outlook_2030(real, "VI", "vi").split("kh-left-out", 1)[1]
    page = briefing.data_gaps(real, "VI", "vi")
    row = _row(page, "49")
    assert "> 97,5 %" in row and "975" not in row.replace("97,5", "")
    assert "“> 975”" in _footnotes(page)


def test_rendered_sector_page_shows_the_rows_on_their_targets_scale(illustrative):
    page = (Path(illustrative["run_dir"]) / "html" / "sector_V.html").read_text(encoding="utf-8")
    assert "times the 2021 level" in _row(page, "35")
    assert "points a year" in _row(page, "33")
