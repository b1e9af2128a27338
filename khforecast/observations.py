"""Read and validate observations: the long CSV of DESIGN §2 or the Excel template.

Every problem in every file is collected before anything is reported, so a user fixes a file
in one pass. Input files are only ever read (their bytes are loaded once, then parsed in
memory); nothing here writes.

Row convention: ``Problem.row`` is the file's own 1-based line number with the header as
line 1 (what a text editor shows); for Excel it is the sheet's row number and ``cell`` names
the cell (``"F12"``).

Number convention (``decimal``):

* ``decimal="."`` (the default): ``3.5`` and ``1234.5``; ``,`` groups thousands only when
  that cannot be read another way (``1,234.5``, ``1,234,567``). ``3,5`` is refused with a hint
  to use ``decimal=","``; ``1,234`` is refused as ambiguous (1234 or Vietnamese 1.234).
* ``decimal=","`` (Vietnamese format, as in the plan): ``3,5`` = 3.5; ``.`` groups thousands
  in groups of exactly three digits (``48.749`` = 48749, ``1.234,5`` = 1234.5). Any other
  ``.`` (``3.5``, ``0.25``) is refused as ambiguous.

Numbers typed into Excel cells are numbers and need no rule; text cells follow the rule above.
"""
from __future__ import annotations

import csv
import datetime as _dt
import difflib
import io
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from khforecast.errors import ObservationError

if TYPE_CHECKING:  # pragma: no cover
    from khforecast.catalog import Catalog

__all__ = [
    "Problem",
    "check_observations",
    "read_observations",
    "bundled_observations_path",
    "illustrative_observations_path",
    "parse_number",
    "OBSERVATION_COLUMNS",
    "INPUT_COLUMNS",
    "STATUSES",
    "DEFAULT_PLACE",
    "YEAR_MIN",
    "YEAR_MAX",
    "DATA_SHEET",
    "SOURCES_SHEET",
    "INSTRUCTIONS_SHEET",
    "SOURCES_COLUMNS",
]

#: Columns of the frame :func:`read_observations` returns.
OBSERVATION_COLUMNS: tuple[str, ...] = (
    "indicator_id", "place", "year", "value", "source", "status", "note", "file")
#: Columns a CSV may hold (DESIGN §2).
INPUT_COLUMNS: tuple[str, ...] = (
    "indicator_id", "place", "year", "value", "source", "status", "note")
#: Allowed values of ``status``.
STATUSES: tuple[str, ...] = ("final", "preliminary", "estimate", "illustrative")
#: The place a row without one belongs to: the province the plan's targets were set for.
DEFAULT_PLACE = "khanh_hoa"
#: Years accepted as observations (inclusive): older series are not comparable, later ones
#: cannot be observed within the plan's horizon.
YEAR_MIN, YEAR_MAX = 1990, 2035
#: Sheet names of the Excel template (``khforecast template``).
DATA_SHEET, SOURCES_SHEET, INSTRUCTIONS_SHEET = "Dữ liệu", "Nguồn", "Hướng dẫn"
#: Header of the template's sources sheet.
SOURCES_COLUMNS: tuple[str, ...] = ("indicator_id", "place", "year", "source", "status", "note")

