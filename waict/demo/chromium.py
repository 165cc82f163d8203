"""Debian Chromium for the demo and the end-to-end tests: where it is, its flags, and the
extension built with the demo's trust and preload list."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from waict.demo.sites import EcosystemView

REPO_ROOT = Path(__file__).resolve().parents[2]


BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_extension.py"


SETUP_HINT = "run `bash scripts/setup.sh` (or pass --no-browser)"


CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


HOST_RULES = "MAP *.waict.test 127.0.0.1"


#: the same quiet flags as the end-to-end tests (tests/e2e/harness.py)
QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
)


def chromium_path(explicit: str | None = None) -> str | None:
    """``--chromium``, else ``$WAICT_CHROMIUM``, else Debian's Chromium."""
    for candidate in (explicit, os.environ.get("WAICT_CHROMIUM")):
        if candidate:
            return candidate
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def default_headless() -> bool:
    return not os.environ.get("DISPLAY")


def chromium_args(ext: Path, spki: Iterable[str]) -> list[str]:
    """Chromium with the extension, ``*.waict.test`` on 127.0.0.1, and the servers' HTTPS
    trusted by their leaf's key (``spki``: base64 SHA-256 of each SubjectPublicKeyInfo, see
    :func:`waict.common.tls.spki_hash`): no root store change, no insecure-origin flag."""
    return [
        *QUIET_FLAGS,
        f"--disable-extensions-except={ext}",
        f"--load-extension={ext}",
        f"--host-resolver-rules={HOST_RULES}",
        "--ignore-certificate-errors-spki-list=" + ",".join(spki),
    ]


def build_extension(eco: EcosystemView, out: Path, log: Path) -> Path:
    """``scripts/build_extension.py --trust trust.json --preload preload.waict --out out``."""
    if not BUILD_SCRIPT.is_file():
        raise RuntimeError(f"no {BUILD_SCRIPT}: the browser part needs the repository checkout")
    spec = importlib.util.spec_from_file_location("waict_build_extension", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out_log, contextlib.redirect_stdout(out_log):
        try:
            spec.loader.exec_module(module)
            preload = eco.preload_path if eco.preload_path.is_file() else None
            module.build(out, eco.trust_path, preload)
        except SystemExit as exc:  # the script's way of failing
            raise RuntimeError(f"building the extension failed: {exc} (log: {log})") from None
    return out


def browser_pids(profile: Path) -> list[int]:
    """The Chromium browser process(es) running with this profile (Linux ``/proc``)."""
    flag = f"--user-data-dir={profile}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().split(b"\0")
            if flag in args and not any(a.startswith(b"--type=") for a in args):
                found.append(int(entry.name))
    return found
