"""Assessment: simulated paths -> probability of meeting each target, statuses, ESCAP label.

Also the ``khforecast forecast`` command (:func:`khforecast.assess.assessment.run_forecast`).
"""
