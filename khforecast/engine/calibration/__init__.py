"""Interval calibration borrowed across series: pooled rolling-origin back-tests on panels.

Ten yearly points cannot calibrate one series' intervals, so the width of the predictive paths
is calibrated on many similar series at once: the 63-province GSO panels and the multi-country
UN/UNDP/WHO panels. Each back-test hides the years after an origin, forecasts them from a short
training window (3 to 20 points, the lengths khforecast meets in practice) and records where the
realised value fell in the predictive distribution. Three things are fitted, all acting on the
paths' deviations from their median on the modelling (logit/log) scale:

- a **floor**: the dispersion at horizon h is at least ``floor * move * sqrt(h)``, ``move`` the
  history's typical yearly change (models that fit a flat or perfectly linear history otherwise
  claim near-certainty: on the country panel of mean years of schooling the 95 % intervals
  needed widening by a factor of 800,000 to cover 95 % of realised values before the floor
  was added);
- a **spread** per horizon and training-length bucket (the ``spread`` of
  :func:`khforecast.engine.models.simulate_paths`);
- a **tail** per bucket: each path's deviations are scaled by ``exp(tail * e)``, ``e`` a standard
  normal clipped to ``±TAIL_CLIP`` (unclipped, the factor reaches ``exp(4.5)`` on log-scale
  series and the draws' mean explodes beyond any plausible value while the 80/95 % intervals the
  fit targets hardly change), which makes the 80 % and the 95 % intervals right at once (pooled series differ in how wrong
  their models are, so pooled errors are heavier-tailed than any one model's paths).

They are shipped in ``khforecast/data/calibration.json``; re-derive it with::

    python -m khforecast.engine.calibration --out khforecast/data/calibration.json

Coverage reported by :func:`calibration_table` is out of sample: leave-one-panel-out, i.e. the
floor, spreads and tails used for a panel's back-tests were fitted on all the *other* panels.
"""
