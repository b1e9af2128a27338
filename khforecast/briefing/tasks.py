"""Briefing sections on the plan's tasks and departments: the tracker, scorecards, data requests.

The task tracker (``task_tracker.ipynb``) shows all Appendix II tasks with the plan's
implementation period and, separately, the status the departments reported; a department
scorecard (``department_scorecard.ipynb``) shows one current lead department's indicators, its
tasks and the data it owes. Departments are named by one rule (:func:`lead_label`): the plan's
name, and the current body only where it changed. Nothing here decides a task's status: that
is :mod:`khforecast.assess.tasks`, read from the run folder's ``task_status.csv``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pandas as pd

from khforecast.assess.data_requests import data_requests
from khforecast.assess.tasks import (
    TASK_REPORTS_FILE, TASK_STATES, TASK_STATUS_FILE, task_status_frame,
)
from khforecast.briefing import agency_names
from khforecast.briefing.i18n import LANGS, check_lang, format_signed, format_target_text, t
from khforecast.briefing.kit import (
    Snippet, _banner, _e, _name, _prob, _rows, _run_info, _section, _status, _table, _value,
)
from khforecast.briefing.key_messages import territory_html
from khforecast.briefing.rundir import Run
from khforecast.briefing.target_scale import Footnotes, target_label
from khforecast.errors import CatalogError
from khforecast.observations.tasks import TASK_STATUS_LABELS
from khforecast.plan.catalog import Indicator, Task
from khforecast.plan.departments import (
    current_departments, department_items, department_slug, leads_of, resolve_department,
)

__all__ = ["agencies_at_risk", "data_gaps", "department_data_requests",
           "department_indicators", "department_tasks", "lead_label", "run_task_status",
           "scorecard_title", "task_label", "task_rows",
           "tracker_by_department", "tracker_counts", "tracker_tasks", "tracker_title"]



# --------------------------------------------------------------------------------------------
# names and labels
# --------------------------------------------------------------------------------------------
def lead_label(run: Run, item: Indicator | Task, lang: str = "vi") -> str:
    """The one way pages name a row's or task's lead: the plan's name, plus "now X" if it changed.

    Each lead is followed by its own successor (``Sở VH&TT (nay là Sở Văn hóa, Thể thao và Du
    lịch); Sở LĐTB&XH (nay là Sở Nội vụ)``); a body that kept its name gets no "now"; English
    pages gloss every name (:mod:`khforecast.briefing.agency_names`).
    """
    return agency_names.lead_label(run.catalog, item, lang)


def task_label(state: str, lang: str = "vi") -> str:
    """A task state in words (``no_report`` -> "chưa có báo cáo", ``overdue`` -> "quá hạn")."""
    if state == "no_report":
        return t("task.no_report", lang)
    if state == "overdue":
        return t("msg.past_due", lang)
    return TASK_STATUS_LABELS[state][LANGS.index(check_lang(lang))]


def _badge(state: str, lang: str) -> str:
    return f'<span class="kh-task kh-task-{_e(state)}">{_e(task_label(state, lang))}</span>'


# --------------------------------------------------------------------------------------------
# the run's task status
# --------------------------------------------------------------------------------------------
def run_task_status(run: Run) -> pd.DataFrame:
    """The run's ``task_status.csv``, or (an older run folder) every task without a report."""
    path = run.path / TASK_STATUS_FILE
    if path.is_file():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["n_reports"] = frame["n_reports"].astype(int)
        for col in ("lead_changed", "report_before_period_end"):
            frame[col] = frame[col] == "True"
        return frame
    return task_status_frame(run.catalog, None, run.as_of)


def _reports_illustrative(frame: pd.DataFrame) -> bool:
    return bool((frame["reported_by"].str.strip().str.lower() == "illustrative").any())


def task_rows(run: Run, task_ids: Sequence[str] | None = None, lang: str = "vi") -> Snippet:
    """A table of tasks: id, task, lead, the plan's period, the reported status and its report.

    The period and the reported status are separate columns: the period is the plan's, the
    status is only what a report said (grey "chưa có báo cáo" without one); "quá hạn" is added
    to the reported status only when :mod:`khforecast.assess.tasks` says overdue.
    """
    frame = run_task_status(run)
    if task_ids is not None:
        frame = frame[frame["task_id"].isin(set(task_ids))]
    tasks = {tk.id: tk for tk in run.catalog.tasks}
    rows = []
    for r in frame.itertuples():
        if r.state == "no_report":
            status = _badge("no_report", lang)
        else:
            status = _badge(r.reported_status, lang)
            if r.state == "overdue":
                status += " " + _badge("overdue", lang)
        report = ""
        if r.reported_as_of:
            report = _e(t("task.reported", lang, date=r.reported_as_of))
            if r.evidence:
                report += f"; {_e(r.evidence)}"
            if r.note:
                report += f"; {_e(r.note)}"
            if r.report_before_period_end:
                report += f' <span class="kh-task-stale">({_e(t("task.stale", lang))})</span>'
        rows.append((r.task_id, r.title_vi, lead_label(run, tasks[r.task_id], lang),
                     t("task.period", lang, period=r.period_text), Snippet(status),
                     Snippet(report)))
    if not rows:
        return Snippet(f"<p>{_e(t('msg.no_rows', lang))}</p>")
    return Snippet(_table([t(k, lang) for k in ("col.id", "col.task", "col.lead", "col.period",
                                                "col.reported_status", "col.report")],
                          rows, "kh-tasks"))


