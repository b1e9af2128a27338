"""The batch's notebooks: which ones to run (jobs), executing them with papermill in threads.

Rendering each.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from khforecast.batch.params import BatchParams
from khforecast.briefing.agency_names import agency_label
from khforecast.briefing.i18n import t
from khforecast.briefing.render import render_html
from khforecast.errors import CatalogError, ParamsError
from khforecast.plan.catalog import SECTORS, Catalog
from khforecast.plan.departments import current_departments, department_slug, resolve_department

__all__ = [
    "KERNEL_ARGS",
    "KERNEL_NAME",
    "KernelStall",
    "Kernels",
    "NotebookJob",
    "execute_notebook",
    "execute_notebooks",
    "notebooks_dir",
    "plan_jobs",
]


#: the Jupyter kernel the notebooks run in (the Makefile registers it inside ``.venv``)
KERNEL_NAME = "python3"
#: the kernel logs errors only (not ipykernel's warning that its local TCP is unencrypted)
KERNEL_ARGS: tuple[str, ...] = ("--IPKernelApp.log_level=ERROR",)


def notebooks_dir() -> Path:
    """The folder of the notebook templates shipped with the package."""
    return Path(str(resources.files("khforecast") / "notebooks"))


@dataclass(frozen=True)
class NotebookJob:
    """One notebook of a batch: which template, under which name, with which parameters."""

    name: str  # file stem of the outputs: html/<name>.html, notebooks/<name>.ipynb
    template: Path
    parameters: dict[str, Any]
    title: str


# --------------------------------------------------------------------------------------------
# 2. notebooks
# --------------------------------------------------------------------------------------------
def plan_jobs(params: BatchParams, catalog: Catalog, run_dir: Path, *, lang: str = "vi",
              sectors: Sequence[str] | None = None,
              extra_notebooks: Sequence[str | os.PathLike[str]] = (),
              national: bool = False) -> list[NotebookJob]:
    """The notebooks of a run: each sector's briefing, the overview, deep dives, the explorer,
    the task tracker and one scorecard per current lead department (``scorecards``).

    ``extra_notebooks`` are run too, given ``run_dir`` and ``lang`` as parameters. ``national``
    (a multi-place run) adds the national overview of every place.

    Raises
    ------
    ParamsError
        When a sector is not one of I..X, a deep-dive id is not in the catalog or a scorecard
        names no current lead department.
    """
    src = notebooks_dir()
    common = {"lang": lang, "run_dir": str(run_dir)}
    chosen = list(sectors) if sectors else list(SECTORS)
    bad = [s for s in chosen if s not in SECTORS]
    if bad:
        raise ParamsError(f"--sectors: expected sectors among {', '.join(SECTORS)}, "
                          f"found {bad[0]!r}")
    jobs = [NotebookJob("overview", src / "overview.ipynb", dict(common), t("h.overview", lang))]
    if national:
        jobs.append(NotebookJob("national_overview", src / "national_overview.ipynb", dict(common),
                                t("h.national", lang)))
    for s in chosen:
        name = catalog.sectors[s]
        title = f"{s}. {name.name_vi if lang == 'vi' else name.name_en}"
        jobs.append(NotebookJob(f"sector_{s}", src / "sector_briefing.ipynb",
                                {**params.sector(s).notebook_parameters(), **common}, title))
    for ind_id in params.deep_dives:
        if ind_id not in catalog.indicators:
            raise ParamsError(f"{params.source or 'params'}, key 'deep_dives': expected "
                              f"indicator ids of the catalog, found {ind_id!r}")
        jobs.append(NotebookJob(f"deep_dive_{ind_id}", src / "indicator_deep_dive.ipynb",
                                {"indicator_id": ind_id, **common},
                                t("h.deep_dive", lang, id=ind_id, name=(
                                    catalog.get(ind_id).name_vi if lang == "vi"
                                    else catalog.get(ind_id).name_en))))
    if params.scenario_explorer:
        jobs.append(NotebookJob("scenario_explorer", src / "scenario_explorer.ipynb",
                                {"interactive": False, **common}, t("h.scenario_explorer", lang)))
    if params.task_tracker:
        jobs.append(NotebookJob("task_tracker", src / "task_tracker.ipynb", dict(common),
                                t("h.task_tracker", lang)))
    for dept in _scorecard_departments(params, catalog):
        jobs.append(NotebookJob(f"scorecard_{department_slug(dept)}",
                                src / "department_scorecard.ipynb",
                                {"department": dept, **common},
                                t("h.scorecard", lang, name=agency_label(catalog, dept, lang))))
    for extra in extra_notebooks:
        path = Path(extra)
        jobs.append(NotebookJob(path.stem, path, dict(common), path.stem))
    names = [j.name for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ParamsError(f"two notebooks of the run would be named {min(dup)!r}")
    return jobs


def _scorecard_departments(params: BatchParams, catalog: Catalog) -> list[str]:
    """The current lead departments that get a scorecard (``scorecards: all``: every one)."""
    if params.scorecards == ("all",):
        return current_departments(catalog)
    out = []
    for name in params.scorecards:
        try:
            out.append(resolve_department(catalog, name))
        except CatalogError:
            raise ParamsError(f"{params.source or 'params'}, key 'scorecards': expected current "
                              f"lead departments ({'; '.join(current_departments(catalog))}) or "
                              f"all, found {name!r}") from None
    return list(dict.fromkeys(out))


def _is_dead_kernel(exc: BaseException) -> bool:
    """A kernel that died (also while starting), never answered or stalled its client
    (retried once); not a cell that ran too long."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        return False
    return isinstance(exc, (DeadKernelError, TimeoutError)) or (
        isinstance(exc, RuntimeError) and any(m in str(exc) for m in _DEAD_KERNEL_MESSAGES))


