"""The exception hierarchy: every error a user can cause is a ``KhforecastError``."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from khforecast.observations.records import Problem

__all__ = [
    "KhforecastError",
    "CatalogError",
    "TargetParseError",
    "ObservationError",
    "TaskReportError",
    "ModelFitError",
    "ParamsError",
    "NotebookRunError",
]


class KhforecastError(Exception):
    """Raised for any problem the user can fix; the CLI prints it as one line."""


class CatalogError(KhforecastError):
    """Raised when the catalog data file is malformed or an id is not in it."""


class TargetParseError(KhforecastError, ValueError):
    """Raised when a target's text cannot be read as any known target kind."""


class ObservationError(KhforecastError, ValueError):
    """Raised when observation files hold problems; ``.problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} problem(s) in the observations"
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
