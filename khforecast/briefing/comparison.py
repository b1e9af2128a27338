"""Where Khánh Hòa stands among the provinces: the comparison section and the national overview.

Read from a multi-place run (``khforecast run --places ...``): the run's ``assessment.csv``
holds every place's rows. Only indicators a GSO panel measures for every province are compared
(``khforecast/data/gso_panels/mappings.yaml``). The plan's targets were set for Khánh Hòa
alone; for every other province P(meet the 2030 target) measures it against Khánh Hòa's
targets, as a yardstick, and every table and chart says so.
"""
from __future__ import annotations

import pandas as pd

from khforecast.briefing import figures
from khforecast.briefing.i18n import check_lang, format_percent, place_name, t
from khforecast.briefing.key_messages import territory_html
from khforecast.briefing.kit import Snippet, _banner, _e, _img, _name, _prob, _run_info, _section, _status, _table, _value
from khforecast.briefing.rundir import Run
from khforecast.observations.panel_mappings import load_mappings
from khforecast.observations.provinces import bundled_places

__all__ = ["compared_places", "national_status_chart", "national_table", "national_title",
           "province_comparison"]

#: statuses counted on the national page, in display order
_COUNTED = ("met", "on_track", "at_risk", "off_track", "missed", "insufficient_data", "no_data")
_SORT_JS = (
    "<script>(function(){document.querySelectorAll('table.kh-sortable').forEach(function(tb){"
    "tb.querySelectorAll('th').forEach(function(th,i){th.style.cursor='pointer';"
    "th.addEventListener('click',function(){var b=tb.tBodies[0],r=Array.from(b.rows),"
    "d=th.dataset.dir==='asc'?-1:1;th.dataset.dir=d===1?'asc':'desc';r.sort(function(x,y){"
    "var a=x.cells[i].dataset.v||x.cells[i].textContent,c=y.cells[i].dataset.v||y.cells[i].textContent,"
    "p=parseFloat(a),q=parseFloat(c);return(isNaN(p)||isNaN(q)?a.localeCompare(c):p-q)*d;});"
    "r.forEach(function(x){b.appendChild(x);});});});});})();</script>")


def compared_places(run: Run) -> list[str]:
    """The places of a multi-place run (its ``--places``), or ``[]`` for a single-place run."""
    return [p for p in run.manifest.get("places", []) if p != "vietnam"]


def _highlight(run: Run) -> list[str]:
    """The run's place and the unit it belongs to since 1 July 2025 (e.g. khanh_hoa_merged)."""
    succ = run.manifest.get("successor_of_place")
    return [run.place] + ([succ] if succ and succ != run.place else [])


def _panel_ids() -> list[str]:
    return sorted({m.catalog_id for m in load_mappings() if m.status == "match" and m.catalog_id})


def _ranked(run: Run, ind_id: str, scenario: str) -> pd.DataFrame:
    """Latest value and P(meet 2030) of each compared place; rank 1 = best by the indicator's direction."""
    a = run.assessment
    rows = a[(a["indicator_id"] == ind_id) & (a["target_year"] == 2030) & (a["scenario"] == scenario)
             & a["place"].isin(set(compared_places(run)) | set(_highlight(run)))]
    rows = rows.dropna(subset=["last_value"]).drop_duplicates("place").copy()
    peers = rows["place"].isin(compared_places(run))
    direction = run.catalog.get(ind_id).direction or 1
    rows["rank"] = (rows["last_value"].where(peers) * -direction).rank(method="min")
    return rows.sort_values(["rank", "place"], na_position="last", kind="mergesort")


