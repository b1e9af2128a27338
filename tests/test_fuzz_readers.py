"""Property-based fuzzing of every reader and params loader (issue 13), bounded examples.

Properties: a reader never raises anything but its own user error (no crash for any bytes);
every data row of an observation file is either kept or named by an error (nothing silently
dropped); the params and scenario loaders accept or refuse any YAML with a ``ParamsError``.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khforecast.batch.params import load_params
from khforecast.engine.scenarios import load_scenarios
from khforecast.engine.series import read_series
from khforecast.errors import KhforecastError, ParamsError
from khforecast.observations.read import check_observations
from khforecast.plan.catalog import load_catalog

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
COLUMNS = ["indicator_id", "place", "year", "value", "source", "status", "note"]

_ids = st.sampled_from(["02", "2", "04", "33.poor_districts", "99", "", "x", " 02 "])
_years = st.one_of(st.integers(1980, 2040).map(str), st.sampled_from(["", "2020.0", "20x0",
                                                                       "2018-2019"]))
_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["", "3,5", "1,234", "45%", "1.234,5", "-1", "1e400"]),
                    st.text(max_size=8))
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
#: text a person types: no control characters but line breaks, quotes and separators
_typed = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs", "Cc")),
                                    st.sampled_from('\n",;')), max_size=12)
_row = st.tuples(_ids, st.sampled_from(["khanh_hoa", "", "vietnam", "Khánh Hòa"]), _years,
                 _values, _typed, st.sampled_from(["final", "", "bogus", "estimate"]), _typed)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _data_rows(payload: str) -> list[int]:
    """Line numbers where each non-blank data record starts, as a CSV reader sees them."""
    reader = csv.reader(io.StringIO(payload, newline=""))
    starts, prev = [], 0
    for fields in reader:
        start, prev = prev + 1, reader.line_num
        if any(f.strip() for f in fields):
            starts.append(start)
    return starts[1:]  # the header is not a data row


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_csv_give_problems_not_crashes(tmp_path_factory, cat, data):
    path = tmp_path_factory.mktemp("fz") / "in.csv"
    path.write_bytes(data)
    frame, problems = check_observations(path, catalog=cat)
    assert all(p.file == str(path) for p in problems)
    assert len(frame) == 0 or not any(p.severity == "error" and p.row is None for p in problems)


@FUZZ
@given(st.lists(_row, min_size=1, max_size=12))
def test_every_csv_row_is_kept_or_named(tmp_path_factory, cat, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    payload = buf.getvalue()
    path = tmp_path_factory.mktemp("fz") / "in.csv"
    path.write_text(payload, encoding="utf-8")
    frame, problems = check_observations(path, catalog=cat)
    errors = [p for p in problems if p.severity == "error"]
    data_rows = _data_rows(payload)
    if any(p.row is None for p in errors) or not data_rows:
        return  # a file-level error: nothing is kept, and it says why
    named = {p.row for p in errors}
    assert named <= set(data_rows) | {1}
    assert len(frame) + len(named - {1}) == len(data_rows), (frame, errors)


_sheet_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_cell = st.one_of(st.none(), _sheet_text, st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                  st.booleans(), st.datetimes(min_value=dt.datetime(1990, 1, 1),
                                              max_value=dt.datetime(2040, 1, 1)))


@FUZZ
@given(st.lists(st.lists(_cell, min_size=3, max_size=7), min_size=1, max_size=8))
def test_every_sheet_row_is_kept_or_named(tmp_path_factory, cat, rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(COLUMNS[:4])
    for r in rows:
        ws.append([("'" + v) if isinstance(v, str) and v.startswith("=") else v for v in r[:4]])
    path = tmp_path_factory.mktemp("fz") / "in.xlsx"
    wb.save(path)
    frame, problems = check_observations(path, catalog=cat)
    errors = [p for p in problems if p.severity == "error"]
    if any(p.row is None for p in errors):
        return
    filled = [i + 2 for i, r in enumerate(rows)
              if any(v is not None and str(v).strip() for v in r[:4])]
    named = {p.row for p in errors} - {1}
    assert len(frame) + len(named) == len(filled), (rows, errors)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_a_series_input_give_a_user_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fz") / "s.csv"
    path.write_bytes(b"series_id,t,value\n" + data)
    try:
        read_series(path)
    except KhforecastError:
        pass


_yaml_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), _text,
              st.sampled_from(["2025-13-45", "2026-06-30", "02", "99", "-3"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_text, inner, max_size=3)), max_leaves=8)
_BATCH_KEYS = ["seed", "sims", "thresholds", "scenarios", "jobs", "kernel_start_timeout",
               "cell_timeout", "run_date", "deep_dives", "scenario_explorer", "extra_notebooks",
               "bogus"]


def _dump(data: object) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return "{}"


@FUZZ
@given(st.dictionaries(st.sampled_from(_BATCH_KEYS), _yaml_value, max_size=4),
       st.dictionaries(st.sampled_from(["sector", "note", "highlight", "compare_place", "x"]),
                       _yaml_value, max_size=3))
def test_any_params_yaml_is_loaded_or_refused_with_a_params_error(tmp_path_factory, batch,
                                                                   sector):
    folder = tmp_path_factory.mktemp("fz")
    (folder / "sectors").mkdir()
    (folder / "batch.yaml").write_text(_dump(batch), encoding="utf-8")
    (folder / "sectors" / "II.yaml").write_text(_dump(sector), encoding="utf-8")
    try:
        load_params(folder / "batch.yaml")
    except ParamsError as exc:
        assert str(folder) in str(exc) and len(str(exc)) < 2000


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.dictionaries(st.sampled_from(["scenarios", "x"]),
                                 st.dictionaries(_text, st.dictionaries(
                                     st.sampled_from(["kind", "factor", "year", "size",
                                                      "only", "overrides", "relative"]),
                                     _yaml_value, max_size=3), max_size=2),
                                 max_size=2).map(_dump)))
def test_any_scenarios_yaml_is_loaded_or_refused_with_a_params_error(tmp_path_factory, text):
    path = Path(tmp_path_factory.mktemp("fz")) / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_scenarios(path)
    except ParamsError as exc:
        assert str(path) in str(exc) and len(str(exc)) < 2000
