"""Key messages: the three to five sentences a leader reads first, written from the run.

Every sentence is filled from the run's ``assessment.csv`` and ``observations.csv`` through
fixed Vietnamese and English templates (:data:`TEMPLATES`); no text model, no randomness, so the
same run always gives the same words. For a sector (or the whole province) the messages say:

1. how many of the 2030 targets the data can assess, and their statuses;
2. for the assessable targets least likely to be met (two, or one when another is on track): the figure, the target,
   the likelihood in words and number, the yearly change needed against the historical pace
   (``cần giảm 5,2 điểm %/năm, gấp 14 lần tốc độ 2018–2024``) and the lead agency;
3. for the target most likely to be met, the same figure, target and likelihood;
4. one line on the 2025 targets (met, missed, not yet published with a nowcast);
5. one line on data coverage.

:func:`territory_line` says what territory the data and targets are for (Khánh Hòa before the
1 July 2025 merger) and names the merged-province values the data hold.
"""
from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from khforecast.briefing.agency_names import lead_label as _lead_label
from khforecast.briefing.i18n import (
    check_lang,
    format_number,
    format_percent,
    probability_words,
    t,
)
from khforecast.plan.catalog import load_catalog
from khforecast.briefing.target_scale import (
    format_value,
    merged_place,
    target_label,
    unit_label,
    value_on_target_scale,
)

__all__ = ["TEMPLATES", "KeyMessage", "RunTables", "indicator_name", "key_messages",
           "key_messages_html", "lead_label", "results_2025_line", "territory_html",
           "territory_line"]

_ASSESSABLE = ("met", "missed", "on_track", "at_risk", "off_track")
_OPEN = ("on_track", "at_risk", "off_track")


class RunTables(Protocol):
    """What the messages read from a run (``khforecast.briefing.rundir.Run`` has all of it)."""

    assessment: pd.DataFrame
    observations: pd.DataFrame
    catalog: Any

    @property
    def place(self) -> str: ...

    @property
    def scenario(self) -> str: ...


#: key -> (Vietnamese, English) sentence templates.
TEMPLATES: dict[str, tuple[str, str]] = {
    "scope.sector": ("Lĩnh vực {sector}", "Sector {sector}"),
    "scope.province": ("Toàn tỉnh", "The province"),
    "headline": ("{scope}: {k} trên {n} mục tiêu năm 2030 đánh giá được bằng số liệu ({counts}).",
                 "{scope}: {k} of {n} targets for 2030 can be assessed with data ({counts})."),
    "headline.none": ("{scope}: chưa mục tiêu nào trong {n} mục tiêu năm 2030 đánh giá được "
                      "bằng số liệu.",
                      "{scope}: none of the {n} targets for 2030 can yet be assessed with "
                      "data."),
    "headline.none1": ("{scope}: {n} mục tiêu năm 2030, chưa đánh giá được bằng số liệu.",
                       "{scope}: {n} target for 2030, which cannot yet be assessed with data."),
    "count": ("{n} {status}", "{n} {status}"),
    "indicator": ("{name}: {value}, mục tiêu {year} là {target}; {words} ({p}).",
                  "{name}: {value} against a {year} target of {target}; {words} to be met "
                  "({p})."),
    "pace.faster": ("Cần {verb} {rate}/năm, gấp {ratio} lần tốc độ {y0}–{y1}",
                    "It needs {verb} of {rate} a year, {ratio} times the {y0}–{y1} pace"),
    "pace.same": ("Cần {verb} {rate}/năm, không nhanh hơn tốc độ {y0}–{y1}",
                  "It needs {verb} of {rate} a year, no faster than the {y0}–{y1} pace"),
    "pace.reverse": ("Cần {verb} {rate}/năm, trong khi giai đoạn {y0}–{y1} {hverb} {hrate}/năm",
                     "It needs {verb} of {rate} a year, while {y0}–{y1} saw {hverb} of {hrate} "
                     "a year"),
    "pace.plain": ("Cần {verb} {rate}/năm", "It needs {verb} of {rate} a year"),
    "lead": ("; chủ trì: {lead}.", "; lead: {lead}."),
    "lead.only": ("Chủ trì: {lead}.", "Lead: {lead}."),
    "verb.rise": ("tăng", "a rise"),
    "verb.fall": ("giảm", "a fall"),
    "y2025": ("Mục tiêu năm 2025 ({n} chỉ tiêu): {parts}.",
              "The 2025 targets ({n} {indicators}): {parts}."),
    "y2025.qualitative": ("{n} định tính", "{n} qualitative"),
    "y2025.met": ("{n} đã đạt", "{n} met"),
    "y2025.missed": ("{n} không đạt", "{n} missed"),
    "y2025.nowcast": ("{n} chưa công bố kết quả, trong đó {k} có khả năng đã đạt (≥ 66 %)",
                      "{n} not yet published, of which {k} likely met (≥ 66%)"),
    "y2025.insufficient_data": ("{n} chưa đủ số liệu", "{n} with too few data"),
    "y2025.no_data": ("{n} chưa có số liệu", "{n} without data"),
    "coverage": ("{gap} trên {n} chỉ tiêu định lượng chưa có số liệu công khai cấp tỉnh, nên "
                 "khả năng đạt mục tiêu của chúng chưa thể đánh giá ({share} có số liệu).",
                 "{gap} of {n} quantitative {indicators} {have} no public provincial data, so "
                 "whether they meet their targets cannot be assessed ({share} have data)."),
    "coverage.full": ("Cả {n} chỉ tiêu định lượng đều có số liệu cấp tỉnh.",
                      "All {n} quantitative indicators have provincial data."),
    "territory": ("Số liệu và mục tiêu là của tỉnh Khánh Hòa trước khi hợp nhất với Ninh Thuận "
                  "(01/07/2025); Kế hoạch 8839/KH-UBND đặt mục tiêu cho tỉnh cũ.",
                  "Data and targets are for Khánh Hòa province before its merger with Ninh Thuận "
                  "(1 July 2025); plan 8839/KH-UBND set its targets for the former province."),
    "territory.merged": (" Giá trị của tỉnh sau hợp nhất: {values}.",
                         " Values for the merged province: {values}."),
    "status.met": ("đã đạt", "met"),
    "status.missed": ("không đạt", "missed"),
    "status.on_track": ("đúng hướng", "on track"),
    "status.at_risk": ("có nguy cơ", "at risk"),
    "status.off_track": ("chệch hướng", "off track"),
}


