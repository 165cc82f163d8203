"""Service workers and shared workers of WAICT sites (see sites.py, ``sw`` and ``SW_TAMPERS``).

A service worker's main script and its imports are fetched by the browser, outside the
tab's own interception: the extension enables Fetch in the service worker's auto-attached
session before the worker starts, and checks every script again right before it runs
(which covers an updated version, whose script comes from the update check's copy). A
shared worker is attached by target id while its main script is paused, so what it
imports is checked too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sites
from harness import Browser, markers


def settle(page: Any, timeout: float = 15000) -> set[str]:
    page.wait_for_function(
        """(groups) => groups.every(
            (g) => g.some((n) => document.documentElement.hasAttribute('data-m-' + n)))""",
        arg=[list(g) for g in sites.SW_SETTLED],
        timeout=timeout,
    )
    return markers(page)


def violations(env: Browser, label: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sw.evaluate("waict.violations")
    prefix = env.fixture.origin(label)
    return [v for v in found if v["url"].startswith(prefix)]


def test_a_valid_service_worker_and_shared_worker_run(browser_env: Browser) -> None:
    page = browser_env.new_page()
    page.goto(browser_env.fixture.url("sw"), wait_until="load")
    assert settle(page) == sites.SW_MARKERS
    assert violations(browser_env, "sw") == []
    # the worker scripts really went through the extension
    requested = browser_env.server.requested("sw")
    assert {"/sw.js", "/sw-import.js", "/shared-imp.js", "/shared-import.js"} <= set(requested)
    page.close()


@pytest.mark.parametrize("label", sorted(sites.SW_TAMPERS))
def test_a_tampered_worker_script_is_blocked(browser_env: Browser, label: str) -> None:
    path, expected = sites.SW_TAMPERS[label]
    page = browser_env.new_page()
    page.goto(browser_env.fixture.url(label), wait_until="load")
    assert settle(page) == expected
    blocked = [(v["url"], v["allowed"]) for v in violations(browser_env, label)]
    assert (browser_env.fixture.url(label, path), False) in blocked
    if label == "t-sharedimport":
        # a reload starts the shared worker again (Chromium reuses its target): still gated
        page.reload(wait_until="load")
        assert settle(page) == expected
    page.close()


def test_an_updated_service_worker_that_was_not_committed_never_runs(
    browser_env: Browser,
) -> None:
    env = browser_env
    page = env.new_page()
    page.goto(env.fixture.url("sw-update"), wait_until="load")
    assert settle(page) == sites.SW_MARKERS
    # the server now serves a changed sw.js (not in the manifest) that would call home
    site = env.fixture.sites["sw-update"]
    original = site.files["/sw.js"]
    site.files["/sw.js"] = original + b"fetch('/evil-ran');\n"
    try:
        outcome = page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.getRegistration();
                try {
                    await Promise.race([reg.update(),
                        new Promise((_, no) => setTimeout(() => no(new Error('timeout')), 8000))]);
                    return 'updated';
                } catch (e) { return String(e); }
            }"""
        )
        # the browser takes the new script from its update check, never through a Fetch
        # session: the extension refuses it right before it runs, so the update fails
        # (what matters most first: the changed script never ran; then the diagnostics of
        # the one full run where the update was answered 'updated', session 4)
        time.sleep(1.5)
        assert "/evil-ran" not in env.server.requested("sw-update"), outcome
        assert "AbortError" in outcome or "TypeError" in outcome, (
            outcome,
            env.server.requested("sw-update"),
            env.sw.evaluate("waict.logs"),
            env.sw.evaluate("({...waict.stats})"),
            violations(env, "sw-update"),
        )
        refused = [v for v in violations(env, "sw-update") if v.get("stage") == "execution"]
        assert [(v["url"], v["reason"], v["allowed"]) for v in refused] == [
            (env.fixture.url("sw-update", "/sw.js"), "no_manifest_match", False)
        ]
        page.close()  # the tab's debugger session goes: the refused worker must stay dead
        time.sleep(1.5)
        assert "/evil-ran" not in env.server.requested("sw-update")
    finally:
        site.files["/sw.js"] = original
