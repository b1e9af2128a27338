"""Places as data: the 63 provinces before 1 July 2025, the 34 after, and how one is built from the other.

Resolution 202/2025/QH15 merged 52 provinces into 23; the mapping, its sources and the weights
that turn the parts' values into the merged province's live in ``khforecast/data/places/``
(see its README). ``khanh_hoa_merged`` (Khánh Hòa + Ninh Thuận) is one of the 23 cases of
:func:`combine_parts`, the one rule for all of them: a rate of the labour force is the parts'
mean weighted by labour force, another rate or average is weighted by population, a count is
their sum.
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pandas as pd

from khforecast.errors import KhforecastError

__all__ = ["COMBINE_RULES", "WEIGHT_KINDS", "NewProvince", "Places", "PlacesError", "Province",
           "Weight", "bundled_places", "check_panel_places", "combine_parts", "load_places"]

#: how the value of a merged province is made from its parts' values
Combine = Literal["population", "labour_force", "sum"]
COMBINE_RULES: tuple[str, ...] = ("population", "labour_force", "sum")
#: the weight kinds every part of a merged province must have (the weighted rules above)
WEIGHT_KINDS: tuple[str, ...] = ("population", "labour_force")

_FILES = ("provinces_63.csv", "provinces_34.csv", "merge_weights.csv")


class PlacesError(KhforecastError, ValueError):
    """Raised when a places file is malformed, a place code is unknown or a panel lacks a place."""


@dataclass(frozen=True)
class Province:
    """A province of 2008 - 30 June 2025 (a GSO panel unit) and the unit it belongs to since."""

    code: str
    name: str
    successor: str


@dataclass(frozen=True)
class NewProvince:
    """A province-level unit from 1 July 2025: its parts (the name-giver first) and figures."""

    code: str
    name: str
    type: str
    parts: tuple[str, ...]
    area_km2: float | None
    population: int | None
    source: str

    @property
    def merged(self) -> bool:
        """True for the 23 units Resolution 202/2025/QH15 formed from two or three provinces."""
        return len(self.parts) > 1


@dataclass(frozen=True)
class Weight:
    """One part's weight in its merged province, with the panel cell it was read from."""

    code: str
    kind: str
    value: float
    unit: str
    panel: str
    indicator: str
    year: int
    preliminary: bool

    def describe(self) -> str:
        """``"GSO population_average 2016"``: the provenance shown on derived rows."""
        return f"GSO {self.panel} {self.year}"


