"""Briefing snippets on a real run folder: numbers from the run, escaping, tasks, explorer."""
from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from khforecast import briefing
from khforecast.errors import KhforecastError
from khforecast.briefing.i18n import format_percent


@pytest.fixture(scope="module")
def run(bundled) -> briefing.Run:
    return briefing.load_run(bundled["run_dir"])


def _rows(run: briefing.Run, year: int = 2030) -> pd.DataFrame:
    a = run.assessment
    return a[(a["target_year"] == year) & (a["scenario"] == "bau") & (a["status"] != "no_target")]


def test_years_without_a_target_are_not_listed_or_counted(run):
    a = run.assessment
    none_2025 = set(a.loc[(a["target_year"] == 2025) & (a["status"] == "no_target"), "indicator_id"])
    assert "43" in none_2025  # row 43 sets only a 2030 target ('-' for 2025)
    page = briefing.look_back_2025(run, "VI", "en")
    table, left_out = _listed(page)
    assert "43" not in table and not re.search(r"\b43\b", left_out)
    assert "44" in table or re.search(r"\b44\b", left_out)
    assert "no_target" not in briefing.headline_counts(run, "VI")


def _listed(page: str) -> tuple[list[str], str]:
    """The ids of a brief table's rows, and the text of the lines under it (rows left out)."""
    lines = " ".join(re.findall(r'<p class="kh-left-out">(.*?)</p>', page, re.DOTALL))
    return re.findall(r"<tr><td>([\d.a-z_]+)</td>", page), html.unescape(lines)


def test_load_run_reads_the_run_and_its_settings(run, bundled):
    assert run.path == Path(bundled["run_dir"])
    assert run.place == "khanh_hoa" and run.scenarios == ["bau", "accelerate"]
    assert run.as_of.isoformat() == "2026-06-30"
    assert run.illustrative is False
    assert run.assessment["indicator_id"].str.fullmatch(r"\d{2}(\.\w+)?").all()  # "02", not 2


def test_find_run_dir_walks_up_to_outputs_latest(bundled, monkeypatch):
    folder = Path(bundled["out"]).parent
    monkeypatch.chdir(folder / "params")
    assert briefing.find_run_dir() == Path(bundled["run_dir"]).resolve()


def test_missing_run_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(KhforecastError, match="not a run folder \\(no assessment.csv\\)"):
        briefing.load_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KhforecastError, match="no outputs/latest run found from .* upwards: run `khforecast run` first"):
        briefing.load_run("")


def test_headline_counts_are_the_assessment_counts(run):
    ids = {i.id for i in run.catalog.in_sector("VII")}
    rows = _rows(run)
    expected = rows[rows["indicator_id"].isin(ids)]["status"].value_counts().to_dict()
    counts = briefing.headline_counts(run, "VII")
    assert {k: v for k, v in counts.items() if v} == expected
    assert briefing.headline_counts(run)["no_data"] == int((rows["status"] == "no_data").sum())


def test_outlook_lists_the_indicators_with_data_and_names_the_others(run):
    """The brief's table has a row for each target with data (issue 12: two pages); the
    others are named under it, pointing to the annex's data gaps."""
    page = briefing.outlook_2030(run, "II", "en")
    ids, left_out = _listed(page)
    rows = _rows(run).set_index("indicator_id")
    sector = [i.id for i in run.catalog.in_sector("II") if i.id in rows.index]
    assert ids == [i for i in sector if rows.at[i, "n_obs"] > 0] and ids
    gaps = [i for i in sector if not rows.at[i, "n_obs"] > 0]
    assert gaps and f"Without data ({len(gaps)}, not in the table): {', '.join(gaps)};" in left_out
    assert "“Data gaps”" in left_out
    gap_page = briefing.data_gaps(run, "II", "en")
    assert all(f"<tr><td>{i}</td>" in gap_page for i in gaps)  # the annex lists each of them
    # English pages gloss the lead agencies, and name the body that leads now
    assert html.escape("(Sở LĐTB&XH) – now Department of Home Affairs (Sở Nội vụ)") in page
    assert "now Cục Thống kê" not in page
    assert "– now Khánh Hòa Provincial Statistics Office (Thống kê tỉnh Khánh Hòa)" in page


