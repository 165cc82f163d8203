"""The shape of ``waict/``: wings named after roles, no import circles, no prefix packages,
no huge modules (README "What is here"; each wing's ``__init__`` states its import rule).

The import graph is built from the ``ast`` of every module: every ``import`` and
``from ... import`` at any level (function-level and ``TYPE_CHECKING`` imports included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "waict"
MAX_LINES = 500
PREFIXES = ("site_", "demo_")  # a module name that stands in for a package
#: (modules under this prefix, must not import modules under any of these prefixes)
FORBIDDEN = (
    ("waict.common", ("waict.log", "waict.site", "waict.demo", "waict.cli")),
    ("waict.log", ("waict.site", "waict.demo", "waict.cli")),
    ("waict.site", ("waict.log", "waict.demo", "waict.cli")),
    ("waict.demo", ("waict.cli",)),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The ``waict`` modules a module imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_graph_sees_the_wings() -> None:
    assert {"waict.cli", "waict.log.service", "waict.site.publish", "waict.demo.ecosystem"} <= set(
        MODULES
    )
    assert "waict.log.service" in GRAPH["waict.log.api"]


def test_no_import_circle() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import circle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(GRAPH[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])


@pytest.mark.parametrize(("wing", "banned"), FORBIDDEN, ids=[w for w, _ in FORBIDDEN])
def test_wing_import_rules(wing: str, banned: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if within(name, wing)
        for target in targets
        if any(within(target, b) for b in banned)
    )
    assert not wrong


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size_and_name(name: str) -> None:
    path = MODULES[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
    assert not path.name.startswith(PREFIXES), f"{path.name}: make the prefix a package"
