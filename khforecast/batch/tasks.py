"""The batch's task step: read the progress reports once, write the run's task tables.

``khforecast run --tasks FILE`` (CSV or workbook) and every workbook given with ``--data``
(its sheet "Nhiệm vụ", when filled in) are read and checked before anything is written; the
run folder then holds ``task_reports.csv`` (the reports used, when there are any) and
``task_status.csv`` (every task: the plan's period beside the reported status), which the
tracker and the scorecards read.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from khforecast._io import atomic_write_csv
from khforecast.plan.catalog import Catalog
from khforecast.observations.tasks import TASK_REPORT_COLUMNS, read_task_reports
from khforecast.assess.tasks import TASK_REPORTS_FILE, TASK_STATUS_FILE, task_status_frame

__all__ = ["TASK_REPORTS_FILE", "TASK_STATUS_FILE", "read_run_task_reports",
           "write_task_files"]



def read_run_task_reports(catalog: Catalog, tasks: Sequence[str | os.PathLike[str]] = (),
                          data: Sequence[str | os.PathLike[str]] = ()
                          ) -> tuple[pd.DataFrame | None, list[Path]]:
    """The reports of a run and the files they came from (None and [] when there are none).

    ``tasks`` must each hold reports (a CSV, or a workbook with the sheet "Nhiệm vụ");
    workbooks among ``data`` are read for their sheet when they have one.

    Raises
    ------
    TaskReportError
        Listing every problem of every file, before the run writes anything.
    """
    task_files = [Path(p).resolve() for p in tasks]
    books = [Path(p).resolve() for p in data if Path(p).suffix.lower() in (".xlsx", ".xlsm")
             and Path(p).resolve() not in task_files]  # a workbook given twice is read once
    frames = []
    if task_files:
        frames.append(read_task_reports(*task_files, catalog=catalog))
    if books:
        frames.append(read_task_reports(*books, catalog=catalog,
                                        workbook_sheet_required=False))
    frames = [f for f in frames if len(f)]
    if not frames:
        return None, task_files
    used = set(pd.concat(frames)["file"])
    return (pd.concat(frames, ignore_index=True)[list(TASK_REPORT_COLUMNS)],
            [*task_files, *(b for b in books if str(b) in used)])


def write_task_files(run_dir: Path, catalog: Catalog, reports: pd.DataFrame | None,
                     as_of: _dt.date) -> dict[str, int]:
    """Write ``task_status.csv`` (always) and ``task_reports.csv`` (with reports) to ``run_dir``.

    Returns counts for the manifest: ``reports`` and tasks by ``state``.
    """
    status = task_status_frame(catalog, reports, as_of)
    atomic_write_csv(run_dir / TASK_STATUS_FILE, status)
    if reports is not None:
        atomic_write_csv(run_dir / TASK_REPORTS_FILE, reports)
    return {"reports": 0 if reports is None else len(reports),
            **{f"state_{k}": int(v) for k, v in status["state"].value_counts().items()}}
