"""Plan 8839/KH-UBND as data: the 92 indicators of Appendix I, the tasks of Appendix II, agencies.

The reviewed data files live in ``khforecast/data/catalog/`` (``indicators.yaml``,
``tasks.csv``, ``sectors.yaml``, ``agencies.yaml``; their README gives every field and reading
rule). :func:`load_catalog` reads and checks them once per process.

Examples
--------
>>> cat = load_catalog()
>>> len(cat.numbered())
92
>>> cat.get("03").targets[2025].kind, cat.get("03").targets[2025].value
('lt', 3.8)
"""
from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
import yaml

from khforecast.errors import CatalogError, TargetParseError
from khforecast.plan.kinds import KINDS
from khforecast.plan.targets import Domain, Target

__all__ = [
    "SECTORS",
    "TARGET_YEARS",
    "Sector",
    "Agency",
    "Indicator",
    "Task",
    "Catalog",
    "load_catalog",
    "normalize_sector",
]

TARGET_YEARS: tuple[int, int] = (2025, 2030)
#: the plan's ten sectors, I..X, in order
SECTORS: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
_DATA = ("data", "catalog")
_TARGET_FIELDS = ("text", "reading", "kind", "value", "low", "high", "base_year", "start_year",
                  "decimals", "strict", "note")


