"""Issue 13: every hostile or careless input and file-system fault of the issue, through the CLI.

Each test is one case of the issue (its ``case`` name is in ``/work/notes/issue-13.md`` style:
class, then what the user did). Each asserts the behaviour its class promises: a located,
one-line error (exit 1 for data/params/files, 2 for usage), nothing written or half-written,
nothing silently dropped, bounded time and memory. Cases that could hang or exhaust memory
run the CLI in a child process with an address-space limit and a timeout, so a regression
fails the test instead of the machine.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from conftest import TESTS, run_cli

DATA = TESTS / "data"
FILLED = DATA / "filled_template.xlsx"
HEADER = "indicator_id,place,year,value,source,status,note\n"
SERIES = "series_id,t,value\n" + "".join(f"a,{2010 + i},{10 + i}\n" for i in range(8))

#: what a user must never see
_CRASH = ("Traceback", "internal error", "please report it")


def xfail(case: str):
    """Mark a case of issue 13 not fixed yet (strict: the mark must go when it is fixed)."""
    return pytest.mark.xfail(strict=True, reason=f"issue 13: {case}")


def located(err: str, *words: str) -> None:
    """The error is a user error (no traceback, no 'internal error') naming every word."""
    for bad in _CRASH:
        assert bad not in err, err[-2000:]
    low = err.lower()
    for w in words:
        assert w.lower() in low, f"{w!r} not in: {err[-2000:]}"


def child(args: list[str], *, cwd: Path, timeout: float = 120, mem_gb: float = 2.5
          ) -> tuple[int, str, str]:
    """Run the CLI in a child process, limited to ``mem_gb`` of address space and ``timeout``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}

    def limit() -> None:
        size = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    try:
        p = subprocess.run([sys.executable, "-m", "khforecast.cli", *args], cwd=cwd,
                           capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
                           env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"khforecast {' '.join(args)} did not finish in {timeout} s")
    return p.returncode, p.stdout, p.stderr


def runs_in(out: Path) -> list[str]:
    """Run folders created under ``out`` (``latest`` and hidden files excluded)."""
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir() if p.name != "latest" and not p.name.startswith("."))


def params_dir(tmp: Path, batch: dict | str, sectors: dict[str, dict | str] | None = None,
               scenarios: dict | str | None = None) -> Path:
    """A params folder (strings are written verbatim, dicts as YAML); returns batch.yaml."""
    folder = tmp / "params"
    (folder / "sectors").mkdir(parents=True, exist_ok=True)

    def put(path: Path, body: dict | str) -> None:
        path.write_text(body if isinstance(body, str) else yaml.safe_dump(body), encoding="utf-8")

    put(folder / "batch.yaml", batch)
    for code, body in (sectors or {}).items():
        put(folder / "sectors" / f"{code}.yaml", body)
    if scenarios is not None:
        put(folder / "scenarios.yaml", scenarios)
    return folder / "batch.yaml"


def laughs(key: str) -> str:
    """A 'billion laughs' YAML value for ``key``: nine levels of nine aliases (9**9 strings)."""
    levels = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"&{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return f"{key}: [" + ", ".join(levels) + "]\n"


def template_copy(tmp: Path, edit) -> Path:
    """The filled template of tests/data with ``edit(data_sheet)`` applied, saved in ``tmp``."""
    wb = load_workbook(FILLED)
    edit(wb["Dữ liệu"])
    out = tmp / "edited.xlsx"
    wb.save(out)
    return out


# --------------------------------------------------------------------------------------------
# 2. hangs and unbounded memory
# --------------------------------------------------------------------------------------------
def test_billion_laughs_in_sims_is_refused_quickly(tmp_path):
    batch = params_dir(tmp_path, laughs("sims"))
    rc, _, err = child(["run", "--params", str(batch), "--out", str(tmp_path / "out"),
                        "--sectors", "II"], cwd=tmp_path, timeout=60)
    assert rc == 1
    located(err, "batch.yaml", "alias")
    assert len(err) < 2000 and runs_in(tmp_path / "out") == []


