"""One executor for every parallel step: a standard :class:`concurrent.futures.Executor`.

The forecaster, the calibration back-tests, ``forecast-series`` and the batch's compute step all
map a pure function over independent units of work (each with its own ``SeedSequence`` child,
so results do not depend on where or in which order a unit runs). They take an optional
``executor``: any ``concurrent.futures.Executor`` (a process pool, a thread pool, dask's
``Client.get_executor()``); without one, :func:`make_executor` makes the default for ``jobs``
(one process per job; in this process for ``jobs=1``). :func:`run_map` is the one call they make.

Multi-place and commune-scale runs choose their executor by name: :func:`open_executor` gives
``processes`` (a ``ProcessPoolExecutor``) or ``dask`` (``Client.get_executor()`` of a
``dask.distributed`` cluster: a ``LocalCluster`` started here, or an existing one at
``scheduler``, see ``dask scheduler`` / ``dask worker`` in the README), and
:func:`map_ordered` runs their units with a bounded number in flight, in input order, turning a
lost or failed unit into one located error.
"""
from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

from khforecast.errors import KhforecastError

__all__ = ["CONNECT_TIMEOUT_S", "EXECUTORS", "ExecutorError", "SerialExecutor", "make_executor",
           "map_ordered", "open_executor", "run_map"]

T = TypeVar("T")
R = TypeVar("R")

ExecutorKind = Literal["processes", "dask"]
EXECUTORS: tuple[str, ...] = ("processes", "dask")
#: seconds to wait for a dask scheduler before saying it cannot be reached (the issue's bar is 30)
CONNECT_TIMEOUT_S = 10
#: times dask re-runs a unit that raised (a unit whose worker died is re-run by the scheduler
#: itself, up to its ``distributed.scheduler.allowed-failures``, 3 by default)
_RETRIES = 2


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


class ExecutorError(KhforecastError):
    """Raised when the executor cannot start, its scheduler is unreachable, or a unit is lost."""


@contextlib.contextmanager
def open_executor(kind: str = "processes", *, workers: int | None = None,
                  scheduler: str | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Executor]:
    """An ``Executor`` of the chosen kind, shut down (and a cluster started here closed) on exit.

    Parameters
    ----------
    kind
        ``processes`` (default) or ``dask``.
    workers
        Worker processes (``processes``, or a ``LocalCluster`` started here); ``None``: one per
        core. Ignored when connecting to ``scheduler``.
    scheduler
        Address of a running dask scheduler (``tcp://host:8786``); only with ``kind="dask"``.
    connect_timeout
        Seconds to wait for that scheduler.

    Raises
    ------
    ExecutorError
        An unknown kind, ``scheduler`` without dask, dask not installed, or a scheduler that
        does not answer within ``connect_timeout`` (the message names the address).

    Examples
    --------
    >>> with open_executor("processes", workers=1) as ex:
    ...     list(map_ordered(ex, abs, [-1, -2]))
    [1, 2]
    """
    if kind not in EXECUTORS:
        raise ExecutorError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {kind!r}")
    if scheduler and kind != "dask":
        raise ExecutorError("--scheduler needs --executor dask")
    n = max(1, workers or os.cpu_count() or 1)
    if kind == "processes":
        with ProcessPoolExecutor(max_workers=n) as ex:
            yield ex
        return
    try:
        from distributed import Client  # optional heavy import, only for dask runs
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ExecutorError(f"--executor dask needs dask.distributed ({exc})") from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{connect_timeout}s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(
                    f"--scheduler {scheduler}: no dask scheduler answered within "
                    f"{connect_timeout:g} s ({type(exc).__name__}: {exc}); start one with "
                    f"`dask scheduler` and `dask worker {scheduler}`, or omit --scheduler to "
                    f"run a local cluster") from None
        else:
            cluster = stack.enter_context(local_cluster(n))
            client = Client(cluster)
        stack.callback(client.close)
        ex = client.get_executor(pure=False, retries=_RETRIES)
        yield ex
        ex.shutdown(wait=True)


WORKER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False}
"""dask settings of the workers a run starts: dask's statistical profiler (the dashboard's
profile view) keeps a call tree that grew by about 460 dicts and 0.2 MiB a unit of work
(measured on a 1-worker LocalCluster, 220 commune units), so a worker's memory climbed with
the series count; off, the worker's memory stays flat."""


def local_cluster(n_workers: int, *, profiler: bool = False) -> Any:
    """A ``LocalCluster`` of ``n_workers`` single-threaded worker processes, as dask runs use
    (``profiler``: dask's profiler left on, to measure what :data:`WORKER_CONFIG` saves)."""
    import dask  # optional heavy import, only for dask runs
    from distributed import LocalCluster

    config = {} if profiler else WORKER_CONFIG
    with dask.config.set(config):  # the nannies hand this config to their workers
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address=":0", silence_logs=40)


def map_ordered(executor: Executor, fn: Callable[[T], R], units: Iterable[T], *,
                window: int = 8, label: Callable[[int, T], str] | None = None) -> Iterator[R]:
    """``fn(unit)`` for each unit through ``executor``, in input order, at most ``window`` in flight.

    Holding only ``window`` results at a time is what lets a run of 332,000 series stream its
    outputs instead of keeping every path. A unit that fails (its worker died past dask's
    retries, or the process pool broke) raises one ``ExecutorError`` naming the unit
    (``label(index, unit)``, default its position) and the cause; the caller writes nothing
    partial because it commits its outputs only after the last unit.

    Raises
    ------
    ExecutorError
    """
    pending: deque[tuple[int, T, Future]] = deque()
    it = iter(enumerate(units))

    def fill() -> None:
        while len(pending) < max(1, window):
            try:
                i, unit = next(it)
            except StopIteration:
                return
            pending.append((i, unit, executor.submit(fn, unit)))

    fill()
    while pending:
        i, unit, fut = pending.popleft()
        try:
            result = fut.result()
        except KhforecastError:
            _cancel(pending)
            raise
        except Exception as exc:  # a lost worker or a crash inside the unit: located, never partial
            _cancel(pending)
            where = label(i, unit) if label else f"unit {i}"
            lost = isinstance(exc, BrokenProcessPool) or type(exc).__name__ == "KilledWorker"
            why = ("its worker died" + ("" if isinstance(exc, BrokenProcessPool) else
                                        " each time dask re-ran it") if lost else "it raised")
            raise ExecutorError(f"{where} failed: {why} ({type(exc).__name__}: {exc}); "
                                "nothing was written") from exc
        fill()
        yield result


def _cancel(pending: Iterable[tuple[int, Any, Future]]) -> None:
    """Cancel the units not yet started (those running finish and are dropped)."""
    for _, _, fut in pending:
        fut.cancel()
