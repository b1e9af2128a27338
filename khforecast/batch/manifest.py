"""The run's manifest: run id, versions, hashed inputs, and its atomic writer."""
from __future__ import annotations

import datetime as _dt
import json
import platform
import secrets
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from khforecast._io import atomic_write_text, sha256_file
from khforecast.batch.notebooks import NotebookJob
from khforecast.batch.params import BatchParams

_VERSIONS = ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn", "papermill",
             "nbconvert", "nbclient", "ipykernel")

__all__ = ["manifest_text", "write_manifest"]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("khforecast", *_VERSIONS):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _new_run_id() -> str:
    """A run id that sorts by time: ``20261130T174500Z-3f9a``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def _inputs(data: Sequence[Path], params: BatchParams, jobs: Sequence[NotebookJob],
            scenarios: Path | None, models: str = "", tasks: Sequence[Path] = ()
            ) -> list[dict[str, str]]:
    files = [("data", p) for p in data] + [("tasks", p) for p in tasks]
    if params.source:
        src = Path(params.source)
        files.append(("params", src))
        files += [("params", p) for p in sorted((src.parent / "sectors").glob("*.yaml"))]
    if scenarios is not None:
        files.append(("scenarios", scenarios))
    if models:
        files.append(("models", Path(models)))
    files += [("notebook", j.template) for j in {j.template: j for j in jobs}.values()]
    return [{"kind": kind, "path": str(p.resolve()), "sha256": sha256_file(p)} for kind, p in files]


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``folder/manifest.json`` atomically (the one manifest writer: run and forecast)."""
    atomic_write_text(folder / "manifest.json", manifest_text(manifest))


def manifest_text(manifest: dict[str, Any]) -> str:
    """The text of ``manifest.json`` (``forecast`` writes it together with its CSV files)."""
    return json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n"
