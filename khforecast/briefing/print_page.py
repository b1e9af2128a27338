"""A4 print of a briefing: the running header (plan, page title, run date) and page numbers.

The page's CSS (``templates/khforecast.css``) sets the A4 page, its margins and where the annex
starts; the words of the running header depend on the page, so :func:`print_style` writes them
as a small ``<style>`` block of CSS page-margin boxes (``@top-left``, ``@top-right``,
``@bottom-right``), which headless Chromium prints on every page (``Trang 2/5``). Every text
is escaped for a CSS string, so nothing from the data can close the block.
"""
from __future__ import annotations

import datetime as _dt
import html
import re

from khforecast.briefing.i18n import check_lang

__all__ = ["annex_start", "format_date", "print_style"]

_PAGE = {"vi": ('"Trang " counter(page) "/" counter(pages)',
                'counter(page) " / " counter(pages)'),
         "en": ('"Page " counter(page) " of " counter(pages)',
                'counter(page) " / " counter(pages)')}
_PLAN = {"vi": "Kế hoạch 8839/KH-UBND", "en": "Plan 8839/KH-UBND"}
_RUN = {"vi": "Lần chạy ngày {date}", "en": "Run of {date}"}
_ANNEX = {"vi": ("Phụ lục: chi tiết", "Các bảng và biểu đồ dưới đây là cơ sở của các thông điệp "
                                      "trên."),
          "en": ("Annex: details", "The tables and charts below are what the messages above "
                                   "rest on.")}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def format_date(date: _dt.date | str, lang: str = "vi") -> str:
    """A date the language's way: ``30/06/2026`` (vi), ``30 June 2026`` (en).

    >>> format_date("2026-06-30", "vi"), format_date("2026-06-30", "en")
    ('30/06/2026', '30 June 2026')
    """
    check_lang(lang)
    d = _dt.date.fromisoformat(date) if isinstance(date, str) else date
    return f"{d:%d/%m/%Y}" if lang == "vi" else f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal: quotes, backslashes, newlines and ``<`` escaped."""
    out = re.sub(r'[\\"<>\n\r]', lambda m: f"\\{ord(m.group(0)):x} ", text)
    return f'"{out}"'


def print_style(title: str, date: _dt.date | str, lang: str = "vi") -> str:
    """The ``<style>`` block of a page's running header and page numbers for A4 print.

    >>> "@top-left" in print_style("Lĩnh vực II", "2026-06-30")
    True
    """
    check_lang(lang)
    header = f"{_PLAN[lang]} · {title}"
    if len(header) > 95:
        header = header[:94] + "…"
    run = _RUN[lang].format(date=format_date(date, lang))
    return ('<style type="text/css" class="kh-print-style">@page { '
            f"@top-left {{ content: {_css_string(header)}; }} "
            f"@top-right {{ content: {_css_string(run)}; }} "
            f"@bottom-right {{ content: {_PAGE[lang][0]}; }} }}</style>")


def annex_start(lang: str = "vi") -> str:
    """The annex's opening block; in print the annex starts on a new page after the brief."""
    title, lead = _ANNEX[check_lang(lang)]
    return (f'<div class="kh-annex-start"><p class="kh-annex-title" id="annex">'
            f"{html.escape(title)}</p><p>{html.escape(lead)}</p></div>")
