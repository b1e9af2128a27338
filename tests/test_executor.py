"""The one executor abstraction: every parallel step accepts any ``concurrent.futures.Executor``
and gives the same results on it as in this process (what lets dask's ``Client.get_executor()``
plug in later without touching the callers)."""
from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import pandas as pd
import pytest

from khforecast.engine.calibration.backtest import backtest
from khforecast.engine.pool import load_pool
from khforecast.engine.executor import SerialExecutor, make_executor, run_map
from khforecast.engine.forecaster import Forecaster
from khforecast.engine.series import forecast_series


class CountingExecutor(Executor):
    """A foreign executor (like dask's): a thread pool that counts what it was given."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.calls = 0

    def submit(self, fn, /, *args, **kwargs):
        self.calls += 1
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _square(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x


def test_serial_executor_is_a_standard_executor():
    with SerialExecutor() as ex:
        assert ex.submit(_square, 3).result() == 9
        assert list(ex.map(_square, [1, 2, 3])) == [1, 4, 9]
        with pytest.raises(ValueError, match="negative"):
            ex.submit(_square, -1).result()


def test_make_executor_is_serial_for_one_job_and_refuses_zero():
    assert isinstance(make_executor(1), SerialExecutor)
    with pytest.raises(ValueError, match="positive"):
        make_executor(0)


def test_run_map_keeps_order_and_leaves_a_given_executor_running():
    ex = CountingExecutor()
    try:
        assert run_map(_square, range(6), executor=ex) == [0, 1, 4, 9, 16, 25]
        assert ex.calls == 6
        assert run_map(_square, [7], executor=ex) == [49]  # still usable: not shut down
    finally:
        ex.shutdown()
    assert run_map(_square, range(4), jobs=2) == [0, 1, 4, 9]


def test_forecaster_on_any_executor_gives_the_same_paths(obs, catalog):
    serial = Forecaster(sims=200, seed=3, jobs=1).fit(obs, catalog).simulate(2030).to_frame()
    ex = CountingExecutor()
    try:
        other = Forecaster(sims=200, seed=3, executor=ex).fit(obs, catalog).simulate(2030)
    finally:
        ex.shutdown()
    assert ex.calls > 1
    pd.testing.assert_frame_equal(serial, other.to_frame())


def test_forecast_series_and_backtests_on_any_executor_give_the_same_tables():
    frame = pd.DataFrame({"series_id": [f"s{i}" for i in range(3) for _ in range(8)],
                          "t": list(range(2010, 2018)) * 3,
                          "value": [float(v + i) for i in range(3) for v in range(8)]})
    series = load_pool(["labour"])[:4]
    ex = CountingExecutor()
    try:
        pd.testing.assert_frame_equal(forecast_series(frame, 2, seed=4, sims=100),
                                      forecast_series(frame, 2, seed=4, sims=100, executor=ex))
        pd.testing.assert_frame_equal(backtest(series, n_sims=100, seed=5, max_cases=2),
                                      backtest(series, n_sims=100, seed=5, max_cases=2,
                                               executor=ex))
    finally:
        ex.shutdown()
    assert ex.calls >= 2
