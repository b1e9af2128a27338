"""The ``khforecast`` command: catalog, template, validate, forecast, forecast-series, models, run.

Errors a user can fix print as one line (no traceback unless ``--debug``). Exit codes:
0 success, 1 the data or a run has problems, 2 a usage error (DESIGN §4).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from khforecast import __version__
from khforecast.engine.defaults import DEFAULT_SEED, DEFAULT_SIMS, QUANTILES
from khforecast.errors import CatalogError, KhforecastError, ObservationError, UsageError

__all__ = ["main", "build_parser"]




# --------------------------------------------------------------------------------------------
# command handlers: each imports its modules lazily (# lazy: comments) so `khforecast --help`
# stays fast
# --------------------------------------------------------------------------------------------
def _check_counts(args: argparse.Namespace) -> None:
    """--sims, --jobs and --horizon within their bounds (memory runs out beyond them)."""
    # lazy: the bounds live beside numpy-loading modules; `khforecast --help` needs none
    from khforecast.batch.params import JOBS_MAX
    from khforecast.engine.defaults import HORIZON_MAX, SIMS_MAX

    for option, maximum in (("sims", SIMS_MAX), ("jobs", JOBS_MAX), ("horizon", HORIZON_MAX)):
        value = getattr(args, option, None)
        if value is not None and not 1 <= value <= maximum:
            raise UsageError(f"--{option}: expected a whole number from 1 to at most "
                             f"{maximum:,}, found {value:,}")


def _cmd_catalog(args: argparse.Namespace) -> int:
    import json

    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.plan.catalog import load_catalog, normalize_sector

    cat = load_catalog()
    sector = normalize_sector(args.sector) if args.sector else None
    ind = cat.get(args.indicator_id) if args.indicator_id else None
    if ind is not None and sector is not None and ind.sector != sector:
        raise CatalogError(f"indicator {ind.id} is in sector {ind.sector}, not {sector}")
    out = sys.stdout
    try:
        if args.tasks:
            if ind is not None:
                seen = {t.id for lead in ind.leads for t in cat.tasks_for(agency=lead)}
                tasks = [t for t in cat.tasks if t.id in seen]
            else:
                tasks = cat.tasks_for(sector=sector)
            frame = cat.tasks_frame()
            frame = frame[frame["id"].isin({t.id for t in tasks})]
            if args.format == "csv":
                frame.to_csv(out, index=False, lineterminator="\n")
            elif args.format == "json":
                recs = json.loads(frame.to_json(orient="records", force_ascii=False))
                json.dump({"tasks": recs}, out, ensure_ascii=False, indent=1)
                out.write("\n")
            else:
                out.write(_catalog_table(
                    ["id", "due", "lead", "title"],
                    [[t.id, t.due_text, t.lead, t.title_vi] for t in tasks], widths=(8, 18, 36, 70)))
            return 0
        if ind is not None:
            inds = [ind, *cat.children(ind.id)]
        elif sector is not None:
            inds = cat.in_sector(sector)
        else:
            inds = list(cat.indicators.values())
        if args.format == "csv":
            frame = cat.to_frame()
            frame[frame["id"].isin({i.id for i in inds})].to_csv(out, index=False,
                                                                 lineterminator="\n")
        elif args.format == "json":
            json.dump({"meta": dict(cat.meta), "indicators": [i.to_dict() for i in inds]}, out,
                      ensure_ascii=False, indent=1)
            out.write("\n")
        else:
            out.write(_catalog_table(
                ["id", "sector", "name", "unit", "2025", "2030", "lead"],
                [[i.id, i.sector, i.name_vi, i.unit, i.targets[2025].text, i.targets[2030].text,
                  i.lead] for i in inds], widths=(18, 6, 60, 15, 22, 22, 36)))
        out.flush()
    except BrokenPipeError:  # `khforecast catalog | head`: the reader left, nothing to report
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _catalog_table(header: list[str], rows: list[list[str]], widths: Sequence[int]) -> str:
    """Left-aligned text columns, each cut to its maximum width with an ellipsis."""
    import unicodedata

    def cell(s: object, w: int) -> str:
        s = " ".join(unicodedata.normalize("NFC", str(s)).split())
        return s if len(s) <= w else s[: w - 1] + "…"

    cells = [[cell(v, w) for v, w in zip(r, widths)] for r in [header, *rows]]
    cols = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = ["  ".join(v.ljust(c) for v, c in zip(r, cols)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * c for c in cols))
    return "\n".join(lines) + "\n"


def _cmd_template(args: argparse.Namespace) -> int:
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.observations.records import YEAR_MAX, YEAR_MIN
    from khforecast.observations.template import write_template
    from khforecast.plan.catalog import load_catalog
    from khforecast.plan.departments import resolve_department

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"OUT.xlsx must end in .xlsx, got {args.out!r}")
    if not YEAR_MIN <= args.start_year <= args.end_year <= YEAR_MAX:
        raise UsageError(f"--start-year/--end-year must satisfy {YEAR_MIN} <= start <= end <= "
                          f"{YEAR_MAX}, got {args.start_year}..{args.end_year}")
    if out.exists() and not args.force:
        raise UsageError(f"{args.out} exists; use --force to overwrite it")
    department = None
    if args.department is not None:
        try:
            department = resolve_department(load_catalog(), args.department)
        except CatalogError as exc:
            raise UsageError(f"--department: {exc}") from None
    write_template(out, start_year=args.start_year, end_year=args.end_year, force=args.force,
                   department=department)
    only = f", only {department}'s indicators and tasks" if department else ""
    print(f"wrote {args.out} (years {args.start_year}-{args.end_year}{only}); fill it in, then "
          f"run `khforecast validate {args.out}`")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.observations.read import check_observations
    from khforecast.observations.tasks import check_task_reports, is_task_report_file
    from khforecast.plan.catalog import load_catalog

    task_files = [f for f in args.data if is_task_report_file(f)]
    obs_files = [f for f in args.data if f not in task_files]
    books = [f for f in obs_files if Path(f).suffix.lower() in (".xlsx", ".xlsm")]
    frame, problems = check_observations(*obs_files, decimal=args.decimal) if obs_files else (
        None, [])
    # task CSVs, and the sheet "Nhiệm vụ" of each workbook when it is there
    tasks, task_problems = check_task_reports(*task_files, *books, catalog=load_catalog(),
                                              workbook_sheet_required=False)
    reported = set(tasks["file"]) if len(tasks) else set()
    # a workbook holding task reports and no values is not empty (issue 13's rule is per input)
    problems = [p for p in problems if not (p.file in reported and p.row is None
                                            and p.expected.startswith("at least one value"))]
    problems = problems + task_problems
    if any(p.severity == "error" for p in problems):
        raise ObservationError(problems)
    for problem in problems:
        print(str(problem), file=sys.stderr)
    parts = [f"{len(args.data)} file(s)"]
    if frame is not None:
        years = (f"years {frame['year'].min()}-{frame['year'].max()}" if len(frame)
                 else "no years")
        parts.append(f"{len(frame)} row(s), {frame['indicator_id'].nunique()} indicator(s), "
                     f"{frame['place'].nunique()} place(s), {years}")
    if task_files or len(tasks):
        parts.append(f"{len(tasks)} task report(s) on {tasks['task_id'].nunique()} task(s)")
    n_warn = len(problems)
    print("valid: " + ", ".join(parts) + (f"; {n_warn} warning(s) on stderr" if n_warn else ""))
    return 0


def _cmd_forecast(args: argparse.Namespace) -> int:
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.batch.forecast import run_forecast

    _check_counts(args)
    if args.places or args.communes is not None:
        return _forecast_places(args)
    if args.executor != "processes" or args.scheduler:
        raise UsageError("--executor dask and --scheduler need --places or --communes")
    manifest = run_forecast(args.out, data=args.data or None, place=args.place,
                            scenarios=args.scenario, params=args.params, seed=args.seed,
                            sims=args.sims, jobs=args.jobs, decimal=args.decimal)
    counts = manifest["counts"]
    status = ", ".join(f"{k} {v}" for k, v in counts["status"].items())
    print(f"khforecast: {counts['series']} series, {counts['assessment_rows']} assessment rows "
          f"({status}) written to {args.out} in {manifest['timings_s']['total']:.1f} s")
    return 0


def _forecast_places(args: argparse.Namespace) -> int:
    """``forecast --places ...`` / ``--communes N``: many places through one executor."""
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.batch.multirun import run_forecast_places

    if args.places and args.communes:
        raise UsageError("give --places or --communes, not both")
    if args.communes is not None and not 1 <= args.communes <= 3321:
        raise UsageError(f"--communes: expected 1..3321, got {args.communes}")
    if args.chunk_size < 1:
        raise UsageError(f"--chunk-size: expected a positive number of places, got {args.chunk_size}")
    manifest = run_forecast_places(
        args.out, places=args.places, communes=args.communes, data=args.data or None,
        scenarios=args.scenario, params=args.params, seed=args.seed, sims=args.sims,
        executor=args.executor, scheduler=args.scheduler, workers=args.jobs,
        per_unit=args.chunk_size, decimal=args.decimal)
    what = "ILLUSTRATIVE communes" if manifest["illustrative"] else "places"
    print(f"khforecast: {manifest['n_places']} {what}, rows {manifest['rows']} written to "
          f"{args.out} in {manifest['timings_s']['total']:.1f} s ({args.executor})")
    return 0


def _cmd_forecast_series(args: argparse.Namespace) -> int:
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.engine.series import (
        SeriesInputError,
        forecast_series,
        parse_quantiles,
        read_series,
        write_series_forecasts,
    )

    _check_counts(args)
    try:
        parse_quantiles(args.quantiles)
    except SeriesInputError as exc:
        raise UsageError("; ".join(exc.problems)) from None
    frame = read_series(args.input, domain=args.domain)
    out = forecast_series(frame, args.horizon, domain=args.domain, quantiles=args.quantiles,
                          seed=args.seed, sims=args.sims, jobs=args.jobs)
    write_series_forecasts(out, args.out)
    n_short = int((out.groupby("series_id")["model"].first() == "insufficient_data").sum())
    print(f"wrote {len(out)} rows for {out['series_id'].nunique()} series to {args.out}"
          + (f" ({n_short} with fewer than 3 points: insufficient_data)" if n_short else ""),
          file=sys.stderr)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    import json

    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.engine.model_choices import check_choices, load_model_choices, registry_table
    from khforecast.observations.read import bundled_observations_path, read_observations
    from khforecast.plan.catalog import load_catalog

    if args.check is None:
        table = registry_table()
        if args.format == "csv":
            table.to_csv(sys.stdout, index=False, lineterminator="\n")
        elif args.format == "json":
            json.dump({"models": table.to_dict(orient="records")}, sys.stdout, ensure_ascii=False,
                      indent=1)
            sys.stdout.write("\n")
        else:
            cols = ["name", "what", "source", "settings", "estimates", "min_obs", "fallback"]
            sys.stdout.write(_catalog_table(cols, table[cols].astype(str).values.tolist(),
                                            widths=(15, 60, 45, 40, 60, 7, 12)))
        return 0
    choices = load_model_choices(args.check)
    catalog = load_catalog()
    files = [Path(p) for p in args.data] if args.data else [bundled_observations_path()]
    check_choices(choices, catalog, read_observations(*files, catalog=catalog), place=args.place)
    print(f"valid: {args.check}: default models {', '.join(choices.default.models or ('combination',))}; "
          f"{len(choices.indicators)} indicator entr{'y' if len(choices.indicators) == 1 else 'ies'} "
          f"checked against the catalog and {len(files)} data file(s) at {args.place}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    # lazy: the commands' modules load numpy/pandas/scipy (~3 s); `khforecast --help` needs none
    from khforecast.batch.run import run_batch
    from khforecast.plan.catalog import normalize_sector

    try:
        sectors = [normalize_sector(s) for s in args.sectors] if args.sectors else None
    except CatalogError as exc:
        raise UsageError(f"--sectors: {exc}") from None
    _check_counts(args)
    if (args.executor != "processes" or args.scheduler) and not args.places:
        raise UsageError("--executor dask and --scheduler need --places")
    if args.chunk_size < 1:
        raise UsageError(f"--chunk-size: expected a positive number of places, got {args.chunk_size}")
    result = run_batch(args.data, place=args.place, out=args.out, sectors=sectors,
                       lang=args.lang, jobs=args.jobs, params=args.params, seed=args.seed,
                       sims=args.sims, pdf=args.pdf, tasks=args.tasks or (), places=args.places,
                       executor_kind=args.executor, scheduler=args.scheduler,
                       chunk_size=args.chunk_size)
    if result.failed:
        print(result.run_dir / "index.html")
        for entry in result.manifest["notebooks"]:
            if entry["status"] != "ok":
                where = result.run_dir / (entry["notebook"] or "")
                print(f"khforecast run: {entry['name']} failed: {entry['error']} (saved in "
                      f"{where})", file=sys.stderr)
        print(f"khforecast run: {len(result.failed)} of {len(result.manifest['notebooks'])} "
              "notebook(s) failed; outputs/latest was not moved", file=sys.stderr)
        return 1
    print(f"khforecast run: complete ({len(result.manifest['notebooks'])} notebooks) in "
          f"{result.run_dir}", file=sys.stderr)
    print(Path(args.out) / "latest" / "index.html")
    return 0


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: the file, what went wrong, that nothing was changed."""
    where = f"{exc.filename}: " if exc.filename else ""
    what = (exc.strerror or str(exc)).rstrip(".")
    return f"{where}{what[:1].lower() + what[1:]}; the previous output, if any, is unchanged"


