"""Read and validate the progress reports of Appendix II tasks (CSV, or the sheet "Nhiệm vụ").

The plan (section IV) asks the lead departments to report progress periodically. A report
says, for one task on one date, where it stands: one row ``task_id, status, as_of, evidence,
note, reported_by``. ``status`` is one of :data:`TASK_STATUSES`, written as the code, its
Vietnamese label or its English label (any case). ``as_of`` is a date, ``YYYY-MM-DD`` or
``DD/MM/YYYY`` (an Excel date cell too).

As with observations, every problem in every file is collected first (file, row or cell,
column, what was expected, what was found), and nothing here writes: input files are read once.
Checks: a header with ``task_id``, ``status`` and ``as_of``; a task id of Appendix II; a status
of the list; a date that is a date, not before the plan's date and not in the future; "completed
late" only after the task's implementation period has ended; one report per task and date.

Examples
--------
>>> from khforecast.plan.catalog import load_catalog
>>> frame, problems = check_task_reports(example_task_reports_path(), catalog=load_catalog())
>>> len(problems), frame.columns.tolist()[:3]
(0, ['task_id', 'status', 'as_of'])
"""
from __future__ import annotations

import csv
import datetime as _dt
import difflib
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from khforecast.errors import Problem, TaskReportError
from khforecast.observations.csv_reader import _decode, _load_bytes
from khforecast.observations.excel import _open_workbook
from khforecast.observations.records import _column_index, _Loc, _show, _Sink, _text
from khforecast.plan.catalog import Catalog, Task

__all__ = [
    "TASKS_SHEET",
    "TASK_REFERENCE_HEADERS",
    "TASK_REPORT_COLUMNS",
    "TASK_INPUT_COLUMNS",
    "TASK_STATUSES",
    "TASK_STATUS_LABELS",
    "check_task_reports",
    "example_task_reports_path",
    "is_task_report_file",
    "parse_task_status",
    "period_end",
    "read_task_reports",
]

#: the sheet of the Excel template holding task reports
TASKS_SHEET = "Nhiệm vụ"
#: columns a task report file holds (the first three are required)
TASK_INPUT_COLUMNS: tuple[str, ...] = ("task_id", "status", "as_of", "evidence", "note",
                                       "reported_by")
#: columns of the frame :func:`check_task_reports` returns
TASK_REPORT_COLUMNS: tuple[str, ...] = (*TASK_INPUT_COLUMNS, "file", "row")
_REQUIRED = ("task_id", "status", "as_of")
#: reference columns of the template's sheet (for the person filling it in; not read)
TASK_REFERENCE_HEADERS: tuple[str, ...] = (
    "Nhiệm vụ / Task", "Cơ quan chủ trì / Lead", "Thời gian thực hiện theo KH / Plan period")
#: the reportable states of a task, in the order pages list them
TASK_STATUSES: tuple[str, ...] = ("not_started", "in_progress", "completed", "completed_late",
                                  "suspended")
#: code -> (Vietnamese label, English label); either label is accepted in a file
TASK_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "not_started": ("chưa triển khai", "not started"),
    "in_progress": ("đang thực hiện", "in progress"),
    "completed": ("đã hoàn thành", "completed"),
    "completed_late": ("hoàn thành chậm", "completed late"),
    "suspended": ("tạm dừng/thay thế", "suspended/replaced"),
}
_EXTRA_SPELLINGS = {"hoàn thành": "completed", "chưa thực hiện": "not_started",
                    "tạm dừng": "suspended", "thay thế": "suspended", "replaced": "suspended",
                    "suspended": "suspended"}
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_VN = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _key(text: str) -> str:
    """A status spelling compared without case, spacing or Unicode form differences."""
    text = unicodedata.normalize("NFC", text).casefold().replace("_", " ")
    return " ".join(text.replace(" / ", "/").split())


_SPELLINGS: dict[str, str] = {
    **{_key(code): code for code in TASK_STATUSES},
    **{_key(label): code for code, pair in TASK_STATUS_LABELS.items() for label in pair},
    **{_key(k): v for k, v in _EXTRA_SPELLINGS.items()},
}


