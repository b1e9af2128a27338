"""khforecast: will Khánh Hòa meet the 2025/2030 targets of plan 8839/KH-UBND?

The data flow is one way: catalog + observations -> models -> assessment -> briefings.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("khforecast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
