"""The sections of the province overview notebook (``overview.ipynb``)."""
from __future__ import annotations

import numpy as np

from khforecast.briefing import figures
from khforecast.briefing.i18n import (
    check_lang,
    format_number,
    format_percent,
    format_signed,
    format_target_text,
    t,
)
from khforecast.briefing.kit import (
    Snippet,
    _banner,
    _e,
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
)
from khforecast.briefing.rundir import Run
from khforecast.briefing.sector import _change_rows

__all__ = [
    "biggest_risks",
    "data_coverage",
    "largest_accelerations",
    "overview_title",
    "status_by_sector",
]


# --------------------------------------------------------------------------------------------
# overview
# --------------------------------------------------------------------------------------------
def overview_title(run: Run, lang: str = "vi") -> Snippet:
    """The banner (if illustrative), the overview's title and the run."""
    check_lang(lang)
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(t("h.overview", lang))}</h1>'
                   f"{_run_info(run, lang, t('h.overview', lang))}")


def _sector_of(run: Run) -> dict[str, str]:
    return {i.id: i.sector for i in run.catalog.indicators.values()}


def status_by_sector(run: Run, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """The 2030 statuses by sector as stacked bars in the status colours of the page."""
    fig = figures.plot_status_bars(run.assessment[run.assessment["place"] == run.place],
                           _sector_of(run), lang=lang, sectors=list(run.catalog.sectors),
                           scenario=scenario or run.scenario, statuses=figures.STATUS_ORDER)
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