#: jupyter_client's words (a plain ``RuntimeError``) for a kernel that did not start: it died
#: while starting (seen under heavy load) or did not answer within ``start_timeout``
_DEAD_KERNEL_MESSAGES = ("Kernel didn't respond", "Kernel died before replying")

#: seconds past ``start_timeout`` after which the watchdog kills a kernel that has not started
#: (nbclient's own timeout covers only the wait for the kernel's first reply)
START_MARGIN = 10.0
#: seconds the Jupyter client has to return once its kernel is gone (died, or killed by the
#: watchdog); then the attempt is abandoned as stalled
CLIENT_GRACE = 10.0
#: seconds it has after nbclient began shutting the kernel down at the notebook's end
ENDING_GRACE = 60.0
#: seconds it has after Ctrl-C (its kernel killed at once)
STOP_GRACE = 5.0
#: how often the watchdog looks (seconds)
WATCH_TICK = 0.25


class KernelStall(TimeoutError):
    """The Jupyter client of a notebook did not return in time: its kernel did not start, or the
    client stayed blocked (e.g. in a zmq call) after its kernel had gone; the attempt was
    abandoned and its kernel killed."""


class Kernels:
    """The kernels a batch started, so that Ctrl-C can end them, and whether it is stopping.

    Each notebook's kernel is started by :func:`_manager_class`'s manager, which registers it
    here (before launching it, so that a kernel still starting is ended too) and sends the
    kernel's own output (ipykernel's log, its tracebacks when a cell is interrupted) to a log
    file in the run folder instead of the terminal.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._managers: set[Any] = set()
        self.stopping = threading.Event()

    def add(self, km: Any) -> None:
        """Record a kernel being started (ended at once if the batch is already stopping)."""
        with self._lock:
            self._managers.add(km)
        if self.stopping.is_set():
            _kill(km)

    def discard(self, km: Any) -> None:
        """Forget a kernel that has been shut down."""
        with self._lock:
            self._managers.discard(km)

    def kill_all(self) -> None:
        """Kill every kernel still recorded (ones shut down are forgotten already)."""
        with self._lock:
            managers = list(self._managers)
        for km in managers:
            _kill(km)

    def stop(self) -> None:
        """Start no more kernels and kill the running ones (their notebooks then fail fast)."""
        self.stopping.set()
        self.kill_all()


def _process(km: Any) -> Any:
    """The kernel's ``Popen`` (``None`` before it is launched or after it is cleaned up)."""
    return getattr(getattr(km, "provisioner", None), "process", None)


