"""Notebooks executed by the batch (papermill) and their HTML (nbconvert), on real runs.

The runs are built once per session by the conftest fixtures: the bundled data in Vietnamese
(sector II, overview, deep dive 02, scenario explorer) and the illustrative data in English
(sector V, overview, and a deliberately broken notebook).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from conftest import NOTE, TESTS

from khforecast.assess.statuses import HEADLINE_STATUSES, STATUS_ORDER
from khforecast.batch.notebooks import NotebookJob, execute_notebook, notebooks_dir
from khforecast.briefing.render import network_references
from khforecast.plan.catalog import load_catalog

REPO = TESTS.parent
TEMPLATES = ("sector_briefing", "overview", "indicator_deep_dive", "scenario_explorer",
             "task_tracker", "department_scorecard")


def _manifest(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(run["run_dir"]) / "manifest.json").read_text(encoding="utf-8"))


def _ok_notebooks(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _manifest(run)["notebooks"] if n["status"] == "ok"]


def _html(run: dict[str, Any], name: str) -> str:
    return (Path(run["run_dir"]) / "html" / f"{name}.html").read_text(encoding="utf-8")


def _assessment(run: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(Path(run["run_dir"]) / "assessment.csv", dtype={"indicator_id": str})


def _counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-status="(\w+)">(\d+)<', html)}


# --------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["bundled", "illustrative"])
def test_executed_notebooks_have_no_error_and_record_their_parameters(which, request):
    run = request.getfixturevalue(which)
    done = _ok_notebooks(run)
    assert len(done) >= 2
    for entry in done:
        nb = nbformat.read(Path(run["run_dir"]) / entry["notebook"], as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert errors == [], entry["name"]
        assert nb.metadata.papermill.parameters == entry["parameters"], entry["name"]
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1


def test_tiny_parameters_notebook_gets_its_parameters(tmp_path):
    job = NotebookJob("parameters", TESTS / "notebooks" / "parameters.ipynb",
                      {"greeting": "xin chào ", "count": 2}, "parameters")
    (tmp_path / "notebooks").mkdir()
    entry = execute_notebook(job, tmp_path)
    assert entry["status"] == "ok", entry["error"]
    nb = nbformat.read(tmp_path / "notebooks" / "parameters.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters == {"greeting": "xin chào ", "count": 2}
    assert nb.cells[-1].outputs[0].text == "xin chào xin chào \n"
    page = (tmp_path / "html" / "parameters.html").read_text(encoding="utf-8")
    assert "xin chào xin chào" in page and "print(greeting" not in page


# --------------------------------------------------------------------------------------------
# HTML: no code, no network, escaped, localised
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["bundled", "illustrative"])
def test_html_hides_code_and_loads_nothing_from_the_network(which, request):
    run = request.getfixturevalue(which)
    pages = [Path(run["run_dir"]) / "index.html"] + [
        Path(run["run_dir"]) / n["html"] for n in _manifest(run)["notebooks"] if n["html"]]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "load_run(" not in text and "from khforecast import" not in text, page.name
        assert "hl-ipython3" not in text and 'class="jp-CodeMirrorEditor' not in text, page.name
        assert "In&nbsp;[" not in text, page.name
        assert network_references(text) == [], page.name
        assert re.findall(r'<img[^>]+src="(?!data:image/png;base64,)', text) == [], page.name
        assert "<script src" not in text, page.name


def test_html_has_a_table_of_contents(bundled):
    page = _html(bundled, "sector_II")
    toc = re.search(r'<nav class="kh-toc">(.*?)</nav>', page, re.DOTALL)
    assert toc is not None
    for anchor in ("headline", "look-back-2025", "outlook-2030", "fan-charts", "data-gaps",
                   "method"):
        assert f'href="#{anchor}"' in toc.group(1) and f'id="{anchor}"' in page


def test_a_note_holding_script_is_shown_as_text(bundled):
    page = _html(bundled, "sector_II")
    note = re.search(r'<div class="kh-note"><strong>[^<]*</strong> (.*?)</div>', page).group(1)
    assert note.startswith("&lt;script&gt;alert(") and html.unescape(note) == NOTE
    assert "<script" not in page


def test_vietnamese_and_english_briefings(bundled, illustrative):
    vi = _html(bundled, "sector_II")
    assert '<html lang="vi">' in vi
    assert "Triển vọng đến năm 2030" in vi and "Mục tiêu năm 2025: nhìn lại" in vi
    assert re.search(r"\d+,\d %", vi)  # 2,5 % (vi)
    en = _html(illustrative, "sector_V")
    assert '<html lang="en">' in en
    assert "Outlook to 2030" in en and "The 2025 targets looked back on" in en
    assert re.search(r"\d+(\.\d)?%", en) and "Triển vọng" not in en


def test_illustrative_banner_on_every_page_of_an_illustrative_run(bundled, illustrative):
    run = Path(illustrative["run_dir"])
    pages = [run / "index.html", run / "html" / "overview.html", run / "html" / "sector_V.html"]
    for page in pages:
        assert "ILLUSTRATIVE DATA" in page.read_text(encoding="utf-8"), page.name
    bundled_pages = (Path(bundled["run_dir"]) / "html").glob("*.html")
    assert not any("kh-illustrative" in p.read_text(encoding="utf-8") for p in bundled_pages)


# --------------------------------------------------------------------------------------------
# the figures shown are those of assessment.csv
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("which", "sector"), [("bundled", "II"), ("illustrative", "V")])
def test_sector_headline_counts_equal_the_assessment(which, sector, request):
    run = request.getfixturevalue(which)
    a = _assessment(run)
    ids = {i.id for i in load_catalog().in_sector(sector)}
    rows = a[(a["target_year"] == 2030) & (a["scenario"] == "bau") & a["indicator_id"].isin(ids)
             & (a["status"] != "no_target")]  # years the plan sets no target are not counted
    expected = rows["status"].value_counts().to_dict()
    shown = _counts(_html(run, f"sector_{sector}"))
    assert set(HEADLINE_STATUSES) <= set(shown)
    assert {s: n for s, n in shown.items() if n} == expected
    assert sum(shown.values()) == len(rows)
    entry = next(n for n in _manifest(run)["notebooks"] if n["name"] == f"sector_{sector}")
    assert entry["headline"] == expected  # the index page's summary of the sector


@pytest.mark.parametrize("which", ["bundled", "illustrative"])
def test_index_and_overview_counts_equal_the_assessment(which, request):
    run = request.getfixturevalue(which)
    a = _assessment(run)
    rows = a[(a["target_year"] == 2030) & (a["scenario"] == "bau") & (a["status"] != "no_target")]
    expected = rows["status"].value_counts().to_dict()
    for page in (Path(run["run_dir"]) / "index.html",
                 Path(run["run_dir"]) / "html" / "overview.html"):
        shown = _counts(page.read_text(encoding="utf-8"))
        assert {s: n for s, n in shown.items() if n} == expected, page.name
        assert list(shown) == [s for s in STATUS_ORDER if s in shown]


def test_p_meet_shown_equals_the_assessment(bundled):
    a = _assessment(bundled)
    row = a[(a["indicator_id"] == "02") & (a["target_year"] == 2030) & (a["scenario"] == "bau")]
    p = float(row["p_meet"].iloc[0])
    page = _html(bundled, "sector_II")
    outlook = page[page.index('id="outlook-2030"'):]
    cell = re.search(r"<tr><td>02</td>.*?</tr>", outlook, re.DOTALL).group(0)
    shown = float(re.search(r'data-p="([0-9.]+)"', cell).group(1))
    assert shown == pytest.approx(p, abs=5e-5)
    assert f"{round(p * 100):d} %" in cell  # the number in words' company: "61 % (...)"


def test_deep_dive_and_explorer_show_both_scenarios(bundled):
    a = _assessment(bundled)
    p = a[(a["indicator_id"] == "02") & (a["target_year"] == 2030)].set_index("scenario")["p_meet"]
    for name in ("deep_dive_02", "scenario_explorer"):
        page = _html(bundled, name)
        assert "accelerate" in page and "bau" in page, name
        shown = {float(x) for x in re.findall(r'data-p="([0-9.]+)"', page)}
        for scenario in ("bau", "accelerate"):
            assert any(abs(x - p[scenario]) < 5e-5 for x in shown), (name, scenario)


# --------------------------------------------------------------------------------------------
# the templates themselves
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TEMPLATES)
def test_notebook_templates_are_thin_and_parameterised(name):
    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for line in code[0].source.splitlines():
        assert re.fullmatch(r"\w+: (str|int|bool|list|float) = .+  # .+", line), line
    assert {"lang", "run_dir"} <= {ln.split(":")[0] for ln in code[0].source.splitlines()}
    for cell in code:
        assert not re.search(r"^\s*(def|class) ", cell.source, re.MULTILINE), cell.source
    assert nb.metadata.kernelspec.name == "python3"


def test_every_shipped_notebook_has_unique_cell_ids():
    # nbformat silently renames a duplicate id on reading (a merge of two branches made one)
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        ids = [c.get("id") for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
        assert len(ids) == len(set(ids)), (path.name, sorted({i for i in ids if ids.count(i) > 1}))


@pytest.mark.parametrize("name", TEMPLATES)
def test_repository_notebooks_are_the_shipped_templates(name):
    linked = REPO / "notebooks" / f"{name}.ipynb"
    assert linked.is_symlink()
    assert linked.resolve() == (notebooks_dir() / f"{name}.ipynb").resolve()
