"""The ``draws.npz`` codec: how simulated paths are stored per indicator and scenario (once).

The batch writes, the briefings read: for each (indicator, scenario), the paths under
``"<id>|<scenario>"`` and their years under ``"years|<id>|<scenario>"``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from khforecast._io import atomic_write

__all__ = ["DRAWS_FILE", "paths_key", "read_draws", "write_draws", "years_key"]

#: the file name in a run folder
DRAWS_FILE = "draws.npz"


def paths_key(indicator_id: str, scenario: str) -> str:
    """The array name of an indicator's paths in one scenario."""
    return f"{indicator_id}|{scenario}"


def years_key(indicator_id: str, scenario: str) -> str:
    """The array name of the years those paths cover."""
    return f"years|{paths_key(indicator_id, scenario)}"


def write_draws(path: str | os.PathLike[str],
                draws: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
    """Write ``{(indicator_id, scenario): (years, paths)}`` atomically (compressed)."""
    arrays: dict[str, np.ndarray] = {}
    for (ind_id, scenario), (years, paths) in draws.items():
        arrays[paths_key(ind_id, scenario)] = np.asarray(paths, dtype=float)
        arrays[years_key(ind_id, scenario)] = np.asarray(years, dtype=np.int32)
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def read_draws(path: str | os.PathLike[str], indicator_id: str, scenario: str
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """(years, paths) of one indicator and scenario, or None when the file or entry is missing."""
    if not os.path.isfile(path):
        return None
    with np.load(path) as z:
        key = paths_key(indicator_id, scenario)
        if key not in z.files:
            return None
        return z[years_key(indicator_id, scenario)], z[key]
