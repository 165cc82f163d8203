#!/usr/bin/env python3
"""Build the WAICT Chromium extension into ``extension/dist`` ("Load unpacked" that folder).

What goes in (nothing is fetched at runtime):

- the extension's own files, ``extension/src/*`` (manifest.json, service worker, pages);
- the Pyodide runtime from ``node_modules/pyodide`` (``npm ci``): pyodide.mjs,
  pyodide.asm.mjs, pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json -> ``pyodide/``;
- the wheels of :func:`fetch_wheels.collect_wheels` (the verifier and its pure-Python
  dependencies) -> ``wheels/`` plus ``wheels/wheels.json`` (their names, load order);
- ``trust.json`` at the root: ``--trust FILE`` or the default below (the scenario's
  ``trust`` object shape);
- ``preload.waict`` at the root when ``--preload FILE`` is given (a preload response body);
- ``pyodide/snapshot.bin``: a Pyodide memory snapshot with the wheels extracted and every
  module imported, made by the extension's own service worker in headless Chromium
  (``scripts/make_snapshot.py``), which the worker restores instead of booting Python and
  importing the wheels (about 31 MB; ``--no-snapshot`` leaves it out, and so does a machine
  without Chromium: the worker then boots as before). Cached in ``build/snapshots/`` by
  the SHA-256 of its inputs (Pyodide, python.js, the wheels' contents, the script), so an
  unchanged build does not make it again.

Idempotent: files whose bytes did not change are not rewritten, files that are no longer
part of the build are removed. Progress lines go to stdout.

Usage: ``python scripts/build_extension.py [--out DIR] [--trust FILE] [--preload FILE]
[--no-snapshot]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC = REPO_ROOT / "extension" / "src"
DEFAULT_OUT = REPO_ROOT / "extension" / "dist"
PYODIDE_DIR = REPO_ROOT / "node_modules" / "pyodide"
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)

#: The default trust settings shipped when no --trust is given: no transparency service and
#: no witness is trusted until the user configures them, so every WAICT proof fails closed
#: (sites in enforce mode are blocked, sites without WAICT are untouched).
DEFAULT_TRUST: dict[str, object] = {
    "transparency_services": [],
    "witnesses": [],
    "quorum": 1,
    "max_cosignature_age": 604800,
    "max_future_skew": 600,
    "cooldown": 86400,
}


def _log(msg: str) -> None:
    print(f"build_extension: {msg}", flush=True)


def _load_fetch_wheels() -> ModuleType:
    path = REPO_ROOT / "scripts" / "fetch_wheels.py"
    spec = importlib.util.spec_from_file_location("waict_fetch_wheels", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _put(dest: Path, data: bytes, written: set[Path]) -> bool:
    """Write ``data`` to ``dest`` unless it already holds exactly that; True if written."""
    written.add(dest)
    if dest.is_file() and dest.stat().st_size == len(data) and dest.read_bytes() == data:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return True


def _validate_trust(data: bytes, source: str) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from verifier.errors import TrustConfigError
    from verifier.trust import parse_trust

    try:
        parse_trust(json.loads(data))
    except (ValueError, TrustConfigError) as exc:
        raise SystemExit(f"build_extension: {source} is not usable trust settings: {exc}") from None


SNAPSHOT_SCRIPT = REPO_ROOT / "scripts" / "make_snapshot.py"
SNAPSHOT_CACHE = REPO_ROOT / "build" / "snapshots"


def _snapshot(out: Path) -> bytes | None:
    """The memory snapshot for the extension in ``out`` (cached), None without Chromium."""
    h = hashlib.sha256(SNAPSHOT_SCRIPT.read_bytes())
    inputs = [out / "pyodide" / name for name in PYODIDE_FILES]
    inputs += [out / "python.js", out / "wheels" / "wheels.json"]
    for path in inputs:
        h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for name in json.loads((out / "wheels" / "wheels.json").read_text()):
        # by content, not bytes: the project wheel is rebuilt (new timestamps) every time
        with zipfile.ZipFile(out / "wheels" / name) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                h.update(info.filename.encode() + b"\0" + hashlib.sha256(zf.read(info)).digest())
    cached = SNAPSHOT_CACHE / f"{h.hexdigest()}.bin"
    if cached.is_file():
        _log(f"Pyodide snapshot: cached ({cached.relative_to(REPO_ROOT)})")
        return cached.read_bytes()
    _log("Pyodide snapshot: making it in headless Chromium (scripts/make_snapshot.py)")
    made = out / "pyodide" / "snapshot.bin"
    done = subprocess.run([sys.executable, str(SNAPSHOT_SCRIPT), str(out)], check=False)
    if done.returncode == 3:
        _log("Pyodide snapshot: none (no Chromium here); the worker will boot without it")
        return None
    if done.returncode != 0 or not made.is_file():
        raise SystemExit("build_extension: making the Pyodide snapshot failed")
    data = made.read_bytes()
    SNAPSHOT_CACHE.mkdir(parents=True, exist_ok=True)
    for old in SNAPSHOT_CACHE.glob("*.bin"):
        old.unlink()
    cached.write_bytes(data)
    return data


def build(
    out: Path, trust: Path | None = None, preload: Path | None = None, snapshot: bool = True
) -> Path:
    started = time.perf_counter()
    if not (SRC / "manifest.json").is_file():
        raise SystemExit(f"build_extension: no extension sources in {SRC}")
    missing = [f for f in PYODIDE_FILES if not (PYODIDE_DIR / f).is_file()]
    if missing:
        raise SystemExit(
            f"build_extension: Pyodide is missing from {PYODIDE_DIR} ({', '.join(missing)}): "
            "run `npm ci` (or bash scripts/setup.sh)"
        )
    out.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()
    changed = 0

    _log(f"extension sources from {SRC.relative_to(REPO_ROOT)}")
    for path in sorted(SRC.rglob("*")):
        if path.is_file():
            changed += _put(out / path.relative_to(SRC), path.read_bytes(), written)

    _log(f"Pyodide runtime from {PYODIDE_DIR.relative_to(REPO_ROOT)}")
    for name in PYODIDE_FILES:
        changed += _put(out / "pyodide" / name, (PYODIDE_DIR / name).read_bytes(), written)

    _log("wheels (scripts/fetch_wheels.py)")
    fetch_wheels = _load_fetch_wheels()
    with tempfile.TemporaryDirectory(prefix="waict-ext-wheels-") as tmp:
        cache = REPO_ROOT / "build" / "wheels"
        cache.mkdir(parents=True, exist_ok=True)
        # reuse the downloaded dependency wheels; the project wheel is rebuilt every time
        for whl in cache.glob("*.whl"):
            shutil.copy2(whl, Path(tmp) / whl.name)
        try:
            wheels = fetch_wheels.collect_wheels(Path(tmp))
        except fetch_wheels.FetchError as exc:
            raise SystemExit(f"build_extension: {exc}") from None
        names = []
        for whl in wheels:
            names.append(whl.name)
            changed += _put(out / "wheels" / whl.name, whl.read_bytes(), written)
    changed += _put(
        out / "wheels" / "wheels.json", (json.dumps(names, indent=1) + "\n").encode(), written
    )

    if trust is not None:
        data = trust.read_bytes()
        _validate_trust(data, str(trust))
        _log(f"trust.json from {trust}")
    else:
        data = (json.dumps(DEFAULT_TRUST, indent=2) + "\n").encode()
        _log("trust.json: default (nothing trusted; pass --trust FILE)")
    changed += _put(out / "trust.json", data, written)
    if preload is not None:
        _log(f"preload.waict from {preload}")
        changed += _put(out / "preload.waict", preload.read_bytes(), written)

    if snapshot:
        data = _snapshot(out)
        if data is not None:
            changed += _put(out / "pyodide" / "snapshot.bin", data, written)

    removed = 0
    for path in sorted(out.rglob("*"), reverse=True):
        if path.is_file() and path not in written:
            path.unlink()
            removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    _log(
        f"{out}: {len(written)} files ({size / 1e6:.1f} MB), {changed} written, "
        f"{removed} removed, in {time.perf_counter() - started:.1f} s"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--trust", type=Path, help="trust.json to ship (default: trust nothing)")
    parser.add_argument("--preload", type=Path, help="preload response body to ship")
    parser.add_argument(
        "--no-snapshot", action="store_true", help="leave out the Pyodide memory snapshot"
    )
    args = parser.parse_args(argv)
    build(args.out.resolve(), args.trust, args.preload, snapshot=not args.no_snapshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
