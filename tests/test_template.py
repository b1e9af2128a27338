"""Tests of the Excel template: layout, validation rules, refusal to overwrite, round trip."""
from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from khforecast.cli import main
from khforecast.observations.read import check_observations, read_observations
from khforecast.observations.records import (
    DATA_SHEET,
    INSTRUCTIONS_SHEET,
    SOURCES_COLUMNS,
    SOURCES_SHEET,
)
from khforecast.observations.template import REFERENCE_HEADERS, write_template
from khforecast.plan.catalog import load_catalog

DATA = Path(__file__).parent / "data"
N_REF = len(REFERENCE_HEADERS)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("tpl") / "obs.xlsx")


def _row_of(ws, indicator_id: str) -> int:
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 1).value == indicator_id:
            return r
    raise LookupError(indicator_id)


def test_layout_one_row_per_indicator(template: Path) -> None:
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == [DATA_SHEET, SOURCES_SHEET, "Nhiệm vụ", INSTRUCTIONS_SHEET]
    ws = wb[DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert tuple(header[:N_REF]) == REFERENCE_HEADERS
    assert header[N_REF:] == list(range(2015, 2031))
    catalog = load_catalog()
    ids = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value]
    assert ids == list(catalog.indicators)
    r = _row_of(ws, "02")
    ind = catalog.get("02")
    assert [ws.cell(r, c).value for c in (2, 3, 5, 6, 7)] == [
        ind.name_vi, ind.unit, ind.targets[2025].text, ind.targets[2030].text, "khanh_hoa"]
    assert ws.cell(_row_of(ws, "80"), 4).value.startswith("số phát sinh trong năm")
    assert ws.freeze_panes == f"{openpyxl.utils.get_column_letter(N_REF + 1)}2"
    assert all(c.font.bold for c in ws[1])
    assert ws.cell(_row_of(ws, "02"), 1).number_format == "@"
    assert [c.value for c in wb[SOURCES_SHEET][1]] == list(SOURCES_COLUMNS)
    guide = [c.value for c in wb[INSTRUCTIONS_SHEET]["A"] if c.value]
    assert any("HƯỚNG DẪN" in g for g in guide) and any("HOW TO" in g for g in guide)


def test_value_cells_have_domain_validation(template: Path) -> None:
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    catalog = load_catalog()

    def rule_for(cell: str):
        found = [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]
        assert len(found) == 1, cell
        return found[0]

    first = openpyxl.utils.get_column_letter(N_REF + 1)
    pct = next(i.id for i in catalog.indicators.values() if i.domain == "percent")
    pos = next(i.id for i in catalog.indicators.values() if i.domain == "positive")
    rule = rule_for(f"{first}{_row_of(ws, pct)}")
    assert (rule.type, rule.operator, rule.formula1, rule.formula2) == (
        "decimal", "between", "0", "100")
    rule = rule_for(f"{openpyxl.utils.get_column_letter(N_REF + 16)}{_row_of(ws, pos)}")
    assert (rule.type, rule.operator, rule.formula1) == ("decimal", "greaterThanOrEqual", "0")
    status = wb[SOURCES_SHEET].data_validations.dataValidation[0]
    assert status.type == "list" and "preliminary" in status.formula1


def test_empty_template_is_an_error_not_zero_rows(template: Path) -> None:
    """An untouched template holds no values: that is an error, never "valid" (issue 13)."""
    frame, problems = check_observations(template, require_source=True)
    assert frame.empty and len(problems) == 1
    assert problems[0].severity == "error" and "no values" in str(problems[0])