def test_billion_laughs_in_a_sector_note_is_refused_quickly(tmp_path):
    batch = params_dir(tmp_path, {"sims": 50}, {"II": "sector: II\n" + laughs("note")})
    rc, _, err = child(["run", "--params", str(batch), "--out", str(tmp_path / "out"),
                        "--sectors", "II"], cwd=tmp_path, timeout=60)
    assert rc == 1
    located(err, "II.yaml", "alias")
    assert len(err) < 2000 and runs_in(tmp_path / "out") == []


def test_a_yaml_file_over_the_size_limit_is_refused(tmp_path):
    batch = params_dir(tmp_path, "# " + "x" * (2 * 2**20) + "\nsims: 50\n")
    rc, _, err = run_cli(["forecast", "--params", str(batch), "--out", str(tmp_path / "o")])
    assert rc == 1
    located(err, "batch.yaml", "larger than")
    assert not (tmp_path / "o").exists()


def test_one_space_in_the_last_cell_of_the_sheet_validates_in_bounded_time(tmp_path):
    def edit(ws):
        ws["XFD1048576"] = " "

    book = template_copy(tmp_path, edit)
    assert book.stat().st_size < 64_000
    rc, out, err = child(["validate", str(book)], cwd=tmp_path, timeout=60, mem_gb=2)
    assert rc == 0, err
    assert "8 row(s)" in out


