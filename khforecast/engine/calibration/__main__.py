"""``python -m khforecast.engine.calibration``.

Re-derive ``calibration.json`` (see the package docstring).
"""
import sys

from khforecast.engine.calibration.derive import main

sys.exit(main())
