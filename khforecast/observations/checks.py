"""Checking raw records against the catalog.

Ids, places, years, values, duplicates and cross-file conflicts.
"""
from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from khforecast.observations.records import (
    _PLACE_RE,
    DEFAULT_PLACE,
    OBSERVATION_STATUSES,
    YEAR_MAX,
    YEAR_MIN,
    _Bad,
    _indicator_id,
    _Loc,
    _number,
    _Record,
    _show,
    _Sink,
    _slug,
    _text,
    _year,
)
from khforecast.plan.catalog import load_catalog
from khforecast.plan.kinds import KINDS

if TYPE_CHECKING:  # pragma: no cover
    from khforecast.plan.catalog import Catalog

#: a good row: indicator_id, place, year, value, source, status, note, file, where its value is
Row = tuple[str, str, int, float, str, str, str, str, _Loc]


# --------------------------------------------------------------------------------------------
# checking records
# --------------------------------------------------------------------------------------------
def _catalog(catalog: Catalog | None) -> Catalog:
    """The given catalog or the package's."""
    if catalog is not None:
        return catalog
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


def _check_records(records: Iterable[_Record], sink: _Sink, cat: Catalog, decimal: str,
                   require_source: bool) -> Iterator[Row]:
    """Validate raw records as they come; yield each good row as a compact :data:`Row` (its
    repeated texts interned, so 2 million rows keep one copy of each id, place and source)."""
    ids = list(cat.indicators)
    id_set = set(ids)
    children: dict[str, list[str]] = {}
    for ind in cat.indicators.values():
        if ind.parent:
            children.setdefault(ind.parent, []).append(ind.id)
    headings = {pid: kids for pid, kids in children.items()
                if not any(t.is_quantitative for t in cat.get(pid).targets.values())}
    intern = sys.intern
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
            if status and status not in OBSERVATION_STATUSES:
                sink.add(rec["status"].loc, "a status in " + ", ".join(OBSERVATION_STATUSES) + " (or empty)",
                         _show(rec["status"].value))
                ok = False
        note = _text(rec["note"].value) if "note" in rec else ""
        if ok:
            yield (intern(iid), intern(place), year, value, intern(source), intern(status),
                   note, sink.file, vraw.loc)


def _level_targets_exceed_one(ind: object) -> bool:
    """True when a level target of the indicator is above 1 (so values <= 1 look like fractions)."""
    for t in getattr(ind, "targets", {}).values():
        if KINDS[t.kind].level:
            if any(v is not None and abs(v) > 1 for v in (t.value, t.low, t.high)):
                return True
    return False


class Columns:
    """The good rows of every file, column by column (a 2-million-row file costs a few pointers
    per row); a CSV row's location is kept as its line number, an Excel row's as its cell."""

    def __init__(self) -> None:
        self.cols: list[list[object]] = [[] for _ in range(8)]
        self.locs: list[int | _Loc] = []
        self._years: dict[int, int] = {}

    def add(self, row: Row) -> None:
        """Append one good row."""
        for col, v in zip(self.cols, row[:8]):
            col.append(v)
        self.cols[2][-1] = self._years.setdefault(row[2], row[2])  # one int per year
        loc = row[8]
        self.locs.append(loc.row if loc.cell is None and loc.column == "value" else loc)

    def loc(self, i: int) -> _Loc:
        """Where row ``i``'s value was read."""
        loc = self.locs[i]
        return _Loc(loc, "value") if isinstance(loc, int) else loc


def _cross_checks(rows: Columns, sinks: Mapping[str, _Sink], cat: Catalog,
                  frame: pd.DataFrame) -> pd.DataFrame:
    """Duplicates (pointing at both rows) and percent series given as 0-1 fractions; returns
    ``frame`` (the rows in reading order) without the second and later duplicates."""
    keys = ["indicator_id", "place", "year"]
    dup = frame.duplicated(keys, keep="first").to_numpy()
    if dup.any():
        involved = frame[frame.duplicated(keys, keep=False)]
        first = involved.index.to_series().groupby(
            [involved[k] for k in keys], sort=False).transform("first")
        for i in np.flatnonzero(dup):
            j = int(first[i])
            loc = rows.loc(i)
            iid, place, year = (frame.iat[i, frame.columns.get_loc(k)] for k in keys)
            sinks[frame.iat[i, 7]].add(
                _Loc(loc.row, "indicator_id, place, year", loc.cell, loc.sheet),
                "one value per indicator, place and year",
                f"a second value for {iid} at {place} in {year}; the first is at "
                f"{_where(rows.loc(j), frame.iat[j, 7])}")
    kept = frame[~dup]
    groups = kept.reset_index().groupby(["indicator_id", "place"], sort=False)
    summary = groups.agg(top=("value", "max"), at=("index", "first"))
    for (iid, place), top, at in zip(summary.index, summary["top"], summary["at"]):
        ind = cat.get(iid)
        if ind.domain == "percent" and 0 < top <= 1.0 and _level_targets_exceed_one(ind):
            sinks[frame.iat[at, 7]].add(
                rows.loc(int(at)), "a percent written as 0-100",
                f"every value of {iid} at {place} <= 1 (e.g. {float(frame.iat[at, 3])!r}) "
                "while its target is above 1", severity="warning",
                hint="multiply by 100 if these are fractions")
    return kept
