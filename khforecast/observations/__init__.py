"""Observations: reading and checking CSV and Excel files, the template, places, panels, illustrative data.

Entry points: :func:`khforecast.observations.read.read_observations` and
:func:`khforecast.observations.read.check_observations`.
"""
