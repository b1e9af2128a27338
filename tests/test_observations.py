"""Tests of reading and validating observations (CSV, TSV, UTF-16, xlsx) and `validate`."""
from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khforecast.cli import main
from khforecast.errors import ObservationError, Problem
from khforecast.observations.read import (
    bundled_observations_path,
    check_observations,
    read_observations,
)
from khforecast.observations.records import OBSERVATION_COLUMNS, parse_number
from khforecast.plan.catalog import load_catalog

DATA = Path(__file__).parent / "data"


def _write(tmp_path: Path, text: str, name: str = "obs.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# --------------------------------------------------------------------------------------------
# good data
# --------------------------------------------------------------------------------------------
def test_good_file_reads_with_defaults_and_types() -> None:
    obs = read_observations(DATA / "good_observations.csv")
    assert list(obs.columns) == list(OBSERVATION_COLUMNS)
    assert obs["year"].dtype == "int64" and obs["value"].dtype == "float64"
    # `2` with an empty place is read as indicator 02 at the default place
    row = obs[(obs.indicator_id == "02") & (obs.year == 2020)]
    assert row[["place", "value"]].values.tolist() == [["khanh_hoa", 4.7]]
    assert set(obs.status) == {"final", "preliminary", "estimate", ""}
    assert obs.file.unique().tolist() == [str(DATA / "good_observations.csv")]
    # sorted by indicator, place, year
    assert obs[["indicator_id", "place", "year"]].equals(
        obs.sort_values(["indicator_id", "place", "year"])[["indicator_id", "place", "year"]])


def test_every_bundled_row_validates_with_a_source() -> None:
    frame, problems = check_observations(bundled_observations_path(), require_source=True)
    assert problems == []
    raw = pd.read_csv(bundled_observations_path(), dtype=str, keep_default_na=False)
    assert len(frame) == len(raw) > 100
    assert (frame["source"].str.strip() != "").all()
    assert set(frame["status"]) <= {"final", "preliminary", "estimate"}
    catalog = load_catalog()
    assert set(frame["indicator_id"]) <= set(catalog.indicators)


def test_require_source_flags_missing_column_and_empty_cells(tmp_path: Path) -> None:
    no_col = _write(tmp_path, "indicator_id,year,value\n02,2019,3.5\n", "a.csv")
    empty = _write(tmp_path, "indicator_id,year,value,source\n02,2020,3.5, \n", "b.csv")
    _, problems = check_observations(no_col, empty, require_source=True)
    msgs = _messages(problems)
    assert re.search(r"a\.csv row 1, column 'source': expected a column 'source'", msgs[0])
    assert re.search(r"b\.csv row 2, column 'source': expected the source .* got an empty cell",
                     msgs[1])
    # without the option the same files are fine
    assert check_observations(no_col, empty)[1] == []


def test_utf8_bom_and_utf16_tab_excel_export() -> None:
    bom = read_observations(DATA / "utf8_bom.csv")
    assert bom[["indicator_id", "year", "value", "note"]].values.tolist() == [
        ["02", 2019, 3.49, "Tỉ lệ thất nghiệp"]]
    u16 = read_observations(DATA / "excel_unicode_text_utf16.csv")
    assert u16[["indicator_id", "value", "note"]].values.tolist() == [
        ["02", 3.49, "Tỉ lệ thất nghiệp"], ["09", 55.6, ""]]


def test_utf16_without_bom_and_utf16_big_endian(tmp_path: Path) -> None:
    text = "indicator_id\tyear\tvalue\n02\t2019\t3.49\n"
    le = _write(tmp_path, text, "le.txt", "utf-16-le")
    be = _write(tmp_path, "\ufeff" + text, "be.txt", "utf-16-be")
    for path in (le, be):
        assert read_observations(path)["value"].tolist() == [3.49]


def test_semicolon_file_in_vietnamese_format() -> None:
    path = DATA / "vn_decimal_semicolon.csv"
    frame, problems = check_observations(path, decimal=",")
    assert frame.set_index("indicator_id")["value"].to_dict() == {"02": 3.49, "80": 48749.0}
    # 1.234,5 = 1234.5 is read, then refused as a percent above 100
    assert _messages(problems) == [
        f"{path} row 4, column 'value': expected a percent in 0-100 (unit of 09: '%'), "
        "got '1.234,5'"]


def test_long_layout_xlsx_first_sheet() -> None:
    obs = read_observations(DATA / "long_sheet.xlsx")
    assert obs[["indicator_id", "year", "value"]].values.tolist() == [["02", 2019, 3.49]]


# --------------------------------------------------------------------------------------------
# the decimal rule
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, decimal, expected", [
    ("3.5", ".", 3.5), ("-0.25", ".", -0.25), ("1234", ".", 1234.0), ("1e3", ".", 1000.0),
    ("1,234.5", ".", 1234.5), ("1,234,567", ".", 1234567.0), ("48.749", ".", 48.749),
    ("\u22121.5", ".", -1.5), (" 7 ", ".", 7.0),
    ("3,5", ",", 3.5), ("48.749", ",", 48749.0), ("1.234.567", ",", 1234567.0),
    ("1.234,5", ",", 1234.5), ("1,234", ",", 1.234), ("12", ",", 12.0),
])
def test_decimal_rule_reads(text: str, decimal: str, expected: float) -> None:
    assert parse_number(text, decimal) == expected


