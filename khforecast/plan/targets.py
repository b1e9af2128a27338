"""Read the plan's target texts and decide, path by path, whether a simulated future meets them.

The plan (8839/KH-UBND, Appendix I) writes its targets in Vietnamese number format (``,`` is the
decimal mark, ``.`` groups thousands): ``< 3,8``, ``> 60``, ``30-35``, ``100  (duy trì)``,
``48.749``, ``Giải quyết cơ bản``, ``-``. :func:`parse_target` turns such a text into a
:class:`Target`; :meth:`Target.meets` evaluates it on an array of simulated paths.

Precision rule
--------------
A value is compared with the target exactly as the data publish it, never rounded to the
target's decimals: observed values as given, simulated ones at the precision of the series'
own observations (the engine, :mod:`khforecast.engine.predictive`, draws at that precision). So 99.6
does not meet ``100`` and 1.5 social workers per 1,000 do not meet ``≥ 2``, while a draw of
99.96 from a series published with one decimal is the published value 100.0 and meets it.
``≥`` includes the bound and ``>`` excludes it, so ``≥`` is never looser than ``>`` by more
than the bound itself (and ``≤`` than ``<``). ``decimals`` only says how the target is shown.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from khforecast.errors import TargetParseError
from khforecast.plan.kinds import KINDS

__all__ = [
    "DOMAIN_RANGE",
    "clip_to_domain",
    "Domain",
    "DOMAINS",
    "TARGET_KINDS",
    "Target",
    "parse_target",
    "parse_vn_number",
]

#: the value domain of an indicator: a share in [0, 100], a positive amount, any real number
Domain = Literal["percent", "positive", "real"]
DOMAINS: tuple[str, ...] = get_args(Domain)
#: the values each domain can hold
DOMAIN_RANGE: dict[str, tuple[float, float]] = {"percent": (0.0, 100.0), "positive": (0.0, np.inf),
                                                "real": (-np.inf, np.inf)}


def clip_to_domain(x: np.ndarray, domain: str) -> np.ndarray:
    """``x`` held inside ``domain``'s range (paths moved by a scenario or a planning shift)."""
    if domain == "percent":
        return np.clip(x, 0.0, 100.0)
    if domain == "positive":
        return np.maximum(x, 0.0)
    return x
TARGET_KINDS: tuple[str, ...] = tuple(KINDS)  # the plan's kinds (the table may gain more)

# units whose targets are a yearly change of the level ("Mức giảm ... hàng năm": %/năm)
_PER_YEAR_UNITS = ("%/năm",)
# units whose targets are a ratio to a base year ("Lần" = times)
_RATIO_UNITS = ("lần",)