def _kill(km: Any) -> None:
    """Kill a kernel's process group (the kernel is a session leader: its children too).

    A kernel already reaped is left alone: its process id may belong to another process now.
    """
    process = _process(km)
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()


class _Watch:
    """One attempt at a notebook, as the watchdog sees it: its kernel manager, whether the
    kernel has answered, whether nbclient is shutting it down, and when to give up on it."""

    def __init__(self, start_timeout: float) -> None:
        self.t0 = time.monotonic()
        self.start_timeout = start_timeout
        self.km: Any = None
        self.launched = False  # start_kernel returned
        self.ready = False  # the kernel answered kernel_info (nbclient's on_notebook_start)
        self.ending = False  # nbclient called shutdown_kernel
        self.abandoned = threading.Event()
        self._deadline: float | None = None
        self._reason = ""

    def on_ready(self, **_: Any) -> None:
        """nbclient's ``on_notebook_start`` hook: the kernel is up and answering."""
        self.ready = True

    def _give_up_at(self, deadline: float, reason: str) -> None:
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline
            self._reason = self._reason or reason

    def _kernel_gone(self) -> bool:
        process = _process(self.km)
        return self.launched and (process is None or process.poll() is not None)

    def overdue(self, stopping: bool, now: float) -> str | None:
        """Why this attempt should be abandoned now (its kernel is then killed), else ``None``.

        The kernel must answer within ``start_timeout`` (+ :data:`START_MARGIN`), else it is
        killed; once the kernel is gone, the client must return within a grace period.
        """
        if stopping:
            self._give_up_at(now + STOP_GRACE, "the run was interrupted")
        if self._deadline is None:
            if not self.ready and now - self.t0 > self.start_timeout + START_MARGIN:
                _kill(self.km)
                self._give_up_at(now + CLIENT_GRACE,
                                 f"the kernel did not start within {self.start_timeout:g} s")
            elif self._kernel_gone():
                self._give_up_at(now + (ENDING_GRACE if self.ending else CLIENT_GRACE),
                                 "the Jupyter client did not return after the kernel "
                                 + ("was shut down" if self.ending else "died"))
        return self._reason if self._deadline is not None and now >= self._deadline else None


def _watched(work: Callable[[], Any], watch: _Watch, kernels: Kernels, name: str) -> None:
    """Run ``work`` (one papermill execution) in a daemon thread under the watchdog.

    Returns when it returns and re-raises what it raises; raises :class:`KernelStall`, its
    kernel killed, when :meth:`_Watch.overdue` gives up on it. An abandoned thread may stay
    blocked in the Jupyter client: being a daemon, it never keeps the process from exiting.
    """
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the watching thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=f"khforecast-{name}", daemon=True).start()
    while not done.wait(WATCH_TICK):
        reason = watch.overdue(kernels.stopping.is_set(), time.monotonic())
        if reason is not None:
            watch.abandoned.set()
            _kill(watch.km)
            raise KernelStall(reason)
    if failure:
        raise failure[0]


