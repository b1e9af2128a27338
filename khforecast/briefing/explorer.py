"""The sections and widgets of the scenario explorer notebook (``scenario_explorer.ipynb``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from khforecast.briefing import figures
from khforecast.briefing.i18n import (
    format_percent,
    probability_words,
    scenario_name,
    t,
)
from khforecast.briefing.kit import (
    Snippet,
    _banner,
    _decimals,
    _e,
    _img,
    _name,
    _prob,
    _run_info,
    _section,
    _table,
)
from khforecast.briefing.key_messages import territory_html
from khforecast.briefing.rundir import RUN_FILES, Run
from khforecast.briefing.chart_kit import QUANTILE_COLUMNS as _QUANTILE_COLUMNS
from khforecast.briefing.sector import _charted_ids, _observed
from khforecast.engine.paths import SamplePaths, SeriesPaths
from khforecast.engine.scenarios import Scenario, apply_scenario, load_scenarios
from khforecast.briefing.target_scale import unit_label
from khforecast.errors import KhforecastError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure  # matplotlib loads lazily, in briefing.figures

__all__ = [
    "explorable_ids",
    "explore_scenario",
    "explorer_note",
    "scenario_comparison",
    "scenario_widgets",
]


def scenario_comparison(run: Run, lang: str = "vi") -> Snippet:
    """All scenarios of the run compared: what each assumes, the 2030 probability of every
    indicator with data under each, and each indicator's scenarios charted side by side."""
    own = run.path / RUN_FILES["scenarios"]  # the definitions the run used, copied by the batch
    defs = load_scenarios(own if own.is_file() else None)
    rows = run.assessment[(run.assessment["place"] == run.place)
                          & (run.assessment["target_year"] == 2030)
                          & run.assessment["p_meet"].notna()]
    ids = [i for i in run.catalog.indicators if i in set(rows["indicator_id"])]
    table = []
    for ind_id in ids:
        sub = rows[rows["indicator_id"] == ind_id].set_index("scenario")
        table.append([ind_id, _name(run.catalog.get(ind_id), lang)] +
                     [_prob(sub.at[s, "p_meet"], lang) if s in sub.index else "–"
                      for s in run.scenarios])
    names = [scenario_name(s, lang) for s in run.scenarios]
    body = (_table([t("col.id", lang), t("col.indicator", lang)] + names, table)
            if table else f"<p>{_e(t('msg.no_rows', lang))}</p>")
    described = _table([t("col.scenario", lang), t("col.note", lang)],
                       [(scenario_name(s, lang), getattr(defs.get(s), "description", ""))
                        for s in run.scenarios])
    note = "" if len(run.scenarios) > 1 else f"<p>{_e(t('msg.no_scenarios', lang))}</p>"
    charts = []
    if len(run.scenarios) > 1:
        for ind_id in [i for i in ids if i in _charted_ids(run, None, run.scenario)]:
            ind = run.catalog.get(ind_id)
            title = f"{ind_id}. {_name(ind, lang)}"
            fig = figures.plot_scenarios(run.forecasts, ind_id, run.scenarios, lang=lang,
                                         place=run.place, targets=list(ind.targets.values()),
                                         title=title[:90], unit=ind.unit,
                                         decimals=_decimals(run, ind_id))
            charts.append(f'<figure class="kh-fig">{_img(fig, title)}'
                          f"<figcaption>{_e(title)}</figcaption></figure>")
    head = (f'{_banner(run, lang)}<h1 id="title">{_e(t("h.scenario_explorer", lang))}</h1>'
            f"{_run_info(run, lang, t('h.scenario_explorer', lang))}{territory_html(run, None, lang)}")
    return Snippet(head + _section("scenarios", t("h.scenarios", lang), note, described, body,
                                   *charts))


def explorer_note(lang: str = "vi") -> Snippet:
    """The line telling readers of the rendered explorer how to move the scenario live."""
    return Snippet(f'<p class="kh-note">{_e(t("msg.explorer_static", lang))}</p>')


def _bau_series(run: Run, indicator_id: str) -> Any:
    """The run's business-as-usual paths of one indicator as a ``SeriesPaths`` (from draws.npz)."""
    drawn = run.draws(indicator_id, "bau")
    if drawn is None:
        raise KhforecastError(f"{run.path}: draws.npz holds no bau paths of indicator "
                              f"{indicator_id!r}")
    years, paths = drawn
    ind = run.catalog.get(indicator_id)
    obs = _observed(run, indicator_id, run.place).set_index("year")["value"]
    observed = np.array([obs.get(int(y), np.nan) for y in years], dtype=float)
    last_year = int(obs.index.max())
    return SeriesPaths(indicator_id=indicator_id, place=run.place, domain=str(ind.domain),
                       observed_as=str(ind.observed_as), years=years.astype(int),
                       observed=observed, paths=paths.astype(float), n_obs=int(obs.size),
                       last_year=last_year, last_value=float(obs[last_year]), model="run")


def _run_p(run: Run, indicator_id: str, year: int) -> float | None:
    """The briefing's probability of meeting ``indicator_id``'s ``year`` target under bau."""
    a = run.assessment
    p = a.loc[(a["indicator_id"] == indicator_id) & (a["scenario"] == "bau")
              & (a["place"] == run.place) & (a["target_year"] == year), "p_meet"]
    return float(p.iloc[0]) if len(p) and pd.notna(p.iloc[0]) else None


