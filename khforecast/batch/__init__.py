"""The batch (``khforecast run``): params, the compute step, notebooks, manifest, the run itself.

Entry point: :func:`khforecast.batch.run.run_batch`.
"""
