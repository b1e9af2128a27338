"""The deep dive's model sections: member comparison, statsmodels diagnostics, interventions.

They read what the batch computed for each deep-dive indicator
(``khforecast.batch.compute.compare_members``): ``model_comparison.csv``,
``diagnostics.json`` and ``without_interventions.csv``, and the ``models.yaml`` the run used.
Nothing is refitted there; the explorer's model switch (:func:`model_widgets`) refits the one
series a statistician changes.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from khforecast.briefing import figures
from khforecast.briefing.explorer import _explore_figure
from khforecast.briefing.i18n import format_number, format_percent, probability_words, t
from khforecast.briefing.kit import Snippet, _e, _img, _name, _prob, _section, _table, _value
from khforecast.briefing.rundir import Run
from khforecast.briefing.sector import _charted_ids
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.model_choices import ModelChoices, check_choices, load_model_choices
from khforecast.engine.models import MODELS
from khforecast.engine.paths import SeriesPaths
from khforecast.errors import KhforecastError

__all__ = ["indicator_diagnostics", "indicator_interventions", "indicator_model_comparison",
           "model_switch_note", "model_widgets", "refit_indicator"]


def _choice(run: Run, indicator_id: str) -> dict[str, Any]:
    """The indicator's settings from the manifest's ``model_choices`` (the default if none)."""
    mc = run.manifest.get("model_choices") or {}
    return (mc.get("indicators") or {}).get(indicator_id) or mc.get("default") or {}


def _file(run: Run, name: str) -> Any:
    return run.path / name


def indicator_model_comparison(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """Rolling-origin errors and interval coverage of each member alone and of the run's choice,
    with the statistician's note from ``models.yaml``."""
    choice = _choice(run, indicator_id)
    parts = []
    if choice.get("note"):
        parts.append(f'<p class="kh-note">{_e(t("msg.models_note", lang, note=choice["note"]))}</p>')
    members = ", ".join(choice.get("models") or ["combination"])
    parts.append(f"<p>{_e(t('msg.models_used', lang, models=members))}</p>")
    path = _file(run, "model_comparison.csv")
    table = pd.read_csv(path, dtype={"indicator_id": str}) if path.is_file() else None
    if table is not None:
        table = table[table["indicator_id"] == indicator_id]
    if table is None or table.empty or not table["n_checks"].any():
        parts.append(f"<p>{_e(t('msg.no_backtest', lang))}</p>")
        return _section("model-comparison", t("h.model_comparison", lang), *parts)
    rows = []
    for r in table.itertuples():
        label = t("label.run_choice", lang) if r.member == "run" else r.member
        rows.append((label, int(r.n_checks), _value(run, indicator_id, r.mae, lang),
                     format_percent(r.coverage80, lang), format_percent(r.coverage95, lang),
                     format_percent(r.fallback, lang), r.models if isinstance(r.models, str) else ""))
    parts.append(_table([t(k, lang) for k in ("col.member", "col.n", "col.mae", "col.coverage80",
                                               "col.coverage95", "col.fallback", "col.model")],
                        rows))
    parts.append(f"<p>{_e(t('msg.comparison_how', lang))}</p>")
    return _section("model-comparison", t("h.model_comparison", lang), *parts)


