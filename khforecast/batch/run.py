"""The batch (``khforecast run``): compute once, then execute and render every notebook.

1. Read the observations, fit every series and simulate every scenario once, in this process;
   write ``forecasts.csv``, ``assessment.csv`` and the extras the notebooks read
   (``observations.csv``, ``calibration.csv``, ``draws.npz``) to ``outputs/<run-id>/``.
2. Execute the notebooks with papermill in parallel (``jobs`` kernels at a time, from threads).
   Each kernel starts in the run folder, set on the kernel itself: papermill's ``cwd=`` would
   change this whole process's working folder from several threads at once. Every path here
   is absolute anyway. The notebooks only read those files: no notebook refits a model. A
   kernel that dies is retried once; a failing notebook is saved with its error and never stops the others.
3. Render each executed notebook to ``html/<name>.html`` (no code, no network), write
   ``index.html`` and ``manifest.json``, and only if everything succeeded switch
   ``outputs/latest`` to the new run, atomically.

Notebook templates live in ``khforecast/notebooks/`` (shipped with the package); the
repository's ``notebooks/`` holds symbolic links to them, so the files statisticians open in
JupyterLab are the very files the batch runs.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from khforecast.assess.statuses import headline as headline_of
from khforecast.batch.compute import compute_results
from khforecast.batch.multiplace import RunSpec, add_places_to_run, check_places_choices, merge_sources
from khforecast.batch.manifest import _inputs, _new_run_id, _versions, write_manifest
from khforecast.batch.notebooks import execute_notebooks, plan_jobs
from khforecast.batch.params import BatchParams, load_params, scenarios_file
from khforecast.batch.tasks import read_run_task_reports, write_task_files
from khforecast.briefing.i18n import check_lang
from khforecast.briefing.key_messages import key_messages_html
from khforecast.briefing.render import print_pdf, render_index
from khforecast.briefing.rundir import load_run
from khforecast.engine.executor import open_executor
from khforecast.engine.model_choices import (ModelChoices, check_choices, default_models_path,
                                             load_model_choices)
from khforecast.engine.scenarios import check_scenario_names, load_scenarios
from khforecast.errors import KhforecastError
from khforecast.observations.panel_mappings import panel_observations
from khforecast.observations.provinces import bundled_places
from khforecast.observations.read import (bundled_observations_path, read_observations,
                                          require_place)
from khforecast.plan.catalog import SECTORS, Catalog, load_catalog

__all__ = [
    "RunResult",
    "run_batch",
    "switch_latest",
]


@dataclass
class RunResult:
    """What a batch produced: its folder, its manifest and the notebooks that failed."""

    run_dir: Path
    manifest: dict[str, Any]
    failed: list[str] = field(default_factory=list)
    latest_updated: bool = False

    @property
    def ok(self) -> bool:
        """True when every notebook succeeded."""
        return not self.failed


# --------------------------------------------------------------------------------------------
# 3. the run
# --------------------------------------------------------------------------------------------
def switch_latest(out_dir: Path, run_id: str) -> None:
    """Point ``out_dir/latest`` at ``run_id`` atomically (temp symlink + ``os.replace``).

    Raises ``KhforecastError`` when ``latest`` exists and is not a symbolic link.
    """
    latest = out_dir / "latest"
    if latest.exists() and not latest.is_symlink():
        raise KhforecastError(f"{latest}: exists and is not a symbolic link; move it away so "
                              "the run can point it at the newest run")
    tmp = out_dir / f".latest.{os.getpid()}.{secrets.token_hex(3)}.tmp"
    os.symlink(run_id, tmp)
    try:
        os.replace(tmp, latest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_batch(data: Sequence[str | os.PathLike[str]] | None = None, *, place: str = "khanh_hoa",
              out: str | os.PathLike[str] = "outputs", sectors: Sequence[str] | None = None,
              lang: str = "vi", jobs: int | None = None,
              params: str | os.PathLike[str] | BatchParams | None = None,
              seed: int | None = None, sims: int | None = None, pdf: bool = False,
              extra_notebooks: Sequence[str | os.PathLike[str]] = (),
              tasks: Sequence[str | os.PathLike[str]] = (),
              progress: bool = True, log: Callable[[str], None] | None = None,
              executor: Executor | None = None, places: str | Sequence[str] | None = None,
              executor_kind: str = "processes", scheduler: str | None = None,
              chunk_size: int = 1) -> RunResult:
    """Run the batch: compute once, execute and render every notebook, index, manifest, latest.

    Parameters
    ----------
    data
        Observation files (CSV or the Excel template); default: the bundled observations.
    place
        The area whose targets are assessed (``khanh_hoa``, the plan's province).
    out
        Parent folder of the run folders; the run goes to ``out/<run-id>/``.
    sectors
        Sectors I..X to brief (default: all ten).
    lang
        ``vi`` (default) or ``en``.
    jobs
        Notebooks executed at the same time (default: params, else the number of cores).
    params
        A ``batch.yaml`` path or loaded :class:`~khforecast.batch.params.BatchParams`.
    seed, sims
        Override the params' seed and number of simulated paths.
    pdf
        Also print every page to PDF with headless Chromium (a message if it is missing).
    extra_notebooks
        More notebooks to run in the batch (given ``run_dir`` and ``lang``).
    tasks
        Task progress report files (CSV, or workbooks with the sheet "Nhiệm vụ"); workbooks
        among ``data`` are read for that sheet too (:mod:`khforecast.batch.tasks`).
    progress
        Show a tqdm progress bar on stderr.
    log
        Where to send one-line messages (default: stderr).
    executor
        Any ``concurrent.futures.Executor`` for the compute step's series (default: a process
        pool when there are many); the notebooks always run in threads here.
    places
        A multi-place run: ``all`` (the 63 provinces before 1 July 2025), ``merged`` (the 34
        after) or codes. Every place is forecast and assessed (with the matched GSO panels as
        data), the briefings get a province comparison and the run a national overview.
    executor_kind, scheduler, chunk_size
        Where those places are computed (``processes`` or ``dask``, a dask scheduler address)
        and how many places make one unit of work; the files do not depend on them.

    Returns
    -------
    RunResult
        ``run_dir``, ``manifest``, ``failed`` notebook names, ``latest_updated``.

    Raises
    ------
    ObservationError, TaskReportError, ParamsError, PlacesError, ExecutorError
        Before anything is written, when the data, task reports, params or places have
        problems or the dask scheduler cannot be reached.
    """

    say = log or (lambda msg: print(msg, file=sys.stderr))
    check_lang(lang)
    t_start = time.perf_counter()
    bp = params if isinstance(params, BatchParams) else load_params(params, seed=seed, sims=sims)
    if isinstance(params, BatchParams) and (seed is not None or sims is not None):
        bp = _replace(bp, seed=seed, sims=sims)
    catalog = load_catalog()
    # Every path is made absolute once, here: nothing below depends on the working folder.
    data_paths = [Path(p).resolve() for p in data] if data else [bundled_observations_path()]
    observations = read_observations(*data_paths, catalog=catalog)
    require_place(observations, place)
    choices = load_model_choices(default_models_path(bp.source or None))
    check_choices(choices, catalog, observations, place=place)
    reports, task_paths = read_run_task_reports(catalog, tasks, data_paths if data else ())
    out_dir = Path(out).resolve()
    scenarios_path = scenarios_file(bp)
    check_scenario_names(bp.scenarios, load_scenarios(scenarios_path), scenarios_path)
    run_dir = (out_dir / _new_run_id()).resolve()
    job_list = plan_jobs(bp, catalog, run_dir, lang=lang, sectors=sectors,
                         extra_notebooks=[*bp.extra_notebooks, *extra_notebooks],
                         national=places is not None)
    stack = contextlib.ExitStack()
    multi = _plan_places(places, place, observations, stack, choices, catalog,
                         executor=executor_kind, scheduler=scheduler,
                         workers=jobs) if places is not None else None
    if multi is not None:
        observations = multi["observations"]
    # (params, places and scheduler errors are raised above, before anything is written)
    run_dir.mkdir(parents=True)
    n_jobs = max(1, jobs or bp.jobs or os.cpu_count() or 1)
    manifest: dict[str, Any] = {
        "run_id": run_dir.name, "created": _dt.datetime.now(_dt.UTC).isoformat(),
        "as_of": bp.as_of().isoformat(), "place": place, "lang": lang,
        "sectors": list(sectors) if sectors else list(SECTORS), "seed": bp.seed,
        "params": bp.to_dict(), "jobs": n_jobs, "versions": _versions(),
        "inputs": _inputs(data_paths, bp, job_list, scenarios_path, choices.source,
                          task_paths),
        "model_choices": choices.to_dict(), "status": "computing", "notebooks": [],
        "timings": {},
    }
    if multi is not None:
        manifest.update(places=list(multi["codes"]), successor_of_place=multi["successor"],
                        executor={"kind": executor_kind, "scheduler": scheduler,
                                  "chunk_size": chunk_size})
    write_manifest(run_dir, manifest)
    say(f"khforecast run: {run_dir}")
    try:
        with stack:
            manifest["compute"] = compute_results(observations, catalog, bp, run_dir, place=place,
                                                  scenarios=scenarios_path, executor=executor,
                                                  choices=choices)
            if multi is not None:
                manifest["compute"]["places"] = _compute_places(
                    multi, run_dir, observations, bp, scenarios_path, chunk_size)
        manifest["tasks"] = write_task_files(run_dir, catalog, reports, bp.as_of())
    except BaseException as exc:  # say in the run folder why it stopped, then re-raise
        manifest["status"] = "failed"
        manifest["error"] = f"forecasting failed: {type(exc).__name__}: {exc}"
        write_manifest(run_dir, manifest)
        raise
    manifest["timings"]["compute_seconds"] = manifest["compute"]["seconds"]
    manifest["status"] = "executing"
    write_manifest(run_dir, manifest)

    (run_dir / "notebooks").mkdir(exist_ok=True)
    (run_dir / "html").mkdir(exist_ok=True)
    t_nb = time.perf_counter()
    from tqdm.auto import tqdm

    with tqdm(total=len(job_list), desc="notebooks", unit="nb", disable=not progress,
              file=sys.stderr) as bar:
        def done(entry: dict[str, Any]) -> None:
            bar.update(1)
            if entry["status"] != "ok":
                bar.write(f"khforecast run: {entry['name']} failed: {entry['error']}",
                          file=sys.stderr)

        entries: dict[str, dict[str, Any]] = {}
        try:
            execute_notebooks(job_list, run_dir, n_jobs=n_jobs, lang=lang,
                              start_timeout=bp.kernel_start_timeout,
                              cell_timeout=bp.cell_timeout, on_done=done, entries=entries)
        except KeyboardInterrupt:  # Ctrl-C: the queue is stopped and the kernels ended
            manifest["status"] = "interrupted"
            manifest["error"] = "interrupted (Ctrl-C) while the notebooks ran; latest not moved"
            manifest["notebooks"] = [entries[j.name] for j in job_list if j.name in entries]
            manifest["timings"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
            write_manifest(run_dir, manifest)
            raise
    manifest["notebooks"] = [entries[j.name] for j in job_list]
    manifest["timings"]["notebooks_seconds"] = round(time.perf_counter() - t_nb, 3)
    failed = [e["name"] for e in manifest["notebooks"] if e["status"] != "ok"]

    assessment = pd.read_csv(run_dir / "assessment.csv", dtype={"indicator_id": str})
    outlook = assessment[(assessment["target_year"] == 2030) & (assessment["place"] == place)
                         & (assessment["scenario"] == bp.scenarios[0])
                         & (assessment["status"] != "no_target")]  # '-' in the plan
    headline = headline_of(outlook["status"])
    manifest["headline"] = headline
    for entry in manifest["notebooks"]:  # each sector's own counts, for the index page
        sector = entry["parameters"].get("sector") if entry["template"] == \
            "sector_briefing.ipynb" else None
        if sector:
            ids = {i.id for i in catalog.in_sector(sector)}
            entry["headline"] = {s: int(n) for s, n in outlook.loc[
                outlook["indicator_id"].isin(ids), "status"].value_counts().items()}
    illustrative = bool((observations.get("status", pd.Series(dtype=str)).astype(str)
                         == "illustrative").any())
    manifest["illustrative"] = illustrative
    messages = key_messages_html(load_run(run_dir), None, lang)
    render_index(run_dir, manifest, headline=headline, lang=lang, illustrative=illustrative,
                 messages=messages)
    if pdf:
        try:
            pdfs = print_pdf([run_dir / e["html"] for e in manifest["notebooks"] if e.get("html")])
            for e in manifest["notebooks"]:
                if e.get("html"):
                    e["pdf"] = str(Path(e["html"]).with_suffix(".pdf"))
            render_index(run_dir, manifest, headline=headline, lang=lang,
                         illustrative=illustrative, messages=messages)  # now with PDF links
            pdfs += print_pdf([run_dir / "index.html"])
            manifest["pdf"] = [str(p.relative_to(run_dir)) for p in pdfs]
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            manifest["pdf"] = f"not written: {exc}"
            say(f"khforecast run: PDFs not written: {exc}")
    manifest["status"] = "ok" if not failed else "failed"
    manifest["timings"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
    write_manifest(run_dir, manifest)
    result = RunResult(run_dir, manifest, failed)
    if not failed:
        switch_latest(out_dir, run_dir.name)
        result.latest_updated = True
    return result


def _plan_places(places: str | Sequence[str], place: str, observations: pd.DataFrame,
                 stack: contextlib.ExitStack, choices: ModelChoices, catalog: Catalog,
                 **executor: Any) -> dict[str, Any]:
    """Check the places, add the GSO panels' series, check the model choices against every
    place's data and open the executor (all before any write)."""
    known = bundled_places()
    codes = known.select(places)
    extra = tuple(c for c in codes if c != place)
    with_panels = tuple(dict.fromkeys((*codes, *([place] if place in known.before or place in known.after else []))))
    obs = merge_sources(observations, panel_observations(known, with_panels))
    check_places_choices(choices, catalog, obs, dict.fromkeys((place, *codes)))
    ex = stack.enter_context(open_executor(executor.pop("executor"), **executor))
    successor = known.before[place].successor if place in known.before else None
    return {"codes": codes, "extra": extra, "observations": obs, "executor": ex,
            "successor": successor, "parts": {c: known.parts_of(c) for c in extra},
            "choices": choices}


def _compute_places(multi: dict[str, Any], run_dir: Path, observations: pd.DataFrame,
                    bp: BatchParams, scenarios_path: Path | None, chunk_size: int) -> dict[str, Any]:
    """Forecast and assess the other places of a multi-place run into the run's CSVs."""
    t0 = time.perf_counter()
    defs = load_scenarios(scenarios_path)
    spec = RunSpec(seed=bp.seed, sims=bp.sims, scenarios=tuple(bp.scenarios),
                   definitions={n: defs[n] for n in bp.scenarios if n in defs},
                   thresholds=tuple(bp.thresholds), choices=multi["choices"])
    rows = add_places_to_run(run_dir, multi["executor"], multi["extra"], observations, spec,
                             per_unit=chunk_size, parts=multi["parts"])
    return {"n_places": len(multi["codes"]), "rows_added": rows,
            "seconds": round(time.perf_counter() - t0, 3)}


def _replace(bp: BatchParams, **changes: Any) -> BatchParams:
    import dataclasses

    return dataclasses.replace(bp, **{k: v for k, v in changes.items() if v is not None})
