"""``python -m khforecast.engine.calibration``.

Re-derive ``calibration.json`` with the pooled back-tests (:mod:`khforecast.engine.evaluation`).
"""
import sys

from khforecast.engine.evaluation import main

sys.exit(main())
