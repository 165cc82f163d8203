#!/usr/bin/env python3
"""Make the extension's Pyodide memory snapshot at build time, in headless Chromium.

``build_extension.py`` runs this on a built extension folder (without its snapshot): a
headless Chromium loads the extension, and its service worker makes the snapshot
(``makeSnapshot`` in ``extension/src/python.js``: a fresh Pyodide, the wheels extracted
with zipfile, every module imported, ``makeMemorySnapshot``). It is made in the browser,
not in Node, because Python records the runtime's WebAssembly features at start-up (JSPI
for ``pyodide.ffi.run_sync``, the wasm call trampoline) and a restored snapshot keeps that
record: one made in Node 20 restores a worker that cannot block on WebCrypto.

Usage: ``python scripts/make_snapshot.py DIST`` (writes ``DIST/pyodide/snapshot.bin``).
Exit status 3 when Chromium or Playwright is missing (the build then goes without).
"""

from __future__ import annotations

import base64
import gzip
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from waict.demo_browser import chromium_path  # noqa: E402

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def make(dist: Path) -> bytes:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("Chromium")
    with tempfile.TemporaryDirectory(prefix="waict-snapshot-") as tmp, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tmp,
            executable_path=exe,
            headless=True,
            args=[
                *FLAGS,
                f"--disable-extensions-except={dist}",
                f"--load-extension={dist}",
            ],
        )
        try:
            sw = (
                ctx.service_workers[0]
                if ctx.service_workers
                else ctx.wait_for_event("serviceworker", timeout=60000)
            )
            out = sw.evaluate("waict.py.makeSnapshot()")
        finally:
            ctx.close()
    data = gzip.decompress(base64.b64decode(out["gzip_b64"]))
    if len(data) != out["size"]:
        raise RuntimeError(f"snapshot size {len(data)} != {out['size']}")
    print(
        f"make_snapshot: {out['modules']} modules imported, {len(data) / 1e6:.1f} MB "
        f"in {out['ms']} ms in the service worker",
        flush=True,
    )
    return data


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make_snapshot.py DIST", file=sys.stderr)
        return 2
    dist = Path(argv[0]).resolve()
    target = dist / "pyodide" / "snapshot.bin"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        data = make(dist)
    except (ImportError, FileNotFoundError) as exc:
        print(f"make_snapshot: cannot run Chromium here ({exc})", file=sys.stderr)
        return 3
    target.write_bytes(data)
    print(f"make_snapshot: {target} in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