def province_comparison(run: Run, sector: str, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """For each indicator of the sector that a GSO panel measures: the place's rank and two strip plots.

    Empty for a single-place run (the section needs the other provinces' results).
    """
    check_lang(lang)
    if len(compared_places(run)) < 2:
        return Snippet("")
    scen = scenario or run.scenario
    ids = [i for i in _panel_ids() if i in {ind.id for ind in run.catalog.in_sector(sector)}]
    parts = [f'<p class="kh-note">{_e(t("msg.yardstick", lang))}</p>']
    for ind_id in ids:
        rows = _ranked(run, ind_id, scen)
        if rows.empty:
            continue
        n = int(rows["rank"].notna().sum())
        ind = run.catalog.get(ind_id)
        table = _table([t(k, lang) for k in ("col.place", "col.rank", "col.last_value",
                                             "col.probability", "col.status")],
                       [(place_name(r.place, lang),
                         t("msg.rank_of", lang, rank=int(r.rank), n=n) if pd.notna(r.rank)
                         else t("msg.not_ranked", lang),
                         f"{_value(run, ind_id, r.last_value, lang)} ({int(r.last_year)})",
                         _prob(r.p_meet, lang), _status(r.status, lang))
                        for r in rows[rows["place"].isin(_highlight(run))].itertuples()])
        fig = figures.plot_province_strips(
            rows.set_index("place")["last_value"], rows.set_index("place")["p_meet"],
            highlight=[p for p in _highlight(run) if p in set(rows["place"])], lang=lang,
            value_label=f"{_name(ind, lang)} ({ind.unit})",
            p_label=t("label.p_meet_yardstick", lang))
        parts.append(f'<h3 id="compare-{_e(ind_id)}">{_e(ind_id)} · {_e(_name(ind, lang))}</h3>'
                     f"{table}{_img(fig, t('h.comparison', lang) + ' ' + ind_id)}")
    if len(parts) == 1:
        parts.append(f"<p>{_e(t('msg.no_panel_in_sector', lang))}</p>")
    return _section(f"comparison-{sector}", t("h.comparison", lang), *parts)


def national_title(run: Run, lang: str = "vi") -> Snippet:
    """The banner (if illustrative), the national page's title, the run (with the A4 running
    header), the territory line and the yardstick note."""
    check_lang(lang)
    title = t("h.national", lang)
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(title)}</h1>'
                   f"{_run_info(run, lang, title)}{territory_html(run, None, lang)}"
                   f'<p class="kh-note">{_e(t("msg.yardstick", lang))}</p>')


def _status_counts(run: Run, scenario: str) -> pd.DataFrame:
    a = run.assessment
    a = a[(a["target_year"] == 2030) & (a["scenario"] == scenario)
          & a["place"].isin(compared_places(run)) & a["status"].isin(_COUNTED)]
    counts = a.groupby(["place", "status"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=compared_places(run), columns=list(_COUNTED), fill_value=0)
    mean_p = a.groupby("place")["p_meet"].mean().reindex(counts.index)
    return counts.assign(mean_p=mean_p)


def national_table(run: Run, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """Every place of the run with its 2030 status counts: a table sortable by any column (click)."""
    counts = _status_counts(run, scenario or run.scenario)
    head = [t("col.place", lang), *[t("status." + s, lang) for s in _COUNTED], t("col.mean_p", lang)]
    body = "".join(
        "<tr>" + f'<td data-v="{_e(place_name(p, lang))}">{_e(place_name(p, lang))}</td>'
        + "".join(f'<td data-v="{int(r[s])}">{int(r[s])}</td>' for s in _COUNTED)
        + (f'<td data-v="{r.mean_p:.4f}">{_e(format_percent(r.mean_p, lang))}</td>'
           if pd.notna(r.mean_p) else '<td data-v="-1">–</td>') + "</tr>"
        for p, r in counts.iterrows())
    table = (f'<table class="kh-table kh-sortable"><thead><tr>'
             + "".join(f"<th>{_e(h)}</th>" for h in head)
             + f"</tr></thead><tbody>{body}</tbody></table>")
    return _section("national-table", t("h.national_table", lang),
                    f"<p>{_e(t('msg.sortable', lang))}</p>", table, _SORT_JS)


def national_status_chart(run: Run, lang: str = "vi", scenario: str | None = None) -> Snippet:
    """A map-free chart: one bar per place, its 2030 targets split by status."""
    counts = _status_counts(run, scenario or run.scenario).drop(columns="mean_p")
    fig = figures.plot_place_status_bars(counts, lang=lang,
                                         labels={p: place_name(p, lang) for p in counts.index})
    return _section("national-chart", t("h.national_chart", lang), _img(fig, t("h.national_chart", lang)))
