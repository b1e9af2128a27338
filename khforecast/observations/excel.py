"""Reading the Excel template (or a long sheet) into raw records.

With the sources sheet attached to each row.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from khforecast.observations.checks import _id_hint
from khforecast.observations.csv_reader import _header
from khforecast.observations.records import (
    _RANGE_RE,
    DATA_SHEET,
    DEFAULT_PLACE,
    SOURCES_COLUMNS,
    SOURCES_SHEET,
    _Bad,
    _Formula,
    _indicator_id,
    _Loc,
    _Raw,
    _Record,
    _show,
    _Sink,
    _text,
    _year,
)


#: the most cells walked in one sheet (the template of 104 indicators x 46 years is 6,000):
#: a sheet declaring more is refused rather than read for minutes
CELLS_MAX = 5_000_000
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


class _TooLarge(Exception):
    """Internal: a sheet walks more than :data:`CELLS_MAX` cells."""


def _open_workbook(data: bytes, sink: _Sink, *, data_only: bool = True) -> Any:
    """The workbook (read-only; cached values, or formulas when not ``data_only``) in ``data``,
    or None with a problem when unreadable."""
    from openpyxl import load_workbook

    try:  # openpyxl raises many kinds of exception on a damaged file: all mean "unreadable"
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001
        sink.add(None, "an Excel .xlsx workbook", f"a file that is not one "
                 f"({type(exc).__name__}: {str(exc)[:80]})")
        return None


def _read_xlsx(data: bytes, sink: _Sink, require_source: bool, ids: list[str]
               ) -> list[_Record]:
    """Raw records of the Excel template (or a first sheet laid out like the CSV).

    Read-only and streaming: the sheet's declared size is ignored (one stray cell at XFD1048576
    does not make millions of rows) and at most :data:`CELLS_MAX` cells are walked. A formula
    saved without its computed value becomes a :class:`_Formula` (refused where it is read);
    merged cells are errors naming the range (only their first cell holds the value).
    """
    from openpyxl.utils import get_column_letter

    wb = _open_workbook(data, sink)
    if wb is None:
        return []
    formulas = _open_workbook(data, sink, data_only=False)
    if formulas is None:  # pragma: no cover - the same bytes just opened
        wb.close()
        return []
    try:
        def rows(name: str) -> list[tuple[object, ...]]:
            values, texts = wb[name], formulas[name]
            values.reset_dimensions()
            texts.reset_dimensions()
            out, walked = [], 0
            for r, (row, frow) in enumerate(zip(values.iter_rows(values_only=True),
                                                texts.iter_rows(values_only=True)), start=1):
                walked += len(row)
                if walked > CELLS_MAX:
                    raise _TooLarge(f"row {r}")
                if any(v is None and isinstance(f, str) and f.startswith("=")
                       for v, f in zip(row, frow)):
                    row = tuple(_Formula(f) if v is None and isinstance(f, str)
                                and f.startswith("=") else v for v, f in zip(row, frow))
                out.append(tuple(row))
            _merged(data, values, sink, name)
            return out

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
        except _TooLarge as exc:
            sink.add(None, f"sheets of at most {CELLS_MAX:,} cells",
                     f"more than that by {exc} (cells far to the right or below the data?)",
                     hint="delete the rows and columns after your data, save, and try again")
            return []
        except Exception as exc:  # noqa: BLE001  (openpyxl failing lazily on cell data)
            sink.add(None, "an Excel .xlsx workbook whose sheets can be read",
                     f"an unreadable sheet ({type(exc).__name__}: {str(exc)[:80]})")
            return []
    finally:
        wb.close()
        formulas.close()


def _merged(data: bytes, ws: object, sink: _Sink, sheet: str) -> None:
    """Report each merged range of a sheet (read-only sheets do not parse them: the sheet's
    XML is scanned for ``mergeCell`` elements, a megabyte at a time)."""
    path = getattr(ws, "_worksheet_path", None)
    if path is None:  # pragma: no cover - openpyxl always sets it for read-only sheets
        return
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path) as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            for m in _MERGE_RE.finditer(buf):
                ref = m.group(1).decode("ascii")
                first = ref.split(":")[0]
                sink.add(_Loc(int(re.sub(r"[A-Z]+", "", first)), None, ref, sheet),
                         "one value in each cell (no merged cells)",
                         f"the merged cells {ref}: only {first} holds a value, the others "
                         "read as empty", hint="unmerge them and type each year's value")
            tail = buf[-200:]
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
