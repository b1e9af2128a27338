"""Chart axes and marks (issue 12): the axis follows the data, the targets and the 80 % band,
never the 95 % tail; bands are cut to the axis and marked; no line across a data gap."""
from __future__ import annotations

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from khforecast.briefing.figures import plot_status_bars
from khforecast.briefing.chart_kit import (
    STATUS_COLOURS,
    clip_band,
    level_targets,
    segments,
    wide_band_caption,
    y_limits,
)
from khforecast.plan.catalog import load_catalog


def test_the_95_band_does_not_set_the_axis():
    # unemployment 2.5 %, 80 % band to 4 %, 95 % band to 72 % (the example)
    lo, hi = y_limits(observed=[2.2, 2.5, 2.3], band80=[1.8, 4.0], targets=[3], domain="percent")
    assert 1.5 < lo < 1.8 and 4.0 < hi < 4.5
    band = clip_band([1.0, 0.5], [8.0, 72.0], (lo, hi))
    assert band.high.max() == hi and band.past_top.all() and band.past_bottom.all()
    assert band.runs_past


def test_axis_stays_in_the_domain_and_a_flat_series_gets_a_range():
    assert y_limits(observed=[99.0, 99.9], band80=[98.0, 100.0], domain="percent")[1] == 100.0
    assert y_limits(observed=[0.1, 0.2], band80=[0.0, 0.5], domain="positive")[0] == 0.0
    lo, hi = y_limits(observed=[5.0, 5.0])
    assert lo < 5.0 < hi


def test_only_targets_on_the_level_set_the_axis():
    cat = load_catalog()
    assert level_targets(cat.get("02").targets.values()) == [3.0, 3.0]
    assert level_targets(cat.get("33").targets.values()) == []  # a yearly fall: other scale
    assert level_targets(cat.get("80").targets.values()) == []  # a sum: other scale


def test_caption_only_when_data_are_few_and_the_band_runs_past():
    past = clip_band([0.0], [10.0], (1.0, 5.0))
    inside = clip_band([2.0], [4.0], (1.0, 5.0))
    assert "5 năm số liệu (2018–2022)" in wide_band_caption(5, [2018, 2022], past, "vi")
    assert wide_band_caption(5, [2018, 2022], inside, "vi") == ""
    assert wide_band_caption(17, [2008, 2024], past, "en") == ""


def test_segments_split_at_missing_years():
    runs = segments([2012, 2018, 2019, 2020, 2023], [21.6, 29.3, np.nan, 30.0, 36.0])
    assert [r[0].tolist() for r in runs] == [[2012], [2018], [2020], [2023]]
    assert segments([], []) == []


def test_sector_chart_uses_the_status_colours():
    a = pd.DataFrame({"indicator_id": ["02", "04", "09", "57"], "target_year": 2030,
                      "scenario": "bau", "status": ["on_track", "off_track", "at_risk", "no_data"]})
    sector_of = {"02": "II", "04": "II", "09": "III", "57": "VII"}
    fig = plot_status_bars(a, sector_of, lang="en", sectors=["II", "III", "VII"])
    colours = {matplotlib.colors.to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert {STATUS_COLOURS[s] for s in ("on_track", "off_track", "at_risk", "no_data")} <= colours
    assert [tl.get_text() for tl in fig.axes[0].get_yticklabels()] == ["II", "III", "VII"]
    # one segment per sector and status, as wide as its count, the first status leftmost
    ax = fig.axes[0]
    ticks = {tl.get_text(): y for tl, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    drawn = sorted((round(p.get_y() + p.get_height() / 2), p.get_x(), p.get_width(),
                    matplotlib.colors.to_hex(p.get_facecolor()))
                   for p in ax.patches if p.get_width() > 0)
    assert drawn == sorted([(ticks["II"], 0.0, 1.0, STATUS_COLOURS["on_track"]),
                            (ticks["II"], 1.0, 1.0, STATUS_COLOURS["off_track"]),
                            (ticks["III"], 0.0, 1.0, STATUS_COLOURS["at_risk"]),
                            (ticks["VII"], 0.0, 1.0, STATUS_COLOURS["no_data"])])
    assert [tx.get_text() for tx in ax.texts] == ["1"] * 4


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_caption_in_both_languages(lang):
    assert wide_band_caption(3, [2021, 2023], clip_band([0], [9], (1, 2)), lang)


def _frame(years_obs, values, years_proj):
    rows = [{"indicator_id": "02", "place": "khanh_hoa", "scenario": "bau", "year": y,
             "observed": v, **{c: np.nan for c in ("mean", "q025", "q05", "q10", "q25", "q50",
                                                   "q75", "q90", "q95", "q975")}}
            for y, v in zip(years_obs, values)]
    for k, y in enumerate(years_proj, 1):
        rows.append({"indicator_id": "02", "place": "khanh_hoa", "scenario": "bau", "year": y,
                     "observed": np.nan, "mean": 2.5, "q025": 0.5, "q05": 1.0, "q10": 1.8,
                     "q25": 2.2, "q50": 2.5, "q75": 2.9, "q90": 3.4 + 0.1 * k, "q95": 30.0,
                     "q975": 72.0})
    return pd.DataFrame(rows)


def test_fan_chart_axis_ignores_the_95_tail_and_breaks_lines_at_gaps():
    from khforecast.briefing.figures import plot_indicator

    cat = load_catalog()
    frame = _frame([2012, 2018, 2019, 2020], [2.4, 2.2, 2.5, 2.3], range(2021, 2031))
    fig = plot_indicator(frame, "02", targets=cat.get("02").targets.values(), domain="percent")
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert hi < 5 and lo > 0  # not 72 %: the data sit in the chart, not in its bottom tenth
    observed = [ln for ln in ax.get_lines() if ln.get_color() == "black"]
    assert sorted(ln.get_xdata().tolist() for ln in observed) == [[2012], [2018, 2019, 2020]]
    tops = [ln for ln in ax.get_lines() if ln.get_marker() == "^"]
    assert tops and all(y == hi for y in tops[0].get_ydata())  # where the band runs past