@dataclass(frozen=True)
class Target:
    """One target of the plan (an indicator in 2025 or 2030): raw text and structured reading.

    ``low``/``high`` are signed for ``annual_change`` (a fall is negative). ``direction`` is the
    indicator's (+1 higher is better, -1 lower is better, 0 a band); it decides which side of a
    range also counts as meeting. ``strict`` marks an ``annual_change``/``ratio_to_base`` bound
    written with ``>`` or ``<``.
    """

    year: int
    text: str
    kind: str  # a name in plan.kinds.KINDS (checked below)
    value: float | None = None
    low: float | None = None
    high: float | None = None
    base_year: int | None = None
    start_year: int | None = None
    decimals: int = 0
    note: str = ""
    direction: int = 1
    strict: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TargetParseError(f"target {self.text!r} ({self.year}): unknown kind "
                                   f"{self.kind!r}; expected one of {', '.join(KINDS)}")
        rule = KINDS[self.kind]
        missing = [f for f in rule.needs if getattr(self, f) is None]
        if rule.needs_one_of and all(getattr(self, f) is None for f in rule.needs_one_of):
            missing.append(" or ".join(rule.needs_one_of))
        if missing:
            raise TargetParseError(f"target {self.text!r} ({self.year}), kind {self.kind}: "
                                   f"missing {', '.join(missing)}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise TargetParseError(f"target {self.text!r} ({self.year}): low {self.low:g} is "
                                   f"above high {self.high:g}")
        if self.direction not in (1, -1, 0):
            raise TargetParseError(f"target {self.text!r} ({self.year}): direction must be "
                                   f"1, -1 or 0, got {self.direction!r}")

    # ------------------------------------------------------------------------------------
    @property
    def is_quantitative(self) -> bool:
        """True when the target has a numeric test (every kind except qualitative and none)."""
        return KINDS[self.kind].quantitative

    @property
    def needed_years(self) -> tuple[int, ...]:
        """The years whose values :meth:`meets` reads (empty for qualitative/none targets)."""
        return KINDS[self.kind].years(self) if self.is_quantitative else ()

    def rounded(self, x: np.ndarray | float) -> np.ndarray:
        """``x`` freed of binary noise (2.9999999999 -> 3), nothing more: comparisons are exact."""
        return np.round(np.float64(x) if np.isscalar(x) else np.asarray(x, dtype=float), 9)

    def to_dict(self) -> dict[str, Any]:
        """The target as a plain dict (JSON-ready)."""
        return asdict(self)

    # ------------------------------------------------------------------------------------
    def quantity(self, paths: np.ndarray, years: np.ndarray) -> np.ndarray:
        """The per-path number the target is about (target-year value, sum, change or ratio).

        Parameters
        ----------
        paths : ndarray (n_paths, n_years)
            Simulated values, observed years included as constant columns.
        years : ndarray (n_years,)
            Ascending consecutive calendar years of the columns.

        Returns
        -------
        ndarray (n_paths,)
            ``cumulative``: the sum of the yearly flows from ``start_year`` to ``year``;
            ``annual_change``: the average yearly change from ``base_year`` to ``year``;
            ``ratio_to_base``: value(``year``) / value(``base_year``); else value(``year``).

        Raises
        ------
        ValueError
            For a qualitative/none target, a malformed array, or when a year the target needs
            is not among ``years``.
        """
        if not self.is_quantitative:
            raise ValueError(f"target {self.text!r} ({self.year}) is {self.kind}: it has no "
                             "numeric test")
        arr = np.asarray(paths, dtype=float)
        yrs = np.asarray(years)
        if arr.ndim != 2 or yrs.ndim != 1 or arr.shape[1] != yrs.shape[0]:
            raise ValueError(f"paths must be (n_paths, n_years) with n_years == len(years); got "
                             f"paths {arr.shape} and years {yrs.shape}")
        if yrs.size and not np.array_equal(yrs, np.arange(yrs[0], yrs[0] + yrs.size)):
            raise ValueError(f"years must be ascending consecutive integers; got {yrs.tolist()}")
        first = int(yrs[0]) if yrs.size else 0
        missing = [y for y in self.needed_years if not (yrs.size and first <= y <= int(yrs[-1]))]
        if missing:
            span = f"{first}-{int(yrs[-1])}" if yrs.size else "none"
            raise ValueError(f"target {self.text!r} ({self.year}, {self.kind}) needs years "
                             f"{missing[0]}..{missing[-1]} but the paths cover {span}")
        return KINDS[self.kind].quantity(self, arr, first)

    def meets(self, paths: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Whether each simulated path meets the target; bool array (n_paths,).

        The test is on :meth:`quantity` with the module's precision rule: the values are
        compared exactly as given (the engine's draws are at the data's published precision),
        never rounded to the target's decimals; ``<``/``>`` exclude the bound, ``<=``/``>=``
        include it (only a 1e-9 relative slack absorbs binary noise such as 2.9999999999):

        - ``lt``/``gt``: strictly below/above ``value``; ``le``/``ge``/``eq``: at most / at
          least / equal to ``value``.
        - ``maintain``: the target-year value is at (or on the good side of) the maintained
          level; only the target year is judged, not every year before it.
        - ``between`` (inclusive): direction 0 needs ``low <= q <= high``; for direction +1 a
          value above the range also meets (the range's floor is the commitment), for -1 a
          value below it.
        - ``cumulative``: the sum of yearly flows ``start_year..year`` reaches ``value``.
        - ``annual_change``: the average yearly change from ``base_year`` lies in
          ``[low, high]`` or beyond it in the good direction: for a fall (direction -1) the
          test is ``q <= high`` (e.g. ``1-1,5`` points a year is met by any fall of at least
          1 point a year), for a rise ``q >= low``; direction 0 needs the range.
        - ``ratio_to_base``: value(year)/value(base_year) at least ``value`` (direction -1: at
          most).

        A path holding NaN in a needed year does not meet the target.

        Raises
        ------
        ValueError
            As :meth:`quantity`.
        """
        q = self.quantity(paths, years)
        with np.errstate(invalid="ignore"):
            return KINDS[self.kind].meets(self, q, self.rounded(q))  # type: ignore[misc]

    def prob_met(self, paths: np.ndarray, years: np.ndarray) -> float:
        """The share of paths that meet the target (the mean of :meth:`meets`)."""
        met = self.meets(paths, years)
        if met.size == 0:
            raise ValueError("prob_met needs at least one path")
        return float(met.mean())

    def threshold_level(self, base_value: float | None = None) -> float | None:
        """The LEVEL in ``year`` that just meets the target (None for qualitative/none).

        For ``annual_change``/``ratio_to_base`` this needs the base-year level (an
        ``annual_change`` band with direction 0 aims at the middle of its range), for
        ``cumulative`` it is the total of the flows; a ``between`` band with direction 0 has
        no single level (None).
        """
        if not self.is_quantitative:
            return None
        rule = KINDS[self.kind]
        if rule.base and (base_value is None or not math.isfinite(base_value)):
            return None
        return rule.threshold(self, base_value if rule.base else None)

    def required_annual_change(self, last_year: int, last_value: float,
                               history: pd.Series) -> float | None:
        """Yearly change of the level (the yearly flow for ``cumulative``) needed to just meet it.

        From the last observation (``last_year``, ``last_value``) to ``self.year``: e.g. a
        ``ge 45`` target with 41 observed in 2023 needs +2.0 a year to 2025. A negative figure
        for a ``ge`` target means room to fall and still meet. ``cumulative`` returns the
        average yearly flow still needed, from the flows in ``history`` (indexed by year) since
        ``start_year``; ``annual_change``/``ratio_to_base`` read the base-year level from
        ``history``. ``between`` with direction 0 returns 0.0 inside the band, else the change
        to its nearer edge.

        Returns
        -------
        float or None
            None for qualitative/none targets, when the target year is not after
            ``last_year``, or when ``history`` lacks the base year / a year since
            ``start_year``.
        """
        if not self.is_quantitative or self.year <= last_year:
            return None
        n = self.year - last_year
        hist = pd.Series(history, dtype=float)
        hist.index = [int(i) for i in hist.index]
        rule = KINDS[self.kind]
        if rule.flows:
            span = range(int(self.start_year), last_year + 1)  # type: ignore[arg-type]
            if any(y not in hist.index or not math.isfinite(hist[y]) for y in span):
                return None
            done = float(sum(hist[y] for y in span))
            return (float(self.value) - done) / n  # type: ignore[arg-type]
        base = None
        if rule.base:
            by = int(self.base_year)  # type: ignore[arg-type]
            if by == last_year:
                base = float(last_value)
            elif by in hist.index and math.isfinite(hist[by]):
                base = float(hist[by])
            else:
                return None
        band = rule.band(self)
        if band is not None:
            low, high = band
            if low <= last_value <= high:
                return 0.0
            return ((low if last_value < low else high) - last_value) / n
        level = self.threshold_level(base)
        if level is None:
            return None
        return (level - float(last_value)) / n


# --------------------------------------------------------------------------------------------
_NUM = r"\d[\d.,]*"


def parse_vn_number(text: str) -> tuple[float, int]:
    """Read a number in the plan's format: ``3,5`` = 3.5, ``48.749`` = 48749.

    Returns
    -------
    (value, decimals)
        ``decimals`` counts the digits after the decimal comma.

    Raises
    ------
    TargetParseError
        When the text is not such a number, or a ``.`` does not group exactly three digits
        (``1.5`` is ambiguous in this format).

    Examples
    --------
    >>> parse_vn_number("3,8")
    (3.8, 1)
    >>> parse_vn_number("48.749")
    (48749.0, 0)
    """
    s = text.strip()
    m = re.fullmatch(r"(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?", s)
    if not m:
        raise TargetParseError(f"cannot read {text!r} as a number in the plan's format "
                               "(',' decimal mark, '.' groups thousands, e.g. '3,5' or '48.749')")
    whole = m.group(1).replace(".", "")
    frac = m.group(2) or ""
    value = float(f"{whole}.{frac}" if frac else whole)
    return value, len(frac)


def _has_digit(s: str) -> bool:
    return any(ch.isdigit() for ch in s)


def parse_target(text: str, year: int, *, unit: str | None = None, direction: int | None = None,
                 observed_as: str | None = None, base_year: int | None = None,
                 start_year: int | None = None, note: str = "") -> Target:
    """Read one of the plan's target texts as a :class:`Target`.

    Readings (numbers in Vietnamese format, see :func:`parse_vn_number`):

    - ``-`` or empty: ``none``; text without digits (``Giải quyết cơ bản``, ``THCS``):
      ``qualitative``.
    - ``< x``, ``<= x``/``≤ x``, ``> x``, ``>= x``/``≥ x``, ``= x``: ``lt``, ``le``, ``gt``,
      ``ge``, ``eq``.
    - ``a-b``: ``between`` (inclusive).
    - ``x (duy trì)`` ("maintain") and ``x (hiện nay đã đạt)`` ("already reached"):
      ``maintain``.
    - a plain number ``x``: what the plan asks is to reach it, so ``ge`` for direction +1,
      ``le`` for direction -1, ``eq`` for direction 0 (or no direction given).
    - unit ``%/năm`` (a yearly change): ``annual_change`` from ``base_year``, signed by the
      direction (for direction -1 the text is the size of a fall: ``1-1,5`` ->
      low -1.5, high -1.0; ``> 7`` -> high -7, strict).
    - unit ``Lần`` (times): ``ratio_to_base`` with ``base_year``.
    - ``observed_as="flow"``: ``cumulative`` from ``start_year`` (yearly flows summed).

    Parameters
    ----------
    text : str
        The plan's text as written.
    year : int
        The target year (2025 or 2030).
    unit, direction, observed_as, base_year, start_year
        The indicator's unit, direction (+1/-1/0), ``"level"``/``"flow"``, and the base or
        start year these kinds need.
    note : str
        Stored on the target (the reading chosen where the text is ambiguous).

    Raises
    ------
    TargetParseError
        When the text cannot be read (the message quotes it), or a kind lacks the base or
        start year it needs.

    Examples
    --------
    >>> parse_target("< 3,8", 2025, unit="%", direction=-1).kind
    'lt'
    >>> t = parse_target("1-1,5", 2025, unit="%/năm", direction=-1, base_year=2022)
    >>> (t.kind, t.low, t.high)
    ('annual_change', -1.5, -1.0)
    """
    raw = text
    s = " ".join(str(text).split())
    dirn = 0 if direction is None else int(direction)
    common: dict[str, Any] = {"year": int(year), "text": raw, "note": note, "direction": dirn}
    context = {"unit": unit, "observed_as": observed_as, "base_year": base_year,
               "start_year": start_year}
    for rule in list(KINDS.values()):  # kinds added to the table read their texts first
        if rule.parse is not None and (found := rule.parse(s, dict(common), context)) is not None:
            return found
    if s in ("", "-", "–", "—"):
        return Target(kind="none", **common)
    if not _has_digit(s):
        return Target(kind="qualitative", **common)

    maintain = False
    m = re.fullmatch(r"(.*?)\s*\((duy trì|hiện nay đã đạt)\)", s, flags=re.IGNORECASE)
    if m:
        maintain, s = True, m.group(1).strip()

    op = ""
    m = re.fullmatch(r"(<=|>=|≤|≥|<|>|=)\s*(.+)", s)
    if m:
        op, s = m.group(1), m.group(2).strip()
    op = {"≤": "<=", "≥": ">="}.get(op, op)

    def num(part: str) -> tuple[float, int]:
        try:
            return parse_vn_number(part)
        except TargetParseError as exc:
            raise TargetParseError(f"cannot read target {raw!r} ({year}): {exc}") from None

    rng = re.fullmatch(rf"({_NUM})\s*[-–]\s*({_NUM})", s)
    x: float | None = None
    if rng:
        (lo, d1), (hi, d2) = num(rng.group(1)), num(rng.group(2))
        decimals = max(d1, d2)
        if lo > hi:
            raise TargetParseError(f"target {raw!r} ({year}): the range's low end {lo:g} is "
                                   f"above its high end {hi:g}")
        if op or maintain:
            raise TargetParseError(f"cannot read target {raw!r} ({year}): a range with an "
                                   "operator or '(duy trì)'")
    else:
        x, decimals = num(s)
    common["decimals"] = decimals

    unit_l = (unit or "").strip().lower()
    if unit_l in _PER_YEAR_UNITS:
        if base_year is None:
            raise TargetParseError(f"target {raw!r} ({year}) is a yearly change (unit {unit!r}) "
                                   "and needs base_year")
        sign = -1.0 if dirn == -1 else 1.0
        if rng:
            a, b = sorted((sign * lo, sign * hi))
            return Target(kind="annual_change", low=a, high=b, base_year=base_year, **common)
        # a single number is the size of the change to reach (or, with '>', to exceed)
        assert x is not None
        if op not in ("", ">", ">="):
            raise TargetParseError(f"cannot read target {raw!r} ({year}) as a yearly change: "
                                   "only 'x', '> x', '>= x' and 'a-b' are supported")
        if dirn == 0:
            if op:
                raise TargetParseError(f"target {raw!r} ({year}): a yearly change with "
                                       f"'{op}' needs the indicator's direction (+1 or -1)")
            return Target(kind="annual_change", low=x, high=x, base_year=base_year, **common)
        bound = sign * x
        low, high = (None, bound) if dirn == -1 else (bound, None)
        return Target(kind="annual_change", low=low, high=high, base_year=base_year,
                      strict=op == ">", **common)
    if rng:
        return Target(kind="between", low=lo, high=hi, **common)
    assert x is not None
    if unit_l in _RATIO_UNITS:
        if base_year is None:
            raise TargetParseError(f"target {raw!r} ({year}) is a ratio to a base year "
                                   f"(unit {unit!r}) and needs base_year")
        if op in ("<", "<=", "="):
            raise TargetParseError(f"cannot read target {raw!r} ({year}) as a ratio to the "
                                   "base year: only 'x', '> x' and '>= x' are supported")
        return Target(kind="ratio_to_base", value=x, base_year=base_year, strict=op == ">",
                      **common)
    if observed_as == "flow":
        if start_year is None:
            raise TargetParseError(f"target {raw!r} ({year}) is cumulative (a yearly flow "
                                   "summed) and needs start_year")
        if op not in ("", ">=", "="):
            raise TargetParseError(f"cannot read target {raw!r} ({year}) as a cumulative "
                                   "total: only 'x' and '>= x' are supported")
        return Target(kind="cumulative", value=x, start_year=start_year, **common)
    if maintain:
        if op:
            raise TargetParseError(f"cannot read target {raw!r} ({year}): an operator with "
                                   "'(duy trì)'")
        return Target(kind="maintain", value=x, **common)
    kind = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "=": "eq"}.get(op)
    if kind is None:
        kind = {1: "ge", -1: "le"}.get(dirn, "eq")
    return Target(kind=kind, value=x, **common)  # type: ignore[arg-type]
