"""Charts of the briefings: fan charts, the status bars, required vs historical change.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, safe in threads and headless kernels); :func:`figure_png` turns one into PNG bytes that
:mod:`khforecast.briefing` embeds in HTML. Labels come from :mod:`khforecast.briefing.i18n` and are drawn
in DejaVu Sans, which has the Vietnamese diacritics. The histograms and the status bars are
seaborn's ``histplot``; matplotlib and seaborn are imported lazily.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from khforecast.assess.statuses import STATUS_ORDER
from khforecast.briefing.chart_kit import (
    STATUS_COLOURS,
    bands as _bands,
    clip_band,
    draw_clipped_band,
    fan_limits,
    fan_rows,
    segments,
)
from khforecast.briefing.i18n import format_number, place_name, t
from khforecast.plan.catalog import TARGET_YEARS
from khforecast.plan.kinds import KINDS
from khforecast.plan.targets import Target

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "figure_png",
    "plot_distribution",
    "plot_indicator",
    "plot_province_strips",
    "plot_required_change",
    "plot_scenarios",
    "plot_place_status_bars",
    "plot_status_bars",
]

_RC = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
       "axes.spines.top": False, "axes.spines.right": False}
_BLUE = "#1f5a96"
_TARGET = "#b2182b"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG bytes (fonts with Vietnamese diacritics included)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _series(forecasts: pd.DataFrame, indicator_id: str, place: str, scenario: str) -> pd.DataFrame:
    rows = forecasts[(forecasts["indicator_id"].astype(str) == str(indicator_id))
                     & (forecasts["place"] == place) & (forecasts["scenario"] == scenario)]
    return rows.sort_values("year")


def _finish_axes(ax: Axes, targets: Iterable[Any], x0: float, lang: str, title: str,
                 unit: str | None, decimals: int) -> None:
    """What every indicator chart shares: targets from ``x0``, 2025/2030 marked, labels, number format."""
    import matplotlib.ticker

    for target in targets:
        _draw_target(ax, target, lang, x0, float(max(TARGET_YEARS)))
    for year in TARGET_YEARS:
        ax.axvline(year, color="#999999", linewidth=0.6, linestyle="--")
    ax.set_xlabel(t("fig.year", lang))
    if unit:
        ax.set_ylabel(unit)
    ax.set_title(title, loc="left")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _pos: format_number(v, lang, decimals)))


def _chart(target: Target | None) -> str | None:
    """How a chart draws ``target`` (its kind's rule: a line, a band, or nothing)."""
    rule = KINDS.get(getattr(target, "kind", None) or "")
    return rule.chart if rule is not None else None


def _draw_target(ax: Axes, target: Target, lang: str, x0: float, x1: float) -> None:
    year = getattr(target, "year", None)
    label = t("fig.target", lang, year=year)
    chart = _chart(target)
    if chart == "line" and target.value is not None:
        ax.hlines(target.value, x0, year, colors=_TARGET, linestyles=":", linewidth=0.8)
        ax.plot([year], [target.value], marker="D", color=_TARGET, markersize=5,
                linestyle="none", label=label)
    elif chart == "band" and target.low is not None and target.high is not None:
        ax.fill_between([year - 0.4, year + 0.4], target.low, target.high, color=_TARGET,
                        alpha=0.35, linewidth=0, label=label)


def plot_indicator(forecasts: pd.DataFrame, indicator_id: str, *, lang: str = "vi",
                   place: str = "khanh_hoa", scenario: str = "bau",
                   targets: Iterable[Any] = (), compare: pd.DataFrame | None = None,
                   compare_label: str | None = None, title: str = "", unit: str = "",
                   decimals: int = 1, domain: str = "real") -> Figure:
    """A fan chart: observed points, the median and 50/80/95 % bands, targets, 2025 and 2030.

    The y-axis is chosen from the observations, the comparison line, the targets and the 80 %
    band (:func:`khforecast.briefing.chart_kit.fan_limits`); the wider band is cut to it and
    marked with ▲/▼ where it runs past. Observed lines are not drawn across missing years.

    Parameters
    ----------
    forecasts
        Rows of ``forecasts.csv`` (DESIGN §3); those of ``indicator_id``, ``place`` and
        ``scenario`` are drawn. The 95 % band is drawn when ``q025``/``q975`` columns exist,
        else the ``q05``-``q95`` band, labelled 90 %.
    targets
        :class:`khforecast.plan.targets.Target`-like objects (``year, kind, value, low, high``);
        threshold kinds are drawn as a line and a diamond, ``between`` as a band, others not.
    compare
        Observed values of another place (columns ``year, value``), e.g. ``vietnam``.
    domain
        The indicator's domain: the axis stays inside it (a percent in 0-100).

    Raises
    ------
    ValueError
        When ``forecasts`` hold no row for the indicator, place and scenario.
    """
    import matplotlib

    rows = _series(forecasts, indicator_id, place, scenario)
    if rows.empty:
        raise ValueError(f"forecasts hold no row for indicator {indicator_id!r}, place "
                         f"{place!r}, scenario {scenario!r}")
    targets = list(targets)
    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 3.4)
        ax = fig.subplots()
        obs, proj = fan_rows(rows)
        limits = fan_limits(rows, targets, compare, domain)
        ax.set_ylim(*limits)
        if not proj.empty:
            for (level, lo, hi), alpha in zip(_bands(rows), (0.15, 0.25, 0.4)):
                draw_clipped_band(ax, proj["year"], clip_band(proj[lo], proj[hi], limits),
                                  color=_BLUE, alpha=alpha, label=t("fig.band", lang, level=level))
            ax.plot(proj["year"], np.clip(proj["q50"], *limits), color=_BLUE, linewidth=1.5,
                    label=t("fig.median", lang))
        _plot_runs(ax, obs["year"], obs["observed"], "o-", color="black", markersize=4,
                   linewidth=1, label=t("fig.observed", lang))
        if compare is not None and not compare.empty:
            _plot_runs(ax, compare["year"], compare["value"], "s--", color="#777777",
                       markersize=3, linewidth=0.8, label=compare_label or t("fig.vietnam", lang))
        _finish_axes(ax, targets, float(rows["year"].min()), lang, title, unit, decimals)
        ax.set_ylim(*limits)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=8)
    return fig


