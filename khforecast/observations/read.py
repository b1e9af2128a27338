"""The entry points: check or read observation files (CSV or the Excel template) and the shipped data files.

Every problem in every file is collected before anything is reported, so a user fixes a file
in one pass. Input files are only ever read; nothing here writes. Row and number conventions:
:mod:`khforecast.observations.records`.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from khforecast.errors import ObservationError, Problem, UsageError
from khforecast.observations.checks import Columns, _catalog, _check_records, _cross_checks
from khforecast.observations.csv_reader import _load_bytes, _read_csv
from khforecast.observations.excel import _read_xlsx
from khforecast.observations.records import (
    OBSERVATION_COLUMNS,
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
    "require_place",
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
    rows = Columns()
    ids = list(cat.indicators)
    for f in dict.fromkeys(files):
        sink = sinks[f]
        data = _load_bytes(Path(f), sink)
        if data is None:
            continue
        records = _counted(_records(Path(f), data, sink, require_source, ids))
        del data  # the reader keeps what it needs (a CSV's text) only while it reads
        for row in _check_records(records, sink, cat, decimal, require_source):
            rows.add(row)
        if records.n == 0 and not sink.has_errors:
            sink.add(None, "at least one value (a data row, or a filled year cell of the "
                     "template)", "no values (only a header, or a template not filled in)",
                     hint="an input with no values would assess nothing")
    frame = pd.DataFrame({name: pd.Series(col, dtype=dtype) for name, col, dtype in zip(
        OBSERVATION_COLUMNS, rows.cols,
        ("str", "str", "int64", "float64", "str", "str", "str", "str"), strict=True)})
    rows.cols = []  # the frame holds the values now
    frame = _cross_checks(rows, sinks, cat, frame)
    frame = frame.sort_values(["indicator_id", "place", "year"], kind="stable")
    problems = [p for f in dict.fromkeys(files) for p in sinks[f].problems()]
    return frame.reset_index(drop=True), problems


class _counted:
    """An iterator that counts what it yields (``.n``)."""

    def __init__(self, items: Iterable[_Record]):
        self._it, self.n = iter(items), 0

    def __iter__(self) -> _counted:
        return self

    def __next__(self) -> _Record:
        item = next(self._it)
        self.n += 1
        return item


def _records(path: Path, data: bytes, sink: _Sink, require_source: bool, ids: list[str]
             ) -> Iterable[_Record]:
    """Dispatch on content (not only the name): CSV text, xlsx, or one clear problem."""
    suffix = path.suffix.lower()
    is_zip = data.startswith(b"PK\x03\x04")
    if data.startswith(b"\xd0\xcf\x11\xe0") and "EncryptedPackage".encode("utf-16-le") in data:
        sink.add(None, "a workbook that opens without a password",
                 "a password-protected (encrypted) workbook",
                 hint="open it in Excel, remove the password (File > Info > Protect Workbook "
                      "> Encrypt with Password: clear it) and save it again")
        return []
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


def require_place(observations: pd.DataFrame, place: str) -> None:
    """Raise ``UsageError`` when the observations hold no value for ``place`` (a typo in
    ``--place`` would otherwise assess nothing and say nothing)."""
    places = sorted(set(observations["place"].astype(str)))
    if place not in places:
        raise UsageError(f"--place {place!r}: expected a place the observations hold ("
                         + (", ".join(places[:10]) + (", ..." if len(places) > 10 else "")
                            if places else "they hold none") + ")")


def _data_path(name: str) -> Path:
    """Path of a bundled observations file."""
    return Path(str(resources.files("khforecast").joinpath("data", "observations", name)))


def bundled_observations_path() -> Path:
    """Path of the bundled real observations (every row sourced; see its README)."""
    return _data_path("khanh_hoa_observations.csv")


def illustrative_observations_path() -> Path:
    """Path of the generated ILLUSTRATIVE dataset (not official data; never a default)."""
    return _data_path("illustrative_observations.csv")
