"""Pin the outputs of the batch so a refactor can prove "behaviour unchanged" (issue 14).

Runs ``khforecast run`` (the CLI, in a child process, so this script does not depend on the
package's module layout) on the bundled and on the illustrative observations, every sector, at a
fixed seed, sims and run date, plus ``khforecast forecast`` on both, and prints one line per file:

    <sha256>  <case>/<file>

* ``forecasts.csv`` and ``assessment.csv``: sha256 of the bytes.
* every rendered briefing (``html/*.html``) and ``index.html``: sha256 of the VISIBLE TEXT,
  i.e. the page with ``<script>``, ``<style>`` and ``<head>`` contents, tags, comments and
  embedded images dropped, entities decoded, whitespace collapsed to one space per text node,
  and these volatile bits replaced by a placeholder:
  the run id (``<RUN_ID>``; it holds the wall-clock time), the temporary folder of this script
  (``<TMP>``; absolute paths), and in ``index.html`` the seconds each notebook took
  (``<SECONDS>``, the last cell of each briefing row). The "as of" date is fixed by
  ``run_date`` in the params, so it is not masked. Figures (PNG bytes) are not hashed: their
  alt text and captions are part of the visible text.

Usage: ``.venv/bin/python benchmarks/pin_outputs.py [--jobs N] [--keep DIR]``; compare with
``benchmarks/pinned_outputs.txt`` (``diff <(.venv/bin/python benchmarks/pin_outputs.py)
benchmarks/pinned_outputs.txt``). Takes a few minutes (about 30 notebooks).
"""
from __future__ import annotations

import argparse
import hashlib
import html
import html.parser
import re
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import yaml

#: fixed parameters of every pinned run (small sims so the script stays quick)
PARAMS = {"seed": 7, "sims": 200, "scenarios": ["bau", "accelerate"], "deep_dives": ["02"],
          "run_date": "2026-06-30", "scenario_explorer": True}
#: a sector note with markup, so the escaping of user text is pinned as well
SECTOR_NOTE = {"sector": "II", "note": '<script>alert("x")</script> & ghi chú',
               "highlight": ["04"]}
_SECONDS = re.compile(r"(<tr><td>(?:(?!</tr>).)*?</td><td>(?:(?!</tr>).)*?</td>"
                      r"<td>(?:(?!</tr>).)*?</td><td>)[^<]*(</td></tr>)", re.DOTALL)
_RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")


class _Text(html.parser.HTMLParser):
    """The visible text nodes of a page (nothing inside script, style, head)."""

    _HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.depth += 1
        elif tag == "img" and not self.depth:  # the alt text is what a reader is told
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[img: {' '.join(alt.split())}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            text = " ".join(data.split())
            if text:
                self.parts.append(text)


def visible_text(page: str, *, tmp: str, index: bool = False) -> str:
    """The normalised visible text of ``page`` (see the module docstring)."""
    if index:
        page = _SECONDS.sub(r"\1<SECONDS>\2", page)
    parser = _Text()
    parser.feed(page)
    parser.close()
    text = "\n".join(parser.parts)
    text = text.replace(tmp, "<TMP>").replace(html.escape(tmp), "<TMP>")
    return _RUN_ID.sub("<RUN_ID>", text)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cli(args: list[str], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "khforecast.cli", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"pin_outputs: khforecast {' '.join(args)} failed ({proc.returncode}):\n"
                 f"{proc.stderr[-3000:]}")
    return proc.stdout


def _params(folder: Path) -> Path:
    (folder / "sectors").mkdir(parents=True)
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(PARAMS, allow_unicode=True), encoding="utf-8")
    (folder / "sectors" / "II.yaml").write_text(yaml.safe_dump(SECTOR_NOTE, allow_unicode=True),
                                                encoding="utf-8")
    return path


def pin(work: Path, jobs: int) -> list[str]:
    """Run every case under ``work``; the ``<sha256>  <case>/<file>`` lines."""
    tmp = str(work)
    params = _params(work / "params")
    lines = []
    shipped = Path(str(resources.files("khforecast") / "data" / "observations"))
    cases = [("bundled", shipped / "khanh_hoa_observations.csv", "vi"),
             ("illustrative", shipped / "illustrative_observations.csv", "en")]
    for name, data, lang in cases:
        out = work / name / "forecast"
        _cli(["forecast", "--data", str(data), "--out", str(out), "--params", str(params),
              "--seed", str(PARAMS["seed"]), "--sims", str(PARAMS["sims"]), "--scenario", "bau",
              "--scenario", "accelerate", "--jobs", str(jobs)], cwd=work)
        for f in ("forecasts.csv", "assessment.csv"):
            lines.append(f"{_sha((out / f).read_bytes())}  {name}/forecast/{f}")
        _cli(["run", "--data", str(data), "--out", str(work / name / "outputs"), "--params",
              str(params), "--lang", lang, "--jobs", str(jobs)], cwd=work)
        run_dir = (work / name / "outputs" / "latest").resolve()
        for f in ("forecasts.csv", "assessment.csv"):
            lines.append(f"{_sha((run_dir / f).read_bytes())}  {name}/run/{f}")
        pages = [run_dir / "index.html", *sorted((run_dir / "html").glob("*.html"))]
        for page in pages:
            text = visible_text(page.read_text(encoding="utf-8"), tmp=tmp,
                                index=page.name == "index.html")
            rel = page.relative_to(run_dir)
            lines.append(f"{_sha(text.encode())}  {name}/run/{rel} (visible text)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None,
                    help="run in this (new) folder and keep it, to inspect the outputs")
    args = ap.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        lines = pin(args.keep.resolve(), args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="khforecast-pin-") as work:
            lines = pin(Path(work).resolve(), args.jobs)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
