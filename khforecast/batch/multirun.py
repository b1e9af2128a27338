"""``khforecast forecast --places ...`` and ``--communes N``: many places, on processes or dask.

Provinces (``--places all|merged|LIST``): the observations are the given or bundled files plus,
for every province, the GSO panels whose definition matches a catalog indicator (whole series
only where the files have none, :func:`khforecast.batch.multiplace.merge_sources`); results are the
usual ``forecasts.csv`` and ``assessment.csv``, one block per place. Communes (``--communes N``):
ILLUSTRATIVE generated data (:mod:`khforecast.observations.communes`), streamed to partitioned Parquet.
The executor is opened before anything is written, so an unreachable scheduler leaves the
output folder as it was; every file is written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from khforecast import __version__
from khforecast._io import atomic_write_csv, atomic_write_text, sha256_file
from khforecast.plan.catalog import load_catalog
from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.engine.executor import open_executor
from khforecast.batch.multiplace import (RunSpec, check_places_choices, merge_sources, plan_units,
                                         run_places, stream_to_parquet)
from khforecast.engine.model_choices import default_models_path, load_model_choices
from khforecast.observations.read import bundled_observations_path, read_observations
from khforecast.observations.panel_mappings import panel_observations
from khforecast.batch.params import load_params
from khforecast.batch.parquet_out import StreamingParquetSink
from khforecast.observations.provinces import load_places
from khforecast.engine.scenarios import default_scenarios_path, load_scenarios

__all__ = ["place_observations", "run_forecast_places"]


def place_observations(codes: Sequence[str], data: Sequence[str | os.PathLike[str]] | None = None,
                       decimal: str | None = None) -> tuple[pd.DataFrame, list[Path]]:
    """The observations of a multi-place run: the files' rows, then the matched GSO panels'.

    Returns
    -------
    (observations, files read)
    """
    catalog = load_catalog()
    files = [Path(p) for p in data] if data else [bundled_observations_path()]
    obs = read_observations(*files, decimal=decimal, catalog=catalog)
    return merge_sources(obs, panel_observations(load_places(), codes)), files


def run_forecast_places(out_dir: str | os.PathLike[str], *, places: str | Sequence[str] | None = None,
                        communes: int | None = None,
                        data: Sequence[str | os.PathLike[str]] | None = None,
                        scenarios: Sequence[str] | None = None, params: str | None = None,
                        seed: int | None = 20240809, sims: int = 4000, executor: str = "processes",
                        scheduler: str | None = None, workers: int | None = None,
                        per_unit: int = 1, sample_paths: int = 20, decimal: str | None = None,
                        until: int = 2030) -> dict[str, Any]:
    """Forecast and assess many places; write the results and ``manifest.json`` to ``out_dir``.

    Parameters
    ----------
    places
        ``all`` (the 63 provinces before 1 July 2025), ``merged`` (the 34 after) or codes.
    communes
        Instead of ``places``: the first ``communes`` illustrative communes (up to 3,321).
    executor, scheduler, workers
        ``processes`` or ``dask``; a dask scheduler address; worker processes.
    per_unit
        Places per unit of work (any value gives the same bytes).
    sample_paths
        Paths per series kept in ``paths_sample/`` (commune runs).

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    PlacesError, ObservationError, ParamsError, ExecutorError
        Before anything is written.
    """
    t0 = time.perf_counter()
    batch = load_params(params)
    names = tuple(dict.fromkeys(scenarios or batch.scenarios))
    scen_path = default_scenarios_path()
    defs = load_scenarios(scen_path)
    choices = load_model_choices(default_models_path(params))  # as a single-place forecast
    spec = RunSpec(seed=seed, sims=sims, until=until, scenarios=names,
                   definitions={n: defs[n] for n in names if n in defs},
                   thresholds=tuple(batch.thresholds), sample_paths=sample_paths if communes else 0,
                   choices=choices)
    known = load_places()
    out = Path(out_dir)
    labels: dict[str, Any] = {"illustrative": bool(communes)}
    if communes:
        codes = commune_codes(known)[: max(1, communes)]
        recipe = CommuneData.build(known, provinces=tuple(sorted({province_of(c) for c in codes})))
        files: list[Path] = []
        labels.update(seed=seed, data_seed=recipe.seed, note="ILLUSTRATIVE commune data generated by "
                      "khforecast.observations.communes around real provincial levels; not official statistics")
        units = plan_units(codes, spec, per_unit=per_unit, make_observations=recipe,
                           partition_of=province_of)
    else:
        codes = known.select(places or "all")
        obs, files = place_observations(codes, data, decimal)
        check_places_choices(choices, load_catalog(), obs, codes)
        units = plan_units(codes, spec, obs, per_unit=per_unit,
                           parts={c: known.parts_of(c) for c in codes})
    with open_executor(executor, workers=workers, scheduler=scheduler) as ex:
        t1 = time.perf_counter()
        if communes:
            counts = stream_to_parquet(ex, units, StreamingParquetSink(out, province_of, labels))
            outputs = {t: f"{t}/" for t in counts}
        else:
            fc, asm = run_places(ex, units)
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_csv(out / "forecasts.csv", fc)
            atomic_write_csv(out / "assessment.csv", asm)
            counts = {"forecasts": len(fc), "assessment": len(asm)}
            outputs = {n: sha256_file(out / n) for n in ("forecasts.csv", "assessment.csv")}
        compute_s = time.perf_counter() - t1
    manifest = {
        "command": "forecast", **labels,
        "places": "communes" if communes else (places if isinstance(places, str) else list(codes)),
        "n_places": len(codes),
        "inputs": {str(f): sha256_file(f) for f in files},
        "params": {"scenarios": list(names), "seed": seed, "sims": sims, "until": until,
                   "thresholds": list(batch.thresholds), "params_file": batch.source,
                   "scenarios_file": str(scen_path or ""), "per_unit": per_unit,
                   "sample_paths": spec.sample_paths, "model_choices": choices.to_dict()},
        "executor": {"kind": executor, "scheduler": scheduler, "workers": workers},
        "versions": {"khforecast": __version__},
        "outputs": outputs, "rows": counts,
        "timings_s": {"compute": round(compute_s, 3), "total": round(time.perf_counter() - t0, 3)},
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest
