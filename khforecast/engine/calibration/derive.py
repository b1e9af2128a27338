"""What the shipped calibration was derived for: the fingerprint of the models' code.

The command that derives it is ``python -m khforecast.engine.evaluation --out PATH``
(:mod:`khforecast.engine.evaluation`); it stores :func:`models_fingerprint` in the file's meta and a
test fails when the models change after it.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
from collections.abc import Iterable

from khforecast.engine import interventions, models, scales, statespace

__all__ = [
    "code_fingerprint",
    "models_fingerprint",
]


def models_fingerprint() -> str:
    """sha256 of the code of the models, scales, statespace and interventions modules (see
    :func:`code_fingerprint`): every registry member and what it is given.

    The calibration is only valid for the models that made the back-tests: a change to the
    code of :mod:`~khforecast.engine.models` or :mod:`~khforecast.engine.scales` makes the
    shipped calibration stale (re-run the command); an edit of their documentation, of their
    import lines or a move of their files does not (the modules are found by import, not by
    path).
    """
    return code_fingerprint(inspect.getsource(m) for m in (models, scales, statespace, interventions))


def code_fingerprint(sources: Iterable[str]) -> str:
    """sha256 of Python sources' code: docstrings, ``__all__`` and import statements left out."""
    h = hashlib.sha256()
    for source in sources:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not isinstance(body, list):
                continue
            body = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom)) and not (
                isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                  for t in n.targets))]
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                body = body[1:]
            node.body = body or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()
