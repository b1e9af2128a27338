"""Which GSO panel measures which plan indicator, and the panels as observations of any province.

``khforecast/data/gso_panels/mappings.yaml`` documents every bundled panel: ``match`` (same
definition as a catalog indicator: used as real data for every province), ``mismatch`` (with
why: never used as a proxy) or ``weight`` (a denominator). :func:`panel_observations` turns the
matches into rows of the observations table (DESIGN §2) for the 63 old provinces and, through
:func:`khforecast.observations.provinces.combine_parts`, for the 34 new units.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import pandas as pd
import yaml

from khforecast.observations.panels import list_panels, load_panel
from khforecast.observations.provinces import COMBINE_RULES, Places, PlacesError, check_panel_places, combine_parts

__all__ = ["PanelMapping", "load_mappings", "panel_observations"]

_FILE = "khforecast/data/gso_panels/mappings.yaml"
_STATUSES = ("match", "mismatch", "weight")


@dataclass(frozen=True)
class PanelMapping:
    """One panel indicator and what it is to the plan (see ``mappings.yaml``)."""

    panel: str
    indicator: str
    status: str
    catalog_id: str | None
    combine: str | None
    note: str


def load_mappings(catalog_ids: Iterable[str] | None = None) -> tuple[PanelMapping, ...]:
    """Read and check ``mappings.yaml``: every bundled panel covered, every match complete.

    Parameters
    ----------
    catalog_ids : the catalog's indicator ids; when given, each ``catalog_id`` must be one.

    Raises
    ------
    PlacesError
        Naming the entry (its position and panel) and the field at fault.

    Examples
    --------
    >>> [(m.panel, m.catalog_id) for m in load_mappings() if m.status == "match"][:2]
    [('unemployment_rate', '02'), ('informal_employment_rate', '04')]
    """
    text = resources.files("khforecast").joinpath("data", "gso_panels", "mappings.yaml").read_text("utf-8")
    raw = yaml.safe_load(text) or []
    ids = None if catalog_ids is None else set(catalog_ids)
    problems, out = [], []
    for i, entry in enumerate(raw, start=1):
        where = f"{_FILE} entry {i} (panel {entry.get('panel')!r})"
        m = PanelMapping(str(entry.get("panel")), str(entry.get("indicator")), str(entry.get("status")),
                         entry.get("catalog_id"), entry.get("combine"), str(entry.get("note", "")))
        if m.status not in _STATUSES:
            problems.append(f"{where}, field 'status': expected one of {', '.join(_STATUSES)}, got {m.status!r}")
        if m.panel not in list_panels():
            problems.append(f"{where}, field 'panel': not a bundled panel")
        if m.status == "match" and (m.combine not in COMBINE_RULES or not m.catalog_id):
            problems.append(f"{where}: a match needs 'catalog_id' and 'combine' in {', '.join(COMBINE_RULES)}")
        if ids is not None and m.catalog_id is not None and m.catalog_id not in ids:
            problems.append(f"{where}, field 'catalog_id': {m.catalog_id!r} is not a catalog id")
        if not m.note:
            problems.append(f"{where}, field 'note': say what the panel measures and why it (mis)matches")
        out.append(m)
    uncovered = sorted(set(list_panels()) - {m.panel for m in out})
    if uncovered:
        problems.append(f"{_FILE}: no entry for bundled panel(s) {', '.join(uncovered)}")
    if problems:
        raise PlacesError(f"{len(problems)} problem(s) in {_FILE}\n" + "\n".join(problems))
    return tuple(out)


def panel_observations(places: Places, codes: Sequence[str],
                       mappings: Sequence[PanelMapping] | None = None) -> pd.DataFrame:
    """Observations of the matched panels for the given place codes (old or new).

    An old province's value is the panel's; a merged unit's is built from its parts by the
    mapping's ``combine`` rule, for the years in which every part has a value. Each row's
    ``source`` names the GSO table (and for a merged unit the rule and its weights).

    Returns
    -------
    DataFrame
        ``indicator_id, place, year, value, source, status, note`` (DESIGN §2), sorted by
        indicator, place and year; ``status`` is ``preliminary`` where GSO marks the year so,
        else ``final``.

    Raises
    ------
    PlacesError
        When a matched panel has no rows for a province the codes need.
    """
    maps = [m for m in (mappings if mappings is not None else load_mappings()) if m.status == "match"]
    need = sorted({p for c in codes for p in places.parts_of(c)})
    frames = []
    for m in maps:
        panel = load_panel(m.panel)
        panel = panel[(panel["geo_level"] == "province") & (panel["indicator"] == m.indicator)]
        check_panel_places(panel, need, m.panel)
        long = panel.rename(columns={"province_slug": "place"})[["place", "year", "value", "preliminary", "source_note"]]
        title = str(long["source_note"].iloc[0])
        for code in codes:
            if code in places.before:
                rows = long[long["place"] == code].assign(source=f"GSO panel {m.panel}: {title}")
            else:
                rows = combine_parts(long, places, code, m.combine or "population")  # type: ignore[arg-type]
                prelim = long[long["place"].isin(places.parts_of(code))].groupby("year")["preliminary"].any()
                rows = rows.assign(preliminary=rows["year"].map(prelim).astype(bool),
                                   source=lambda f: f"GSO panel {m.panel}: derived, " + f["how"])
            frames.append(pd.DataFrame({
                "indicator_id": m.catalog_id, "place": code, "year": rows["year"].astype(int),
                "value": rows["value"].astype(float), "source": rows["source"],
                "status": rows["preliminary"].map({True: "preliminary", False: "final"}),
                "note": "",
            }))
    if not frames:
        return pd.DataFrame(columns=["indicator_id", "place", "year", "value", "source", "status", "note"])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["indicator_id", "place", "year"], kind="mergesort").reset_index(drop=True)
