"""Where each indicator's data usually come from: survey or report, publisher, frequency.

``khforecast/data/catalog/data_sources.yaml`` maps every Appendix I row to a source profile
(the Labour Force Survey, the yearly poverty review, the health statistics reports, ...). The
data requests of the briefings and scorecards read it through :func:`source_of`, so a page can
say whom to ask, for what and how often it is published. The mapping is the team's reading
(see the file's header), not a provincial decision.

Examples
--------
>>> from khforecast.plan.catalog import load_catalog
>>> src = source_of(load_catalog(), "02")
>>> src.kind, src.source_en, src.frequency
('survey', 'Labour Force Survey', 'quarterly')
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal

import yaml

from khforecast.errors import CatalogError
from khforecast.plan.catalog import Catalog

__all__ = ["FREQUENCIES", "SOURCE_KINDS", "DataSource", "load_data_sources", "source_of"]

_FILE = "data_sources.yaml"
#: how a source collects its figures
SOURCE_KINDS: tuple[str, ...] = ("survey", "administrative", "estimate", "none")
#: how often a source publishes
FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "yearly", "biennial", "irregular",
                                "none")
_FIELDS = ("kind", "source_vi", "source_en", "publisher_vi", "publisher_en", "frequency")


@dataclass(frozen=True)
class DataSource:
    """A source profile: what publishes an indicator, who, and how often."""

    profile: str
    kind: Literal["survey", "administrative", "estimate", "none"]
    source_vi: str
    source_en: str
    publisher_vi: str
    publisher_en: str
    frequency: Literal["monthly", "quarterly", "yearly", "biennial", "irregular", "none"]
    sourced: bool = False

    def source(self, lang: str) -> str:
        """The source's name in ``lang`` (``vi`` or ``en``)."""
        return self.source_vi if lang == "vi" else self.source_en

    def publisher(self, lang: str) -> str:
        """The publisher's name in ``lang`` (``vi`` or ``en``)."""
        return self.publisher_vi if lang == "vi" else self.publisher_en


@functools.lru_cache(maxsize=1)
def load_data_sources() -> tuple[Mapping[str, DataSource], Mapping[str, str]]:
    """(profiles by id, profile id by indicator id) from ``data_sources.yaml``.

    Raises
    ------
    CatalogError
        When a profile lacks a field, has an unknown kind or frequency, or an indicator names
        an unknown profile.
    """
    text = resources.files("khforecast").joinpath("data", "catalog", _FILE).read_text(
        encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    sourced = bool((doc.get("meta") or {}).get("sourced", False))
    profiles: dict[str, DataSource] = {}
    for pid, raw in (doc.get("profiles") or {}).items():
        missing = [f for f in _FIELDS if not isinstance(raw, Mapping) or f not in raw]
        if missing:
            raise CatalogError(f"{_FILE}: profile {pid!r}: missing field(s) {', '.join(missing)}")
        if raw["kind"] not in SOURCE_KINDS or raw["frequency"] not in FREQUENCIES:
            raise CatalogError(f"{_FILE}: profile {pid!r}: expected kind in "
                               f"{', '.join(SOURCE_KINDS)} and frequency in "
                               f"{', '.join(FREQUENCIES)}, found {raw['kind']!r}, "
                               f"{raw['frequency']!r}")
        profiles[str(pid)] = DataSource(profile=str(pid), sourced=sourced,
                                        **{f: str(raw[f]) for f in _FIELDS})  # type: ignore[arg-type]
    by_id = {str(k): str(v) for k, v in (doc.get("indicators") or {}).items()}
    unknown = sorted({v for v in by_id.values() if v not in profiles})
    if unknown:
        raise CatalogError(f"{_FILE}: indicators name unknown profile(s) {', '.join(unknown)}")
    return MappingProxyType(profiles), MappingProxyType(by_id)


def source_of(catalog: Catalog, indicator_id: str) -> DataSource:
    """The source profile of an indicator (a sub-row without its own takes its parent's).

    Raises
    ------
    CatalogError
        When the indicator (or its parent) has no profile in ``data_sources.yaml``.
    """
    profiles, by_id = load_data_sources()
    ind = catalog.get(indicator_id)
    pid = by_id.get(ind.id) or (by_id.get(ind.parent) if ind.parent else None)
    if pid is None:
        raise CatalogError(f"{_FILE}: no source profile for indicator {ind.id!r}")
    return profiles[pid]
