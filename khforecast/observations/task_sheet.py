"""The Excel template's sheet "Nhiệm vụ": one row per Appendix II task for its progress report.

``khforecast template`` adds it beside the data sheet; each row names a task (id, title, the
plan's lead with its current successor, the plan's implementation period) and leaves the
report's cells (status, date, evidence, note, reported by) to fill in. A row left with its id
only means "no report"; :mod:`khforecast.observations.tasks` reads the sheet back.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from khforecast.plan.catalog import Catalog, Task
from khforecast.plan.departments import lead_text, leads_of
from khforecast.observations.tasks import (
    TASK_INPUT_COLUMNS, TASK_REFERENCE_HEADERS, TASK_STATUS_LABELS, TASKS_SHEET,
)

__all__ = ["TASK_SHEET_HEADER", "TASK_SHEET_GUIDE", "add_tasks_sheet"]

#: header row of the sheet: the id, the reference columns, then the report's columns
TASK_SHEET_HEADER: tuple[str, ...] = ("task_id", *TASK_REFERENCE_HEADERS,
                                      *TASK_INPUT_COLUMNS[1:])
#: lines the instructions sheet adds about this sheet (Vietnamese, then English)
TASK_SHEET_GUIDE: tuple[str, ...] = (
    f"Sheet '{TASKS_SHEET}': mỗi dòng là một nhiệm vụ của Phụ lục II. Ghi tình trạng ("
    + "; ".join(vi for vi, _en in TASK_STATUS_LABELS.values()) + "), ngày báo cáo as_of "
    "(YYYY-MM-DD hoặc DD/MM/YYYY), căn cứ (số văn bản, đường dẫn), ghi chú và cơ quan báo cáo. "
    "Để trống nếu chưa có báo cáo: nhiệm vụ hiện “chưa có báo cáo”. Có thể thêm dòng cho các lần "
    "báo cáo khác của cùng nhiệm vụ (mỗi ngày một dòng).",
    f"Sheet '{TASKS_SHEET}': one row per Appendix II task. Give the status ("
    + "; ".join(en for _vi, en in TASK_STATUS_LABELS.values()) + "), the report's date as_of "
    "(YYYY-MM-DD or DD/MM/YYYY), the evidence (document number, link), a note and who reports. "
    "Leave the row empty when there is no report: the task shows “no report yet”. Add a row for "
    "each further report of the same task (one per date).",
)


def add_tasks_sheet(wb: Any, catalog: Catalog, tasks: Sequence[Task] | None = None) -> Any:
    """Add the sheet "Nhiệm vụ" to an openpyxl workbook, one row per task (default: all 69).

    Returns the worksheet. The status column offers the Vietnamese labels in a drop-down;
    the reader also accepts the codes and the English labels.
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = wb.create_sheet(TASKS_SHEET)
    ws.append(list(TASK_SHEET_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ref_fill = PatternFill("solid", fgColor="F2F2F2")
    wrap = Alignment(wrap_text=True, vertical="top")
    for task in catalog.tasks if tasks is None else tasks:
        ws.append([task.id, task.title_vi, lead_text(leads_of(catalog, task)), task.due_text])
        row = ws.max_row
        ws.cell(row, 1).number_format = "@"
        for c in range(2, 2 + len(TASK_REFERENCE_HEADERS)):
            ws.cell(row, c).fill = ref_fill
            ws.cell(row, c).alignment = wrap
    col = {name: get_column_letter(i) for i, name in enumerate(TASK_SHEET_HEADER, start=1)}
    labels = [vi for vi, _en in TASK_STATUS_LABELS.values()]
    status = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True,
                            error="; ".join(labels), errorTitle="khforecast")
    status.showErrorMessage = True
    ws.add_data_validation(status)
    last = max(ws.max_row, 2) + 200  # room for further reports of the same tasks
    status.add(f"{col['status']}2:{col['status']}{last}")
    for r in range(2, last + 1):
        ws[f"{col['as_of']}{r}"].number_format = "yyyy-mm-dd"
    widths = {"task_id": 10, "status": 18, "as_of": 12, "evidence": 28, "note": 30,
              "reported_by": 24, TASK_REFERENCE_HEADERS[0]: 60, TASK_REFERENCE_HEADERS[1]: 30,
              TASK_REFERENCE_HEADERS[2]: 16}
    for name, width in widths.items():
        ws.column_dimensions[col[name]].width = width
    ws.freeze_panes = "B2"
    return ws
