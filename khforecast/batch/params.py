"""Batch parameters: ``params/batch.yaml`` and one ``params/sectors/<S>.yaml`` per sector.

The batch passes these to the notebooks as papermill parameters, so a run is reproducible from
the params recorded in its ``manifest.json``. Scenarios are defined elsewhere
(``params/scenarios.yaml``, read by :mod:`khforecast.engine.scenarios`); here they are only named.

Where the files are looked for, first match wins: the ``path`` given (``--params``);
``params/batch.yaml`` in the working directory; the ``params/`` folder of the source tree this
package was installed from. With none of these (a plain ``pip install``) the defaults of
:class:`BatchParams` apply; they are the values of the repository's ``params/batch.yaml``, which a
test keeps equal.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khforecast._io import find_params_file, read_yaml_mapping, shown
from khforecast.engine.defaults import DEFAULT_SEED, DEFAULT_SIMS, SIMS_MAX
from khforecast.engine.scenarios import default_scenarios_path
from khforecast.errors import ParamsError
from khforecast.plan.catalog import SECTORS, load_catalog

__all__ = ["BatchParams", "SectorParams", "default_params_path", "load_params",
           "scenarios_file"]

#: the most parallel notebooks, the longest timeout (a day) and the longest sector note
JOBS_MAX, _SECONDS_MAX, NOTE_MAX = 256, 86_400, 10_000


@dataclass(frozen=True)
class SectorParams:
    """What a sector's briefing is given besides the run: a note, charts first, a comparison."""

    sector: str
    note: str = ""  # free text shown at the top of the briefing (always HTML-escaped)
    highlight: tuple[str, ...] = ()  # indicator ids charted first
    compare_place: str = "vietnam"  # place drawn beside the province when the data hold it

    def notebook_parameters(self) -> dict[str, Any]:
        """The papermill parameters of this sector's briefing (lists, not tuples, for JSON)."""
        return {"sector": self.sector, "note": self.note, "highlight": list(self.highlight),
                "compare_place": self.compare_place}


