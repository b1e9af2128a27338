"""The sections of the indicator deep-dive notebook (``indicator_deep_dive.ipynb``)."""
from __future__ import annotations

import pandas as pd

from khforecast.briefing import figures
from khforecast.briefing.i18n import (
    format_number,
    format_percent,
    place_name,
    t,
)
from khforecast.briefing.kit import (
    Snippet,
    _banner,
    _decimals,
    _e,
    _img,
    _lead,
    _name,
    _prob,
    _run_info,
    _section,
    _status,
    _table,
    _value,
)
from khforecast.briefing.key_messages import territory_html
from khforecast.briefing.target_scale import Footnotes, shown_cells, unit_label
from khforecast.briefing.rundir import Run
from khforecast.briefing.sector import _charted_ids, _fan
from khforecast.engine.predictive import load_strata_table, series_stratum

__all__ = [
    "indicator_calibration",
    "indicator_data",
    "indicator_distribution",
    "indicator_models",
    "indicator_scenarios",
    "indicator_title",
]


# --------------------------------------------------------------------------------------------
# indicator deep dive and scenarios
# --------------------------------------------------------------------------------------------
def indicator_title(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The banner (if illustrative), the indicator's title, the territory line, unit, targets
    and lead agency."""
    ind = run.catalog.get(indicator_id)
    notes = Footnotes()
    shown = [Snippet(shown_cells(run, indicator_id, y, lang, notes)[1]) for y in (2025, 2030)]
    facts = _table([t("col.unit", lang), t("col.target", lang) + " 2025",
                    t("col.target", lang) + " 2030", t("col.lead", lang)],
                   [(unit_label(ind, lang) or "–", *shown, _lead(ind, lang))]) + notes.html()
    title = t("h.deep_dive", lang, id=indicator_id, name=_name(ind, lang))
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(title)}</h1>{_run_info(run, lang, title)}'
                   f"{territory_html(run, lang=lang, ids=[indicator_id])}{facts}")


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
