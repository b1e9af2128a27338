"""The ``khforecast forecast`` command: observations in; forecasts, assessment, manifest out.

It sits beside :mod:`khforecast.batch.run` (``khforecast run``): both read params files, and both
compute through :func:`khforecast.assess.assessment.assess_scenarios`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as md
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from importlib import resources
from pathlib import Path
from typing import Any

from khforecast import __version__
from khforecast._io import atomic_write_all, csv_text, sha256_file
from khforecast.assess.assessment import assess_scenarios
from khforecast.batch.manifest import manifest_text
from khforecast.batch.params import load_params, scenarios_file
from khforecast.engine.predictive import load_pooled_calibration
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import (
    check_choices,
    default_models_path,
    load_model_choices,
    series_summary,
)
from khforecast.engine.scenarios import check_scenario_names, load_scenarios
from khforecast.observations.read import (bundled_observations_path, read_observations,
                                          require_place)
from khforecast.plan.catalog import load_catalog

__all__ = ["run_forecast"]


def run_forecast(out_dir: str | os.PathLike[str], *, data: Sequence[str | os.PathLike[str]] | None = None,
                 place: str = "khanh_hoa", scenarios: Sequence[str] | None = None,
                 params: str | os.PathLike[str] | None = None, seed: int | None = None,
                 sims: int | None = None, jobs: int | None = None, decimal: str | None = None,
                 until: int = 2030, executor: Executor | None = None) -> dict[str, Any]:
    """Forecast every indicator, assess its targets, write forecasts.csv, assessment.csv, manifest.json.

    Parameters
    ----------
    out_dir
        Folder written (created if needed). forecasts.csv, assessment.csv and manifest.json
        are one output (:func:`khforecast._io.atomic_write_all`): after a failure (a full
        disk, a failed rename) all three are the previous ones, never a mix.
    data
        Observation files (CSV or the Excel template); default: the bundled observations.
    place
        Place assessed (``khanh_hoa``); ``vietnam`` series are forecast beside it.
    scenarios
        Scenario names (default: the ``scenarios`` of the params file, i.e. ``["bau"]``).
    params
        A batch params YAML (thresholds, default scenarios); the ``scenarios.yaml`` beside it,
        if any, defines the scenarios.
    seed, sims
        Random seed and paths per series; ``None``: the params file's (by default 20240809
        and 4000), as ``khforecast run`` does.
    jobs, decimal, until
        Worker processes, decimal mark of the data, last year.
    executor
        Any ``concurrent.futures.Executor`` to run the series on (overrides ``jobs``).

    Returns
    -------
    dict
        The manifest written (inputs' sha256, parameters, package versions, seed, timings).

    Raises
    ------
    ObservationError
        When the data have problems (nothing is written).
    ParamsError
        When a params file or a scenario name is bad.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    catalog = load_catalog()
    files = [Path(p) for p in data] if data else [bundled_observations_path()]
    obs = read_observations(*files, decimal=decimal, catalog=catalog)
    timings["read"] = time.perf_counter() - t0

    require_place(obs, place)
    batch = load_params(params, seed=seed, sims=sims)  # given values win over the file's
    seed, sims = batch.seed, batch.sims
    names = list(scenarios) if scenarios else list(batch.scenarios)
    scen_path = scenarios_file(batch)
    defs = load_scenarios(scen_path)
    check_scenario_names(names, defs, scen_path)

    choices = load_model_choices(default_models_path(params))
    check_choices(choices, catalog, obs, place=place)

    t1 = time.perf_counter()
    results = Forecaster(sims=sims, seed=seed, jobs=jobs, executor=executor,
                         choices=choices).fit(obs, catalog, place=place)
    paths, fc_frame, as_frame = assess_scenarios(results, names, catalog, thresholds=batch.thresholds,
                                             until=until, definitions=defs)
    timings["forecast_and_assess"] = time.perf_counter() - t1

    texts = {"forecasts.csv": csv_text(fc_frame), "assessment.csv": csv_text(as_frame)}
    timings["total"] = time.perf_counter() - t0

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return ""

    cal = load_pooled_calibration()
    manifest = {
        "command": "forecast",
        "inputs": {str(f): sha256_file(f) for f in files},
        "config_files": {str(f): sha256_file(f) for f in (
            Path(batch.source) if batch.source else None, scen_path,
            Path(choices.source) if choices.source else None,
            Path(str(resources.files("khforecast") / "data" / "calibration.json")))
            if f is not None and Path(f).is_file()},
        "params": {
            "place": place, "scenarios": list(dict.fromkeys(names)), "seed": seed, "sims": sims,
            "until": until, "thresholds": list(batch.thresholds), "decimal": decimal,
            "params_file": batch.source, "scenarios_file": str(scen_path or ""),
            "scenario_definitions": {n: _jsonable(dataclasses.asdict(defs[n])) for n in dict.fromkeys(names)},
            "calibration": {k: cal.meta.get(k) for k in ("seed", "n_backtests", "out_of_sample",
                                                          "oos_coverage80", "oos_coverage95")},
            "model_choices": choices.to_dict(),
        },
        "series": series_summary(paths[next(iter(paths))], choices),
        "versions": {"khforecast": __version__,
                     **{p: version(p) for p in ("numpy", "pandas", "scipy", "statsmodels")}},
        "seed": seed,
        "outputs": {name: hashlib.sha256(text.encode("utf-8")).hexdigest()
                    for name, text in texts.items()},
        "counts": {"series": len(results.histories), "assessment_rows": len(as_frame),
                   "status": {k: int(v) for k, v in as_frame["status"].value_counts().sort_index().items()}},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    # the three files are one output: all new, or (a full disk, a failed rename) all as before
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_all({out / name: text
                      for name, text in {**texts, "manifest.json": manifest_text(manifest)}.items()})
    return manifest


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v)
            for k, v in d.items()}