# --------------------------------------------------------------------------------------------
# the province-wide tracker
# --------------------------------------------------------------------------------------------
def tracker_title(run: Run, lang: str = "vi") -> Snippet:
    """Title, run, where the reports came from (or that there were none), and the overdue rule."""
    check_lang(lang)
    frame = run_task_status(run)
    reports = run.path / TASK_REPORTS_FILE
    if reports.is_file():
        rep = pd.read_csv(reports, dtype=str, keep_default_na=False)
        files = ", ".join(sorted({p.rsplit("/", 1)[-1] for p in rep["file"]})) or "–"
        source = t("msg.tasks_reports", lang, n=len(rep), files=files, date=run.as_of.isoformat())
    else:
        source = t("msg.tasks_no_reports", lang)
    banner = (f'<div class="kh-banner kh-illustrative" role="alert">'
              f'{_e(t("msg.tasks_illustrative", lang))}</div>'
              if _reports_illustrative(frame) else "")
    return Snippet(f'{_banner(run, lang)}{banner}<h1 id="title">{_e(t("h.task_tracker", lang))}'
                   f"</h1>{_run_info(run, lang)}{territory_html(run, None, lang)}<p>{_e(source)}</p>"
                   f'<p class="kh-note">{_e(t("msg.tasks_rule", lang))}</p>')


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    """Tasks by reported status (``no_report`` without one), then how many of them are overdue."""
    reported = frame["reported_status"].where(frame["reported_status"] != "", "no_report")
    counts = reported.value_counts()
    out = {s: int(counts.get(s, 0)) for s in TASK_STATES if s != "overdue"}
    out["overdue"] = int((frame["state"] == "overdue").sum())
    return out


def tracker_counts(run: Run, lang: str = "vi") -> Snippet:
    """How many of the tasks are in each state: one card per state that occurs."""
    frame = run_task_status(run)
    cards = "".join(f'<div class="kh-card kh-task-{s}"><span class="kh-count" '
                    f'data-task-state="{s}">{n}</span><span class="kh-label">'
                    f"{_e(task_label(s, lang))}</span></div>"
                    for s, n in _counts(frame).items() if n)
    lead = f"<p>{_e(t('col.n_tasks', lang))}: {len(frame)}</p>"
    return _section("task-counts", t("h.task_counts", lang), lead,
                    f'<div class="kh-cards">{cards}</div>')


def _scorecards(run: Run) -> set[str]:
    """The departments this run renders a scorecard for (its params' ``scorecards``)."""
    wanted = list(run.manifest.get("params", {}).get("scorecards") or ())
    if wanted == ["all"]:
        return set(current_departments(run.catalog))
    found = set()
    for name in wanted:
        with contextlib.suppress(CatalogError):
            found.add(resolve_department(run.catalog, name))
    return found


def tracker_by_department(run: Run, lang: str = "vi") -> Snippet:
    """Tasks by current lead department and state, linked to the scorecards the run renders."""
    frame = run_task_status(run)
    shown = [s for s, n in _counts(frame).items() if n]
    rows = []
    linked = _scorecards(run)
    for dept, sub in frame.groupby("lead_current", sort=False):
        counts = _counts(sub)
        label = agency_names.agency_label(run.catalog, dept, lang)
        link = (Snippet(f'<a href="scorecard_{_e(department_slug(dept))}.html">{_e(label)}</a>')
                if dept in linked else label)
        rows.append([link, len(sub), *(counts[s] for s in shown)])
    return _section("task-by-department", t("h.task_by_department", lang), _table(
        [t("col.department", lang), t("col.n_tasks", lang), *(task_label(s, lang) for s in shown)],
        rows))


