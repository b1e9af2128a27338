"""Tests of the seeded illustrative dataset: reproducible, complete, valid, clearly labelled."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from khforecast.observations.illustrative import (
    ILLUSTRATIVE_SEED,
    generate_illustrative,
    illustrative_source,
    main,
    to_csv_text,
)
from khforecast.observations.read import (
    bundled_observations_path,
    illustrative_observations_path,
    read_observations,
)
from khforecast.observations.records import INPUT_COLUMNS
from khforecast.plan.catalog import load_catalog


@pytest.fixture(scope="module")
def frame():
    return generate_illustrative()


def test_regenerated_file_equals_the_shipped_one(frame) -> None:
    shipped = illustrative_observations_path().read_text(encoding="utf-8")
    assert to_csv_text(frame) == shipped


def test_module_command_writes_the_same_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ill.csv"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == illustrative_observations_path().read_bytes()
    assert f"seed {ILLUSTRATIVE_SEED}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["ill.csv"]


def test_every_quantitative_indicator_and_every_kind(frame) -> None:
    catalog = load_catalog()
    quantitative = {i.id for i in catalog.indicators.values()
                    if any(t.is_quantitative for t in i.targets.values())}
    assert set(frame["indicator_id"]) == quantitative
    kinds_in_catalog = {t.kind for i in catalog.indicators.values()
                        for t in i.targets.values() if t.is_quantitative}
    kinds_covered = {t.kind for iid in frame["indicator_id"].unique()
                     for t in catalog.get(iid).targets.values() if t.is_quantitative}
    assert kinds_covered == kinds_in_catalog
    assert {"cumulative", "annual_change", "ratio_to_base", "between"} <= kinds_covered


def test_labelled_as_illustrative_and_validates(frame) -> None:
    assert list(frame.columns) == list(INPUT_COLUMNS)
    assert set(frame["status"]) == {"illustrative"}
    assert set(frame["source"]) == {illustrative_source(ILLUSTRATIVE_SEED)}
    assert "not official data" in illustrative_source(ILLUSTRATIVE_SEED)
    obs = read_observations(illustrative_observations_path(), require_source=True)
    assert len(obs) == len(frame)


def test_shapes_flows_gaps_and_bounds(frame) -> None:
    catalog = load_catalog()
    by_id = {iid: g.sort_values("year") for iid, g in frame.groupby("indicator_id")}
    for iid, g in by_id.items():
        ind = catalog.get(iid)
        years = g["year"].to_numpy()
        if ind.observed_as == "flow":      # a sum needs every year from the start year
            start = min(t.start_year for t in ind.targets.values() if t.kind == "cumulative")
            assert years[0] <= max(start, 2020) and np.all(np.diff(years) == 1)
            assert (g["value"] > 0).all()
        if ind.domain == "percent":
            assert g["value"].between(0, 100).all()
    ends = {int(g["year"].max()) for g in by_id.values()}
    assert ends == {2024, 2025}
    assert any(np.any(np.diff(g["year"].to_numpy()) > 1) for g in by_id.values())
    near_top = [g for iid, g in by_id.items() if catalog.get(iid).domain == "percent"
                and 99.0 <= g["value"].iloc[-1] < 100.0]
    assert len(near_top) >= 5
    # an annual-change indicator gets levels that move by about its target's yearly change
    ac = next(i for i in catalog.indicators.values()
              if any(t.kind == "annual_change" for t in i.targets.values()))
    t = next(t for t in ac.targets.values() if t.kind == "annual_change")
    g = by_id[ac.id]
    slope = np.polyfit(g["year"], g["value"], 1)[0]
    mid = np.mean([v for v in (t.low, t.high) if v is not None])
    assert 0.4 * abs(mid) <= abs(slope) <= 1.6 * abs(mid) and np.sign(slope) == np.sign(mid)


def test_seed_changes_values_not_shape(frame) -> None:
    other = generate_illustrative(seed=1)
    assert set(other["indicator_id"]) == set(frame["indicator_id"])
    assert not np.allclose(other["value"].to_numpy()[:50], frame["value"].to_numpy()[:50])
    assert set(other["source"]) == {illustrative_source(1)}


def test_never_the_default() -> None:
    assert bundled_observations_path() != illustrative_observations_path()
    bundled = read_observations(bundled_observations_path(), require_source=True)
    assert "illustrative" not in set(bundled["status"])
