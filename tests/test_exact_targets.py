"""Targets compare the value as published, never rounded to the target's decimals (issue 8).

Rows 14, 24, 42, 58, 61 and the "100" rows were met by values half a unit short before.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from khforecast.cli import main


def _meets(catalog, iid: str, year: int, values) -> list[bool]:
    t = catalog.get(iid).targets[year]
    return t.meets(np.asarray(values, dtype=float)[:, None], np.array([year])).tolist()


@pytest.mark.parametrize("iid, year, values, expected", [
    ("42", 2030, [1.5, 1.99, 2.0, 2.4], [False, False, True, True]),     # ">= 2" social workers
    ("61", 2030, [3.5, 3.99, 4.0], [False, False, True]),                # "4" pharmacists
    ("24", 2030, [3.5, 3.9, 4.0], [False, False, True]),                 # "4" % on assistance
    ("14", 2030, [4.5, 4.99, 5.0], [False, False, True]),                # "5" % insured
    ("58", 2030, [67.5, 67.9, 68.0], [False, False, True]),              # "68", tối thiểu 68
    ("58", 2025, [66.6, 66.99, 67.0], [False, False, True]),             # "67"
    ("75", 2025, [99.5, 99.6, 99.96, 100.0], [False, False, False, True]),  # "100"
    ("51", 2030, [99.5, 99.9, 100.0], [False, False, True]),             # "100 (duy trì)"
])
def test_catalog_rows_compare_exactly(catalog, iid, year, values, expected):
    assert _meets(catalog, iid, year, values) == expected


def test_ge_is_never_looser_than_gt_except_at_the_bound(catalog):
    from khforecast.plan.targets import parse_target

    x = np.array([[2.9], [2.96], [3.0], [3.04], [3.1]])
    yr = np.array([2025])
    ge, gt = parse_target(">= 3", 2025), parse_target("> 3", 2025)
    le, lt = parse_target("<= 3", 2025, direction=-1), parse_target("< 3", 2025, direction=-1)
    assert (ge.meets(x, yr) & ~gt.meets(x, yr)).tolist() == [False, False, True, False, False]
    assert (le.meets(x, yr) & ~lt.meets(x, yr)).tolist() == [False, False, True, False, False]


def test_observed_values_half_a_unit_short_are_missed(tmp_path):
    obs = pd.DataFrame({
        "indicator_id": ["58"] * 4 + ["75"] * 4,
        "place": "khanh_hoa",
        "year": [2022, 2023, 2024, 2025] * 2,
        "value": [65.9, 66.1, 66.4, 66.6, 98.9, 99.2, 99.4, 99.6],
        "source": "probe",
    })
    obs.to_csv(tmp_path / "obs.csv", index=False)
    assert main(["forecast", "--data", str(tmp_path / "obs.csv"), "--out", str(tmp_path / "o"),
                 "--seed", "1", "--sims", "500"]) == 0
    a = pd.read_csv(tmp_path / "o" / "assessment.csv", dtype={"indicator_id": str})
    a = a[(a["scenario"] == "bau") & (a["target_year"] == 2025)].set_index("indicator_id")
    assert a.loc["58", "status"] == "missed"
    assert a.loc["75", "status"] == "missed"
