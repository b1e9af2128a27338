"""Tests for khforecast.engine.series and the ``forecast-series`` command."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from khforecast.cli import main
from khforecast.engine.series import (
    SeriesInputError,
    forecast_series,
    parse_quantiles,
    read_series,
)


def _frame(n_series: int = 3, n: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = 30 + 40 * rng.random()
        for k, v in enumerate(level + np.cumsum(rng.normal(0.5, 1.0, n))):
            rows.append({"series_id": f"s{i:03d}", "t": 2010 + k, "value": round(float(v), 1)})
    return pd.DataFrame(rows)


def test_one_row_per_series_and_future_step_with_named_quantiles():
    out = forecast_series(_frame(), 3, domain="percent", quantiles="0.05,0.50,0.95", seed=1,
                          sims=300)
    assert list(out.columns) == ["series_id", "t", "mean", "q_0.05", "q_0.50", "q_0.95", "model"]
    assert len(out) == 9
    assert out.groupby("series_id")["t"].apply(list).tolist() == [[2018, 2019, 2020]] * 3
    q = out[["q_0.05", "q_0.50", "q_0.95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0) and np.all((q >= 0) & (q <= 100))


def test_row_order_of_the_input_does_not_matter():
    df = _frame(4)
    a = forecast_series(df, 2, seed=3, sims=200)
    b = forecast_series(df.sample(frac=1.0, random_state=1), 2, seed=3, sims=200)
    pd.testing.assert_frame_equal(a, b)


def test_output_is_identical_for_any_number_of_jobs():
    df = _frame(70, n=6)  # more than one chunk of work
    a = forecast_series(df, 2, seed=4, sims=100, jobs=1)
    b = forecast_series(df, 2, seed=4, sims=100, jobs=2)
    pd.testing.assert_frame_equal(a, b)


def test_a_series_too_short_is_reported_not_forecast():
    df = pd.concat([_frame(1), pd.DataFrame({"series_id": ["tiny"] * 2, "t": [1, 2],
                                             "value": [1.0, 2.0]})])
    out = forecast_series(df, 2, seed=1, sims=100)
    tiny = out[out["series_id"] == "tiny"]
    assert tiny["model"].tolist() == ["insufficient_data"] * 2
    assert tiny["mean"].isna().all() and tiny["t"].tolist() == [3, 4]


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"series_id": ["a"], "value": [1.0]}),
     r"missing column\(s\) 't'; expected columns series_id, t, value"),
    (pd.DataFrame({"series_id": ["a", "a"], "t": [1, 2], "value": ["1.5", "abc"]}),
     r"row 3, column 'value': expected a number, found 'abc'"),
    (pd.DataFrame({"series_id": ["a", "a"], "t": [1, 2], "value": [1.5, np.nan]}),
     r"row 3, column 'value': expected a number, found nothing"),
    (pd.DataFrame({"series_id": ["a", "a"], "t": [1, 1.5], "value": [1, 2]}),
     r"row 3, column 't': expected an integer year or step, found 1.5"),
    (pd.DataFrame({"series_id": ["a", "a", "a"], "t": [1, 2, 2], "value": [1, 2, 3]}),
     r"row 4: duplicate \(series_id, t\) = \('a', 2\); first seen at row 3"),
    (pd.DataFrame({"series_id": ["a", "a", "a"], "t": [1, 2, 4], "value": [1, 2, 3]}),
     r"row 4: series 'a' jumps to t = 4 after a gap"),
])
def test_bad_input_is_named_by_row_and_column(frame, message):
    with pytest.raises(SeriesInputError, match=message):
        forecast_series(frame, 2)


def test_every_problem_is_listed_at_once_and_domain_is_checked():
    df = pd.DataFrame({"series_id": ["a", "a", "b"], "t": [1, 2, 1], "value": [101, "x", -2]})
    with pytest.raises(SeriesInputError) as info:
        forecast_series(df, 2, domain="percent")
    assert len(info.value.problems) == 3
    assert "input row 2, column 'value': expected a percent in 0-100 (--domain percent), " \
        "found 101" in info.value.problems


@pytest.mark.parametrize("text, message", [("0.1,abc", "found 'abc'"), ("0.5,1", "found 1")])
def test_quantile_levels_are_checked(text, message):
    with pytest.raises(SeriesInputError, match=message):
        parse_quantiles(text)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_end_to_end_is_byte_identical_for_a_seed_and_never_touches_the_input(tmp_path, capsys):
    src = tmp_path / "in.csv"
    _frame(5).to_csv(src, index=False)
    before = _sha(src)
    outs = []
    for jobs, name in ((1, "a.csv"), (2, "b.csv")):
        rc = main(["forecast-series", "--input", str(src), "--horizon", "4", "--out",
                   str(tmp_path / name), "--domain", "positive", "--seed", "9", "--sims", "300",
                   "--jobs", str(jobs)])
        assert rc == 0
        outs.append(tmp_path / name)
    assert _sha(outs[0]) == _sha(outs[1])
    assert _sha(src) == before
    out = pd.read_csv(outs[0])
    assert len(out) == 20 and out["model"].eq("combination").all()
    assert not list(tmp_path.glob(".*.tmp"))
    assert "wrote 20 rows for 5 series" in capsys.readouterr().err


def test_cli_reports_bad_input_in_one_line_per_problem_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "bad.csv"
    src.write_text("series_id,t,value\na,2001,1\na,2001,2\n", encoding="utf-8")
    rc = main(["forecast-series", "--input", str(src), "--horizon", "2", "--out",
               str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "bad.csv row 3: duplicate (series_id, t) = ('a', 2001); first seen at row 2" in err
    assert "Traceback" not in err and not (tmp_path / "out.csv").exists()


def test_read_series_accepts_a_bom_and_names_a_missing_file(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffseries_id,t,value\nx,1,2.5\nx,2,3\n".encode("utf-8"))
    assert read_series(p)["value"].tolist() == [2.5, 3.0]
    with pytest.raises(SeriesInputError, match="nope.csv: file not found"):
        read_series(tmp_path / "nope.csv")


def test_cli_bad_quantiles_are_a_usage_error(tmp_path, capsys):
    src = tmp_path / "in.csv"
    _frame(1).to_csv(src, index=False)
    rc = main(["forecast-series", "--input", str(src), "--horizon", "2", "--out",
               str(tmp_path / "o.csv"), "--quantiles", "0.1,2"])
    assert rc == 2
    assert "expected levels strictly between 0 and 1, found 2" in capsys.readouterr().err