@dataclass(frozen=True)
class Places:
    """The 63 old provinces (``before``), the 34 new units (``after``) and the merge weights."""

    before: Mapping[str, Province]
    after: Mapping[str, NewProvince]
    weights: Mapping[tuple[str, str], Weight]

    @property
    def merged(self) -> tuple[str, ...]:
        """Codes of the 23 merged units, sorted."""
        return tuple(sorted(c for c, p in self.after.items() if p.merged))

    def select(self, spec: str | Sequence[str]) -> tuple[str, ...]:
        """The place codes a ``--places`` value names: ``all`` (the 63), ``merged`` (the 34) or codes.

        A list may mix old and new codes (``khanh_hoa,khanh_hoa_merged``) and is returned in
        the order given, duplicates dropped.

        Raises
        ------
        PlacesError
            Naming every unknown code, with the nearest known codes.

        Examples
        --------
        >>> places = load_places()
        >>> len(places.select("all")), len(places.select("merged"))
        (63, 34)
        >>> places.select("khanh_hoa, khanh_hoa_merged")
        ('khanh_hoa', 'khanh_hoa_merged')
        """
        items = [spec] if isinstance(spec, str) else list(spec)
        codes = [c.strip() for item in items for c in item.split(",") if c.strip()]
        if codes == ["all"]:
            return tuple(sorted(self.before))
        if codes == ["merged"]:
            return tuple(sorted(self.after))
        known = set(self.before) | set(self.after)
        bad = [c for c in codes if c not in known]
        if bad or not codes:
            hints = []
            for c in bad:
                near = difflib.get_close_matches(c, sorted(known), n=3, cutoff=0.6)
                hints.append(f"{c!r}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
            raise PlacesError(
                "--places: " + (f"unknown place code(s) {'; '.join(hints)}" if bad else "no code given")
                + "; expected 'all' (the 63 provinces before 1 July 2025), 'merged' (the 34 after)"
                " or a comma-separated list of codes from khforecast/data/places/")
        return tuple(dict.fromkeys(codes))

    def parts_of(self, code: str) -> tuple[str, ...]:
        """The old provinces a new unit was formed from (itself for an old or unchanged code)."""
        if code in self.after:
            return self.after[code].parts
        if code in self.before:
            return (code,)
        raise PlacesError(f"unknown place code {code!r}")

    def weights_of(self, code: str, kind: str) -> dict[str, Weight]:
        """``{part: Weight}`` of a merged unit for a weight kind (``population``, ``labour_force``)."""
        return {p: self.weights[(p, kind)] for p in self.parts_of(code)}

    def name(self, code: str) -> str:
        """The place's Vietnamese name (a new unit's name for new codes); the code if unknown."""
        if code in self.after:
            return self.after[code].name
        return self.before[code].name if code in self.before else code


def _read(name: str, folder: str | None) -> tuple[str, list[dict[str, str]]]:
    """The rows of one places file (the bundled one unless ``folder`` is given), with its path."""
    if folder is None:
        node = resources.files("khforecast").joinpath("data", "places", name)
        path, text = f"khforecast/data/places/{name}", node.read_text(encoding="utf-8")
    else:
        path = f"{folder.rstrip('/')}/{name}"
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except OSError as exc:
            raise PlacesError(f"{path}: cannot read the places file ({exc.strerror})") from None
    return path, list(csv.DictReader(io.StringIO(text)))


def _need(path: str, rows: list[dict[str, str]], columns: Iterable[str]) -> None:
    """Raise when a places file lacks a column."""
    missing = [c for c in columns if rows and c not in rows[0]] or ([] if rows else ["(no rows)"])
    if missing:
        raise PlacesError(f"{path}: expected columns {', '.join(columns)}; missing {', '.join(missing)}")


def load_places(folder: str | None = None) -> Places:
    """Read and check the places files (``khforecast/data/places/`` unless ``folder`` is given).

    Every problem is collected and raised at once, each with its file, line (header = line 1),
    column and what was expected: a ``successor`` that is not a new unit, a part that is not one
    of the 63, a province in no unit or in two, a part of a merged unit without a weight of every
    kind in :data:`WEIGHT_KINDS`, a weight that is not a positive number.

    Raises
    ------
    PlacesError

    Examples
    --------
    >>> places = load_places()
    >>> places.after["khanh_hoa_merged"].parts
    ('khanh_hoa', 'ninh_thuan')
    >>> places.before["ninh_thuan"].successor, len(places.merged)
    ('khanh_hoa_merged', 23)
    """
    p63, rows63 = _read(_FILES[0], folder)
    p34, rows34 = _read(_FILES[1], folder)
    pw, rowsw = _read(_FILES[2], folder)
    _need(p63, rows63, ("code", "name", "successor"))
    _need(p34, rows34, ("code", "name", "type", "parts", "area_km2", "population", "source"))
    _need(pw, rowsw, ("code", "kind", "value", "unit", "panel", "indicator", "year", "preliminary"))
    problems: list[str] = []
    before = {r["code"]: Province(r["code"], r["name"], r["successor"]) for r in rows63}
    after: dict[str, NewProvince] = {}
    owner: dict[str, str] = {}
    for line, r in enumerate(rows34, start=2):
        parts = tuple(x.strip() for x in r["parts"].split(";") if x.strip())
        for part in parts:
            if part not in before:
                problems.append(f"{p34} line {line}, column 'parts': {part!r} is not one of the "
                                f"63 provinces of {p63}")
            elif part in owner:
                problems.append(f"{p34} line {line}, column 'parts': {part!r} is already a part "
                                f"of {owner[part]!r}")
            owner.setdefault(part, r["code"])
        try:
            area = float(r["area_km2"]) if r["area_km2"] else None
            pop = int(r["population"]) if r["population"] else None
        except ValueError:
            problems.append(f"{p34} line {line}, columns 'area_km2'/'population': expected numbers "
                            f"or empty, got {r['area_km2']!r}/{r['population']!r}")
            area, pop = None, None
        after[r["code"]] = NewProvince(r["code"], r["name"], r["type"], parts, area, pop, r["source"])
    for line, prov in enumerate(rows63, start=2):
        code, succ = prov["code"], prov["successor"]
        if succ not in after:
            problems.append(f"{p63} line {line}, column 'successor': {succ!r} is not a unit of {p34}")
        elif owner.get(code) != succ:
            problems.append(f"{p63} line {line}: {code!r} has successor {succ!r}, but {p34} lists "
                            f"it in {owner.get(code, 'no unit')!r}")
    weights: dict[tuple[str, str], Weight] = {}
    for line, r in enumerate(rowsw, start=2):
        try:
            w = Weight(r["code"], r["kind"], float(r["value"]), r["unit"], r["panel"],
                       r["indicator"], int(r["year"]), r["preliminary"] == "true")
        except ValueError:
            problems.append(f"{pw} line {line}, columns 'value'/'year': expected numbers, got "
                            f"{r['value']!r}/{r['year']!r}")
            continue
        if w.kind not in WEIGHT_KINDS or not w.value > 0:
            problems.append(f"{pw} line {line}: expected kind in {', '.join(WEIGHT_KINDS)} and a "
                            f"positive value, got {w.kind!r} {r['value']!r}")
        weights[(w.code, w.kind)] = w
    for unit in after.values():
        for part in unit.parts if unit.merged else ():
            for kind in (WEIGHT_KINDS if part in before else ()):
                if (part, kind) not in weights:
                    problems.append(f"{pw}: merged province {unit.code!r} has no {kind} weight "
                                    f"for its part {part!r} (expected a row '{part},{kind},...')")
    if problems:
        raise PlacesError(f"{len(problems)} problem(s) in the places files\n" + "\n".join(problems))
    return Places(before, after, weights)


@functools.lru_cache(maxsize=1)
def bundled_places() -> Places:
    """The bundled places, read and checked once per process (do not mutate)."""
    return load_places()


def check_panel_places(panel: pd.DataFrame, codes: Iterable[str], name: str) -> None:
    """Raise unless the panel has rows for every code (GSO ``province_slug``) asked for.

    Raises
    ------
    PlacesError
        Naming the panel and every missing place code.
    """
    have = set(panel["province_slug"])
    missing = sorted(set(codes) - have)
    if missing:
        raise PlacesError(f"GSO panel {name!r}: no rows for province(s) {', '.join(missing)} "
                          f"(column 'province_slug'; expected every province of the run)")


def combine_parts(frame: pd.DataFrame, places: Places, code: str, rule: Combine, *,
                  key: Sequence[str] = ("year",)) -> pd.DataFrame:
    """The values of a merged unit, built from its parts' rows where the data lack them.

    ``frame`` is long (``place``, ``value`` and the ``key`` columns). For each key with a
    value for every part, the unit's value is the parts' sum (``rule="sum"``, counts and flows)
    or their mean weighted by ``rule`` (``population`` or ``labour_force``, see the README of
    ``khforecast/data/places/``). Keys with a part missing get no value: a partial sum or mean
    would be a different quantity.

    Returns
    -------
    DataFrame
        ``key`` columns, ``place`` (= ``code``), ``value``, ``how`` (the rule and its weights'
        provenance, for the derived rows' ``source``); sorted by ``key``.

    Examples
    --------
    >>> obs = pd.DataFrame({"place": ["khanh_hoa", "ninh_thuan"], "year": [2024, 2024],
    ...                     "value": [2.0, 4.0]})
    >>> combine_parts(obs, load_places(), "khanh_hoa_merged", "sum")[["year", "value"]].values.tolist()
    [[2024.0, 6.0]]
    """
    if rule not in COMBINE_RULES:
        raise PlacesError(f"combine rule {rule!r}: expected one of {', '.join(COMBINE_RULES)}")
    parts = places.parts_of(code)
    sub = frame[frame["place"].isin(parts)]
    wide = sub.pivot_table(index=list(key), columns="place", values="value", aggfunc="first")
    wide = wide.reindex(columns=list(parts)).dropna()
    names = " and ".join(parts)
    if rule == "sum":
        value, how = wide.sum(axis=1), f"sum of {names}"
    else:
        ws = places.weights_of(code, rule)
        w = pd.Series({p: ws[p].value for p in parts})
        value = (wide * w).sum(axis=1) / w.sum()
        how = f"weighted mean of {names} (weights: {ws[parts[0]].describe()})"
    out = value.rename("value").reset_index()
    out.insert(len(key), "place", code)
    out["how"] = how
    return out
