"""The exception hierarchy: every error a user can cause is a ``KhforecastError``.

Also :class:`Problem`, one located thing wrong in an input file: the errors that report many
(``ObservationError`` and its kin) carry a list of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Problem",
    "KhforecastError",
    "CatalogError",
    "TargetParseError",
    "ObservationError",
    "TaskReportError",
    "ModelFitError",
    "ParamsError",
    "NotebookRunError",
    "UsageError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious, ``severity="warning"``) in an observation file.

    ``row`` is the 1-based line (CSV, header = 1) or sheet row (Excel); ``cell`` is the Excel
    cell such as ``"F12"`` and ``sheet`` its sheet; ``hint`` says how to fix it when known.
    """

    file: str
    row: int | None
    column: str | None
    cell: str | None
    expected: str
    found: str
    severity: Literal["error", "warning"] = "error"
    sheet: str | None = None
    hint: str = ""
    count: int = 1  # > 1 only for the line that stands for the problems left unlisted

    def __str__(self) -> str:
        """One line: where, what was expected, what was found, and the fix."""
        where = self.file
        if self.sheet is not None:
            where += f" sheet '{self.sheet}'"
        if self.cell is not None:
            where += f" cell {self.cell}"
        parts = []
        if self.row is not None and self.cell is None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        if parts:
            where += (" " if self.cell is None else " (") + ", ".join(parts) + (
                "" if self.cell is None else ")")
        text = f"{where}: expected {self.expected}, got {self.found}"
        if self.hint:
            text += f" ({self.hint})"
        return ("warning: " + text) if self.severity == "warning" else text


class KhforecastError(Exception):
    """Raised for any problem the user can fix; the CLI prints it as one line."""


class CatalogError(KhforecastError):
    """Raised when the catalog data file is malformed or an id is not in it."""


class TargetParseError(KhforecastError, ValueError):
    """Raised when a target's text cannot be read as any known target kind."""


class ObservationError(KhforecastError, ValueError):
    """Raised when observation files hold problems; ``.problems`` lists them (the first few
    hundred per file, then one line counting the rest); ``.n_errors`` counts every error."""

    @property
    def n_errors(self) -> int:
        """Errors found, listed or not."""
        return sum(getattr(p, "count", 1) for p in self.problems if p.severity == "error")

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        head = f"{self.n_errors} problem(s) in the observations"
        super().__init__(head + ("\n" + "\n".join(str(p) for p in self.problems) if self.problems else ""))


class TaskReportError(ObservationError):
    """Raised when task progress report files hold problems; ``.problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        errors = sum(p.severity == "error" for p in self.problems)
        self.args = (f"{errors} problem(s) in the task reports"
                     + "".join("\n" + str(p) for p in self.problems),)


class ModelFitError(KhforecastError):
    """Raised when no model, fallbacks included, can be fitted to a series."""


class ParamsError(KhforecastError, ValueError):
    """Raised when a params YAML file is missing, malformed or names an unknown scenario."""


class NotebookRunError(KhforecastError):
    """Raised when one or more notebooks of a batch failed (each is saved with its error)."""


class UsageError(KhforecastError, ValueError):
    """Raised when arguments are individually valid but make no sense together (exit 2)."""
