"""Diagnostics of a fitted statsmodels member for the deep dive: its summary and residual tests.

Kept apart from :mod:`khforecast.engine.statespace` (the members themselves), which the
forecasts need; only the deep dive asks for these, from statsmodels' own tests.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from khforecast.engine.statespace import _FittedETS, _FittedStateSpace, _threads

__all__ = ["diagnostics"]

_DATE = re.compile(r"(Date:\s+)\w{3}, \d{2} \w{3} \d{4}")
_TIME = re.compile(r"(Time:\s+)\d{2}:\d{2}:\d{2}")


def diagnostics(fitted: _FittedETS | _FittedStateSpace) -> dict[str, Any]:
    """statsmodels' summary of a fitted member and tests of its one-step residuals.

    Returns ``summary`` (the text of ``results.summary()``, the date and time of the fit blanked
    so that a run's files stay byte-identical), ``n_resid``, ``ljung_box`` (statistic, p-value
    and lag of ``acorr_ljungbox``: no autocorrelation left), ``jarque_bera`` (statistic,
    p-value, skew, kurtosis) and ``anderson_darling`` (statistic, p-value of ``normal_ad``):
    normality. Residuals are standardised one-step errors, diffuse start and pulse years left
    out. Standard errors in the summary come from ``cov_type="approx"`` at the fitted values.
    """
    from statsmodels.stats.diagnostic import acorr_ljungbox, normal_ad
    from statsmodels.stats.stattools import jarque_bera

    keep = fitted.interventions.keep(fitted.n_obs)
    with warnings.catch_warnings(), _threads().limit(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        if isinstance(fitted, _FittedStateSpace):
            res = fitted.result.model.smooth(fitted.result.params, cov_type="approx")
            burn = int(res.loglikelihood_burn)
            keep[:burn] = False
            e = np.asarray(res.standardized_forecasts_error[0], dtype=float)[keep]
        else:
            res = fitted.result
            raw = np.asarray(res.resid, dtype=float)[keep]
            e = raw / np.sqrt(np.mean(raw ** 2))
        lag = max(1, min(3, e.size // 2 - 1))
        lb = acorr_ljungbox(e, lags=[lag])
        jb = jarque_bera(e)
        ad = normal_ad(e) if e.size >= 4 else (np.nan, np.nan)
        text = res.summary().as_text()
    text = _TIME.sub(lambda m: m.group(1) + "--:--:--", _DATE.sub(
        lambda m: m.group(1) + "-" * 16, text))
    return {"model": fitted.name, "summary": text, "n_resid": int(e.size),
            "ljung_box": {"lag": lag, "statistic": float(lb["lb_stat"].iloc[0]),
                          "p_value": float(lb["lb_pvalue"].iloc[0])},
            "jarque_bera": {"statistic": float(jb[0]), "p_value": float(jb[1]),
                            "skew": float(jb[2]), "kurtosis": float(jb[3])},
            "anderson_darling": {"statistic": float(ad[0]), "p_value": float(ad[1])}}