@pytest.mark.parametrize("text, decimal, message", [
    ("3,5", ".", r"--decimal ,"),
    ("1.234,5", ".", r"--decimal ,"),
    ("1,234", ".", r"ambiguous: 1234 .* or 1\.234 in Vietnamese format"),
    ("3.5", ",", r"ambiguous: under --decimal , a '\.' only groups thousands in threes"),
    ("1.23", ",", r"ambiguous"),
    ("1,234.5", ",", r"ambiguous"),
    ("45%", ".", r"without a '%' sign"),
    ("1 234", ".", r"remove the spaces"),
    ("nan", ".", r"expected a number, got 'nan'"),
    ("inf", ".", r"expected a number"),
    ("1e999", ".", r"a finite number"),
])
def test_decimal_rule_refuses(text: str, decimal: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_number(text, decimal)


def test_decimal_must_be_dot_or_comma() -> None:
    with pytest.raises(ValueError, match="decimal must be"):
        check_observations(DATA / "good_observations.csv", decimal=";")


# --------------------------------------------------------------------------------------------
# bad data: every problem at once, with file, row, column, expected and found
# --------------------------------------------------------------------------------------------
BAD_EXPECTED = [
    r"row 3, column 'indicator_id, place, year': expected one value per indicator, place and "
    r"year, got a second value for 02 at khanh_hoa in 2019; the first is at .*"
    r"bad_observations\.csv row 2$",
    r"row 4, column 'indicator_id': expected an indicator id of the catalog, got '33\.poor' "
    r"\(did you mean 33\.poor_districts\?\)",
    r"row 5, column 'indicator_id': expected an indicator id of the catalog, got '99' "
    r"\(the ids run 01-92",
    r"row 6, column 'year': expected a year in 1990-2035, got '1985'",
    r"row 7, column 'value': expected a percent in 0-100 \(unit of 04: '%'\), got '101\.5'",
    r"row 8, column 'value': expected a value >= 0 \(unit of 59: 'Giường'\), got '-3'",
    r"row 9, column 'value': expected a number, got 'n/a'",
    r"row 10, column 'year': expected a year as a whole number, e\.g\. 2023, got an empty cell",
    r"row 11, column 'indicator_id': expected an indicator id .*, got an empty cell",
    r"row 12, column 'value': expected a number with '\.' as the decimal mark, got '55,3' "
    r"\(.*--decimal ,",
    r"row 13, column 'value': expected a number with '\.' as the decimal mark, got '1,234' "
    r"\(ambiguous",
    r"row 14, column 'status': expected a status in final, preliminary, estimate, "
    r"illustrative \(or empty\), got 'draft'",
    r"row 15, column 'place': expected a place code .*, got 'Khánh Hòa' \(write khanh_hoa\)",
    r"row 16: expected 7 fields, as in the header, got 8 fields \(a value with an unquoted ','",
    r"^warning: .*row 17, column 'value': expected a percent written as 0-100, got every "
    r"value of 03 at khanh_hoa <= 1 \(e\.g\. 0\.031\)",
    r"row 19, column 'year': expected a year as a whole number, e\.g\. 2023, got '20x1'",
]


def test_bad_file_lists_every_problem_in_row_order() -> None:
    frame, problems = check_observations(DATA / "bad_observations.csv")
    msgs = _messages(problems)
    assert len(msgs) == len(BAD_EXPECTED)
    for msg, pattern in zip(msgs, BAD_EXPECTED, strict=True):
        assert re.search(pattern, msg), (msg, pattern)
    # the good rows survive: row 2, and the two 03 rows (a warning only)
    assert frame[["indicator_id", "year"]].values.tolist() == [["02", 2019], ["03", 2020],
                                                                ["03", 2021]]
    with pytest.raises(ObservationError, match=r"15 problem\(s\)") as info:
        read_observations(DATA / "bad_observations.csv")
    assert info.value.problems == problems


def test_validate_command_on_bad_file_exits_1_and_lists_each(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "bad_observations.csv")]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == ""
    for pattern in BAD_EXPECTED:
        assert any(re.search(pattern, line) for line in lines), pattern
    assert lines[-1] == "khforecast: 15 problem(s) found; nothing was written"


