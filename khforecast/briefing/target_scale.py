"""Values on their target's scale: what a leader compares with the plan's number.

The plan sets some targets on another quantity than the one observed (DESIGN §2): row 33
observes the poverty LEVEL but targets its yearly fall, row 35 observes an income but targets
its ratio to 2021, row 80 observes yearly completions but targets their sum. A briefing that
prints the observed level next to such a target compares two different numbers. This module
turns the observations into the target's own quantity (:func:`value_on_target_scale`), writes
the target from its structured reading with its unit (:func:`target_label`: ``> 97,5 %``, not
the plan's mistyped ``> 975``), and keeps the plan's literal text as a footnote where the two
differ. Values keep the precision they were published with (HDI ``0,736``, not ``0,7``).
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from khforecast.briefing.i18n import check_lang, format_number, format_target_text, place_name

__all__ = [
    "Footnotes",
    "ScaledValue",
    "TargetLabel",
    "format_value",
    "merged_place",
    "shown_cells",
    "target_label",
    "unit_label",
    "value_decimals",
    "value_on_target_scale",
]

#: the place formed on 1 July 2025 from khanh_hoa and ninh_thuan (DESIGN §2).
_MERGED = "khanh_hoa_merged"
_NOT_FINAL = ("preliminary", "estimate")

#: the catalog's units (as the plan writes them) -> (Vietnamese, English) display unit.
_UNITS: dict[str, tuple[str, str]] = {
    "%": ("%", "%"),
    "%/năm": ("điểm %/năm", "points a year"),
    "Tuổi": ("tuổi", "years"),
    "Năm": ("năm", "years"),
    "Giường": ("giường/10.000 dân", "beds per 10,000 people"),
    "người": ("người/10.000 dân", "per 10,000 people"),
    "Người": ("người/1.000 dân", "per 1,000 people"),
    "Căn hộ": ("căn hộ", "apartments"),
    "m 2  sàn/ người": ("m² sàn/người", "m² per person"),
    "Lần": ("lần", "times"),
    "Bậc học": ("bậc học", "school level"),
    "Mức độ": ("mức độ", "level"),
}

_WORDS: dict[str, tuple[str, str]] = {
    "fall": ("giảm {x}", "a fall of {x}"),
    "rise": ("tăng {x}", "a rise of {x}"),
    "change_years": ("{change} ({v0} năm {y0} → {v1} năm {y1})",
                     "{change} ({v0} in {y0} → {v1} in {y1})"),
    "ratio": ("{x} lần mức năm {base} (năm {year})", "{x} times the {base} level ({year})"),
    "ratio_target": ("≥ {x} lần mức năm {base}", "≥ {x} times the {base} level"),
    "change_target": ("{word} {x} {unit} (từ năm {base})",
                      "{word} of {x} {unit} (from {base})"),
    "fall_word": ("giảm", "a fall"),
    "rise_word": ("tăng", "a rise"),
    "cumulative": ("tổng {x} ({years})", "{x} in total ({years})"),
    "cumulative_target": ("tổng {x} trong {y0}–{y1}", "{x} in total over {y0}–{y1}"),
    "only_years": ("chỉ có số liệu năm {years}", "data for {years} only"),
    "maintain": ("duy trì {x}", "maintain {x}"),
    "preliminary": ("sơ bộ", "preliminary"),
    "plan_text": ("Văn bản kế hoạch: “{text}”", "Plan text: “{text}”"),
}


def _w(key: str, lang: str, **fields: object) -> str:
    return _WORDS[key][0 if check_lang(lang) == "vi" else 1].format(**fields)


def unit_label(ind: Any, lang: str = "vi", *, level: bool = False) -> str:
    """The indicator's unit for display; ``level=True`` gives the observed level's unit
    (``%`` for row 33, whose target unit is points a year)."""
    unit = str(getattr(ind, "unit", "") or "").strip()
    if level and unit == "%/năm":
        unit = "%"
    if not unit:  # the plan leaves some units blank: a percent, or an index such as the HDI
        return "%" if getattr(ind, "unit_en", "") == "percent" else ""
    names = _UNITS.get(unit)
    if names is None:
        return unit if lang == "vi" else str(getattr(ind, "unit_en", "") or unit)
    return names[0 if check_lang(lang) == "vi" else 1]


def _decimals_of(x: float) -> int:
    """Decimals ``x`` was published with (0.736 -> 3, 2.1 -> 1), at most 3."""
    for d in range(4):
        if abs(x * 10**d - round(x * 10**d)) <= 1e-9 * max(1.0, abs(x * 10**d)):
            return d
    return 3


def value_decimals(ind: Any, values: Iterable[float], target: Any = None) -> int:
    """Decimals to show: the most the values were published with, at least the target's and
    at least one for a percent (``2,5 %``, ``0,736``), at most 3."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    floor = int(getattr(target, "decimals", 0) or 0)
    cap = 3
    if unit_label(ind, "en", level=True) == "%":
        floor = max(floor, 1)
        if finite and min(abs(v) for v in finite) >= 10:
            cap = 1  # 26,2 % rather than 26,23 %: a tenth of a point is what a reader compares
    return min(max([floor, *(_decimals_of(v) for v in finite)]), max(cap, floor))