#: Vietnamese probability words of :data:`khforecast.briefing.i18n.PROBABILITY_SCALE` that do not
#: read as "<words> đạt" (likely to be met).
_VI_MEET = {"khả năng ngang nhau": "khả năng đạt và không đạt ngang nhau"}


def _indicators(n: int) -> str:
    """English plural of 'indicator' (Vietnamese has none)."""
    return "indicator" if n == 1 else "indicators"


def _t(key: str, lang: str, **fields: object) -> str:
    return TEMPLATES[key][0 if check_lang(lang) == "vi" else 1].format(**fields)


@dataclass(frozen=True)
class KeyMessage:
    """One sentence and the indicator it is about (empty for counts)."""

    text: str
    indicator_id: str = ""


def _rows(run: RunTables, year: int, sector: str | None) -> pd.DataFrame:
    a = run.assessment
    a = a[(a["target_year"] == year) & (a["scenario"] == run.scenario) & (a["place"] == run.place)
          & (a["status"] != "no_target")]
    if sector is not None:
        ids = {ind.id for ind in run.catalog.in_sector(sector)}
        a = a[a["indicator_id"].astype(str).isin(ids)]
    return a


def indicator_name(catalog: Any, ind: Any, lang: str) -> str:
    """The indicator's name; a sub-row (``85.urban``) gets its parent's name first."""
    own = ind.name_vi if lang == "vi" else (ind.name_en or ind.name_vi)
    parent = catalog.indicators.get(ind.parent) if getattr(ind, "parent", None) else None
    if parent is None:
        return own
    head = parent.name_vi if lang == "vi" else (parent.name_en or parent.name_vi)
    if own.startswith(head):
        return own
    return f"{head}: {own[0].lower() + own[1:] if lang == 'vi' else own}"


def lead_label(ind: Any, lang: str) -> str:
    """The lead agency by the one name rule of every page
    (:func:`khforecast.briefing.agency_names.lead_label`)."""
    return _lead_label(load_catalog(), ind, lang)


def _rate(x: float, ind: Any, lang: str) -> str:
    """A yearly change of the level in words' units: ``5,2 điểm %`` / ``0,3 tuổi``."""
    d = 1 if abs(x) >= 0.95 else 2 if abs(x) >= 0.0095 else 3
    number = format_number(abs(x), lang, d)
    unit = unit_label(ind, lang, level=True)
    if unit == "%":
        return f"{number} điểm %" if lang == "vi" else f"{number} points"
    return f"{number} {unit}".strip()