def tracker_tasks(run: Run, lang: str = "vi") -> Snippet:
    """Every task, group by group."""
    parts = []
    for gid, group in run.catalog.task_groups.items():
        ids = [tk.id for tk in run.catalog.tasks if tk.group == gid]
        if ids:
            name = group.name_vi if lang == "vi" else (group.name_en or group.name_vi)
            parts.append(f'<h3 id="group-{_e(gid)}">{_e(gid)}. {_e(name)}</h3>')
            parts.append(task_rows(run, ids, lang))
    return _section("task-list", t("h.task_list", lang), *parts)


# --------------------------------------------------------------------------------------------
# a department's scorecard
# --------------------------------------------------------------------------------------------
def scorecard_title(run: Run, department: str, lang: str = "vi") -> Snippet:
    """The department's name, the run, and how many indicators and tasks it leads."""
    check_lang(lang)
    inds, tasks = department_items(run.catalog, department)
    head = t("h.scorecard", lang, name=agency_names.agency_label(
        run.catalog, resolve_department(run.catalog, department), lang))
    facts = t("msg.dept_leads", lang, n_ind=len(inds), n_tasks=len(tasks))
    return Snippet(f'{_banner(run, lang)}<h1 id="title">{_e(head)}</h1>{_run_info(run, lang)}'
                   f"{territory_html(run, lang=lang, ids=[i.id for i in inds])}<p>{_e(facts)}</p>")


def _change(r: Any, run: Run, lang: str) -> str:
    if pd.isna(r.required_annual_change):
        return "–"
    d = 2
    hist = ("–" if pd.isna(r.historical_annual_change)
            else format_signed(r.historical_annual_change, lang, d))
    return f"{format_signed(r.required_annual_change, lang, d)} ({hist})"


def department_indicators(run: Run, department: str, lang: str = "vi",
                          scenario: str | None = None) -> Snippet:
    """The department's indicators: target, last value, probability, status, change needed."""
    inds, _ = department_items(run.catalog, department)
    ids = {i.id for i in inds}
    rows = []
    for r in _rows(run, year=2030, scenario=scenario).itertuples():
        if r.indicator_id not in ids:
            continue
        ind = run.catalog.get(r.indicator_id)
        last = ("–" if pd.isna(r.last_value) else
                f"{_value(run, r.indicator_id, r.last_value, lang)} ({int(r.last_year)})")
        rows.append((r.indicator_id, _name(ind, lang), format_target_text(r.target_text, lang), last,
                     _prob(r.p_meet, lang), _status(r.status, lang), _change(r, run, lang),
                     lead_label(run, ind, lang)))
    body = (_table([t(k, lang) for k in ("col.id", "col.indicator", "col.target",
                                         "col.last_value", "col.probability", "col.status",
                                         "col.change_needed", "col.lead")], rows)
            if rows else f"<p>{_e(t('msg.no_dept_indicators', lang))}</p>")
    return _section("dept-indicators", t("h.scorecard_indicators", lang), body)


def department_tasks(run: Run, department: str, lang: str = "vi") -> Snippet:
    """The department's tasks with the plan's period and the reported status."""
    _, tasks = department_items(run.catalog, department)
    body = (task_rows(run, [tk.id for tk in tasks], lang) if tasks
            else f"<p>{_e(t('msg.no_dept_tasks', lang))}</p>")
    return _section("dept-tasks", t("h.scorecard_tasks", lang), body)


# --------------------------------------------------------------------------------------------
# data requests
# --------------------------------------------------------------------------------------------
def _requests(run: Run, ids: set[str] | None, lang: str, scenario: str | None,
              notes: Footnotes) -> list[Any]:
    """The request rows of the indicators ``ids`` could not assess (their target's plan text
    in ``notes`` where it differs from the reading shown)."""
    # the 2030 targets' gaps, then those of indicators with only a 2025 target to assess
    req = [data_requests(run.catalog, run.assessment, place=run.place,
                         scenario=scenario or run.scenario, until=run.as_of.year - 1,
                         target_year=year) for year in (2030, 2025)]
    req = pd.concat([req[0], req[1][~req[1]["indicator_id"].isin(req[0]["indicator_id"])]],
                    ignore_index=True)
    order = {ind_id: k for k, ind_id in enumerate(run.catalog.indicators)}
    req = req.iloc[req["indicator_id"].map(order).argsort(kind="stable")]
    if ids is not None:
        req = req[req["indicator_id"].isin(ids)]
    rows = []
    for r in req.itertuples():
        years = (f"{r.years_from}–{r.years_to}" if r.years_from < r.years_to
                 else str(r.years_to))
        send = t("msg.send_flow" if r.observed_as == "flow" else "msg.send_level", lang,
                 years=years, unit=r.unit or "–")
        if r.n_missing:
            send += t("msg.send_more", lang, n=r.n_missing)
        source = (f"{r.source_vi if lang == 'vi' else r.source_en} ({t('kind.' + r.kind, lang)}"
                  f"; {t('freq.' + r.frequency, lang)})")
        ind = run.catalog.get(r.indicator_id)
        year = 2030 if getattr(ind.targets.get(2030), "kind", "none") != "none" else 2025
        label = target_label(ind, ind.targets.get(year), lang)
        target = _e(label.text) + notes.mark(label.footnote)
        if year == 2025:
            target += f" ({_e(t('fig.target', lang, year=year))})"
        target = Snippet(target)
        rows.append((r.indicator_id, _name(ind, lang), target, _status(r.status, lang), source,
                     r.publisher_vi if lang == "vi" else r.publisher_en,
                     lead_label(run, ind, lang), send))
    return rows


