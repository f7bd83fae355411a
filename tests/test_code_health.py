"""The code's own rules, read from the source: short functions, no import cycles, no ``assert`` for control
flow, and the TRIZ core never importing DRAIN."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

from tests.helpers import ROOT

PACKAGES = ("drain", "triz")
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _imports(name: str) -> Iterator[str]:
    """The project modules ``name`` imports, at the top or inside a function (``from pkg import sub`` is
    the submodule, not the package)."""
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}"
                elif node.module in MODULES:
                    yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)


def test_no_function_is_over_60_lines() -> None:
    long = [f"{MODULES[name].relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
            for name, tree in TREES.items() for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and (node.end_lineno or 0) - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_no_import_cycles() -> None:
    graph = nx.DiGraph((name, other) for name in MODULES for other in _imports(name) if other != name)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == []


def test_the_triz_core_never_imports_drain() -> None:
    reaching = {name: sorted(other for other in _imports(name) if other.split(".")[0] == "drain")
                for name in MODULES if name.split(".")[0] == "triz"}
    assert {name: found for name, found in reaching.items() if found} == {}


def test_no_assert_outside_the_tests() -> None:
    asserts = [f"{MODULES[name].relative_to(ROOT)}:{node.lineno}"
               for name, tree in TREES.items() for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts == []
