"""Who leads each row and task now: every plan lead mapped to its own successor since 2025.

The plan (Aug 2024) names departments as they were; in 2025 several were merged or split
(``agencies.yaml``). A row with two leads (36: ``Sở VH&TT; Sở LĐTB&XH``) maps each lead to its
successor on its own, and a lead whose functions were split by topic (the labour department:
labour, gender equality, social protection, vocational training, poverty) takes the successor of
the row's topic from ``lead_topics.yaml``, never a position in a list. :func:`leads_of` is the
one place that answers "who leads this now"; every page names departments from it.

Examples
--------
>>> from khforecast.plan.catalog import load_catalog
>>> cat = load_catalog()
>>> [(lead.plan_name, lead.current, lead.changed) for lead in leads_of(cat, cat.get("36"))]
[('Sở VH&TT', 'Sở Văn hóa, Thể thao và Du lịch', True), ('Sở LĐTB&XH', 'Sở Nội vụ', True)]
>>> [(lead.current, lead.changed) for lead in leads_of(cat, cat.get("57"))]
[('Sở Y tế', False)]
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

import yaml

from khforecast.errors import CatalogError
from khforecast.plan.catalog import Catalog, Indicator, Task

__all__ = ["Lead", "current_departments", "department_items", "department_slug",
           "lead_text", "leads_of", "lead_current_mismatches", "load_lead_topics", "resolve_department"]

_FILE = "lead_topics.yaml"


@dataclass(frozen=True)
class Lead:
    """One lead of a row or task: the plan's spelling, the agency, and who holds it now.

    ``changed`` is False when the body kept its name (``Sở Y tế``, ``Sở GD&ĐT`` = ``Sở Giáo dục
    và Đào tạo``), so pages say "now ..." only for bodies that really changed.
    """

    plan_name: str
    agency_id: str
    current: str
    changed: bool
    sourced: bool


@functools.lru_cache(maxsize=1)
def load_lead_topics() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """``{"indicators"|"tasks": {row id: {agency id: topic}}}`` from ``lead_topics.yaml``.

    Raises
    ------
    CatalogError
        When the file is not a mapping of that shape.
    """
    text = resources.files("khforecast").joinpath("data", "catalog", _FILE).read_text(
        encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    out = {}
    for kind in ("indicators", "tasks"):
        block = doc.get(kind) or {}
        if not isinstance(block, Mapping) or not all(
                isinstance(v, Mapping) for v in block.values()):
            raise CatalogError(f"{_FILE}: expected '{kind}' to map row ids to "
                               "{agency id: topic}")
        out[kind] = MappingProxyType({str(k): MappingProxyType(dict(v))
                                      for k, v in block.items()})
    return MappingProxyType(out)


def leads_of(catalog: Catalog, item: Indicator | Task) -> tuple[Lead, ...]:
    """The leads of an indicator or task, each mapped to its own successor.

    Raises
    ------
    CatalogError
        When a lead is not in ``agencies.yaml``, or its functions were split and
        ``lead_topics.yaml`` gives no (or an unknown) topic for this row.
    """
    kind = "tasks" if isinstance(item, Task) else "indicators"
    names = (item.lead,) if isinstance(item, Task) else item.leads
    topics = load_lead_topics()[kind].get(item.id, {})
    out = []
    for name in names:
        agency = catalog.agency(name)
        if len(agency.successors) == 1:
            current = next(iter(agency.successors.values()))
        else:
            topic = topics.get(agency.id)
            if topic not in agency.successors:
                raise CatalogError(
                    f"{_FILE}: {kind} {item.id!r}, lead {name!r}: expected a topic among "
                    f"{', '.join(agency.successors)}, found {topic!r}")
            current = agency.successors[topic]
        out.append(Lead(plan_name=name, agency_id=agency.id, current=current,
                        changed=current not in agency.names, sourced=agency.sourced))
    return tuple(out)


def lead_text(leads: Sequence[Lead], now: Callable[[str], str] = " (nay là {})".format,
              name: Callable[[str], str] = str) -> str:
    """The one name rule: each plan name, followed by ``now(current)`` only where it changed.

    ``name`` writes a body's name (English pages gloss it: ``Department of Home Affairs (Sở Nội
    vụ)``); ``now`` writes the successor after it, separator included (default Vietnamese
    `` (nay là X)``). No parentheses nest: current names hold none (tests check it).

    >>> lead_text([Lead("Sở LĐTB&XH", "ldtbxh", "Sở Nội vụ", True, False),
    ...            Lead("Sở Y tế", "yt", "Sở Y tế", False, True)])
    'Sở LĐTB&XH (nay là Sở Nội vụ); Sở Y tế'
    """
    return "; ".join(f"{name(x.plan_name)}{now(name(x.current))}" if x.changed
                     else name(x.plan_name) for x in leads)


def lead_current_mismatches(catalog: Catalog) -> list[str]:
    """Rows whose stored ``lead_current`` differs from :func:`leads_of` (empty when consistent).

    ``lead_current`` in ``indicators.yaml`` and ``tasks.csv`` is kept for readers of those
    files; this check keeps it from drifting from the mapping.
    """
    bad = []
    items: list[Indicator | Task] = [*catalog.indicators.values(), *catalog.tasks]
    for item in items:
        derived = "; ".join(lead.current for lead in leads_of(catalog, item))
        if derived != item.lead_current:
            bad.append(f"{item.id}: stored {item.lead_current!r}, mapped {derived!r}")
    return bad


def current_departments(catalog: Catalog) -> list[str]:
    """Every body that leads an indicator or a task today, in the plan's order of first mention."""
    items: list[Indicator | Task] = [*catalog.indicators.values(), *catalog.tasks]
    seen = {lead.current: None for item in items for lead in leads_of(catalog, item)}
    return list(seen)


def department_items(catalog: Catalog, department: str
                     ) -> tuple[list[Indicator], list[Task]]:
    """The indicators (sub-rows included) and tasks one current department leads."""
    name = resolve_department(catalog, department)
    inds = [i for i in catalog.indicators.values()
            if any(lead.current == name for lead in leads_of(catalog, i))]
    tasks = [t for t in catalog.tasks if leads_of(catalog, t)[0].current == name]
    return inds, tasks


def department_slug(name: str) -> str:
    """An ASCII file-name stem for a department: ``Sở Nội vụ`` -> ``so_noi_vu``."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def resolve_department(catalog: Catalog, name: str) -> str:
    """The current department a user means: its name (any case, with or without accents) or slug.

    Raises
    ------
    CatalogError
        When no current lead department matches; the message lists them.
    """
    known = current_departments(catalog)
    key = department_slug(name)
    for dept in known:
        if department_slug(dept) == key:
            return dept
    raise CatalogError(f"unknown department {name!r}: expected one of the current lead "
                       f"departments: {'; '.join(known)}")
