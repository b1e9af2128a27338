"""The entry points: check or read observation files (CSV or the Excel template) and the shipped data files.

Every problem in every file is collected before anything is reported, so a user fixes a file
in one pass. Input files are only ever read; nothing here writes. Row and number conventions:
:mod:`khforecast.observations.records`.
"""
from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from khforecast.errors import ObservationError, Problem
from khforecast.observations.checks import _catalog, _check_records, _cross_checks
from khforecast.observations.csv_reader import _load_bytes, _read_csv
from khforecast.observations.excel import _read_xlsx
from khforecast.observations.records import (
    OBSERVATION_COLUMNS,
    SOURCES_SHEET,
    _Record,
    _Sink,
)

if TYPE_CHECKING:  # pragma: no cover
    from khforecast.plan.catalog import Catalog

__all__ = [
    "check_observations",
    "read_observations",
    "bundled_observations_path",
    "illustrative_observations_path",
]


def check_observations(*paths: str | os.PathLike[str], decimal: str | None = None,
                       catalog: Catalog | None = None, require_source: bool = False
                       ) -> tuple[pd.DataFrame, list[Problem]]:
    """Read observation files and list every problem in them, without raising.

    Parameters
    ----------
    *paths : path-like
        Long CSV/TSV files (DESIGN §2) and/or Excel workbooks (``.xlsx``: the template, or a
        first sheet laid out like the CSV).
    decimal : {".", ","}, optional
        Decimal mark of numbers written as text; default ``"."`` (see the module docstring).
    catalog : Catalog, optional
        Default: :func:`khforecast.plan.catalog.load_catalog`.
    require_source : bool
        Make ``source`` a required, non-empty column (bundled data).

    Returns
    -------
    frame : pandas.DataFrame
        The rows without errors, sorted by indicator_id, place, year; columns
        ``OBSERVATION_COLUMNS`` (``year`` int, ``value`` float, ``file`` the path given).
    problems : list of Problem
        Errors and warnings in file order.

    Examples
    --------
    >>> frame, problems = check_observations(bundled_observations_path(), require_source=True)
    >>> len(problems), frame.columns[:4].tolist()
    (0, ['indicator_id', 'place', 'year', 'value'])
    """
    if decimal is None:
        decimal = "."
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    cat = _catalog(catalog)
    files = [os.fspath(p) for p in paths]
    sinks = {f: _Sink(f) for f in files}
    rows: list[dict[str, object]] = []
    for f in dict.fromkeys(files):
        sink = sinks[f]
        data = _load_bytes(Path(f), sink)
        if data is None:
            continue
        records = _records(Path(f), data, sink, require_source, list(cat.indicators))
        for row in _check_records(records, sink, cat, decimal, require_source):
            row["file"] = f
            rows.append(row)
    kept = _cross_checks(rows, sinks, cat)
    frame = pd.DataFrame([{k: r[k] for k in OBSERVATION_COLUMNS} for r in kept],
                         columns=list(OBSERVATION_COLUMNS))
    frame = frame.astype({"year": "int64", "value": "float64"})
    for col in ("indicator_id", "place", "source", "status", "note", "file"):
        frame[col] = frame[col].astype("str")
    frame = frame.sort_values(["indicator_id", "place", "year"], kind="stable")
    problems = [p for f in dict.fromkeys(files)
                for p in sorted(sinks[f].items,
                                  key=lambda p: (p.sheet == SOURCES_SHEET, p.row or 0))]
    return frame.reset_index(drop=True), problems


def _records(path: Path, data: bytes, sink: _Sink, require_source: bool, ids: list[str]
             ) -> list[_Record]:
    """Dispatch on content (not only the name): CSV text, xlsx, or one clear problem."""
    suffix = path.suffix.lower()
    is_zip = data.startswith(b"PK\x03\x04")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        sink.add(None, "a CSV file or an .xlsx workbook", "an old Excel 97-2003 (.xls) workbook",
                 hint="save it from Excel as .xlsx or as 'CSV UTF-8'")
        return []
    if suffix in (".xlsx", ".xlsm"):
        if not is_zip:
            sink.add(None, "an Excel .xlsx workbook (a zip archive)",
                     "an empty file" if not data else "a file that is not one",
                     hint="a CSV saved under an .xlsx name? rename it to .csv" if data else "")
            return []
        return _read_xlsx(data, sink, require_source, ids)
    if is_zip:
        sink.add(None, "a CSV text file", "a zip archive (an .xlsx workbook with a .csv name?)",
                 hint="rename it to .xlsx, or save it from Excel as 'CSV UTF-8'")
        return []
    return _read_csv(data, sink, require_source)


def read_observations(*paths: str | os.PathLike[str], decimal: str | None = None,
                      catalog: Catalog | None = None, require_source: bool = False
                      ) -> pd.DataFrame:
    """Read observation files; raise if any has an error (warnings are issued, not raised).

    Parameters and returned columns as :func:`check_observations`.

    Raises
    ------
    ObservationError
        When any error-level problem was found; ``.problems`` lists them all (warnings too).

    Examples
    --------
    >>> obs = read_observations(bundled_observations_path(), require_source=True)
    >>> row = obs[(obs.indicator_id == "02") & (obs.place == "khanh_hoa") & (obs.year == 2018)]
    >>> float(row["value"].iloc[0])
    3.46
    """
    frame, problems = check_observations(*paths, decimal=decimal, catalog=catalog,
                                         require_source=require_source)
    if any(p.severity == "error" for p in problems):
        raise ObservationError(problems)
    for p in problems:
        warnings.warn(str(p), UserWarning, stacklevel=2)
    return frame


def _data_path(name: str) -> Path:
    """Path of a bundled observations file."""
    return Path(str(resources.files("khforecast").joinpath("data", "observations", name)))


def bundled_observations_path() -> Path:
    """Path of the bundled real observations (every row sourced; see its README)."""
    return _data_path("khanh_hoa_observations.csv")


def illustrative_observations_path() -> Path:
    """Path of the generated ILLUSTRATIVE dataset (not official data; never a default)."""
    return _data_path("illustrative_observations.csv")