def test_a_brief_table_keeps_the_targets_needing_most_attention(run):
    """With more rows than the brief holds, it keeps the missed / off-track / least likely
    ones, says which are left out, and the annex lists every target with data."""
    page = briefing.look_back_2025(run, None, "en", rows=3)
    ids, left_out = _listed(page)
    a25 = _rows(run, 2025)
    with_data = a25[(a25["n_obs"] > 0) & (a25["status"] != "qualitative")]
    rank = {"missed": 0, "off_track": 1, "at_risk": 2, "on_track": 3, "met": 4}
    order = {i: k for k, i in enumerate(run.catalog.indicators)}
    worst = (with_data.assign(_r=with_data["status"].map(rank).fillna(5),
                              _p=with_data["p_meet"].fillna(1.0),
                              _k=with_data["indicator_id"].map(order))
             .sort_values(["_r", "_p", "_k"])["indicator_id"].head(3))
    assert len(with_data) > 3 and sorted(ids) == sorted(worst) and len(ids) == 3
    assert f"The table shows 3 of the {len(with_data)} indicators with data" in left_out
    annex = briefing.targets_in_full(run, None, "en", rows=3)
    assert sorted(_listed(annex)[0]) == sorted(with_data["indicator_id"])
    assert briefing.targets_in_full(run, None, "en", rows=None) == ""


def test_look_back_gives_a_nowcast_where_2025_is_not_published(run):
    page = briefing.look_back_2025(run, "II", "en")
    row = _rows(run, 2025).set_index("indicator_id").loc["02"]
    assert row["status"] in ("on_track", "at_risk", "off_track")  # 2025 not observed yet
    assert "not yet published; probability it was met" in page


def test_agencies_at_risk_show_reported_task_status_never_a_guessed_past_due(run):
    page = briefing.agencies_at_risk(run, "II", "en")
    risky = _rows(run)
    risky = risky[risky["status"].isin(("at_risk", "off_track"))
                  & risky["indicator_id"].isin({i.id for i in run.catalog.in_sector("II")})]
    assert len(risky), "sector II has indicators at risk in the bundled data"
    for iid in risky["indicator_id"]:
        assert f"{iid}. " in page
    if "02" not in set(risky["indicator_id"]):  # which targets are at risk is the engine's call
        return
    assert "Sở Nội vụ" in page  # the department that leads 02 now
    # each task shows what its report said (the run's task file), overdue only where the
    # status table says so: never "past due" from the year alone
    status = pd.read_csv(run.path / "task_status.csv", dtype=str, keep_default_na=False)
    own = status[status["lead_current"] == "Sở Nội vụ"].set_index("task_id")
    shown = re.findall(r'<tr><td>([IVX]+\.\d+)</td>(.*?)</tr>', page)
    assert {tid for tid, _ in shown} == set(own.index)
    for tid, cells in shown:
        assert ("kh-task-overdue" in cells) == (own.at[tid, "state"] == "overdue"), tid
    assert sum("kh-task-overdue" in c for _, c in shown) == 1  # V.13 only
    assert "Implementation period in the plan: 2025" in page


def test_nothing_assessable_is_said_so(run):
    page = briefing.agencies_at_risk(run, "V", "vi")
    assert "Chưa đánh giá được" in page and "Không có chỉ tiêu nào có nguy cơ" not in page


