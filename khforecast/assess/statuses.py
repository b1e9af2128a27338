"""The assessment's statuses, defined once: their values, display order, headline and rule.

``p_meet`` gives ``on_track`` / ``at_risk`` / ``off_track`` through :func:`status_of`; observed
targets are ``met`` / ``missed``; the others say why no probability is given.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["HEADLINE_STATUSES", "STATUSES", "STATUS_ORDER", "THRESHOLDS", "headline",
           "status_of"]

#: every value of assessment.csv's ``status`` column
STATUSES: Final = ("met", "missed", "on_track", "at_risk", "off_track", "no_data",
                   "insufficient_data", "qualitative", "no_target")
#: the statuses in the order charts, tables and headlines show them (``no_target``, a year the
#: plan sets no target for, is never shown or counted)
STATUS_ORDER: Final = ("met", "on_track", "at_risk", "off_track", "missed", "insufficient_data",
                       "no_data", "qualitative")
#: the statuses a headline always shows (others only when some indicator has them)
HEADLINE_STATUSES: Final = ("met", "on_track", "at_risk", "off_track", "no_data")
#: default ``p_meet`` thresholds: on track from the first, at risk from the second
THRESHOLDS: Final = (0.8, 0.5)


def status_of(p_meet: float, thresholds: Sequence[float] = THRESHOLDS) -> str:
    """``on_track`` when p >= thresholds[0], ``at_risk`` when p >= thresholds[1], else ``off_track``."""
    hi, lo = thresholds
    if p_meet >= hi:
        return "on_track"
    if p_meet >= lo:
        return "at_risk"
    return "off_track"


def headline(statuses: Iterable[str]) -> dict[str, int]:
    """Counts of ``statuses`` in :data:`STATUS_ORDER`: every headline status, others if present.

    >>> headline(["met", "qualitative", "no_target", "met"])
    {'met': 2, 'on_track': 0, 'at_risk': 0, 'off_track': 0, 'no_data': 0, 'qualitative': 1}
    """
    seen = list(statuses)
    counts = {s: seen.count(s) for s in STATUS_ORDER}
    return {s: n for s, n in counts.items() if s in HEADLINE_STATUSES or n}
