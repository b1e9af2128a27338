"""``params/models.yaml``: which models project each indicator, and what a statistician knows.

The file holds a ``default`` entry and ``indicators: {id: entry}``; an indicator's entry
overrides the default key by key. An entry's keys (every one checked, an unknown key or a bad
value is a :class:`~khforecast.errors.ParamsError` naming the file, the key and what was
expected):

``models``
    registry names (``khforecast models`` lists them): one runs that model with its fallback
    chain, several are combined; ``[combination]`` is the validated default combination.
``interventions``
    ``{pulse: [years], step: year}``: pulse years are one-off shocks, a step year starts a
    level that lasts (:mod:`khforecast.interventions` says how each member uses them).
``exclude_years``
    years whose observations are left out of the fit (a known break); the gap is bridged.
``transform``
    ``logit``, ``log`` or ``none``: the modelling scale, instead of the one the indicator's unit
    implies (``logit`` needs a percent, ``log`` values >= 0).
``bounds``
    ``[low, high]``: plausible values; projected paths are held inside them.
``note``
    why: shown in the deep dive and the method note.

:func:`check_choices` then checks the entries against the catalog and the data (a pulse year
the data do not hold, bounds the observations break): the file alone cannot tell.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from khforecast._io import find_params_file, read_yaml_mapping
from khforecast.engine.interventions import Interventions
from khforecast.engine.models import FALLBACK, MODELS
from khforecast.errors import ParamsError

__all__ = ["TRANSFORMS", "ModelChoices", "SeriesChoice", "check_choices",
           "default_models_path", "load_model_choices", "registry_table", "series_summary"]

Transform = Literal["logit", "log", "none"]
#: transform -> the domain of :mod:`khforecast.scales` it models on
TRANSFORMS: Mapping[str, str] = {"logit": "percent", "log": "positive", "none": "real"}
_ENTRY_KEYS = ("models", "interventions", "exclude_years", "transform", "bounds", "note")
_YEARS = (1900, 2100)


@dataclass(frozen=True)
class SeriesChoice:
    """The settings of one indicator (the default merged with its own entry)."""

    models: tuple[str, ...] | None = None  # None: the registry's default
    pulse: tuple[int, ...] = ()
    step: int | None = None
    exclude_years: tuple[int, ...] = ()
    transform: Transform | None = None  # None: the indicator's own domain
    bounds: tuple[float, float] | None = None
    note: str = ""

    def interventions(self, years: Iterable[int]) -> Interventions:
        """The declared years as positions of a series over consecutive ``years``."""
        return Interventions.from_years(years, self.pulse, self.step)

    def domain(self, indicator_domain: str) -> str:
        """The modelling domain: the transform's if one is set, else the indicator's."""
        return TRANSFORMS[self.transform] if self.transform else indicator_domain

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the manifest)."""
        return {"models": list(self.models) if self.models else None, "pulse": list(self.pulse),
                "step": self.step, "exclude_years": list(self.exclude_years),
                "transform": self.transform, "bounds": list(self.bounds) if self.bounds else None,
                "note": self.note}


