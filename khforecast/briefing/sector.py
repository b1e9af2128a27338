"""The sections of the sector briefing notebook (``sector_briefing.ipynb``)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from khforecast.assess.statuses import STATUS_ORDER
from khforecast.assess.statuses import headline as headline_of
from khforecast.briefing import figures
from khforecast.briefing.chart_kit import fan_limits, outer_band, wide_band_caption
from khforecast.briefing.i18n import (
    STRINGS,
    check_lang,
    format_number,
    format_percent,
    format_signed,
    format_target_text,
    place_name,
    probability_words,
    scenario_name,
    t,
)
from khforecast.briefing.kit import (
    Snippet,
    _banner,
    _decimals,
    _e,
    _h,
    _img,
    _lead,
    _name,
    _prob,
    _rows,
    _run_info,
    _section,
    _sector_name,
    _status,
    _table,
    _value,
)
from khforecast.briefing.key_messages import key_messages_html, results_2025_line
from khforecast.briefing.print_page import annex_start, format_date
from khforecast.briefing.rundir import Run
from khforecast.briefing.target_scale import (
    Footnotes,
    shown_cells,
    target_label,
    unit_label,
    value_on_target_scale,
)

__all__ = [
    "annex",
    "fan_charts",
    "headline",
    "headline_counts",
    "key_messages_section",
    "look_back_2025",
    "method_note",
    "outlook_2030",
    "required_change",
    "sector_title",
    "targets_in_full",
]


# --------------------------------------------------------------------------------------------
# sector briefing
# --------------------------------------------------------------------------------------------
def sector_title(run: Run, sector: str, lang: str = "vi", note: str = "") -> Snippet:
    """The banner (if the data are illustrative), the sector's title, the run and the note."""
    check_lang(lang)
    title = t("h.sector_briefing", lang, sector=sector, name=_sector_name(run, sector, lang))
    note_html = (f'<div class="kh-note"><strong>{_e(t("h.note", lang))}:</strong> '
                 f'{_e(note)}</div>' if note else "")
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(title)}</h1>{_run_info(run, lang, title)}'
                   f'{note_html}')


