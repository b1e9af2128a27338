"""A new target kind is one entry in one rule table (plan/kinds.py): this test adds a toy kind
``near`` ("≈ x": within 5 % of x in the target year) with no other edit, and shows the catalog
rules, parsing, the probability, the planning figures (the level that just meets it, the
yearly change needed, the assessment's row), the data checks' and the charts' view of it all
follow. It is the walk-through of docs/architecture.md ("Add a target kind")."""
from __future__ import annotations

import re
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from khforecast.assess.assessment import assess
from khforecast.assess.statuses import status_of
from khforecast.briefing import figures
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.plan.kinds import KINDS, KindRule, register_kind
from khforecast.plan.targets import Target, parse_target, parse_vn_number


def _parse_near(text, common, context):
    """Read '≈ 50' (Vietnamese number format) as a ``near`` target."""
    m = re.fullmatch(r"≈\s*(\d[\d.,]*)", text)
    if not m:
        return None
    value, decimals = parse_vn_number(m.group(1))
    return Target(kind="near", value=value, decimals=decimals, **common)


NEAR = KindRule("near", ("value",), chart="line", parse=_parse_near,
                meets=lambda t, q, r: np.abs(q - t.value) <= 0.05 * abs(t.value),
                # two-sided: no single level just meets it, a band does
                threshold=lambda t, base: None,
                band=lambda t: (t.value - 0.05 * abs(t.value), t.value + 0.05 * abs(t.value)))


@pytest.fixture
def near(monkeypatch):
    """The toy kind, registered for one test only."""
    monkeypatch.delitem(KINDS, "near", raising=False)
    register_kind(NEAR)
    yield NEAR
    KINDS.pop("near", None)


def test_a_toy_kind_is_parsed_judged_and_drawn(near):
    t = parse_target("≈ 50", 2030, unit="%", direction=1)
    assert (t.kind, t.value, t.is_quantitative, t.needed_years) == ("near", 50.0, True, (2030,))
    years = np.arange(2028, 2031)
    paths = np.array([[40.0, 45.0, 49.0], [40.0, 45.0, 53.0], [40.0, 45.0, 60.0]])
    assert t.meets(paths, years).tolist() == [True, False, False]  # 49 is near 50, 53 is not
    assert t.prob_met(paths, years) == pytest.approx(1 / 3)
    assert figures._chart(t) == "line"
    fig = figures.plot_distribution(paths[:, -1], year=2030, target=t)
    assert fig.axes[0].get_legend() is not None  # the target line is drawn and labelled


def test_a_toy_kind_gets_its_planning_figures_from_its_rule(near):
    t = parse_target("≈ 50", 2030, unit="%", direction=1)
    history = pd.Series([36.0, 38.0, 40.0], index=[2022, 2023, 2024])
    assert t.threshold_level() is None  # a band has no single level
    # outside the band: the yearly change to its nearer edge (47.5) in 6 years; inside: none
    assert t.required_annual_change(2024, 40.0, history) == pytest.approx((47.5 - 40.0) / 6)
    assert t.required_annual_change(2024, 51.0, history) == 0.0
    # the assessment's row: p_meet and status, the planning figures, ESCAP towards the edge
    years = np.arange(2020, 2031)
    end = np.linspace(40.0, 64.0, 301)
    paths = np.hstack([np.broadcast_to([32.0, 34.0, 36.0, 38.0, 40.0], (301, 5)),
                       40.0 + (end[:, None] - 40.0) * (np.arange(1, 7) / 6.0)[None, :]])
    s = SeriesPaths("X", "khanh_hoa", "percent", "level", years,
                    np.where(years <= 2024, paths[0], np.nan), paths, n_obs=5, last_year=2024,
                    last_value=40.0, model="test")
    sample = SamplePaths("khanh_hoa", "bau", 2030, {("X", "khanh_hoa"): s}, len(paths))
    ind = SimpleNamespace(id="X", direction=1, targets=MappingProxyType({2030: t}))
    row = assess(sample, SimpleNamespace(indicators={"X": ind})).iloc[0]
    inside = np.abs(end - 50.0) <= 2.5
    assert row["p_meet"] == pytest.approx(inside.mean())
    assert row["status"] == status_of(row["p_meet"])
    assert row["required_annual_change"] == pytest.approx((47.5 - 40.0) / 6)
    assert pd.isna(row["required_change_p50"])  # no single trend "just meets" a band
    assert row["year_reached_median"] == 2028  # the median path (40 + 2 a year) enters it
    assert row["escap_label"] != ""


def test_kinds_need_their_fields_and_unknown_kinds_are_refused(near):
    with pytest.raises(Exception, match="missing value"):
        Target(year=2030, text="≈", kind="near")
    with pytest.raises(Exception, match="unknown kind 'far'"):
        Target(year=2030, text="x", kind="far", value=1.0)
    with pytest.raises(ValueError, match="exists already"):
        register_kind(NEAR)
    with pytest.raises(ValueError, match="needs meets"):
        register_kind(KindRule("broken"))


def test_the_plan_kinds_are_all_in_the_table():
    assert list(KINDS)[:12] == ["lt", "le", "gt", "ge", "eq", "between", "maintain",
                                "cumulative", "annual_change", "ratio_to_base", "qualitative",
                                "none"]
    assert [k for k, r in KINDS.items() if r.level] == ["lt", "le", "gt", "ge", "eq", "between",
                                                        "maintain"]