def indicator_diagnostics(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """The chosen statsmodels member's summary and its residual tests (Ljung-Box, normality)."""
    path = _file(run, "diagnostics.json")
    diag = json.loads(path.read_text(encoding="utf-8")).get(indicator_id) if path.is_file() else None
    if not diag:
        return _section("diagnostics", t("h.diagnostics", lang),
                        f"<p>{_e(t('msg.no_backtest', lang))}</p>")
    if not diag.get("model"):
        return _section("diagnostics", t("h.diagnostics", lang),
                        f"<p>{_e(t('msg.no_statsmodels', lang, reason=diag.get('reason', '')))}</p>")
    lb, jb, ad = diag["ljung_box"], diag["jarque_bera"], diag["anderson_darling"]
    tests = _table([t(k, lang) for k in ("col.test", "col.statistic", "col.p_value", "col.reads")],
                   [(f"Ljung-Box (lag {lb['lag']})", format_number(lb["statistic"], lang, 2),
                     format_number(lb["p_value"], lang, 3),
                     t("msg.lb_ok" if lb["p_value"] >= 0.05 else "msg.lb_bad", lang)),
                    ("Jarque-Bera", format_number(jb["statistic"], lang, 2),
                     format_number(jb["p_value"], lang, 3),
                     t("msg.normal_ok" if jb["p_value"] >= 0.05 else "msg.normal_bad", lang)),
                    ("Anderson-Darling", format_number(ad["statistic"], lang, 2),
                     format_number(ad["p_value"], lang, 3),
                     t("msg.normal_ok" if ad["p_value"] >= 0.05 else "msg.normal_bad", lang))])
    head = t("msg.diagnostics_of", lang, model=diag["model"], n=diag["n_resid"],
             why=t("msg.chosen_file" if diag.get("chosen_by") == "models.yaml" else "msg.chosen_best",
                   lang))
    return _section("diagnostics", t("h.diagnostics", lang), f"<p>{_e(head)}</p>", tests,
                    f'<pre class="kh-summary">{_e(diag["summary"])}</pre>')


def indicator_interventions(run: Run, indicator_id: str, lang: str = "vi") -> Snippet:
    """Fan charts of the run (interventions declared) and of the same fit without them."""
    choice = _choice(run, indicator_id)
    declared = (choice.get("pulse") or []) or choice.get("step") is not None
    path = _file(run, "without_interventions.csv")
    without = pd.read_csv(path, dtype={"indicator_id": str}) if path.is_file() else None
    if without is not None:
        without = without[without["indicator_id"] == indicator_id]
    if not declared or without is None or without.empty:
        return _section("interventions", t("h.interventions", lang),
                        f"<p>{_e(t('msg.no_interventions', lang))}</p>")
    ind = run.catalog.get(indicator_id)
    what = "; ".join(filter(None, [
        ("pulse " + ", ".join(map(str, choice["pulse"]))) if choice.get("pulse") else "",
        f"step {choice['step']}" if choice.get("step") is not None else ""]))
    frame = pd.concat([run.forecasts[(run.forecasts["indicator_id"] == indicator_id)
                                     & (run.forecasts["scenario"] == run.scenario)],
                       without], ignore_index=True)
    parts = [f"<p>{_e(t('msg.interventions_declared', lang, what=what))}</p>"]
    rows = []
    for scenario, label in ((run.scenario, t("label.with_interventions", lang)),
                            ("without_interventions", t("label.without_interventions", lang))):
        fig = figures.plot_indicator(frame, indicator_id, lang=lang, place=run.place,
                                     scenario=scenario, targets=list(ind.targets.values()),
                                     title=f"{indicator_id}. {_name(ind, lang)} — {label}"[:100],
                                     unit=ind.unit, decimals=2)
        parts.append(_img(fig, label))
        last = frame[(frame["scenario"] == scenario) & (frame["place"] == run.place)]
        last = last[last["year"] == last["year"].max()]
        if len(last):
            r = last.iloc[0]
            rows.append((label, int(r["year"]), _value(run, indicator_id, r["q10"], lang),
                         _value(run, indicator_id, r["q50"], lang),
                         _value(run, indicator_id, r["q90"], lang)))
    parts.append(_table([t(k, lang) for k in ("col.variant", "col.year", "col.q10", "col.median",
                                               "col.q90")], rows))
    p = (json.loads(_file(run, "diagnostics.json").read_text(encoding="utf-8"))
         .get(indicator_id, {}).get("p_meet_without") if _file(run, "diagnostics.json").is_file()
         else None)
    a = run.assessment[(run.assessment["indicator_id"] == indicator_id)
                       & (run.assessment["place"] == run.place)
                       & (run.assessment["scenario"] == run.scenario)]
    if p:
        parts.append(_table([t(k, lang) for k in ("col.year", "label.with_interventions",
                                                   "label.without_interventions")],
                            [(int(r.target_year), _prob(r.p_meet, lang),
                              _prob(p.get(str(int(r.target_year))), lang)) for r in a.itertuples()
                             if str(int(r.target_year)) in p]))
    return _section("interventions", t("h.interventions", lang), *parts)


# --------------------------------------------------------------------------------------------
# the explorer's model switch: refit one series with other members or intervention years
# --------------------------------------------------------------------------------------------
def refit_indicator(run: Run, indicator_id: str, *, models: Sequence[str] | None = None,
                    pulse: Sequence[int] | None = None, year: int = 2030
                    ) -> tuple[SeriesPaths, float | None]:
    """Refit one indicator of the run with other ``models`` and/or ``pulse`` years.

    Starts from the ``models.yaml`` the run used (its copy in the run folder), changes that
    indicator only, checks the change against the data (a pulse year the series does not hold
    is a :class:`~khforecast.errors.ParamsError`) and fits that one series with the run's seed
    and number of paths, calibration included. Returns its paths and the probability of meeting
    the ``year`` target (None when that target has no number).
    """
    copy = run.path / "models.yaml"
    choices = load_model_choices(copy) if copy.is_file() else ModelChoices()
    changes: dict[str, Any] = {}
    if models is not None:
        changes["models"] = tuple(models) or None
    if pulse is not None:
        changes["pulse"] = tuple(sorted({int(y) for y in pulse}))
    choices = choices.with_indicator(indicator_id, **changes)
    obs = run.observations[run.observations["indicator_id"] == indicator_id]
    check_choices(choices, run.catalog, obs, place=run.place)
    params = run.manifest.get("params", {})
    paths = Forecaster(sims=int(params.get("sims", 4000)), seed=params.get("seed"),
                       choices=choices).fit(obs, run.catalog, place=run.place).simulate(year)
    series = paths.get(indicator_id)
    if series is None:
        raise KhforecastError(f"{run.path}: no observations of indicator {indicator_id!r}")
    target = run.catalog.get(indicator_id).targets.get(year)
    if target is None or not target.is_quantitative or not series.forecastable:
        return series, None
    try:
        return series, float(target.prob_met(series.paths, series.years))
    except ValueError:  # the target needs years the series does not hold
        return series, None


def model_switch_note(lang: str = "vi") -> Snippet:
    """The line telling readers of the rendered explorer how to switch models live."""
    return Snippet(f'<p class="kh-note">{_e(t("msg.model_switch_static", lang))}</p>')


def model_widgets(run: Run, lang: str = "vi", indicator_id: str = "") -> Any:
    """The live model switch (ipywidgets): pick an indicator, a member set, pulse years.

    Each change refits that one series (seconds) and redraws p_meet and the fan chart.
    """
    import ipywidgets as w

    ids = [i for i in _charted_ids(run, None, run.scenario) if run.draws(i, run.scenario) is not None]
    if not ids:
        return Snippet(f"<p>{_e(t('msg.no_quant_data', lang))}</p>")
    pick = w.Dropdown(options=[(f"{i}. {_name(run.catalog.get(i), lang)}"[:80], i) for i in ids],
                      value=indicator_id if indicator_id in ids else ids[0],
                      description=t("label.indicator", lang))
    sets = [(t("label.run_choice", lang), "")] + [(m, m) for m in MODELS]
    member = w.Dropdown(options=sets, value="", description=t("col.member", lang))
    pulses = w.Text(value="", placeholder="2020, 2021", description=t("label.pulse_years", lang))
    label, image = w.HTML(), w.HTML()

    def update(_change: Any = None) -> None:
        try:
            years = [int(x) for x in pulses.value.replace(";", ",").split(",") if x.strip()]
            series, p = refit_indicator(run, pick.value, models=[member.value] if member.value else None,
                                        pulse=years if pulses.value.strip() else None)
        except (ValueError, KhforecastError) as exc:
            label.value = f"<b>{_e(exc)}</b>"
            return
        label.value = (f"<b>{_e(series.model)}: {_e(t('label.probability', lang, year=2030, p=format_percent(p, lang), words=probability_words(p, lang)))}</b>"
                       if p is not None else f"<b>{_e(series.model)}</b>")
        image.value = _img(_explore_figure(run, series, lang), pick.label)

    for control in (pick, member, pulses):
        control.observe(update, names="value")
    update()
    return w.VBox([pick, member, pulses, label, image])
