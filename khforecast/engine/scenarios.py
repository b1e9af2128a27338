"""Scenarios: named assumptions applied to the business-as-usual sample paths.

A scenario is a pure transform of :class:`~khforecast.engine.paths.SamplePaths`: it moves the
projected years of each series and keeps the observed years, the number of paths and their
spread, so every scenario yields the same outputs as ``bau`` (forecasts, p_meet, status). Kinds:

``bau``
    business as usual: the paths as the models drew them.
``accelerate``
    from ``start_year`` on, the median's yearly trend is multiplied by ``factor`` where it
    moves in the indicator's good direction (an indicator going the wrong way keeps its bau
    paths: faster decline is not an acceleration of progress). Flows (cumulative targets) are
    multiplied by ``factor``.
``target_path``
    the median follows the straight line from the last observation to the level the
    ``target_year`` target needs (its dispersion kept), i.e. exactly on schedule.
``shock``
    a level shift of ``size`` in ``year`` (a fraction of the level when ``relative``), against
    the indicator's good direction when ``adverse``, fading linearly over ``recovery_years``
    (0: permanent).

Definitions live in ``params/scenarios.yaml``; ``overrides`` change a scenario's parameters for
single indicators, ``only`` restricts it to some indicators.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from khforecast._io import find_params_file, read_yaml_mapping
from khforecast._io import shown as _shown
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.engine.scales import Scale, fit_scale
from khforecast.errors import ParamsError
from khforecast.plan.catalog import Catalog, Indicator
from khforecast.plan.targets import clip_to_domain

__all__ = [
    "SCENARIO_KINDS",
    "Scenario",
    "ScenarioKind",
    "apply_scenario",
    "check_scenario_names",
    "default_scenarios_path",
    "load_scenarios",
]

ScenarioKind = Literal["bau", "accelerate", "target_path", "shock"]
SCENARIO_KINDS: tuple[str, ...] = ("bau", "accelerate", "target_path", "shock")


@dataclass(frozen=True)
class Scenario:
    """One scenario's definition (see the module docstring for each kind's meaning)."""

    name: str
    kind: ScenarioKind = "bau"
    description: str = ""
    factor: float = 1.5  # accelerate
    start_year: int | None = None  # accelerate / target_path; None = first projected year
    target_year: int = 2030  # target_path
    year: int = 2026  # shock
    size: float = 0.1  # shock
    relative: bool = True  # shock: size is a fraction of the level
    adverse: bool = True  # shock: push against the indicator's good direction
    recovery_years: int = 0  # shock: 0 = permanent
    only: tuple[str, ...] = ()  # indicator ids the scenario applies to (empty = all)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_indicator(self, indicator_id: str) -> Scenario | None:
        """This scenario as it applies to one indicator (overrides applied), or None if not."""
        if self.only and indicator_id not in self.only:
            return None
        over = self.overrides.get(indicator_id)
        return dataclasses.replace(self, overrides={}, **over) if over else self


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
_NUM = {"factor", "size"}
_INT = {"start_year", "target_year", "year", "recovery_years"}
_BOOL = {"relative", "adverse"}
_STR = {"kind", "description"}
_KEYS = _NUM | _INT | _BOOL | _STR | {"only", "overrides"}
#: accepted values: a factor multiplies the trend (0 would stop it, < 0 reverse it); a shock
#: is at most the level itself (relative) or a value of the plan's magnitudes
_RANGES = {"factor": (0.01, 100.0), "size": (-1e6, 1e6)}


def default_scenarios_path() -> Path | None:
    """``params/scenarios.yaml`` in the working directory or in the source tree, if any."""
    return find_params_file("scenarios.yaml")


def check_scenario_names(names: Sequence[str], definitions: Mapping[str, Scenario],
                         path: Path | None) -> None:
    """Raise ``ParamsError`` naming the file when a scenario name is not defined."""
    unknown = [n for n in names if n not in definitions]
    if unknown:
        raise ParamsError(f"{path or 'scenarios'}: scenario {unknown[0]!r} is not defined; "
                          f"expected one of {', '.join(sorted(definitions))}")


def _ids(path: Path, key: str, v: object) -> tuple[str, ...]:
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        raise ParamsError(f"{path}, key '{key}': expected a list of indicator ids, found {_shown(v)}")
    # YAML reads an unquoted 02 as the int 2: indicator ids are two-digit strings
    return tuple(f"{x:02d}" if isinstance(x, int) else str(x) for x in v)


def _fields(path: Path, key: str, data: object, *, top: bool) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ParamsError(f"{path}, key '{key}': expected a mapping of settings, found {_shown(data)}")
    out: dict[str, Any] = {}
    for k, v in data.items():
        where = f"{key}.{k}"
        if k not in _KEYS or (not top and k in ("only", "overrides")):
            raise ParamsError(f"{path}, key '{where}': expected one of "
                              f"{', '.join(sorted(_KEYS))}, found an unknown key")
        if k in _NUM:
            low, high = _RANGES[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
                raise ParamsError(f"{path}, key '{where}': expected a number from {low:g} to "
                                  f"{high:g}, found {_shown(v)}")
            out[k] = float(v)
        elif k in _INT:
            if v is None and k == "start_year":
                out[k] = None
                continue
            if (isinstance(v, bool) or not isinstance(v, int)
                    or not (0 <= v <= 100 if k == "recovery_years" else 1990 <= v <= 2100)):
                raise ParamsError(f"{path}, key '{where}': expected "
                                  f"{'a year in 1990-2100' if k != 'recovery_years' else 'a whole number of years in 0-100'}"
                                  f", found {_shown(v)}")
            out[k] = v
        elif k in _BOOL:
            if not isinstance(v, bool):
                raise ParamsError(f"{path}, key '{where}': expected true or false, found {_shown(v)}")
            out[k] = v
        elif k == "kind":
            if v not in SCENARIO_KINDS:
                raise ParamsError(f"{path}, key '{where}': expected one of "
                                  f"{', '.join(SCENARIO_KINDS)}, found {_shown(v)}")
            out[k] = v
        elif k == "description":
            out[k] = "" if v is None else str(v).strip()
        elif k == "only":
            out[k] = _ids(path, where, v)
        else:  # overrides
            if not isinstance(v, dict):
                raise ParamsError(f"{path}, key '{where}': expected a mapping of indicator id "
                                  f"to settings, found {_shown(v)}")
            out[k] = {(f"{i:02d}" if isinstance(i, int) else str(i)):
                      _fields(path, f"{where}.{i}", s, top=False) for i, s in v.items()}
    return out


def load_scenarios(path: str | os.PathLike[str] | None = None) -> dict[str, Scenario]:
    """Read scenario definitions from a YAML file (default ``params/scenarios.yaml``).

    The file holds ``scenarios: {name: {kind: ..., <settings>}}``; ``bau`` is always defined.
    Without a file only ``bau`` exists.

    Returns
    -------
    dict
        ``{name: Scenario}``.

    Raises
    ------
    ParamsError
        When the file is missing (a given path), is not valid YAML, or a key is unknown or
        holds a bad value; the message names the file and the key.

    Examples
    --------
    >>> sorted(load_scenarios())[:2]
    ['accelerate', 'bau']
    """
    chosen = Path(path) if path is not None else default_scenarios_path()
    found: dict[str, Scenario] = {"bau": Scenario("bau", "bau", "business as usual")}
    if chosen is None:
        return found
    data = read_yaml_mapping(chosen, "scenarios")
    if not isinstance(data.get("scenarios"), dict):
        raise ParamsError(f"{chosen}, key 'scenarios': expected a mapping of scenario names to "
                          f"settings, found {type(data.get('scenarios')).__name__}")
    extra = sorted(set(data) - {"scenarios"})
    if extra:
        raise ParamsError(f"{chosen}, key '{extra[0]}': expected only 'scenarios', found an unknown key")
    for name, body in data["scenarios"].items():
        fields = _fields(chosen, f"scenarios.{name}", body or {}, top=True)
        if "kind" not in fields:
            raise ParamsError(f"{chosen}, key 'scenarios.{name}.kind': expected one of "
                              f"{', '.join(SCENARIO_KINDS)}, found nothing")
        found[str(name)] = Scenario(name=str(name), **fields)
    return found


# --------------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------------
def apply_scenario(paths: SamplePaths, scenario: Scenario, catalog: Catalog) -> SamplePaths:
    """Apply ``scenario`` to the projected years of the assessed place's series.

    Observed years never change; comparison places keep their bau paths. Returns a new
    :class:`SamplePaths` named after the scenario (the input is not modified).

    Examples
    --------
    >>> from khforecast.engine.scenarios import Scenario
    >>> Scenario("fast", "accelerate", factor=2.0).factor
    2.0
    """
    out: dict[tuple[str, str], SeriesPaths] = {}
    for key, s in paths.series.items():
        sc = scenario.for_indicator(s.indicator_id)
        if sc is None or sc.kind == "bau" or s.place != paths.place or not s.forecastable \
                or s.last_year >= paths.until:
            out[key] = s
            continue
        ind = catalog.indicators[s.indicator_id]
        new = _TRANSFORMS[sc.kind](s, sc, ind)
        out[key] = dataclasses.replace(s, paths=new)
    return paths.with_series(out, scenario.name)


def _future(s: SeriesPaths) -> np.ndarray:
    return s.years > s.last_year


def _scale(s: SeriesPaths):
    return fit_scale(s.history.to_numpy(), s.domain)  # type: ignore[arg-type]


def _accelerate(s: SeriesPaths, sc: Scenario, ind: Indicator) -> np.ndarray:
    fut = _future(s)
    start = sc.start_year if sc.start_year is not None else s.last_year + 1
    act = fut & (s.years >= start)
    x = s.paths.copy()
    if s.observed_as == "flow":
        x[:, act] = x[:, act] * sc.factor
        return x
    scale = _scale(s)
    z = scale.forward(x)
    med = np.median(z, axis=0)
    trend = np.diff(med, prepend=med[0])
    direction = int(getattr(ind, "direction", 0) or 0)
    good = np.sign(med[-1] - med[fut.argmax() - 1]) == direction if direction else True
    if not good:
        return x
    z[:, act] += (sc.factor - 1.0) * np.cumsum(np.where(act, trend, 0.0))[act]
    return _back(scale, z, x, fut)


def _target_path(s: SeriesPaths, sc: Scenario, ind: Indicator) -> np.ndarray:
    target = ind.targets.get(sc.target_year) if hasattr(ind, "targets") else None
    if target is None or not target.is_quantitative or sc.target_year <= s.last_year:
        return s.paths
    rate = target.required_annual_change(s.last_year, s.last_value, s.history)
    if rate is None:
        return s.paths
    fut = _future(s)
    start = sc.start_year if sc.start_year is not None else s.last_year + 1
    act = fut & (s.years >= start)
    steps = (s.years - s.last_year).astype(float)
    line = np.full(s.years.shape, rate) if s.observed_as == "flow" else s.last_value + rate * steps
    scale = _scale(s)
    line = clip_to_domain(line, s.domain)
    z = scale.forward(s.paths)
    med = np.median(z, axis=0)
    z[:, act] += (scale.forward(line) - med)[act]
    return _back(scale, z, s.paths, fut)


def _shock(s: SeriesPaths, sc: Scenario, ind: Indicator) -> np.ndarray:
    fut = _future(s)
    t = s.years - sc.year
    if sc.recovery_years > 0:
        weight = np.clip(1.0 - t / sc.recovery_years, 0.0, 1.0)
    else:
        weight = np.ones(t.shape)
    weight = np.where((t >= 0) & fut, weight, 0.0)
    size = sc.size
    if sc.adverse:
        direction = int(getattr(ind, "direction", 1) or 1)
        size = -direction * abs(size)
    x = s.paths.copy()
    x = x * (1.0 + size * weight) if sc.relative else x + size * weight
    return clip_to_domain(x, s.domain)


def _back(scale: Scale, z: np.ndarray, x: np.ndarray, fut: np.ndarray) -> np.ndarray:
    """Send the projected columns back to the original scale; observed columns untouched."""
    out = x.copy()
    out[:, fut] = scale.backward(z[:, fut])
    return out


_TRANSFORMS = {"accelerate": _accelerate, "target_path": _target_path, "shock": _shock}