def _request_section(key: str, title: str, rows: list[Any], lang: str, lead: str = "",
                     notes: Footnotes | None = None) -> Snippet:
    if not rows:
        return _section(key, title, lead, f"<p>{_e(t('msg.no_requests', lang))}</p>")
    table = _table([t(k, lang) for k in ("col.id", "col.indicator", "col.target_2030",
                                         "col.status", "col.source_expected", "col.publisher",
                                         "col.responsible", "col.what_to_send")], rows,
                   "kh-requests")
    return _section(key, title, lead, f"<p>{_e(t('msg.requests', lang, n=len(rows)))}</p>",
                    table, notes.html() if notes else "", f'<p class="kh-note">{_e(t("msg.sources_reading", lang))}</p>')


def _assessed(rows: pd.DataFrame) -> bool:
    """True when at least one row has a result: a probability, or a target met or missed."""
    return bool(rows["status"].isin(("met", "missed", "on_track", "at_risk", "off_track")).any())


def department_data_requests(run: Run, department: str, lang: str = "vi",
                             scenario: str | None = None) -> Snippet:
    """The data the department owes: its indicators the run could not assess."""
    inds, _ = department_items(run.catalog, department)
    notes = Footnotes()
    return _request_section("dept-data-requests", t("h.data_requests", lang),
                            _requests(run, {i.id for i in inds}, lang, scenario, notes), lang,
                            notes=notes)


def data_gaps(run: Run, sector: str, lang: str = "vi",
                         scenario: str | None = None) -> Snippet:
    """A sector's data gaps as a request list: source, publisher, frequency, who, what to send.

    When no indicator of the sector could be assessed, it says so first ("chưa đánh giá được").
    """
    ids = {i.id for i in run.catalog.in_sector(sector)}
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    lead = ("" if _assessed(rows) or rows.empty
            else f"<p><strong>{_e(t('msg.not_assessable', lang))}</strong></p>")
    notes = Footnotes()
    return _request_section("data-gaps", t("h.data_gaps", lang),
                            _requests(run, ids, lang, scenario, notes), lang, lead, notes)


def agencies_at_risk(run: Run, sector: str, lang: str = "vi",
                        scenario: str | None = None) -> Snippet:
    """The current departments leading a sector's indicators at risk or off track, with their
    tasks' reported status (never a "past due" guessed from the year).

    With no indicator at risk it says so, or, when nothing could be assessed, "chưa đánh giá
    được" rather than "no indicator at risk".
    """
    rows = _rows(run, year=2030, scenario=scenario, sector=sector)
    risky = rows[rows["status"].isin(("at_risk", "off_track"))]
    title = t("h.agencies_at_risk", lang)
    if risky.empty:
        msg = "msg.no_risk" if _assessed(rows) else "msg.not_assessable"
        return _section("agencies-at-risk", title, f"<p>{_e(t(msg, lang))}</p>")
    by_dept: dict[str, list[str]] = {}
    for ind_id in risky["indicator_id"]:
        for lead in leads_of(run.catalog, run.catalog.get(ind_id)):
            by_dept.setdefault(lead.current, []).append(ind_id)
    parts = []
    for k, (dept, ids) in enumerate(by_dept.items()):
        names = ", ".join(f"{i}. {_name(run.catalog.get(i), lang)}" for i in ids)
        _, tasks = department_items(run.catalog, dept)
        parts.append(f'<h3 id="agency-{k}">{_e(agency_names.agency_label(run.catalog, dept, lang))}'
                     "</h3><p><strong>"
                     f"{_e(t('col.indicators_at_risk', lang))}:</strong> {_e(names)}</p>"
                     + (task_rows(run, [tk.id for tk in tasks], lang) if tasks else ""))
    return _section("agencies-at-risk", title, *parts)
