"""Target kinds: one table of rules, so that adding a kind touches this table only.

Each :class:`KindRule` says, for one kind of target:

- **parse**: how a target text is read as this kind. The plan's own kinds are read by
  :func:`khforecast.plan.targets.parse_target`'s grammar (``< x``, ``a-b``, units, flows); a new
  kind gives a ``parse(text, common, context)`` hook that returns its :class:`Target` or None
  (``common``: the ``year, text, note, direction`` every Target gets; ``context``: the
  indicator's ``unit, observed_as, base_year, start_year``); hooks are tried before that
  grammar, in table order.
- **needs**: the :class:`Target` fields that must be set.
- **observed quantity**: ``years(t)`` the years the test reads and ``quantity(t, paths, first)``
  the per-path number it is about (the target-year level, a sum of flows, a change, a ratio).
- **meets**: ``meets(t, q, r)`` on that quantity ``q`` and ``r``, the same freed of binary noise
  (``Target.rounded``; values are compared exactly as published, never rounded to the target's
  decimals), per path.
- **display**: ``level`` (the test is on the target year's level, so illustrative data and the
  data checks treat it as a level) and ``chart`` (``"line"`` at ``value``, ``"band"`` between
  ``low`` and ``high``, or None: nothing drawn on a chart of levels).
- **planning figures** (:meth:`~khforecast.plan.targets.Target.threshold_level`,
  :meth:`~khforecast.plan.targets.Target.required_annual_change` and the assessment's
  helpers): ``threshold(t, base)`` the target year's level that just meets it (``base``: the
  base year's level when ``base`` is set, the kind being relative to it); ``band(t)`` the
  ``(low, high)`` a level must stay inside when the test is two-sided (no single threshold:
  the needed change is 0 inside, else towards the nearer edge, and no trend "just meets"
  it); ``flows`` when the test is on a sum of yearly flows since ``start_year`` (the needed
  change is the yearly flow still needed; no level trajectory to extrapolate);
  ``no_test_status`` the assessment's status of a kind without a numeric test.

:func:`register_kind` adds a rule (see ``tests/test_target_kinds.py`` for a toy kind, and the
walk-through in docs/architecture.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

__all__ = ["KINDS", "KindRule", "Target", "register_kind", "rule_of"]


class Target(Protocol):
    """What a rule reads of a :class:`khforecast.plan.targets.Target` (a structural type, so
    that this table does not import the module that uses it)."""

    year: int
    kind: str
    value: float | None
    low: float | None
    high: float | None
    base_year: int | None
    start_year: int | None
    direction: int
    strict: bool

    def rounded(self, x: np.ndarray | float) -> np.ndarray: ...


Quantity = Callable[[Target, np.ndarray, int], np.ndarray]
Meets = Callable[[Target, np.ndarray, np.ndarray], np.ndarray]


def _level(t: Target, arr: np.ndarray, first: int) -> np.ndarray:
    return arr[:, t.year - first]


def _only_target_year(t: Target) -> tuple[int, ...]:
    return (t.year,)


def _value(t: Target, base: float | None) -> float | None:
    return float(t.value)  # type: ignore[arg-type]


def _no_band(t: Target) -> tuple[float, float] | None:
    return None


@dataclass(frozen=True)
class KindRule:
    """The rules of one target kind (see the module docstring)."""

    name: str
    needs: tuple[str, ...] = ()
    #: fields of which at least one must be set
    needs_one_of: tuple[str, ...] = ()
    quantitative: bool = True
    level: bool = True
    chart: Literal["line", "band"] | None = None
    years: Callable[[Target], tuple[int, ...]] = _only_target_year
    quantity: Quantity = _level
    meets: Meets | None = None
    parse: Callable[[str, dict[str, Any], dict[str, Any]], Target | None] | None = None
    threshold: Callable[[Target, float | None], float | None] = _value
    base: bool = False
    band: Callable[[Target], tuple[float, float] | None] = _no_band
    flows: bool = False
    no_test_status: str = "qualitative"
    #: ``meets`` on a level is monotone in it (the paths that meet are the highest ones, or the
    #: lowest; ``between`` with direction 0 excepted): the assessment's bisection of the
    #: required change then reads one path per step instead of all
    monotone: bool = False


# --- the plan's kinds ---------------------------------------------------------------------
def _between(t: Target, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    if t.direction == 1:
        return r >= t.low
    if t.direction == -1:
        return r <= t.high
    return (r >= t.low) & (r <= t.high)


def _between_threshold(t: Target, base: float | None) -> float | None:
    if t.direction == 1:
        return t.low
    if t.direction == -1:
        return t.high
    return None  # a band: no single level (see _between_band)


def _between_band(t: Target) -> tuple[float, float] | None:
    return (float(t.low), float(t.high)) if t.direction == 0 else None  # type: ignore[arg-type]


def _cumulative_years(t: Target) -> tuple[int, ...]:
    return tuple(range(int(t.start_year), t.year + 1))  # type: ignore[arg-type]


def _cumulative(t: Target, arr: np.ndarray, first: int) -> np.ndarray:
    return arr[:, int(t.start_year) - first: t.year - first + 1].sum(axis=1)  # type: ignore[arg-type]


def _base_years(t: Target) -> tuple[int, ...]:
    return (int(t.base_year), t.year)  # type: ignore[arg-type]


def _annual_change(t: Target, arr: np.ndarray, first: int) -> np.ndarray:
    base = arr[:, int(t.base_year) - first]  # type: ignore[arg-type]
    return (arr[:, t.year - first] - base) / (t.year - int(t.base_year))  # type: ignore[arg-type]


def _ratio(t: Target, arr: np.ndarray, first: int) -> np.ndarray:
    base = arr[:, int(t.base_year) - first]  # type: ignore[arg-type]
    with np.errstate(divide="ignore", invalid="ignore"):
        return arr[:, t.year - first] / base


def _ratio_threshold(t: Target, base: float | None) -> float | None:
    return float(t.value) * base  # type: ignore[arg-type, operator]


def _binding_rate(t: Target) -> float:
    """The yearly change an ``annual_change`` target binds on (a band's middle for direction 0)."""
    lo, hi = t.low, t.high
    if t.direction == -1:
        return float(hi if hi is not None else lo)  # type: ignore[arg-type]
    if t.direction == 1:
        return float(lo if lo is not None else hi)  # type: ignore[arg-type]
    vals = [v for v in (lo, hi) if v is not None]
    return float(sum(vals) / len(vals))


def _change_threshold(t: Target, base: float | None) -> float | None:
    return base + _binding_rate(t) * (t.year - int(t.base_year))  # type: ignore[arg-type, operator]


def _ratio_meets(t: Target, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    test = q if t.strict else r
    if t.direction == -1:
        return test < t.value if t.strict else test <= t.value
    return test > t.value if t.strict else test >= t.value


def _change_meets(t: Target, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    test = q if t.strict else r
    lo, hi = t.low, t.high
    if t.direction == -1:
        bound = hi if hi is not None else lo
        return test < bound if t.strict else test <= bound
    if t.direction == 1:
        bound = lo if lo is not None else hi
        return test > bound if t.strict else test >= bound
    ok = np.ones(q.shape, dtype=bool)
    if lo is not None:
        ok &= test > lo if t.strict else test >= lo
    if hi is not None:
        ok &= test < hi if t.strict else test <= hi
    return ok


def _no_years(t: Target) -> tuple[int, ...]:
    return ()


#: kind name -> rule; the plan's kinds in the order of ``TargetKind``
KINDS: dict[str, KindRule] = {rule.name: rule for rule in (
    KindRule("lt", ("value",), chart="line", meets=lambda t, q, r: q < t.value, monotone=True),
    KindRule("le", ("value",), chart="line", meets=lambda t, q, r: r <= t.value, monotone=True),
    KindRule("gt", ("value",), chart="line", meets=lambda t, q, r: q > t.value, monotone=True),
    KindRule("ge", ("value",), chart="line", meets=lambda t, q, r: r >= t.value, monotone=True),
    KindRule("eq", ("value",), chart="line", meets=lambda t, q, r: r == t.rounded(t.value)),
    KindRule("between", ("low", "high"), chart="band", meets=_between,
             threshold=_between_threshold, band=_between_band, monotone=True),
    KindRule("maintain", ("value",), chart="line", monotone=True,
             meets=lambda t, q, r: r <= t.value if t.direction == -1 else r >= t.value),
    KindRule("cumulative", ("value", "start_year"), level=False, years=_cumulative_years,
             quantity=_cumulative, meets=lambda t, q, r: r >= t.value, flows=True),
    KindRule("annual_change", ("base_year",), ("low", "high"), level=False, years=_base_years,
             quantity=_annual_change, meets=_change_meets, threshold=_change_threshold,
             base=True),
    KindRule("ratio_to_base", ("value", "base_year"), level=False, years=_base_years,
             quantity=_ratio, meets=_ratio_meets, threshold=_ratio_threshold, base=True),
    KindRule("qualitative", quantitative=False, level=False, years=_no_years),
    KindRule("none", quantitative=False, level=False, years=_no_years,
             no_test_status="no_target"),
)}


def rule_of(kind: str) -> KindRule:
    """The rule of ``kind``; KeyError when no such kind is registered."""
    return KINDS[kind]


def register_kind(rule: KindRule) -> KindRule:
    """Add a kind to the table (its name must be new); returns the rule.

    A quantitative kind needs ``meets``; its ``parse`` hook, if any, is tried before the
    plan's grammar.
    """
    if rule.name in KINDS:
        raise ValueError(f"target kind {rule.name!r} exists already")
    if rule.quantitative and rule.meets is None:
        raise ValueError(f"target kind {rule.name!r}: a quantitative kind needs meets")
    KINDS[rule.name] = rule
    return rule