_REQUIRED = ("indicator_id", "year", "value")
_PLACE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_YEAR_RE = re.compile(r"^\d{4}(?:\.0+)?$")
_RANGE_RE = re.compile(r"^(\d{4})\s*[-–—]\s*(\d{4})$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


# --------------------------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious, ``severity="warning"``) in an observation file.

    ``row`` is the 1-based line (CSV, header = 1) or sheet row (Excel); ``cell`` is the Excel
    cell such as ``"F12"`` and ``sheet`` its sheet; ``hint`` says how to fix it when known.
    """

    file: str
    row: int | None
    column: str | None
    cell: str | None
    expected: str
    found: str
    severity: Literal["error", "warning"] = "error"
    sheet: str | None = None
    hint: str = ""

    def __str__(self) -> str:
        """One line: where, what was expected, what was found, and the fix."""
        where = self.file
        if self.sheet is not None:
            where += f" sheet '{self.sheet}'"
        if self.cell is not None:
            where += f" cell {self.cell}"
        parts = []
        if self.row is not None and self.cell is None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        if parts:
            where += (" " if self.cell is None else " (") + ", ".join(parts) + (
                "" if self.cell is None else ")")
        text = f"{where}: expected {self.expected}, got {self.found}"
        if self.hint:
            text += f" ({self.hint})"
        return ("warning: " + text) if self.severity == "warning" else text


@dataclass(frozen=True)
class _Loc:
    """Where a raw value came from."""

    row: int | None
    column: str | None
    cell: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class _Raw:
    """A raw value (text from a CSV, any cell value from Excel) and its location."""

    value: object
    loc: _Loc


_Record = dict[str, _Raw]


class _Bad(Exception):
    """Internal: a value could not be read; carries what was expected and the fix."""

    def __init__(self, expected: str, hint: str = ""):
        super().__init__(expected)
        self.expected, self.hint = expected, hint


class _Sink:
    """Collects problems for one file, dropping exact repeats."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []
        self._seen: set[Problem] = set()

    def add(self, loc: _Loc | None, expected: str, found: str, *,
            severity: Literal["error", "warning"] = "error", hint: str = "") -> None:
        loc = loc or _Loc(None, None)
        p = Problem(self.file, loc.row, loc.column, loc.cell, expected, found, severity,
                    loc.sheet, hint)
        if p not in self._seen:
            self._seen.add(p)
            self.items.append(p)


def _show(raw: object) -> str:
    """How a found value is quoted in a message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "an empty cell"
    if isinstance(raw, bool):
        return f"the logical value {raw}"
    if isinstance(raw, (_dt.datetime, _dt.date, _dt.time)):
        return f"a date/time ({raw.isoformat()})"
    if isinstance(raw, (int, float)):
        return repr(raw)
    text = str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


# --------------------------------------------------------------------------------------------
# value parsers
# --------------------------------------------------------------------------------------------
_NUM_DOT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DOT_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+\.\d+$|^[+-]?\d{1,3}(?:,\d{3}){2,}$")
_DOT_AMBIG = re.compile(r"^[+-]?\d{1,3},\d{3}$")
_COMMA_DEC = re.compile(r"^[+-]?\d+,\d+$")
_VN_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_NUM_COMMA = re.compile(r"^[+-]?\d+(?:,\d+)?$")


def parse_number(text: str, decimal: str = ".") -> float:
    """Read one number written as text under the module's ``decimal`` rule.

    Raises ``ValueError`` whose message says what was expected and how to fix it.

    Examples
    --------
    >>> parse_number("3,5", decimal=","), parse_number("48.749", decimal=","), parse_number("3.5")
    (3.5, 48749.0, 3.5)
    """
    try:
        return _number(text, decimal)
    except _Bad as bad:
        raise ValueError(f"expected {bad.expected}, got {text!r}"
                         + (f" ({bad.hint})" if bad.hint else "")) from None


def _number(raw: object, decimal: str) -> float:
    """Parse a cell value to a finite float or raise :class:`_Bad`."""
    if isinstance(raw, bool):
        raise _Bad("a number")
    if isinstance(raw, (_dt.datetime, _dt.date, _dt.time)):
        raise _Bad("a number", "Excel turned the entry into a date; format the cell as Number "
                               "and type the value again")
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = "" if raw is None else str(raw)
        s = text.strip().replace("\u2212", "-").replace("\u00a0", " ").replace("\u202f", " ")
        if not s:
            raise _Bad("a number")
        if " " in s:
            raise _Bad("a number", "remove the spaces inside the number")
        if s.endswith("%"):
            raise _Bad("a number without a '%' sign", "percent values are written as 0-100, "
                                                      "e.g. 45.2 for 45,2%")
        value = _number_text(s, decimal)
    if not math.isfinite(value):
        raise _Bad("a finite number")
    return value


def _number_text(s: str, decimal: str) -> float:
    """Apply the decimal rule to stripped text."""
    if decimal == ".":
        if _NUM_DOT.match(s):
            return float(s)
        if _DOT_GROUPED.match(s):
            return float(s.replace(",", ""))
        if _DOT_AMBIG.match(s):
            raise _Bad("a number with '.' as the decimal mark",
                       f"ambiguous: 1234 with ',' grouping thousands, or {s.replace(',', '.')} in "
                       "Vietnamese format; write it without grouping, or use --decimal , "
                       "if the file is in Vietnamese format")
        if _COMMA_DEC.match(s) or _VN_GROUPED.match(s):
            raise _Bad("a number with '.' as the decimal mark",
                       "',' is read as a decimal mark only with --decimal , (Vietnamese format: "
                       "3,5 = 3.5)")
        raise _Bad("a number")
    if _NUM_COMMA.match(s):
        return float(s.replace(",", "."))
    if _VN_GROUPED.match(s):
        return float(s.replace(".", "").replace(",", "."))
    if _NUM_DOT.match(s) or _DOT_GROUPED.match(s):
        raise _Bad("a number with ',' as the decimal mark (--decimal ,)",
                   "ambiguous: under --decimal , a '.' only groups thousands in threes "
                   "(48.749 = 48749); write 3,5 for three and a half, or drop --decimal ,")
    raise _Bad("a number")


def _year(raw: object) -> int:
    """Parse a year cell (whole number) or raise :class:`_Bad`; the range is checked later."""
    if isinstance(raw, bool) or isinstance(raw, (_dt.datetime, _dt.date, _dt.time)):
        raise _Bad("a year as a whole number, e.g. 2023")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isfinite(raw) and raw.is_integer():
            return int(raw)
        raise _Bad("a year as a whole number, e.g. 2023")
    s = "" if raw is None else str(raw).strip()
    if not s:
        raise _Bad("a year as a whole number, e.g. 2023")
    if _YEAR_RE.match(s):
        return int(float(s))
    raise _Bad("a year as a whole number, e.g. 2023")


def _text(raw: object) -> str:
    """A text cell as a stripped string ('' for empty)."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw).strip()


def _indicator_id(raw: object) -> str:
    """Normalise an id: Excel drops the leading zero of ``02``, so one digit is zero-padded."""
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        raw = int(raw)
    s = _text(raw)
    return "0" + s if len(s) == 1 and s.isdigit() else s


def _slug(text: str) -> str:
    """ASCII place code suggested for a name such as 'Khánh Hòa'."""
    t = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", t).strip("_")


# --------------------------------------------------------------------------------------------
# reading files into raw records
# --------------------------------------------------------------------------------------------
def _load_bytes(path: Path, sink: _Sink) -> bytes | None:
    """The file's bytes, or None with a problem when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        sink.add(None, "an existing file", "no such file")
    except IsADirectoryError:
        sink.add(None, "a file", "a directory")
    except OSError as exc:
        sink.add(None, "a readable file", exc.strerror or type(exc).__name__)
    except ValueError as exc:  # e.g. a NUL character in the name
        sink.add(None, "a valid file name", str(exc))
    return None


def _decode(data: bytes, sink: _Sink) -> str | None:
    """Decode CSV bytes: UTF-8 (BOM tolerated), UTF-16/32 with BOM, UTF-16 without BOM."""
    boms = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
            (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
    encoding, body = None, data
    for bom, enc in boms:
        if data.startswith(bom):
            encoding, body = enc, data[len(bom):]
            break
    if encoding is None and b"\x00" in data:
        odd, even = data[1::2], data[0::2]
        if len(data) % 2 == 0 and odd.count(0) > 0.3 * len(odd) and even.count(0) == 0:
            encoding = "utf-16-le"
        elif len(data) % 2 == 0 and even.count(0) > 0.3 * len(even) and odd.count(0) == 0:
            encoding = "utf-16-be"
        else:
            sink.add(None, "a CSV text file", "binary data (NUL bytes)")
            return None
    try:
        text = body.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        if encoding is None:
            line = body[: exc.start].count(b"\n") + 1
            sink.add(_Loc(line, None), "UTF-8 text",
                     f"the byte 0x{body[exc.start]:02x}, which is not UTF-8",
                     hint="save it from Excel as 'CSV UTF-8', or re-encode a Windows-1258 file")
        else:
            sink.add(None, f"{encoding} text, as its byte-order mark says",
                     f"bytes that are not {encoding}")
        return None
    bad = _CONTROL_RE.search(text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        sink.add(_Loc(line, None), "a CSV text file",
                 f"binary data (control character U+{ord(bad.group()):04X})")
        return None
    return text


def _pick_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""
    best, best_key = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        names = next(csv.reader([header_line], delimiter=delim), [])
        known = sum(n.strip().lower() in INPUT_COLUMNS for n in names)
        key = (known, header_line.count(delim))
        if key > best_key:
            best, best_key = delim, key
    return best


def _header(names: list[object], locs: list[_Loc], sink: _Sink, require_source: bool
            ) -> dict[str, int] | None:
    """Map known column names to positions; report missing/duplicate/unknown columns."""
    known = INPUT_COLUMNS
    index: dict[str, int] = {}
    for i, (name, loc) in enumerate(zip(names, locs, strict=True)):
        key = _text(name).lower().lstrip("\ufeff")
        if key in index:
            sink.add(loc, "each column once", f"a second column '{key}'")
        elif key in known:
            index[key] = i
        else:
            sink.add(loc, "a known column (" + ", ".join(known) + ")",
                     f"the column {_show(name)}" if key else "a column without a name",
                     severity="warning", hint="it is ignored")
    required = _REQUIRED + (("source",) if require_source else ())
    missing = [c for c in required if c not in index]
    found = ", ".join(repr(_text(n)) for n in names if _text(n)) or "no column names"
    first = locs[0] if locs else _Loc(1, None)
    for col in missing:
        sink.add(_Loc(first.row, col, None, first.sheet), f"a column '{col}'",
                 f"the columns {found}")
    return None if missing else index


def _read_csv(data: bytes, sink: _Sink, require_source: bool) -> list[_Record]:
    """Raw records of a CSV/TSV file (any of the handled encodings and delimiters)."""
    text = _decode(data, sink)
    if text is None:
        return []
    if not text.strip():
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")
        return []
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = _pick_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[_Record] = []
    index: dict[str, int] | None = None
    header: list[str] = []
    prev = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            sink.add(_Loc(prev + 1, None), "a well-formed CSV line", f"a CSV error ({exc})")
            return records
        line, prev = prev + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if index is None:
            header = fields
            index = _header(fields, [_Loc(line, _text(f) or None) for f in fields], sink,
                            require_source)
            if index is None:
                return []
            continue
        if len(fields) > len(header):
            sink.add(_Loc(line, None), f"{len(header)} fields, as in the header",
                     f"{len(fields)} fields",
                     hint="a value with an unquoted ',' (like 3,5) splits in two: quote it, "
                          "or separate fields with ';'" if delimiter == "," else
                     f"a value holding the separator {delimiter!r}? quote it")
            continue
        records.append({name: _Raw(fields[i] if i < len(fields) else "", _Loc(line, name))
                        for name, i in index.items()})
    if index is None:
        sink.add(None, "a CSV with a header row (indicator_id, year, value, ...)",
                 "an empty file")
    return records


def _read_xlsx(data: bytes, sink: _Sink, require_source: bool, ids: list[str]
               ) -> list[_Record]:
    """Raw records of the Excel template (or a first sheet laid out like the CSV)."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:  # openpyxl raises many kinds of exception on a damaged file: all mean "unreadable"
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        sink.add(None, "an Excel .xlsx workbook", f"a file that is not one "
                 f"({type(exc).__name__}: {str(exc)[:80]})")
        return []
    try:
        def rows(name: str) -> list[tuple[object, ...]]:
            return [tuple(r) for r in wb[name].iter_rows(values_only=True)]

        def loc(sheet: str, r: int, c: int, column: str | None) -> _Loc:
            return _Loc(r, column, f"{get_column_letter(c + 1)}{r}", sheet)

        try:
            names = list(wb.sheetnames)
            if DATA_SHEET in names:
                data_rows = rows(DATA_SHEET)
                src_rows = rows(SOURCES_SHEET) if SOURCES_SHEET in names else None
                return _template_records(data_rows, src_rows, loc, sink, require_source, ids)
            if not names:
                sink.add(None, "a workbook with a sheet", "no sheets")
                return []
            return _long_sheet_records(names[0], rows(names[0]), loc, sink, require_source)
        except Exception as exc:  # noqa: BLE001  (openpyxl failing lazily on cell data)
            sink.add(None, "an Excel .xlsx workbook whose sheets can be read",
                     f"an unreadable sheet ({type(exc).__name__}: {str(exc)[:80]})")
            return []
    finally:
        wb.close()


def _long_sheet_records(sheet: str, rows: list[tuple[object, ...]], loc, sink: _Sink,
                        require_source: bool) -> list[_Record]:
    """A sheet laid out like the long CSV: header row, one observation per row."""
    records: list[_Record] = []
    index: dict[str, int] | None = None
    for r, row in enumerate(rows, start=1):
        if not any(_text(v) for v in row):
            continue
        if index is None:
            index = _header(list(row), [loc(sheet, r, c, _text(v) or None)
                                        for c, v in enumerate(row)], sink, require_source)
            if index is None:
                sink.add(_Loc(None, None, None, sheet),
                         f"a sheet named '{DATA_SHEET}' (made by khforecast template) or a "
                         "first sheet with columns indicator_id, year, value",
                         "neither", severity="warning")
                return []
            continue
        records.append({name: _Raw(row[i] if i < len(row) else None, loc(sheet, r, i, name))
                        for name, i in index.items()})
    if index is None:
        return []
    return records


def _template_records(data_rows: list[tuple[object, ...]],
                      src_rows: list[tuple[object, ...]] | None, loc, sink: _Sink,
                      require_source: bool, ids: list[str]) -> list[_Record]:
    """Map each filled value cell of the template's data sheet back to a long record."""
    if not data_rows:
        sink.add(_Loc(1, "indicator_id", "A1", DATA_SHEET), "the template's header row",
                 "an empty sheet")
        return []
    head = data_rows[0]
    keys = [_text(v).lower() for v in head]
    if "indicator_id" not in keys or "place" not in keys:
        missing = [k for k in ("indicator_id", "place") if k not in keys]
        for k in missing:
            sink.add(_Loc(1, k, "A1", DATA_SHEET), f"a header cell '{k}' in row 1",
                     "the header " + ", ".join(repr(k) for k in keys if k))
        return []
    c_id, c_place = keys.index("indicator_id"), keys.index("place")
    years: dict[int, _Raw] = {c: _Raw(head[c], loc(DATA_SHEET, 1, c, _text(head[c])))
                              for c in range(c_place + 1, len(head)) if _text(head[c])}
    sources = _sources(src_rows, loc, sink, ids) if src_rows is not None else []
    used: set[int] = set()
    records: list[_Record] = []
    for r, row in enumerate(data_rows[1:], start=2):
        for c in range(c_place + 1, len(row)):
            value = row[c]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            header = years.get(c)
            if header is None:
                sink.add(loc(DATA_SHEET, 1, c, None), "a year in this header cell, as the "
                         "values below it need one", "an empty header cell")
                continue
            column = _text(head[c])
            rec: _Record = {
                "indicator_id": _Raw(row[c_id] if c_id < len(row) else None,
                                     loc(DATA_SHEET, r, c_id, "indicator_id")),
                "place": _Raw(row[c_place], loc(DATA_SHEET, r, c_place, "place")),
                "year": header,
                "value": _Raw(value, loc(DATA_SHEET, r, c, column)),
            }
            _attach_source(rec, sources, sink, require_source, used)
            records.append(rec)
    for s in sources:
        if s.row not in used:
            sink.add(s.fields["indicator_id"].loc, "a sources row that matches values of the "
                     "data sheet (indicator_id, place, year)", f"no value of {s.indicator_id} "
                     f"at {s.place} in its years", severity="warning")
    return records


@dataclass(frozen=True)
class _SourceRow:
    """One row of the template's sources sheet."""

    indicator_id: str
    place: str
    first: int | None     # None: every year
    last: int | None
    fields: dict[str, _Raw]
    row: int


def _sources(rows: list[tuple[object, ...]], loc, sink: _Sink, ids: list[str]
             ) -> list[_SourceRow]:
    """Parse the sources sheet; each row covers one year, a range '2018-2024' or all years."""
    out: list[_SourceRow] = []
    if not rows:
        return out
    keys = [_text(v).lower() for v in rows[0]]
    index = {k: keys.index(k) for k in SOURCES_COLUMNS if k in keys}
    if "indicator_id" not in index or "source" not in index:
        sink.add(_Loc(1, None, "A1", SOURCES_SHEET), "the header " + ", ".join(SOURCES_COLUMNS),
                 "the header " + (", ".join(repr(k) for k in keys if k) or "nothing"))
        return out
    for r, row in enumerate(rows[1:], start=2):
        if not any(_text(v) for v in row):
            continue
        cells = {k: _Raw(row[i] if i < len(row) else None, loc(SOURCES_SHEET, r, i, k))
                 for k, i in index.items()}
        spec = cells.get("year")
        first = last = None
        if spec is not None and _text(spec.value):
            s = _text(spec.value)
            m = _RANGE_RE.match(s)
            try:
                first, last = (int(m[1]), int(m[2])) if m else (_year(spec.value),) * 2
            except _Bad:
                sink.add(spec.loc, "a year, a range such as 2018-2024, or nothing (every year)",
                         _show(spec.value))
                continue
            if first > last:
                sink.add(spec.loc, "a range from an earlier to a later year", _show(spec.value))
                continue
        iid = _indicator_id(cells["indicator_id"].value)
        if iid not in ids:
            sink.add(cells["indicator_id"].loc, "an indicator id of the catalog",
                     _show(cells["indicator_id"].value), hint=_id_hint(iid, ids))
            continue
        place = _text(cells["place"].value) if "place" in cells else ""
        out.append(_SourceRow(iid, place or DEFAULT_PLACE, first, last, cells, r))
    return out


def _attach_source(rec: _Record, sources: list[_SourceRow], sink: _Sink,
                   require_source: bool, used: set[int]) -> None:
    """Give a template value the source/status/note of the most specific sources row."""
    iid = _indicator_id(rec["indicator_id"].value)
    place = _text(rec["place"].value) or DEFAULT_PLACE
    try:
        year = _year(rec["year"].value)
    except _Bad:
        return
    ranked: dict[int, list[_SourceRow]] = {}
    for s in sources:
        if s.indicator_id != iid or s.place != place:
            continue
        if s.first is None:
            ranked.setdefault(2, []).append(s)
        elif s.first <= year <= s.last:
            ranked.setdefault(0 if s.first == s.last else 1, []).append(s)
    if not ranked:
        if require_source:
            sink.add(rec["value"].loc, f"a row in sheet '{SOURCES_SHEET}' giving the source of "
                     f"{iid} at {place} in {year}", "none")
        return
    best = ranked[min(ranked)]
    used.update(s.row for s in best)
    if len(best) > 1:
        sink.add(best[1].fields["indicator_id"].loc, f"one sources row for {iid} at {place} "
                 f"in {year}", f"rows {best[0].row} and {best[1].row} of sheet "
                 f"'{SOURCES_SHEET}' both covering it")
    for key in ("source", "status", "note"):
        if key in best[0].fields:
            rec[key] = best[0].fields[key]


# --------------------------------------------------------------------------------------------
# checking records
# --------------------------------------------------------------------------------------------
def _catalog(catalog: Catalog | None) -> Catalog:
    """The given catalog or the package's."""
    if catalog is not None:
        return catalog
    from khforecast.catalog import load_catalog
    return load_catalog()


def _where(loc: _Loc, file: str) -> str:
    """A short reference to a location, for messages pointing at another row."""
    if loc.cell is not None:
        return f"{file} sheet '{loc.sheet}' cell {loc.cell}"
    return f"{file} row {loc.row}"


def _id_hint(iid: str, ids: list[str]) -> str:
    """The nearest catalog ids to an unknown one, or where to find the ids."""
    near = ([i for i in ids if len(iid) > 2 and i.startswith(iid)][:3]
            or difflib.get_close_matches(iid, [i for i in ids if "." in i], n=2, cutoff=0.6))
    if near:
        return "did you mean " + " or ".join(near) + "?"
    return (f"the ids run {ids[0]}-{ids[-1]}, with sub-rows such as 33.poor_districts; see "
            "`khforecast catalog`")


def _check_records(records: list[_Record], sink: _Sink, cat: Catalog, decimal: str,
                   require_source: bool) -> list[dict[str, object]]:
    """Validate raw records; return the good rows as dicts."""
    ids = list(cat.indicators)
    id_set = set(ids)
    children: dict[str, list[str]] = {}
    for ind in cat.indicators.values():
        if ind.parent:
            children.setdefault(ind.parent, []).append(ind.id)
    headings = {pid: kids for pid, kids in children.items()
                if not any(t.is_quantitative for t in cat.get(pid).targets.values())}
    good: list[dict[str, object]] = []
    for rec in records:
        ok = True
        raw = rec["indicator_id"]
        iid = _indicator_id(raw.value)
        if not iid:
            sink.add(raw.loc, "an indicator id such as 02 or 33.poor_districts", _show(raw.value))
            ok = False
        elif iid not in id_set:
            sink.add(raw.loc, "an indicator id of the catalog", _show(raw.value),
                     hint=_id_hint(iid, ids))
            ok = False
        elif iid in headings:
            sink.add(raw.loc, f"one of the rows of {iid} (" + ", ".join(headings[iid]) + ")",
                     f"{iid}, a heading with no target of its own", severity="warning")
        place = DEFAULT_PLACE
        if "place" in rec:
            text = _text(rec["place"].value)
            if text and not _PLACE_RE.match(text):
                slug = _slug(text)
                sink.add(rec["place"].loc, "a place code (lowercase ASCII and '_', e.g. "
                         "khanh_hoa)", _show(rec["place"].value),
                         hint=f"write {slug}" if slug and _PLACE_RE.match(slug) else "")
                ok = False
            place = text or DEFAULT_PLACE
        year: int | None = None
        try:
            year = _year(rec["year"].value)
            if not YEAR_MIN <= year <= YEAR_MAX:
                sink.add(rec["year"].loc, f"a year in {YEAR_MIN}-{YEAR_MAX}",
                         _show(rec["year"].value))
                ok = False
        except _Bad as bad:
            sink.add(rec["year"].loc, bad.expected, _show(rec["year"].value), hint=bad.hint)
            ok = False
        value: float | None = None
        vraw = rec["value"]
        try:
            value = _number(vraw.value, decimal)
        except _Bad as bad:
            sink.add(vraw.loc, bad.expected, _show(vraw.value), hint=bad.hint)
            ok = False
        if value is not None and iid in id_set:
            ind = cat.get(iid)
            if ind.domain == "percent" and not 0.0 <= value <= 100.0:
                sink.add(vraw.loc, f"a percent in 0-100 (unit of {iid}: '{ind.unit}')",
                         _show(vraw.value))
                ok = False
            elif ind.domain == "positive" and value < 0:
                sink.add(vraw.loc, f"a value >= 0 (unit of {iid}: '{ind.unit}')",
                         _show(vraw.value))
                ok = False
        source = _text(rec["source"].value) if "source" in rec else ""
        if require_source and not source and "source" in rec:
            sink.add(rec["source"].loc, "the source of the value (publication, URL)",
                     "an empty cell")
            ok = False
        status = ""
        if "status" in rec:
            status = _text(rec["status"].value).lower()
            if status and status not in STATUSES:
                sink.add(rec["status"].loc, "a status in " + ", ".join(STATUSES) + " (or empty)",
                         _show(rec["status"].value))
                ok = False
        note = _text(rec["note"].value) if "note" in rec else ""
        if ok:
            good.append({"indicator_id": iid, "place": place, "year": year, "value": value,
                         "source": source, "status": status, "note": note,
                         "_loc": vraw.loc})
    return good


def _level_targets_exceed_one(ind: object) -> bool:
    """True when a level target of the indicator is above 1 (so values <= 1 look like fractions)."""
    level_kinds = {"lt", "le", "gt", "ge", "eq", "between", "maintain"}
    for t in getattr(ind, "targets", {}).values():
        if t.kind in level_kinds:
            if any(v is not None and abs(v) > 1 for v in (t.value, t.low, t.high)):
                return True
    return False


def _cross_checks(rows: list[dict[str, object]], sinks: Mapping[str, _Sink],
                  cat: Catalog) -> list[dict[str, object]]:
    """Duplicates (pointing at both rows) and percent series given as 0-1 fractions."""
    first: dict[tuple[object, object, object], tuple[str, _Loc]] = {}
    kept: list[dict[str, object]] = []
    for row in rows:
        key = (row["indicator_id"], row["place"], row["year"])
        loc: _Loc = row["_loc"]  # type: ignore[assignment]
        if key in first:
            f0, l0 = first[key]
            sinks[row["file"]].add(  # type: ignore[index]
                _Loc(loc.row, "indicator_id, place, year", loc.cell, loc.sheet),
                "one value per indicator, place and year",
                f"a second value for {key[0]} at {key[1]} in {key[2]}; the first is at "
                f"{_where(l0, f0)}")
            continue
        first[key] = (row["file"], loc)  # type: ignore[assignment]
        kept.append(row)
    series: dict[tuple[object, object], list[dict[str, object]]] = {}
    for row in kept:
        series.setdefault((row["indicator_id"], row["place"]), []).append(row)
    for (iid, place), items in series.items():
        ind = cat.get(iid)
        values = [float(r["value"]) for r in items]  # type: ignore[arg-type]
        if (ind.domain == "percent" and max(values) <= 1.0 and max(values) > 0
                and _level_targets_exceed_one(ind)):
            r0 = items[0]
            sinks[r0["file"]].add(  # type: ignore[index]
                r0["_loc"], "a percent written as 0-100",  # type: ignore[arg-type]
                f"every value of {iid} at {place} <= 1 (e.g. {values[0]!r}) while its target "
                "is above 1", severity="warning",
                hint="multiply by 100 if these are fractions")
    return kept


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
        Default: :func:`khforecast.catalog.load_catalog`.
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