def format_value(x: float | None, ind: Any, lang: str = "vi", decimals: int = 1, *,
                 level: bool = True) -> str:
    """A value with its unit: ``71,0 %``, ``73,9 tuổi``, ``3.023 căn hộ``; ``–`` if missing."""
    number = format_number(x, lang, decimals)
    if number == "–":
        return number
    unit = unit_label(ind, lang, level=level)
    if unit == "%":
        return f"{number} %" if lang == "vi" else f"{number}%"
    return f"{number} {unit}".strip()


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetLabel:
    """A target as shown: its normalised reading with unit, and the plan's text when it differs."""

    text: str
    footnote: str  # empty when the plan's text says the same as ``text``


def _num(x: float | None, lang: str, decimals: int) -> str:
    return format_number(abs(float(x)), lang, decimals) if x is not None else "–"  # type: ignore[arg-type]


def _numbers_in(text: str) -> set[float]:
    """The numbers of a plan text, read the Vietnamese way (``3,5`` = 3.5, ``48.749`` = 48749)."""
    out = set()
    for m in re.findall(r"\d[\d.,]*", text or ""):
        m = m.rstrip(".,")
        m = re.sub(r"\.(?=\d{3}(?!\d))", "", m).replace(",", ".")
        try:
            out.add(round(float(m), 6))
        except ValueError:
            continue
    return out


