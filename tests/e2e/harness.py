"""Browser end-to-end harness: Chromium, the built extension, page observations.

One session: a :class:`server.FixtureServer` on a free loopback port serving every site of
:func:`sites.build` (built at the real clock, so the cosignatures are fresh), the extension
built by ``scripts/build_extension.py`` into a temporary folder with a ``trust.json`` made
from the World's witness keys and the World's ``preload.waict``, and Debian's Chromium
(headless, fresh profile) with the extension loaded. Test host names are mapped to
127.0.0.1 with ``--host-resolver-rules``; the http test origins are treated as secure
(``--unsafely-treat-insecure-origin-as-secure``) so Chromium sends ``Sec-Fetch-Dest`` and
allows shared and service workers there.

Needs ``bash scripts/setup.sh`` (chromium, playwright, node_modules, wheels). Missing
pieces FAIL the browser tests with the command to run; they are never skipped. The glue
tests (``test_browser_glue.py``) need none of this.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sites
from server import FixtureServer

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SETUP_HINT = "run `bash scripts/setup.sh` from the repository root"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
QUIET_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
]


def chromium_path() -> str | None:
    env = os.environ.get("WAICT_CHROMIUM")
    if env:
        return env
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def load_build_extension() -> Any:
    path = REPO_ROOT / "scripts" / "build_extension.py"
    spec = importlib.util.spec_from_file_location("waict_build_extension", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def chromium_args(ext: Path, origins: list[str]) -> list[str]:
    return [
        *QUIET_FLAGS,
        f"--disable-extensions-except={ext}",
        f"--load-extension={ext}",
        f"--host-resolver-rules=MAP *.{sites.DOMAIN} 127.0.0.1",
        "--unsafely-treat-insecure-origin-as-secure=" + ",".join(origins),
    ]


@dataclass
class Browser:
    context: Any
    server: FixtureServer
    fixture: sites.Fixture
    ext_dir: Path
    extension_id: str

    @property
    def sw(self) -> Any:
        """The extension's service worker (waits for it when it is restarting)."""
        for worker in self.context.service_workers:
            if worker.url.startswith(f"chrome-extension://{self.extension_id}/"):
                return worker
        return self.context.wait_for_event("serviceworker", timeout=30000)

    def new_page(self) -> Any:
        """A new tab, once the extension has gated it (attached its debugger)."""
        page = self.context.new_page()
        self.sw.evaluate("waict.whenAllTabsGated()")
        return page


def markers(page: Any) -> set[str]:
    names = page.evaluate(
        "[...document.documentElement.attributes].map(a => a.name)"
        ".filter(n => n.startsWith('data-m-')).map(n => n.slice(7))"
    )
    return set(names)


def wait_settled(page: Any, timeout: float = 15000) -> set[str]:
    """Wait until the fixture page's script finished its asynchronous work (or never ran)."""
    groups = [list(g) for g in sites.SETTLED]
    page.wait_for_function(
        """(groups) => {
            const el = document.documentElement;
            if (document.readyState !== 'complete') return false;
            if (!el.hasAttribute('data-m-script')) return true;  // app.js did not run
            return groups.every(g => g.some(n => el.hasAttribute('data-m-' + n)));
        }""",
        arg=groups,
        timeout=timeout,
    )
    return markers(page)


def screenshot(page: Any, name: str) -> None:
    with contextlib.suppress(Exception):  # an artifact is nice to have, never a failure
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
