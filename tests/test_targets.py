"""Reading the plan's target texts, and the meets/prob_met semantics of every kind."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from khforecast.errors import TargetParseError
from khforecast.plan.targets import Target, parse_target, parse_vn_number

N = None


# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("3,5", (3.5, 1)),
    ("0,7", (0.7, 1)),
    ("48.749", (48749.0, 0)),
    ("1.234.567", (1234567.0, 0)),
    ("1.234,5", (1234.5, 1)),
    ("100", (100.0, 0)),
    ("99,50", (99.5, 2)),
])
def test_parse_vn_number(text, expected):
    assert parse_vn_number(text) == expected


@pytest.mark.parametrize("text", ["1.5", "3,5,1", "12.34", "abc", "", "3.5"])
def test_parse_vn_number_rejects_ambiguous_or_foreign(text):
    with pytest.raises(TargetParseError, match="plan's format"):
        parse_vn_number(text)


# text, kwargs -> kind, value, low, high, decimals, strict
@pytest.mark.parametrize("text, kw, expected", [
    ("< 3", dict(direction=-1), ("lt", 3, N, N, 0, False)),
    ("< 3,8", dict(direction=-1), ("lt", 3.8, N, N, 1, False)),
    ("> 60", dict(direction=1), ("gt", 60, N, N, 0, False)),
    (">90", dict(direction=1), ("gt", 90, N, N, 0, False)),
    (">= 2", dict(direction=1), ("ge", 2, N, N, 0, False)),
    ("≥ 2", dict(direction=1), ("ge", 2, N, N, 0, False)),
    ("<= 5", dict(direction=-1), ("le", 5, N, N, 0, False)),
    ("≤ 5", dict(direction=-1), ("le", 5, N, N, 0, False)),
    ("= 4", dict(direction=0), ("eq", 4, N, N, 0, False)),
    ("> 0,7", dict(direction=1), ("gt", 0.7, N, N, 1, False)),
    # a plain number: reach it; which side depends on the direction
    ("45", dict(direction=1), ("ge", 45, N, N, 0, False)),
    ("25", dict(direction=-1), ("le", 25, N, N, 0, False)),
    ("2,1", dict(direction=0), ("eq", 2.1, N, N, 1, False)),
    ("2,1", {}, ("eq", 2.1, N, N, 1, False)),
    ("30-35", dict(direction=1), ("between", N, 30, 35, 0, False)),
    ("95 - 97", dict(direction=1), ("between", N, 95, 97, 0, False)),
    ("100  (duy trì)", dict(direction=1), ("maintain", 100, N, N, 0, False)),
    ("100  (hiện nay đã đạt)", dict(direction=1), ("maintain", 100, N, N, 0, False)),
    ("48.749", dict(direction=1, observed_as="flow", start_year=2021),
     ("cumulative", 48749, N, N, 0, False)),
    ("1-1,5", dict(unit="%/năm", direction=-1, base_year=2022),
     ("annual_change", N, -1.5, -1.0, 1, False)),
    ("> 7", dict(unit="%/năm", direction=-1, base_year=2022),
     ("annual_change", N, N, -7, 0, True)),
    ("4-5", dict(unit="%/năm", direction=-1, base_year=2022),
     ("annual_change", N, -5, -4, 0, False)),
    ("2", dict(unit="%/năm", direction=1, base_year=2020), ("annual_change", N, 2, N, 0, False)),
    ("2", dict(unit="Lần", direction=1, base_year=2021), ("ratio_to_base", 2, N, N, 0, False)),
    ("> 1,5", dict(unit="Lần", direction=1, base_year=2021),
     ("ratio_to_base", 1.5, N, N, 1, True)),
    ("Giải quyết cơ bản", {}, ("qualitative", N, N, N, 0, False)),
    ("Tiểu  học", {}, ("qualitative", N, N, N, 0, False)),
    ("-", {}, ("none", N, N, N, 0, False)),
    ("", {}, ("none", N, N, N, 0, False)),
])
def test_parse_target_readings(text, kw, expected):
    t = parse_target(text, 2030, **kw)
    assert (t.kind, t.value, t.low, t.high, t.decimals, t.strict) == expected
    assert t.text == text and t.year == 2030


def test_parse_target_keeps_base_start_note_and_direction():
    t = parse_target("48.749", 2030, direction=1, observed_as="flow", start_year=2021, note="n")
    assert (t.start_year, t.base_year, t.note, t.direction) == (2021, None, "n", 1)
    r = parse_target("2", 2025, unit="Lần", direction=1, base_year=2021)
    assert r.base_year == 2021


@pytest.mark.parametrize("text, kw, match", [
    ("khoảng 5 điểm x", {}, "cannot read target 'khoảng 5 điểm x'"),
    ("1.5", {}, r"cannot read target '1\.5'"),
    ("5-3", dict(direction=1), "low end 5 is above its high end 3"),
    ("> 30-35", dict(direction=1), "a range with an operator"),
    ("2", dict(unit="Lần"), "needs base_year"),
    ("1-1,5", dict(unit="%/năm", direction=-1), "needs base_year"),
    ("48.749", dict(observed_as="flow"), "needs start_year"),
    ("< 2", dict(unit="Lần", base_year=2021), "only 'x', '> x' and '>= x'"),
    ("< 500", dict(observed_as="flow", start_year=2021), "cumulative"),
    ("< 7", dict(unit="%/năm", direction=-1, base_year=2022), "yearly change"),
    ("> 7", dict(unit="%/năm", base_year=2022), "needs the indicator's direction"),
])
def test_parse_target_errors_quote_the_text(text, kw, match):
    with pytest.raises(TargetParseError, match=match):
        parse_target(text, 2030, **kw)


def test_target_rejects_unknown_kind_and_missing_fields():
    with pytest.raises(TargetParseError, match="unknown kind 'about'"):
        Target(year=2030, text="x", kind="about")  # type: ignore[arg-type]
    with pytest.raises(TargetParseError, match="missing value"):
        Target(year=2030, text="x", kind="ge")
    with pytest.raises(TargetParseError, match="missing value, start_year"):
        Target(year=2030, text="x", kind="cumulative")
    with pytest.raises(TargetParseError, match="low 5 is above high 3"):
        Target(year=2030, text="x", kind="between", low=5.0, high=3.0)
    with pytest.raises(TargetParseError, match="direction must be"):
        Target(year=2030, text="x", kind="ge", value=1.0, direction=2)


# --------------------------------------------------------------------------------------------
# meets: one test per kind, table-driven (target, target-year value(s) -> met?)
# --------------------------------------------------------------------------------------------
def T(text, year=2025, **kw):
    return parse_target(text, year, **kw)


def _one_year(target, values):
    years = np.array([target.year])
    return target.meets(np.asarray(values, dtype=float)[:, None], years).tolist()


@pytest.mark.parametrize("target, values, expected", [
    # precision rule: values as published, never rounded to the target's decimals
    (T("100", direction=1), [100, 99.6, 99.5, 99.4, 101, 99.99], [True, False, False, False, True, False]),
    (T("45", direction=1), [45, 44.5, 44.49, 60], [True, False, False, True]),
    (T("25", direction=-1), [25, 25.4, 25.5, 10], [True, False, False, True]),
    (T("3,5", direction=1), [3.45, 3.44, 3.5], [False, False, True]),
    (T("= 4", direction=0), [4.0, 4.4, 3.5, 3.9999999999999996], [True, False, False, True]),
    # strict bounds exclude the bound: 2.96 is below 3
    (T("< 3", direction=-1), [2.96, 2.999, 3.0, 3.04], [True, True, False, False]),
    (T("< 3,8", direction=-1), [3.79, 3.8, 3.81], [True, False, False]),
    (T("> 60", direction=1), [60.01, 60.0, 59.99], [True, False, False]),
    # between is inclusive; a band (direction 0) fails on both sides
    (T("30-35", direction=0), [30, 35, 35.4, 29.5, 35.5, 29.4, 32],
     [True, True, False, False, False, False, True]),
    # for a higher-is-better rate, above the range also meets; for lower-is-better, below it
    (T("30-35", direction=1), [30, 36, 50, 29.4], [True, True, True, False]),
    (T("30-35", direction=-1), [35, 20, 35.6], [True, True, False]),
    # maintain: the target-year value at the maintained level, exactly
    (T("100  (duy trì)", direction=1), [100, 99.6, 99.4], [True, False, False]),
    (T("5  (duy trì)", direction=-1), [5.0, 5.4, 5.6, 1], [True, False, False, True]),
    # a NaN path never meets
    (T("45", direction=1), [math.nan], [False]),
])
def test_meets_level_kinds(target, values, expected):
    assert _one_year(target, values) == expected


def test_meets_reads_the_target_year_column_only():
    t = T("45", year=2025, direction=1)
    years = np.arange(2020, 2031)
    paths = np.full((2, years.size), 10.0)
    paths[0, years == 2025] = 46
    paths[1, years == 2030] = 99
    assert t.meets(paths, years).tolist() == [True, False]


def test_meets_cumulative_sums_flows_from_start_year():
    t = T("48.749", year=2030, direction=1, observed_as="flow", start_year=2021)
    years = np.arange(2019, 2031)  # 2019-2020 precede the start year and must not count
    paths = np.zeros((3, years.size))
    paths[:, :2] = 100_000
    paths[0, 2:] = 48_749 / 10            # exactly the total
    paths[1, 2:] = 48_748.4 / 10          # short of the total
    paths[2, 2:] = 48_749.6 / 10          # beyond it
    assert t.meets(paths, years).tolist() == [True, False, True]
    np.testing.assert_allclose(t.quantity(paths, years), [48749, 48748.4, 48749.6])


@pytest.mark.parametrize("level_2025, expected", [
    (0.2, True),    # fell 3.0 points in 3 years: -1.0 a year
    (0.3, False),   # -0.967 a year: not the fall of at least 1 point promised
    (0.4, False),   # -0.933: too slow
    (0.0, True),    # -1.067: faster than the range also meets
    (-1.5, True),   # far faster
    (3.2, False),   # no fall
])
def test_meets_annual_change_fall_range(level_2025, expected):
    t = T("1-1,5", unit="%/năm", direction=-1, base_year=2022)
    years = np.arange(2022, 2026)
    paths = np.array([[3.2, 2.5, 1.5, level_2025]])
    assert t.meets(paths, years).tolist() == [expected]


def test_meets_annual_change_strict_and_rise():
    fall = T("> 7", unit="%/năm", direction=-1, base_year=2022)
    years = np.arange(2022, 2026)
    paths = np.array([[40.0, 0, 0, 40 - 21], [40.0, 0, 0, 40 - 21.03]])  # -7.0 vs -7.01 a year
    assert fall.meets(paths, years).tolist() == [False, True]
    rise = T("1-2", unit="%/năm", direction=1, base_year=2022)
    paths = np.array([[10.0, 0, 0, 13.0], [10.0, 0, 0, 12.8], [10.0, 0, 0, 20.0]])
    assert rise.meets(paths, years).tolist() == [True, False, True]
    band = T("1-2", unit="%/năm", direction=0, base_year=2022)
    assert band.meets(paths, years).tolist() == [True, False, False]


def test_meets_ratio_to_base_compares_the_ratio_exactly():
    t = T("2", unit="Lần", direction=1, base_year=2021)
    years = np.arange(2021, 2026)
    base = 1_000_000.0
    paths = np.array([[base, 0, 0, 0, r * base] for r in (2.0, 1.95, 1.94, 1.5, 3.0)])
    assert t.meets(paths, years).tolist() == [True, False, False, False, True]


@pytest.mark.parametrize("target, years, match", [
    (T("45", year=2030, direction=1), np.arange(2020, 2026), "needs years 2030"),
    (T("1-1,5", unit="%/năm", direction=-1, base_year=2022), np.arange(2023, 2026),
     "needs years 2022"),
    (T("48.749", year=2030, direction=1, observed_as="flow", start_year=2021),
     np.arange(2024, 2031), "needs years 2021..2023"),
])
def test_meets_raises_when_needed_years_are_missing(target, years, match):
    with pytest.raises(ValueError, match=match):
        target.meets(np.ones((2, years.size)), years)


def test_meets_checks_the_array_contract():
    t = T("45", direction=1)
    with pytest.raises(ValueError, match="n_years == len"):
        t.meets(np.ones((2, 3)), np.arange(2023, 2027))
    with pytest.raises(ValueError, match="consecutive"):
        t.meets(np.ones((2, 3)), np.array([2021, 2023, 2025]))
    with pytest.raises(ValueError, match="has no numeric test"):
        T("Giải quyết cơ bản").meets(np.ones((2, 1)), np.array([2025]))
    assert not T("-").is_quantitative and not T("THCS").is_quantitative
    assert T("45", direction=1).is_quantitative


def test_needed_years_per_kind():
    assert T("45", direction=1).needed_years == (2025,)
    assert T("1-1,5", unit="%/năm", direction=-1, base_year=2022).needed_years == (2022, 2025)
    assert T("9", year=2030, direction=1, observed_as="flow",
             start_year=2028).needed_years == (2028, 2029, 2030)
    assert T("-").needed_years == ()


def test_prob_met_is_the_share_of_paths():
    t = T("45", direction=1)
    assert t.prob_met(np.array([[50.0], [40.0], [45.0], [44.0]]), np.array([2025])) == 0.5
    with pytest.raises(ValueError, match="at least one path"):
        t.prob_met(np.ones((0, 1)), np.array([2025]))


_values = arrays(np.float64, st.integers(1, 40),
                 elements=st.floats(-50, 150, allow_nan=False, allow_infinity=False))


@settings(max_examples=80, deadline=None)
@given(values=_values, a=st.floats(-60, 160), b=st.floats(-60, 160),
       kind=st.sampled_from(["gt", "ge", "lt", "le", "maintain"]),
       direction=st.sampled_from([1, -1]))
def test_prob_met_is_monotone_in_the_threshold(values, a, b, kind, direction):
    """Raising the bar never raises p_meet for 'at least' targets, nor lowers it for 'at most'."""
    lo, hi = sorted((a, b))

    def p(x: float) -> float:
        t = Target(year=2025, text=f"{x}", kind=kind, value=x, decimals=1, direction=direction)
        return t.prob_met(values[:, None], np.array([2025]))

    if kind in ("gt", "ge") or (kind == "maintain" and direction == 1):
        assert p(lo) >= p(hi)
    else:
        assert p(lo) <= p(hi)


# --------------------------------------------------------------------------------------------
# required_annual_change and threshold_level
# --------------------------------------------------------------------------------------------
H = pd.Series({2021: 5.0, 2022: 3.2, 2023: 2.11})


@pytest.mark.parametrize("target, last_year, last_value, history, expected", [
    (T("45", direction=1), 2023, 41.0, H, 2.0),
    (T("45", direction=1), 2023, 50.0, H, -2.5),          # room to fall and still meet
    (T("< 3,8", direction=-1), 2022, 4.4, H, -0.2),
    (T("45", direction=1), 2025, 41.0, H, None),          # target year already observed
    (T("Giải quyết cơ bản"), 2023, 1.0, H, None),
    (T("-"), 2023, 1.0, H, None),
    # between: direction +1 aims at the low end; a band is 0 inside, else the nearer edge
    (T("30-35", direction=1), 2023, 26.0, H, 2.0),
    (T("30-35", direction=0), 2023, 32.0, H, 0.0),
    (T("30-35", direction=0), 2023, 39.0, H, -2.0),
    # annual change: the level implied by the slowest acceptable fall from the base year
    (T("1-1,5", unit="%/năm", direction=-1, base_year=2022), 2023, 2.11, H,
     ((3.2 - 3 * 1.0) - 2.11) / 2),
    (T("1-1,5", unit="%/năm", direction=-1, base_year=2020), 2023, 2.11, H, None),
    (T("2", unit="Lần", direction=1, base_year=2021), 2023, 7.0, H, (10.0 - 7.0) / 2),
    # cumulative: the yearly flow still needed, from the flows since the start year
    (T("100", year=2030, direction=1, observed_as="flow", start_year=2021), 2023, 10.0,
     pd.Series({2021: 10.0, 2022: 20.0, 2023: 10.0}), (100 - 40) / 7),
    (T("100", year=2030, direction=1, observed_as="flow", start_year=2021), 2023, 10.0,
     pd.Series({2022: 20.0, 2023: 10.0}), None),           # 2021's flow unknown
])
def test_required_annual_change(target, last_year, last_value, history, expected):
    got = target.required_annual_change(last_year, last_value, history)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_threshold_level():
    assert T("45", direction=1).threshold_level() == 45
    assert T("30-35", direction=1).threshold_level() == 30
    assert T("30-35", direction=-1).threshold_level() == 35
    assert T("30-35", direction=0).threshold_level() is None
    assert T("2", unit="Lần", direction=1, base_year=2021).threshold_level(5.0) == 10.0
    assert T("2", unit="Lần", direction=1, base_year=2021).threshold_level(None) is None
    assert T("1-1,5", unit="%/năm", direction=-1,
             base_year=2022).threshold_level(3.2) == pytest.approx(0.2)
    assert T("-").threshold_level() is None