def parse_task_status(text: str) -> str:
    """The status code a spelling means (``"Đang thực hiện"`` -> ``in_progress``).

    Raises ``ValueError`` when the text is none of the codes or labels.
    """
    code = _SPELLINGS.get(_key(str(text)))
    if code is None:
        raise ValueError(f"unknown task status {text!r}")
    return code


def period_end(task: Task) -> _dt.date | None:
    """The last day of a task's implementation period (31 Dec of its year), None for a condition."""
    return None if task.due_year is None else _dt.date(task.due_year, 12, 31)


def _date(raw: object) -> _dt.date:
    """A date cell or text (``YYYY-MM-DD``, ``DD/MM/YYYY``); ``ValueError`` otherwise."""
    if isinstance(raw, _dt.datetime):
        return raw.date()
    if isinstance(raw, _dt.date):
        return raw
    s = _text(raw)
    m = _ISO.match(s)
    if m:
        return _dt.date(int(m[1]), int(m[2]), int(m[3]))
    m = _VN.match(s)
    if m:
        return _dt.date(int(m[3]), int(m[2]), int(m[1]))
    raise ValueError(s)


@dataclass(frozen=True)
class _Row:
    """One record of a file: each known column's raw value and location."""

    values: dict[str, object]
    locs: dict[str, _Loc]
    line: int


# --------------------------------------------------------------------------------------------
# files -> rows
# --------------------------------------------------------------------------------------------
def _header(names: list[object], locs: list[_Loc], sink: _Sink) -> dict[str, int] | None:
    index = _column_index(names, locs, sink, tuple(TASK_INPUT_COLUMNS),
                          lambda name, key: not key or _text(name) in TASK_REFERENCE_HEADERS)
    first = locs[0] if locs else _Loc(1, None)
    found = ", ".join(repr(_text(n)) for n in names if _text(n)) or "no column names"
    missing = [c for c in _REQUIRED if c not in index]
    for col in missing:
        sink.add(_Loc(first.row, col, None, first.sheet), f"a column '{col}'",
                 f"the columns {found}")
    return None if missing else index


def _csv_rows(data: bytes, sink: _Sink) -> list[_Row]:
    text = _decode(data, sink)
    if text is None:
        return []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        sink.add(None, "a CSV with a header row (" + ", ".join(TASK_INPUT_COLUMNS) + ")",
                 "an empty file")
        return []
    delimiter = max((",", ";", "\t"), key=lambda d: lines[0].count(d))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[_Row] = []
    index: dict[str, int] | None = None
    width, prev = 0, 0
    try:
        for fields in reader:
            line, prev = prev + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if index is None:
                index = _header(fields, [_Loc(line, _text(f) or None) for f in fields], sink)
                if index is None:
                    return []
                width = len(fields)
                continue
            if len(fields) > width:
                sink.add(_Loc(line, None), f"{width} fields, as in the header",
                         f"{len(fields)} fields", hint="quote a value that holds "
                         f"the separator {delimiter!r}")
                continue
            rows.append(_Row({c: fields[i] if i < len(fields) else "" for c, i in index.items()},
                             {c: _Loc(line, c) for c in index}, line))
    except csv.Error as exc:
        sink.add(_Loc(prev + 1, None), "a well-formed CSV line", f"a CSV error ({exc})")
    return rows


def _xlsx_rows(data: bytes, sink: _Sink, *, required: bool) -> list[_Row]:
    from openpyxl.utils import get_column_letter

    wb = _open_workbook(data, sink)
    if wb is None:
        return []
    try:
        if TASKS_SHEET not in wb.sheetnames:
            if required:
                sink.add(None, f"a sheet named '{TASKS_SHEET}' (made by khforecast template)",
                         "the sheets " + ", ".join(repr(n) for n in wb.sheetnames))
            return []
        rows: list[_Row] = []
        index: dict[str, int] | None = None
        for r, values in enumerate(wb[TASKS_SHEET].iter_rows(values_only=True), start=1):
            if not any(_text(v) for v in values):
                continue

            def loc(c: int, column: str | None, r: int = r) -> _Loc:
                return _Loc(r, column, f"{get_column_letter(c + 1)}{r}", TASKS_SHEET)

            if index is None:
                index = _header(list(values), [loc(c, _text(v) or None)
                                               for c, v in enumerate(values)], sink)
                if index is None:
                    return []
                continue
            rows.append(_Row({c: values[i] if i < len(values) else None
                              for c, i in index.items()},
                             {c: loc(i, c) for c, i in index.items()}, r))
        return rows
    finally:
        wb.close()


