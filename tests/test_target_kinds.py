"""A new target kind is one entry in one rule table (plan/kinds.py): this test adds a toy kind
``near`` ("≈ x": within 5 % of x in the target year) with no other edit, and shows the catalog
rules, parsing, the probability, the data checks' and the charts' view of it all follow. It is
the walk-through of docs/architecture.md ("Add a target kind")."""
from __future__ import annotations

import re

import numpy as np
import pytest

from khforecast.briefing import figures
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
                meets=lambda t, q, r: np.abs(q - t.value) <= 0.05 * abs(t.value))


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
