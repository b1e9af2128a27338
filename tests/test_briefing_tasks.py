"""The tracker, scorecard and data-request sections, on a small run folder written here."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from khforecast.briefing import tasks as bt
from khforecast.briefing import load_run
from khforecast.plan.catalog import load_catalog
from khforecast.batch.tasks import read_run_task_reports, write_task_files

DATA = Path(__file__).parent / "data"
AS_OF = dt.date(2026, 6, 30)


def _run_folder(path: Path) -> Path:
    """A run folder with the files the briefings read: 01, 36 without data, 02 at risk."""
    rows = []
    for ind, status, p, n, last in (("01", "no_data", None, 0, None),
                                    ("36", "no_data", None, 0, None),
                                    ("02", "at_risk", 0.6, 7, 2024),
                                    ("07", "insufficient_data", None, 2, 2023)):
        for year in (2025, 2030):
            rows.append({"indicator_id": ind, "place": "khanh_hoa", "scenario": "bau",
                         "target_year": year, "target_text": "<3", "target_kind": "lt",
                         "p_meet": p, "status": status, "n_obs": n, "last_year": last,
                         "last_value": 2.5 if last else None, "historical_annual_change":
                         -0.2 if p else None, "required_annual_change": 0.1 if p else None,
                         "projected_q10": None, "projected_q50": None, "projected_q90": None,
                         "model": ""})
    path.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path / "assessment.csv", index=False)
    pd.DataFrame(columns=["indicator_id", "place", "scenario", "year", "observed", "mean",
                          "q05", "q10", "q25", "q50", "q75", "q90", "q95"]).to_csv(
        path / "forecasts.csv", index=False)
    pd.DataFrame({"indicator_id": ["02"], "place": ["khanh_hoa"], "year": [2024],
                  "value": [2.5], "source": ["test"], "status": ["final"], "note": [""]}).to_csv(
        path / "observations.csv", index=False)
    (path / "manifest.json").write_text(json.dumps({
        "run_id": "test", "as_of": AS_OF.isoformat(), "place": "khanh_hoa",
        "params": {"scenarios": ["bau"]}}), encoding="utf-8")
    return path


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return _run_folder(tmp_path / "run")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_without_reports_every_task_is_grey_and_none_is_red(run_dir: Path) -> None:
    write_task_files(run_dir, load_catalog(), None, AS_OF)
    run = load_run(run_dir)
    page = bt.tracker_title(run) + bt.tracker_counts(run) + bt.tracker_tasks(run, "vi")
    assert page.count('class="kh-task kh-task-no_report"') == 69
    assert "kh-task-overdue" not in page and "quá hạn" not in _text(page).replace(
        "“Quá hạn”", "")
    assert 'data-task-state="no_report">69<' in page
    assert page.count("Thời gian thực hiện theo KH: 2025") == sum(
        t.due_text == "2025" for t in run.catalog.tasks)


def test_mixed_reports_show_exactly_those_statuses(run_dir: Path) -> None:
    cat = load_catalog()
    reports, files = read_run_task_reports(cat, [DATA / "task_reports_mixed.csv"])
    write_task_files(run_dir, cat, reports, dt.date(2026, 6, 30))
    run = load_run(run_dir)
    rows = bt.task_rows(run, None, "en")
    shown = re.findall(r'<tr><td>([IVX]+\.\d+)</td>.*?</tr>', rows)
    assert len(shown) == 69
    states = dict(re.findall(r'<tr><td>([IVX]+\.\d+)</td>(?:(?!</tr>).)*?'
                             r'class="kh-task kh-task-([a-z_]+)"', rows))
    assert {k: v for k, v in states.items() if v != "no_report"} == {
        "I.1": "completed", "I.2": "in_progress", "II.1": "not_started",
        "II.2": "completed_late", "II.3": "suspended", "V.13": "in_progress"}
    # overdue is added only where a report after the period says not completed
    # I.2 and V.13 (period 2025, in progress in 2026), II.1 (2024, not started in 2026)
    assert rows.count("kh-task-overdue") == 3
    assert "Implementation period in the plan: 2025" in rows
    title = bt.tracker_title(run, "vi")
    assert "6 báo cáo tiến độ (task_reports_mixed.csv)" in title
    counts = bt.tracker_counts(run, "vi")
    assert 'data-task-state="in_progress">2<' in counts
    assert 'data-task-state="overdue">3<' in counts


def test_lead_names_follow_one_rule(run_dir: Path) -> None:
    run = load_run(run_dir)
    cat = run.catalog
    assert bt.lead_label(run, cat.get("36"), "vi") == (
        "Sở VH&TT (nay là Sở Văn hóa, Thể thao và Du lịch); Sở LĐTB&XH (nay là Sở Nội vụ)")
    # English pages gloss every name, the Vietnamese one in parentheses (issue 12)
    assert bt.lead_label(run, cat.get("43"), "en") == (
        "Department of Education and Training (Sở GD&ĐT)")  # unchanged: no "now"
    assert bt.lead_label(run, cat.get("04"), "en") == (
        "Provincial Statistics Office (Cục Thống kê tỉnh) – now Khánh Hòa Provincial Statistics "
        "Office (Thống kê tỉnh Khánh Hòa)")
    assert bt.lead_label(run, cat.get("36"), "en") == (
        "Department of Culture and Sports (Sở VH&TT) – now Department of Culture, Sports and "
        "Tourism (Sở Văn hóa, Thể thao và Du lịch); Department of Labour, Invalids and Social "
        "Affairs (Sở LĐTB&XH) – now Department of Home Affairs (Sở Nội vụ)")
    for item in [*cat.indicators.values(), *cat.tasks]:
        for lang in ("vi", "en"):
            label = bt.lead_label(run, item, lang)
            assert not re.search(r"\([^)]*\(", label), label  # no nested parentheses


def test_scorecard_sections(run_dir: Path) -> None:
    write_task_files(run_dir, load_catalog(), None, AS_OF)
    run = load_run(run_dir)
    title = bt.scorecard_title(run, "so_noi_vu", "vi")
    assert "Bảng theo dõi: Sở Nội vụ" in title
    inds = bt.department_indicators(run, "Sở Nội vụ", "vi")
    assert ">02<" in inds and ">36<" in inds and ">57<" not in inds
    assert "+0,10 (−0,20)" in inds  # required change and the historical one
    tasks = bt.department_tasks(run, "Sở Nội vụ", "en")
    assert ">V.13<" in tasks and ">I.2<" not in tasks
    req = bt.department_data_requests(run, "Sở Nội vụ", "vi")
    assert ">01<" in req and ">36<" in req and ">07<" in req and ">02<" not in req
    assert "Báo cáo thực hiện chính sách ưu đãi người có công" in req
    assert "Giá trị từng năm 2018–2025 (%)" in req
    assert "2024–2025" in req and "cần thêm ít nhất 1 năm" in req  # 07: 2 values up to 2023
    empty = bt.department_indicators(run, "Công an tỉnh", "en")
    assert "leads no indicator" in empty


def test_sector_data_requests_replace_the_gap_list(run_dir: Path) -> None:
    run = load_run(run_dir)
    page = bt.data_gaps(run, "V", "en")
    assert ">36<" in page and "Department of Culture, Sports and Tourism" in page
    assert "yearly" in page and "administrative report" in page
    none = bt.data_gaps(run, "IX", "en")
    assert "Every indicator has the data" in none


def test_tracker_links_only_the_scorecards_the_run_renders(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["params"]["scorecards"] = ["so_noi_vu"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = bt.tracker_by_department(load_run(run_dir), "vi")
    assert re.findall(r'href="([^"]+)"', page) == ["scorecard_so_noi_vu.html"]
    assert "<td>Sở Y tế</td>" in page
