"""Layering: the headless layers never pull in the UI, nothing heavy is
loaded just to print help or to import a module, and no two modules import
each other (directly or round a loop).

The import-linter contracts in pyproject.toml state the allowed directions;
the test command runs them. These tests check what they cannot: what a fresh
interpreter has loaded after one import, and import cycles inside a package.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("audio", "questions", "interviewer")
HEAVY = {
    "torch",
    "whisper",
    "faster_whisper",
    "ctranslate2",
    "sounddevice",
    "pyttsx3",
    "sentence_transformers",
    "transformers",
    "genanki",
    "fsrs",
}
"""Loaded only inside the functions that use them."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str) -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in sorted((REPO / package).rglob("*.py"))
        if "data" not in p.relative_to(REPO / package).parts
    }


ALL_MODULES = {name: path for package in PACKAGES for name, path in _modules(package).items()}

# --- what one import loads ------------------------------------------------------------

HEADLESS = [
    *_modules("questions"),
    *_modules("audio"),
    *_modules("interviewer/session"),
    "interviewer.instance",
    "interviewer.cli",
    "interviewer.commands.practice",
    "interviewer.commands.score",
    "interviewer.commands.doctor",
    "interviewer.commands.export",
    "interviewer.commands.data",
]


def _top_modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_imports_nothing_heavy_or_ui(module):
    top = _top_modules_after(f"import {module}")
    assert "textual" not in top, f"{module} imports textual"
    loaded = sorted(top & HEAVY)
    assert not loaded, f"{module} imports {loaded} at import time"
    if module.startswith(("questions", "audio")):
        assert "interviewer" not in top, f"{module} imports the app package"


def test_help_is_light():
    top = _top_modules_after(
        "import sys\nsys.argv=['interviewer','--help']\nfrom interviewer.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert not top & (HEAVY | {"textual"}), sorted(top & (HEAVY | {"textual"}))


# --- import cycles ----------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or inside functions, except
    those under ``if TYPE_CHECKING:`` (they never run)."""
    if isinstance(tree, ast.If) and _is_type_checking(tree.test):
        for node in tree.orelse:
            yield from _imports(node)
        return
    if isinstance(tree, ast.Import | ast.ImportFrom):
        yield tree
    for child in ast.iter_child_nodes(tree):
        yield from _imports(child)


def _project_module(name: str) -> str | None:
    """``name`` or its longest prefix that is one of the project's modules."""
    while name:
        if name in ALL_MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _edges(module: str, path: Path) -> Iterator[Edge]:
    is_package = path.name == "__init__.py"
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import submodule`` depends on the submodule only
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in ALL_MODULES else base
                for a in node.names
            ]
        for target in targets:
            found = _project_module(target)
            if found is not None and found != module:
                yield Edge(module, found, node.lineno)


def _graph() -> dict[str, list[Edge]]:
    return {name: list(_edges(name, path)) for name, path in ALL_MODULES.items()}


def _cycles(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _loop(graph: dict[str, list[Edge]], component: list[str]) -> list[Edge]:
    """One concrete loop through the component's first module (breadth first)."""
    inside = set(component)
    start = component[0]
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in graph[node]:
            if edge.target == start:
                return [*paths[node], edge]
            if edge.target in inside and edge.target not in paths:
                paths[edge.target] = [*paths[node], edge]
                queue.append(edge.target)
    raise AssertionError(f"no loop found in {component}")  # cannot happen in a component


def _describe(loop: list[Edge]) -> str:
    steps = " -> ".join(f"{e.source} (line {e.line})" for e in loop)
    return f"{steps} -> {loop[-1].target}"


def test_the_cycle_finder_sees_deferred_imports_and_skips_type_checking(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from audio import clip\n"
        "def later():\n    from audio.results import Transcript\n"
    )
    tree = ast.parse(source)
    names = [n.module for n in _imports(tree) if isinstance(n, ast.ImportFrom)]
    assert names == ["typing", "audio.results"]
    graph = {
        "a": [Edge("a", "b", 1)],
        "b": [Edge("b", "c", 2)],
        "c": [Edge("c", "a", 3), Edge("c", "d", 4)],
        "d": [],
    }
    (component,) = _cycles(graph)
    assert component == ["a", "b", "c"]
    assert _describe(_loop(graph, component)) == "a (line 1) -> b (line 2) -> c (line 3) -> a"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    graph = _graph()
    loops = [
        _describe(_loop(graph, component))
        for component in _cycles(graph)
        if any(m == package or m.startswith(f"{package}.") for m in component)
    ]
    assert not loops, "import cycles:\n" + "\n".join(loops)