def test_data_gaps_are_the_data_request_list(run):
    ids = {i.id for i in run.catalog.in_sector("IV")}
    rows = _rows(run)[lambda d: d["indicator_id"].isin(ids)]
    gaps = rows[rows["status"].isin(("no_data", "insufficient_data"))]
    page = briefing.data_gaps(run, "IV", "en")
    assert f"{len(gaps)} indicator(s) lack the data to be assessed" in html.unescape(page)
    assert page.count("<tr><td>") == len(gaps)
    assert "Provincial Social Security" in page and "monthly" in page


def test_user_supplied_text_is_escaped(bundled, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(bundled["run_dir"], copy)
    obs = pd.read_csv(copy / "observations.csv", dtype={"indicator_id": str})
    obs.loc[obs["indicator_id"] == "02", "source"] = '<img src=x onerror="alert(1)">'
    obs.loc[obs["indicator_id"] == "02", "note"] = "<b>bold</b>"
    obs.to_csv(copy / "observations.csv", index=False)
    evil = briefing.load_run(copy)
    for snippet in (briefing.method_note(evil, "en"), briefing.indicator_data(evil, "02", "en"),
                    briefing.sector_title(evil, "II", "en", note="<script>x</script>")):
        assert "<img src=x" not in snippet and "<script>" not in snippet and "<b>bold" not in snippet
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in briefing.method_note(evil, "en")
    assert "&lt;script&gt;x&lt;/script&gt;" in briefing.sector_title(evil, "II", "en",
                                                                      note="<script>x</script>")


def test_snippets_display_as_html_in_jupyter(run):
    snippet = briefing.headline(run, "II", "vi")
    assert isinstance(snippet, str) and snippet._repr_html_() == str(snippet)


def test_explorer_at_factor_1_reproduces_the_run_and_acceleration_helps(run):
    series, p = briefing.explore_scenario(run, "09")
    assert p == pytest.approx(float(_rows(run).set_index("indicator_id").at["09", "p_meet"]))
    assert series.paths.shape[0] == run.manifest["params"]["sims"]
    _, faster = briefing.explore_scenario(run, "09", factor=2.5, start_year=2026)
    _, shocked = briefing.explore_scenario(run, "09", shock=-0.3, start_year=2026)
    assert faster >= p >= shocked  # 09 (trained labour, higher is better) rises with the trend


def test_an_adverse_shock_hurts_whichever_way_is_good(run):
    for ind_id in ("04", "09"):  # informal work: lower is better; trained labour: higher
        _, p = briefing.explore_scenario(run, ind_id)
        _, worse = briefing.explore_scenario(run, ind_id, shock=-0.2, start_year=2026)
        _, better = briefing.explore_scenario(run, ind_id, shock=0.2, start_year=2026)
        assert worse <= p <= better, ind_id
    assert set(briefing.explorable_ids(run)) <= set(
        _rows(run).loc[lambda d: d["p_meet"].notna(), "indicator_id"])


def test_scenario_widgets_update_the_probability(run):
    box = briefing.scenario_widgets(run, "en", indicator_id="09")
    pick, factor, _shock, _start, label, image = box.children
    assert pick.value == "09" and "Probability of meeting the 2030 target" in label.value
    before = label.value
    factor.value = 3.0
    assert label.value != before and image.value.startswith('<img class="kh-figure"')


def test_method_note_states_the_measured_coverage_in_words(run):
    page = briefing.method_note(run, "en")
    cov = run.calibration.set_index("interval")["coverage"]
    assert f"the 80 % band {format_percent(cov['80%'], 'en', 1)}" in page
    assert "a whole family of indicators held out at a time" in page
    assert "khoảng 95 % chứa" in briefing.method_note(run, "vi")


def test_deep_dive_shows_the_series_stratum_coverage_and_pit_histogram(run):
    snip = briefing.indicator_calibration(run, "02", "en")
    assert "calibration stratum: domain percent" in snip and "<img" in snip
    assert "6-10" in snip
    assert "No stratum coverage table" in briefing.indicator_calibration(run, "33", "en")  # 2 points
