"""Where each Appendix II task stands: its planned period beside what was reported, never a guess.

The plan gives each task a "Thời gian thực hiện" (implementation period, e.g. 2025), not a
deadline, and the tool cannot know whether a task was done unless a department reports it. So
a task without a report is ``no_report`` (shown in neutral grey), and ``overdue`` is said only
when a report dated after the period's end says the task is not completed (not started or in
progress). The latest report on or before the run's date counts; later ones are ignored.

Examples
--------
>>> import datetime as dt
>>> from khforecast.plan.catalog import load_catalog
>>> frame = task_status_frame(load_catalog(), None, dt.date(2026, 12, 1))
>>> len(frame), sorted(set(frame["state"]))
(69, ['no_report'])
"""
from __future__ import annotations

import datetime as _dt

import pandas as pd

from khforecast.plan.departments import leads_of
from khforecast.plan.catalog import Catalog
from khforecast.observations.tasks import TASK_STATUSES, period_end

__all__ = ["TASK_REPORTS_FILE", "TASK_STATES", "TASK_STATUS_COLUMNS", "TASK_STATUS_FILE",
           "state_counts", "task_status_frame"]

#: a run folder's table of every task's status (:func:`task_status_frame`, written by the batch)
TASK_STATUS_FILE = "task_status.csv"
#: a run folder's copy of the validated progress reports (when the run was given any)
TASK_REPORTS_FILE = "task_reports.csv"

#: what a page shows for a task: no report, a reported status, or overdue
TASK_STATES: tuple[str, ...] = ("no_report", *TASK_STATUSES, "overdue")
#: columns of :func:`task_status_frame` (and of a run's ``task_status.csv``)
TASK_STATUS_COLUMNS: tuple[str, ...] = (
    "task_id", "group", "title_vi", "lead", "lead_current", "lead_changed", "period_text",
    "period_end", "state", "reported_status", "reported_as_of", "evidence", "note",
    "reported_by", "n_reports", "report_before_period_end")
_NOT_DONE = ("not_started", "in_progress")


def task_status_frame(catalog: Catalog, reports: pd.DataFrame | None,
                      as_of: _dt.date) -> pd.DataFrame:
    """One row per task (plan order): the plan's period, the current lead, the latest report.

    Parameters
    ----------
    catalog : Catalog
    reports : DataFrame or None
        Validated reports (:func:`khforecast.observations.tasks.read_task_reports`); None = none.
    as_of : date
        The run's date: reports dated later are not used.

    Returns
    -------
    DataFrame
        :data:`TASK_STATUS_COLUMNS`. ``state`` is ``no_report``, the reported status, or
        ``overdue`` (a report after ``period_end`` says not started / in progress);
        ``report_before_period_end`` flags a "not completed" report older than the period's
        end while the period has ended by ``as_of`` (the page says the report is out of date).
    """
    latest: dict[str, dict[str, object]] = {}
    counts: dict[str, int] = {}
    if reports is not None and len(reports):
        usable = reports[pd.to_datetime(reports["as_of"]).dt.date <= as_of]
        for rec in usable.sort_values("as_of", kind="stable").to_dict("records"):
            latest[str(rec["task_id"])] = rec
            counts[str(rec["task_id"])] = counts.get(str(rec["task_id"]), 0) + 1
    rows = []
    for task in catalog.tasks:
        leads = leads_of(catalog, task)
        end = period_end(task)
        rep = latest.get(task.id)
        status = str(rep["status"]) if rep else ""
        rep_date = _dt.date.fromisoformat(str(rep["as_of"])) if rep else None
        overdue = bool(rep and status in _NOT_DONE and end is not None and rep_date > end)
        stale = bool(rep and status in _NOT_DONE and end is not None and rep_date <= end < as_of)
        rows.append({
            "task_id": task.id, "group": task.group, "title_vi": task.title_vi,
            "lead": task.lead, "lead_current": "; ".join(lead.current for lead in leads),
            "lead_changed": any(lead.changed for lead in leads),
            "period_text": task.due_text, "period_end": end.isoformat() if end else "",
            "state": "overdue" if overdue else (status or "no_report"),
            "reported_status": status, "reported_as_of": rep_date.isoformat() if rep_date else "",
            **{c: str(rep.get(c) or "") if rep else "" for c in ("evidence", "note",
                                                                  "reported_by")},
            "n_reports": counts.get(task.id, 0), "report_before_period_end": stale,
        })
    return pd.DataFrame(rows, columns=list(TASK_STATUS_COLUMNS))


def state_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many tasks of ``frame`` are in each of :data:`TASK_STATES` (zeros included)."""
    counts = frame["state"].value_counts()
    return {s: int(counts.get(s, 0)) for s in TASK_STATES}
