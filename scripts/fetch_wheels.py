#!/usr/bin/env python3
"""Put the wheels that the verifier needs under Pyodide into ``build/wheels/``.

Two kinds of wheel:

- the verifier's runtime dependencies, pure Python, downloaded from PyPI with
  ``pip download --python-version 3.14 --only-binary=:all: --no-deps`` (Pyodide 314 is
  CPython 3.14). The versions are pinned in :data:`DEPENDENCY_PINS`; they must satisfy the
  ranges in ``pyproject.toml``. A wheel already present is not downloaded again.
- a wheel of this project (``waict-<version>-py3-none-any.whl``, holding ``verifier`` and
  ``waict``), rebuilt from the work tree on every run so it never goes stale. It is built
  from a clean copy of the tree (so setuptools' ``build/lib`` cache can never slip a deleted
  module into it), without build isolation when the running Python has setuptools >= 68 and
  wheel (offline, under a second), else with pip's usual isolated build.

Any other ``*.whl`` in the destination is removed, because the Pyodide runner and the
extension build load *every* wheel there.

Usage: ``python scripts/fetch_wheels.py [--dest DIR]``. Importable: :func:`collect_wheels`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "build" / "wheels"

#: Python version of the Pyodide runtime the wheels are for (npm pyodide 314.x).
PYODIDE_PYTHON_VERSION = "3.14"

#: Exact versions of the pure-Python runtime dependencies bundled for Pyodide.
#: http-sf needs typing_extensions. Keep inside the ranges of pyproject.toml.
DEPENDENCY_PINS: dict[str, str] = {
    "http-sf": "1.5.0",
    "typing_extensions": "4.16.0",
    "rfc8785": "0.1.4",
}

#: Left out of the clean copy the project wheel is built from: at the top level only
#: (``_TOP_LEVEL_SKIP``) or at any depth (``_ANY_LEVEL_SKIP``).
_TOP_LEVEL_SKIP = frozenset(
    {
        ".git",
        ".venv",
        "node_modules",
        "build",
        "dist",
        "test-artifacts",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
)
_ANY_LEVEL_SKIP = frozenset({"__pycache__"})


def _build_copy_ignore(root: Path) -> Callable[[str, list[str]], set[str]]:
    """An ``ignore`` for :func:`shutil.copytree` of the tree at ``root``."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == root
        return {
            n
            for n in names
            if n in _ANY_LEVEL_SKIP
            or n.endswith((".egg-info", ".pyc"))
            or (top and n in _TOP_LEVEL_SKIP)
        }

    return ignore


OFFLINE_HELP = """\
Could not download {what} from PyPI; pip said:
    {reason}
The Pyodide tests and the extension need these pure-Python wheels in {dest}:
  {wanted}
What to do:
  - connect to PyPI (or the configured pip index) and run again:  python scripts/fetch_wheels.py
  - or, offline, copy those exact wheel files into {dest} by hand and run again
    (wheels already there are not downloaded again)."""


class FetchError(RuntimeError):
    """A wheel could not be fetched or built; the message says what to do."""


