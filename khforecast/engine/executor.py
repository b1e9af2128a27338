"""One executor for every parallel step: a standard :class:`concurrent.futures.Executor`.

The forecaster, the calibration back-tests, ``forecast-series`` and the batch's compute step all
map a pure function over independent units of work (each with its own ``SeedSequence`` child,
so results do not depend on where or in which order a unit runs). They take an optional
``executor``: any ``concurrent.futures.Executor`` (a process pool, a thread pool, dask's
``Client.get_executor()``); without one, :func:`make_executor` makes the default for ``jobs``
(one process per job; in this process for ``jobs=1``). :func:`run_map` is the one call they make.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["SerialExecutor", "make_executor", "run_map"]

T = TypeVar("T")
R = TypeVar("R")


class SerialExecutor(Executor):
    """An ``Executor`` that runs each call at once in this process (``jobs=1``; no pickling)."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future, like a pool's
            future.set_exception(exc)
        return future


def make_executor(jobs: int | None = None) -> Executor:
    """The default executor for ``jobs`` workers: serial for 1, else a process pool
    (``None``: one process per core). The caller shuts it down (use it in a ``with``)."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"jobs: expected a positive number of workers, found {jobs}")
    return SerialExecutor() if workers == 1 else ProcessPoolExecutor(max_workers=workers)


def run_map(fn: Callable[[T], R], items: Iterable[T], *, executor: Executor | None = None,
            jobs: int | None = 1, chunksize: int = 1) -> list[R]:
    """``[fn(x) for x in items]``, in order, computed on ``executor`` or on the default for ``jobs``.

    A given ``executor`` is left running (its owner shuts it down); one made here is shut down
    before returning. ``chunksize`` batches items for a process pool (other executors ignore it).
    """
    items = list(items)
    if executor is not None:
        return _map(executor, fn, items, chunksize)
    if jobs == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with make_executor(jobs) as pool:
        return _map(pool, fn, items, chunksize)


def _map(executor: Executor, fn: Callable[[T], R], items: list[T], chunksize: int) -> list[R]:
    if isinstance(executor, ProcessPoolExecutor):
        return list(executor.map(fn, items, chunksize=chunksize))
    return list(executor.map(fn, items))