def _plot_runs(ax: Axes, years: Any, values: Any, fmt: str, *, label: str, **style: Any) -> None:
    """Plot a series run by run (no line across a missing year), labelled once."""
    for k, (x, y) in enumerate(segments(years, values)):
        ax.plot(x, y, fmt, label=label if k == 0 else None, **style)


def plot_scenarios(forecasts: pd.DataFrame, indicator_id: str, scenarios: Sequence[str], *,
                   lang: str = "vi", place: str = "khanh_hoa", targets: Iterable[Any] = (),
                   title: str = "", unit: str = "", decimals: int = 1) -> Figure:
    """Scenarios side by side: each one's median and 80 % band, the observations and targets.

    Raises ``ValueError`` when no scenario has rows for the indicator and place.
    """
    import matplotlib
    import matplotlib.ticker

    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 3.4)
        ax = fig.subplots()
        colors = matplotlib.colormaps["tab10"].colors
        drawn = 0
        obs = pd.DataFrame()
        for i, name in enumerate(scenarios):
            rows = _series(forecasts, indicator_id, place, name)
            proj = rows[rows["observed"].isna() & rows["q50"].notna()]
            if rows.empty:
                continue
            obs = rows[rows["observed"].notna()]
            ax.fill_between(proj["year"], proj["q10"], proj["q90"], color=colors[i % 10],
                            alpha=0.18, linewidth=0)
            ax.plot(proj["year"], proj["q50"], color=colors[i % 10], linewidth=1.5, label=name)
            drawn += 1
        if not drawn:
            raise ValueError(f"forecasts hold no row for indicator {indicator_id!r}, place "
                             f"{place!r} in scenarios {list(scenarios)!r}")
        _plot_runs(ax, obs["year"], obs["observed"], "o-", color="black", markersize=4,
                   linewidth=1, label=t("fig.observed", lang))
        _finish_axes(ax, targets, float(obs["year"].min() if len(obs) else 2020), lang, title,
                     unit, decimals)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=8,
                  title=t("col.scenario", lang))
    return fig


