"""The generic front door: forecast any set of yearly (or step-indexed) series from a long table.

``khforecast forecast-series`` reads ``series_id, t, value`` and writes one row per series and
future step with the mean and the requested quantiles of the simulated paths. Each series gets
its own ``SeedSequence`` spawn, assigned in sorted ``series_id`` order, so the output does not
depend on the row order of the input or on the number of worker processes.
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
import pandas as pd

from khforecast._io import atomic_write_csv
from khforecast.engine.defaults import DEFAULT_SEED, DEFAULT_SIMS, QUANTILES, VALUE_MAX
from khforecast.engine.executor import run_map
from khforecast.engine.models import InsufficientDataError, fit_many_series
from khforecast.engine.scales import DOMAINS, Domain
from khforecast.engine.predictive import PooledCalibration, load_pooled_calibration, predictive_paths
from khforecast.engine.ranks import draw_quantiles
from khforecast.errors import KhforecastError, ModelFitError

__all__ = [
    "SeriesInputError",
    "forecast_series",
    "parse_quantiles",
    "read_series",
    "validate_series",
    "write_series_forecasts",
]

_REQUIRED = ("series_id", "t", "value")
_CHUNK = 64


class SeriesInputError(KhforecastError, ValueError):
    """Raised when a series table has problems; ``.problems`` lists every one (one per line)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(f"{len(problems)} problem(s) in the series input:\n" + "\n".join(problems))


def _show(cell: object) -> str:
    """A cell as the user wrote it: text quoted, numbers plain, a missing cell as 'nothing'."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return "nothing"
    if isinstance(cell, str):
        return repr(cell)
    return f"{cell:g}" if isinstance(cell, (float, np.floating)) else str(cell)


def parse_quantiles(text: str | Sequence[float | str]) -> list[tuple[str, float]]:
    """Parse ``"0.05,0.5,0.95"`` (or a sequence) into ``(label as given, level)`` pairs."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[tuple[str, float]] = []
    for item in items:
        label = str(item).strip()
        try:
            level = float(label)
        except ValueError:
            raise SeriesInputError([(f"--quantiles: expected numbers in (0, 1) separated by ',', "
                                    f"found {label!r}")]) from None
        if not 0.0 < level < 1.0:
            raise SeriesInputError([(f"--quantiles: expected levels strictly between 0 and 1, "
                                    f"found {label}")])
        out.append((label, level))
    if not out:
        raise SeriesInputError(["--quantiles: expected at least one level"])
    return out