def test_filled_template_round_trips(template: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    col = {y: N_REF + 1 + (y - 2015) for y in range(2015, 2031)}
    r02, r80 = _row_of(ws, "02"), _row_of(ws, "80")
    ws.cell(r02, col[2018], 3.46)
    ws.cell(r02, col[2019], 3.49)
    ws.cell(r02, col[2020], "4,7")          # text in Vietnamese format, read with decimal=","
    ws.cell(r80, 7, "khanh_hoa_merged")
    ws.cell(r80, col[2025], 1200)
    extra = ws.max_row + 1                   # a copied row for another place
    ws.cell(extra, 1, "02")
    ws.cell(extra, 7, "ninh_thuan")
    ws.cell(extra, col[2019], 2.1)
    src = wb[SOURCES_SHEET]
    for row in (["02", None, "2018-2020", "GSO E02.63", "final", None],
                ["02", None, 2020, "GSO E02.63 (sơ bộ)", "preliminary", "provisional"],
                ["02", "ninh_thuan", None, "GSO E02.63", "final", None],
                ["80", "khanh_hoa_merged", 2025, "Sở Xây dựng", "estimate", "flow"]):
        src.append(row)
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)

    obs = read_observations(filled, decimal=",", require_source=True)
    got = obs[["indicator_id", "place", "year", "value", "source", "status", "note"]]
    assert got.values.tolist() == [
        ["02", "khanh_hoa", 2018, 3.46, "GSO E02.63", "final", ""],
        ["02", "khanh_hoa", 2019, 3.49, "GSO E02.63", "final", ""],
        ["02", "khanh_hoa", 2020, 4.7, "GSO E02.63 (sơ bộ)", "preliminary", "provisional"],
        ["02", "ninh_thuan", 2019, 2.1, "GSO E02.63", "final", ""],
        ["80", "khanh_hoa_merged", 2025, 1200.0, "Sở Xây dựng", "estimate", "flow"],
    ]


def test_template_problems_name_sheet_and_cell(template: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    r02 = _row_of(ws, "02")
    ws.cell(r02, N_REF + 1, 150)             # 2015: percent above 100
    ws.cell(r02, N_REF + 2, "abc")           # 2016: text
    ws.cell(1, ws.max_column + 1, "ghi chú")  # a non-year header with a value below it
    ws.cell(r02, ws.max_column, 1.0)
    ws.cell(r02 + 3, 1).value = None         # a value in a row without an id
    ws.cell(r02 + 3, N_REF + 1, 5)
    src = wb[SOURCES_SHEET]
    src.append(["02", None, "2016-2015", "x", None, None])
    src.append(["02", None, None, "GSO", "sơ bộ", None])
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    _, problems = check_observations(bad)
    msgs = [str(p) for p in problems]
    c0 = openpyxl.utils.get_column_letter(N_REF + 1)
    c1 = openpyxl.utils.get_column_letter(N_REF + 2)
    last = openpyxl.utils.get_column_letter(ws.max_column)
    expected = [
        rf"sheet '{DATA_SHEET}' cell {c0}{r02} \(column '2015'\): expected a percent in 0-100",
        rf"sheet '{DATA_SHEET}' cell {c1}{r02} \(column '2016'\): expected a number, got 'abc'",
        rf"sheet '{DATA_SHEET}' cell {last}1 \(column 'ghi chú'\): expected a year as a whole "
        r"number",
        rf"sheet '{DATA_SHEET}' cell A{r02 + 3} \(column 'indicator_id'\): expected an "
        r"indicator id .* got an empty cell",
        rf"sheet '{SOURCES_SHEET}' cell C2 \(column 'year'\): expected a range from an earlier "
        r"to a later year, got '2016-2015'",
        rf"sheet '{SOURCES_SHEET}' cell E3 \(column 'status'\): expected a status in final",
    ]
    for pattern in expected:
        assert any(re.search(pattern, m) for m in msgs), (pattern, msgs)


def test_overlapping_sources_rows_are_refused(template: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    ws.cell(_row_of(ws, "02"), N_REF + 5, 3.5)   # 2019
    src = wb[SOURCES_SHEET]
    src.append(["02", None, "2018-2020", "A", None, None])
    src.append(["02", None, "2019-2024", "B", None, None])
    path = tmp_path / "overlap.xlsx"
    wb.save(path)
    _, problems = check_observations(path)
    assert [str(p).split(": ", 1)[1] for p in problems] == [
        "expected one sources row for 02 at khanh_hoa in 2019, got rows 2 and 3 of sheet "
        f"'{SOURCES_SHEET}' both covering it"]


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="use --force"):
        write_template(out)
    assert out.read_bytes() == b"keep me"
    write_template(out, force=True, start_year=2020, end_year=2022)
    header = [c.value for c in openpyxl.load_workbook(out)[DATA_SHEET][1]]
    assert header[N_REF:] == [2020, 2021, 2022]
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]  # no temporary file left


