"""Charts: what a fan chart draws, Vietnamese glyphs, the status heatmap, errors."""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from khforecast.briefing.figures import (
    figure_png,
    plot_distribution,
    plot_indicator,
    plot_required_change,
    plot_scenarios,
)


def _forecasts(scenario: str = "bau", shift: float = 0.0) -> pd.DataFrame:
    """A forecasts.csv-shaped frame: observed 2018-2024, projected 2025-2030."""
    rows = []
    for year in range(2018, 2031):
        if year <= 2024:
            v = 5.0 - 0.2 * (year - 2018)
            rows.append({"year": year, "observed": v, **{q: v for q in
                         ("mean", "q05", "q10", "q25", "q50", "q75", "q90", "q95")}})
        else:
            h = year - 2024
            m = 3.8 - 0.2 * h + shift
            rows.append({"year": year, "observed": np.nan, "mean": m, "q05": m - 0.9 * h,
                         "q10": m - 0.7 * h, "q25": m - 0.3 * h, "q50": m, "q75": m + 0.3 * h,
                         "q90": m + 0.7 * h, "q95": m + 0.9 * h})
    return pd.DataFrame(rows).assign(indicator_id="02", place="khanh_hoa", scenario=scenario)


_LT3 = SimpleNamespace(year=2030, kind="lt", value=3.0, low=None, high=None)
_BAND = SimpleNamespace(year=2025, kind="between", value=None, low=2.0, high=3.0)


def _labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_fan_chart_draws_observations_median_bands_targets_and_comparison():
    compare = pd.DataFrame({"year": [2019, 2020], "value": [4.0, 4.1]})
    fig = plot_indicator(_forecasts(), "02", lang="en", targets=[_LT3, _BAND], compare=compare,
                         title="02. Unemployment", unit="%")
    assert _labels(fig) == ["90% band", "80% band", "50% band", "Median forecast", "Observed",
                            "Viet Nam", "2030 target", "2025 target"]
    ax = fig.axes[0]
    assert {round(line.get_xdata()[0]) for line in ax.lines if len(line.get_xdata()) == 2
            and line.get_xdata()[0] == line.get_xdata()[1]} >= {2025, 2030}
    observed = next(line for line in ax.lines if line.get_label() == "Observed")
    assert list(observed.get_xdata()) == list(range(2018, 2025))
    median = next(line for line in ax.lines if line.get_label() == "Median forecast")
    assert median.get_xdata()[0] == 2024  # the fan starts at the last observation
    assert ax.get_title(loc="left") == "02. Unemployment"


def test_fan_chart_labels_a_95_band_only_when_the_quantiles_exist():
    frame = _forecasts().assign(q025=lambda d: d["q05"] - 0.1, q975=lambda d: d["q95"] + 0.1)
    assert "Khoảng 95 %" in _labels(plot_indicator(frame, "02", lang="vi"))
    assert "Khoảng 90 %" in _labels(plot_indicator(_forecasts(), "02", lang="vi"))


def test_fan_chart_of_an_unknown_series_is_a_clear_error():
    with pytest.raises(ValueError, match="no row for indicator '99', place 'khanh_hoa'"):
        plot_indicator(_forecasts(), "99")


def test_vietnamese_text_renders_without_missing_glyphs():
    fig = plot_indicator(_forecasts(), "02", lang="vi", targets=[_LT3],
                         title="Tỷ lệ lao động qua đào tạo có bằng cấp, chứng chỉ", unit="%")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any("," in x for x in ticks)  # Vietnamese decimal comma on the axis


def test_scenarios_side_by_side():
    frame = pd.concat([_forecasts("bau"), _forecasts("accelerate", shift=-0.5)])
    fig = plot_scenarios(frame, "02", ["bau", "accelerate"], lang="en", targets=[_LT3])
    assert _labels(fig)[:3] == ["bau", "accelerate", "Observed"]
    with pytest.raises(ValueError, match="in scenarios \\['shock'\\]"):
        plot_scenarios(frame, "02", ["shock"])


def test_required_change_and_distribution_charts():
    rows = pd.DataFrame({"label": ["02", "04"], "historical_annual_change": [-0.2, -0.4],
                         "required_annual_change": [0.1, -5.2]})
    fig = plot_required_change(rows, lang="en")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["02", "04"]
    draws = np.random.default_rng(0).normal(3, 1, 500)
    fig = plot_distribution(draws, year=2030, lang="en", target=_LT3, unit="%")
    patches = fig.axes[0].patches
    assert sum(p.get_height() for p in patches) == pytest.approx(1.0)
    assert _labels(fig) == ["2030 target"]


def test_pit_histogram_draws_the_tabulated_densities():
    from khforecast.briefing.figures import plot_pit

    dens = np.linspace(0.5, 1.5, 20)
    bars = sorted(plot_pit(dens, lang="vi").axes[0].patches, key=lambda p: p.get_x())
    assert [p.get_height() for p in bars] == pytest.approx(dens.tolist())
    assert [p.get_x() for p in bars] == pytest.approx(np.arange(20) / 20)
