"""The plan 8839/KH-UBND as data: the catalog of indicators, targets and tasks, and target kinds.

The lowest layer above :mod:`khforecast.errors` and :mod:`khforecast._io`: it imports no other
part of the package.
"""