def _bad_rows(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for i in range(n):
            fh.write(f"02,khanh_hoa,{1990 + i % 46},not-a-number,s,final,\n")


def test_many_bad_rows_print_a_capped_list_and_a_count_of_the_rest(tmp_path):
    path = tmp_path / "bad.csv"
    _bad_rows(path, 20_000)
    rc, _, err = child(["validate", str(path)], cwd=tmp_path, timeout=120)
    assert rc == 1
    located(err, "bad.csv")
    lines = err.strip().splitlines()
    assert len(lines) <= 205
    assert "more" in err and "20000" in err.replace(",", "").replace(" ", "")


@pytest.mark.parametrize("command", [
    ["forecast", "--out", "o"],
    ["forecast-series", "--input", "s.csv", "--horizon", "2", "--out", "o.csv"],
    ["run", "--out", "o", "--sectors", "II"],
])
def test_a_billion_sims_is_a_usage_error(tmp_path, command):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    rc, _, err = child([*command, "--sims", "1000000000"], cwd=tmp_path, timeout=60)
    assert rc == 2
    located(err, "--sims", "at most")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.csv").exists()


def test_a_billion_sims_in_batch_yaml_names_the_key(tmp_path):
    batch = params_dir(tmp_path, {"sims": 1_000_000_000})
    rc, _, err = child(["forecast", "--params", str(batch), "--out", "o"], cwd=tmp_path,
                       timeout=60)
    assert rc == 1
    located(err, "batch.yaml", "sims", "at most")


def test_a_huge_horizon_is_a_usage_error(tmp_path):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    rc, _, err = child(["forecast-series", "--input", "s.csv", "--horizon", "100000000",
                        "--out", "o.csv"], cwd=tmp_path, timeout=60)
    assert rc == 2
    located(err, "--horizon")


# --------------------------------------------------------------------------------------------
# 3. data silently lost
# --------------------------------------------------------------------------------------------
def test_an_unclosed_quote_is_an_error_at_its_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(HEADER + '02,khanh_hoa,2018,3.46,s,final,"oops\n'
                    + "".join(f"02,khanh_hoa,{y},3.5,s,final,\n" for y in (2019, 2020, 2021)),
                    encoding="utf-8")
    rc, _, err = run_cli(["validate", str(path)])
    assert rc == 1
    located(err, "q.csv row 2", "quote")


def test_a_formula_without_a_computed_value_is_named(tmp_path):
    def edit(ws):
        ws["I5"] = "=3.4+0.09"

    rc, _, err = run_cli(["validate", str(template_copy(tmp_path, edit))])
    assert rc == 1
    located(err, "cell I5", "formula")


def test_merged_value_cells_are_named(tmp_path):
    def edit(ws):
        ws.merge_cells("I5:K5")

    rc, _, err = run_cli(["validate", str(template_copy(tmp_path, edit))])
    assert rc == 1
    located(err, "I5:K5", "merged")


def test_a_header_only_csv_is_not_valid(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(HEADER, encoding="utf-8")
    rc, _, err = run_cli(["validate", str(path)])
    assert rc == 1
    located(err, "h.csv", "no values")


def test_the_untouched_template_is_not_valid(tmp_path):
    book = tmp_path / "t.xlsx"
    assert run_cli(["template", str(book)])[0] == 0
    rc, _, err = run_cli(["validate", str(book)])
    assert rc == 1
    located(err, "t.xlsx", "no values")


def test_forecast_on_a_header_only_file_writes_nothing(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(HEADER, encoding="utf-8")
    rc, _, err = run_cli(["forecast", "--data", str(path), "--out", str(tmp_path / "o")])
    assert rc == 1
    located(err, "h.csv", "no values")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["forecast", "run"])
def test_a_place_the_data_do_not_hold_is_an_error(tmp_path, command):
    out = tmp_path / "o"
    rc, _, err = run_cli([command, "--place", "nowhere", "--out", str(out), "--sims", "50",
                          *(["--sectors", "II"] if command == "run" else [])])
    assert rc == 2
    located(err, "--place", "nowhere", "khanh_hoa")
    assert runs_in(out) == []


# --------------------------------------------------------------------------------------------
# 4. Ctrl-C
# --------------------------------------------------------------------------------------------
def _kernels_of(pid: int) -> list:
    """The ipykernel processes below ``pid`` (ones that vanish meanwhile are skipped)."""
    import psutil

    found = []
    for c in psutil.Process(pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(c.cmdline()):
                found.append(c)
        except psutil.Error:
            pass
    return found


def test_ctrl_c_stops_the_queue_ends_the_kernels_and_marks_the_run(tmp_path):
    import psutil

    out = tmp_path / "out"
    (out / "earlier").mkdir(parents=True)
    os.symlink("earlier", out / "latest")
    batch = params_dir(tmp_path, {"sims": 50, "jobs": 1, "scenario_explorer": False})
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # As at a terminal, SIGINT is not ignored in the child: a test run started in the
    # background of a script, under nohup or by some CI runners, has SIGINT ignored, and
    # Python keeps an inherited "ignore" (the run then rightly goes on: one cause of this
    # test's intermittent failures, see notes/issue-13.md, session 2).
    proc = subprocess.Popen([sys.executable, "-m", "khforecast.cli", "run", "--params",
                             str(batch), "--out", str(out), "--sectors", "I", "II", "III", "IV"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    kernels: list[psutil.Process] = []
    while time.monotonic() < deadline and not kernels:  # wait for the first kernel
        time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        kernels = _kernels_of(proc.pid)
    assert kernels, "no kernel started"
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the run went on for a minute after Ctrl-C")
    assert proc.returncode == 130
    located(err, "interrupted")
    assert os.readlink(out / "latest") == "earlier"
    (run,) = [r for r in runs_in(out) if r != "earlier"]
    manifest = json.loads((out / run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    done = list((out / run / "notebooks").glob("*.ipynb"))
    assert len(done) < 5  # overview + four sectors: the queue was not run
    time.sleep(1)
    def alive(k: psutil.Process) -> bool:
        try:
            return k.is_running() and k.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    assert not [k for k in kernels if alive(k)]


def _alive_kernels() -> list:
    """This process's ipykernel children that are still running (zombies excluded)."""
    import psutil

    out = []
    for k in _kernels_of(os.getpid()):
        try:
            if k.status() != psutil.STATUS_ZOMBIE:
                out.append(k)
        except psutil.Error:
            pass
    return out


def _finishes(fn, timeout: float):
    """Run ``fn`` in a daemon thread: (finished within ``timeout``, its result or exception)."""
    import threading

    box: list = []
    thread = threading.Thread(target=lambda: box.append(_call(fn)), daemon=True)
    thread.start()
    thread.join(timeout)
    return (not thread.is_alive()), (box[0] if box else None)


def _call(fn):
    try:
        return fn()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc


@pytest.fixture
def quick_watchdog(monkeypatch):
    """The watchdog's margins made short, so that a stall is given up on in seconds."""
    import khforecast.batch.notebooks as nbmod

    for name, value in (("START_MARGIN", 1.0), ("CLIENT_GRACE", 1.0), ("STOP_GRACE", 1.0)):
        monkeypatch.setattr(nbmod, name, value)
    return nbmod


def _notebook(path: Path, source: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('run_dir = ""', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_ctrl_c_is_not_held_up_by_a_client_blocked_after_its_kernel_was_killed(
        tmp_path, monkeypatch, quick_watchdog):
    """The cause of the intermittent Ctrl-C hang: after its kernel is killed, a notebook
    thread can stay blocked in the Jupyter client (seen in zmq's Context.term, from
    stop_channels); the batch then waited for that thread for ever."""
    import threading

    from jupyter_client.client import KernelClient

    interrupted, release = threading.Event(), threading.Event()
    stop_channels = KernelClient.stop_channels

    def stuck_after_ctrl_c(self):
        if interrupted.is_set():
            release.wait()  # as zmq's Context.term blocked
        stop_channels(self)

    monkeypatch.setattr(KernelClient, "stop_channels", stuck_after_ctrl_c)
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    (run / "html").mkdir()
    jobs = [quick_watchdog.NotebookJob("slow", _notebook(tmp_path / "slow.ipynb",
                                                         "import time\ntime.sleep(300)"),
                                       {}, "slow"),
            quick_watchdog.NotebookJob("quick", TESTS / "notebooks" / "parameters.ipynb", {},
                                       "quick")]

    def ctrl_c(entry):
        interrupted.set()
        raise KeyboardInterrupt

    try:
        finished, result = _finishes(lambda: quick_watchdog.execute_notebooks(
            jobs, run, n_jobs=2, start_timeout=60, cell_timeout=600, on_done=ctrl_c), 60)
        assert finished, "the batch waited for the blocked notebook thread"
        assert isinstance(result, KeyboardInterrupt), result
        assert not _alive_kernels()
        assert all(t.daemon for t in threading.enumerate() if t.name.startswith("khforecast-"))
    finally:
        release.set()


def _flaky_kernel(tmp_path: Path, monkeypatch) -> str:
    """A kernelspec whose first start exits at once (as a kernel dying under load); later starts
    run ipykernel. Returns its name."""
    spec = tmp_path / "jupyter" / "kernels" / "khf-flaky"
    spec.mkdir(parents=True)
    script = spec / "flaky.py"
    script.write_text("import os, sys\n"
                      "marker = sys.argv[1]\n"
                      "if not os.path.exists(marker):\n"
                      "    open(marker, 'w').close()\n"
                      "    sys.exit(1)\n"
                      "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher',"
                      " *sys.argv[2:]])\n", encoding="utf-8")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(script), str(tmp_path / "started-once"), "-f",
                 "{connection_file}"],
        "display_name": "flaky", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "khf-flaky"


def test_a_kernel_that_dies_while_starting_is_retried(tmp_path, monkeypatch):
    from khforecast.batch.notebooks import NotebookJob, execute_notebook

    kernel = _flaky_kernel(tmp_path, monkeypatch)
    (tmp_path / "notebooks").mkdir()
    job = NotebookJob("tiny", TESTS / "notebooks" / "parameters.ipynb", {"count": 2}, "tiny")
    entry = execute_notebook(job, tmp_path, start_timeout=60, cell_timeout=60,
                             kernel_name=kernel)
    assert (tmp_path / "started-once").exists()  # the first start did die
    assert entry["status"] == "ok", entry["error"]
    assert entry["attempts"] == 2
    assert (tmp_path / "notebooks" / "tiny.ipynb").is_file()


def test_a_kernel_start_that_blocks_the_client_is_bounded(tmp_path, monkeypatch,
                                                          quick_watchdog):
    """A client blocked for ever while starting its kernel (seen once under load, in a zmq
    send) ends in a located error within start_timeout and margins, its kernels ended."""
    import threading

    from jupyter_client.asynchronous.client import AsyncKernelClient

    release = threading.Event()
    monkeypatch.setattr(AsyncKernelClient, "kernel_info", lambda self: release.wait())
    (tmp_path / "notebooks").mkdir()
    job = quick_watchdog.NotebookJob("tiny", TESTS / "notebooks" / "parameters.ipynb", {},
                                     "tiny")
    try:
        finished, entry = _finishes(lambda: quick_watchdog.execute_notebook(
            job, tmp_path, start_timeout=2, cell_timeout=60), 90)
        assert finished, "the kernel start was not bounded"
        assert isinstance(entry, dict), entry
        assert entry["status"] == "error"
        assert entry["attempts"] == 2  # a stalled start is retried once, like a dead kernel
        assert "the kernel did not start within 2 s" in entry["error"]
        assert not _alive_kernels()
        assert not list((tmp_path / "notebooks").glob(".*.tmp*"))
    finally:
        release.set()


# --------------------------------------------------------------------------------------------
# 5. half-done runs and unchecked params
# --------------------------------------------------------------------------------------------
SCENARIOS_OK = {"scenarios": {"fast": {"kind": "accelerate", "factor": 2.0,
                                       "description": "RUN-OWN-SCENARIO"}}}


def test_an_unknown_scenario_name_leaves_no_run_folder(tmp_path):
    batch = params_dir(tmp_path, {"sims": 50, "scenarios": ["bau", "nosuch"]})
    rc, _, err = run_cli(["run", "--params", str(batch), "--out", str(tmp_path / "o"),
                          "--sectors", "II"])
    assert rc == 1
    located(err, "nosuch")
    assert runs_in(tmp_path / "o") == []


@pytest.mark.parametrize("command", ["forecast", "run"])
def test_a_bad_scenario_kind_leaves_no_output(tmp_path, command):
    batch = params_dir(tmp_path, {"sims": 50, "scenarios": ["bau", "odd"]},
                       scenarios={"scenarios": {"odd": {"kind": "bogus"}}})
    rc, _, err = run_cli([command, "--params", str(batch), "--out", str(tmp_path / "o"),
                          *(["--sectors", "II"] if command == "run" else [])])
    assert rc == 1
    located(err, "scenarios.yaml", "scenarios.odd.kind", "bogus")
    assert runs_in(tmp_path / "o") == []


@pytest.mark.parametrize("command", ["forecast", "run"])
def test_a_broken_scenarios_yaml_is_an_error_even_for_bau_only(tmp_path, command):
    batch = params_dir(tmp_path, {"sims": 50}, scenarios="scenarios: [unclosed\n")
    rc, _, err = run_cli([command, "--params", str(batch), "--out", str(tmp_path / "o"),
                          *(["--sectors", "II"] if command == "run" else [])])
    assert rc == 1
    located(err, "scenarios.yaml", "line")
    assert runs_in(tmp_path / "o") == []


def test_highlight_of_an_unknown_indicator_names_the_file_and_key(tmp_path):
    batch = params_dir(tmp_path, {"sims": 50, "cell_timeout": 1, "scenario_explorer": False},
                       {"II": {"sector": "II", "highlight": ["99"]}})
    rc, _, err = run_cli(["run", "--params", str(batch), "--out", str(tmp_path / "o"),
                          "--sectors", "II"])
    assert rc == 1
    located(err, "II.yaml", "highlight", "99")
    assert runs_in(tmp_path / "o") == []


def test_a_negative_acceleration_factor_names_the_key(tmp_path):
    batch = params_dir(tmp_path, {"sims": 50},
                       scenarios={"scenarios": {"fast": {"kind": "accelerate", "factor": -3}}})
    rc, _, err = run_cli(["forecast", "--params", str(batch), "--scenario", "fast", "--out",
                          str(tmp_path / "o")])
    assert rc == 1
    located(err, "scenarios.yaml", "scenarios.fast.factor", "-3")
    assert not (tmp_path / "o").exists()


def test_an_impossible_run_date_names_the_file_and_key(tmp_path):
    batch = params_dir(tmp_path, "run_date: 2025-13-45\n")
    rc, _, err = run_cli(["run", "--params", str(batch), "--out", str(tmp_path / "o"),
                          "--sectors", "II"])
    assert rc == 1
    located(err, "batch.yaml", "run_date", "2025-13-45")
    assert runs_in(tmp_path / "o") == []


def test_the_run_uses_and_records_the_scenarios_beside_its_params(tmp_path):
    """The explorer page reads the run folder's scenarios.yaml: it must be the run's own."""
    batch = params_dir(tmp_path, {"sims": 50, "scenarios": ["bau", "fast"], "cell_timeout": 1,
                                  "scenario_explorer": False}, scenarios=SCENARIOS_OK)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rc, _, err = child(["run", "--params", str(batch), "--out", str(tmp_path / "o"),
                        "--sectors", "II"], cwd=elsewhere, timeout=300)
    (run,) = runs_in(tmp_path / "o")
    copy = tmp_path / "o" / run / "scenarios.yaml"
    assert copy.read_bytes() == (tmp_path / "params" / "scenarios.yaml").read_bytes()


# --------------------------------------------------------------------------------------------
# 6. file-system faults and overflow
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", ["directory", "loop"])
def test_forecast_series_input_that_is_not_a_file(tmp_path, make):
    target = tmp_path / "in"
    if make == "directory":
        target.mkdir()
    else:
        os.symlink(tmp_path / "in2", target)
        os.symlink(target, tmp_path / "in2")
    rc, _, err = run_cli(["forecast-series", "--input", str(target), "--horizon", "2",
                          "--out", str(tmp_path / "o.csv")])
    assert rc == 1
    located(err, str(target))
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("make", ["directory", "loop"])
def test_validate_input_that_is_not_a_file(tmp_path, make):
    target = tmp_path / "in.csv"
    if make == "directory":
        target.mkdir()
    else:
        os.symlink(tmp_path / "in2", target)
        os.symlink(target, tmp_path / "in2")
    rc, _, err = run_cli(["validate", str(target)])
    assert rc == 1
    located(err, str(target))


def test_forecast_series_out_naming_a_directory(tmp_path):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    (tmp_path / "o.csv").mkdir()
    rc, _, err = run_cli(["forecast-series", "--input", str(tmp_path / "s.csv"), "--horizon",
                          "2", "--out", str(tmp_path / "o.csv")])
    assert rc in (1, 2)
    located(err, "o.csv", "directory")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["forecast", "forecast-series"])
def test_out_under_a_file(tmp_path, command):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    (tmp_path / "afile").write_text("keep", encoding="utf-8")
    args = (["forecast", "--sims", "50", "--out", str(tmp_path / "afile" / "o")]
            if command == "forecast" else
            ["forecast-series", "--input", str(tmp_path / "s.csv"), "--horizon", "2",
             "--out", str(tmp_path / "afile" / "o.csv")])
    rc, _, err = run_cli(args)
    assert rc in (1, 2)
    located(err, "afile", "not a directory")
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "keep"


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", ["forecast", "forecast-series"])
def test_a_full_disk_is_a_located_error_and_keeps_the_old_output(tmp_path, monkeypatch,
                                                                  command):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    if command == "forecast":
        out = tmp_path / "o"
        out.mkdir()
        (out / "forecasts.csv").write_text("previous", encoding="utf-8")
        args = ["forecast", "--sims", "50", "--out", str(out)]
        kept = out / "forecasts.csv"
    else:
        kept = tmp_path / "o.csv"
        kept.write_text("previous", encoding="utf-8")
        args = ["forecast-series", "--input", str(tmp_path / "s.csv"), "--horizon", "2",
                "--out", str(kept)]
    monkeypatch.setattr(os, "fsync", _no_space)
    rc, _, err = run_cli(args)
    monkeypatch.undo()
    assert rc == 1
    located(err, "no space left")
    assert kept.read_text(encoding="utf-8") == "previous"
    assert not [p for p in kept.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("fault", ["full disk at assessment.csv", "rename of assessment.csv fails",
                                   "rename fails, no hard links"])
def test_forecast_outputs_are_all_new_or_all_as_before(tmp_path, monkeypatch, fault):
    """forecasts.csv, assessment.csv and manifest.json are one output: a fault after the first
    file leaves the three previous files (not a new forecasts.csv beside an old assessment)."""
    out = tmp_path / "o"
    out.mkdir()
    names = ("forecasts.csv", "assessment.csv", "manifest.json")
    for n in names:
        (out / n).write_text(f"previous {n}", encoding="utf-8")
    fsync, replace = os.fsync, os.replace

    def full_at_assessment(fd):
        if ".assessment.csv." in os.readlink(f"/proc/self/fd/{fd}"):
            _no_space()
        return fsync(fd)

    def rename_fails(src, dst, *a, **k):
        if Path(dst) == out / "assessment.csv":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return replace(src, dst, *a, **k)

    def no_link(*a, **k):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    if fault.startswith("full disk"):
        monkeypatch.setattr(os, "fsync", full_at_assessment)
    else:
        monkeypatch.setattr(os, "replace", rename_fails)
    if "no hard links" in fault:
        monkeypatch.setattr(os, "link", no_link)
    rc, _, err = run_cli(["forecast", "--sims", "50", "--out", str(out)])
    monkeypatch.undo()
    assert rc == 1
    located(err, "assessment.csv", "no space left" if "disk" in fault else "input/output error")
    assert [(out / n).read_text(encoding="utf-8") for n in names] == \
        [f"previous {n}" for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary file left

    rc, _, err = run_cli(["forecast", "--sims", "50", "--out", str(out)])  # no fault: all new
    assert rc == 0, err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    from khforecast._io import sha256_file

    assert manifest["outputs"] == {n: sha256_file(out / n) for n in names[:2]}
    assert sorted(p.name for p in out.iterdir()) == sorted(names)


def test_template_force_onto_a_directory(tmp_path):
    (tmp_path / "t.xlsx").mkdir()
    rc, _, err = run_cli(["template", str(tmp_path / "t.xlsx"), "--force"])
    assert rc in (1, 2)
    located(err, "t.xlsx", "directory")
    assert (tmp_path / "t.xlsx").is_dir()


@pytest.mark.parametrize("command", ["forecast", "forecast-series", "template"])
def test_an_unwritable_out_is_a_located_error(tmp_path, monkeypatch, command):
    (tmp_path / "s.csv").write_text(SERIES, encoding="utf-8")
    args = {"forecast": ["forecast", "--sims", "50", "--out", str(tmp_path / "o")],
            "forecast-series": ["forecast-series", "--input", str(tmp_path / "s.csv"),
                                "--horizon", "2", "--out", str(tmp_path / "o.csv")],
            "template": ["template", str(tmp_path / "t.xlsx")]}[command]

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # running as root, chmod does not stop us
    rc, _, err = run_cli(args)
    monkeypatch.undo()
    assert rc == 1
    located(err, "permission denied", str(tmp_path))


def test_values_near_the_float_limit_are_a_located_error(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("series_id,t,value\n" + "".join(
        f"a,{2010 + i},{v}\n" for i, v in enumerate(
            ["1.7e308", "1.75e308", "1.79e308", "1.2e308", "1.78e308", "1.6e308"])),
        encoding="utf-8")
    rc, _, err = child(["forecast-series", "--input", str(path), "--horizon", "3", "--out",
                        "o.csv", "--sims", "200"], cwd=tmp_path, timeout=120)
    assert rc == 1
    located(err, "big.csv", "too large")
    assert "Warning" not in err and "site-packages" not in err
    assert not (tmp_path / "o.csv").exists()


# --------------------------------------------------------------------------------------------
# 7. spreadsheet formula injection
# --------------------------------------------------------------------------------------------
INJECTIONS = ('=HYPERLINK("http://example.invalid","click")', "@SUM(1+9)*cmd|' /C calc'!A0",
              "+1+1", "-2+3", "\tx", "\rx")


def test_series_ids_that_look_like_formulas_are_neutralised(tmp_path):
    import csv

    path = tmp_path / "s.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["series_id", "t", "value"])
        for sid in INJECTIONS:
            for i in range(5):
                w.writerow([sid, 2010 + i, 10 + i])
    rc, _, err = run_cli(["forecast-series", "--input", str(path), "--horizon", "1", "--out",
                          str(tmp_path / "o.csv"), "--sims", "100"])
    assert rc == 0, err
    with open(tmp_path / "o.csv", encoding="utf-8", newline="") as fh:
        ids = [row["series_id"] for row in csv.DictReader(fh)]
    # a carriage return is written as a line break, which CSV quoting keeps inside the cell
    assert sorted(ids) == sorted("'" + s.replace("\r", "\n") for s in INJECTIONS)


def test_notes_that_look_like_formulas_are_neutralised_in_observations_csv(tmp_path):
    import csv

    from khforecast.batch.compute import compute_results
    from khforecast.batch.params import load_params
    from khforecast.observations.read import read_observations
    from khforecast.plan.catalog import load_catalog

    path = tmp_path / "obs.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["indicator_id", "place", "year", "value", "source", "status", "note"])
        for i, note in enumerate(INJECTIONS[:2]):
            w.writerow(["02", "khanh_hoa", 2018 + i, 3.5, "=cmd|' /C calc'!A0", "final", note])
    cat = load_catalog()
    obs = read_observations(path, catalog=cat)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    compute_results(obs, cat, load_params(None, sims=50), run_dir)
    with open(run_dir / "observations.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["note"] for r in rows] == ["'" + s for s in INJECTIONS[:2]]
    assert {r["source"] for r in rows} == {"'=cmd|' /C calc'!A0"}
    assert [float(r["value"]) for r in rows] == [3.5, 3.5]


# --------------------------------------------------------------------------------------------
# 8. messages
# --------------------------------------------------------------------------------------------
def test_a_cell_timeout_prints_no_kernel_traceback(tmp_path):
    nb = tmp_path / "slow.ipynb"
    nb.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "slow-0",
                   "metadata": {"tags": ["parameters"]}, "outputs": [],
                   "source": "run_dir = ''\nlang = 'vi'"},
                  {"cell_type": "code", "execution_count": None, "id": "slow-1", "metadata": {},
                   "outputs": [], "source": "import time\ntime.sleep(60)"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    batch = params_dir(tmp_path, {"sims": 50, "cell_timeout": 3, "scenario_explorer": False,
                                  "extra_notebooks": ["../slow.ipynb"]})
    rc, _, err = child(["run", "--params", str(batch), "--out", str(tmp_path / "o"),
                        "--sectors", "II", "--jobs", "2"], cwd=tmp_path, timeout=300)
    assert rc == 1
    located(err, "slow failed", "timed out")
    assert "ZMQError" not in err and "Traceback" not in err


def test_a_nul_byte_names_its_line(tmp_path):
    path = tmp_path / "n.csv"
    path.write_bytes(HEADER.encode() + b"02,khanh_hoa,2018,3.4,s,final,\n"
                     + b"02,khanh_hoa,2019,3.5,s,final,a\x00b\n")
    rc, _, err = run_cli(["validate", str(path)])
    assert rc == 1
    located(err, "n.csv row 3", "nul")


def test_latin1_bytes_in_a_series_input_name_the_line(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(SERIES.encode() + "caf\u00e9,2010,1\n".encode("latin-1"))
    rc, _, err = run_cli(["forecast-series", "--input", str(path), "--horizon", "2", "--out",
                          str(tmp_path / "o.csv")])
    assert rc == 1
    located(err, "l.csv", "line 10", "utf-8")


def test_a_password_protected_workbook_is_called_so():
    rc, _, err = run_cli(["validate", str(DATA / "password_protected.xlsx")])
    assert rc == 1
    located(err, "password_protected.xlsx", "password")
    assert "97-2003" not in err
