"""Reading the Excel template (or a long sheet) into raw records.

With the sources sheet attached to each row.
"""
from __future__ import annotations

import io
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
    _indicator_id,
    _Loc,
    _Raw,
    _Record,
    _show,
    _Sink,
    _text,
    _year,
)


def _open_workbook(data: bytes, sink: _Sink) -> Any:
    """The workbook (read-only, values) in ``data``, or None with a problem when unreadable."""
    from openpyxl import load_workbook

    try:  # openpyxl raises many kinds of exception on a damaged file: all mean "unreadable"
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        sink.add(None, "an Excel .xlsx workbook", f"a file that is not one "
                 f"({type(exc).__name__}: {str(exc)[:80]})")
        return None


def _read_xlsx(data: bytes, sink: _Sink, require_source: bool, ids: list[str]
               ) -> list[_Record]:
    """Raw records of the Excel template (or a first sheet laid out like the CSV)."""
    from openpyxl.utils import get_column_letter

    wb = _open_workbook(data, sink)
    if wb is None:
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