def plot_status_bars(assessment: pd.DataFrame, sector_of: Mapping[str, str], *,
                     lang: str = "vi", sectors: Sequence[str] = (), target_year: int = 2030,
                     scenario: str = "bau", statuses: Sequence[str] = ()) -> Figure:
    """Horizontal stacked bars: per sector, how many indicators have each status, in the
    status colours of the pages (green on track, amber at risk, red off track, grey no data).

    Drawn with seaborn's ``histplot`` (one discrete bin per sector, ``multiple="stack"``, the
    status palette), the count written in each segment.
    """
    import matplotlib
    import seaborn as sns
    from matplotlib.patches import Patch

    rows = assessment[(assessment["target_year"] == target_year)
                      & (assessment["scenario"] == scenario)
                      & (assessment["status"] != "no_target")].copy()
    rows["sector"] = rows["indicator_id"].astype(str).map(sector_of)
    order = list(sectors) or sorted(rows["sector"].dropna().unique())
    table = pd.crosstab(rows["sector"], rows["status"]).reindex(index=order, fill_value=0)
    cols = [s for s in (statuses or STATUS_COLOURS) if s in table.columns]
    labels = {s: t(f"status.{s}", lang) for s in cols}
    # one row per indicator: the sector's position (first sector on top) and its status' label
    rank = {sector: len(order) - 1 - k for k, sector in enumerate(order)}
    data = rows[rows["sector"].isin(rank) & rows["status"].isin(cols)]
    data = pd.DataFrame({"y": data["sector"].map(rank).astype(int),
                         "status": data["status"].map(labels)})
    names = [labels[s] for s in cols]
    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 0.27 * len(order) + 1.2)
        ax = fig.subplots()
        # seaborn stacks the last hue level first: reversed, the first status is leftmost
        sns.histplot(data=data, y="y", hue="status", hue_order=names[::-1],
                     palette={labels[s]: STATUS_COLOURS[s] for s in cols}, multiple="stack",
                     discrete=True, shrink=0.8, alpha=1.0, edgecolor="white", linewidth=0.6,
                     legend=False, ax=ax)
        for bar in ax.patches:
            n = bar.get_width()
            if n >= 1:
                r, g, b, _ = bar.get_facecolor()
                ax.text(bar.get_x() + n / 2, bar.get_y() + bar.get_height() / 2,
                        format_number(n, lang, 0), ha="center", va="center", fontsize=7,
                        color="white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black")
        ax.set_yticks([rank[sector] for sector in order], order)
        ax.set_xlabel(t("col.count", lang))
        ax.set_ylabel(t("fig.sector", lang))
        ax.legend(handles=[Patch(color=STATUS_COLOURS[s], label=labels[s]) for s in cols],
                  loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False,
                  fontsize=7)
    return fig


def plot_required_change(rows: pd.DataFrame, *, lang: str = "vi", decimals: int = 2) -> Figure:
    """Dot plot of the yearly change required to meet each target against the historical one.

    ``rows`` has columns ``label, historical_annual_change, required_annual_change``, one row
    per indicator (in the indicator's own unit per year).
    """
    import matplotlib
    import matplotlib.ticker

    rows = rows.reset_index(drop=True)
    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 0.4 * len(rows) + 1.2)
        ax = fig.subplots()
        y = np.arange(len(rows))[::-1]
        ax.hlines(y, rows["historical_annual_change"], rows["required_annual_change"],
                  color="#bbbbbb", linewidth=1.5)
        ax.plot(rows["historical_annual_change"], y, "o", color="#555555",
                label=t("fig.historical", lang))
        ax.plot(rows["required_annual_change"], y, "D", color=_TARGET,
                label=t("fig.required", lang))
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_yticks(y, rows["label"])
        ax.set_xlabel(t("fig.change_axis", lang))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _pos: format_number(v, lang, decimals)))
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig


def plot_distribution(draws: np.ndarray, *, year: int, lang: str = "vi", target: Target | None = None,
                      unit: str = "", decimals: int = 1) -> Figure:
    """Histogram of the simulated values in ``year`` (seaborn ``histplot``, share of the draws
    per bin) with the target drawn over it."""
    import matplotlib
    import matplotlib.ticker
    import seaborn as sns

    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 3.0)
        ax = fig.subplots()
        sns.histplot(x=draws, bins=40, stat="probability", color=_BLUE, alpha=0.7,
                     edgecolor="white", linewidth=0.3, ax=ax)
        if _chart(target) == "line" and target.value is not None:
            ax.axvline(target.value, color=_TARGET, linestyle="--",
                       label=t("fig.target", lang, year=year))
            ax.legend(frameon=False)
        elif _chart(target) == "band":
            ax.axvspan(target.low, target.high, color=_TARGET, alpha=0.2,
                       label=t("fig.target", lang, year=year))
            ax.legend(frameon=False)
        ax.set_xlabel(unit)
        ax.set_ylabel(t("fig.density", lang))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _pos: format_number(v, lang, decimals)))
    return fig