def _manager_class(kernels: Kernels, log: Any, watch: _Watch) -> type:
    """A jupyter kernel manager class that registers its kernel in ``kernels`` and ``watch``
    and writes the kernel's stdout/stderr to the open file ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # noqa: D102 - see the class above
            if kernels.stopping.is_set():
                raise KeyboardInterrupt("the run was interrupted")
            watch.km = self
            kernels.add(self)
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super().start_kernel(**kw)
            watch.launched = True
            if kernels.stopping.is_set() or watch.abandoned.is_set():
                _kill(self)  # stopped or given up on while it was starting

        async def shutdown_kernel(self, *a: Any, **kw: Any) -> None:  # noqa: D102
            watch.ending = True
            try:
                await super().shutdown_kernel(*a, **kw)
            finally:
                kernels.discard(self)

    return BatchKernelManager


def _quiet_papermill_log() -> None:
    """papermill logs each cell timeout as a warning on stderr; the run reports it already."""
    logger = logging.getLogger("papermill")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _error_text(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    first = (str(exc).strip().splitlines() or [""])[0]  # nbclient appends the cell's source
    return f"{type(exc).__name__}: {first}".strip()


def _papermill_without_chdir() -> None:
    """Make papermill's local file handler read and write without ``os.chdir``.

    papermill's ``LocalHandler`` wraps every read and write in ``os.chdir(self._cwd)``, a
    process-wide change, with ``_cwd`` shared by every thread: from several threads it leaves a
    stale folder there and moves this process's working folder while notebooks run (issue 7).
    The batch passes absolute paths only, so the handler needs no folder of its own: this
    makes the handler never record one (idempotent).
    """
    from papermill.iorw import papermill_io

    handler = papermill_io.get_handler("notebook.ipynb")  # the local handler
    handler.cwd = lambda new_path: None  # papermill's hook to record a folder: ignore it
    handler._cwd = None  # so its reads and writes never chdir (papermill: chdir(None) is a no-op)


def execute_notebook(job: NotebookJob, run_dir: Path, *, lang: str = "vi",
                     start_timeout: int = 120, cell_timeout: int = 600,
                     kernel_name: str = KERNEL_NAME, kernels: Kernels | None = None
                     ) -> dict[str, Any]:
    """Execute one notebook with papermill, then render it; never raises for the notebook's own
    errors, which are returned (and saved in the executed notebook and its HTML).

    Returns the notebook's manifest entry: ``name, title, template, parameters, status``
    (``ok``, ``error`` or ``interrupted`` when ``kernels`` was stopped), ``error``,
    ``attempts``, ``seconds``, ``render_seconds``, ``notebook`` and ``html`` (paths relative
    to ``run_dir``). The kernel's own output goes to ``logs/<name>.kernel.log``.

    Bounded in time: a kernel that does not answer within ``start_timeout`` (+
    :data:`START_MARGIN`) is killed, and a Jupyter client still blocked a grace period after
    its kernel is gone (died, killed, or after Ctrl-C) is abandoned (:class:`KernelStall`).
    A kernel that died, also while starting, or stalled is retried once; a cell timeout is not.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _papermill_without_chdir()
    nb_out = run_dir / "notebooks" / f"{job.name}.ipynb"
    html_out = run_dir / "html" / f"{job.name}.html"
    tmp = nb_out.with_name(f".{job.name}.tmp.ipynb")
    stale: list[Path] = []  # temp notebooks of abandoned attempts (their thread may still write)
    entry: dict[str, Any] = {"name": job.name, "title": job.title, "template": job.template.name,
                             "parameters": job.parameters, "status": "ok", "error": None,
                             "attempts": 0, "notebook": f"notebooks/{job.name}.ipynb",
                             "html": None}
    own_kernels = kernels is None
    kernels = kernels or Kernels()
    t0 = time.perf_counter()
    (run_dir / "logs").mkdir(exist_ok=True)
    with open(run_dir / "logs" / f"{job.name}.kernel.log", "ab") as log:
        for attempt in (1, 2):
            if kernels.stopping.is_set():
                entry["status"], entry["error"] = "interrupted", "the run was interrupted"
                break
            entry["attempts"] = attempt
            watch = _Watch(start_timeout)
            out = str(tmp)

            def work(out: str = out, watch: _Watch = watch) -> None:
                papermill.execute_notebook(str(job.template), out,
                                           parameters=job.parameters, kernel_name=kernel_name,
                                           start_timeout=start_timeout,
                                           execution_timeout=cell_timeout, progress_bar=False,
                                           # the kernel's own folder; never papermill's cwd=,
                                           # which os.chdir()s this process (issue 7)
                                           resources={"metadata": {"path": str(run_dir)}},
                                           language="python",
                                           kernel_manager_class=_manager_class(kernels, log,
                                                                               watch),
                                           on_notebook_start=watch.on_ready,
                                           extra_arguments=list(KERNEL_ARGS))

            try:
                _watched(work, watch, kernels, job.name)
                entry["status"], entry["error"] = "ok", None
                break
            except PapermillExecutionError as exc:
                entry["status"], entry["error"] = "error", _error_text(exc)
                break
            except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - any failure of one
                entry["status"], entry["error"] = "error", _error_text(exc)  # notebook
                if isinstance(exc, KernelStall):
                    stale.append(tmp)
                    tmp = nb_out.with_name(f".{job.name}.tmp{attempt + 1}.ipynb")
                if not (_is_dead_kernel(exc) and attempt == 1):
                    break
        if kernels.stopping.is_set():
            entry["status"], entry["error"] = "interrupted", "the run was interrupted"
    for path in stale:
        path.unlink(missing_ok=True)
    if own_kernels:
        kernels.kill_all()  # an abandoned attempt's kernel, if any
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    if entry["status"] == "interrupted":
        tmp.unlink(missing_ok=True)
        entry["notebook"] = None
    elif tmp.is_file():
        os.replace(tmp, nb_out)
        t1 = time.perf_counter()
        try:
            render_html(nb_out, html_out, lang=lang, title=job.title)
            entry["html"] = f"html/{job.name}.html"
        except Exception as exc:  # noqa: BLE001 - a rendering failure fails this notebook only
            entry["status"] = "error"
            entry["error"] = (entry["error"] + "; " if entry["error"] else "") + \
                f"rendering failed: {_error_text(exc)}"
        entry["render_seconds"] = round(time.perf_counter() - t1, 3)
    else:
        entry["notebook"] = None
    return entry


