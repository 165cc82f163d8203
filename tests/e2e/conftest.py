"""Browser end-to-end fixtures: the fixture sites on loopback, the built extension, Chromium.

See ``harness.py`` for the session's set-up (flags, host mapping, trust) and helpers.
Missing pieces FAIL the browser tests with the command to run; they are never skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sites
from harness import (
    ARTIFACTS,
    DEV_SIGS_PLUGIN,
    REPO_ROOT,
    SECOND_PLUGIN,
    SETUP_HINT,
    Browser,
    PluginBrowser,
    chromium_args,
    chromium_path,
    extension_worker,
    load_build_extension,
)
from server import FixtureServer


@pytest.fixture(scope="session")
def _pw_driver() -> Iterator[Any]:
    """One Playwright driver for the session (its sync API allows one per thread), shared
    by every browser the e2e fixtures launch."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {SETUP_HINT}", pytrace=False)
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser_env(tmp_path_factory: pytest.TempPathFactory, _pw_driver: Any) -> Iterator[Browser]:
    exe = chromium_path()
    if exe is None:
        pytest.fail(f"Chromium is not installed: {SETUP_HINT}", pytrace=False)
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
    context = _pw_driver.chromium.launch_persistent_context(
        str(work / "profile"),
        executable_path=exe,
        headless=True,
        args=chromium_args(ext, server.tls.spki),
        # Playwright turns the back/forward cache off; Chromium has it on (issue 9 path 3)
        ignore_default_args=["--disable-back-forward-cache"],
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


@pytest.fixture(scope="module")
def plugin_env(
    browser_env: Browser, tmp_path_factory: pytest.TempPathFactory, _pw_driver: Any
) -> Iterator[PluginBrowser]:
    """A second Chromium (fresh profile) with the extension and the dev-sigs plugin, on
    the same fixture server. Its own browser, so the plugin judges no other test's sites."""
    profile = tmp_path_factory.mktemp("e2e-plugin") / "profile"
    context = _pw_driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_path(),
        headless=True,
        args=chromium_args(
            browser_env.ext_dir,
            browser_env.server.tls.spki,
            extra=(DEV_SIGS_PLUGIN, SECOND_PLUGIN),
        ),
        viewport={"width": 1000, "height": 700},
    )
    try:
        sw = extension_worker(context, browser_env.extension_id)
        sw.evaluate("waict.py.ready.then(() => true)")
        plugin = next(
            (
                w
                for w in context.service_workers
                if w.url.startswith("chrome-extension://")
                and w.url.endswith("/sw.js")
                and not w.url.startswith(f"chrome-extension://{browser_env.extension_id}/")
            ),
            None,
        ) or context.wait_for_event(
            "serviceworker",
            predicate=lambda w: (
                w.url.endswith("/sw.js")
                and not w.url.startswith(f"chrome-extension://{browser_env.extension_id}/")
            ),
            timeout=30000,
        )
        yield PluginBrowser(
            context,
            browser_env.server,
            browser_env.fixture,
            browser_env.ext_dir,
            browser_env.extension_id,
            plugin.url.split("/")[2],
        )
    finally:
        context.close()