def test_validate_command_success_summary_and_warnings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "good_observations.csv")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == ("valid: 1 file(s), 5 row(s), 2 indicator(s), 3 place(s), "
                           "years 2018-2025")
    assert err == ""
    frac = _write(tmp_path, "indicator_id,year,value\n03,2020,0.031\n03,2021,0.029\n")
    assert main(["validate", str(frac)]) == 0
    out, err = capsys.readouterr()
    assert "1 warning(s) on stderr" in out and err.startswith("warning: ")


def test_validate_command_decimal_option_and_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "vn_decimal_semicolon.csv")
    assert main(["validate", path]) == 1
    assert "--decimal ," in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["validate", path, "--decimal", ";"])
    assert exc.value.code == 2


def test_missing_file_is_a_data_problem(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["validate", str(missing), str(DATA / "good_observations.csv")]) == 1
    err = capsys.readouterr().err
    assert f"{missing}: expected an existing file, got no such file" in err


@pytest.mark.parametrize("name, message", [
    ("missing_column.csv", r"row 1, column 'year': expected a column 'year', got the columns "
                           r"'indicator_id', 'place', 'value'"),
    ("empty.csv", r"empty\.csv: expected a CSV with a header row .*got an empty file"),
    ("binary.csv", r"binary\.csv: expected a CSV text file, got binary data"),
    ("xlsx_renamed.csv", r"expected a CSV text file, got a zip archive .*rename it to \.xlsx"),
    ("windows1258.csv", r"row 2: expected UTF-8 text, got the byte 0xec, which is not UTF-8"),
])
def test_file_level_problems_are_one_clear_line(name: str, message: str) -> None:
    frame, problems = check_observations(DATA / name)
    assert len(problems) == 1 and frame.empty
    assert re.search(message, str(problems[0])), str(problems[0])