def validate_series(frame: pd.DataFrame, *, source: str = "input", domain: Domain = "real"
                    ) -> pd.DataFrame:
    """Check a ``series_id, t, value`` table and return it clean and sorted by (series_id, t).

    Rows are numbered as lines of a CSV file with a header (the first data row is row 2).

    Raises
    ------
    SeriesInputError
        Listing every problem: a missing column, a non-integer ``t``, a non-numeric or missing
        ``value``, a value outside ``domain``, a duplicate ``(series_id, t)``, a gap in ``t``.
    """
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise SeriesInputError([(f"{source}: missing column(s) {', '.join(map(repr, missing))}; "
                                f"expected columns series_id, t, value, found "
                                f"{', '.join(map(str, frame.columns))}")])
    problems: list[str] = []
    rows = np.arange(len(frame)) + 2
    sid = frame["series_id"].astype("string")
    t_num = pd.to_numeric(frame["t"], errors="coerce")
    v_num = pd.to_numeric(frame["value"], errors="coerce")
    for i in np.flatnonzero(sid.isna().to_numpy()):
        problems.append(f"{source} row {rows[i]}, column 'series_id': expected an id, found nothing")
    t_arr = t_num.to_numpy(dtype=float, na_value=np.nan)
    bad_t = ~np.isfinite(t_arr) | (np.abs(t_arr - np.round(t_arr)) > 1e-9)
    for i in np.flatnonzero(bad_t):
        problems.append(f"{source} row {rows[i]}, column 't': expected an integer year or step, "
                        f"found {_show(frame['t'].iloc[i])}")
    v_arr = v_num.to_numpy(dtype=float, na_value=np.nan)
    for i in np.flatnonzero(~np.isfinite(v_arr)):
        problems.append(f"{source} row {rows[i]}, column 'value': expected a number, "
                        f"found {_show(frame['value'].iloc[i])}")
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(v_arr) & (np.abs(v_arr) > VALUE_MAX)
    for i in np.flatnonzero(huge):
        problems.append(f"{source} row {rows[i]}, column 'value': expected a number of "
                        f"magnitude at most {VALUE_MAX:g}, found {v_arr[i]:g}, too large to "
                        "forecast (rescale the series, e.g. to millions)")
    if domain not in DOMAINS:
        problems.append(f"domain: expected one of {', '.join(DOMAINS)}, found {domain!r}")
    else:
        ok = np.isfinite(v_arr)
        lo_bad = ok & (v_arr < 0) if domain in ("percent", "positive") else np.zeros(len(v_arr), bool)
        hi_bad = ok & (v_arr > 100) if domain == "percent" else np.zeros(len(v_arr), bool)
        want = "a percent in 0-100" if domain == "percent" else "a value >= 0"
        for i in np.flatnonzero(lo_bad | hi_bad):
            problems.append(f"{source} row {rows[i]}, column 'value': expected {want} "
                            f"(--domain {domain}), found {v_arr[i]:g}")
    clean = pd.DataFrame({"series_id": sid, "t": np.round(t_arr), "value": v_arr, "_row": rows})
    valid = clean.dropna(subset=["series_id", "t"]).sort_values(["series_id", "t", "_row"],
                                                                kind="stable")
    dup = valid.duplicated(["series_id", "t"], keep="first")
    for _, r in valid[dup].iterrows():
        first = valid[(valid["series_id"] == r["series_id"]) & (valid["t"] == r["t"])]["_row"].iloc[0]
        problems.append(f"{source} row {r['_row']}: duplicate (series_id, t) = "
                        f"({r['series_id']!r}, {int(r['t'])}); first seen at row {first}")
    valid = valid[~dup]
    step = valid.groupby("series_id", sort=False)["t"].diff()
    for _, r in valid[step > 1].iterrows():
        problems.append(f"{source} row {r['_row']}: series {r['series_id']!r} jumps to t = "
                        f"{int(r['t'])} after a gap; expected consecutive steps (fill or drop "
                        "the missing ones)")
    if problems:
        raise SeriesInputError(problems)
    out = valid.drop(columns="_row").reset_index(drop=True)
    out["t"] = out["t"].astype("int64")
    return out


