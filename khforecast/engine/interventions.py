"""Declared interventions: one-off shocks (pulse years) and a level shift (step year).

A statistician knows things a ten-point series cannot show: 2020-2021 were COVID years, a series
changed definition in 2019. :class:`Interventions` carries them to the models as *positions* of
the fitted series (0 = its first value), so that a model works on arrays and a training window
simply drops the years it does not contain (:meth:`Interventions.from_years`).

How a member uses them (each member's ``fit(y, interventions)``):

- a **pulse** year's value is a one-off: state-space members (statsmodels) take one dummy
  regressor per pulse year, whose effect is estimated and not carried forward; numpy members
  leave the pulse year's residual out of the fit and out of the noise estimate (the recursion
  treats the year as missing, the year-on-year changes touching it are not counted);
- a **step** year starts a new level that lasts: state-space members take a step dummy (0
  before, 1 from the year on, 1 in the future); numpy members leave the change into the step
  year out of their trend and noise estimates and keep forecasting from the new level.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Interventions"]


@dataclass(frozen=True)
class Interventions:
    """Pulse positions and an optional step position within a series of ``n`` values."""

    pulse: tuple[int, ...] = ()
    step: int | None = None

    @classmethod
    def from_years(cls, years: Iterable[int], pulse_years: Iterable[int] = (),
                   step_year: int | None = None) -> Interventions:
        """Positions of the declared years within consecutive ``years``; years outside are dropped.

        A step at or before the first year (or after the last) changes nothing the data can
        show, so it is dropped too.
        """
        yrs = [int(y) for y in years]
        if not yrs:
            return cls()
        first, last = yrs[0], yrs[-1]
        pulse = tuple(sorted({int(p) - first for p in pulse_years if first <= int(p) <= last}))
        step = int(step_year) - first if step_year is not None and first < int(step_year) <= last else None
        if step is not None and step in pulse:
            pulse = tuple(p for p in pulse if p != step)
        return cls(pulse, step)

    def __bool__(self) -> bool:
        return bool(self.pulse) or self.step is not None

    @property
    def n_regressors(self) -> int:
        """How many dummy columns :meth:`regressors` has."""
        return len(self.pulse) + (self.step is not None)

    def regressors(self, n: int) -> np.ndarray:
        """``(n, k)`` dummies over the fitted years: one column per pulse, then the step."""
        x = np.zeros((n, self.n_regressors))
        for j, p in enumerate(self.pulse):
            x[p, j] = 1.0
        if self.step is not None:
            x[self.step:, -1] = 1.0
        return x

    def future(self, h: int) -> np.ndarray:
        """``(h, k)`` dummies of the projected years: pulses are over, a step lasts."""
        x = np.zeros((h, self.n_regressors))
        if self.step is not None:
            x[:, -1] = 1.0
        return x

    def keep(self, n: int) -> np.ndarray:
        """Boolean ``(n,)``: True for the years whose residuals count (not a pulse year)."""
        m = np.ones(n, dtype=bool)
        m[list(self.pulse)] = False
        return m

    def bridge(self, y: np.ndarray) -> np.ndarray:
        """``y`` with each pulse year's value replaced by the straight line between its ordinary
        neighbours (the nearest ordinary value at either end): the series without its shocks."""
        y = np.asarray(y, dtype=float)
        keep = self.keep(len(y))
        if keep.all():
            return y
        t = np.arange(len(y))
        return np.interp(t, t[keep], y[keep])

    def changes_kept(self, n: int) -> np.ndarray:
        """Boolean ``(n - 1,)``: the year-on-year changes that touch no pulse and no step."""
        keep = self.keep(n)
        ok = keep[1:] & keep[:-1]
        if self.step is not None:
            ok[self.step - 1] = False
        return ok

    def describe(self, first_year: int) -> str:
        """``"pulse 2020, 2021; step 2019"`` in calendar years ("" when none)."""
        parts = []
        if self.pulse:
            parts.append("pulse " + ", ".join(str(first_year + p) for p in self.pulse))
        if self.step is not None:
            parts.append(f"step {first_year + self.step}")
        return "; ".join(parts)
