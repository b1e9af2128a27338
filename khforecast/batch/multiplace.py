"""Many places in one run: the unit of work is a group of places, mapped over any ``Executor``.

A unit carries its places' observations and the run's settings, model choices included
(``params/models.yaml``: members, interventions, excluded years, transform, bounds); the worker
fits, simulates and assesses each place exactly as a single-place run does
(``Forecaster(choices=...).fit(..., place=p)`` then :func:`khforecast.assess.assess_scenarios`)
and returns only the small tables: forecast
quantiles, assessment rows and a thin sample of paths. The paths themselves die in the worker,
so a run of any size holds at most ``window`` units' tables at once. Units are formed and their
results concatenated in place order, and every series draws from its own seed, so the output
is the same bytes whatever the executor, its number of workers or the places per unit.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from pathlib import Path

import numpy as np
import pandas as pd

from khforecast._io import atomic_write_csv
from khforecast.assess.assessment import assess_scenarios
from khforecast.plan.catalog import load_catalog
from khforecast.engine.executor import map_ordered
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import ModelChoices, check_choices

__all__ = ["SAMPLE_COLUMNS", "RunSpec", "PlaceUnit", "UnitResult", "check_places_choices",
           "merge_sources", "plan_units", "add_places_to_run", "run_places", "run_unit",
           "stream_to_parquet"]

#: columns of the thin sample of paths kept for charts (``paths_sample``)
SAMPLE_COLUMNS = ("indicator_id", "place", "scenario", "path", "year", "value")


@dataclass(frozen=True)
class RunSpec:
    """The settings every unit of a run shares (picklable; scenario definitions included)."""

    seed: int | None = 20240809
    sims: int = 4000
    until: int = 2030
    scenarios: tuple[str, ...] = ("bau",)
    definitions: Mapping[str, Any] | None = None
    thresholds: tuple[float, float] = (0.8, 0.5)
    sample_paths: int = 0
    #: the run's ``models.yaml`` (None: the registry defaults), applied at every place
    choices: ModelChoices | None = None


@dataclass(frozen=True)
class PlaceUnit:
    """One unit of work: some places and the observations they need (a generator may replace them)."""

    places: tuple[str, ...]
    spec: RunSpec
    observations: pd.DataFrame | None = None
    #: called in the worker to make the observations (illustrative commune data are generated
    #: where they are used, so the driver never holds them all)
    make_observations: Callable[[tuple[str, ...]], pd.DataFrame] | None = None
    #: the former provinces of a merged place, whose rows its fit may combine (``merge_places``)
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitResult:
    """What a unit sends back: forecasts and assessment rows, and the thin sample of paths."""

    places: tuple[str, ...]
    forecasts: pd.DataFrame
    assessment: pd.DataFrame
    sample: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SAMPLE_COLUMNS)))


@functools.lru_cache(maxsize=1)
def _catalog() -> Any:
    """The catalog, read once per worker process."""
    return load_catalog()


def run_unit(unit: PlaceUnit) -> UnitResult:
    """Fit, simulate and assess every place of a unit, as a single-place run would (worker side)."""
    catalog = _catalog()
    spec = unit.spec
    if unit.make_observations is None:
        obs = unit.observations  # checked against the choices by the driver, before the run
    else:  # generated here: checked here, as a single-place run checks its data
        obs = unit.make_observations(unit.places)
        check_places_choices(spec.choices, catalog, obs, unit.places)
    fcs, ass, samples = [], [], []
    for place in unit.places:
        own = obs[obs["place"].isin((place, *unit.parts.get(place, ())))]
        results = Forecaster(sims=spec.sims, seed=spec.seed, jobs=1,
                             choices=spec.choices).fit(own, catalog, place=place)
        paths, fc, asm = assess_scenarios(results, spec.scenarios, catalog,
                                          thresholds=spec.thresholds, until=spec.until,
                                          definitions=spec.definitions)
        fcs.append(fc[fc["place"] == place])
        ass.append(asm)
        if spec.sample_paths:
            samples.extend(_sample(p, spec.sample_paths) for p in paths.values())
    sample = (pd.concat(samples, ignore_index=True) if samples
              else pd.DataFrame(columns=list(SAMPLE_COLUMNS)))
    return UnitResult(unit.places, pd.concat(fcs, ignore_index=True),
                      pd.concat(ass, ignore_index=True), sample)


def check_places_choices(choices: ModelChoices | None, catalog: Any, observations: pd.DataFrame,
                         places: Iterable[str]) -> None:
    """The single-place run's check of the model choices against the data, at every place.

    Raises
    ------
    ParamsError
        The first problem (:func:`~khforecast.engine.model_choices.check_choices`), naming
        the file, the key and the place.
    """
    if choices is None:
        return
    for place in places:
        check_choices(choices, catalog, observations, place=place)


def _sample(paths: Any, k: int) -> pd.DataFrame:
    """The first ``k`` paths of each forecast series, projected years only (for fan charts)."""
    ids, places, path, year, value = [], [], [], [], []
    for s in paths:
        if not s.forecastable:
            continue
        keep = s.years > s.last_year
        block = s.paths[:k, keep]
        n, m = block.shape
        ids.append((s.indicator_id, n * m))
        places.append((s.place, n * m))
        path.append(np.repeat(np.arange(n), m))
        year.append(np.tile(s.years[keep].astype(int), n))
        value.append(block.ravel())
    if not ids:
        return pd.DataFrame(columns=list(SAMPLE_COLUMNS))

    def labels(pairs: list[tuple[str, int]]) -> np.ndarray:
        return np.repeat(np.array([v for v, _ in pairs], dtype=object), [c for _, c in pairs])

    return pd.DataFrame({"indicator_id": labels(ids), "place": labels(places),
                         "scenario": paths.scenario, "path": np.concatenate(path),
                         "year": np.concatenate(year), "value": np.concatenate(value)},
                        columns=list(SAMPLE_COLUMNS))


def _groups(places: Sequence[str], size: int,
            partition_of: Callable[[str], str] | None) -> Iterator[tuple[str, ...]]:
    """Consecutive runs of at most ``size`` places, cut where ``partition_of`` changes."""
    group: list[str] = []
    for p in places:
        if group and (len(group) == size or (partition_of is not None
                                             and partition_of(p) != partition_of(group[0]))):
            yield tuple(group)
            group = []
        group.append(p)
    if group:
        yield tuple(group)


def plan_units(places: Sequence[str], spec: RunSpec, observations: pd.DataFrame | None = None, *,
               per_unit: int = 1,
               make_observations: Callable[[tuple[str, ...]], pd.DataFrame] | None = None,
               parts: Mapping[str, tuple[str, ...]] | None = None,
               partition_of: Callable[[str], str] | None = None) -> Iterator[PlaceUnit]:
    """Group ``places`` (in the order given) into units of ``per_unit``, each with its own rows.

    ``parts`` maps a merged place to its former provinces: their rows travel with it. With
    ``partition_of`` (e.g. a commune's province) a unit never spans two partitions: a new one
    starts where the partition changes, as the streaming Parquet sink writes one per partition.
    """
    size = max(1, per_unit)
    by_place = ({p: g for p, g in observations.groupby("place", sort=False)}
                if observations is not None else {})
    empty = observations.iloc[0:0] if observations is not None else None
    for group in _groups(places, size, partition_of):
        own = {p: tuple(x for x in (parts or {}).get(p, ()) if x != p) for p in group}
        rows = None
        if make_observations is None:
            need = dict.fromkeys(c for p in group for c in (p, *own[p]))
            frames = [by_place[c] for c in need if c in by_place]
            rows = pd.concat(frames, ignore_index=True) if frames else empty
        yield PlaceUnit(group, spec, rows, make_observations, {p: v for p, v in own.items() if v})


def run_places(executor: Executor, units: Iterable[PlaceUnit], *, window: int = 4,
               on_result: Callable[[UnitResult], None] | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every unit through ``executor``; the concatenated forecasts and assessment, in place order.

    With ``on_result`` each unit's result is handed to it (e.g. a Parquet writer) instead of
    being kept, and two empty frames are returned: nothing but ``window`` units is held.

    Raises
    ------
    ExecutorError
        When a unit is lost or fails (naming its places); nothing is returned partially.
    """
    fcs, ass = [], []

    def label(i: int, unit: PlaceUnit) -> str:
        head = ", ".join(unit.places[:3]) + (" ..." if len(unit.places) > 3 else "")
        return f"unit {i} (places {head})"

    for res in map_ordered(executor, run_unit, units, window=window, label=label):
        if on_result is not None:
            on_result(res)
        else:
            fcs.append(res.forecasts)
            ass.append(res.assessment)
    if not fcs:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(fcs, ignore_index=True), pd.concat(ass, ignore_index=True)


def merge_sources(primary: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``primary`` observations plus the ``extra`` series (indicator, place) that ``primary`` lacks.

    Precedence is by whole series, never year by year, so one series never splices two
    sources (e.g. the bundled Khánh Hòa unemployment and the GSO panel of it).
    """
    have = set(zip(primary["indicator_id"].astype(str), primary["place"].astype(str)))
    keys = list(zip(extra["indicator_id"].astype(str), extra["place"].astype(str)))
    add = extra[[k not in have for k in keys]]
    return pd.concat([primary, add], ignore_index=True) if len(add) else primary


def stream_to_parquet(executor: Executor, units: Iterable[PlaceUnit], sink: Any, *,
                      window: int = 4) -> dict[str, int]:
    """Run ``units`` and hand each result to a :class:`~khforecast.batch.parquet_out.StreamingParquetSink`.

    The sink commits only after the last unit; any failure (a lost unit, a bad input) aborts
    it, so the output folder never holds a partial run.

    Returns
    -------
    dict
        Rows written per table.
    """
    try:
        run_places(executor, units, window=window, on_result=sink.add)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return dict(sink.rows)


def add_places_to_run(run_dir: Any, executor: Executor, codes: Sequence[str],
                      observations: pd.DataFrame, spec: RunSpec, *, per_unit: int = 1,
                      parts: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, int]:
    """Append the rows of more places to a run folder's ``forecasts.csv`` and ``assessment.csv``.

    The run's own place was computed first (its rows stay first and unchanged); each file is
    rewritten atomically only once every place has been computed.

    Returns
    -------
    dict
        Rows added per file.
    """
    fc, asm = run_places(executor, plan_units(codes, spec, observations, per_unit=per_unit,
                                              parts=parts))
    folder = Path(run_dir)
    for name, extra in (("forecasts.csv", fc), ("assessment.csv", asm)):
        own = pd.read_csv(folder / name, dtype={"indicator_id": str}, keep_default_na=False,
                          na_values={c: [""] for c in extra.columns if c not in ("indicator_id", "place")})
        atomic_write_csv(folder / name, pd.concat([own, extra], ignore_index=True)[list(own.columns)]
                         if len(extra) else own)
    return {"forecasts": len(fc), "assessment": len(asm)}
