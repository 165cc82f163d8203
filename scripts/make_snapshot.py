#!/usr/bin/env python3
"""Make the extension's Pyodide memory snapshot at build time, in headless Chromium.

``build_extension.py`` runs this on a built extension folder (without its snapshot): a
headless Chromium loads the extension, and its service worker makes the snapshot
(``makeSnapshot`` in ``extension/src/python.js``: a fresh Pyodide, the wheels extracted
with zipfile, every module imported, ``makeMemorySnapshot``). It is made in the browser,
not in Node, because Python records the runtime's WebAssembly features at start-up (JSPI
for ``pyodide.ffi.run_sync``, the wasm call trampoline) and a restored snapshot keeps that
record: one made in Node 20 restores a worker that cannot block on WebCrypto.

The file is sparse (43 % of a fresh Python's memory is zero pages, and reading the file
is most of a restore): ``WAICTSS1``, the memory size, the page size and the page count
(uint32 little-endian), a bitmap of the pages that are not all zero (bit ``i % 8`` of byte
``i // 8``), then those pages in order (the last one may be short). ``python.js`` expands it.

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

from waict.demo.chromium import chromium_path  # noqa: E402

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


MAGIC = b"WAICTSS1"
PAGE = 4096


def sparse(memory: bytes) -> bytes:
    """The sparse form of a memory image (module doc)."""
    count = (len(memory) + PAGE - 1) // PAGE
    bitmap = bytearray((count + 7) // 8)
    pages = []
    for i in range(count):
        page = memory[i * PAGE : (i + 1) * PAGE]
        if any(page):
            bitmap[i // 8] |= 1 << (i % 8)
            pages.append(page)
    header = MAGIC + b"".join(n.to_bytes(4, "little") for n in (len(memory), PAGE, count))
    return header + bytes(bitmap) + b"".join(pages)


def expand(data: bytes) -> bytes:
    """The memory image of a sparse file (what python.js does; for the tests)."""
    if data[:8] != MAGIC:
        raise ValueError("not a sparse snapshot")
    size, page, count = (int.from_bytes(data[8 + 4 * i : 12 + 4 * i], "little") for i in range(3))
    bitmap = data[20 : 20 + (count + 7) // 8]
    out = bytearray(size)
    at = 20 + len(bitmap)
    for i in range(count):
        if bitmap[i // 8] >> (i % 8) & 1:
            n = min(page, size - i * page)
            out[i * page : i * page + n] = data[at : at + n]
            at += n
    return bytes(out)


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
    packed = sparse(data)
    if expand(packed) != data:
        raise RuntimeError("the sparse snapshot does not expand to the memory image")
    target.write_bytes(packed)
    print(
        f"make_snapshot: {target} ({len(packed) / 1e6:.1f} MB sparse) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