def explore_scenario(run: Run, indicator_id: str, *, factor: float = 1.0, shock: float = 0.0,
                     start_year: int = 2026, year: int = 2030) -> tuple[Any, float | None]:
    """Transform the run's bau paths of one indicator: accelerate by ``factor`` from
    ``start_year``, then shift by a relative ``shock`` in ``start_year``: negative is adverse
    (against the indicator's good direction, whichever way that is), positive favourable.

    Returns the transformed ``SeriesPaths`` and the probability of meeting the ``year`` target
    (None when that target has no number). Nothing is refitted. The probability is the
    briefing's (from every simulated path of the run) plus the change the transform makes on
    the paths kept in ``draws.npz``, so with no change it equals the briefing's exactly.
    """
    s = _bau_series(run, indicator_id)
    paths = SamplePaths(place=run.place, scenario="bau", until=int(s.years.max()),
                        series={(indicator_id, run.place): s}, n_sims=s.paths.shape[0])
    ind = run.catalog.get(indicator_id)
    if factor != 1.0:
        paths = apply_scenario(paths, Scenario("explore", "accelerate", factor=factor,
                                               start_year=start_year), run.catalog)
    if shock:
        size = abs(shock) if shock < 0 else (ind.direction or 1) * abs(shock)
        paths = apply_scenario(paths, Scenario("explore", "shock", year=start_year, size=size,
                                               relative=True, adverse=shock < 0), run.catalog)
    out = paths.get(indicator_id)
    target = ind.targets.get(year)
    base = _run_p(run, indicator_id, year)
    if target is None or not target.is_quantitative or base is None:
        return out, None
    if factor == 1.0 and not shock:
        return out, base
    try:
        change = float(target.prob_met(out.paths, out.years)) - float(
            target.prob_met(s.paths, s.years))
    except ValueError:  # the target needs years the series does not hold
        return out, None
    return out, float(np.clip(base + change, 0.0, 1.0))


def _explore_figure(run: Run, series: SeriesPaths, lang: str, neutral: bool) -> Figure:
    """The explored fan chart: the briefing's own bands when nothing is changed, else the
    same 50/80/95 % bands from the transformed paths."""
    ind = run.catalog.get(series.indicator_id)
    f = run.forecasts
    frame = f[(f["indicator_id"] == series.indicator_id) & (f["place"] == run.place)
              & (f["scenario"] == "bau")]
    if not neutral:
        levels = (0.025, 0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95, 0.975)
        q = np.quantile(series.paths, levels, axis=0)
        frame = pd.DataFrame({"indicator_id": series.indicator_id, "place": run.place,
                              "scenario": "bau", "year": series.years,
                              "observed": series.observed, "mean": series.paths.mean(axis=0),
                              **{c: q[i] for i, c in enumerate(_QUANTILE_COLUMNS)}})
    return figures.plot_indicator(frame, series.indicator_id, lang=lang, place=run.place,
                                  scenario="bau", targets=list(ind.targets.values()),
                                  title=f"{ind.id}. {_name(ind, lang)}"[:90],
                                  unit=unit_label(ind, lang, level=True),
                                  decimals=_decimals(run, ind.id), domain=str(ind.domain))


def explorable_ids(run: Run) -> list[str]:
    """Indicators the explorer can simulate: bau paths in ``draws.npz`` and a 2030 probability."""
    return [i for i in _charted_ids(run, None, "bau")
            if _run_p(run, i, 2030) is not None and run.draws(i, "bau") is not None]


def scenario_widgets(run: Run, lang: str = "vi", indicator_id: str = "") -> Any:
    """The live explorer (ipywidgets): pick an indicator, move acceleration, shock, start year.

    Returns a widget box; the probability and the fan chart update on every change.
    """
    import ipywidgets as w

    ids = explorable_ids(run)
    if not ids:
        return Snippet(f"<p>{_e(t('msg.no_quant_data', lang))}</p>")
    pick = w.Dropdown(options=[(f"{i}. {_name(run.catalog.get(i), lang)}"[:80], i) for i in ids],
                      value=indicator_id if indicator_id in ids else ids[0],
                      description=t("label.indicator", lang))
    factor = w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.1,
                           description=t("label.acceleration", lang))
    shock = w.FloatSlider(value=0.0, min=-0.5, max=0.5, step=0.01,
                          description=t("label.shock", lang))  # < 0 adverse, > 0 favourable
    start = w.IntSlider(value=2026, min=2025, max=2030, description=t("label.start_year", lang))
    label, image = w.HTML(), w.HTML()

    def update(_change: Any = None) -> None:
        series, p = explore_scenario(run, pick.value, factor=factor.value, shock=shock.value,
                                     start_year=start.value)
        label.value = (f"<b>{_e(t('label.probability', lang, year=2030, p=format_percent(p, lang), words=probability_words(p, lang)))}</b>"
                       if p is not None else "")
        neutral = factor.value == 1.0 and not shock.value
        image.value = _img(_explore_figure(run, series, lang, neutral), pick.label)

    for control in (pick, factor, shock, start):
        control.observe(update, names="value")
    update()
    return w.VBox([pick, factor, shock, start, label, image])