@dataclass(frozen=True)
class ModelChoices:
    """What ``models.yaml`` says: a default and per-indicator choices."""

    default: SeriesChoice = field(default_factory=SeriesChoice)
    indicators: Mapping[str, SeriesChoice] = field(default_factory=dict)
    source: str = ""  # the file read ("" for none)
    sha256: str = ""  # of the file's bytes
    explicit: Mapping[str, frozenset[str]] = field(default_factory=dict)  # keys each id sets

    def for_indicator(self, indicator_id: str) -> SeriesChoice:
        """The settings of ``indicator_id`` (the default when the file has no entry for it)."""
        return self.indicators.get(indicator_id, self.default)

    def with_indicator(self, indicator_id: str, **changes: Any) -> ModelChoices:
        """A copy where one indicator's settings change (the scenario explorer's switch)."""
        new = replace(self.for_indicator(indicator_id), **changes)
        keys = frozenset(self.explicit.get(indicator_id, frozenset()) | set(changes))
        return replace(self, indicators={**self.indicators, indicator_id: new},
                       explicit={**self.explicit, indicator_id: keys})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the manifest)."""
        return {"source": self.source, "sha256": self.sha256, "default": self.default.to_dict(),
                "indicators": {k: v.to_dict() for k, v in sorted(self.indicators.items())}}


def default_models_path(params_file: str | os.PathLike[str] | None = None) -> Path | None:
    """The ``models.yaml`` a run uses: beside ``params_file`` (a ``batch.yaml``) if there is one
    there, else ``params/models.yaml`` in the working directory or the source tree, if any."""
    if params_file:
        beside = Path(params_file).parent / "models.yaml"
        if beside.is_file():
            return beside
    return find_params_file("models.yaml")


def series_summary(paths: Any, choices: ModelChoices) -> dict[str, dict[str, Any]]:
    """Per series (``"id|place"``): the model that ran, the members asked for, the interventions.

    ``paths`` is a :class:`~khforecast.engine.paths.SamplePaths`; the summary goes to the
    manifest, so a run records exactly which members and interventions made each series.
    """
    out = {}
    for s in paths:
        c = choices.for_indicator(s.indicator_id)
        out[f"{s.indicator_id}|{s.place}"] = {
            "model": s.model, "status": s.status,
            "members": list(c.models) if c.models else None,
            "interventions": {"pulse": list(c.pulse), "step": c.step},
            "exclude_years": list(c.exclude_years), "transform": c.transform,
            "bounds": list(c.bounds) if c.bounds else None}
    return out


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def _bad(path: Path, key: str, expected: str, found: object) -> ParamsError:
    return ParamsError(f"{path}, key '{key}': expected {expected}, found {found!r}")


def _year(path: Path, key: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not _YEARS[0] <= v <= _YEARS[1]:
        raise _bad(path, key, f"a year {_YEARS[0]}-{_YEARS[1]}", v)
    return v


def _years(path: Path, key: str, v: object) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, list):
        raise _bad(path, key, "a list of years", v)
    years = [_year(path, key, x) for x in v]
    if len(set(years)) != len(years):
        raise _bad(path, key, "each year once", v)
    return tuple(sorted(years))


def _models(path: Path, key: str, v: object) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        raise _bad(path, key, "a non-empty list of model names", v)
    for name in v:
        if name not in MODELS:
            raise _bad(path, key, "model names from the registry (" + ", ".join(MODELS) + ")", name)
    if len(v) != len(set(v)):
        raise _bad(path, key, "each model once", v)
    if len(v) > 1 and "combination" in v:
        raise _bad(path, key, "'combination' alone, or a list of members to combine", v)
    return tuple(v)


def _number(path: Path, key: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise _bad(path, key, "a number", v)
    return float(v)


def _entry(path: Path, where: str, data: object) -> dict[str, Any]:
    """The checked fields of one entry (only the keys it sets)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _bad(path, where, "a mapping of settings (" + ", ".join(_ENTRY_KEYS) + ")", data)
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{where}.{k}"
        if k not in _ENTRY_KEYS:
            raise ParamsError(f"{path}, key '{key}': expected one of {', '.join(_ENTRY_KEYS)}, "
                              "found an unknown key")
        if k == "models":
            out["models"] = _models(path, key, v)
        elif k == "interventions":
            if not isinstance(v, dict):
                raise _bad(path, key, "a mapping {pulse: [years], step: year}", v)
            for ik, iv in v.items():
                if ik == "pulse":
                    out["pulse"] = _years(path, f"{key}.pulse", iv)
                elif ik == "step":
                    out["step"] = None if iv is None else _year(path, f"{key}.step", iv)
                else:
                    raise ParamsError(f"{path}, key '{key}.{ik}': expected pulse or step, "
                                      "found an unknown key")
            if out.get("step") is not None and out.get("step") in out.get("pulse", ()):
                raise _bad(path, key, "a step year that is not also a pulse year", v)
        elif k == "exclude_years":
            out["exclude_years"] = _years(path, key, v)
        elif k == "transform":
            if v not in TRANSFORMS:
                raise _bad(path, key, "one of " + ", ".join(TRANSFORMS), v)
            out["transform"] = v
        elif k == "bounds":
            if not isinstance(v, list) or len(v) != 2:
                raise _bad(path, key, "[low, high]", v)
            low, high = (_number(path, key, x) for x in v)
            if not low < high:
                raise _bad(path, key, "[low, high] with low < high", v)
            out["bounds"] = (low, high)
        else:  # note
            if v is not None and not isinstance(v, str):
                raise _bad(path, key, "text", v)
            out["note"] = " ".join((v or "").split())
    return out


def _indicator_id(path: Path, key: object) -> str:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise _bad(path, f"indicators.{key}", "an indicator id", key)
    # YAML reads an unquoted 02 as the int 2: indicator ids are two-digit strings
    return f"{key:02d}" if isinstance(key, int) else key


def load_model_choices(path: str | os.PathLike[str] | None = None) -> ModelChoices:
    """Read ``models.yaml`` (default :func:`default_models_path`; none: the registry defaults).

    Raises
    ------
    ParamsError
        When the file is missing (a given path), is not valid YAML, or a key is unknown or has
        a bad value; the message names the file and the key.

    Examples
    --------
    >>> load_model_choices().for_indicator("02").pulse
    (2020, 2021)
    """
    chosen = Path(path) if path is not None else default_models_path()
    if chosen is None:
        return ModelChoices()
    data = read_yaml_mapping(chosen, "models")
    extra = sorted(set(data) - {"default", "indicators"})
    if extra:
        raise ParamsError(f"{chosen}, key '{extra[0]}': expected default or indicators, "
                          "found an unknown key")
    base = _entry(chosen, "default", data.get("default"))
    default = SeriesChoice(**base)
    per = data.get("indicators") or {}
    if not isinstance(per, dict):
        raise _bad(chosen, "indicators", "a mapping of indicator id to settings", per)
    indicators: dict[str, SeriesChoice] = {}
    explicit: dict[str, frozenset[str]] = {}
    for raw, body in per.items():
        iid = _indicator_id(chosen, raw)
        own = _entry(chosen, f"indicators.{iid}", body)
        indicators[iid] = SeriesChoice(**{**base, **own})
        explicit[iid] = frozenset(own)
    return ModelChoices(default, indicators, str(chosen.resolve()),
                        hashlib.sha256(chosen.read_bytes()).hexdigest(), explicit)