def _normalize(name: str) -> str:
    """PEP 503 name normalisation, and the form wheel file names use (``-`` -> ``_``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_name_version(wheel: Path) -> tuple[str, str]:
    parts = wheel.name.split("-")
    return _normalize(parts[0]), parts[1] if len(parts) > 1 else ""


def _find_wheel(dest: Path, name: str, version: str) -> Path | None:
    for wheel in sorted(dest.glob("*.whl")):
        if _wheel_name_version(wheel) == (_normalize(name), version) and wheel.name.endswith(
            "-none-any.whl"
        ):
            return wheel
    return None


def _log(msg: str) -> None:
    print(f"fetch_wheels: {msg}", flush=True)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def fetch_dependency_wheels(dest: Path) -> list[Path]:
    """Download the pinned dependency wheels that are not in ``dest`` yet."""
    dest.mkdir(parents=True, exist_ok=True)
    result: list[Path] = []
    missing: list[str] = []
    for name, version in DEPENDENCY_PINS.items():
        found = _find_wheel(dest, name, version)
        if found is not None:
            _log(f"have {found.name}")
            result.append(found)
        else:
            missing.append(f"{name}=={version}")
    if missing:
        _log(f"downloading {', '.join(missing)} (Python {PYODIDE_PYTHON_VERSION}, pure wheels)")
        with tempfile.TemporaryDirectory(prefix="waict-wheels-") as tmp:
            proc = _pip(
                "download",
                "--disable-pip-version-check",
                "--python-version",
                PYODIDE_PYTHON_VERSION,
                "--only-binary=:all:",
                "--no-deps",
                "--dest",
                tmp,
                *missing,
            )
            if proc.returncode != 0:
                lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
                reason = "\n    ".join(lines[-4:]) or "pip download failed"
                raise FetchError(
                    OFFLINE_HELP.format(
                        what=", ".join(missing),
                        reason=reason,
                        dest=dest,
                        wanted="\n  ".join(
                            f"{_normalize(n)}-{v}-py3-none-any.whl"
                            for n, v in DEPENDENCY_PINS.items()
                        ),
                    )
                )
            for wheel in sorted(Path(tmp).glob("*.whl")):
                if not wheel.name.endswith("-none-any.whl"):
                    raise FetchError(
                        f"{wheel.name} is not a pure-Python wheel; Pyodide cannot load it"
                    )
                target = dest / wheel.name
                shutil.move(str(wheel), target)
                _log(f"downloaded {target.name}")
        for spec in missing:
            name, version = spec.split("==")
            found = _find_wheel(dest, name, version)
            if found is None:
                raise FetchError(f"pip reported success but no wheel for {spec} is in {dest}")
            result.append(found)
    return sorted(result)


def _can_build_without_isolation() -> bool:
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
        importlib.metadata.version("wheel")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 68


def build_project_wheel(dest: Path, source: Path = REPO_ROOT) -> Path:
    """Build the wheel of the project at ``source`` into ``dest`` (replacing an older one)."""
    dest.mkdir(parents=True, exist_ok=True)
    isolated = not _can_build_without_isolation()
    with tempfile.TemporaryDirectory(prefix="waict-build-") as tmp:
        tree = Path(tmp) / "src"
        shutil.copytree(source, tree, ignore=_build_copy_ignore(Path(source)))
        out = Path(tmp) / "out"
        args = ["wheel", "--disable-pip-version-check", "--no-deps", "-w", str(out)]
        if not isolated:
            args.append("--no-build-isolation")
        proc = _pip(*args, str(tree))
        if proc.returncode != 0:
            hint = (
                "The isolated build needs setuptools>=68 and wheel from PyPI; offline, install "
                "them into this Python first (`pip install 'setuptools>=68' wheel`, as "
                "scripts/setup.sh does) so the build runs without isolation."
                if isolated
                else "See pip's output above."
            )
            raise FetchError(
                f"building the project wheel from {source} failed:\n"
                f"{proc.stdout}{proc.stderr}\n{hint}"
            )
        built = sorted(out.glob("*.whl"))
        if len(built) != 1 or not built[0].name.endswith("-py3-none-any.whl"):
            raise FetchError(f"expected one pure-Python wheel, pip built {built}")
        name, _ = _wheel_name_version(built[0])
        for old in dest.glob("*.whl"):
            if _wheel_name_version(old)[0] == name:
                old.unlink()
        target = dest / built[0].name
        shutil.move(str(built[0]), target)
    _log(f"built {target.name} from {source} ({'isolated' if isolated else 'no isolation'})")
    return target


def collect_wheels(dest: Path = DEFAULT_DEST, source: Path = REPO_ROOT) -> list[Path]:
    """Make ``dest`` hold exactly the wheels Pyodide needs; return their paths, sorted.

    Raises :class:`FetchError` with an actionable message when a wheel cannot be had.
    """
    dest = Path(dest)
    deps = fetch_dependency_wheels(dest)
    project = build_project_wheel(dest, Path(source))
    wanted = {*deps, project}
    for wheel in sorted(dest.glob("*.whl")):
        if wheel not in wanted:
            wheel.unlink()
            _log(f"removed stale {wheel.name}")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"default: {DEFAULT_DEST}")
    args = parser.parse_args(argv)
    try:
        wheels = collect_wheels(args.dest)
    except FetchError as exc:
        print(f"fetch_wheels: ERROR: {exc}", file=sys.stderr)
        return 1
    _log(f"{len(wheels)} wheels in {args.dest}:")
    for wheel in wheels:
        print(f"  {wheel.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
