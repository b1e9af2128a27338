"""Assessment: simulated paths -> probability of meeting each target, statuses, ESCAP label."""
