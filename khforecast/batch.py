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

import datetime as _dt
import io
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from khforecast._io import atomic_write, atomic_write_csv, atomic_write_text, sha256_file
from khforecast.errors import KhforecastError, ParamsError
from khforecast.figures import HEADLINE_STATUSES, STATUS_ORDER
from khforecast.params import SECTORS, BatchParams, load_params

__all__ = [
    "KERNEL_ARGS",
    "KERNEL_NAME",
    "NotebookJob",
    "RunResult",
    "backtest_indicators",
    "compute_results",
    "execute_notebook",
    "execute_notebooks",
    "notebooks_dir",
    "plan_jobs",
    "run_batch",
    "switch_latest",
]

#: the Jupyter kernel the notebooks run in (the Makefile registers it inside ``.venv``)
KERNEL_NAME = "python3"
#: draws kept per indicator and scenario in ``draws.npz`` (for the deep dive and explorer)
_MAX_DRAWS = 1000
#: the kernel logs errors only (not ipykernel's warning that its local TCP is unencrypted)
KERNEL_ARGS: tuple[str, ...] = ("--IPKernelApp.log_level=ERROR",)
_VERSIONS = ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn", "papermill",
             "nbconvert", "nbclient", "ipykernel")


def notebooks_dir() -> Path:
    """The folder of the notebook templates shipped with the package."""
    return Path(str(resources.files("khforecast") / "notebooks"))


@dataclass(frozen=True)
class NotebookJob:
    """One notebook of a batch: which template, under which name, with which parameters."""

    name: str  # file stem of the outputs: html/<name>.html, notebooks/<name>.ipynb
    template: Path
    parameters: dict[str, Any]
    title: str


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
# 1. compute once
# --------------------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("khforecast", *_VERSIONS):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def compute_results(observations: pd.DataFrame, catalog: Any, params: BatchParams,
                    run_dir: Path, *, place: str = "khanh_hoa",
                    scenarios: Path | None = None) -> dict[str, Any]:
    """Forecast and assess every scenario once; write the run's result files to ``run_dir``.

    Writes ``forecasts.csv`` (DESIGN §3 plus ``q025, q975``) and ``assessment.csv`` (DESIGN
    §3 plus the engine's extra columns), one block of rows per scenario;
    ``observations.csv`` (what was read, all places); ``draws.npz`` (up to 1000 simulated
    paths per indicator and scenario); ``backtest.csv`` for the deep-dive indicators
    (:func:`backtest_indicators`); ``calibration.csv`` when the calibration module provides a
    table; ``scenarios.yaml``, a copy of the scenario definitions used (``scenarios``, default
    :func:`~khforecast.scenarios.default_scenarios_path`), which the explorer reads so that it
    describes this run's scenarios whatever folder it runs in. Returns a summary for the manifest.
    """
    from khforecast.assess import assess_scenarios
    from khforecast.forecaster import Forecaster
    from khforecast.scenarios import default_scenarios_path, load_scenarios

    t0 = time.perf_counter()
    results = Forecaster(sims=params.sims, seed=params.seed).fit(observations, catalog,
                                                                 place=place)
    scenarios = scenarios if scenarios is not None else default_scenarios_path()
    definitions = load_scenarios(scenarios)
    paths, forecasts, assessment = assess_scenarios(results, params.scenarios, catalog,
                                                    thresholds=params.thresholds,
                                                    definitions=definitions)
    forecasts = _with_95_band(forecasts, paths.values())
    draws = {}
    for scenario, scenario_paths in paths.items():
        for ind_id in forecasts.loc[(forecasts["place"] == place)
                                    & (forecasts["scenario"] == scenario),
                                    "indicator_id"].drop_duplicates():
            years, arr = scenario_paths.paths(ind_id)
            draws[f"{ind_id}|{scenario}"] = np.asarray(arr[:_MAX_DRAWS], dtype=float)
            draws[f"years|{ind_id}|{scenario}"] = np.asarray(years, dtype=np.int32)
    atomic_write_csv(run_dir / "forecasts.csv", forecasts)
    atomic_write_csv(run_dir / "assessment.csv", assessment)
    columns = [c for c in ("indicator_id", "place", "year", "value", "source", "status", "note")
               if c in observations.columns]
    atomic_write_csv(run_dir / "observations.csv", observations[columns])
    if scenarios is not None:
        with atomic_write(run_dir / "scenarios.yaml", "wb") as fh:
            fh.write(Path(scenarios).read_bytes())
    with atomic_write(run_dir / "draws.npz", "wb") as fh:
        np.savez_compressed(fh, **draws)
    if params.deep_dives:
        table = backtest_indicators(observations, catalog, params, params.deep_dives, place=place)
        atomic_write_csv(run_dir / "backtest.csv", table)
    calibration = _calibration_table()
    if calibration is not None:
        atomic_write_csv(run_dir / "calibration.csv", calibration)
    return {"seconds": round(time.perf_counter() - t0, 3), "n_forecast_rows": len(forecasts),
            "n_assessment_rows": len(assessment),
            "models": assessment["model"].value_counts(dropna=True).to_dict()}


