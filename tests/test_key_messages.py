"""Key messages on a real run (issue 12): 3-5 sentences with numbers, each number the run's."""
from __future__ import annotations

import re

import pytest

from khforecast import briefing
from khforecast.briefing.i18n import format_number, format_percent
from khforecast.briefing.key_messages import key_messages, key_messages_html, territory_line


@pytest.fixture(scope="module")
def run(bundled) -> briefing.Run:
    return briefing.load_run(bundled["run_dir"])


def _row(run, ind_id, year=2030):
    a = run.assessment
    return a[(a["indicator_id"] == ind_id) & (a["target_year"] == year)
             & (a["scenario"] == run.scenario) & (a["place"] == run.place)].iloc[0]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("sector", [None, *"I II III IV V VI VII VIII IX X".split()])
def test_every_page_opens_with_three_to_five_sentences_with_numbers(run, sector, lang):
    messages = key_messages(run, sector, lang)
    assert 3 <= len(messages) <= 5
    assert all(re.search(r"\d", m.text) and m.text.endswith(".") for m in messages)
    assert key_messages(run, sector, lang) == messages  # deterministic


def test_the_riskiest_target_is_told_with_the_runs_numbers(run):
    r = _row(run, "04")
    assert r["status"] in ("off_track", "at_risk")
    (msg,) = [m for m in key_messages(run, "II", "vi") if m.indicator_id == "04"]
    assert "Tỷ lệ việc làm phi chính thức: 71,0 % (2024, sơ bộ)" in msg.text
    assert "mục tiêu 2030 là < 40 %" in msg.text
    assert f"({format_percent(r['p_meet'], 'vi')})" in msg.text
    ratio = r["required_annual_change"] / r["historical_annual_change"]
    rate = format_number(abs(r["required_annual_change"]), "vi", 1)
    assert f"Cần giảm {rate} điểm %/năm, gấp {format_number(ratio, 'vi', 0)} lần tốc độ " \
           "2018–2024" in msg.text
    assert "chủ trì: Cục Thống kê tỉnh" in msg.text


def test_the_2025_line_counts_every_2025_target(run):
    a = run.assessment
    n = len(a[(a["target_year"] == 2025) & (a["scenario"] == run.scenario)
              & (a["status"] != "no_target")
              & a["indicator_id"].isin({i.id for i in run.catalog.in_sector("II")})])
    line = key_messages(run, "II", "en")[-2].text
    assert line.startswith(f"The 2025 targets ({n} indicators):")


def test_territory_line_names_the_merger_and_the_merged_provinces_value(run):
    assert "01/07/2025" in territory_line(run, "II", "vi")
    line = territory_line(run, "IX", "vi")
    assert "80 (2025): 3.023 căn hộ" in line
    assert "3,023 apartments" in territory_line(run, None, "en")


def test_html_block_escapes_and_lists_the_messages(run):
    block = key_messages_html(run, "II", "vi")
    assert block.count("<li ") == len(key_messages(run, "II", "vi"))
    assert 'class="kh-territory"' in block and "<script" not in block
