"""The HTML kit of the briefings: :class:`Snippet`, escaping, tables, sections, images.

Helpers over the catalog and the assessment.
"""
from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from khforecast.briefing import figures
from khforecast.briefing.i18n import (
    format_number,
    format_percent,
    place_name,
    probability_words,
    t,
)
from khforecast.briefing.key_messages import indicator_name, lead_label
from khforecast.briefing.print_page import format_date, print_style
from khforecast.briefing.rundir import Run
from khforecast.briefing.target_scale import format_value
from khforecast.errors import KhforecastError
from khforecast.plan.catalog import Indicator, Task, load_catalog

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure  # matplotlib loads lazily, in briefing.figures

__all__ = [
    "Snippet",
]




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


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(figures.figure_png(fig)).decode("ascii")
    return f'<img class="kh-figure" alt="{_e(alt)}" src="data:image/png;base64,{data}"/>'


# --------------------------------------------------------------------------------------------
# helpers over the catalog and the assessment
# --------------------------------------------------------------------------------------------
def _name(ind: Indicator, lang: str) -> str:
    """The indicator's name; a sub-row gets its parent's first (``85.urban`` -> ``Tỷ lệ ...:
    thành thị``)."""
    return indicator_name(load_catalog(), ind, lang)


def _sector_name(run: Run, sector: str, lang: str) -> str:
    s = run.catalog.sectors[sector]
    return s.name_vi if lang == "vi" else (s.name_en or s.name_vi)


def _lead(item: Indicator | Task, lang: str) -> str:
    """The one name rule for a row's or task's lead (:func:`.key_messages.lead_label`)."""
    return lead_label(item, lang)


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
    """A level of ``ind_id`` with its unit (``2,5 %``, ``73,9 tuổi``)."""
    return format_value(x, run.catalog.get(ind_id), lang, _decimals(run, ind_id))  # type: ignore[arg-type]


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


def _run_info(run: Run, lang: str, title: str = "") -> str:
    """The run line, the territory line and (with ``title``) the page's A4 running header."""
    info = t("msg.run_info", lang, run_id=run.manifest.get("run_id", run.path.name),
             date=format_date(run.as_of, lang), place=place_name(run.place, lang))
    head = print_style(title, run.as_of, lang) if title else ""
    return f'{head}<p class="kh-run">{_e(info)}</p>'