def test_other_unreadable_inputs(tmp_path: Path) -> None:
    cases = {
        "dir": (tmp_path / "sub", r"expected a file, got a directory"),
        "txt_as_xlsx": (_write(tmp_path, "indicator_id,year,value\n", "t.xlsx"),
                        r"expected an Excel \.xlsx workbook \(a zip archive\), got a file "
                        r"that is not one \(a CSV saved under an \.xlsx name"),
        "bad_zip": (tmp_path / "z.xlsx", r"expected an Excel \.xlsx workbook, got a file that "
                                         r"is not one \("),
        "ole": (tmp_path / "old.csv", r"old Excel 97-2003 \(\.xls\) workbook"),
        "blank": (_write(tmp_path, "\n \n\n", "blank.csv"), r"got an empty file"),
    }
    (tmp_path / "sub").mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    (tmp_path / "z.xlsx").write_bytes(buf.getvalue())
    (tmp_path / "old.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    for key, (path, pattern) in cases.items():
        _, problems = check_observations(path)
        assert len(problems) == 1, key
        assert re.search(pattern, str(problems[0])), (key, str(problems[0]))


def test_duplicates_across_files_point_at_both(tmp_path: Path) -> None:
    a = _write(tmp_path, "indicator_id,year,value\n02,2019,3.5\n", "a.csv")
    b = _write(tmp_path, "indicator_id;year;value\n02;2019;3.6\n", "b.csv")
    _, problems = check_observations(a, b)
    assert _messages(problems) == [
        f"{b} row 2, column 'indicator_id, place, year': expected one value per indicator, "
        f"place and year, got a second value for 02 at khanh_hoa in 2019; the first is at "
        f"{a} row 2"]


def test_row_numbers_are_file_lines_with_blank_and_multiline_rows(tmp_path: Path) -> None:
    text = ('\nindicator_id,year,value,note\n02,2019,3.5,"a note\nover two lines"\n\n'
            "02,2020,abc,\n")
    _, problems = check_observations(_write(tmp_path, text))
    assert [(p.row, p.column) for p in problems] == [(6, "value")]


def test_unknown_and_duplicate_header_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "indicator_id,year,value,Value,comment\n02,2019,3.5,3.6,x\n")
    _, problems = check_observations(path)
    msgs = _messages(problems)
    assert msgs == [
        f"{path} row 1, column 'Value': expected each column once, got a second column 'value'",
        f"warning: {path} row 1, column 'comment': expected a known column (indicator_id, "
        "place, year, value, source, status, note), got the column 'comment' (it is ignored)"]


def test_fraction_warning_only_when_the_target_is_above_one(tmp_path: Path) -> None:
    catalog = load_catalog()
    small = [i.id for i in catalog.indicators.values() if i.domain == "percent"
             and any(t.kind in ("lt", "le", "gt", "ge") and t.value is not None and t.value <= 1
                     for t in i.targets.values())]
    body = "indicator_id,year,value\n03,2020,0.5\n03,2021,0.4\n09,2020,0.5\n09,2021,45\n"
    _, problems = check_observations(_write(tmp_path, body))
    assert [(p.severity, p.row) for p in problems] == [("warning", 2)]
    if small:  # a percent whose own target is <= 1 is never warned about
        body = f"indicator_id,year,value\n{small[0]},2020,0.5\n"
        assert check_observations(_write(tmp_path, body, "s.csv"))[1] == []


def test_inputs_are_never_written(tmp_path: Path) -> None:
    paths = [DATA / "bad_observations.csv", DATA / "good_observations.csv",
             DATA / "long_sheet.xlsx", DATA / "excel_unicode_text_utf16.csv"]
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    check_observations(*paths)
    main(["validate", *map(str, paths)])
    after = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    assert before == after
    assert sorted(p.name for p in DATA.iterdir() if p.name.startswith(".")) == []


