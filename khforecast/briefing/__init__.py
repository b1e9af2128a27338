"""The pieces of a briefing: HTML snippets and tables the notebooks display, one call per cell.

A notebook loads a run folder written by ``khforecast run`` with :func:`load_run` and calls one
function per section; each returns a :class:`Snippet`, a ``str`` of HTML that Jupyter displays.
Nothing here fits a model: every number comes from the run's ``assessment.csv``,
``forecasts.csv`` and the other files the batch wrote. Every text that comes from users or data
(names, notes, sources, agency names, targets) is HTML-escaped, so ``<script>`` shows as text.

The notebooks use this package's names (``from khforecast import briefing``); each lives in one module:
:mod:`.rundir` (the run folder), :mod:`.kit` (the HTML kit), :mod:`.sector`, :mod:`.overview`,
:mod:`.deep_dive`, :mod:`.explorer`, :mod:`.tasks` (the task tracker, scorecards, agencies at risk
and data requests), one per notebook.
"""
from __future__ import annotations

from khforecast.briefing.comparison import (
    compared_places,
    national_status_chart,
    national_table,
    national_title,
    province_comparison,
)
from khforecast.briefing.deep_dive import (
    indicator_calibration,
    indicator_data,
    indicator_distribution,
    indicator_models,
    indicator_scenarios,
    indicator_title,
)
from khforecast.briefing.explorer import (
    explorable_ids,
    explore_scenario,
    explorer_note,
    scenario_comparison,
    scenario_widgets,
)
from khforecast.briefing.kit import (
    Snippet,
)
from khforecast.briefing.model_choice import (
    indicator_diagnostics,
    indicator_interventions,
    indicator_model_comparison,
    model_switch_note,
    model_widgets,
    refit_indicator,
)
from khforecast.briefing.overview import (
    biggest_risks,
    data_coverage,
    largest_accelerations,
    overview_title,
    status_by_sector,
)
from khforecast.briefing.rundir import (
    RUN_FILES,
    Run,
    find_run_dir,
    load_run,
)
from khforecast.briefing.sector import (
    annex,
    fan_charts,
    headline,
    headline_counts,
    key_messages_section,
    look_back_2025,
    method_note,
    outlook_2030,
    required_change,
    sector_title,
    targets_in_full,
)
from khforecast.briefing.tasks import agencies_at_risk, data_gaps

__all__ = [
    "compared_places",
    "national_status_chart",
    "national_table",
    "national_title",
    "province_comparison",
    "RUN_FILES",
    "Run",
    "Snippet",
    "agencies_at_risk",
    "annex",
    "biggest_risks",
    "data_coverage",
    "data_gaps",
    "explorable_ids",
    "explore_scenario",
    "explorer_note",
    "fan_charts",
    "find_run_dir",
    "headline",
    "headline_counts",
    "indicator_calibration",
    "key_messages_section",
    "indicator_data",
    "indicator_diagnostics",
    "indicator_distribution",
    "indicator_interventions",
    "indicator_model_comparison",
    "indicator_models",
    "indicator_scenarios",
    "indicator_title",
    "largest_accelerations",
    "load_run",
    "look_back_2025",
    "method_note",
    "model_switch_note",
    "model_widgets",
    "outlook_2030",
    "overview_title",
    "refit_indicator",
    "required_change",
    "scenario_comparison",
    "scenario_widgets",
    "sector_title",
    "status_by_sector",
    "targets_in_full",
]
