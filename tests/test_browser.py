"""The rendered pages in a real browser: headless Chromium loads them without console errors and
decodes every image. Chromium is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and 4), so no
websocket client or network port is needed.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from khforecast.briefing.render import find_chromium, print_pdf
from khforecast.briefing.print_page import _ANNEX  # the annex title the brief ends before

pytestmark = pytest.mark.browser


class _Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe``."""

    def __init__(self, exe: str, profile: Path):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        def dup_fds() -> None:  # runs in the child: put the pipe ends on fds 3 and 4
            high_r, high_w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        # close_fds=False: fds 3 and 4 made by dup_fds must survive into chromium (Python's
        # own fds are not inheritable, so nothing else leaks)
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "--window-size=1200,900", "about:blank"],
            preexec_fn=dup_fds, close_fds=False,  # noqa: PLW1509 - no threads run here
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, timeout: float) -> dict[str, Any]:
        import select

        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, session: str | None = None, timeout: float = 30,
             **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and ev.get("sessionId") == session:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self._read(deadline - time.monotonic())
            if ev.get("method") == method and ev.get("sessionId") == session:
                return ev
            self.events.append(ev)
        raise TimeoutError(method)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


_IMAGES_JS = """JSON.stringify(Array.from(document.images).map(
  im => ({src: im.src.slice(0, 30), complete: im.complete, width: im.naturalWidth})))"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    exe = find_chromium()
    if exe is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium (.ci/run does it)")
    browser = _Chromium(exe, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


def _open(browser: _Chromium, page: Path, shot: Path, probe: str = _IMAGES_JS
          ) -> tuple[list[str], Any]:
    """Load ``page``; return its console/log errors and what ``probe`` (JS giving JSON) finds,
    by default its images; save a screenshot."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        browser.send(f"{domain}.enable", session)
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired", session)
    images = json.loads(browser.send("Runtime.evaluate", session, expression=probe,
                                     returnByValue=True)["result"]["value"])
    data = browser.send("Page.captureScreenshot", session, format="png")["data"]
    shot.write_bytes(base64.b64decode(data))
    errors = []
    for ev in [e for e in browser.events if e.get("sessionId") == session]:
        p = ev.get("params", {})
        if ev["method"] == "Runtime.exceptionThrown":
            errors.append(p["exceptionDetails"].get("text", "exception"))
        elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(str(p.get("args")))
        elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(p["entry"]["text"])
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    browser.send("Target.closeTarget", targetId=target)
    return errors, images


@pytest.mark.parametrize(("which", "name"), [("bundled", "index"), ("bundled", "sector_II"),
                                             ("bundled", "overview"),
                                             ("illustrative", "sector_V"),
                                             ("places_run", "national_overview"),
                                             ("places_run", "sector_II")])
def test_pages_load_without_errors_and_every_image_decodes(chromium, request, tmp_path, which,
                                                          name):
    run = Path(request.getfixturevalue(which)["run_dir"])
    page = run / "index.html" if name == "index" else run / "html" / f"{name}.html"
    shot = tmp_path / f"{which}-{name}.png"
    errors, images = _open(chromium, page, shot)
    print(f"screenshot: {shot}")
    assert errors == [], errors
    assert all(im["complete"] and im["width"] > 0 for im in images), images
    assert all(im["src"].startswith("data:image/png;base64,") for im in images)
    if name in ("sector_II", "overview", "national_overview"):
        assert images, "the briefing shows charts"
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


_TASKS_JS = """JSON.stringify({
  rows: document.querySelectorAll("table.kh-tasks tbody tr").length,
  states: Array.from(document.querySelectorAll("span.kh-task")).map(
    s => s.className.replace("kh-task kh-task-", "")),
  colours: Object.fromEntries(Array.from(document.querySelectorAll("span.kh-task")).map(
    s => [s.className.replace("kh-task kh-task-", ""), getComputedStyle(s).backgroundColor]))})"""


def test_task_tracker_shows_exactly_the_reported_statuses(chromium, bundled, tmp_path):
    """The tracker of a run with a mixed task file, in a real browser: every task once, the
    reported statuses exactly, overdue (red) only where a late report says not completed."""
    page = Path(bundled["run_dir"]) / "html" / "task_tracker.html"
    shot = tmp_path / "task_tracker.png"
    errors, found = _open(chromium, page, shot, _TASKS_JS)
    print(f"screenshot: {shot}")
    assert errors == [], errors
    assert found["rows"] == 69
    counts = {s: found["states"].count(s) for s in set(found["states"])}
    assert counts == {"no_report": 63, "completed": 1, "in_progress": 2, "not_started": 1,
                      "completed_late": 1, "suspended": 1, "overdue": 3}
    assert found["colours"]["no_report"] == "rgb(238, 238, 238)"  # neutral grey
    assert found["colours"]["overdue"] == "rgb(178, 24, 43)"  # red, for overdue only


