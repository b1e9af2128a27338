"""The package's architecture, enforced: the import-linter layers, no import cycles, and no
function-level import of the package's own modules unless a comment says why.

The layers (``[tool.importlinter]`` in pyproject.toml): cli > batch > briefing > assess > engine >
observations > plan > _io > errors. A module imports only from its own subpackage or from layers
below it.
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import grimp
from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "khforecast"
#: a function-level import of the package's own modules is allowed when the line itself or the
#: line above it carries a comment starting with this marker, followed by the reason
LAZY_MARK = "# lazy:"


#: what may sit at the package's top besides the layers' subpackages
TOP_MODULES = {"__init__", "errors", "_io", "cli"}


def _layers_contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return contract


def test_import_linter_layers_contract_is_kept():
    """``lint-imports`` (the layers contract in pyproject.toml) passes."""
    code = importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"),
                                         no_cache=True)
    assert code == 0, "lint-imports found a broken contract (run .venv/bin/lint-imports)"


def test_every_module_sits_in_a_layer():
    """import-linter checks only the modules its layers name: a module left at the package top
    (or a subpackage missing from the contract) would escape the layers unnoticed."""
    layers = _layers_contract()["layers"]
    top = {p.stem for p in PACKAGE.glob("*.py")}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert top == TOP_MODULES, f"move {sorted(top - TOP_MODULES)} into the subpackage of its layer"
    assert set(layers) == (TOP_MODULES - {"__init__"}) | packages, \
        "pyproject's layers contract must name every subpackage and top module"
    # no stray modules in folders without __init__.py (they would not be in grimp's graph)
    loose = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
             if p.parent != PACKAGE and not (p.parent / "__init__.py").is_file()]
    assert loose == []


def test_the_layers_contract_catches_a_hidden_upward_import(tmp_path, monkeypatch):
    """The contract, run on a toy package with the same layers, reports an engine module that
    imports the batch inside a function (the way engine/scenarios.py once read batch.params)."""
    layers = _layers_contract()["layers"]
    pkg = tmp_path / "toypkg"
    for layer in layers:
        if layer in TOP_MODULES:
            (pkg / f"{layer}.py").parent.mkdir(parents=True, exist_ok=True)
            (pkg / f"{layer}.py").write_text("", encoding="utf-8")
        else:
            (pkg / layer).mkdir(parents=True)
            (pkg / layer / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "batch" / "params.py").write_text("from toypkg.engine import scenarios\n",
                                             encoding="utf-8")
    (pkg / "engine" / "scenarios.py").write_text(
        "def load():\n    from toypkg.batch import params  # lazy: hidden\n    return params\n",
        encoding="utf-8")
    config = tmp_path / "contract.toml"
    config.write_text('[tool.importlinter]\nroot_package = "toypkg"\n\n'
                      '[[tool.importlinter.contracts]]\nname = "layers"\ntype = "layers"\n'
                      'containers = ["toypkg"]\nlayers = [' + ", ".join(f'"{x}"' for x in layers)
                      + "]\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert importlinter_cli.lint_imports(config_filename=str(config), no_cache=True) != 0
    (pkg / "engine" / "scenarios.py").write_text("def load():\n    return None\n",
                                                 encoding="utf-8")
    assert importlinter_cli.lint_imports(config_filename=str(config), no_cache=True) == 0


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    """No two modules import each other, directly or through others (type-checking imports too)."""
    graph = grimp.build_graph("khforecast", cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    # a package's __init__ importing its own submodules is not a cycle with them
    edges = {m: {d for d in ds if not m.startswith(d + ".")} for m, ds in edges.items()}
    assert _cycles(edges) == []


def _is_own_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        names = [node.module or ""]
    elif isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        return False
    return any(n == "khforecast" or n.startswith("khforecast.") for n in names)


def _function_level_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of the package inside functions, unless their run of consecutive import
    statements is preceded by (or the import itself carries) a ``# lazy: why`` comment."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for fn in ast.walk(ast.parse(text)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(node, field, None)
                if not isinstance(stmts, list):  # a lambda's body is an expression
                    continue
                explained = False
                for stmt in stmts:
                    if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                        explained = False
                        continue
                    above = lines[stmt.lineno - 2].strip() if stmt.lineno > 1 else ""
                    if LAZY_MARK in lines[stmt.lineno - 1] or above.startswith(LAZY_MARK):
                        explained = True
                    if _is_own_import(stmt) and not explained:
                        found.append(f"{path.relative_to(root)}:{stmt.lineno}: "
                                     f"{lines[stmt.lineno - 1].strip()}")
    return sorted(set(found))


def test_no_unexplained_function_level_import_of_the_package():
    found = [f for p in sorted(PACKAGE.rglob("*.py")) for f in _function_level_imports(p)]
    assert found == [], "hoist these imports, or say why with a '# lazy: ...' comment:\n" + \
        "\n".join(found)


def test_the_function_level_import_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import khforecast\n\n\ndef f():\n    from khforecast.errors import KhforecastError\n"
                   "\n\ndef g():\n    # lazy: a reason\n    import khforecast.errors\n"
                   "    from khforecast import _io  # the same run of imports: explained\n"
                   "    x = 1\n    import json  # not the package's own\n"
                   "    import khforecast._io as io\n", encoding="utf-8")
    assert _function_level_imports(bad, tmp_path) == [
        "bad.py:14: import khforecast._io as io",
        "bad.py:5: from khforecast.errors import KhforecastError"]


#: an absolute path of a development machine (a data folder, a home): never in the package
_MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|home|Users|root|mnt|srv)/[\w.-]+")


def test_no_absolute_machine_path_in_the_package():
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in {".py", ".md", ".yaml", ".ipynb", ".css", ".j2", ".tpl", ".json"}:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert found == [], "say where the data came from without a machine path:\n" + \
        "\n".join(found)


def test_a_module_over_500_lines_says_why():
    """The house style: a module over ~500 lines is usually two; one that is not says why."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > 520 and "Why one module" not in doc:
            long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
    assert long == [], "split these modules or say 'Why one module' in the docstring:\n" + \
        "\n".join(long)
