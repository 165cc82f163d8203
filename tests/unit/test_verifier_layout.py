"""The shape of ``verifier/``: small modules, no import circle, only what the wheel bundles.

- No module is over :data:`MAX_LINES` lines.
- The graph of imports between ``verifier`` modules has no circle. It is read with
  :mod:`ast` from every import statement, function-level ones included, relative imports
  resolved; ``from P import x`` is an edge to the submodule ``P.x`` when there is one. The
  implicit import of a package's ``__init__`` by its submodules is not an edge (a package
  that re-exports its submodules is not a circle).
- A ``verifier`` module imports only the standard library, ``verifier`` and the packages
  in :data:`ALLOWED` (where they are allowed): never ``waict``, since ``verifier`` runs
  under Pyodide from a wheel that bundles only pure-Python dependencies.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import pytest

VERIFIER = Path(__file__).resolve().parents[2] / "verifier"
MAX_LINES = 500

#: Third-party packages a ``verifier`` module may import -> the modules that may (None:
#: any). ``http_sf`` and ``rfc8785`` are the pure-Python wheels bundled for Pyodide
#: (``scripts/fetch_wheels.py``); ``cryptography`` only behind the crypto seam (CPython's
#: backend); ``pyodide`` and ``js`` are the Pyodide runtime the WebCrypto backend calls.
ALLOWED: dict[str, frozenset[str] | None] = {
    "http_sf": None,
    "rfc8785": None,
    "cryptography": frozenset({"verifier.crypto.cryptography_backend"}),
    "pyodide": frozenset({"verifier.crypto.webcrypto"}),
    "js": frozenset({"verifier.crypto.webcrypto"}),
}


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """What module ``name`` imports (dotted names; a submodule when ``known`` has it)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return out


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (nearest known module)."""
    known = modules(root)
    out: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        for target in imports(name, path, known):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                edges.add(target)
        out[name] = edges
    return out


def circle(g: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(g).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_verifier_module_is_over_the_line_limit() -> None:
    long = {
        name: n
        for name, path in modules(VERIFIER).items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_no_import_circle_in_verifier() -> None:
    assert circle(graph(VERIFIER)) is None


def test_verifier_imports_only_the_standard_library_and_what_the_wheel_bundles() -> None:
    known = modules(VERIFIER)
    bad = []
    for name, path in known.items():
        for target in sorted(imports(name, path, known)):
            top = target.partition(".")[0]
            if top == "verifier" or top in sys.stdlib_module_names:
                continue
            allowed = ALLOWED.get(top, frozenset())
            if top == "waict" or (allowed is not None and name not in allowed):
                bad.append(f"{name} imports {target}")
    assert not bad


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "def f():\n    from . import b\n", "b.py": "from p.a import f\n"}, True),
        ({"__init__.py": "from .a import x\n", "a.py": "x = 1\n"}, False),
        ({"a.py": "from .sub import c\n", "sub/__init__.py": "", "sub/c.py": "import p.a\n"}, True),
    ],
)
def test_the_circle_check_sees_function_level_and_relative_imports(
    tmp_path: Path, files: dict[str, str], expected: bool
) -> None:
    root = tmp_path / "p"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "__init__.py").touch()
    assert (circle(graph(root)) is not None) is expected