def execute_notebooks(jobs: Sequence[NotebookJob], run_dir: Path, *, n_jobs: int,
                      lang: str = "vi", start_timeout: int = 120, cell_timeout: int = 600,
                      on_done: Callable[[dict[str, Any]], None] | None = None,
                      entries: dict[str, dict[str, Any]] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Execute ``jobs`` (``n_jobs`` at a time, in threads); their manifest entries by name.

    Kernels start in ``run_dir`` without this process changing its working folder (see
    :func:`execute_notebook`). On Ctrl-C (or any error here) the queued notebooks are
    cancelled and the running kernels killed before the exception propagates; the entries
    finished by then are in ``entries`` when one is passed. ``on_done`` is called with each
    entry as it finishes.
    """
    run_dir = Path(run_dir).resolve()
    _quiet_papermill_log()
    entries: dict[str, dict[str, Any]] = {} if entries is None else entries
    kernels = Kernels()
    pool = ThreadPoolExecutor(max_workers=max(1, min(n_jobs, len(jobs) or 1)))
    try:
        futures = [pool.submit(execute_notebook, job, run_dir, lang=lang,
                               start_timeout=start_timeout, cell_timeout=cell_timeout,
                               kernels=kernels)
                   for job in jobs]
        for fut in as_completed(futures):
            entry = fut.result()
            entries[entry["name"]] = entry
            if on_done is not None:
                on_done(entry)
    except BaseException:
        kernels.stop()
        # bounded: each worker's watchdog gives up on its notebook STOP_GRACE s after this
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        kernels.kill_all()  # kernels of abandoned attempts, if any: none outlives the batch
    pool.shutdown(wait=True)
    return entries
