"""The GSO 63-province panels shipped with the package (comparisons, weights, pooled back-tests).

Each panel is a long table, one row per unit (province, region or country), year and indicator,
copied from the project's research data (the ``gso_panels`` folder of its shared data, built
from public GitHub repositories of GSO exports) and stored gzip-compressed in
``khforecast/data/gso_panels/``; its README gives each table's provenance, definition and caveats.
"""
from __future__ import annotations

import difflib
from importlib import resources

import pandas as pd

from khforecast.errors import KhforecastError

__all__ = ["PANEL_COLUMNS", "list_panels", "load_panel"]

#: The columns of every panel, in file order.
PANEL_COLUMNS: tuple[str, ...] = (
    "province", "province_slug", "geo_level", "year", "year_label", "preliminary", "value",
    "indicator", "unit", "source_repo", "source_path", "source_commit", "source_note",
)

_SUFFIX = ".csv.gz"


def _panel_dir() -> resources.abc.Traversable:
    """The package folder that holds the compressed panels."""
    return resources.files("khforecast").joinpath("data", "gso_panels")


def list_panels() -> list[str]:
    """Return the names of the bundled panels (file names without ``.csv.gz``), sorted.

    Examples
    --------
    >>> "unemployment_rate" in list_panels()
    True
    """
    return sorted(p.name[: -len(_SUFFIX)] for p in _panel_dir().iterdir()
                  if p.name.endswith(_SUFFIX))


def load_panel(name: str) -> pd.DataFrame:
    """Load one bundled GSO panel by name, e.g. ``"unemployment_rate"``.

    Parameters
    ----------
    name : str
        A name from :func:`list_panels`; a trailing ``.csv`` or ``.csv.gz`` is accepted.

    Returns
    -------
    pandas.DataFrame
        Columns ``PANEL_COLUMNS``: ``year`` int, ``value`` float, ``preliminary`` bool, the rest
        text. Filter ``geo_level == "province"`` for the 63-province panel.

    Raises
    ------
    KhforecastError
        When no panel has that name (the message suggests the nearest names).

    Examples
    --------
    >>> df = load_panel("unemployment_rate")
    >>> sorted(df.loc[df.province_slug == "khanh_hoa", "year"].unique())[:2]
    [np.int64(2018), np.int64(2019)]
    """
    stem = name.removesuffix(".gz").removesuffix(".csv")
    names = list_panels()
    if stem not in names:
        near = difflib.get_close_matches(stem, names, n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        raise KhforecastError(
            f"no bundled GSO panel named {name!r}{hint} (available: {', '.join(names)})")
    with _panel_dir().joinpath(stem + _SUFFIX).open("rb") as fh:
        frame = pd.read_csv(
            fh, compression="gzip", keep_default_na=False, na_values={"value": [""]},
            dtype={"year": "int64", "value": "float64", "preliminary": "str"},
        )
    frame["preliminary"] = frame["preliminary"].str.lower().map({"true": True, "false": False})
    if list(frame.columns) != list(PANEL_COLUMNS) or frame["preliminary"].isna().any():
        raise KhforecastError(f"bundled panel {stem!r} is malformed: expected columns "
                              f"{', '.join(PANEL_COLUMNS)} and true/false in 'preliminary'")
    frame["preliminary"] = frame["preliminary"].astype(bool)
    return frame