@dataclass(frozen=True)
class BatchParams:
    """Everything a batch run needs besides the data; defaults equal ``params/batch.yaml``."""

    seed: int = DEFAULT_SEED
    sims: int = DEFAULT_SIMS
    thresholds: tuple[float, float] = (0.8, 0.5)  # (on track if p >= hi, at risk if p >= lo)
    scenarios: tuple[str, ...] = ("bau", "accelerate", "target_path", "shock")
    jobs: int | None = None  # parallel notebooks; None = number of cores
    kernel_start_timeout: int = 120  # seconds; papermill's default is 60
    cell_timeout: int = 600  # seconds per cell
    run_date: _dt.date | None = None  # the run's "as of" date (task reports after it unused)
    deep_dives: tuple[str, ...] = ()  # indicator ids that get a deep-dive notebook
    scenario_explorer: bool = True  # also render the scenario comparison notebook
    extra_notebooks: tuple[str, ...] = ()  # your own notebooks, run with run_dir and lang
    task_tracker: bool = True  # render the tracker of the Appendix II tasks
    scorecards: tuple[str, ...] = ("all",)  # current lead departments with a scorecard; all
    sectors: Mapping[str, SectorParams] = field(default_factory=dict)
    source: str = ""  # the batch.yaml read, or "" for the defaults

    def sector(self, sector: str) -> SectorParams:
        """The params of one sector (defaults when it has no YAML)."""
        return self.sectors.get(sector, SectorParams(sector))

    def as_of(self) -> _dt.date:
        """The run date: ``run_date`` if set, else today in UTC."""
        return self.run_date or _dt.datetime.now(_dt.UTC).date()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``manifest.json``)."""
        d = dataclasses.asdict(self)
        d["run_date"] = self.run_date.isoformat() if self.run_date else None
        d["sectors"] = {k: dataclasses.asdict(v) for k, v in self.sectors.items()}
        return d


_BATCH_KEYS = {f.name for f in dataclasses.fields(BatchParams)} - {"sectors", "source"}
_SECTOR_KEYS = {f.name for f in dataclasses.fields(SectorParams)}


def default_params_path() -> Path | None:
    """The ``batch.yaml`` used when none is given, or ``None`` when there is none to find."""
    return find_params_file("batch.yaml")


def _bad(path: Path, key: str, expected: str, found: object) -> ParamsError:
    return ParamsError(f"{path}, key '{key}': expected {expected}, found {shown(found)}")


def _int(path: Path, key: str, v: object, *, minimum: int, maximum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
        raise _bad(path, key, f"an integer from {minimum} to at most {maximum}", v)
    return v


def _str_list(path: Path, key: str, v: object) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) for x in v):
        raise _bad(path, key, "a list of names", v)
    # YAML reads `02` as the int 2: indicator ids are two-digit strings
    return tuple(f"{x:02d}" if isinstance(x, int) else str(x) for x in v)


def _batch_fields(path: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - _BATCH_KEYS)
    if unknown:
        raise _bad(path, unknown[0], "one of " + ", ".join(sorted(_BATCH_KEYS)), unknown[0])
    out: dict[str, Any] = {}
    for key, v in data.items():
        if key in ("seed",):
            out[key] = _int(path, key, v, minimum=0, maximum=2**63 - 1)
        elif key == "sims":
            out[key] = _int(path, key, v, minimum=1, maximum=SIMS_MAX)
        elif key in ("kernel_start_timeout", "cell_timeout"):
            out[key] = _int(path, key, v, minimum=1, maximum=_SECONDS_MAX)
        elif key == "jobs":
            out[key] = None if v is None else _int(path, key, v, minimum=1, maximum=JOBS_MAX)
        elif key == "thresholds":
            if (not isinstance(v, list) or len(v) != 2
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                    or not 0 <= v[1] <= v[0] <= 1):
                raise _bad(path, key, "[high, low] with 0 <= low <= high <= 1", v)
            out[key] = (float(v[0]), float(v[1]))
        elif key in ("scenarios", "deep_dives"):
            out[key] = _str_list(path, key, v)
            if key == "scenarios" and not out[key]:
                raise _bad(path, key, "at least one scenario name", v)
            if key == "deep_dives":
                _known_ids(path, key, out[key])
        elif key == "extra_notebooks":
            found = []
            for name in _str_list(path, key, v):
                nb = (path.parent / name) if path.is_file() else Path(name)
                if nb.suffix != ".ipynb" or not nb.is_file():
                    raise _bad(path, key, "paths of existing .ipynb files (relative to this "
                               "file)", name)
                found.append(str(nb.resolve()))
            out[key] = tuple(found)
        elif key == "scorecards":
            out[key] = ("all",) if v == "all" else _str_list(path, key, v)
        elif key in ("scenario_explorer", "task_tracker"):
            if not isinstance(v, bool):
                raise _bad(path, key, "true or false", v)
            out[key] = v
        elif key == "run_date":
            if v is None or isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
                out[key] = v
            else:
                try:
                    out[key] = _dt.date.fromisoformat(str(v))
                except ValueError:
                    raise _bad(path, key, "a date YYYY-MM-DD or null", v) from None
    return out


def _sector_params(path: Path) -> SectorParams:
    data = read_yaml_mapping(path)
    unknown = sorted(set(data) - _SECTOR_KEYS)
    if unknown:
        raise _bad(path, unknown[0], "one of " + ", ".join(sorted(_SECTOR_KEYS)), unknown[0])
    sector = data.get("sector", path.stem)
    if sector not in SECTORS or sector != path.stem:
        raise _bad(path, "sector", f"the file's own sector {path.stem!r} (one of I..X)", sector)
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise _bad(path, "note", f"text of at most {NOTE_MAX} characters", note)
    compare = data.get("compare_place", "vietnam")
    if not isinstance(compare, str) or not compare:
        raise _bad(path, "compare_place", "a place code", compare)
    highlight = _str_list(path, "highlight", data.get("highlight"))
    _known_ids(path, "highlight", highlight)
    return SectorParams(sector=sector, note=note.strip(), highlight=highlight,
                        compare_place=compare)


def _known_ids(path: Path, key: str, ids: tuple[str, ...]) -> None:
    """Refuse an indicator id the catalog does not hold (it would be ignored silently)."""
    catalog = load_catalog()
    for iid in ids:
        if iid not in catalog.indicators:
            raise _bad(path, key, "indicator ids of the catalog (see `khforecast catalog`)", iid)


def load_params(path: str | os.PathLike[str] | None = None, **overrides: Any) -> BatchParams:
    """Read ``batch.yaml`` and the ``sectors/*.yaml`` beside it; ``overrides`` (not None) win.

    Parameters
    ----------
    path
        A ``batch.yaml``; default: :func:`default_params_path`, or the built-in defaults.
    **overrides
        Fields of :class:`BatchParams` given on the command line (``seed=1, sims=200``);
        ``None`` values are ignored.

    Raises
    ------
    ParamsError
        When a file is missing or not valid YAML, or a key is unknown or has a bad value; the
        message names the file and the key.
    """
    chosen = Path(path) if path is not None else default_params_path()
    fields: dict[str, Any] = {}
    sectors: dict[str, SectorParams] = {}
    if chosen is not None:
        fields = _batch_fields(chosen, read_yaml_mapping(chosen))
        sector_dir = chosen.parent / "sectors"
        if sector_dir.is_dir():
            for f in sorted(sector_dir.glob("*.yaml")):
                sp = _sector_params(f)
                sectors[sp.sector] = sp
    given = {k: list(v) if isinstance(v, tuple) else v
             for k, v in overrides.items() if v is not None}
    fields.update(_batch_fields(Path("<command line>"), given))
    return BatchParams(**fields, sectors=sectors,
                       source=str(chosen.resolve()) if chosen is not None else "")


def scenarios_file(params: BatchParams) -> Path | None:
    """The scenario definitions that go with ``params``: the ``scenarios.yaml`` beside its
    ``batch.yaml`` when there is one, else the default (``params/scenarios.yaml``), else None.

    The one rule of ``khforecast run`` and ``khforecast forecast``."""
    if params.source:
        beside = Path(params.source).parent / "scenarios.yaml"
        if beside.is_file():
            return beside.resolve()
    found = default_scenarios_path()
    return found.resolve() if found is not None else None