def test_tracker_without_reports_has_no_red_and_a_scorecard_loads(chromium, bundled,
                                                                  illustrative, tmp_path):
    page = Path(illustrative["run_dir"]) / "html" / "task_tracker.html"
    errors, found = _open(chromium, page, tmp_path / "tracker-no-reports.png", _TASKS_JS)
    assert errors == [] and found["rows"] == 69
    assert set(found["states"]) == {"no_report"}
    card = Path(bundled["run_dir"]) / "html" / "scorecard_so_noi_vu.html"
    shot = tmp_path / "scorecard.png"
    errors, found = _open(chromium, card, shot, _TASKS_JS)
    print(f"screenshot: {shot}")
    assert errors == [], errors
    assert found["rows"] == 12  # the tasks Sở Nội vụ leads now
    assert "overdue" in found["states"] and "completed" in found["states"]
    assert shot.stat().st_size > 10_000


def test_print_pdf_writes_a_pdf_beside_the_page(bundled, tmp_path):
    page = tmp_path / "overview.html"
    shutil.copy(Path(bundled["run_dir"]) / "html" / "overview.html", page)
    (pdf,) = print_pdf([page])
    assert pdf == page.with_suffix(".pdf") and pdf.read_bytes()[:5] == b"%PDF-"
    print(f"pdf: {pdf}")


def test_print_pdf_without_chromium_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr("khforecast.briefing.render.find_chromium", lambda: None)
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        print_pdf([tmp_path / "x.html"])


# --------------------------------------------------------------------------------------------
# A4 print (issue 12): every page printed to PDF by Chromium, as a reader would print it
# --------------------------------------------------------------------------------------------
_A4_PT = (595.28, 841.89)  # 210 x 297 mm in PDF points
_PRINT_WIDTH_PX = 694  # A4 less the 13 mm side margins of khforecast.css, at 96 px per inch
_OVERFLOW_JS = """JSON.stringify((() => {
  const limit = document.documentElement.clientWidth + 1;
  const wide = Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > limit && getComputedStyle(e).position !== 'fixed';
  }).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
  return {scroll: document.documentElement.scrollWidth, client: limit - 1, wide: wide.slice(0, 5)};
})())"""


def _pages(run_dir: Path) -> list[Path]:
    return [run_dir / "index.html", *sorted((run_dir / "html").glob("*.html"))]


def _print(browser: _Chromium, page: Path) -> tuple[bytes, dict[str, Any]]:
    """Print ``page`` as Chromium's print dialog would (CSS page size); measure overflow at
    the printed width in print media."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.send("Page.enable", session)
    browser.send("Emulation.setEmulatedMedia", session, media="print")
    browser.send("Emulation.setDeviceMetricsOverride", session, width=_PRINT_WIDTH_PX,
                 height=1000, deviceScaleFactor=1, mobile=False)
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired", session)
    overflow = json.loads(browser.send("Runtime.evaluate", session, expression=_OVERFLOW_JS,
                                       returnByValue=True)["result"]["value"])
    browser.send("Emulation.clearDeviceMetricsOverride", session)
    pdf = base64.b64decode(browser.send("Page.printToPDF", session, timeout=120,
                                        preferCSSPageSize=True, printBackground=True)["data"])
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    browser.send("Target.closeTarget", targetId=target)
    return pdf, overflow


def _page_has_content(page: Any, header_lines: int = 2) -> bool:
    """True when a PDF page holds more than its running header and page number: text or an image."""
    lines = [ln for ln in (page.extract_text() or "").splitlines() if ln.strip()]
    return len(lines) > header_lines or bool(page.images)


@pytest.mark.parametrize("which", ["bundled", "illustrative"])
def test_every_page_prints_on_a4_with_content_on_every_page_and_no_overflow(
        chromium, request, tmp_path, which):
    import pypdf

    run = Path(request.getfixturevalue(which)["run_dir"])
    for page in _pages(run):
        pdf, overflow = _print(chromium, page)
        out = tmp_path / f"{which}-{page.stem}.pdf"
        out.write_bytes(pdf)
        reader = pypdf.PdfReader(out)
        print(f"{out}: {len(reader.pages)} pages, overflow {overflow}")
        assert overflow["scroll"] <= overflow["client"] and overflow["wide"] == [], (page, overflow)
        for k, p in enumerate(reader.pages, 1):
            w, h = float(p.mediabox.width), float(p.mediabox.height)
            assert abs(w - _A4_PT[0]) < 2 and abs(h - _A4_PT[1]) < 2, (page, k, w, h)
            assert _page_has_content(p), f"{page.name}: page {k} of the PDF is empty"
        header = reader.pages[-1].extract_text()
        assert "8839" in header and f"{len(reader.pages)}" in header, \
            f"{page.name}: no running header naming the plan, or no page number"
        if page.stem.startswith("sector_") or page.stem == "overview":
            brief = _brief_pages(reader)
            print(f"{page.name}: brief {brief} pages")
            assert 1 <= brief <= 2, f"{page.name}: the brief before the annex takes {brief} pages"


#: the annex's opening title in each language, the first thing on the page after the brief
_ANNEX_TITLES = tuple(title for title, _ in _ANNEX.values())


def _brief_pages(reader: Any) -> int:
    """How many PDF pages come before the one on which the annex opens (0: no annex found)."""
    for k, p in enumerate(reader.pages):
        if any(title in (p.extract_text() or "") for title in _ANNEX_TITLES):
            return k
    return 0