def read_series(path: str | os.PathLike[str], *, domain: Domain = "real") -> pd.DataFrame:
    """Read and validate a ``series_id, t, value`` CSV (UTF-8, a BOM tolerated); never writes it.

    Raises ``SeriesInputError`` naming the file (and the line, for bytes that are not UTF-8)
    when it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SeriesInputError([f"{p}: file not found"]) from None
    except IsADirectoryError:
        raise SeriesInputError([f"{p}: expected a CSV file, found a directory"]) from None
    except OSError as exc:
        raise SeriesInputError([f"{p}: cannot read it ({exc.strerror or exc})"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SeriesInputError([f"{p} line {line}: expected UTF-8 text, found the byte "
                                f"0x{data[exc.start]:02x} (save the file as UTF-8)"]) from None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={"series_id": "string"},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SeriesInputError([(f"{p}: expected a CSV with a header row, could not read "
                                f"it ({str(exc).strip()})")]) from None
    return validate_series(frame, source=p.name, domain=domain)


def _forecast_chunk(task: tuple) -> list[tuple]:
    """Worker: forecast a chunk of series; a pure function of its arguments."""
    units, h, sims, domain, calibration, levels = task
    out = []
    fits = fit_many_series([y for _, y, _ in units], domain=domain)  # the chunk's fits together
    for (sid, y, seed), fitted in zip(units, fits):
        rng = np.random.default_rng(seed)
        try:
            res = predictive_paths(y, h, sims, rng, domain=domain, calibration=calibration,
                                   fitted=fitted)
        except InsufficientDataError:
            out.append((sid, None, None, "insufficient_data"))
            continue
        except ModelFitError as exc:
            out.append((sid, None, None, f"failed: {exc}"))
            continue
        out.append((sid, res.paths.mean(axis=0), draw_quantiles(res, levels), res.model))
    return out


def forecast_series(frame: pd.DataFrame, horizon: int, *, domain: Domain = "real",
                    quantiles: Sequence[float | str] = QUANTILES, seed: int | None = DEFAULT_SEED,
                    sims: int = DEFAULT_SIMS, jobs: int = 1,
                    calibration: PooledCalibration | None = None,
                    executor: Executor | None = None) -> pd.DataFrame:
    """Forecast every series of a long ``series_id, t, value`` table ``horizon`` steps ahead.

    Parameters
    ----------
    frame : the input table (validated here; row order does not matter)
    horizon : steps ahead (>= 1)
    domain : ``"real"``, ``"positive"`` (log scale) or ``"percent"`` (logit scale)
    quantiles : levels in (0, 1); a string level keeps its spelling in the column name
    seed : root of ``SeedSequence(seed).spawn(n_series)``, assigned in sorted series_id order
    sims : sample paths per series
    jobs : worker processes (the result is identical for any value)
    executor : any ``concurrent.futures.Executor`` to run on instead (overrides ``jobs``)
    calibration : the pooled calibration (``None``: the shipped one); the paths come from
        :func:`khforecast.engine.predictive.predictive_paths`, the engine ``khforecast forecast`` uses

    Returns
    -------
    DataFrame
        One row per series and future step: ``series_id, t, mean, q_<level>..., model``;
        ``model`` is what ran (``"insufficient_data"`` with empty figures for a series of
        fewer than 3 points).

    Raises
    ------
    SeriesInputError
        When the table has problems (all listed) or an argument is out of range.

    Examples
    --------
    >>> df = pd.DataFrame({"series_id": "a", "t": range(2010, 2020),
    ...                    "value": [50, 52, 53, 55, 56, 58, 59, 61, 62, 64]})
    >>> out = forecast_series(df, 2, domain="percent", quantiles=[0.1, 0.9], seed=1, sims=500)
    >>> list(out.columns), out["t"].tolist()
    (['series_id', 't', 'mean', 'q_0.1', 'q_0.9', 'model'], [2020, 2021])
    """
    if horizon < 1 or sims < 1 or jobs < 1:
        raise SeriesInputError([(f"expected horizon, sims and jobs >= 1, found horizon={horizon}, "
                                f"sims={sims}, jobs={jobs}")])
    pairs = parse_quantiles(quantiles)
    levels = np.array([lv for _, lv in pairs])
    data = validate_series(frame, domain=domain)
    # sorted by (series_id, t): each series is one run of rows
    sid = data["series_id"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]) if len(sid) else np.array([], int)
    bounds = dict(zip(sid[starts].tolist(), zip(starts, np.r_[starts[1:], len(sid)])))
    ids = sorted(bounds)
    values = data["value"].to_numpy(dtype=float)
    seeds = np.random.SeedSequence(seed).spawn(len(ids))
    units = [(i, values[bounds[i][0]:bounds[i][1]].copy(), ss) for i, ss in zip(ids, seeds)]
    cal = calibration if calibration is not None else load_pooled_calibration()
    chunks = [(units[i:i + _CHUNK], horizon, sims, domain, cal, levels)
              for i in range(0, len(units), _CHUNK)]
    results = [r for part in run_map(_forecast_chunk, chunks, executor=executor, jobs=jobs)
               for r in part]
    last_t = data["t"].to_numpy()[[bounds[r[0]][1] - 1 for r in results]]
    nan = np.full((len(pairs), horizon), np.nan)
    means = np.array([nan[0] if r[1] is None else r[1] for r in results]).reshape(-1)
    qs = np.array([nan if r[2] is None else r[2] for r in results]).reshape(-1, len(pairs), horizon)
    cols: dict[str, object] = {
        "series_id": [r[0] for r in results for _ in range(horizon)],
        "t": (last_t.astype("int64")[:, None] + np.arange(1, horizon + 1)).reshape(-1),
        "mean": means}
    for j, (label, _) in enumerate(pairs):
        cols[f"q_{label}"] = qs[:, j, :].reshape(-1)
    cols["model"] = [r[3] for r in results for _ in range(horizon)]
    return pd.DataFrame(cols)


def write_series_forecasts(out: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the forecast table as CSV atomically (temporary file, then rename); series ids a
    spreadsheet would run as formulas are neutralised (:func:`khforecast._io.spreadsheet_safe`)."""
    atomic_write_csv(path, out)