def _years_observed(run: RunTables, ind_id: str) -> tuple[int, int] | None:
    o = run.observations
    years = o.loc[(o["indicator_id"].astype(str) == ind_id) & (o["place"] == run.place), "year"]
    return (int(years.min()), int(years.max())) if len(years) else None


def _pace(run: RunTables, r: Any, ind: Any, lang: str) -> str:
    """The yearly change needed against the historical one, or '' when none is needed."""
    req, hist = r.required_annual_change, r.historical_annual_change
    if req is None or pd.isna(req):
        return ""
    good = ind.direction or (1 if req > 0 else -1)
    if req * good <= 0:  # the target allows the level to move the wrong way: nothing needed
        return ""
    verb = _t("verb.rise" if req > 0 else "verb.fall", lang)
    rate = _rate(req, ind, lang)
    span = _years_observed(run, r.indicator_id)
    flow = getattr(ind, "observed_as", "level") == "flow"
    if hist is None or pd.isna(hist) or span is None or span[0] == span[1] or flow:
        return _t("pace.plain", lang, verb=verb, rate=rate)
    y0, y1 = span
    if hist * good > 0:
        ratio = req / hist
        if ratio < 1.05:
            return _t("pace.same", lang, verb=verb, rate=rate, y0=y0, y1=y1)
        return _t("pace.faster", lang, verb=verb, rate=rate, y0=y0, y1=y1,
                  ratio=format_number(ratio, lang, 0 if ratio >= 10 else 1))
    hverb = _t("verb.rise" if hist > 0 else "verb.fall", lang)
    return _t("pace.reverse", lang, verb=verb, rate=rate, y0=y0, y1=y1, hverb=hverb,
              hrate=_rate(hist, ind, lang))


def _indicator_sentence(run: RunTables, r: Any, lang: str, *, pace: bool) -> KeyMessage:
    ind = run.catalog.get(r.indicator_id)
    target = ind.targets.get(int(r.target_year))
    shown = value_on_target_scale(ind, target, run.observations, run.place, lang)
    value = shown.text if shown is not None else format_value(r.last_value, ind, lang)
    p = float(r.p_meet)
    words = probability_words(p, lang)
    if lang == "vi":  # the scale's words, made to read as "likely to be met"
        words = _VI_MEET.get(words, f"{words} đạt")
    text = _t("indicator", lang, name=indicator_name(run.catalog, ind, lang), value=value, year=int(r.target_year),
              target=target_label(ind, target, lang).text, words=words,
              p=format_percent(p, lang))
    if pace:
        gap = _pace(run, r, ind, lang)
        text += " " + (gap + _t("lead", lang, lead=lead_label(ind, lang)) if gap
                       else _t("lead.only", lang, lead=lead_label(ind, lang)))
    return KeyMessage(text, str(r.indicator_id))


def _counts(rows: pd.DataFrame, lang: str) -> str:
    counts = rows["status"].value_counts()
    return ", ".join(_t("count", lang, n=int(counts[s]), status=_t(f"status.{s}", lang))
                     for s in _ASSESSABLE if counts.get(s, 0))


def _order(run: RunTables) -> dict[str, int]:
    return {i: k for k, i in enumerate(run.catalog.indicators)}


def key_messages(run: RunTables, sector: str | None = None, lang: str = "vi") -> list[KeyMessage]:
    """The key messages of a sector (``None``: the province), in reading order.

    Three to five sentences, each with numbers: the headline, the assessable targets least
    likely to be met (two, or one when a target is on track), the one most likely to be met,
    the 2025 line and the coverage line (see the module's docstring).
    """
    check_lang(lang)
    scope = (_t("scope.sector", lang, sector=sector) if sector else _t("scope.province", lang))
    rows = _rows(run, 2030, sector)
    order = _order(run)
    rows = rows.assign(_o=rows["indicator_id"].astype(str).map(order)).sort_values("_o")
    judged = rows[rows["status"].isin(_ASSESSABLE)]
    out: list[KeyMessage] = []
    if len(judged):
        out.append(KeyMessage(_t("headline", lang, scope=scope, k=len(judged), n=len(rows),
                                 counts=_counts(judged, lang))))
    else:
        key = "headline.none1" if len(rows) == 1 else "headline.none"
        out.append(KeyMessage(_t(key, lang, scope=scope, n=len(rows))))
    open_ = judged[judged["status"].isin(_OPEN) & judged["p_meet"].notna()]
    worst = open_[open_["status"] != "on_track"].sort_values(["p_meet", "_o"], kind="stable")
    best = open_[open_["status"] == "on_track"].sort_values(["p_meet", "_o"],
                                                           ascending=[False, True], kind="stable")
    # at most five sentences: the second-worst target gives way to the best one
    for r in worst.head(1 if len(best) else 2).itertuples():
        out.append(_indicator_sentence(run, r, lang, pace=True))
    if len(best):
        out.append(_indicator_sentence(run, next(best.itertuples()), lang, pace=False))
    out.append(KeyMessage(results_2025_line(run, sector, lang)))
    out.append(KeyMessage(_coverage(rows, lang)))
    return out