def is_task_report_file(path: str | os.PathLike[str]) -> bool:
    """True when a CSV's header names ``task_id`` (a task report, not observations).

    Workbooks are never "only" task reports: their sheet "Nhiệm vụ" is read beside the data.
    """
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    for enc in ("utf-8-sig", "utf-16"):
        try:
            first = head.decode(enc).splitlines()[0] if head.strip() else ""
            break
        except (UnicodeDecodeError, IndexError):
            first = ""
    names = {n.strip().lower() for n in re.split(r"[,;\t]", first)}
    return "task_id" in names and "indicator_id" not in names


# --------------------------------------------------------------------------------------------
# rows -> checked reports
# --------------------------------------------------------------------------------------------
def _id_hint(tid: str, ids: list[str]) -> str:
    near = difflib.get_close_matches(tid.upper(), ids, n=2, cutoff=0.6)
    if near:
        return "did you mean " + " or ".join(near) + "?"
    return f"task ids are <group>.<number>, {ids[0]} to {ids[-1]}; see `khforecast catalog --tasks`"


def _unfilled(row: _Row) -> bool:
    """A template row with its task id only: nothing was reported for the task."""
    return not any(_text(v) for c, v in row.values.items() if c != "task_id")


def _check_row(row: _Row, sink: _Sink, tasks: dict[str, Task], plan_date: _dt.date,
               today: _dt.date) -> dict[str, object] | None:
    ok = True
    tid = _text(row.values["task_id"]).upper()
    task = tasks.get(tid)
    if task is None:
        sink.add(row.locs["task_id"], "a task id of Appendix II (e.g. V.13)",
                 _show(row.values["task_id"]), hint=_id_hint(tid, list(tasks)) if tid else "")
        ok = False
    status = None
    raw_status = row.values["status"]
    try:
        status = parse_task_status(_text(raw_status))
    except ValueError:
        sink.add(row.locs["status"], "a status among " + "; ".join(
            f"{code} ({vi})" for code, (vi, _en) in TASK_STATUS_LABELS.items()),
            _show(raw_status))
        ok = False
    as_of = None
    raw_date = row.values["as_of"]
    try:
        as_of = _date(raw_date)
    except ValueError:
        sink.add(row.locs["as_of"], "a date as YYYY-MM-DD or DD/MM/YYYY (e.g. 2025-12-31)",
                 _show(raw_date))
        ok = False
    if as_of is not None:
        if as_of < plan_date:
            sink.add(row.locs["as_of"], f"a date on or after {plan_date.isoformat()}, the "
                     "plan's date", _show(raw_date))
            ok = False
        elif as_of > today:
            sink.add(row.locs["as_of"], f"a date not after today ({today.isoformat()})",
                     _show(raw_date))
            ok = False
    if status == "completed_late" and task is not None and as_of is not None:
        end = period_end(task)
        if end is None:
            sink.add(row.locs["status"], f"completed (task {tid} is due on a condition, "
                     f"{task.due_text!r}, so it cannot be late)", _show(raw_status))
            ok = False
        elif as_of <= end:
            sink.add(row.locs["status"], f"completed: a completion reported on "
                     f"{as_of.isoformat()}, within the plan's period for {tid} (to "
                     f"{end.isoformat()}), is not late", _show(raw_status))
            ok = False
    if not ok:
        return None
    return {"task_id": tid, "status": status, "as_of": as_of.isoformat(),  # type: ignore[union-attr]
            **{c: _text(row.values.get(c)) for c in ("evidence", "note", "reported_by")},
            "_loc": row.locs["task_id"]}


