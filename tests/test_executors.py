"""Executors: processes and a real dask LocalCluster give the same bytes; lost work is never silent."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from khforecast.observations.communes import CommuneData, commune_codes, province_of
from khforecast.engine.executor import ExecutorError, map_ordered, open_executor
from khforecast.batch.multiplace import RunSpec, plan_units, run_places, stream_to_parquet
from khforecast.observations.read import bundled_observations_path, read_observations
from khforecast.observations.panel_mappings import panel_observations
from khforecast.batch.multiplace import merge_sources
from khforecast.batch.parquet_out import StreamingParquetSink
from khforecast.observations.provinces import load_places

PLACES = ("khanh_hoa", "khanh_hoa_merged", "lam_dong_merged", "ha_noi")


@pytest.fixture(scope="module")
def dask_ex():
    """One real LocalCluster with 2 worker processes for the module."""
    with open_executor("dask", workers=2) as ex:
        yield ex


@pytest.fixture(scope="module")
def inputs():
    places = load_places()
    obs = merge_sources(read_observations(bundled_observations_path()),
                        panel_observations(places, PLACES))
    parts = {p: places.parts_of(p) for p in PLACES}
    return places, obs, parts


def _csv_digest(*frames) -> str:
    h = hashlib.sha256()
    for f in frames:
        buf = io.StringIO()
        f.to_csv(buf, index=False, float_format="%.10g")
        h.update(buf.getvalue().encode())
    return h.hexdigest()


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.parquet")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_same_bytes_for_any_executor_workers_and_unit_size(dask_ex, inputs):
    places, obs, parts = inputs
    spec = RunSpec(sims=150, seed=7)
    digests = set()
    with open_executor("processes", workers=1) as one:
        fc, asm = run_places(one, plan_units(PLACES, spec, obs, per_unit=1, parts=parts))
        digests.add(_csv_digest(fc, asm))
    with open_executor("processes", workers=2) as two:
        digests.add(_csv_digest(*run_places(two, plan_units(PLACES, spec, obs, per_unit=3, parts=parts))))
    digests.add(_csv_digest(*run_places(dask_ex, plan_units(PLACES, spec, obs, per_unit=2, parts=parts))))
    assert len(digests) == 1
    assert list(dict.fromkeys(asm["place"])) == list(PLACES)
    assert set(fc["place"]) == set(PLACES)
    kh = asm[(asm.place == "khanh_hoa_merged") & (asm.indicator_id == "02") & (asm.target_year == 2030)]
    assert kh["p_meet"].notna().all()  # built from the parts' panel rows


def test_streamed_parquet_same_bytes_and_labelled_illustrative(dask_ex, tmp_path):
    import pyarrow.parquet as pq

    places = load_places()
    codes = commune_codes(places)[:2]
    data = CommuneData.build(places, provinces=("an_giang_merged",), indicators=("02", "09", "33", "80"))
    spec = RunSpec(sims=100, seed=3, sample_paths=2)
    outs = []
    for name, ex_kind, per in (("p", "processes", 1), ("d", None, 2)):
        sink = StreamingParquetSink(tmp_path / name, province_of, {"illustrative": True})
        units = plan_units(codes, spec, per_unit=per, make_observations=data)
        if ex_kind:
            with open_executor(ex_kind, workers=2) as ex:
                rows = stream_to_parquet(ex, units, sink)
        else:
            rows = stream_to_parquet(dask_ex, units, sink)
        outs.append(_tree_digest(tmp_path / name))
        assert rows["assessment"] > 0 and rows["paths_sample"] > 0
    assert outs[0] == outs[1]
    files = sorted((tmp_path / "p" / "assessment").rglob("*.parquet"))
    assert [f.parent.name for f in files] == ["province=an_giang_merged"]
    assert b'"illustrative": true' in pq.read_schema(files[0]).metadata[b"khforecast"]
    assert not [p for p in (tmp_path / "p").iterdir() if p.name.startswith(".")]  # temp folder gone


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ExecutorError, match=r"--scheduler tcp://127.0.0.1:9: no dask scheduler "
                                            r"answered within 3 s"):
        with open_executor("dask", scheduler="tcp://127.0.0.1:9", connect_timeout=3):
            pass
    with pytest.raises(ExecutorError, match="--scheduler needs --executor dask"):
        with open_executor("processes", scheduler="tcp://127.0.0.1:9"):
            pass


def _die_once(marker: str) -> int:
    """Kill this worker process the first time (a lost worker), then succeed."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return 42


def _always_die(_: int) -> int:
    os._exit(1)


def test_lost_worker_is_retried_by_dask(dask_ex, tmp_path):
    assert list(map_ordered(dask_ex, _die_once, [str(tmp_path / "died")])) == [42]


def test_lost_work_fails_located_never_partial(tmp_path):
    sink = StreamingParquetSink(tmp_path, province_of, {})
    with open_executor("processes", workers=1) as ex:
        with pytest.raises(ExecutorError, match=r"unit 0 failed: its worker died \(BrokenProcessPool"):
            list(map_ordered(ex, _always_die, [1, 2]))
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_commune_units_never_cross_a_province():
    # a chunk size that does not divide the first province's commune count: the unit at the
    # boundary used to hold communes of two provinces, which the Parquet sink refuses
    codes = commune_codes(load_places())
    first = sum(1 for c in codes if province_of(c) == province_of(codes[0]))
    per = 5 if first % 5 else 7
    units = list(plan_units(codes[: first + per], RunSpec(), per_unit=per,
                            make_observations=lambda group: None, partition_of=province_of))
    assert all(len({province_of(p) for p in u.places}) == 1 for u in units)
    assert [p for u in units for p in u.places] == list(codes[: first + per])  # none lost or moved
    assert max(len(u.places) for u in units) == per
    without = list(plan_units(codes[: first + per], RunSpec(), per_unit=per,
                              make_observations=lambda group: None))
    assert any(len({province_of(p) for p in u.places}) > 1 for u in without)


def _profiler_on() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


def test_local_cluster_workers_run_without_dask_profiler(dask_ex):
    # its call tree grew with every unit (a worker's memory climbed with the series count)
    futures = [dask_ex.submit(_profiler_on) for _ in range(4)]
    assert [f.result() for f in futures] == [False] * 4
