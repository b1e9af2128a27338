"""The pieces of a briefing: HTML snippets and tables the notebooks display, one call per cell.

A notebook loads a run folder written by ``khforecast run`` with :func:`load_run` and calls one
function per section; each returns a :class:`Snippet`, a ``str`` of HTML that Jupyter displays.
Nothing here fits a model: every number comes from the run's ``assessment.csv``,
``forecasts.csv`` and the other files the batch wrote. Every text that comes from users or data
(names, notes, sources, agency names, targets) is HTML-escaped, so ``<script>`` shows as text.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from khforecast import figures
from khforecast.errors import KhforecastError
from khforecast.i18n import (
    STRINGS,
    check_lang,
    format_number,
    format_percent,
    format_signed,
    format_target_text,
    place_name,
    probability_words,
    t,
)
from khforecast.predictive import load_strata_table, series_stratum

__all__ = [
    "RUN_FILES",
    "Run",
    "Snippet",
    "agencies_at_risk",
    "biggest_risks",
    "data_coverage",
    "data_gaps",
    "explore_scenario",
    "explorer_note",
    "fan_charts",
    "find_run_dir",
    "headline",
    "headline_counts",
    "indicator_data",
    "indicator_calibration",
    "indicator_distribution",
    "indicator_models",
    "indicator_scenarios",
    "indicator_title",
    "largest_accelerations",
    "load_run",
    "look_back_2025",
    "method_note",
    "outlook_2030",
    "overview_title",
    "required_change",
    "scenario_comparison",
    "scenario_widgets",
    "sector_title",
    "status_heatmap",
]

#: files of a run folder the briefings read (DESIGN §5 plus the batch's extras).
RUN_FILES = {
    "forecasts": "forecasts.csv",
    "assessment": "assessment.csv",
    "observations": "observations.csv",  # the observations the run used, all places
    "calibration": "calibration.csv",  # optional: interval coverage by horizon
    "backtest": "backtest.csv",  # optional: per-indicator back-test errors
    "scenarios": "scenarios.yaml",  # optional: the scenario definitions the run used
    "draws": "draws.npz",  # optional: simulated paths of each indicator and scenario
    "manifest": "manifest.json",
}
_QUANT_STATUSES = ("met", "missed", "on_track", "at_risk", "off_track")
_ID = {"indicator_id": str}


class Snippet(str):
    """A string of HTML that Jupyter displays as HTML (and nbconvert keeps as ``text/html``)."""

    def _repr_html_(self) -> str:
        return str(self)


def _e(x: object) -> str:
    """Escape any value for HTML text or attributes; missing values become an en dash."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return "–"
    return html.escape(str(x), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """An HTML table; header and cell strings are escaped unless wrapped in :class:`Snippet`."""
    def cell(x: Any) -> str:
        return str(x) if isinstance(x, Snippet) else _e(x)

    head = "".join(f"<th>{cell(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="kh-table {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _h(level: int, key: str, text: str) -> str:
    return f'<h{level} id="{_e(key)}">{_e(text)}</h{level}>'


def _section(key: str, title: str, *parts: str) -> Snippet:
    return Snippet(f'<section class="kh-section">{_h(2, key, title)}{"".join(parts)}</section>')


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(figures.figure_png(fig)).decode("ascii")
    return f'<img class="kh-figure" alt="{_e(alt)}" src="data:image/png;base64,{data}"/>'


# --------------------------------------------------------------------------------------------
# the run folder
# --------------------------------------------------------------------------------------------
@dataclass
class Run:
    """A run folder read back: the tables the batch wrote, the catalog and the run's settings."""

    path: Path
    forecasts: pd.DataFrame
    assessment: pd.DataFrame
    observations: pd.DataFrame
    manifest: dict[str, Any]
    catalog: Any
    calibration: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None

    @property
    def place(self) -> str:
        """The place the targets were assessed for."""
        return str(self.manifest.get("place", "khanh_hoa"))

    @property
    def scenarios(self) -> list[str]:
        """The scenarios of the run, the outlook's first."""
        return list(self.manifest.get("params", {}).get("scenarios") or
                    self.assessment["scenario"].drop_duplicates().tolist())

    @property
    def scenario(self) -> str:
        """The scenario whose outlook the briefings show."""
        return self.scenarios[0]

    @property
    def as_of(self) -> _dt.date:
        """The date tasks are judged past due against."""
        return _dt.date.fromisoformat(self.manifest["as_of"])

    @property
    def illustrative(self) -> bool:
        """True when any observation the run used is marked ``status == illustrative``."""
        return bool((self.observations["status"].astype(str) == "illustrative").any())

    def draws(self, indicator_id: str, scenario: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(years, paths) of one indicator and scenario from ``draws.npz``, or None."""
        path = self.path / RUN_FILES["draws"]
        if not path.is_file():
            return None
        with np.load(path) as z:
            key = f"{indicator_id}|{scenario}"
            if key not in z.files:
                return None
            return z[f"years|{key}"], z[key]


def find_run_dir(run_dir: str | os.PathLike[str] = "") -> Path:
    """``run_dir`` if given, else the nearest ``outputs/latest`` from here up to the filesystem root.

    Raises ``KhforecastError`` when nothing is found, saying how to make a run.
    """
    if str(run_dir):
        path = Path(run_dir)
        if not (path / RUN_FILES["assessment"]).is_file():
            raise KhforecastError(f"{path}: not a run folder (no {RUN_FILES['assessment']}); "
                                  "run `khforecast run` or set run_dir")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        latest = folder / "outputs" / "latest"
        if (latest / RUN_FILES["assessment"]).is_file():
            return latest.resolve()
    raise KhforecastError(f"no outputs/latest run found from {here} upwards: run "
                          "`khforecast run` first, or set the notebook's run_dir parameter")


def _read_csv(path: Path, *, required: bool) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise KhforecastError(f"{path}: missing from the run folder")
        return None
    return pd.read_csv(path, dtype=_ID, keep_default_na=True)


def load_run(run_dir: str | os.PathLike[str] = "") -> Run:
    """Read a run folder (default: the nearest ``outputs/latest``) for the briefing functions.

    Raises
    ------
    KhforecastError
        When the folder or one of its required files (``forecasts.csv``, ``assessment.csv``,
        ``observations.csv``, ``manifest.json``) is missing.
    """
    from khforecast.catalog import load_catalog

    path = find_run_dir(run_dir)
    manifest_path = path / RUN_FILES["manifest"]
    if not manifest_path.is_file():
        raise KhforecastError(f"{manifest_path}: missing from the run folder")
    return Run(
        path=path,
        forecasts=_read_csv(path / RUN_FILES["forecasts"], required=True),
        assessment=_read_csv(path / RUN_FILES["assessment"], required=True),
        observations=_read_csv(path / RUN_FILES["observations"], required=True),
        manifest=json.loads(manifest_path.read_text(encoding="utf-8")),
        catalog=load_catalog(),
        calibration=_read_csv(path / RUN_FILES["calibration"], required=False),
        backtest=_read_csv(path / RUN_FILES["backtest"], required=False),
    )


# --------------------------------------------------------------------------------------------
# helpers over the catalog and the assessment
# --------------------------------------------------------------------------------------------
def _name(ind: Any, lang: str) -> str:
    return ind.name_vi if lang == "vi" else (ind.name_en or ind.name_vi)


def _sector_name(run: Run, sector: str, lang: str) -> str:
    s = run.catalog.sectors[sector]
    return s.name_vi if lang == "vi" else (s.name_en or s.name_vi)


def _lead(ind: Any, lang: str) -> str:
    """The plan's lead agency, plus its successor after the 2025 mergers when the catalog has one."""
    successor = getattr(ind, "lead_current", "") or ""
    if successor and successor != ind.lead:
        return f"{ind.lead} ({t('msg.successor', lang, name=successor)})"
    return ind.lead


def _agency_label(run: Run, name: str, lang: str) -> str:
    """An agency as the plan names it, plus its current successor(s) when known."""
    try:
        agency = run.catalog.agency(name)
    except KhforecastError:
        return name
    now = "; ".join(dict.fromkeys(v for v in agency.successors.values() if v and v != name))
    return f"{name} ({t('msg.successor', lang, name=now)})" if now else name


def _tasks_of(run: Run, agency: str) -> list[Any]:
    """Appendix II tasks led by ``agency`` (any of its spellings); none if it is unknown."""
    try:
        return run.catalog.tasks_for(agency=agency)
    except KhforecastError:
        return []


def _rows(run: Run, *, year: int, scenario: str | None = None,
          sector: str | None = None) -> pd.DataFrame:
    a = run.assessment
    a = a[(a["target_year"] == year) & (a["scenario"] == (scenario or run.scenario))
          & (a["place"] == run.place) & (a["status"] != "no_target")]  # '-': nothing to assess
    if sector is not None:
        ids = {ind.id for ind in run.catalog.in_sector(sector)}
        a = a[a["indicator_id"].isin(ids)]
    order = {ind_id: i for i, ind_id in enumerate(run.catalog.indicators)}
    return a.assign(_o=a["indicator_id"].map(order)).sort_values("_o").drop(columns="_o")


def _decimals(run: Run, ind_id: str, year: int = 2030) -> int:
    """Decimals to show: the target's precision rule, but at least one (2,5 % not 3 %)."""
    decimals = getattr(run.catalog.get(ind_id).targets.get(year), "decimals", None)
    return max(int(decimals or 0), 1)


def _value(run: Run, ind_id: str, x: object, lang: str) -> str:
    ind = run.catalog.get(ind_id)
    if ind.unit.strip() == "%":
        return format_percent(x, lang, _decimals(run, ind_id), fraction=False)
    return format_number(x, lang, _decimals(run, ind_id))  # type: ignore[arg-type]


def _prob(p: object, lang: str) -> Snippet:
    if p is None or pd.isna(p):
        return Snippet("–")
    return Snippet(f'<span class="kh-p" data-p="{float(p):.4f}">{_e(format_percent(p, lang))}'
                   f' ({_e(probability_words(float(p), lang))})</span>')


def _status(status: str, lang: str) -> Snippet:
    return Snippet(f'<span class="kh-status kh-{_e(status)}">{_e(t("status." + status, lang))}</span>')


def _banner(run: Run, lang: str) -> str:
    if not run.illustrative:
        return ""
    return f'<div class="kh-banner kh-illustrative" role="alert">{_e(t("msg.illustrative", lang))}</div>'


def _run_info(run: Run, lang: str) -> str:
    info = t("msg.run_info", lang, run_id=run.manifest.get("run_id", run.path.name),
             date=run.as_of.isoformat(), place=place_name(run.place, lang))
    return f'<p class="kh-run">{_e(info)}</p>'


# --------------------------------------------------------------------------------------------
# sector briefing
# --------------------------------------------------------------------------------------------
def sector_title(run: Run, sector: str, lang: str = "vi", note: str = "") -> Snippet:
    """The banner (if the data are illustrative), the sector's title, the run and the note."""
    check_lang(lang)
    title = t("h.sector_briefing", lang, sector=sector, name=_sector_name(run, sector, lang))
    note_html = (f'<div class="kh-note"><strong>{_e(t("h.note", lang))}:</strong> '
                 f'{_e(note)}</div>' if note else "")
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(title)}</h1>{_run_info(run, lang)}'
                   f'{note_html}')


def headline_counts(run: Run, sector: str | None = None, scenario: str | None = None,
                    year: int = 2030) -> dict[str, int]:
    """How many indicators (of a sector, or all) have each status for ``year``'s targets."""
    counts = _rows(run, year=year, scenario=scenario, sector=sector)["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in figures.STATUS_ORDER}


def headline(run: Run, sector: str | None = None, lang: str = "vi",
             scenario: str | None = None) -> Snippet:
    """The headline counts of the 2030 targets: met, on track, at risk, off track, no data."""
    counts = headline_counts(run, sector, scenario)
    shown = [s for s in figures.STATUS_ORDER if s in figures.HEADLINE_STATUSES or counts[s]]
    cards = "".join(f'<div class="kh-card kh-{s}"><span class="kh-count" data-status="{s}">'
                    f'{counts[s]}</span><span class="kh-label">{_e(t("status." + s, lang))}'
                    "</span></div>" for s in shown)
    key = "msg.headline" if sector else "msg.headline_overview"
    lead = f"<p>{_e(t(key, lang, n=sum(counts.values())))}</p>"
    return _section("headline", t("h.headline", lang), lead, f'<div class="kh-cards">{cards}</div>')


def look_back_2025(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """The 2025 targets: met, missed, or not yet published with the probability it was met."""
    rows = []
    for r in _rows(run, year=2025, scenario=scenario, sector=sector).itertuples():
        ind = run.catalog.get(r.indicator_id)
        if r.status in ("met", "missed"):
            result: Any = _status(r.status, lang)
        elif r.status in ("on_track", "at_risk", "off_track") and pd.notna(r.p_meet):
            result = Snippet(_e(t("msg.nowcast", lang, p=format_percent(r.p_meet, lang),
                                  words=probability_words(float(r.p_meet), lang))))
        else:
            result = _status(r.status, lang)
        last = ("–" if pd.isna(r.last_value) else
                f"{_value(run, r.indicator_id, r.last_value, lang)} ({int(r.last_year)})")
        rows.append((r.indicator_id, _name(ind, lang), format_target_text(r.target_text, lang), last,
                     result))
    headers = [t(k, lang) for k in ("col.id", "col.indicator", "col.target", "col.last_value",
                                     "col.result")]
    body = _table(headers, rows, "kh-2025") if rows else f"<p>{_e(t('msg.no_rows', lang))}</p>"
    return _section("look-back-2025", t("h.look_back_2025", lang), body)


def outlook_2030(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """The 2030 table: last value, target, probability in words and numbers, status, label, lead."""
    rows = []
    has_escap = "escap_label" in run.assessment.columns
    for r in _rows(run, year=2030, scenario=scenario, sector=sector).itertuples():
        ind = run.catalog.get(r.indicator_id)
        last = ("–" if pd.isna(r.last_value) else
                f"{_value(run, r.indicator_id, r.last_value, lang)} ({int(r.last_year)})")
        row = [r.indicator_id, _name(ind, lang), last, format_target_text(r.target_text, lang),
               _prob(r.p_meet, lang),
               _status(r.status, lang)]
        if has_escap:
            label = r.escap_label if isinstance(r.escap_label, str) and r.escap_label else ""
            row.append(t(f"escap.{label}", lang) if f"escap.{label}" in STRINGS else label)
        row.append(_lead(ind, lang))
        rows.append(row)
    keys = ["col.id", "col.indicator", "col.last_value", "col.target", "col.probability",
            "col.status"] + (["col.escap"] if has_escap else []) + ["col.lead"]
    body = (_table([t(k, lang) for k in keys], rows, "kh-2030") if rows
            else f"<p>{_e(t('msg.no_rows', lang))}</p>")
    return _section("outlook-2030", t("h.outlook_2030", lang), body)


def _observed(run: Run, ind_id: str, place: str) -> pd.DataFrame:
    o = run.observations
    return o[(o["indicator_id"] == ind_id) & (o["place"] == place)][["year", "value"]]


def _charted_ids(run: Run, sector: str | None, scenario: str) -> list[str]:
    """Quantitative indicators with data and forecast rows, in catalog order."""
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    rows = rows[(rows["n_obs"].fillna(0) > 0) & (rows["status"] != "qualitative")]
    f = run.forecasts
    have = set(f.loc[(f["scenario"] == scenario) & (f["place"] == run.place), "indicator_id"])
    return [i for i in rows["indicator_id"] if i in have]


def _fan(run: Run, ind_id: str, lang: str, scenario: str, compare_place: str) -> str:
    ind = run.catalog.get(ind_id)
    targets = [tg for tg in ind.targets.values() if tg is not None]
    compare = _observed(run, ind_id, compare_place) if compare_place else None
    title = f"{ind_id}. {_name(ind, lang)}"
    fig = figures.plot_indicator(run.forecasts, ind_id, lang=lang, place=run.place,
                                 scenario=scenario, targets=targets, compare=compare,
                                 compare_label=place_name(compare_place, lang),
                                 title=title if len(title) < 90 else title[:87] + "…",
                                 unit=ind.unit, decimals=_decimals(run, ind_id))
    a = _rows(run, year=2030, scenario=scenario)
    p = a.loc[a["indicator_id"] == ind_id, "p_meet"]
    caption = f"{ind_id}. {_name(ind, lang)}"
    if len(p) and pd.notna(p.iloc[0]):
        caption += (f" — {t('col.probability', lang)} 2030: {format_percent(p.iloc[0], lang)} "
                    f"({probability_words(float(p.iloc[0]), lang)})")
    return (f'<figure class="kh-fig">{_img(fig, title)}<figcaption>{_e(caption)}</figcaption>'
            "</figure>")


def fan_charts(run: Run, sector: str, lang: str = "vi", scenario: str | None = None,
               highlight: Sequence[str] = (), compare_place: str = "vietnam") -> Snippet:
    """One fan chart per quantitative indicator with data, ``highlight`` ids first."""
    scenario = scenario or run.scenario
    ids = _charted_ids(run, sector, scenario)
    ids = [i for i in highlight if i in ids] + [i for i in ids if i not in highlight]
    if not ids:
        return _section("fan-charts", t("h.fan_charts", lang),
                        f"<p>{_e(t('msg.no_quant_data', lang))}</p>")
    return _section("fan-charts", t("h.fan_charts", lang),
                    *(_fan(run, i, lang, scenario, compare_place) for i in ids))


def _change_rows(run: Run, sector: str | None, scenario: str | None) -> pd.DataFrame:
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    return rows[rows["required_annual_change"].notna() & rows["historical_annual_change"].notna()
                & rows["status"].isin(("on_track", "at_risk", "off_track"))]


def required_change(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """Required vs historical yearly change for each indicator that has both: a chart and a table."""
    rows = _change_rows(run, sector, scenario)
    if rows.empty:
        return _section("required-change", t("h.required_change", lang),
                        f"<p>{_e(t('msg.no_rows', lang))}</p>")
    table_rows = []
    for r in rows.itertuples():
        d = _decimals(run, r.indicator_id) + 1
        table_rows.append((r.indicator_id, _name(run.catalog.get(r.indicator_id), lang),
                           format_signed(r.historical_annual_change, lang, d),
                           format_signed(r.required_annual_change, lang, d),
                           _e(run.catalog.get(r.indicator_id).unit)))
    headers = [t(k, lang) for k in ("col.id", "col.indicator", "col.historical", "col.required",
                                     "col.unit")]
    chart = figures.plot_required_change(
        rows.assign(label=rows["indicator_id"]), lang=lang)
    return _section("required-change", t("h.required_change", lang),
                    _img(chart, t("h.required_change", lang)), _table(headers, table_rows))


def agencies_at_risk(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """Lead agencies of the indicators at risk or off track, with their Appendix II tasks.

    Tasks led by the same agency are listed; those past due on the run's date are flagged.
    """
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    risky = rows[rows["status"].isin(("at_risk", "off_track"))]
    if risky.empty:
        return _section("agencies-at-risk", t("h.agencies_at_risk", lang),
                        f"<p>{_e(t('msg.no_risk', lang))}</p>")
    by_agency: dict[str, list[str]] = {}
    for ind_id in risky["indicator_id"]:
        for lead in run.catalog.get(ind_id).leads:
            by_agency.setdefault(lead, []).append(ind_id)
    parts = []
    for k, (agency, ids) in enumerate(by_agency.items()):
        names = ", ".join(f"{i}. {_name(run.catalog.get(i), lang)}" for i in ids)
        task_rows = []
        for tk in _tasks_of(run, agency):
            due = _e(tk.due_text or tk.due_year)
            if tk.is_past_due(run.as_of):
                due += f' <span class="kh-past-due">{_e(t("msg.past_due", lang))}</span>'
            task_rows.append((f"{tk.group}.{tk.number}", tk.title_vi, Snippet(due)))
        head = _agency_label(run, agency, lang)
        due_head = f'{t("col.due", lang)} ({t("msg.as_of", lang, date=run.as_of.isoformat())})'
        parts.append(f'<h3 id="agency-{k}">{_e(head)}</h3>'
                     f"<p><strong>{_e(t('col.indicators_at_risk', lang))}:</strong> {_e(names)}</p>"
                     + (_table([t("col.id", lang), t("col.task", lang), due_head], task_rows)
                        if task_rows else ""))
    return _section("agencies-at-risk", t("h.agencies_at_risk", lang), *parts)


def data_gaps(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """The indicators without data, counted and listed: the gap is shown, not hidden."""
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    gaps = rows[rows["status"].isin(("no_data", "insufficient_data"))]
    msg = t("msg.gaps", lang, n=len(gaps), total=len(rows))
    table = _table([t("col.id", lang), t("col.indicator", lang), t("col.status", lang),
                    t("col.lead", lang)],
                   [(r.indicator_id, _name(run.catalog.get(r.indicator_id), lang),
                     _status(r.status, lang), _lead(run.catalog.get(r.indicator_id), lang))
                    for r in gaps.itertuples()]) if len(gaps) else ""
    return _section("data-gaps", t("h.data_gaps", lang), f"<p>{_e(msg)}</p>", table)


def _coverage_words(cal: pd.DataFrame, lang: str) -> str:
    """The measured coverage of the 50/80/95 % bands in one sentence ('' when not tabulated)."""
    if not {"interval", "coverage", "n_backtests"} <= set(cal.columns):
        return ""
    by = dict(zip(cal["interval"].astype(str), cal["coverage"].astype(float)))
    if not {"50%", "80%", "95%"} <= set(by):
        return ""
    return t("msg.coverage", lang, n=format_number(int(cal["n_backtests"].iloc[0]), lang, 0),
             **{f"c{k}": format_percent(by[f"{k}%"], lang, 1) for k in (50, 80, 95)})


def method_note(run: Run, lang: str = "vi", sector: str | None = None) -> Snippet:
    """How the numbers were made: simulations, thresholds, calibration table, data sources."""
    params = run.manifest.get("params", {})
    hi, lo = params.get("thresholds", (0.8, 0.5))
    text = t("msg.method", lang, sims=params.get("sims", "?"), scenario=run.scenario,
             seed=params.get("seed", "?"), hi=format_number(hi, lang, 2),
             lo=format_number(lo, lang, 2))
    parts = [f"<p>{_e(text)}</p>", _h(3, "calibration", t("h.calibration", lang))]
    if run.calibration is not None and not run.calibration.empty:
        cal = run.calibration
        words = _coverage_words(cal, lang)
        if words:
            parts.append(f"<p>{_e(words)}</p>")
        heads = [t(f"col.cal_{c}", lang) if f"col.cal_{c}" in STRINGS else c for c in cal.columns]
        share = {"nominal", "coverage", "coverage80", "coverage95", "coverage_panel_out"}
        parts.append(_table(heads, [
            [format_percent(v, lang, 1) if c in share else
             format_number(v, lang, 3) if isinstance(v, float) else v
             for c, v in zip(cal.columns, row)] for row in cal.itertuples(index=False)]))
    else:
        parts.append(f"<p>{_e(t('msg.no_calibration', lang))}</p>")
    obs = run.observations
    if sector is not None:
        obs = obs[obs["indicator_id"].isin({i.id for i in run.catalog.in_sector(sector)})]
    src = (obs.groupby(["source"], dropna=False)
           .agg(ids=("indicator_id", lambda s: ", ".join(sorted(set(s)))),
                places=("place", lambda s: ", ".join(place_name(p, lang) for p in sorted(set(s)))),
                years=("year", lambda s: f"{int(s.min())}–{int(s.max())}"
                       if s.min() != s.max() else str(int(s.min())))).reset_index())
    parts.append(_h(3, "sources", t("h.sources", lang)))
    parts.append(_table([t("col.source", lang), t("col.id", lang), t("col.place", lang),
                         t("col.years", lang)],
                        src[["source", "ids", "places", "years"]].itertuples(index=False))
                 if len(src) else f"<p>{_e(t('msg.no_rows', lang))}</p>")
    return _section("method", t("h.method", lang), *parts)


# --------------------------------------------------------------------------------------------
# overview
# --------------------------------------------------------------------------------------------
def overview_title(run: Run, lang: str = "vi") -> Snippet:
    """The banner (if illustrative), the overview's title and the run."""
    check_lang(lang)
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(t("h.overview", lang))}</h1>'
                   f"{_run_info(run, lang)}")


def _sector_of(run: Run) -> dict[str, str]:
    return {i.id: i.sector for i in run.catalog.indicators.values()}


def status_heatmap(run: Run, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """Seaborn heatmap of the 2030 statuses by sector."""
    fig = figures.plot_status_heatmap(run.assessment[run.assessment["place"] == run.place],
                                      _sector_of(run), lang=lang,
                                      sectors=list(run.catalog.sectors),
                                      scenario=scenario or run.scenario)
    return _section("status-by-sector", t("h.status_by_sector", lang),
                    _img(fig, t("h.status_by_sector", lang)))


def biggest_risks(run: Run, lang: str = "vi", n: int = 10, scenario: str | None = None) -> Snippet:
    """The ``n`` indicators least likely to meet their 2030 targets."""
    rows = _rows(run, year=2030, scenario=scenario)
    rows = rows[rows["p_meet"].notna() & rows["status"].isin(("at_risk", "off_track"))]
    rows = rows.sort_values("p_meet", kind="stable").head(n)
    body = _table([t(k, lang) for k in ("col.id", "col.sector", "col.indicator", "col.target",
                                         "col.probability", "col.status", "col.lead")],
                  [(r.indicator_id, run.catalog.get(r.indicator_id).sector,
                    _name(run.catalog.get(r.indicator_id), lang),
                    format_target_text(r.target_text, lang),
                    _prob(r.p_meet, lang), _status(r.status, lang),
                    _lead(run.catalog.get(r.indicator_id), lang)) for r in rows.itertuples()]
                  ) if len(rows) else f"<p>{_e(t('msg.no_risk', lang))}</p>"
    return _section("biggest-risks", t("h.biggest_risks", lang), body)


def largest_accelerations(run: Run, lang: str = "vi", n: int = 10,
                          scenario: str | None = None) -> Snippet:
    """The ``n`` indicators whose required yearly change most exceeds the historical one.

    Only indicators that must move faster in their good direction than they have (or reverse
    their trend) are listed. Units differ between indicators, so they are ranked by the ratio
    ``required / historical``, trend reversals first.
    """
    rows = _change_rows(run, None, scenario).copy()
    hist = rows["historical_annual_change"].astype(float)
    req = rows["required_annual_change"].astype(float)
    direction = rows["indicator_id"].map(lambda i: run.catalog.get(i).direction or 0)
    good = np.where(direction != 0, direction, np.sign(req))  # a band: towards it
    rows["faster"] = (req - hist) * good > 0
    rows["reverse"] = rows["faster"] & (hist * good < 0)
    rows["ratio"] = (req / hist.where(hist != 0)).where(~rows["reverse"])
    rows = rows[rows["faster"]].assign(_r=lambda d: d["ratio"].fillna(np.inf))
    rows = rows.sort_values("_r", ascending=False, kind="stable").head(n)
    body = _table([t(k, lang) for k in ("col.id", "col.indicator", "col.historical",
                                         "col.required", "col.ratio", "col.unit")],
                  [(r.indicator_id, _name(run.catalog.get(r.indicator_id), lang),
                    format_signed(r.historical_annual_change, lang, 2),
                    format_signed(r.required_annual_change, lang, 2),
                    t("escap.reverse_trend", lang) if r.reverse
                    else format_number(r.ratio, lang, 1), run.catalog.get(r.indicator_id).unit)
                   for r in rows.itertuples()]
                  ) if len(rows) else f"<p>{_e(t('msg.no_rows', lang))}</p>"
    return _section("accelerations", t("h.accelerations", lang), body)


def data_coverage(run: Run, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """Per sector: how many indicators the plan has and how many have data for the run's place."""
    rows = _rows(run, year=2030, scenario=scenario)
    with_data = set(rows.loc[rows["n_obs"].fillna(0) > 0, "indicator_id"])
    table, total, covered = [], 0, 0
    for code in run.catalog.sectors:
        ids = [i for i in rows["indicator_id"] if run.catalog.get(i).sector == code]
        k = sum(i in with_data for i in ids)
        total, covered = total + len(ids), covered + k
        table.append((code, _sector_name(run, code, lang), len(ids), k,
                      format_percent(k / len(ids) if ids else None, lang)))
    table.append((t("col.total", lang), "", total, covered,
                  format_percent(covered / total if total else None, lang)))
    msg = t("msg.gaps_overview", lang, n=total - covered, total=total)
    return _section("coverage", t("h.coverage", lang), f"<p>{_e(msg)}</p>", _table(
        [t(k, lang) for k in ("col.sector", "col.name", "col.n_indicators",
                              "col.with_data", "col.coverage")], table))


# --------------------------------------------------------------------------------------------
# indicator deep dive and scenarios
# --------------------------------------------------------------------------------------------
def indicator_title(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The banner (if illustrative), the indicator's title, unit, targets and lead agency."""
    ind = run.catalog.get(indicator_id)
    facts = _table([t("col.unit", lang), t("col.target", lang) + " 2025",
                    t("col.target", lang) + " 2030", t("col.lead", lang)],
                   [(ind.unit, getattr(ind.targets.get(2025), "text", "–"),
                     getattr(ind.targets.get(2030), "text", "–"), _lead(ind, lang))])
    title = t("h.deep_dive", lang, id=indicator_id, name=_name(ind, lang))
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(title)}</h1>{_run_info(run, lang)}'
                   f"{facts}")


def indicator_data(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The indicator's observations (places by years), its scale, and each source once."""
    o = run.observations[run.observations["indicator_id"] == indicator_id]
    ind = run.catalog.get(indicator_id)
    direction = {1: "msg.higher_better", -1: "msg.lower_better"}.get(ind.direction, "msg.band")
    scale = t("msg.scale", lang, unit=ind.unit, domain=ind.domain, direction=t(direction, lang))
    if o.empty:
        return _section("data", t("h.data", lang), f"<p>{_e(scale)}</p>",
                        f"<p>{_e(t('msg.no_rows', lang))}</p>")
    years = sorted(int(y) for y in o["year"].unique())
    values = {(r.place, int(r.year)): r for r in o.itertuples()}
    rows = []
    for place in sorted(o["place"].unique(), key=lambda p: (p != run.place, p)):
        cells = []
        for y in years:
            r = values.get((place, y))
            mark = "" if r is None or r.status in ("final", "") or pd.isna(r.status) else "*"
            cells.append("" if r is None else _value(run, indicator_id, r.value, lang) + mark)
        rows.append([place_name(place, lang), *cells])
    wide = _table([t("col.place", lang), *map(str, years)], rows, "kh-wide")
    src = (o.groupby("source", dropna=False)
           .agg(places=("place", lambda s: ", ".join(place_name(p, lang) for p in sorted(set(s)))),
                years=("year", lambda s: f"{int(s.min())}–{int(s.max())}"
                       if s.min() != s.max() else str(int(s.min()))),
                status=("status", lambda s: ", ".join(sorted(set(s.dropna().astype(str))))),
                note=("note", lambda s: "; ".join(sorted(set(s.dropna().astype(str))))))
           .reset_index())
    sources = _table([t(k, lang) for k in ("col.source", "col.place", "col.years",
                                           "col.data_status", "col.note")],
                     src[["source", "places", "years", "status", "note"]].itertuples(index=False))
    return _section("data", t("h.data", lang), f"<p>{_e(scale)}</p>", wide,
                    f"<p>{_e(t('msg.not_final', lang))}</p>", sources)


def indicator_models(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The model that ran for each scenario and target year, and the back-test errors if any."""
    a = run.assessment[(run.assessment["indicator_id"] == indicator_id)
                       & (run.assessment["place"] == run.place)]
    rows = [(r.scenario, int(r.target_year), r.model, int(r.n_obs) if pd.notna(r.n_obs) else 0,
             _prob(r.p_meet, lang), _status(r.status, lang)) for r in a.itertuples()]
    parts = [_table([t(k, lang) for k in ("col.scenario", "col.year", "col.model", "col.n_obs",
                                          "col.probability", "col.status")], rows)]
    bt = run.backtest
    bt = bt[bt["indicator_id"] == indicator_id] if bt is not None else None
    if bt is not None and len(bt):
        by_h = bt.groupby("horizon").agg(n_checks=("value", "size"), mae=("abs_error", "mean"),
                                         coverage=("covered80", "mean"),
                                         mean_pit=("pit", "mean")).reset_index()
        parts.append(f"<p>{_e(t('msg.backtest', lang, n=len(bt), origins=bt['origin'].nunique()))}</p>")
        parts.append(_table([t(k, lang) for k in ("col.horizon", "col.n", "col.mae",
                                                   "col.coverage80", "col.pit")],
                            [(int(r.horizon), int(r.n_checks),
                              _value(run, indicator_id, r.mae, lang),
                              format_percent(r.coverage, lang), format_number(r.mean_pit, lang, 2))
                             for r in by_h.itertuples()]))
        parts.append(_table([t(k, lang) for k in ("col.origin", "col.year", "col.value",
                                                   "col.median", "col.interval80", "col.model")],
                            [(int(r.origin), int(r.year), _value(run, indicator_id, r.value, lang),
                              _value(run, indicator_id, r.median, lang),
                              (f"{_value(run, indicator_id, r.q10, lang)} – "
                              f"{_value(run, indicator_id, r.q90, lang)}"), r.model)
                             for r in bt.itertuples()]))
    else:
        parts.append(f"<p>{_e(t('msg.no_backtest', lang))}</p>")
    return _section("models", t("h.model_fit", lang), *parts)


def indicator_calibration(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The calibration stratum of the indicator's history, its measured coverage and PIT."""
    o = run.observations[(run.observations["indicator_id"] == indicator_id)
                         & (run.observations["place"] == run.place)].sort_values("year")
    table = load_strata_table()
    ind = run.catalog.get(indicator_id)
    if table is None or len(o) < 3:
        return _section("stratum", t("h.stratum", lang), f"<p>{_e(t('msg.no_stratum', lang))}</p>")
    st = series_stratum(o["value"].to_numpy(dtype=float), str(ind.domain))
    rows = table[(table["domain"] == st["domain"]) & (table["shape"] == st["shape"])
                 & (table["near"] == st["near"])]
    if rows.empty:
        return _section("stratum", t("h.stratum", lang), f"<p>{_e(t('msg.no_stratum', lang))}</p>")
    parts = [f"<p>{_e(t('msg.stratum', lang, **st))}</p>",
             _table([t("col.horizon_group", lang), t("col.n", lang), "50 %", "80 %", "95 %",
                     "98 %"],
                    [(r.hgroup, format_number(int(r.n), lang, 0),
                      *(format_percent(getattr(r, f"cov{k}"), lang, 1) for k in (50, 80, 95, 98)))
                     for r in rows.itertuples()])]
    last = rows.iloc[-1]  # the longest horizons, those of the 2030 targets
    fig = figures.plot_pit([last[f"pit{i:02d}"] for i in range(1, 21)], lang=lang,
                           title=t("fig.pit_title", lang, h=last["hgroup"],
                                   n=format_number(int(last["n"]), lang, 0)))
    parts.append(_img(fig, t("fig.pit", lang)))
    return _section("stratum", t("h.stratum", lang), *parts)


def indicator_distribution(run: Run, indicator_id: str, lang: str = "vi", year: int = 2030,
                           scenario: str | None = None) -> Snippet:
    """The fan chart and the simulated distribution in ``year`` against the target."""
    scenario = scenario or run.scenario
    ind = run.catalog.get(indicator_id)
    parts = []
    if indicator_id in _charted_ids(run, None, scenario):
        parts.append(_fan(run, indicator_id, lang, scenario, "vietnam"))
    drawn = run.draws(indicator_id, scenario)
    if drawn is not None and year in drawn[0]:
        years, paths = drawn
        fig = figures.plot_distribution(paths[:, list(years).index(year)], year=year, lang=lang,
                                        target=ind.targets.get(year), unit=ind.unit,
                                        decimals=_decimals(run, indicator_id))
        parts.append(_img(fig, t("h.distribution_2030", lang, year=year)))
    if not parts:
        parts.append(f"<p>{_e(t('msg.no_quant_data', lang))}</p>")
    return _section("distribution", t("h.distribution_2030", lang, year=year), *parts)


def indicator_scenarios(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The run's scenarios side by side for one indicator: a chart and the 2030 probabilities."""
    scenarios = run.scenarios
    ind = run.catalog.get(indicator_id)
    a = run.assessment[(run.assessment["indicator_id"] == indicator_id)
                       & (run.assessment["place"] == run.place)
                       & (run.assessment["target_year"] == 2030)]
    rows = [(r.scenario, _prob(r.p_meet, lang), _status(r.status, lang),
             _value(run, indicator_id, r.projected_q50, lang)) for r in a.itertuples()]
    parts = [_table([t(k, lang) for k in ("col.scenario", "col.probability", "col.status",
                                          "col.median")], rows)]
    if len(scenarios) > 1 and indicator_id in _charted_ids(run, None, run.scenario):
        fig = figures.plot_scenarios(run.forecasts, indicator_id, scenarios, lang=lang,
                                     place=run.place, targets=list(ind.targets.values()),
                                     title=f"{indicator_id}. {_name(ind, lang)}"[:90],
                                     unit=ind.unit, decimals=_decimals(run, indicator_id))
        parts.insert(0, _img(fig, t("h.scenarios", lang)))
    elif len(scenarios) <= 1:
        parts.append(f"<p>{_e(t('msg.no_scenarios', lang))}</p>")
    return _section(f"scenarios-{_e(indicator_id)}", t("h.scenarios", lang), *parts)


def scenario_comparison(run: Run, lang: str = "vi") -> Snippet:
    """All scenarios of the run compared: what each assumes, the 2030 probability of every
    indicator with data under each, and each indicator's scenarios charted side by side."""
    from khforecast.scenarios import load_scenarios

    own = run.path / RUN_FILES["scenarios"]  # the definitions the run used, copied by the batch
    defs = load_scenarios(own if own.is_file() else None)
    rows = run.assessment[(run.assessment["place"] == run.place)
                          & (run.assessment["target_year"] == 2030)
                          & run.assessment["p_meet"].notna()]
    ids = [i for i in run.catalog.indicators if i in set(rows["indicator_id"])]
    table = []
    for ind_id in ids:
        sub = rows[rows["indicator_id"] == ind_id].set_index("scenario")
        table.append([ind_id, _name(run.catalog.get(ind_id), lang)] +
                     [_prob(sub.at[s, "p_meet"], lang) if s in sub.index else "–"
                      for s in run.scenarios])
    body = (_table([t("col.id", lang), t("col.indicator", lang)] + run.scenarios, table)
            if table else f"<p>{_e(t('msg.no_rows', lang))}</p>")
    described = _table([t("col.scenario", lang), t("col.note", lang)],
                       [(s, getattr(defs.get(s), "description", "")) for s in run.scenarios])
    note = "" if len(run.scenarios) > 1 else f"<p>{_e(t('msg.no_scenarios', lang))}</p>"
    charts = []
    if len(run.scenarios) > 1:
        for ind_id in [i for i in ids if i in _charted_ids(run, None, run.scenario)]:
            ind = run.catalog.get(ind_id)
            title = f"{ind_id}. {_name(ind, lang)}"
            fig = figures.plot_scenarios(run.forecasts, ind_id, run.scenarios, lang=lang,
                                         place=run.place, targets=list(ind.targets.values()),
                                         title=title[:90], unit=ind.unit,
                                         decimals=_decimals(run, ind_id))
            charts.append(f'<figure class="kh-fig">{_img(fig, title)}'
                          f"<figcaption>{_e(title)}</figcaption></figure>")
    head = (f'{_banner(run, lang)}<h1 id="title">{_e(t("h.scenario_explorer", lang))}</h1>'
            f"{_run_info(run, lang)}")
    return Snippet(head + _section("scenarios", t("h.scenarios", lang), note, described, body,
                                   *charts))


def explorer_note(lang: str = "vi") -> Snippet:
    """The line telling readers of the rendered explorer how to move the scenario live."""
    return Snippet(f'<p class="kh-note">{_e(t("msg.explorer_static", lang))}</p>')


def _bau_series(run: Run, indicator_id: str) -> Any:
    """The run's business-as-usual paths of one indicator as a ``SeriesPaths`` (from draws.npz)."""
    from khforecast.forecaster import SeriesPaths

    drawn = run.draws(indicator_id, "bau")
    if drawn is None:
        raise KhforecastError(f"{run.path}: draws.npz holds no bau paths of indicator "
                              f"{indicator_id!r}")
    years, paths = drawn
    ind = run.catalog.get(indicator_id)
    obs = _observed(run, indicator_id, run.place).set_index("year")["value"]
    observed = np.array([obs.get(int(y), np.nan) for y in years], dtype=float)
    last_year = int(obs.index.max())
    return SeriesPaths(indicator_id=indicator_id, place=run.place, domain=str(ind.domain),
                       observed_as=str(ind.observed_as), years=years.astype(int),
                       observed=observed, paths=paths.astype(float), n_obs=int(obs.size),
                       last_year=last_year, last_value=float(obs[last_year]), model="run")


def explore_scenario(run: Run, indicator_id: str, *, factor: float = 1.0, shock: float = 0.0,
                     start_year: int = 2026, year: int = 2030) -> tuple[Any, float | None]:
    """Transform the run's bau paths of one indicator: accelerate by ``factor`` from
    ``start_year``, then shift by a relative ``shock`` in ``start_year`` (negative = adverse).

    Returns the transformed ``SeriesPaths`` and the probability of meeting the ``year`` target
    (None when that target has no number). Nothing is refitted.
    """
    from khforecast.forecaster import SamplePaths
    from khforecast.scenarios import Scenario, apply_scenario

    s = _bau_series(run, indicator_id)
    paths = SamplePaths(place=run.place, scenario="bau", until=int(s.years.max()),
                        series={(indicator_id, run.place): s}, n_sims=s.paths.shape[0])
    if factor != 1.0:
        paths = apply_scenario(paths, Scenario("explore", "accelerate", factor=factor,
                                               start_year=start_year), run.catalog)
    if shock:
        paths = apply_scenario(paths, Scenario("explore", "shock", year=start_year,
                                               size=shock, relative=True, adverse=False),
                               run.catalog)
    out = paths.get(indicator_id)
    target = run.catalog.get(indicator_id).targets.get(year)
    if target is None or not target.is_quantitative:
        return out, None
    try:
        return out, float(target.prob_met(out.paths, out.years))
    except ValueError:  # the target needs years the series does not hold
        return out, None


def _explore_figure(run: Run, series: Any, lang: str) -> Any:
    q = np.quantile(series.paths, (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95), axis=0)
    frame = pd.DataFrame({"indicator_id": series.indicator_id, "place": run.place,
                          "scenario": "explore", "year": series.years,
                          "observed": series.observed, "mean": series.paths.mean(axis=0),
                          **{c: q[i] for i, c in enumerate(
                              ("q05", "q10", "q25", "q50", "q75", "q90", "q95"))}})
    ind = run.catalog.get(series.indicator_id)
    return figures.plot_indicator(frame, series.indicator_id, lang=lang, place=run.place,
                                  scenario="explore", targets=list(ind.targets.values()),
                                  title=f"{ind.id}. {_name(ind, lang)}"[:90], unit=ind.unit,
                                  decimals=_decimals(run, ind.id))


def scenario_widgets(run: Run, lang: str = "vi", indicator_id: str = "") -> Any:
    """The live explorer (ipywidgets): pick an indicator, move acceleration, shock, start year.

    Returns a widget box; the probability and the fan chart update on every change.
    """
    import ipywidgets as w

    ids = [i for i in _charted_ids(run, None, "bau") if run.draws(i, "bau") is not None]
    if not ids:
        return Snippet(f"<p>{_e(t('msg.no_quant_data', lang))}</p>")
    pick = w.Dropdown(options=[(f"{i}. {_name(run.catalog.get(i), lang)}"[:80], i) for i in ids],
                      value=indicator_id if indicator_id in ids else ids[0],
                      description=t("label.indicator", lang))
    factor = w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.1,
                           description=t("label.acceleration", lang))
    shock = w.FloatSlider(value=0.0, min=-0.5, max=0.5, step=0.01,
                          description=t("label.shock", lang))
    start = w.IntSlider(value=2026, min=2025, max=2030, description=t("label.start_year", lang))
    label, image = w.HTML(), w.HTML()

    def update(_change: Any = None) -> None:
        series, p = explore_scenario(run, pick.value, factor=factor.value, shock=shock.value,
                                     start_year=start.value)
        label.value = (f"<b>{_e(t('label.probability', lang, year=2030, p=format_percent(p, lang), words=probability_words(p, lang)))}</b>"
                       if p is not None else "")
        image.value = _img(_explore_figure(run, series, lang), pick.label)

    for control in (pick, factor, shock, start):
        control.observe(update, names="value")
    update()
    return w.VBox([pick, factor, shock, start, label, image])