def results_2025_line(run: RunTables, sector: str | None = None, lang: str = "vi") -> str:
    """The one line on the 2025 targets: met, missed, not yet published (with nowcasts), no data."""
    rows = _rows(run, 2025, sector)
    s = rows["status"]
    nowcast = rows[s.isin(_OPEN)]
    likely = int((nowcast["p_meet"].astype(float) >= 0.66).sum())
    parts = [_t("y2025.met", lang, n=int((s == "met").sum())),
             _t("y2025.missed", lang, n=int((s == "missed").sum()))]
    if len(nowcast):
        parts.append(_t("y2025.nowcast", lang, n=len(nowcast), k=likely))
    for status in ("insufficient_data", "no_data"):
        n = int((s == status).sum())
        if n:
            parts.append(_t(f"y2025.{status}", lang, n=n))
    if (s == "qualitative").any():
        parts.append(_t("y2025.qualitative", lang, n=int((s == "qualitative").sum())))
    return _t("y2025", lang, n=len(rows), indicators=_indicators(len(rows)),
              parts="; ".join(parts))


def _coverage(rows: pd.DataFrame, lang: str) -> str:
    quant = rows[rows["status"] != "qualitative"]
    n = len(quant)
    gap = int((quant["n_obs"].fillna(0) <= 0).sum())
    if gap == 0:
        return _t("coverage.full", lang, n=n)
    return _t("coverage", lang, gap=gap, n=n, indicators=_indicators(n),
              have="has" if gap == 1 else "have",
              share=format_percent((n - gap) / n if n else 0.0, lang))


def territory_line(run: RunTables, sector: str | None = None, lang: str = "vi",
                   ids: Collection[str] | None = None) -> str:
    """What territory the data and targets are for, with the merged province's values (of the
    sector's indicators, or of ``ids`` when given: a deep dive names its own)."""
    text = _t("territory", lang)
    merged = merged_place(run.place)
    if merged is None:
        return text
    o = run.observations
    o = o[o["place"] == merged]
    if sector is not None:
        o = o[o["indicator_id"].astype(str).isin({i.id for i in run.catalog.in_sector(sector)})]
    if ids is not None:
        o = o[o["indicator_id"].astype(str).isin(set(ids))]
    values = []
    for r in o.sort_values(["indicator_id", "year"]).itertuples():
        ind = run.catalog.get(str(r.indicator_id))
        d = 0 if float(r.value).is_integer() else 2
        values.append(f"{ind.id} ({int(r.year)}): {format_value(r.value, ind, lang, d)}")
    if values:
        text += _t("territory.merged", lang, values="; ".join(values))
    return text


def territory_html(run: RunTables, sector: str | None = None, lang: str = "vi",
                   ids: Collection[str] | None = None) -> str:
    """The territory line as the escaped paragraph every page shows under its title or key
    messages (``<p class="kh-territory">``)."""
    return f'<p class="kh-territory">{html.escape(territory_line(run, sector, lang, ids))}</p>'


def key_messages_html(run: RunTables, sector: str | None = None, lang: str = "vi",
                      heading: Mapping[str, str] | None = None) -> str:
    """The key messages as an escaped HTML block (``<section class="kh-key">``) with the
    territory line under them; ``heading`` maps ``vi``/``en`` to the block's title."""
    title = (heading or {"vi": "Thông điệp chính", "en": "Key messages"})[check_lang(lang)]
    items = "".join(f'<li data-indicator="{html.escape(m.indicator_id)}">{html.escape(m.text)}'
                    "</li>" for m in key_messages(run, sector, lang))
    return (f'<section class="kh-section kh-key"><h2 id="key-messages">{html.escape(title)}</h2>'
            f'<ul class="kh-key-list">{items}</ul>'
            f"{territory_html(run, sector, lang)}"
            "</section>")

