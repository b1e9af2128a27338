"""Departments after the 2025 mergers, the tasks' honest status, and where data come from."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from khforecast.assess.data_requests import data_requests
from khforecast.plan.data_sources import source_of
from khforecast.plan.departments import (
    current_departments,
    department_items,
    department_slug,
    lead_current_mismatches,
    leads_of,
    resolve_department,
)
from khforecast.errors import CatalogError
from khforecast.plan.catalog import load_catalog
from khforecast.observations.tasks import read_task_reports
from khforecast.assess.tasks import TASK_STATES, state_counts, task_status_frame

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_each_lead_maps_to_its_own_successor(cat) -> None:
    # row 36: two leads, each mapped on its own (not by position in a list)
    assert [(x.plan_name, x.current) for x in leads_of(cat, cat.get("36"))] == [
        ("Sở VH&TT", "Sở Văn hóa, Thể thao và Du lịch"), ("Sở LĐTB&XH", "Sở Nội vụ")]
    # the same plan lead goes to different bodies by topic
    assert leads_of(cat, cat.get("24"))[0].current == "Sở Y tế"
    assert leads_of(cat, cat.get("33"))[0].current == "Sở Nông nghiệp và Môi trường"
    assert leads_of(cat, cat.get("09"))[0].current == "Sở Giáo dục và Đào tạo"


def test_gender_based_violence_rows_and_task_agree(cat) -> None:
    """Rows 36/37 and task V.13 (gender-based violence) go to one body, as the sources say."""
    task = next(t for t in cat.tasks if t.id == "V.13")
    for row in ("36", "37"):
        assert leads_of(cat, cat.get(row))[1].current == leads_of(cat, task)[0].current \
            == "Sở Nội vụ"
    agencies = {a.id: a for a in cat.agencies}
    assert agencies["ldtbxh"].successors["gender_equality"] == "Sở Nội vụ"


def test_unchanged_bodies_are_not_marked_changed(cat) -> None:
    for row in ("43", "57", "80", "13"):  # GD&ĐT (an alias), Y tế, Xây dựng, BHXH
        assert [x.changed for x in leads_of(cat, cat.get(row))] == [False], row
    assert leads_of(cat, cat.get("04"))[0].changed  # Cục Thống kê tỉnh -> Thống kê tỉnh
    for dept in current_departments(cat):
        assert "(" not in dept, dept  # no name that would nest parentheses in "X (now Y)"


def test_every_name_a_page_shows_has_an_english_name(cat) -> None:
    """English pages gloss each agency (issue 12): every plan spelling and every current body."""
    names = {n for a in cat.agencies for n in a.names} | set(current_departments(cat))
    english = {n: cat.agency_name_en(n) for n in names}
    assert english["Sở LĐTB&XH"] == "Department of Labour, Invalids and Social Affairs"
    assert english["Sở Nông nghiệp và Môi trường"] == "Department of Agriculture and Environment"
    assert english["Sở Văn hóa, Thể thao và Du lịch"] == "Department of Culture, Sports and Tourism"
    for name, en in english.items():
        assert en.strip() and "(" not in en and not any(c in en for c in "ởạơư"), (name, en)
    with pytest.raises(CatalogError, match="no English name for 'Sở Du lịch'"):
        cat.agency_name_en("Sở Du lịch")


def test_stored_lead_current_matches_the_mapping(cat) -> None:
    assert lead_current_mismatches(cat) == []


def test_departments_and_their_items(cat) -> None:
    depts = current_departments(cat)
    assert len(depts) == len(set(depts)) and "Sở Nội vụ" in depts
    assert resolve_department(cat, "so noi vu") == resolve_department(cat, "SỞ NỘI VỤ") \
        == "Sở Nội vụ"
    assert department_slug("Sở Văn hóa, Thể thao và Du lịch") == "so_van_hoa_the_thao_va_du_lich"
    inds, tasks = department_items(cat, "Sở Nội vụ")
    assert {"02", "36", "37"} <= {i.id for i in inds}
    assert "V.13" in {t.id for t in tasks}
    every_task = [t for d in depts for t in department_items(cat, d)[1]]
    assert sorted(t.id for t in every_task) == sorted(t.id for t in cat.tasks)
    with pytest.raises(CatalogError, match="unknown department 'Sở Ma'.*Sở Nội vụ"):
        resolve_department(cat, "Sở Ma")


def test_without_reports_no_task_is_overdue(cat) -> None:
    frame = task_status_frame(cat, None, dt.date(2030, 6, 1))
    assert len(frame) == 69 and set(frame["state"]) == {"no_report"}
    assert frame.loc[frame.task_id == "I.1", "period_text"].item() == "2025"


def test_overdue_only_from_a_report_after_the_period(cat) -> None:
    reports = read_task_reports(DATA / "task_reports_mixed.csv", catalog=cat,
                                today=dt.date(2026, 12, 1))
    frame = task_status_frame(cat, reports, dt.date(2026, 12, 1)).set_index("task_id")
    assert frame.loc["I.2", "state"] == "overdue"  # in progress on 2026-01-15, period 2025
    assert frame.loc["I.2", "reported_status"] == "in_progress"
    assert frame.loc["I.1", "state"] == "completed"
    assert frame.loc["II.3", "state"] == "suspended"
    assert frame.loc["II.4", "state"] == "no_report"
    counts = state_counts(frame.reset_index())
    assert list(counts) == list(TASK_STATES) and sum(counts.values()) == 69
    # the run's date cuts reports made later: on 2025-12-31 I.2's report does not exist yet
    early = task_status_frame(cat, reports, dt.date(2025, 12, 31)).set_index("task_id")
    assert early.loc["I.2", "state"] == "no_report"


def test_a_not_done_report_older_than_the_period_end_is_flagged_not_overdue(cat) -> None:
    reports = pd.DataFrame([{"task_id": "I.1", "status": "in_progress", "as_of": "2025-06-30",
                             "evidence": "", "note": "", "reported_by": "", "file": "x",
                             "row": 2}])
    row = task_status_frame(cat, reports, dt.date(2026, 3, 1)).set_index("task_id").loc["I.1"]
    assert row["state"] == "in_progress" and bool(row["report_before_period_end"])


def test_every_indicator_has_a_data_source(cat) -> None:
    for ind_id in cat.indicators:
        src = source_of(cat, ind_id)
        assert src.source("vi") and src.source("en") and src.publisher("vi"), ind_id
    assert source_of(cat, "02").kind == "survey"
    assert source_of(cat, "85.rural").profile == "rural_water"  # its own, not the parent's
    assert source_of(cat, "33.poor_districts").profile == "poverty_review"  # the parent's


def test_data_requests_name_source_department_and_years(cat) -> None:
    a = pd.DataFrame({"indicator_id": ["36", "02", "57"], "place": "khanh_hoa",
                      "scenario": "bau", "target_year": 2030,
                      "status": ["no_data", "on_track", "insufficient_data"],
                      "n_obs": [0, 7, 2], "last_year": [None, 2024, 2022]})
    req = data_requests(cat, a, place="khanh_hoa", scenario="bau", until=2025)
    assert req["indicator_id"].tolist() == ["36", "57"]
    r36, r57 = req.iloc[0], req.iloc[1]
    assert r36["departments"] == "Sở Văn hóa, Thể thao và Du lịch; Sở Nội vụ"
    assert r36["kind"] == "administrative" and r36["frequency"] == "yearly"
    assert (int(r57["years_from"]), int(r57["n_missing"])) == (2023, 1)
