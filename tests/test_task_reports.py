"""Task progress reports: reading, every problem located at once, statuses in both languages."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from khforecast.errors import ObservationError, TaskReportError
from khforecast.plan.catalog import load_catalog
from khforecast.observations.tasks import (
    TASK_REPORT_COLUMNS,
    TASK_STATUS_LABELS,
    TASK_STATUSES,
    TASKS_SHEET,
    check_task_reports,
    example_task_reports_path,
    is_task_report_file,
    parse_task_status,
    read_task_reports,
)

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_mixed_file_reads_every_status(cat) -> None:
    frame = read_task_reports(DATA / "task_reports_mixed.csv", catalog=cat, today=TODAY)
    assert list(frame.columns) == list(TASK_REPORT_COLUMNS)
    assert dict(zip(frame.task_id, frame.status)) == {
        "I.1": "completed", "I.2": "in_progress", "II.1": "not_started",
        "II.2": "completed_late", "II.3": "suspended", "V.13": "in_progress"}
    # a Vietnamese label and a DD/MM/YYYY date read as the code and an ISO date
    assert frame.loc[frame.task_id == "V.13", "as_of"].item() == "2026-02-01"


@pytest.mark.parametrize("code", TASK_STATUSES)
def test_every_status_reads_as_code_and_both_labels(code: str) -> None:
    vi, en = TASK_STATUS_LABELS[code]
    assert {parse_task_status(code), parse_task_status(vi.upper()),
            parse_task_status(f"  {en.title()} ")} == {code}


def test_bad_file_lists_every_problem_located(cat) -> None:
    path = DATA / "bad_task_reports.csv"
    before = path.read_bytes()
    frame, problems = check_task_reports(path, catalog=cat, today=TODAY)
    text = [str(p) for p in problems]
    assert len(text) == 6, text
    assert text[0].startswith(f"{path} row 3, column 'task_id': expected a task id")
    assert "'IX.99'" in text[0]
    assert "row 4, column 'status'" in text[1] and "'done'" in text[1]
    assert "row 5, column 'as_of': expected a date" in text[2] and "'31/13/2025'" in text[2]
    assert "row 6, column 'status'" in text[3] and "is not late" in text[3]
    assert "row 7, column 'as_of'" in text[4] and "the plan's date" in text[4]
    assert "row 8" in text[5] and "one report per task and date" in text[5]
    assert frame["task_id"].tolist() == ["I.1"]
    assert path.read_bytes() == before  # inputs are never changed
    with pytest.raises(TaskReportError, match="6 problem"):
        read_task_reports(path, catalog=cat, today=TODAY)
    assert issubclass(TaskReportError, ObservationError)


def test_future_dates_and_missing_columns(tmp_path: Path, cat) -> None:
    p = tmp_path / "t.csv"
    p.write_text("task_id,status,as_of\nI.1,completed,2027-01-01\n", encoding="utf-8")
    (problem,) = check_task_reports(p, catalog=cat, today=TODAY)[1]
    assert "not after today (2026-12-01)" in str(problem)
    p.write_text("task_id;status\nI.1;completed\n", encoding="utf-8")
    (problem,) = check_task_reports(p, catalog=cat, today=TODAY)[1]
    assert "column 'as_of'" in str(problem) and "expected a column 'as_of'" in str(problem)


def test_a_condition_task_cannot_be_late(tmp_path: Path, cat) -> None:
    cond = next(t for t in cat.tasks if t.due_year is None)
    p = tmp_path / "t.csv"
    p.write_text(f"task_id,status,as_of\n{cond.id},hoàn thành chậm,2026-01-05\n",
                 encoding="utf-8")
    (problem,) = check_task_reports(p, catalog=cat, today=TODAY)[1]
    assert "cannot be late" in str(problem)


def test_workbook_sheet_with_cells(tmp_path: Path, cat) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = TASKS_SHEET
    ws.append(["task_id", "status", "as_of", "evidence", "note", "reported_by"])
    ws.append(["I.1", "đã hoàn thành", dt.datetime(2025, 10, 1), "QĐ 1/QĐ-UBND", None, "Sở Nội vụ"])
    ws.append(["Z.1", "in progress", "hôm qua", None, None, None])
    path = tmp_path / "wb.xlsx"
    wb.save(path)
    frame, problems = check_task_reports(path, catalog=cat, today=TODAY)
    assert frame[["task_id", "status", "as_of"]].values.tolist() == [
        ["I.1", "completed", "2025-10-01"]]
    text = [str(p) for p in problems]
    assert text == [
        f"{path} sheet '{TASKS_SHEET}' cell A3 (column 'task_id'): expected a task id of "
        "Appendix II (e.g. V.13), got 'Z.1' (did you mean V.1 or I.1?)",
        f"{path} sheet '{TASKS_SHEET}' cell C3 (column 'as_of'): expected a date as "
        "YYYY-MM-DD or DD/MM/YYYY (e.g. 2025-12-31), got 'hôm qua'"]


def test_workbook_without_the_sheet(tmp_path: Path, cat) -> None:
    path = tmp_path / "wb.xlsx"
    openpyxl.Workbook().save(path)
    assert "a sheet named 'Nhiệm vụ'" in str(check_task_reports(path, catalog=cat)[1][0])
    frame, problems = check_task_reports(path, catalog=cat, workbook_sheet_required=False)
    assert problems == [] and frame.empty


def test_task_files_are_told_apart_from_observations() -> None:
    assert is_task_report_file(DATA / "task_reports_mixed.csv")
    assert not is_task_report_file(DATA / "good_observations.csv")
    assert not is_task_report_file(DATA / "filled_template.xlsx")


def test_bundled_example_is_labelled_illustrative(cat) -> None:
    frame = read_task_reports(example_task_reports_path(), catalog=cat)
    assert set(frame["reported_by"]) == {"illustrative"}
    assert frame["evidence"].str.startswith("ILLUSTRATIVE").all()


# --------------------------------------------------------------------------------------------
# the commands: validate, template --department
# --------------------------------------------------------------------------------------------
def test_validate_accepts_task_files_and_locates_each_problem(capsys) -> None:
    from khforecast.cli import main

    assert main(["validate", str(DATA / "task_reports_mixed.csv")]) == 0
    assert "6 task report(s) on 6 task(s)" in capsys.readouterr().out
    assert main(["validate", str(DATA / "bad_task_reports.csv"),
                 str(DATA / "good_observations.csv")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len([e for e in err if "bad_task_reports.csv row" in e]) == 6
    assert err[-1] == "khforecast: 6 problem(s) found; nothing was written"


def test_template_for_one_department_holds_only_its_rows_and_tasks(tmp_path: Path, cat) -> None:
    from khforecast.cli import main
    from khforecast.plan.departments import department_items

    out = tmp_path / "noi_vu.xlsx"
    assert main(["template", str(out), "--department", "so_noi_vu"]) == 0
    wb = openpyxl.load_workbook(out, read_only=True)
    ids = [r[0] for r in wb["Dữ liệu"].iter_rows(min_row=2, values_only=True) if r[0]]
    tasks = [r[0] for r in wb[TASKS_SHEET].iter_rows(min_row=2, values_only=True) if r[0]]
    inds, own = department_items(cat, "Sở Nội vụ")
    assert ids == [i.id for i in inds] and tasks == [t.id for t in own]
    assert "36" in ids and "V.13" in tasks and "57" not in ids
    header = next(wb[TASKS_SHEET].iter_rows(max_row=1, values_only=True))
    assert header[:2] == ("task_id", "Nhiệm vụ / Task")
    wb.close()
    # the empty template holds no value and no report: an error, not "valid" (issue 13)
    assert main(["validate", str(out)]) == 1
    assert main(["template", str(tmp_path / "x.xlsx"), "--department", "Sở Ma"]) == 2
    assert not (tmp_path / "x.xlsx").exists()


def test_full_template_has_every_task(tmp_path: Path, cat) -> None:
    from khforecast.observations.template import write_template

    out = write_template(tmp_path / "all.xlsx", cat)
    wb = openpyxl.load_workbook(out, read_only=True)
    rows = list(wb[TASKS_SHEET].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows if r[0]] == [t.id for t in cat.tasks]
    period = {r[0]: r[3] for r in rows if r[0]}
    assert period["I.1"] == "2025"
    lead = {r[0]: r[2] for r in rows if r[0]}
    assert lead["V.13"] == "Sở Lao động - Thương binh và Xã hội (nay là Sở Nội vụ)"
    assert lead["I.2"] == "Sở Tư pháp"
    wb.close()
