"""The extension's source layout: small files, and a service worker that MV3 can load.

- no file in ``extension/src`` is over ``MAX_LINES`` lines;
- the service worker (``background.service_worker`` of the manifest) is a module worker and
  no module of its static import graph uses dynamic ``import(`` (forbidden in MV3 service
  workers) or imports in a cycle (modules import in one direction: entry -> handlers ->
  helpers -> state).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "extension" / "src"
MAX_LINES = 500
STATIC_IMPORT = re.compile(r"^import\b[^;]*?[\"']([^\"']+)[\"'];", re.M | re.S)
DYNAMIC_IMPORT = re.compile(r"(?<![\w.])import\s*\(")
COMMENT = re.compile(r"^\s*//.*$", re.M)


def _worker_modules() -> dict[Path, list[Path]]:
    """Every module the service worker loads (inside extension/src) -> its static imports."""
    manifest = json.loads((SRC / "manifest.json").read_text())
    assert manifest["background"].get("type") == "module"
    graph: dict[Path, list[Path]] = {}
    todo = [SRC / manifest["background"]["service_worker"]]
    while todo:
        path = todo.pop()
        if path in graph:
            continue
        deps = [(path.parent / m).resolve() for m in STATIC_IMPORT.findall(path.read_text())]
        graph[path] = [d for d in deps if d.is_relative_to(SRC) and d.is_file()]
        todo.extend(graph[path])
    return graph


@pytest.mark.parametrize(
    "path", sorted(p for p in SRC.rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_source_file_is_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)}: {lines} lines (split it by role)"


def test_service_worker_has_no_dynamic_import() -> None:
    graph = _worker_modules()
    assert len(graph) > 1  # the entry and the modules it imports
    for path in graph:
        code = COMMENT.sub("", path.read_text())
        assert not DYNAMIC_IMPORT.search(code), f"{path.relative_to(SRC)}: dynamic import("


def test_service_worker_modules_import_without_cycles() -> None:
    graph = _worker_modules()
    done: set[Path] = set()

    def visit(path: Path, stack: list[Path]) -> None:
        if path in stack:
            cycle = [*stack[stack.index(path) :], path]
            raise AssertionError(" -> ".join(str(p.relative_to(SRC)) for p in cycle))
        if path not in done:
            for dep in graph[path]:
                visit(dep, [*stack, path])
            done.add(path)

    for path in graph:
        visit(path, [])
