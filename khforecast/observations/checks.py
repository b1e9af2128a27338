"""Checking raw records against the catalog.

Ids, places, years, values, duplicates and cross-file conflicts.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING

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
            if status and status not in OBSERVATION_STATUSES:
                sink.add(rec["status"].loc, "a status in " + ", ".join(OBSERVATION_STATUSES) + " (or empty)",
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
    for t in getattr(ind, "targets", {}).values():
        if KINDS[t.kind].level:
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