def target_label(ind: Any, target: Any, lang: str = "vi") -> TargetLabel:
    """The target from its structured reading, with unit; the plan's text as a footnote where
    the numbers differ (row 49 ``> 975`` -> ``> 97,5 %``) or a bare number stands for a
    yearly change, a ratio or a sum (row 33 ``1-1,5``).

    Qualitative targets and targets without a number show the plan's text as written.
    """
    check_lang(lang)
    kind = getattr(target, "kind", "none")
    literal = str(getattr(target, "text", "") or "")
    d = int(getattr(target, "decimals", 0) or 0)
    unit = unit_label(ind, lang)

    def with_unit(number: str) -> str:
        if unit == "%":
            return f"{number} %" if lang == "vi" else f"{number}%"
        return f"{number} {unit}".strip()

    ops = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "="}
    if kind in ops:
        text = f"{ops[kind]} {with_unit(_num(target.value, lang, d))}"
        numbers = {abs(target.value)}
    elif kind == "between":
        text = with_unit(f"{_num(target.low, lang, d)}–{_num(target.high, lang, d)}")
        numbers = {abs(target.low), abs(target.high)}
    elif kind == "maintain":
        text = _w("maintain", lang, x=with_unit(_num(target.value, lang, d)))
        numbers = {abs(target.value)}
    elif kind == "cumulative":
        text = _w("cumulative_target", lang, x=with_unit(_num(target.value, lang, d)),
                  y0=target.start_year, y1=target.year)
        numbers = {abs(target.value)}
    elif kind == "annual_change":
        bounds = sorted(abs(v) for v in (target.low, target.high) if v is not None)
        rate = "–".join(_num(v, lang, max(d, 1) if v % 1 else 0) for v in bounds)
        if len(bounds) == 1:  # one bound: that fall (rise) or more
            rate = f"{'>' if getattr(target, 'strict', False) else '≥'} {rate}"
        sign = min(v for v in (target.low, target.high) if v is not None)
        word = _w("fall_word" if sign < 0 else "rise_word", lang)
        text = _w("change_target", lang, word=word, x=rate, unit=unit, base=target.base_year)
        numbers = set(bounds)
    elif kind == "ratio_to_base":
        text = _w("ratio_target", lang, x=_num(target.value, lang, d), base=target.base_year)
        numbers = {abs(target.value)}
    else:
        return TargetLabel(format_target_text(literal, lang), "")
    numbers = {round(float(n), 6) for n in numbers}
    # the plan's text is kept where its numbers differ from the reading (row 49 '> 975') or
    # where a bare number stands for a change, a ratio or a sum
    differs = (not numbers <= _numbers_in(literal)
               or kind in ("annual_change", "ratio_to_base", "cumulative"))
    note = ""
    if differs:
        note = _w("plan_text", lang, text=literal)
        if lang == "en" and getattr(target, "note", ""):
            note += f". {target.note}"
    return TargetLabel(text, note)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaledValue:
    """The latest observation turned into the target's quantity, ready to show.

    ``value`` is on the target's scale (a yearly change, a ratio, a sum or the level);
    ``place`` is where it was observed (the merged province when the pre-merger one has no
    value); ``not_final`` marks a preliminary or estimated figure.
    """

    value: float
    text: str
    year: int
    place: str
    not_final: bool
    decimals: int


def merged_place(place: str) -> str | None:
    """The province formed on 1 July 2025 that contains ``place`` (or None)."""
    return _MERGED if place in ("khanh_hoa", "ninh_thuan") else None


def _series(observations: pd.DataFrame, ind_id: str, place: str) -> pd.DataFrame:
    o = observations
    rows = o[(o["indicator_id"].astype(str) == str(ind_id)) & (o["place"] == place)]
    return rows.sort_values("year").drop_duplicates("year", keep="last")


def _not_final(rows: pd.DataFrame) -> bool:
    return bool(rows["status"].astype(str).isin(_NOT_FINAL).any()) if "status" in rows else False


def _scaled(value: float, text: str, year: int, place: str, not_final: bool, decimals: int,
            lang: str) -> ScaledValue:
    """A :class:`ScaledValue`, its text marked when a figure it uses is not final."""
    if not_final:
        text += f" ({_w('preliminary', lang)})"
    return ScaledValue(value, text, year, place, not_final, decimals)