@pytest.mark.parametrize("kwargs, message", [
    ({"start_year": 2030, "end_year": 2020}, r"start <= end"),
    ({"start_year": 1980}, r"1990 <= start"),
])
def test_bad_years(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_template(tmp_path / "t.xlsx", **kwargs)


def test_template_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "obs.xlsx"
    assert main(["template", str(out), "--start-year", "2018", "--end-year", "2025"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["template", str(out)]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert main(["template", str(out), "--force"]) == 0
    assert main(["template", str(tmp_path / "obs.csv")]) == 2
    assert "must end in .xlsx" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["validate", str(out)]) == 1  # nothing filled in yet
    assert "no values" in capsys.readouterr().err


def test_filled_template_fixture_reads_with_sources() -> None:
    obs = read_observations(DATA / "filled_template.xlsx", require_source=True)
    two = obs[obs.indicator_id == "02"]
    assert two["year"].tolist() == list(range(2018, 2025))
    assert two["value"].tolist() == [3.46, 3.49, 4.7, 5.72, 3.1, 2.8, 2.66]
    assert two["status"].tolist() == ["final"] * 6 + ["preliminary"]  # one year beats a range
    eighty = obs[obs.indicator_id == "80"].iloc[0]
    assert (eighty.place, eighty.year, eighty.value, eighty.note) == (
        "khanh_hoa_merged", 2025, 1200.0, "units completed in 2025")


BAD_TEMPLATE = [
    rf"sheet '{DATA_SHEET}' cell G5 \(column 'place'\): expected a place code .*got 'Khánh Hòa'",
    rf"sheet '{DATA_SHEET}' cell I5 \(column '2019'\): .*got '3,49' \(.*--decimal ,",
    rf"sheet '{DATA_SHEET}' cell J7 \(column '2020'\): expected a percent in 0-100 .*got 101\.5",
    rf"sheet '{DATA_SHEET}' cell K13 \(column '2021'\): expected a number, got 'n/a'",
    rf"sheet '{DATA_SHEET}' cell L13 \(column '2022'\): expected a number, got a date/time",
    rf"sheet '{DATA_SHEET}' cell J69 \(column '2020'\): expected a value >= 0 .*got -3",
    rf"sheet '{SOURCES_SHEET}' cell A2 \(column 'indicator_id'\): expected an indicator id of "
    r"the catalog, got '99'",
    rf"sheet '{SOURCES_SHEET}' cell C3 \(column 'year'\): expected a range from an earlier to "
    r"a later year, got '2024-2018'",
    rf"sheet '{SOURCES_SHEET}' cell E4 \(column 'status'\): expected a status in final, "
    r"preliminary, estimate, illustrative \(or empty\), got 'draft'",
    rf"^warning: .*sheet '{SOURCES_SHEET}' cell A5 \(column 'indicator_id'\): expected a "
    r"sources row that matches values .*got no value of 59 at ninh_thuan in its years",
]


def test_bad_template_fixture_lists_every_cell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "bad_template.xlsx")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(BAD_TEMPLATE) + 1
    for line, pattern in zip(lines, BAD_TEMPLATE, strict=False):
        assert re.search(pattern, line), (line, pattern)
    assert lines[-1] == "khforecast: 9 problem(s) found; nothing was written"
