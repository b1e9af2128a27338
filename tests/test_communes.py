"""Illustrative commune data: labelled, seeded, around the provinces' real levels."""
from __future__ import annotations

import pandas as pd
import pytest

from khforecast.observations.communes import COMMUNES_2025, CommuneData, commune_codes, province_of
from khforecast.errors import KhforecastError
from khforecast.batch.multiplace import UnitResult
from khforecast.batch.parquet_out import StreamingParquetSink
from khforecast.observations.provinces import load_places


@pytest.fixture(scope="module")
def places():
    return load_places()


def test_codes_cover_the_34_units(places):
    codes = commune_codes(places)
    assert len(codes) == COMMUNES_2025 == len(set(codes))
    assert {province_of(c) for c in codes} == set(places.after)
    assert codes == tuple(sorted(codes))  # partition order: a province's communes are adjacent


def test_data_are_illustrative_seeded_and_near_the_real_level(places):
    data = CommuneData.build(places, provinces=("khanh_hoa_merged",), indicators=("02", "45"))
    codes = tuple(c for c in commune_codes(places) if c.startswith("khanh_hoa_merged."))[:40]
    a, b = data(codes), data(codes)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["status"]) == {"illustrative"} and a["source"].str.startswith("ILLUSTRATIVE").all()
    last = a[a.indicator_id == "02"].sort_values("year").groupby("place")["value"].last()
    real = data.levels[("khanh_hoa_merged", "02")]
    assert 0.5 * real < last.median() < 2.0 * real  # drawn around the real provincial level
    assert last.std() > 0  # communes differ
    assert a.loc[a.indicator_id == "45", "note"].str.contains("illustrative provincial level").all()


def test_sink_refuses_units_out_of_partition_order(tmp_path):
    sink = StreamingParquetSink(tmp_path, province_of, {"illustrative": True})
    empty = pd.DataFrame({"x": [1.0]})
    with pytest.raises(KhforecastError, match="a unit spans partitions"):
        sink.add(UnitResult(("a.x1", "b.x1"), empty, empty, empty))
    sink.add(UnitResult(("a.x1",), empty, empty, empty))
    sink.add(UnitResult(("b.x1",), empty, empty, empty))
    with pytest.raises(KhforecastError, match="province 'a' arrived twice"):
        sink.add(UnitResult(("a.x2",), empty, empty, empty))
    sink.abort()
    assert list(tmp_path.iterdir()) == []
