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

import datetime as _dt
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from khforecast.errors import Problem

__all__ = [
    "parse_number",
    "OBSERVATION_COLUMNS",
    "INPUT_COLUMNS",
    "OBSERVATION_STATUSES",
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
OBSERVATION_STATUSES: tuple[str, ...] = ("final", "preliminary", "estimate", "illustrative")
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
class _Loc:
    """Where a raw value came from."""

    row: int | None
    column: str | None
    cell: str | None = None
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class _Raw:
    """A raw value (text from a CSV, any cell value from Excel) and its location."""

    value: object
    loc: _Loc


_Record = dict[str, _Raw]


class _Formula(str):
    """An Excel cell holding a formula saved without its computed value (the text is the
    formula); every reader of a value refuses it, naming the cell."""


_FORMULA_HINT = ("the workbook was saved without the formula's result (by a program other "
                 "than Excel?): open it in Excel and save it again, or type the value")


class _Bad(Exception):
    """Internal: a value could not be read; carries what was expected and the fix."""

    def __init__(self, expected: str, hint: str = ""):
        super().__init__(expected)
        self.expected, self.hint = expected, hint


#: problems listed per file; the rest are counted (a file of 2 million bad rows would
#: otherwise print 2 million lines)
PROBLEMS_MAX = 200


class _Sink:
    """Collects problems for one file, dropping exact repeats; lists the first
    :data:`PROBLEMS_MAX` and counts the rest (:meth:`problems` adds a line saying so)."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []
        self._seen: set[Problem] = set()
        self.more = {"error": 0, "warning": 0}

    def add(self, loc: _Loc | None, expected: str, found: str, *,
            severity: Literal["error", "warning"] = "error", hint: str = "") -> None:
        loc = loc or _Loc(None, None)
        p = Problem(self.file, loc.row, loc.column, loc.cell, expected, found, severity,
                    loc.sheet, hint)
        if p in self._seen:
            return
        if len(self.items) >= PROBLEMS_MAX:
            self.more[severity] += 1
            return
        self._seen.add(p)
        self.items.append(p)

    @property
    def has_errors(self) -> bool:
        """True when any error (listed or not) was found."""
        return self.more["error"] > 0 or any(p.severity == "error" for p in self.items)

    def problems(self) -> list[Problem]:
        """The listed problems, sorted (sources sheet last, then by row), then the count of
        the unlisted ones as one more problem."""
        out = sorted(self.items, key=lambda p: (p.sheet == SOURCES_SHEET, p.row or 0))
        n = self.more["error"] + self.more["warning"]
        if n:
            kind = "error" if self.more["error"] else "warning"
            out.append(Problem(self.file, None, None, None,
                               f"at most {PROBLEMS_MAX} problems listed per file",
                               f"{n:,} more not listed ({self.more['error']:,} error(s), "
                               f"{self.more['warning']:,} warning(s)); fix the ones above and "
                               "validate again", kind, count=self.more["error"]))
        return out


def _show(raw: object) -> str:
    """How a found value is quoted in a message."""
    if isinstance(raw, _Formula):
        return f"the formula {str(raw)[:57]!r} with no computed value"
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
    if isinstance(raw, _Formula):
        raise _Bad("a value computed by the spreadsheet", _FORMULA_HINT)
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
    if isinstance(raw, _Formula):
        raise _Bad("a year computed by the spreadsheet", _FORMULA_HINT)
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


def _column_index(names: list[object], locs: list[_Loc], sink: _Sink, known: tuple[str, ...],
                  skip: Callable[[object, str], bool] = lambda name, key: False
                  ) -> dict[str, int]:
    """Known column names (case-blind, BOM dropped) -> positions, for every reader of a header
    row: a second column of a name is an error, an unknown one a warning (it is ignored);
    ``skip(name, key)`` passes a column over silently."""
    index: dict[str, int] = {}
    for i, (name, loc) in enumerate(zip(names, locs, strict=True)):
        key = _text(name).lower().lstrip("\ufeff")
        if skip(name, key):
            continue
        if key in index:
            sink.add(loc, "each column once", f"a second column '{key}'")
        elif key in known:
            index[key] = i
        else:
            sink.add(loc, "a known column (" + ", ".join(known) + ")",
                     f"the column {_show(name)}" if key else "a column without a name",
                     severity="warning", hint="it is ignored")
    return index