# --------------------------------------------------------------------------------------------
# checks against the catalog and the data
# --------------------------------------------------------------------------------------------
def check_choices(choices: ModelChoices, catalog: Any, observations: pd.DataFrame | None = None,
                  *, place: str = "khanh_hoa") -> None:
    """Check the entries against the catalog and, when given, the observations at ``place``.

    Raises
    ------
    ParamsError
        For an indicator id not in the catalog; a transform the indicator's unit cannot take
        (logit for a non-percent, log for a real-valued one); bounds outside the domain; and,
        with data: a pulse, step or excluded year of an indicator's own entry outside its
        observed years, or an observation outside its bounds (the first problem found). An
        indicator the data do not hold is not checked against them.
    """
    where = choices.source or "models.yaml"
    for iid in sorted(choices.indicators):
        choice = choices.indicators[iid]
        key = f"indicators.{iid}"
        if iid not in catalog.indicators:
            raise ParamsError(f"{where}, key '{key}': expected an indicator id of the catalog, "
                              f"found {iid!r}")
        domain = str(catalog.indicators[iid].domain)
        if choice.transform == "logit" and domain != "percent":
            raise _bad(Path(where), f"{key}.transform", f"log or none for a {domain} indicator "
                       "(logit needs a percent)", choice.transform)
        if choice.transform == "log" and domain == "real":
            raise _bad(Path(where), f"{key}.transform", "none for a real-valued indicator", "log")
        if choice.bounds is not None:
            lo_dom, hi_dom = {"percent": (0.0, 100.0), "positive": (0.0, np.inf)}.get(
                domain, (-np.inf, np.inf))
            if choice.bounds[0] < lo_dom or choice.bounds[1] > hi_dom:
                raise _bad(Path(where), f"{key}.bounds", f"bounds inside the {domain} domain "
                           f"[{lo_dom:g}, {hi_dom:g}]", list(choice.bounds))
        if observations is None:
            continue
        mine = observations[(observations["indicator_id"].astype(str) == iid)
                            & (observations["place"].astype(str) == place)].dropna(subset=["value"])
        years = sorted(int(y) for y in mine["year"])
        if not years:  # the data do not hold this indicator: nothing the entry applies to
            continue
        own = choices.explicit.get(iid, frozenset())
        span = f"{years[0]}-{years[-1]}"
        for label, declared in (("interventions.pulse", choice.pulse if "pulse" in own else ()),
                                ("interventions.step", (choice.step,) if "step" in own and choice.step else ()),
                                ("exclude_years", choice.exclude_years if "exclude_years" in own else ())):
            outside = [y for y in declared if not years[0] <= y <= years[-1]]
            if outside:
                raise ParamsError(f"{where}, key '{key}.{label}': expected years within the data "
                                  f"of indicator {iid} at {place} ({span}), found {outside[0]}")
        if "exclude_years" in own and years[-1] in choice.exclude_years:
            raise ParamsError(f"{where}, key '{key}.exclude_years': expected years before the last "
                              f"observation of indicator {iid} at {place} ({years[-1]}): the "
                              f"projection starts from it, found {years[-1]}")
        if choice.bounds is not None:
            vals = mine["value"].astype(float)
            bad = mine[(vals < choice.bounds[0]) | (vals > choice.bounds[1])]
            if len(bad):
                row = bad.iloc[0]
                raise ParamsError(f"{where}, key '{key}.bounds': expected bounds that hold the "
                                  f"observations, found {float(row['value']):g} in {int(row['year'])} "
                                  f"outside {list(choice.bounds)}")


# --------------------------------------------------------------------------------------------
# the registry, described
# --------------------------------------------------------------------------------------------
_NUMPY_SOURCE = "khforecast (numpy, least squares)"
_NOT_PARAMETERS = {"name", "min_obs", "source", "takes"}


def registry_table() -> pd.DataFrame:
    """One row per registry model: name, what it is, where it comes from, its parameters.

    Columns ``name, what, source, settings, estimates, min_obs, interventions, fallback``;
    ``what`` is the first line of the spec's docstring, ``settings`` its configuration fields,
    ``estimates`` the parameters a fit estimates.
    """
    rows = []
    for name, spec in MODELS.items():
        doc = (type(spec).__doc__ or "").strip().splitlines()
        params = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
                  if f.name not in _NOT_PARAMETERS}
        rows.append({
            "name": name, "what": doc[0] if doc else "",
            "source": getattr(spec, "source", _NUMPY_SOURCE),
            "settings": ", ".join(f"{k}={_show(v)}" for k, v in params.items()) or "-",
            "estimates": getattr(spec, "estimates", ""),
            "min_obs": spec.min_obs,
            "interventions": ", ".join(getattr(spec, "takes", ("pulse", "step"))),
            "fallback": FALLBACK.get(name, "-"),
        })
    return pd.DataFrame(rows)


def _show(v: object) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
