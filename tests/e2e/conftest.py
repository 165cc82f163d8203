"""Browser end-to-end fixtures: the fixture sites on loopback, the built extension, Chromium.

See ``harness.py`` for the session's set-up (flags, host mapping, trust) and helpers.
Missing pieces FAIL the browser tests with the command to run; they are never skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sites
from harness import (
    ARTIFACTS,
    REPO_ROOT,
    SETUP_HINT,
    Browser,
    chromium_args,
    chromium_path,
    load_build_extension,
)
from server import FixtureServer


@pytest.fixture(scope="session")
def browser_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    exe = chromium_path()
    if exe is None:
        pytest.fail(f"Chromium is not installed: {SETUP_HINT}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {SETUP_HINT}", pytrace=False)
    if not (REPO_ROOT / "node_modules" / "pyodide" / "pyodide.mjs").is_file():
        pytest.fail(f"Pyodide is not installed (node_modules): {SETUP_HINT}", pytrace=False)

    server = FixtureServer()
    fixture = sites.build(server.port, int(time.time()))
    server.start(fixture)
    work = tmp_path_factory.mktemp("e2e")
    (work / "trust.json").write_text(sites.trust_json(fixture))
    (work / "preload.waict").write_bytes(fixture.preload)
    ext = work / "extension"
    load_build_extension().build(ext, work / "trust.json", work / "preload.waict")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(work / "profile"),
            executable_path=exe,
            headless=True,
            args=chromium_args(ext, fixture.origins()),
            viewport={"width": 1000, "height": 700},
        )
        try:
            sw = (
                context.service_workers[0]
                if context.service_workers
                else context.wait_for_event("serviceworker", timeout=30000)
            )
            extension_id = sw.url.split("/")[2]
            sw.evaluate("waict.py.ready.then(() => true)")
            yield Browser(context, server, fixture, ext, extension_id)
        finally:
            context.close()
            server.stop()