def headline_counts(run: Run, sector: str | None = None, scenario: str | None = None,
                    year: int = 2030) -> dict[str, int]:
    """How many indicators (of a sector, or all) have each status for ``year``'s targets."""
    counts = _rows(run, year=year, scenario=scenario, sector=sector)["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUS_ORDER}


def headline(run: Run, sector: str | None = None, lang: str = "vi",
             scenario: str | None = None) -> Snippet:
    """The headline counts of the 2030 targets: met, on track, at risk, off track, no data."""
    counts = headline_counts(run, sector, scenario)
    shown = headline_of(s for s, n in counts.items() for _ in range(n))
    cards = "".join(f'<div class="kh-card kh-{s}"><span class="kh-count" data-status="{s}">'
                    f'{counts[s]}</span><span class="kh-label">{_e(t("status." + s, lang))}'
                    "</span></div>" for s in shown)
    key = "msg.headline" if sector else "msg.headline_overview"
    lead = f"<p>{_e(t(key, lang, n=sum(counts.values())))}</p>"
    return _section("headline", t("h.headline", lang), lead, f'<div class="kh-cards">{cards}</div>')


def key_messages_section(run: Run, sector: str | None = None, lang: str = "vi") -> Snippet:
    """The 3-5 key messages of the sector (``None``: the province) and the territory line."""
    return Snippet(key_messages_html(run, sector, lang))


def annex(lang: str = "vi") -> Snippet:
    """The annex's opening: in print, the details after the brief start on a new page."""
    return Snippet(annex_start(lang))


def _result_2025(r: Any, lang: str) -> Snippet:
    """A 2025 target's result: met, missed, or the probability it was met when not published."""
    if r.status in ("on_track", "at_risk", "off_track") and pd.notna(r.p_meet):
        return Snippet(_e(t("msg.nowcast", lang, p=format_percent(r.p_meet, lang),
                            words=probability_words(float(r.p_meet), lang))))
    return _status(r.status, lang)


#: rows a brief's table lists at most, so that the brief prints on two A4 pages whatever the
#: data; the rest are in the annex (:func:`targets_in_full`)
BRIEF_ROWS = 5
#: which rows with data a capped brief table keeps first: results and risks before the rest
_ATTENTION = {"missed": 0, "off_track": 1, "at_risk": 2, "on_track": 3, "met": 4,
              "insufficient_data": 5}


def _with_data(run: Run, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that have a value to show: observed, or (row 80) a value of the merged
    province on the target's scale. The others are data gaps or qualitative."""
    def shown(r: Any) -> bool:
        ind = run.catalog.get(r.indicator_id)
        return r.n_obs > 0 or value_on_target_scale(
            ind, ind.targets.get(int(r.target_year)), run.observations, run.place) is not None

    keep = [r.status != "qualitative" and shown(r) for r in frame.itertuples()]
    return frame[np.array(keep, dtype=bool)] if len(frame) else frame


def _brief_rows(run: Run, frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """At most ``limit`` rows with data, those needing most attention (missed, off track, at
    risk, lowest probability) kept first, shown in catalog order."""
    rows = _with_data(run, frame)
    if limit is None or len(rows) <= limit:
        return rows
    rank = rows["status"].map(_ATTENTION).fillna(len(_ATTENTION))
    keep = (rows.assign(_rank=rank, _p=rows["p_meet"].fillna(1.0), _k=range(len(rows)))
            .sort_values(["_rank", "_p", "_k"], kind="stable").head(limit).index)
    return rows.loc[rows.index.isin(keep)]


def _left_out(run: Run, frame: pd.DataFrame, shown: pd.DataFrame, sector: str | None,
              lang: str) -> str:
    """The lines under a brief table: rows with data left to the annex, rows without data
    (their sources in the annex's data gaps), qualitative targets with their text."""
    year = int(frame["target_year"].iloc[0]) if len(frame) else 2030
    data = _with_data(run, frame)
    more = [i for i in data["indicator_id"] if i not in set(shown["indicator_id"])]
    gaps = [i for i in frame.loc[frame["status"] != "qualitative", "indicator_id"]
            if i not in set(data["indicator_id"])]
    qual = frame[frame["status"] == "qualitative"]
    lines = []
    if more:
        lines.append(t("msg.brief_more", lang, k=len(shown), m=len(data), ids=", ".join(more),
                       section=t("h.all_targets", lang)))
    if gaps and sector is None:
        lines.append(t("msg.brief_gaps_province", lang, n=len(gaps),
                       section=t("h.coverage", lang)))
    elif gaps:
        lines.append(t("msg.brief_gaps", lang, n=len(gaps), ids=", ".join(gaps),
                       section=t("h.data_gaps", lang)))
    if len(qual) and sector is not None:
        items = "; ".join(
            f"{r.indicator_id} ({target_label(run.catalog.get(r.indicator_id), run.catalog.get(r.indicator_id).targets.get(year), lang).text})"
            for r in qual.itertuples())
        lines.append(t("msg.brief_qualitative", lang, items=items))
    elif len(qual):
        lines.append(t("msg.brief_qualitative_n", lang, n=len(qual)))
    return "".join(f'<p class="kh-left-out">{_e(x)}</p>' for x in lines)


def look_back_2025(run: Run, sector: str | None, lang: str = "vi",
                   scenario: str | None = None, rows: int | None = BRIEF_ROWS) -> Snippet:
    """The 2025 targets with data: met, missed, or not yet published with the probability it
    was met; under the table, which targets have no data (the annex lists them).

    Values are on their target's scale (a yearly fall, a ratio, a sum); the plan's literal
    text is a footnote where the target shown is its reading. ``sector=None``: the province's
    targets, after the line counting them all. ``rows``: at most this many rows (those
    needing most attention first; ``None``: all), so that the brief stays two pages.
    """
    frame = _rows(run, year=2025, scenario=scenario, sector=sector)
    shown = _brief_rows(run, frame, rows)
    lead = f"<p>{_e(results_2025_line(run, sector, lang))}</p>"
    return _section("look-back-2025", t("h.look_back_2025", lang), lead,
                    _table_2025(run, shown, sector, lang), _left_out(run, frame, shown, sector,
                                                                     lang))


def _table_2025(run: Run, frame: pd.DataFrame, sector: str | None, lang: str) -> str:
    """The 2025 table of ``frame``'s rows (with a sector column for the province)."""
    if frame.empty:
        return ""
    notes = Footnotes()
    rows = []
    for r in frame.itertuples():
        ind = run.catalog.get(r.indicator_id)
        value, target = shown_cells(run, r.indicator_id, 2025, lang, notes, r.last_value)
        row = [r.indicator_id, _name(ind, lang), Snippet(target), Snippet(value),
               _result_2025(r, lang)]
        if sector is None:
            row.insert(1, ind.sector)
        rows.append(row)
    keys = ["col.id", "col.indicator", "col.target", "col.last_value", "col.result"]
    if sector is None:
        keys.insert(1, "col.sector")
    cls = "kh-2025 kh-2025-province" if sector is None else "kh-2025"
    return _table([t(k, lang) for k in keys], rows, cls) + notes.html()


def _status_with_escap(r: Any, lang: str) -> Snippet:
    """The status badge, with the ESCAP label under it as a secondary reading."""
    badge = _status(r.status, lang)
    label = getattr(r, "escap_label", "")
    if not isinstance(label, str) or f"escap.{label}" not in STRINGS:
        return badge
    return Snippet(f'{badge}<br/><span class="kh-escap">ESCAP: {_e(t("escap." + label, lang))}'
                   "</span>")


def outlook_2030(run: Run, sector: str, lang: str = "vi", scenario: str | None = None,
                 rows: int | None = BRIEF_ROWS) -> Snippet:
    """The 2030 table of the targets with data: value on the target's scale, target,
    probability in words and numbers, status (with the ESCAP label as a secondary reading),
    lead agency; under it, which targets have no data (the annex lists them) and the
    qualitative ones. ``rows``: at most this many rows (those needing most attention first;
    ``None``: all), so that the brief stays two pages."""
    frame = _rows(run, year=2030, scenario=scenario, sector=sector)
    if frame.empty:
        return _section("outlook-2030", t("h.outlook_2030", lang),
                        f"<p>{_e(t('msg.no_rows', lang))}</p>")
    shown = _brief_rows(run, frame, rows)
    return _section("outlook-2030", t("h.outlook_2030", lang), _table_2030(run, shown, lang),
                    _left_out(run, frame, shown, sector, lang))


def _table_2030(run: Run, frame: pd.DataFrame, lang: str) -> str:
    """The 2030 table of ``frame``'s rows, its footnotes and the ESCAP label's explanation."""
    if frame.empty:
        return ""
    notes = Footnotes()
    rows = []
    escap = False
    for r in frame.itertuples():
        ind = run.catalog.get(r.indicator_id)
        value, target = shown_cells(run, r.indicator_id, 2030, lang, notes, r.last_value)
        status = _status_with_escap(r, lang)
        escap = escap or "kh-escap" in status
        rows.append([r.indicator_id, _name(ind, lang), Snippet(value), Snippet(target),
                     _prob(r.p_meet, lang), status, _lead(ind, lang)])
    keys = ["col.id", "col.indicator", "col.last_value", "col.target", "col.probability",
            "col.status", "col.lead"]
    explain = f'<p class="kh-footnote">{_e(t("msg.escap_secondary", lang))}</p>' if escap else ""
    return _table([t(k, lang) for k in keys], rows, "kh-2030") + notes.html() + explain


def targets_in_full(run: Run, sector: str | None, lang: str = "vi",
                    scenario: str | None = None, rows: int | None = BRIEF_ROWS) -> Snippet:
    """The annex's tables of every target with data, when the brief's tables (``rows`` long)
    left some out; empty otherwise."""
    parts = []
    f25 = _rows(run, year=2025, scenario=scenario, sector=sector)
    if len(_brief_rows(run, f25, rows)) < len(_with_data(run, f25)):
        parts += [_h(3, "all-2025", t("h.look_back_2025", lang)),
                  _table_2025(run, _with_data(run, f25), sector, lang)]
    if sector is not None:
        f30 = _rows(run, year=2030, scenario=scenario, sector=sector)
        if len(_brief_rows(run, f30, rows)) < len(_with_data(run, f30)):
            parts += [_h(3, "all-2030", t("h.outlook_2030", lang)),
                      _table_2030(run, _with_data(run, f30), lang)]
    return _section("all-targets", t("h.all_targets", lang), *parts) if parts else Snippet("")


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
                                 unit=unit_label(ind, lang, level=True),
                                 decimals=_decimals(run, ind_id), domain=str(ind.domain))
    a = _rows(run, year=2030, scenario=scenario)
    p = a.loc[a["indicator_id"] == ind_id, "p_meet"]
    caption = f"{ind_id}. {_name(ind, lang)}"
    if len(p) and pd.notna(p.iloc[0]):
        caption += (f" — {t('col.probability', lang)} 2030: {format_percent(p.iloc[0], lang)} "
                    f"({probability_words(float(p.iloc[0]), lang)})")
    rows = run.forecasts[(run.forecasts["indicator_id"] == ind_id)
                         & (run.forecasts["place"] == run.place)
                         & (run.forecasts["scenario"] == scenario)].sort_values("year")
    outer = outer_band(rows, fan_limits(rows, targets, compare, str(ind.domain)))
    years = rows.loc[rows["observed"].notna(), "year"].astype(int).tolist()
    wide = (wide_band_caption(len(years), years, outer[1], lang, outer[0])
            if outer is not None else "")
    wide_html = f'<br/><span class="kh-wide-band">{_e(wide)}</span>' if wide else ""
    return (f'<figure class="kh-fig">{_img(fig, title)}<figcaption>{_e(caption)}{wide_html}'
            "</figcaption></figure>")


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
    sims = params.get("sims")
    text = t("msg.method", lang, sims=format_number(sims, lang, 0) if sims else "?",
             scenario=scenario_name(run.scenario, lang),
             seed=params.get("seed", "?"), hi=format_number(hi, lang, 2),
             lo=format_number(lo, lang, 2))
    parts = [f"<p>{_e(text)}</p>"]
    # what a statistician declared in models.yaml for this sector's indicators, and why
    mc = run.manifest.get("model_choices") or {}
    ids = {i.id for i in run.catalog.in_sector(sector)} if sector is not None else None
    declared = [(iid, ", ".join(c.get("models") or ["combination"]),
                 "; ".join(filter(None, [
                     ("pulse " + ", ".join(map(str, c["pulse"]))) if c.get("pulse") else "",
                     f"step {c['step']}" if c.get("step") is not None else "",
                     ("exclude " + ", ".join(map(str, c["exclude_years"])))
                     if c.get("exclude_years") else ""])), c.get("note") or "")
                for iid, c in sorted((mc.get("indicators") or {}).items())
                if ids is None or iid in ids]
    if declared:
        parts += [_h(3, "model-choices", t("h.model_choices", lang)),
                  _table([t(k, lang) for k in ("col.id", "col.model", "col.interventions",
                                               "col.note")], declared)]
    parts.append(_h(3, "calibration", t("h.calibration", lang)))
    if run.calibration is not None and not run.calibration.empty:
        cal = run.calibration
        words = _coverage_words(cal, lang)
        if words:
            parts.append(f"<p>{_e(words)}</p>")
        heads = [t(f"col.cal_{c}", lang) if f"col.cal_{c}" in STRINGS else c for c in cal.columns]
        share = {"nominal", "coverage", "coverage80", "coverage95", "coverage_panel_out"}
        def cell(c: str, v: Any) -> Any:
            if c in share:
                return format_percent(v, lang, 1)
            if c == "interval" and re.fullmatch(r"\d+(\.\d+)?%", str(v)):
                return format_percent(float(str(v)[:-1]), lang, 0, fraction=False)  # 80 %
            if isinstance(v, (int, np.integer)):
                return format_number(v, lang, 0)  # 39.577 back-tests, not 39577
            if isinstance(v, float):
                return format_number(v, lang, 3)
            return t(f"method.{v}", lang) if f"method.{v}" in STRINGS else v

        parts.append(_table(heads, [[cell(c, v) for c, v in zip(cal.columns, row)]
                                    for row in cal.itertuples(index=False)]))
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