# --------------------------------------------------------------------------------------------
# Excel: problems name the sheet and the cell
# --------------------------------------------------------------------------------------------
def test_xlsx_long_sheet_problems_name_the_cell(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "obs"
    ws.append(["indicator_id", "year", "value"])
    ws.append(["02", 2019, "3,5"])
    ws.append(["02", 2020, 120])
    path = tmp_path / "obs.xlsx"
    wb.save(path)
    _, problems = check_observations(path)
    assert [(p.sheet, p.cell, p.row, p.column) for p in problems] == [
        ("obs", "C2", 2, "value"), ("obs", "C3", 3, "value")]
    assert str(problems[1]).startswith(
        f"{path} sheet 'obs' cell C3 (column 'value'): expected a percent in 0-100")


def test_xlsx_date_cell_gets_a_hint(tmp_path: Path) -> None:
    import datetime as dt
    wb = openpyxl.Workbook()
    wb.active.append(["indicator_id", "year", "value"])
    wb.active.append(["02", 2019, dt.datetime(2025, 5, 3)])
    wb.save(tmp_path / "d.xlsx")
    _, problems = check_observations(tmp_path / "d.xlsx")
    assert re.search(r"cell C2 .*expected a number, got a date/time \(2025-05-03T00:00:00\) "
                     r"\(Excel turned the entry into a date", str(problems[0]))


# --------------------------------------------------------------------------------------------
# property tests: whatever the input, only problems (or ObservationError) come back
# --------------------------------------------------------------------------------------------
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]
_NAMES = st.sampled_from(["indicator_id", "place", "year", "value", "source", "status",
                          "note", "Value", "", "x", "năm", "indicator_id"])
_CELLS = st.one_of(
    st.sampled_from(["02", "2", "33.poor_districts", "99", "2019", "1989", "3.5", "3,5",
                     "1.234", "1,234", "101", "-1", "", " ", "final", "draft", "khanh_hoa",
                     "Khánh Hòa", "nan", "inf", "1e999", '"', "a\nb", "45%"]),
    st.text(max_size=12),
)


def _check_only_problems(path: Path, decimal: str | None = None) -> None:
    frame, problems = check_observations(path, decimal=decimal)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert all(isinstance(p, Problem) and str(p) for p in problems)
    try:
        read_observations(path, decimal=decimal)
    except ObservationError:
        pass


_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _check_only_problems(path)


@_SETTINGS
@given(header=st.lists(_NAMES, min_size=0, max_size=7),
       rows=st.lists(st.lists(_CELLS, max_size=8), max_size=6),
       delim=st.sampled_from([",", ";", "\t"]), encoding=st.sampled_from(_ENCODINGS),
       decimal=st.sampled_from([None, ".", ","]))
def test_random_tables_never_raise(tmp_path: Path, header: list[str], rows: list[list[str]],
                                   delim: str, encoding: str, decimal: str | None) -> None:
    text = "\n".join(delim.join(r) for r in [header, *rows]) + "\n"
    path = tmp_path / "table.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _check_only_problems(path, decimal)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(_NAMES, min_size=1, max_size=5),
       rows=st.lists(st.lists(st.one_of(_CELLS, st.integers(-10**6, 10**6),
                                        st.floats(allow_nan=True, allow_infinity=True),
                                        st.booleans(), st.none()), max_size=6), max_size=4),
       template=st.booleans())
def test_random_workbooks_never_raise(tmp_path: Path, header: list[str], rows: list[list[object]],
                                      template: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Dữ liệu" if template else "Sheet"
    for row in [header, *rows]:
        ws.append([re.sub(r"[\x00-\x1f]", " ", c) if isinstance(c, str) else c for c in row])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    _check_only_problems(path)


def test_heading_row_gets_a_warning_naming_its_rows(tmp_path: Path) -> None:
    frame, problems = check_observations(_write(tmp_path, "indicator_id,year,value\n85,2020,50\n"))
    assert len(frame) == 1
    assert [(p.row, p.expected, p.found) for p in problems] == [
        (2, "one of the rows of 85 (85.urban, 85.rural)", "85, a heading with no target of its own")]
    assert problems[0].severity == "warning"


def test_read_observations_issues_warnings_and_keeps_the_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "indicator_id,year,value\n03,2020,0.031\n03,2021,0.029\n")
    with pytest.warns(UserWarning, match=r"every value of 03 at khanh_hoa <= 1"):
        obs = read_observations(path)
    assert obs["value"].tolist() == [0.031, 0.029]
