"""How pages name agencies: as the plan writes them in Vietnamese, glossed in English on English
pages (``Department of Home Affairs (Sở Nội vụ)``), with "now ..." where the body changed in 2025.

The English names come from the catalog (``agencies.yaml``: each agency's ``name_en`` and the
``current_bodies`` formed in 2025); the rule of who leads a row now is
:func:`khforecast.plan.departments.leads_of`.
"""
from __future__ import annotations

from typing import Any

from khforecast.briefing.i18n import check_lang, t
from khforecast.plan.departments import lead_text, leads_of

__all__ = ["agency_label", "lead_label"]

#: how the successor follows a lead's name: in parentheses in Vietnamese; after a dash in English,
#: whose names carry the Vietnamese one in parentheses already (no parentheses nest)
_NOW = {"vi": " ({})", "en": " – {}"}


def agency_label(catalog: Any, name: str, lang: str = "vi") -> str:
    """An agency's name on a page of ``lang``: the Vietnamese name, or ``English (Vietnamese)``.

    >>> from khforecast.plan.catalog import load_catalog
    >>> agency_label(load_catalog(), "Sở Nội vụ", "en")
    'Department of Home Affairs (Sở Nội vụ)'
    """
    if check_lang(lang) == "vi":
        return name
    return f"{catalog.agency_name_en(name)} ({name})"


def lead_label(catalog: Any, item: Any, lang: str = "vi") -> str:
    """The lead(s) of an indicator or task by the one name rule, each followed by its own
    successor where it changed (``Sở LĐTB&XH (nay là Sở Nội vụ)``; in English ``Department of
    Labour, Invalids and Social Affairs (Sở LĐTB&XH) – now Department of Home Affairs (Sở Nội
    vụ)``)."""
    sep = _NOW[check_lang(lang)]
    return lead_text(leads_of(catalog, item),
                     now=lambda n: sep.format(t("msg.successor", lang, name=n)),
                     name=lambda n: agency_label(catalog, n, lang))