# --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (kept separate so tests and docs can inspect it)."""
    p = argparse.ArgumentParser(
        prog="khforecast",
        description="Forecasts and target probabilities for Khánh Hòa plan 8839/KH-UBND.",
    )
    p.add_argument("--version", action="version", version=f"khforecast {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("catalog", help="list the plan's indicators and targets")
    c.add_argument("--sector", help="sector I..X")
    c.add_argument("--id", dest="indicator_id", help="one indicator id, e.g. 33 or 33.poor_districts")
    c.add_argument("--tasks", action="store_true", help="list Appendix II tasks instead of indicators")
    c.add_argument("--format", choices=["table", "csv", "json"], default="table")
    c.set_defaults(func=_cmd_catalog)

    t = sub.add_parser("template", help="write the Excel template for observations")
    t.add_argument("out", metavar="OUT.xlsx")
    t.add_argument("--start-year", type=int, default=2015)
    t.add_argument("--end-year", type=int, default=2030)
    t.add_argument("--force", action="store_true", help="overwrite OUT.xlsx if it exists")
    t.add_argument("--department", default=None, metavar="NAME",
                   help="only the indicators and tasks of this current lead department")
    t.set_defaults(func=_cmd_template)

    v = sub.add_parser("validate", help="check observation or task report files (CSV or the "
                                        "Excel template)")
    v.add_argument("data", nargs="+", metavar="DATA")
    v.add_argument("--decimal", choices=[".", ","], default=None,
                   help="decimal mark of the numbers (default: '.'; ',' for Vietnamese format)")
    v.set_defaults(func=_cmd_validate)

    f = sub.add_parser("forecast", help="forecast every indicator and assess its targets")
    f.add_argument("--data", nargs="*", default=None, help="observation files (default: bundled)")
    f.add_argument("--out", required=True, metavar="DIR")
    f.add_argument("--place", default="khanh_hoa")
    f.add_argument("--scenario", action="append", default=None,
                   help="scenario name from params/scenarios.yaml (repeatable; default: bau)")
    f.add_argument("--params", default=None, help="a params YAML (default: params/batch.yaml)")
    f.add_argument("--seed", type=int, default=None,
                   help=f"default: the params file's seed, else {DEFAULT_SEED}")
    f.add_argument("--sims", type=int, default=None,
                   help=f"default: the params file's sims, else {DEFAULT_SIMS}")
    f.add_argument("--jobs", type=int, default=None)
    f.add_argument("--decimal", choices=[".", ","], default=None)
    _add_place_options(f)
    f.add_argument("--communes", type=int, default=None, metavar="N",
                   help="ILLUSTRATIVE generated data for the first N of 3,321 communes, written as "
                        "partitioned Parquet (a scale run; not official statistics)")
    f.set_defaults(func=_cmd_forecast)

    s = sub.add_parser("forecast-series", help="the same engine on any yearly series")
    s.add_argument("--input", required=True, metavar="CSV", help="columns series_id, t, value")
    s.add_argument("--horizon", type=int, required=True, metavar="H")
    s.add_argument("--out", required=True, metavar="CSV")
    s.add_argument("--domain", choices=["real", "positive", "percent"], default="real")
    s.add_argument("--quantiles", default=",".join(f"{q:g}" for q in QUANTILES))
    s.add_argument("--seed", type=int, default=DEFAULT_SEED)
    s.add_argument("--sims", type=int, default=DEFAULT_SIMS)
    s.add_argument("--jobs", type=int, default=1)
    s.set_defaults(func=_cmd_forecast_series)

    m = sub.add_parser("models", help="list the model registry, or check a models.yaml")
    m.add_argument("--check", metavar="FILE", default=None,
                   help="validate FILE (e.g. params/models.yaml) against the registry, the "
                        "catalog and the data; nothing is written")
    m.add_argument("--data", nargs="*", default=None, help="observation files (default: bundled)")
    m.add_argument("--place", default="khanh_hoa")
    m.add_argument("--format", choices=["table", "csv", "json"], default="table")
    m.set_defaults(func=_cmd_models)

    r = sub.add_parser("run", help="the batch: forecasts, then every briefing rendered to HTML")
    r.add_argument("--data", nargs="*", default=None, help="observation files (default: bundled)")
    r.add_argument("--tasks", nargs="*", default=None, metavar="FILE",
                   help="task progress reports (CSV, or a workbook's sheet 'Nhiệm vụ')")
    r.add_argument("--place", default="khanh_hoa")
    r.add_argument("--out", default="outputs", metavar="DIR", help="parent folder of run folders")
    r.add_argument("--sectors", nargs="*", default=None, help="sectors I..X (default: all)")
    r.add_argument("--lang", choices=["vi", "en"], default="vi")
    r.add_argument("--jobs", type=int, default=None, help="parallel notebooks (default: cores)")
    r.add_argument("--params", default=None, help="batch params YAML (default: params/batch.yaml)")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--sims", type=int, default=None)
    r.add_argument("--pdf", action="store_true", help="also print PDFs with headless Chromium")
    _add_place_options(r)
    r.set_defaults(func=_cmd_run)
    return p


def _add_place_options(p: argparse.ArgumentParser) -> None:
    """--places, --executor, --scheduler, --chunk-size (forecast and run)."""
    p.add_argument("--places", default=None, metavar="all|merged|LIST",
                   help="many places: all (the 63 provinces before 1 July 2025), merged (the 34 "
                        "after) or comma-separated codes; default: only --place")
    p.add_argument("--executor", choices=["processes", "dask"], default="processes",
                   help="where series are computed (dask: a LocalCluster, or --scheduler)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    p.add_argument("--chunk-size", type=int, default=1, metavar="N",
                   help="places per unit of work (the output does not depend on it)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ObservationError as exc:
        if args.debug:
            raise
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        n_err = exc.n_errors
        print(f"khforecast: {n_err} problem(s) found; nothing was written", file=sys.stderr)
        return 1
    except UsageError as exc:
        if args.debug:
            raise
        print(f"khforecast: usage error: {exc}", file=sys.stderr)
        return 2
    except KhforecastError as exc:
        if args.debug:
            raise
        print(f"khforecast: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("khforecast: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the file system refused (full disk, no permission, a file in the
        if args.debug:      # way): the user's to fix, and the writers left the old files
            raise
        print(f"khforecast: error: {_os_error(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # an internal bug: still one line unless --debug
        if args.debug:
            raise
        print(f"khforecast: internal error: {type(exc).__name__}: {exc} (rerun with --debug for "
              "the traceback, and please report it)", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