def check_task_reports(*paths: str | os.PathLike[str], catalog: Catalog,
                       today: _dt.date | None = None, workbook_sheet_required: bool = True
                       ) -> tuple[pd.DataFrame, list[Problem]]:
    """Read task report files (CSV, or workbooks' sheet "Nhiệm vụ") and list every problem.

    Parameters
    ----------
    *paths : path-like
        CSV files with :data:`TASK_INPUT_COLUMNS`, or ``.xlsx`` workbooks made by
        ``khforecast template`` (their sheet "Nhiệm vụ").
    catalog : Catalog
        The plan (task ids, periods, the plan's date).
    today : date, optional
        Reports dated after it are refused (default: today).
    workbook_sheet_required : bool
        Report a workbook without the sheet (False: read it as having no reports).

    Returns
    -------
    frame : DataFrame
        The rows without errors, sorted by task_id and as_of: ``task_id, status, as_of``
        (ISO date text), ``evidence, note, reported_by, file, row``.
    problems : list of Problem
        Errors and warnings, file by file in row order.
    """
    today = today or _dt.date.today()
    plan_date = _dt.date.fromisoformat(str(catalog.meta.get("plan_date", "2024-08-09")))
    tasks = {t.id: t for t in catalog.tasks}
    files = [os.fspath(p) for p in paths]
    sinks = {f: _Sink(f) for f in files}
    good: list[dict[str, object]] = []
    for f in dict.fromkeys(files):
        sink = sinks[f]
        data = _load_bytes(Path(f), sink)
        if data is None:
            continue
        if data.startswith(b"PK\x03\x04"):
            rows = _xlsx_rows(data, sink, required=workbook_sheet_required)
        else:
            rows = _csv_rows(data, sink)
        for row in (r for r in rows if not _unfilled(r)):
            checked = _check_row(row, sink, tasks, plan_date, today)
            if checked is not None:
                good.append({**checked, "file": f, "row": row.line})
    first: dict[tuple[object, object], dict[str, object]] = {}
    kept = []
    for rec in good:
        key = (rec["task_id"], rec["as_of"])
        if key in first:
            prior = first[key]
            where = (f"cell {prior['_loc'].cell}" if prior["_loc"].cell  # type: ignore[union-attr]
                     else f"row {prior['row']}")
            sinks[rec["file"]].add(rec["_loc"], "one report per task and date",  # type: ignore[index,arg-type]
                                   f"a second report for {key[0]} on {key[1]}; the first is "
                                   f"{prior['file']} {where}")
            continue
        first[key] = rec
        kept.append(rec)
    frame = pd.DataFrame([{c: r[c] for c in TASK_REPORT_COLUMNS} for r in kept],
                         columns=list(TASK_REPORT_COLUMNS))
    order = {t.id: i for i, t in enumerate(catalog.tasks)}
    frame = (frame.assign(_o=frame["task_id"].map(order)).sort_values(["_o", "as_of"], kind="stable")
             .drop(columns="_o").reset_index(drop=True))
    frame["row"] = frame["row"].astype("int64")
    problems = [p for f in dict.fromkeys(files) for p in sinks[f].items]
    return frame, problems


def read_task_reports(*paths: str | os.PathLike[str], catalog: Catalog,
                      today: _dt.date | None = None, workbook_sheet_required: bool = True
                      ) -> pd.DataFrame:
    """Read task report files; raise if any has an error (parameters as :func:`check_task_reports`).

    Raises
    ------
    TaskReportError
        When any error-level problem was found; ``.problems`` lists them all.
    """
    frame, problems = check_task_reports(*paths, catalog=catalog, today=today,
                                         workbook_sheet_required=workbook_sheet_required)
    if any(p.severity == "error" for p in problems):
        raise TaskReportError(problems)
    return frame


def example_task_reports_path() -> Path:
    """Path of the bundled ILLUSTRATIVE task report file (a format example, not real reports)."""
    return Path(str(resources.files("khforecast").joinpath(
        "data", "tasks", "illustrative_task_reports.csv")))