@dataclass(frozen=True)
class Sector:
    """A sector of Appendix I (I..X) or a task group of Appendix II, with its names."""

    id: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Agency:
    """An agency the plan names, with its spellings and its successor(s) since 2025."""

    id: str
    name: str
    aliases: tuple[str, ...]
    name_en: str
    successors: Mapping[str, str] = field(hash=False)
    sourced: bool
    note: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every spelling of the agency in the plan (full name first)."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Indicator:
    """One row of Appendix I (or a sub-row such as ``33.poor_districts``) with its targets.

    ``lead`` is the plan's text (two leads joined by ``"; "``); ``lead_current`` names the
    body that holds the function since the 2025 reorganisation (see ``agencies.yaml``).
    ``domain``, ``direction`` and ``observed_as`` describe the OBSERVED series: e.g. row 33's
    target is a yearly fall but what is observed is the poverty rate (percent, lower better).
    """

    id: str
    parent: str | None
    sector: str
    name_vi: str
    name_en: str
    unit: str
    domain: Domain
    direction: Literal[1, -1, 0]
    observed_as: Literal["level", "flow"]
    r42: bool
    lead: str
    partners: tuple[str, ...]
    targets: Mapping[int, Target] = field(hash=False)
    unit_en: str = ""
    lead_current: str = ""
    note: str = ""
    plan_line: int | None = None

    @property
    def leads(self) -> tuple[str, ...]:
        """The lead agencies as the plan names them (usually one)."""
        return tuple(x for x in (s.strip() for s in self.lead.split(";")) if x)

    @property
    def is_numbered(self) -> bool:
        """True for the plan's 92 numbered rows (``01``..``92``), False for sub-rows."""
        return self.parent is None

    @property
    def has_target(self) -> bool:
        """True when at least one target year has a numeric or qualitative target."""
        return any(t.kind != "none" for t in self.targets.values())

    def to_dict(self) -> dict[str, Any]:
        """The indicator as a JSON-ready dict (targets keyed by year as a string)."""
        return {
            "id": self.id, "parent": self.parent, "sector": self.sector,
            "name_vi": self.name_vi, "name_en": self.name_en, "unit": self.unit,
            "unit_en": self.unit_en, "domain": self.domain, "direction": self.direction,
            "observed_as": self.observed_as, "r42": self.r42, "lead": self.lead,
            "lead_current": self.lead_current, "partners": list(self.partners),
            "note": self.note, "plan_line": self.plan_line,
            "targets": {str(y): t.to_dict() for y, t in self.targets.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Indicator:
        """Rebuild an indicator from :meth:`to_dict` output (e.g. ``catalog --format json``)."""
        kw = dict(d)
        kw["partners"] = tuple(kw.get("partners") or ())
        kw["targets"] = MappingProxyType(
            {int(y): Target(**t) for y, t in (kw.get("targets") or {}).items()})
        return cls(**kw)


@dataclass(frozen=True)
class Task:
    """One task of Appendix II: what, who leads, who approves, and by when."""

    id: str
    group: str
    number: int
    title_vi: str
    lead: str
    lead_current: str
    partners: str
    approving_level: str
    due_text: str
    due_year: int | None
    plan_line: int | None = None
    note: str = ""


class Catalog:
    """The plan as data: indicators by id, tasks, sectors, task groups and agencies.

    Build it with :func:`load_catalog`; the mappings are read-only.
    """

    def __init__(self, indicators: Mapping[str, Indicator], tasks: Iterable[Task],
                 sectors: Mapping[str, Sector], task_groups: Mapping[str, Sector],
                 agencies: Iterable[Agency], meta: Mapping[str, Any],
                 bodies_en: Mapping[str, str] | None = None):
        self.indicators: Mapping[str, Indicator] = MappingProxyType(dict(indicators))
        self.tasks: tuple[Task, ...] = tuple(tasks)
        self.sectors: Mapping[str, Sector] = MappingProxyType(dict(sectors))
        self.task_groups: Mapping[str, Sector] = MappingProxyType(dict(task_groups))
        self.agencies: tuple[Agency, ...] = tuple(agencies)
        self.meta: Mapping[str, Any] = MappingProxyType(dict(meta))
        self._by_name = {n: a for a in self.agencies for n in a.names}
        self._name_en = {**{n: a.name_en for a in self.agencies for n in a.names},
                         **dict(bodies_en or {})}

    def __repr__(self) -> str:
        return (f"Catalog({len(self.numbered())} numbered indicators, "
                f"{len(self.indicators)} rows, {len(self.tasks)} tasks)")

    # ---- indicators ---------------------------------------------------------------------
    def get(self, indicator_id: str) -> Indicator:
        """The indicator with this id (``"03"``, ``"33.poor_districts"``; ``"3"`` is ``"03"``).

        Raises
        ------
        CatalogError
            When the id is not in the catalog (the message lists close ids).
        """
        key = str(indicator_id).strip()
        head, dot, tail = key.partition(".")
        if head.isdigit() and len(head) == 1:
            key = f"0{head}{dot}{tail}"
        try:
            return self.indicators[key]
        except KeyError:
            near = [i for i in self.indicators if i.split(".")[0] == key.split(".")[0]]
            hint = f"; ids starting alike: {', '.join(near)}" if near else \
                "; ids are 01..92, sub-rows like 33.poor_districts"
            raise CatalogError(f"unknown indicator id {indicator_id!r}{hint}") from None

    def numbered(self) -> list[Indicator]:
        """The plan's 92 numbered rows, in plan order."""
        return [i for i in self.indicators.values() if i.is_numbered]

    def children(self, indicator_id: str) -> list[Indicator]:
        """The sub-rows of an indicator (e.g. ``82.urban``, ``82.rural`` for ``82``)."""
        pid = self.get(indicator_id).id
        return [i for i in self.indicators.values() if i.parent == pid]

    def in_sector(self, sector: str) -> list[Indicator]:
        """The indicators (sub-rows included) of a sector, in plan order.

        ``sector`` is a Roman numeral (``"VI"``, any case) or its number (``"6"``).
        """
        sid = normalize_sector(sector)
        return [i for i in self.indicators.values() if i.sector == sid]

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator (sub-rows included) with both targets side by side.

        Returns
        -------
        DataFrame
            ``id, parent, sector, sector_name_vi, sector_name_en, name_vi, name_en, unit,
            unit_en, domain, direction, observed_as, r42, lead, lead_current, partners, note``,
            then for each year Y in 2025, 2030: ``target_text_Y, kind_Y, value_Y, low_Y,
            high_Y, base_year_Y, start_year_Y, decimals_Y, strict_Y, note_Y``. ``partners`` is
            joined with ``"; "``.
        """
        rows = []
        for ind in self.indicators.values():
            sec = self.sectors[ind.sector]
            row: dict[str, Any] = {
                "id": ind.id, "parent": ind.parent, "sector": ind.sector,
                "sector_name_vi": sec.name_vi, "sector_name_en": sec.name_en,
                "name_vi": ind.name_vi, "name_en": ind.name_en, "unit": ind.unit,
                "unit_en": ind.unit_en, "domain": ind.domain, "direction": ind.direction,
                "observed_as": ind.observed_as, "r42": ind.r42, "lead": ind.lead,
                "lead_current": ind.lead_current, "partners": "; ".join(ind.partners),
                "note": ind.note,
            }
            for y in TARGET_YEARS:
                t = ind.targets[y]
                row.update({
                    f"target_text_{y}": t.text, f"kind_{y}": t.kind, f"value_{y}": t.value,
                    f"low_{y}": t.low, f"high_{y}": t.high, f"base_year_{y}": t.base_year,
                    f"start_year_{y}": t.start_year, f"decimals_{y}": t.decimals,
                    f"strict_{y}": t.strict, f"note_{y}": t.note,
                })
            rows.append(row)
        df = pd.DataFrame(rows)
        for y in TARGET_YEARS:
            for c in (f"base_year_{y}", f"start_year_{y}"):
                df[c] = df[c].astype("Int64")
            for c in (f"value_{y}", f"low_{y}", f"high_{y}"):
                df[c] = df[c].astype(float)
        return df

    # ---- agencies and tasks -------------------------------------------------------------
    def agency(self, name: str) -> Agency:
        """The agency a plan spelling refers to (``"Sở LĐTB&XH"`` -> the labour department).

        Raises
        ------
        CatalogError
            When no agency in ``agencies.yaml`` has that name or alias.
        """
        try:
            return self._by_name[name.strip()]
        except KeyError:
            raise CatalogError(f"unknown agency {name!r}: not a name or alias in "
                               "agencies.yaml") from None

    def agency_name_en(self, name: str) -> str:
        """The English name of an agency (any plan spelling) or of a body formed in 2025;
        raises :class:`CatalogError` when ``agencies.yaml`` gives none."""
        try:
            return self._name_en[name.strip()]
        except KeyError:
            raise CatalogError(f"agencies.yaml: no English name for {name!r}: expected it among "
                               "the agencies' names and aliases or in 'current_bodies'") from None

    def tasks_frame(self) -> pd.DataFrame:
        """One row per Appendix II task.

        Returns
        -------
        DataFrame
            ``id, group, group_name_vi, number, title_vi, lead, lead_current, partners,
            approving_level, due_text, due_year`` (nullable Int64), ``plan_line, note``.
        """
        rows = []
        for t in self.tasks:
            rows.append({
                "id": t.id, "group": t.group, "group_name_vi": self.task_groups[t.group].name_vi,
                "number": t.number, "title_vi": t.title_vi, "lead": t.lead,
                "lead_current": t.lead_current, "partners": t.partners,
                "approving_level": t.approving_level, "due_text": t.due_text,
                "due_year": t.due_year, "plan_line": t.plan_line, "note": t.note,
            })
        df = pd.DataFrame(rows)
        df["due_year"] = df["due_year"].astype("Int64")
        return df

    def tasks_for(self, *, agency: str | None = None, sector: str | None = None) -> list[Task]:
        """Tasks led by an agency (any plan spelling), or by a lead agency of a sector's rows.

        With both, a task must satisfy both. With neither, every task.
        """
        tasks = list(self.tasks)
        if agency is not None:
            aid = self.agency(agency).id
            tasks = [t for t in tasks if self.agency(t.lead).id == aid]
        if sector is not None:
            ids = {self.agency(lead).id for i in self.in_sector(sector) for lead in i.leads}
            tasks = [t for t in tasks if self.agency(t.lead).id in ids]
        return tasks


# --------------------------------------------------------------------------------------------
def normalize_sector(sector: str) -> str:
    """``"vi"``, ``"VI"`` or ``"6"`` -> ``"VI"``.

    Raises
    ------
    CatalogError
        When the text is not a sector I..X (or 1..10).
    """
    s = str(sector).strip().upper()
    if s.isdigit() and 1 <= int(s) <= len(SECTORS):
        return SECTORS[int(s) - 1]
    if s in SECTORS:
        return s
    raise CatalogError(f"unknown sector {sector!r}: expected I..X (or 1..10)")


def _read_text(name: str) -> str:
    return resources.files("khforecast").joinpath(*_DATA, name).read_text(encoding="utf-8")


def _fail(file: str, where: str, what: str) -> CatalogError:
    return CatalogError(f"{file} {where}: {what}")


def _build_target(file: str, iid: str, year: int, raw: Any, direction: int) -> Target:
    where = f"indicator {iid!r}, target {year}"
    if not isinstance(raw, Mapping):
        raise _fail(file, where, f"expected a mapping with text and kind, got {raw!r}")
    unknown = set(raw) - set(_TARGET_FIELDS)
    if unknown:
        raise _fail(file, where, f"unknown field(s) {', '.join(sorted(unknown))}; expected "
                                 f"{', '.join(_TARGET_FIELDS)}")
    if "text" not in raw or "kind" not in raw:
        raise _fail(file, where, "expected fields text and kind")
    if raw["kind"] not in KINDS:
        raise _fail(file, where, f"kind: expected one of {', '.join(KINDS)}, "
                                 f"got {raw['kind']!r}")
    kw = {k: v for k, v in raw.items() if k != "reading"}
    for f in ("value", "low", "high"):
        if kw.get(f) is not None:
            if isinstance(kw[f], bool) or not isinstance(kw[f], (int, float)):
                raise _fail(file, where, f"{f}: expected a number, got {kw[f]!r}")
            kw[f] = float(kw[f])
    kw["text"] = str(kw["text"])
    try:
        return Target(year=year, direction=direction, **kw)
    except (TargetParseError, TypeError) as exc:
        raise _fail(file, where, str(exc)) from None


def _load_indicators(sectors: Mapping[str, Sector]) -> tuple[dict[str, Indicator], dict]:
    file = "indicators.yaml"
    try:
        doc = yaml.safe_load(_read_text(file))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{file}: not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("indicators"), list):
        raise CatalogError(f"{file}: expected a mapping with an 'indicators' list")
    required = ("id", "parent", "sector", "name_vi", "name_en", "unit", "domain", "direction",
                "observed_as", "r42", "lead", "partners", "targets")
    out: dict[str, Indicator] = {}
    for n, raw in enumerate(doc["indicators"], start=1):
        where = f"entry {n} (id {raw.get('id')!r})" if isinstance(raw, Mapping) else f"entry {n}"
        if not isinstance(raw, Mapping):
            raise _fail(file, where, f"expected a mapping, got {raw!r}")
        missing = [f for f in required if f not in raw]
        if missing:
            raise _fail(file, where, f"missing field(s) {', '.join(missing)}")
        iid = str(raw["id"])
        if iid in out:
            raise _fail(file, where, "duplicate id")
        checks = [
            ("sector", raw["sector"] in sectors, "a sector I..X"),
            ("domain", raw["domain"] in ("percent", "positive", "real"),
             "percent, positive or real"),
            ("direction", raw["direction"] in (1, -1, 0) and not isinstance(raw["direction"], bool),
             "1, -1 or 0"),
            ("observed_as", raw["observed_as"] in ("level", "flow"), "level or flow"),
            ("r42", isinstance(raw["r42"], bool), "true or false"),
            ("parent", raw["parent"] is None or str(raw["parent"]) in out,
             "null or the id of an earlier row"),
            ("partners", isinstance(raw["partners"], list), "a list"),
            ("targets", isinstance(raw["targets"], Mapping)
             and sorted(raw["targets"]) == list(TARGET_YEARS), "targets for 2025 and 2030"),
        ]
        for fname, ok, expected in checks:
            if not ok:
                raise _fail(file, f"{where}, field {fname!r}",
                            f"expected {expected}, got {raw[fname]!r}")
        targets = {y: _build_target(file, iid, y, raw["targets"][y], int(raw["direction"]))
                   for y in TARGET_YEARS}
        out[iid] = Indicator(
            id=iid, parent=None if raw["parent"] is None else str(raw["parent"]),
            sector=raw["sector"], name_vi=str(raw["name_vi"]), name_en=str(raw["name_en"]),
            unit=str(raw["unit"]), domain=raw["domain"], direction=int(raw["direction"]),
            observed_as=raw["observed_as"], r42=raw["r42"], lead=str(raw["lead"]),
            partners=tuple(str(p) for p in raw["partners"]),
            targets=MappingProxyType(targets), unit_en=str(raw.get("unit_en", "")),
            lead_current=str(raw.get("lead_current", "")), note=str(raw.get("note", "") or ""),
            plan_line=raw.get("plan_line"),
        )
    return out, dict(doc.get("meta") or {})


def _load_sectors() -> tuple[dict[str, Sector], dict[str, Sector]]:
    doc = yaml.safe_load(_read_text("sectors.yaml"))
    try:
        sectors = {k: Sector(k, v["name_vi"], v["name_en"]) for k, v in doc["sectors"].items()}
        groups = {k: Sector(k, v["name_vi"], v["name_en"]) for k, v in doc["task_groups"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(f"sectors.yaml: expected 'sectors' and 'task_groups' mappings of "
                           f"id -> {{name_vi, name_en}}; problem at {exc!r}") from None
    return sectors, groups


def _load_agencies() -> tuple[list[Agency], dict[str, str]]:
    """The agencies the plan names, and the English names of the bodies formed in 2025."""
    doc = yaml.safe_load(_read_text("agencies.yaml"))
    out = []
    for n, a in enumerate(doc.get("agencies") or [], start=1):
        try:
            out.append(Agency(id=a["id"], name=a["name"], aliases=tuple(a.get("aliases") or ()),
                              name_en=a["name_en"], successors=MappingProxyType(
                                  dict(a["successors"])), sourced=bool(a["sourced"]),
                              note=str(a.get("note", ""))))
        except (KeyError, TypeError) as exc:
            raise CatalogError(f"agencies.yaml entry {n}: missing or malformed field {exc}") \
                from None
    bodies = {}
    for n, b in enumerate(doc.get("current_bodies") or [], start=1):
        if not (isinstance(b, Mapping) and isinstance(b.get("name"), str)
                and isinstance(b.get("name_en"), str) and b["name_en"].strip()):
            raise CatalogError(f"agencies.yaml current_bodies entry {n}: expected a mapping "
                               f"with text fields 'name' and 'name_en', found {b!r}")
        bodies[b["name"]] = b["name_en"]
    return out, bodies


def _load_tasks(groups: Mapping[str, Sector]) -> list[Task]:
    file = "tasks.csv"
    reader = csv.DictReader(io.StringIO(_read_text(file)))
    cols = ("id", "group", "number", "title_vi", "lead", "lead_current", "partners",
            "approving_level", "due_text", "due_year", "plan_line", "note")
    if tuple(reader.fieldnames or ()) != cols:
        raise CatalogError(f"{file}: expected columns {', '.join(cols)}; found "
                           f"{', '.join(reader.fieldnames or ())}")
    out = []
    for row_no, r in enumerate(reader, start=2):
        where = f"row {row_no}"
        if r["group"] not in groups:
            raise _fail(file, f"{where}, column 'group'", f"expected I..VII, got {r['group']!r}")
        for c in ("number", "plan_line"):
            if not r[c].isdigit():
                raise _fail(file, f"{where}, column {c!r}", f"expected an integer, got {r[c]!r}")
        due = r["due_year"].strip()
        if due and not (due.isdigit() and len(due) == 4):
            raise _fail(file, f"{where}, column 'due_year'",
                        f"expected a year or empty, got {due!r}")
        out.append(Task(id=r["id"], group=r["group"], number=int(r["number"]),
                        title_vi=r["title_vi"], lead=r["lead"], lead_current=r["lead_current"],
                        partners=r["partners"], approving_level=r["approving_level"],
                        due_text=r["due_text"], due_year=int(due) if due else None,
                        plan_line=int(r["plan_line"]), note=r["note"]))
    return out


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Read and check the bundled catalog (cached: later calls return the same object).

    Raises
    ------
    CatalogError
        When a data file is malformed: the message names the file, the entry or row, the
        field, what was expected and what was found.
    """
    sectors, groups = _load_sectors()
    indicators, meta = _load_indicators(sectors)
    agencies, bodies_en = _load_agencies()
    tasks = _load_tasks(groups)
    cat = Catalog(indicators, tasks, sectors, groups, agencies, meta, bodies_en)
    for agency in agencies:
        for body in agency.successors.values():
            cat.agency_name_en(body)  # every body a page can name has an English name
    for ind in indicators.values():
        for lead in ind.leads:
            cat.agency(lead)  # every lead must be a known agency
    for t in tasks:
        cat.agency(t.lead)
    return cat
