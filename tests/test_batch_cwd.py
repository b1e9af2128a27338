"""The batch never moves this process's working folder (issue 7).

papermill's ``cwd=`` changes the working folder of the process it runs in; when notebooks ran in
threads, a relative ``--out`` was resolved against whichever run folder a thread had switched
to last, and the run failed after every notebook had succeeded. These tests watch the working
folder while notebooks run in parallel, and run a tiny batch with a relative ``--out`` twenty
times in a row.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from conftest import TESTS

from khforecast.batch.notebooks import NotebookJob, execute_notebooks

TINY = TESTS / "notebooks" / "parameters.ipynb"


class CwdWatcher:
    """Record every working folder this process has while a block runs (sampled each ms)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.seen.add(os.getcwd())
            self._stop.wait(0.001)

    def __enter__(self) -> CwdWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.seen.add(os.getcwd())


def test_parallel_notebooks_never_change_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    (run_dir / "notebooks").mkdir(parents=True)
    (run_dir / "html").mkdir()
    jobs = [NotebookJob(f"nb{i}", TINY, {"count": i, "run_dir": str(run_dir)}, f"nb{i}")
            for i in range(4)]
    with CwdWatcher() as watch:
        entries = execute_notebooks(jobs, Path("run"), n_jobs=4)
    assert watch.seen == {str(tmp_path)}
    assert sorted(entries) == ["nb0", "nb1", "nb2", "nb3"]
    assert all(e["status"] == "ok" for e in entries.values()), entries
    assert all((run_dir / "html" / f"nb{i}.html").is_file() for i in range(4))


def test_twenty_tiny_runs_with_a_relative_out_all_succeed(tmp_path, monkeypatch):
    """What `make run` does (a relative ``--out``, parallel notebooks), repeated on a tiny
    batch: one series to forecast and four tiny notebooks instead of the briefings."""
    import khforecast.batch.run as batch

    data = tmp_path / "one.csv"
    data.write_text("indicator_id,place,year,value,source\n"
                    + "".join(f"02,khanh_hoa,{y},{v},test series\n"
                              for y, v in zip(range(2015, 2025),
                                              (2.1, 2.3, 2.2, 2.4, 3.5, 4.7, 5.7, 3.4, 2.6, 2.5))),
                    encoding="utf-8")

    def tiny_jobs(params, catalog, run_dir, **_):
        return [NotebookJob(f"tiny{i}", TINY, {"count": i, "run_dir": str(run_dir)}, f"tiny{i}")
                for i in range(4)]

    monkeypatch.setattr(batch, "plan_jobs", tiny_jobs)
    monkeypatch.chdir(tmp_path)
    runs = []
    for _ in range(20):
        result = batch.run_batch(["one.csv"], out="outputs", sims=50, seed=1, jobs=4,
                                 progress=False, log=lambda msg: None)
        assert result.ok and result.latest_updated, result.manifest
        assert os.getcwd() == str(tmp_path)
        latest = Path("outputs/latest")
        assert latest.resolve() == result.run_dir
        runs.append(result.run_dir)
    assert len(set(runs)) == 20