def _with_95_band(frame: pd.DataFrame, scenario_paths: Iterable[Any]) -> pd.DataFrame:
    """``frame`` (forecasts.csv columns) plus ``q025`` and ``q975`` from the same draws, so the
    fan charts can show a 95 % band (DESIGN's columns stop at q05/q95)."""
    extra = []
    for paths in scenario_paths:
        for s in paths:
            q = np.quantile(s.paths, (0.025, 0.975), axis=0)
            extra.append(pd.DataFrame({"indicator_id": s.indicator_id, "place": s.place,
                                       "scenario": paths.scenario, "year": s.years.astype(int),
                                       "q025": q[0], "q975": q[1]}))
    if not extra:
        return frame.assign(q025=np.nan, q975=np.nan)
    return frame.merge(pd.concat(extra, ignore_index=True),
                       on=["indicator_id", "place", "scenario", "year"], how="left",
                       validate="one_to_one")


def backtest_indicators(observations: pd.DataFrame, catalog: Any, params: BatchParams,
                        indicator_ids: Sequence[str], *, place: str = "khanh_hoa") -> pd.DataFrame:
    """Rolling-origin back-test of the full engine on each indicator's own history.

    For every origin with at least ``MIN_OBS`` observations up to it, the same
    :class:`~khforecast.forecaster.Forecaster` (same sims, seed, calibration) is fitted on the
    years up to the origin and its paths are compared with each later observed year.

    Returns
    -------
    DataFrame
        ``indicator_id, origin, horizon, year, value, median, abs_error, q10, q90, covered80,
        pit, model``: one row per origin and later observed year (none for short series).
    """
    from khforecast.forecaster import MIN_OBS, Forecaster

    columns = ["indicator_id", "origin", "horizon", "year", "value", "median", "abs_error",
               "q10", "q90", "covered80", "pit", "model"]
    rows = []
    spec = Forecaster(sims=params.sims, seed=params.seed)
    for ind_id in indicator_ids:
        obs = observations[(observations["indicator_id"] == ind_id)
                           & (observations["place"] == place)].sort_values("year")
        years = obs["year"].astype(int).tolist()
        actual = dict(zip(years, obs["value"].astype(float)))
        for k in range(MIN_OBS, len(years)):
            origin = years[k - 1]
            paths = spec.fit(obs[obs["year"] <= origin], catalog, place=place).simulate(
                until=years[-1])
            series = paths.get(ind_id)
            if series is None or not series.forecastable:
                continue
            sim_years = series.years.tolist()
            for year in years[k:]:
                draws = series.paths[:, sim_years.index(year)]
                q10, median, q90 = np.quantile(draws, (0.10, 0.5, 0.90))
                value = actual[year]
                rows.append({"indicator_id": ind_id, "origin": origin, "horizon": year - origin,
                             "year": year, "value": value, "median": float(median),
                             "abs_error": abs(float(median) - value), "q10": float(q10),
                             "q90": float(q90), "covered80": bool(q10 <= value <= q90),
                             "pit": float(np.mean(draws <= value)), "model": series.model})
    return pd.DataFrame(rows, columns=columns)


def _calibration_table() -> pd.DataFrame | None:
    """Out-of-sample interval coverage of the shipped calibration, from its recorded back-tests.

    Uses ``khforecast/data/calibration_table.csv`` when the calibration module ships one (e.g.
    coverage by horizon), else the summary in ``calibration.json``'s ``meta``; None if neither.
    """
    from khforecast.predictive import load_pooled_calibration

    shipped = resources.files("khforecast") / "data" / "calibration_table.csv"
    if shipped.is_file():
        return pd.read_csv(io.StringIO(shipped.read_text(encoding="utf-8")))
    meta = load_pooled_calibration().meta
    rows = [{"interval": f"{level}%", "nominal": level / 100, "coverage": meta[key],
             "n_backtests": meta.get("n_backtests"), "n_series": meta.get("n_series"),
             "method": meta.get("out_of_sample", "")}
            for level, key in ((80, "oos_coverage80"), (95, "oos_coverage95")) if key in meta]
    return pd.DataFrame(rows) if rows else None