def plot_province_strips(values: pd.Series, p_meet: pd.Series, *, highlight: Sequence[str],
                         lang: str = "vi", value_label: str = "", p_label: str = "") -> Figure:
    """Two strip plots across provinces: the latest values and P(meet the 2030 target).

    ``values`` and ``p_meet`` are indexed by place; the places in ``highlight`` are drawn
    larger, in the target colour, and labelled with their codes' names by the caller's legend.
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(7.0, 2.4)
        axes = fig.subplots(1, 2)
        rng = np.random.default_rng(0)  # fixed jitter: the same picture for the same run
        for ax, series, label in ((axes[0], values, value_label), (axes[1], p_meet, p_label)):
            s = series.dropna()
            jitter = pd.Series(rng.uniform(-0.25, 0.25, len(s)), index=s.index)
            rest = [p for p in s.index if p not in highlight]
            ax.scatter(s[rest], jitter[rest], s=14, color=_BLUE, alpha=0.6, linewidths=0)
            for k, p in enumerate(h for h in highlight if h in s.index):
                ax.scatter([s[p]], [jitter[p]], s=60, color=_TARGET, marker="D" if k else "o",
                           label=place_name(p, lang), zorder=3)
            ax.set_yticks([])
            ax.set_ylim(-0.6, 0.6)
            ax.set_xlabel(label)
            if ax is axes[1]:
                ax.set_xlim(-0.02, 1.02)
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="outside upper center", ncols=len(handles), frameon=False)
    return fig


def plot_place_status_bars(counts: pd.DataFrame, *, lang: str = "vi",
                           labels: Mapping[str, str] | None = None) -> Figure:
    """One horizontal bar per place: its 2030 targets stacked by status (a map-free national chart).

    ``counts`` has one row per place and one column per status; places keep their row order
    sorted by the share on track or met, best on top.
    """
    import matplotlib

    cols = [s for s in STATUS_ORDER if s in counts.columns]
    total = counts[cols].sum(axis=1).replace(0, np.nan)
    good = (counts.get("met", 0) + counts.get("on_track", 0)) / total
    order = good.fillna(-1).sort_values(kind="mergesort").index
    data = counts.loc[order, cols]
    with matplotlib.rc_context(_RC):
        fig = _figure(7.0, 0.22 * len(data) + 1.4)
        ax = fig.subplots()
        left = np.zeros(len(data))
        names = [(labels or {}).get(p, p) for p in data.index]
        for s in cols:
            ax.barh(names, data[s].to_numpy(), left=left, color=STATUS_COLOURS.get(s, "#999999"),
                    label=t(f"status.{s}", lang), height=0.8)
            left = left + data[s].to_numpy()
        ax.set_xlabel(t("fig.n_targets", lang))
        ax.tick_params(axis="y", labelsize=7)
        fig.legend(loc="outside upper center", ncols=4, frameon=False, fontsize=7)
    return fig


def plot_pit(densities: Sequence[float], *, lang: str = "vi", title: str = "") -> Figure:
    """A PIT histogram (density per equal bin; the dashed line at 1 is calibrated), drawn with
    seaborn's ``histplot`` from the tabulated densities (each bin weighted by its density)."""
    import matplotlib
    import seaborn as sns

    dens = np.asarray(densities, dtype=float)
    edges = np.linspace(0.0, 1.0, dens.size + 1)
    with matplotlib.rc_context(_RC):
        fig = _figure(6.4, 2.6)
        ax = fig.subplots()
        bins = pd.DataFrame({"pit": (edges[:-1] + edges[1:]) / 2, "density": dens})
        sns.histplot(data=bins, x="pit", weights="density", bins=dens.size,
                     binrange=(0.0, 1.0), color=_BLUE,
                     alpha=0.8, edgecolor="white", linewidth=0.3, ax=ax)
        ax.axhline(1.0, color="#333333", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_xlabel(t("fig.pit", lang))
        ax.set_ylabel(t("fig.density", lang))
        if title:
            ax.set_title(title)
    return fig
