"""Shared pytest fixtures."""
from __future__ import annotations

import os

# Plotting in tests must never need a display.
os.environ.setdefault("MPLBACKEND", "Agg")
