"""The forecasting engine: scales, models, simulated paths, forecaster, scenarios, series.

Also the calibration of the paths' width (:mod:`khforecast.engine.calibration`).
"""
