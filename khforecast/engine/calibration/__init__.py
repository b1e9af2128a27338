"""Rolling-origin back-tests of the models on the pooled panels, and the fingerprint of the models
the shipped calibration was derived for.

Ten yearly points cannot calibrate one series' intervals, so the predictive distribution is
calibrated on many similar series at once (:mod:`khforecast.engine.pool`: the 63-province GSO
panels and the UN / UNDP / WHO / World Bank country panels). Each back-test
(:func:`~khforecast.engine.calibration.backtest.backtest`) hides the years after an origin,
forecasts them from a short training window (3 to 20 points, the lengths khforecast meets in
practice) and records where the realised value fell relative to the models' own paths.
:mod:`khforecast.engine.evaluation` fits the pooled calibration
(:class:`~khforecast.engine.predictive.PooledCalibration`) from those cells and scores it out of
sample. Re-derive the shipped ``khforecast/data/calibration.json`` with::

    python -m khforecast.engine.evaluation --out khforecast/data/calibration.json
"""