# --------------------------------------------------------------------------------------------
# 2. notebooks
# --------------------------------------------------------------------------------------------
def plan_jobs(params: BatchParams, catalog: Any, run_dir: Path, *, lang: str = "vi",
              sectors: Sequence[str] | None = None,
              extra_notebooks: Sequence[str | os.PathLike[str]] = ()) -> list[NotebookJob]:
    """The notebooks of a run: each sector's briefing, the overview, deep dives, the explorer.

    ``extra_notebooks`` are run too, given ``run_dir`` and ``lang`` as parameters.

    Raises
    ------
    ParamsError
        When a sector is not one of I..X or a deep-dive id is not in the catalog.
    """
    from khforecast.i18n import t

    src = notebooks_dir()
    common = {"lang": lang, "run_dir": str(run_dir)}
    chosen = list(sectors) if sectors else list(SECTORS)
    bad = [s for s in chosen if s not in SECTORS]
    if bad:
        raise ParamsError(f"--sectors: expected sectors among {', '.join(SECTORS)}, "
                          f"found {bad[0]!r}")
    jobs = [NotebookJob("overview", src / "overview.ipynb", dict(common), t("h.overview", lang))]
    for s in chosen:
        name = catalog.sectors[s]
        title = f"{s}. {name.name_vi if lang == 'vi' else name.name_en}"
        jobs.append(NotebookJob(f"sector_{s}", src / "sector_briefing.ipynb",
                                {**params.sector(s).notebook_parameters(), **common}, title))
    for ind_id in params.deep_dives:
        if ind_id not in catalog.indicators:
            raise ParamsError(f"{params.source or 'params'}, key 'deep_dives': expected "
                              f"indicator ids of the catalog, found {ind_id!r}")
        jobs.append(NotebookJob(f"deep_dive_{ind_id}", src / "indicator_deep_dive.ipynb",
                                {"indicator_id": ind_id, **common},
                                t("h.deep_dive", lang, id=ind_id, name=(
                                    catalog.get(ind_id).name_vi if lang == "vi"
                                    else catalog.get(ind_id).name_en))))
    if params.scenario_explorer:
        jobs.append(NotebookJob("scenario_explorer", src / "scenario_explorer.ipynb",
                                {"interactive": False, **common}, t("h.scenario_explorer", lang)))
    for extra in extra_notebooks:
        path = Path(extra)
        jobs.append(NotebookJob(path.stem, path, dict(common), path.stem))
    names = [j.name for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ParamsError(f"two notebooks of the run would be named {min(dup)!r}")
    return jobs


def _is_dead_kernel(exc: BaseException) -> bool:
    from nbclient.exceptions import DeadKernelError

    return isinstance(exc, (DeadKernelError, TimeoutError)) or (
        isinstance(exc, RuntimeError) and "Kernel didn't respond" in str(exc))


def _error_text(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}".strip()


def _papermill_without_chdir() -> None:
    """Make papermill's local file handler read and write without ``os.chdir``.

    papermill's ``LocalHandler`` wraps every read and write in ``os.chdir(self._cwd)``, a
    process-wide change, with ``_cwd`` shared by every thread: from several threads it leaves a
    stale folder there and moves this process's working folder while notebooks run (issue 7).
    The batch passes absolute paths only, so the handler needs no folder of its own: this
    makes the handler never record one (idempotent).
    """
    from papermill.iorw import papermill_io

    handler = papermill_io.get_handler("notebook.ipynb")  # the local handler
    handler.cwd = lambda new_path: None  # papermill's hook to record a folder: ignore it
    handler._cwd = None  # so its reads and writes never chdir (papermill: chdir(None) is a no-op)


def execute_notebook(job: NotebookJob, run_dir: Path, *, lang: str = "vi",
                     start_timeout: int = 120, cell_timeout: int = 600,
                     kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """Execute one notebook with papermill, then render it; never raises for the notebook's own
    errors, which are returned (and saved in the executed notebook and its HTML).

    Returns the notebook's manifest entry: ``name, title, template, parameters, status``
    (``ok`` or ``error``), ``error``, ``attempts``, ``seconds``, ``render_seconds``,
    ``notebook`` and ``html`` (paths relative to ``run_dir``).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from khforecast.render import render_html

    _papermill_without_chdir()
    nb_out = run_dir / "notebooks" / f"{job.name}.ipynb"
    html_out = run_dir / "html" / f"{job.name}.html"
    tmp = nb_out.with_name(f".{job.name}.tmp.ipynb")
    entry: dict[str, Any] = {"name": job.name, "title": job.title, "template": job.template.name,
                             "parameters": job.parameters, "status": "ok", "error": None,
                             "attempts": 0, "notebook": f"notebooks/{job.name}.ipynb",
                             "html": None}
    t0 = time.perf_counter()
    for attempt in (1, 2):
        entry["attempts"] = attempt
        try:
            papermill.execute_notebook(str(job.template), str(tmp), parameters=job.parameters,
                                       kernel_name=kernel_name, start_timeout=start_timeout,
                                       execution_timeout=cell_timeout, progress_bar=False,
                                       # the kernel's own folder; never papermill's cwd=,
                                       # which os.chdir()s this process (issue 7)
                                       resources={"metadata": {"path": str(run_dir)}},
                                       language="python",
                                       extra_arguments=list(KERNEL_ARGS))
            entry["status"], entry["error"] = "ok", None
            break
        except PapermillExecutionError as exc:
            entry["status"], entry["error"] = "error", _error_text(exc)
            break
        except Exception as exc:  # noqa: BLE001 - any failure of one notebook is recorded
            entry["status"], entry["error"] = "error", _error_text(exc)
            if not (_is_dead_kernel(exc) and attempt == 1):
                break
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    if tmp.is_file():
        os.replace(tmp, nb_out)
        t1 = time.perf_counter()
        try:
            render_html(nb_out, html_out, lang=lang, title=job.title)
            entry["html"] = f"html/{job.name}.html"
        except Exception as exc:  # noqa: BLE001 - a rendering failure fails this notebook only
            entry["status"] = "error"
            entry["error"] = (entry["error"] + "; " if entry["error"] else "") + \
                f"rendering failed: {_error_text(exc)}"
        entry["render_seconds"] = round(time.perf_counter() - t1, 3)
    else:
        entry["notebook"] = None
    return entry


def execute_notebooks(jobs: Sequence[NotebookJob], run_dir: Path, *, n_jobs: int,
                      lang: str = "vi", start_timeout: int = 120, cell_timeout: int = 600,
                      on_done: Callable[[dict[str, Any]], None] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Execute ``jobs`` (``n_jobs`` at a time, in threads); their manifest entries by name.

    Kernels start in ``run_dir`` without this process changing its working folder (see
    :func:`execute_notebook`). On Ctrl-C (or any error here) the queued notebooks are
    cancelled before the exception propagates. ``on_done`` is called with each entry as it
    finishes.
    """
    run_dir = Path(run_dir).resolve()
    entries: dict[str, dict[str, Any]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(n_jobs, len(jobs) or 1)))
    try:
        futures = [pool.submit(execute_notebook, job, run_dir, lang=lang,
                               start_timeout=start_timeout, cell_timeout=cell_timeout)
                   for job in jobs]
        for fut in as_completed(futures):
            entry = fut.result()
            entries[entry["name"]] = entry
            if on_done is not None:
                on_done(entry)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return entries


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


def _new_run_id() -> str:
    """A run id that sorts by time: ``20261130T174500Z-3f9a``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def _inputs(data: Sequence[Path], params: BatchParams, jobs: Sequence[NotebookJob],
            scenarios: Path | None) -> list[dict[str, str]]:
    files = [("data", p) for p in data]
    if params.source:
        src = Path(params.source)
        files.append(("params", src))
        files += [("params", p) for p in sorted((src.parent / "sectors").glob("*.yaml"))]
    if scenarios is not None:
        files.append(("scenarios", scenarios))
    files += [("notebook", j.template) for j in {j.template: j for j in jobs}.values()]
    return [{"kind": kind, "path": str(p.resolve()), "sha256": sha256_file(p)} for kind, p in files]


def _write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "manifest.json",
                      json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n")


def run_batch(data: Sequence[str | os.PathLike[str]] | None = None, *, place: str = "khanh_hoa",
              out: str | os.PathLike[str] = "outputs", sectors: Sequence[str] | None = None,
              lang: str = "vi", jobs: int | None = None,
              params: str | os.PathLike[str] | BatchParams | None = None,
              seed: int | None = None, sims: int | None = None, pdf: bool = False,
              extra_notebooks: Sequence[str | os.PathLike[str]] = (),
              progress: bool = True, log: Callable[[str], None] | None = None) -> RunResult:
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
        A ``batch.yaml`` path or loaded :class:`~khforecast.params.BatchParams`.
    seed, sims
        Override the params' seed and number of simulated paths.
    pdf
        Also print every page to PDF with headless Chromium (a message if it is missing).
    extra_notebooks
        More notebooks to run in the batch (given ``run_dir`` and ``lang``).
    progress
        Show a tqdm progress bar on stderr.
    log
        Where to send one-line messages (default: stderr).

    Returns
    -------
    RunResult
        ``run_dir``, ``manifest``, ``failed`` notebook names, ``latest_updated``.

    Raises
    ------
    ObservationError, ParamsError
        Before anything is written, when the data or params have problems.
    """
    from khforecast.catalog import load_catalog
    from khforecast.i18n import check_lang
    from khforecast.observations import bundled_observations_path, read_observations
    from khforecast.render import print_pdf, render_index
    from khforecast.scenarios import default_scenarios_path

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
    out_dir = Path(out).resolve()
    scenarios_path = default_scenarios_path()
    scenarios_path = scenarios_path.resolve() if scenarios_path is not None else None
    run_dir = (out_dir / _new_run_id()).resolve()
    job_list = plan_jobs(bp, catalog, run_dir, lang=lang, sectors=sectors,
                         extra_notebooks=[*bp.extra_notebooks, *extra_notebooks])
    # (params errors are raised above, before anything is written)
    run_dir.mkdir(parents=True)
    n_jobs = max(1, jobs or bp.jobs or os.cpu_count() or 1)
    manifest: dict[str, Any] = {
        "run_id": run_dir.name, "created": _dt.datetime.now(_dt.UTC).isoformat(),
        "as_of": bp.as_of().isoformat(), "place": place, "lang": lang,
        "sectors": list(sectors) if sectors else list(SECTORS), "seed": bp.seed,
        "params": bp.to_dict(), "jobs": n_jobs, "versions": _versions(),
        "inputs": _inputs(data_paths, bp, job_list, scenarios_path), "status": "computing", "notebooks": [],
        "timings": {},
    }
    _write_manifest(run_dir, manifest)
    say(f"khforecast run: {run_dir}")
    try:
        manifest["compute"] = compute_results(observations, catalog, bp, run_dir, place=place,
                                              scenarios=scenarios_path)
    except BaseException as exc:  # say in the run folder why it stopped, then re-raise
        manifest["status"] = "failed"
        manifest["error"] = f"forecasting failed: {type(exc).__name__}: {exc}"
        _write_manifest(run_dir, manifest)
        raise
    manifest["timings"]["compute_seconds"] = manifest["compute"]["seconds"]
    manifest["status"] = "executing"
    _write_manifest(run_dir, manifest)

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

        entries = execute_notebooks(job_list, run_dir, n_jobs=n_jobs, lang=lang,
                                    start_timeout=bp.kernel_start_timeout,
                                    cell_timeout=bp.cell_timeout, on_done=done)
    manifest["notebooks"] = [entries[j.name] for j in job_list]
    manifest["timings"]["notebooks_seconds"] = round(time.perf_counter() - t_nb, 3)
    failed = [e["name"] for e in manifest["notebooks"] if e["status"] != "ok"]

    assessment = pd.read_csv(run_dir / "assessment.csv", dtype={"indicator_id": str})
    outlook = assessment[(assessment["target_year"] == 2030) & (assessment["place"] == place)
                         & (assessment["scenario"] == bp.scenarios[0])
                         & (assessment["status"] != "no_target")]  # '-' in the plan
    counts = outlook["status"].value_counts()
    headline = {s: int(counts.get(s, 0)) for s in STATUS_ORDER
                if s in HEADLINE_STATUSES or counts.get(s, 0)}
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
    render_index(run_dir, manifest, headline=headline, lang=lang, illustrative=illustrative)
    if pdf:
        try:
            pdfs = print_pdf([run_dir / e["html"] for e in manifest["notebooks"] if e.get("html")])
            for e in manifest["notebooks"]:
                if e.get("html"):
                    e["pdf"] = str(Path(e["html"]).with_suffix(".pdf"))
            render_index(run_dir, manifest, headline=headline, lang=lang,
                         illustrative=illustrative)  # now with links to the PDFs
            pdfs += print_pdf([run_dir / "index.html"])
            manifest["pdf"] = [str(p.relative_to(run_dir)) for p in pdfs]
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            manifest["pdf"] = f"not written: {exc}"
            say(f"khforecast run: PDFs not written: {exc}")
    manifest["status"] = "ok" if not failed else "failed"
    manifest["timings"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
    _write_manifest(run_dir, manifest)
    result = RunResult(run_dir, manifest, failed)
    if not failed:
        switch_latest(out_dir, run_dir.name)
        result.latest_updated = True
    return result


def _replace(bp: BatchParams, **changes: Any) -> BatchParams:
    import dataclasses

    return dataclasses.replace(bp, **{k: v for k, v in changes.items() if v is not None})