def value_on_target_scale(ind: Any, target: Any, observations: pd.DataFrame, place: str,
                          lang: str = "vi") -> ScaledValue | None:
    """The latest observed value of ``ind`` on ``target``'s scale, or None without data.

    - ``annual_change``: the average yearly change from the base year to the last year
      observed (row 33: ``giảm 1,09 điểm %/năm (3,20 % năm 2022 → 2,11 % năm 2023)``);
    - ``ratio_to_base``: the last value over the base year's (row 35: ``2,19 lần``);
    - ``cumulative``: the sum of the yearly flows observed since the start year, saying which
      years the data hold; from the merged province when ``place`` has none (row 80);
    - otherwise the last level, with the decimals it was published with.

    A change or ratio needs the base year observed; without it None is returned.
    """
    check_lang(lang)
    kind = getattr(target, "kind", "none")
    rows = _series(observations, ind.id, place)
    if rows.empty and kind == "cumulative" and merged_place(place):
        place = merged_place(place)  # type: ignore[assignment]
        rows = _series(observations, ind.id, place)
    if rows.empty:
        return None
    values = rows.set_index("year")["value"].astype(float)
    last_year = int(values.index.max())
    last = float(values[last_year])
    if kind == "annual_change" and target.base_year is not None:
        base_year = int(target.base_year)
        if base_year not in values.index or last_year <= base_year:
            return None
        used = rows[rows["year"].isin((base_year, last_year))]
        d_level = value_decimals(ind, [values[base_year], last])
        change = (last - float(values[base_year])) / (last_year - base_year)
        d = max(d_level, 1)
        word = "fall" if change < 0 else "rise"
        number = f"{format_number(abs(change), lang, d)} {unit_label(ind, lang)}"
        text = _w("change_years", lang, change=_w(word, lang, x=number),
                  v0=format_value(values[base_year], ind, lang, d_level),
                  y0=base_year, v1=format_value(last, ind, lang, d_level), y1=last_year)
        return _scaled(change, text, last_year, place, _not_final(used), d, lang)
    if kind == "ratio_to_base" and target.base_year is not None:
        base_year = int(target.base_year)
        base = float(values.get(base_year, np.nan))
        if not math.isfinite(base) or base == 0 or last_year <= base_year:
            return None
        used = rows[rows["year"].isin((base_year, last_year))]
        ratio = last / base
        text = _w("ratio", lang, x=format_number(ratio, lang, 2), base=base_year, year=last_year)
        return _scaled(ratio, text, last_year, place, _not_final(used), 2, lang)
    if kind == "cumulative" and target.start_year is not None:
        used = rows[(rows["year"] >= int(target.start_year)) & (rows["year"] <= target.year)]
        if used.empty:
            return None
        total = float(used["value"].sum())
        years = [int(y) for y in used["year"]]
        span = list(range(int(target.start_year), last_year + 1))
        listed = ", ".join(map(str, years))
        covered = listed if years == span else _w("only_years", lang, years=listed)
        d = value_decimals(ind, used["value"], target)
        text = _w("cumulative", lang, x=format_value(total, ind, lang, d, level=False),
                  years=covered)
        if place == _MERGED:
            text += f"; {place_name(place, lang)}"
        return _scaled(total, text, last_year, place, _not_final(used), d, lang)
    d = value_decimals(ind, [last], target)
    not_final = _not_final(rows.tail(1))
    mark = f", {_w('preliminary', lang)}" if not_final else ""
    text = f"{format_value(last, ind, lang, d)} ({last_year}{mark})"
    return ScaledValue(last, text, last_year, place, not_final, d)


# --------------------------------------------------------------------------------------------
class Footnotes:
    """Numbered footnotes of one table: the plan's literal target texts, each text once."""

    def __init__(self) -> None:
        self._texts: list[str] = []

    def mark(self, text: str) -> str:
        """The footnote number of ``text`` as an escaped ``<sup>`` ('' for an empty text)."""
        if not text:
            return ""
        if text not in self._texts:
            self._texts.append(text)
        return f'<sup class="kh-fn">{self._texts.index(text) + 1}</sup>'

    def html(self) -> str:
        """The footnotes as an ordered list under the table ('' when there are none)."""
        if not self._texts:
            return ""
        items = "".join(f"<li>{html.escape(x)}</li>" for x in self._texts)
        return f'<ol class="kh-footnote">{items}</ol>'


def shown_cells(run: Any, ind_id: str, year: int, lang: str, notes: Footnotes,
                fallback: float | None = None) -> tuple[str, str]:
    """The escaped HTML of a table's value and target cells for ``ind_id``'s ``year`` target:
    the value on the target's scale (``fallback`` level when there is none) and the target as
    read, with a footnote mark carrying the plan's text where the two differ."""
    ind = run.catalog.get(ind_id)
    target = ind.targets.get(year)
    shown = (value_on_target_scale(ind, target, run.observations, run.place, lang)
             if target is not None else None)
    if shown is not None:
        value = html.escape(shown.text)
    elif fallback is not None and not pd.isna(fallback):
        value = html.escape(format_value(fallback, ind, lang, value_decimals(ind, [fallback])))
    else:
        value = "–"
    if target is None:
        return value, "–"
    label = target_label(ind, target, lang)
    return value, html.escape(label.text) + notes.mark(label.footnote)
