"""Where the series are computed: local processes or a dask cluster, behind one ``Executor``.

Every parallel step maps a pure function over work units through a standard
``concurrent.futures.Executor``; :func:`open_executor` gives one. ``processes`` is a
``ProcessPoolExecutor``; ``dask`` is ``Client.get_executor()`` of a ``dask.distributed``
cluster, either a ``LocalCluster`` started here or an existing one at ``scheduler``
(``dask scheduler`` / ``dask worker``, see the README). Results are pure functions of each unit
and its own seed, so the bytes written do not depend on the executor or on how many workers
it has. :func:`map_ordered` runs the units with a bounded number in flight, yields results in
input order and turns a lost or failed unit into one located error.
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

__all__ = ["CONNECT_TIMEOUT_S", "EXECUTORS", "ExecutorError", "map_ordered", "open_executor"]

ExecutorKind = Literal["processes", "dask"]
EXECUTORS: tuple[str, ...] = ("processes", "dask")
#: seconds to wait for a dask scheduler before saying it cannot be reached (the issue's bar is 30)
CONNECT_TIMEOUT_S = 10
#: times dask re-runs a unit that raised (a unit whose worker died is re-run by the scheduler
#: itself, up to its ``distributed.scheduler.allowed-failures``, 3 by default)
_RETRIES = 2

T = TypeVar("T")
R = TypeVar("R")


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
        from distributed import Client, LocalCluster  # optional heavy import, only for dask runs
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
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=40))
            client = Client(cluster)
        stack.callback(client.close)
        ex = client.get_executor(pure=False, retries=_RETRIES)
        yield ex
        ex.shutdown(wait=True)


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
