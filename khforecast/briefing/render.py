"""Rendering: executed notebooks to self-contained HTML, the run's index page, optional PDFs.

The HTML hides all code and prompts, embeds every image as base64 and references nothing on the
network: the ``khbriefing`` nbconvert template (``khforecast/templates/``) removes the
require.js, MathJax, Mermaid and widget scripts the default template loads from CDNs. A table
of contents is built from the ``<h2 id=...>`` headings the briefing snippets write.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from khforecast._io import atomic_write_text
from khforecast.assess.statuses import STATUS_ORDER
from khforecast.briefing.i18n import check_lang, format_number, place_name, t
from khforecast.briefing.print_page import format_date, print_style

__all__ = [
    "REMOVE_TAG",
    "find_chromium",
    "network_references",
    "print_pdf",
    "render_html",
    "render_index",
]

#: cells with this tag (usage notes for JupyterLab users) are left out of the HTML.
REMOVE_TAG = "remove-in-html"
_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.DOTALL)
_NETWORK = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//""",
                      re.IGNORECASE)
_CSS_NETWORK = re.compile(r"""@import\s+url\(\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
                          re.IGNORECASE)


def _templates_dir() -> Path:
    return Path(str(resources.files("khforecast") / "templates"))


def _css() -> str:
    return (_templates_dir() / "khforecast.css").read_text(encoding="utf-8")


def network_references(page: str) -> list[str]:
    """The tags and CSS ``url()`` of ``page`` that would load something from the network."""
    return [m.group(0) for m in _NETWORK.finditer(page)] + \
        [m.group(0) for m in _CSS_NETWORK.finditer(page)]


def _toc(page: str, lang: str) -> str:
    """Insert a table of contents of the ``<h2 id>`` headings after the page's run line."""
    entries = _H2.findall(page)
    if len(entries) < 2:
        return page
    items = "".join(f'<li><a href="#{i}">{text}</a></li>' for i, text in entries)
    nav = f'<nav class="kh-toc"><strong>{html.escape(t("h.toc", lang))}</strong><ol>{items}</ol></nav>'
    anchor = page.find('<p class="kh-run">')
    if anchor >= 0:
        end = page.find("</p>", anchor) + len("</p>")
        return page[:end] + nav + page[end:]
    main = page.find("<main>")
    return page[:main + len("<main>")] + nav + page[main + len("<main>"):] if main >= 0 else page


def render_html(notebook: str | os.PathLike[str], out: str | os.PathLike[str], *,
                lang: str = "vi", title: str = "") -> Path:
    """Render an executed notebook to ``out``: no code, no prompts, no stderr, no network.

    Raises ``ValueError`` when the rendered page would still load something from the network
    (a safeguard: the template is meant to make that impossible).
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    check_lang(lang)
    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:  # warnings on stderr are for statisticians, not for the briefing
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="khbriefing",
                            extra_template_basedirs=[str(_templates_dir())],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True,
                            language_code=lang)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}),
                                   enabled=True)
    page, _ = exporter.from_notebook_node(
        nb, resources={"khforecast_css": _css()})
    page = _toc(page, lang)
    bad = network_references(page)
    if bad:
        raise ValueError(f"{notebook}: the rendered HTML would load from the network: {bad[0]}")
    atomic_write_text(out, page)
    return Path(out)


def render_index(run_dir: str | os.PathLike[str], manifest: Mapping[str, Any], *,
                 headline: Mapping[str, int], lang: str = "vi", illustrative: bool = False,
                 messages: str = "") -> Path:
    """Write ``index.html`` of a run: the key messages (``messages``, escaped HTML from
    :func:`khforecast.briefing.key_messages.key_messages_html`), the headline figures and a
    link to every briefing.

    ``manifest["notebooks"]`` lists the briefings (``name``, ``title``, ``status``, ``html``,
    ``error``, ``seconds``, and for sectors ``headline``: status counts); failed ones are
    shown with their error.
    """
    check_lang(lang)
    e = html.escape
    run_dir = Path(run_dir)
    banner = (f'<div class="kh-banner kh-illustrative" role="alert">{e(t("msg.illustrative", lang))}'
              "</div>" if illustrative else "")
    cards = "".join(f'<div class="kh-card kh-{e(s)}"><span class="kh-count" data-status="{e(s)}">'
                    f'{n}</span><span class="kh-label">{e(t("status." + s, lang))}</span></div>'
                    for s, n in headline.items())
    rows = []
    failed = []
    for nb in manifest.get("notebooks", []):
        ok = nb.get("status") == "ok"
        link = (f'<a href="{e(nb["html"])}">{e(nb.get("title") or nb["name"])}</a>'
                if nb.get("html") else e(nb.get("title") or nb["name"]))
        if nb.get("pdf"):
            link += f' (<a href="{e(nb["pdf"])}">{e(t("msg.pdf", lang))}</a>)'
        status = (f'<span class="kh-ok">{e(t("msg.ok", lang))}</span>' if ok else
                  f'<span class="kh-failed">{e(t("msg.failed", lang))}</span>'
                  f'<div class="kh-error-text">{e(nb.get("error") or "")}</div>')
        if not ok:
            failed.append(nb["name"])
        counts = nb.get("headline") or {}
        glance = " · ".join(f'{counts[s]} {e(t("status." + s, lang).lower())}'
                            for s in STATUS_ORDER if counts.get(s))
        rows.append(f"<tr><td>{link}</td><td>{glance}</td><td>{status}</td>"
                    f'<td>{e(format_number(nb.get("seconds"), lang, 1))}</td></tr>')
    fail_note = (f'<div class="kh-banner kh-failed" role="alert">'
                 f'{e(t("msg.failed_list", lang, names=", ".join(failed)))}</div>' if failed else "")
    as_of = manifest.get("as_of", "")
    info = t("msg.run_info", lang, run_id=manifest.get("run_id", run_dir.name),
             date=format_date(as_of, lang) if as_of else "",
             place=place_name(manifest.get("place", ""), lang))
    head = print_style(t("h.index", lang), as_of, lang) if as_of else ""
    page = f"""<!DOCTYPE html>
<html lang="{e(lang)}">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1.0"/>
<title>{e(t("h.index", lang))} {e(str(manifest.get("run_id", "")))}</title>
<style type="text/css">
{_css()}
</style>
</head>
<body>
<div class="kh-page">
{banner}
{head}
<h1 id="title">{e(t("h.index", lang))}</h1>
<p class="kh-run">{e(info)}</p>
{fail_note}
{messages}
<h2 id="headline">{e(t("h.headline", lang))}</h2>
<p>{e(t("msg.headline_overview", lang, n=sum(headline.values())))}</p>
<div class="kh-cards">{cards}</div>
<h2 id="briefings">{e(t("h.briefings", lang))}</h2>
<table class="kh-table"><thead><tr><th>{e(t("col.briefing", lang))}</th>
<th>{e(t("h.headline", lang))} (2030)</th><th>{e(t("col.run_status", lang))}</th><th>{e(t("col.seconds", lang))}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</div>
</body>
</html>
"""
    out = run_dir / "index.html"
    atomic_write_text(out, page)
    return out


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable on ``PATH``, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(pages: Sequence[str | os.PathLike[str]], *, timeout: float = 120.0) -> list[Path]:
    """Print each HTML page to a PDF beside it with headless Chromium; return the PDFs written.

    Raises ``FileNotFoundError`` with an install hint when no Chromium is on ``PATH``, and
    ``RuntimeError`` naming the page when Chromium fails on one.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("--pdf needs Chromium, which is not installed: install it "
                                "(Debian/Ubuntu: apt-get install chromium) or drop --pdf")
    written = []
    with tempfile.TemporaryDirectory(prefix="khforecast-chromium-") as profile:
        for page in pages:
            page = Path(page).resolve()
            pdf = page.with_suffix(".pdf")
            tmp = pdf.with_name(f".{pdf.name}.tmp")
            cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={tmp}", page.as_uri()]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
            if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
                tmp.unlink(missing_ok=True)
                tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"{page}: chromium could not print a PDF: {tail[0]}")
            os.replace(tmp, pdf)
            written.append(pdf)
    return written
