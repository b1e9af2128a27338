"""The run folder a briefing reads: find it, load its files into a :class:`Run`."""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from khforecast.engine.draws import DRAWS_FILE, read_draws
from khforecast.errors import KhforecastError
from khforecast.plan.catalog import Catalog, load_catalog

__all__ = [
    "RUN_FILES",
    "Run",
    "find_run_dir",
    "load_run",
]


#: files of a run folder the briefings read (DESIGN §5 plus the batch's extras).
RUN_FILES = {
    "forecasts": "forecasts.csv",
    "assessment": "assessment.csv",
    "observations": "observations.csv",  # the observations the run used, all places
    "calibration": "calibration.csv",  # optional: interval coverage by horizon
    "backtest": "backtest.csv",  # optional: per-indicator back-test errors
    "scenarios": "scenarios.yaml",  # optional: the scenario definitions the run used
    "draws": DRAWS_FILE,  # optional: simulated paths of each indicator and scenario
    "manifest": "manifest.json",
}
_ID = {"indicator_id": str}


# --------------------------------------------------------------------------------------------
# the run folder
# --------------------------------------------------------------------------------------------
@dataclass
class Run:
    """A run folder read back: the tables the batch wrote, the catalog and the run's settings."""

    path: Path
    forecasts: pd.DataFrame
    assessment: pd.DataFrame
    observations: pd.DataFrame
    manifest: dict[str, Any]
    catalog: Catalog
    calibration: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None

    @property
    def place(self) -> str:
        """The place the targets were assessed for."""
        return str(self.manifest.get("place", "khanh_hoa"))

    @property
    def scenarios(self) -> list[str]:
        """The scenarios of the run, the outlook's first."""
        return list(self.manifest.get("params", {}).get("scenarios") or
                    self.assessment["scenario"].drop_duplicates().tolist())

    @property
    def scenario(self) -> str:
        """The scenario whose outlook the briefings show."""
        return self.scenarios[0]

    @property
    def as_of(self) -> _dt.date:
        """The date tasks are judged past due against."""
        return _dt.date.fromisoformat(self.manifest["as_of"])

    @property
    def illustrative(self) -> bool:
        """True when any observation the run used is marked ``status == illustrative``."""
        return bool((self.observations["status"].astype(str) == "illustrative").any())

    def draws(self, indicator_id: str, scenario: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(years, paths) of one indicator and scenario from ``draws.npz``, or None."""
        return read_draws(self.path / RUN_FILES["draws"], indicator_id, scenario)


def find_run_dir(run_dir: str | os.PathLike[str] = "") -> Path:
    """``run_dir`` if given, else the nearest ``outputs/latest`` from here up to the filesystem root.

    Raises ``KhforecastError`` when nothing is found, saying how to make a run.
    """
    if str(run_dir):
        path = Path(run_dir)
        if not (path / RUN_FILES["assessment"]).is_file():
            raise KhforecastError(f"{path}: not a run folder (no {RUN_FILES['assessment']}); "
                                  "run `khforecast run` or set run_dir")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        latest = folder / "outputs" / "latest"
        if (latest / RUN_FILES["assessment"]).is_file():
            return latest.resolve()
    raise KhforecastError(f"no outputs/latest run found from {here} upwards: run "
                          "`khforecast run` first, or set the notebook's run_dir parameter")


def _read_csv(path: Path, *, required: bool) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise KhforecastError(f"{path}: missing from the run folder")
        return None
    return pd.read_csv(path, dtype=_ID, keep_default_na=True)


def load_run(run_dir: str | os.PathLike[str] = "") -> Run:
    """Read a run folder (default: the nearest ``outputs/latest``) for the briefing functions.

    Raises
    ------
    KhforecastError
        When the folder or one of its required files (``forecasts.csv``, ``assessment.csv``,
        ``observations.csv``, ``manifest.json``) is missing.
    """
    path = find_run_dir(run_dir)
    manifest_path = path / RUN_FILES["manifest"]
    if not manifest_path.is_file():
        raise KhforecastError(f"{manifest_path}: missing from the run folder")
    return Run(
        path=path,
        forecasts=_read_csv(path / RUN_FILES["forecasts"], required=True),
        assessment=_read_csv(path / RUN_FILES["assessment"], required=True),
        observations=_read_csv(path / RUN_FILES["observations"], required=True),
        manifest=json.loads(manifest_path.read_text(encoding="utf-8")),
        catalog=load_catalog(),
        calibration=_read_csv(path / RUN_FILES["calibration"], required=False),
        backtest=_read_csv(path / RUN_FILES["backtest"], required=False),
    )
