"""Read-modify-writes of stored keys that run at the same time lose nothing.

Each race is made certain with :func:`harness.slow_storage_reads` (the reads of one key are
delayed, so concurrent read-modify-writes all read before any writes, as they can by
chance): the tab status's violations, the CSP rules' ids, and the WebAssembly guard's
token when several tabs are gated at the extension's first start (a browser of its own:
the token is removed and the worker stopped with tabs open). Plugin registrations:
``test_plugins.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sites
from harness import (
    Browser,
    chromium_args,
    chromium_path,
    extension_worker,
    slow_storage_reads,
    wait_settled,
)
from test_extension import _stop_extension_worker as stop_extension_worker


def tab_status(env: Browser, page: Any) -> Any:
    return env.sw.evaluate(
        """async (url) => {
            const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
            return tab ? waict.tabStatus(tab.id) : null;
        }""",
        page.url,
    )


def wait_for(predicate: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_concurrent_violations_are_all_recorded(browser_env: Browser) -> None:
    env = browser_env
    page = env.new_page()
    tampered = {env.fixture.url("t-multi", p) for p in ("/app.js", "/style.css", "/img.png")}
    with slow_storage_reads(env.sw, "session", "tab:", 1000):
        page.goto(env.fixture.url("t-multi"), wait_until="load")
        wait_settled(page)

        def blocked() -> set[str]:
            found = env.sw.evaluate("waict.violations")
            return {v["url"] for v in found if v["url"] in tampered and not v["allowed"]}

        assert wait_for(lambda: blocked() == tampered) == True  # noqa: E712
    status = wait_for(lambda: (s := tab_status(env, page)) and len(s["violations"]) >= 3 and s)
    status = tab_status(env, page)
    assert sorted(v["url"] for v in status["violations"]) == sorted(tampered)
    assert status["key"] and status["url"] == env.fixture.url("t-multi")
    page.close()


def test_two_origins_judged_at_once_keep_their_own_csp_rules(browser_env: Browser) -> None:
    env = browser_env
    one, two = env.new_page(), env.new_page()
    labels = ("c-one", "c-two")
    for label in labels:  # both manifests are answered at once: both judged together
        env.server.hold(label)
    try:
        with slow_storage_reads(env.sw, "local", "cspRules", 1000):
            one.evaluate("(url) => { location.href = url; }", env.fixture.url("c-one"))
            two.evaluate("(url) => { location.href = url; }", env.fixture.url("c-two"))
            for label in labels:
                assert env.server.manifest_requested[label].wait(15)
            for label in labels:
                env.server.release(label)
            for page, label in ((one, "c-one"), (two, "c-two")):
                page.wait_for_url(env.fixture.url(label), timeout=15000)
                assert wait_settled(page) == sites.ALL_MARKERS - {"iframe"}
    finally:
        for label in labels:
            env.server.release(label)
    found = env.sw.evaluate(
        """async () => ({
            rules: (await chrome.declarativeNetRequest.getDynamicRules())
                .map((r) => [r.id, r.condition.urlFilter]),
            ids: (await chrome.storage.local.get('cspRules')).cspRules,
        })"""
    )
    ids = found["ids"]
    origins = [env.fixture.origin("c-one"), env.fixture.origin("c-two")]
    assert ids[origins[0]] != ids[origins[1]]
    rules = dict(found["rules"])
    assert rules[ids[origins[0]]] == f"|{origins[0]}/"
    assert rules[ids[origins[1]]] == f"|{origins[1]}/"
    assert len(set(ids.values())) == len(ids)  # no two origins share a rule
    one.close()
    two.close()


# --- the WebAssembly guard at the extension's first start with several tabs -------------


@pytest.fixture(scope="module")
def fresh_env(
    browser_env: Browser, tmp_path_factory: pytest.TempPathFactory, _pw_driver: Any
) -> Iterator[Browser]:
    """A browser of its own (fresh profile), same extension and fixture server."""
    profile = tmp_path_factory.mktemp("e2e-races") / "profile"
    context = _pw_driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_path(),
        headless=True,
        args=chromium_args(browser_env.ext_dir, browser_env.server.tls.spki),
        viewport={"width": 800, "height": 600},
    )
    try:
        sw = extension_worker(context, browser_env.extension_id)
        sw.evaluate("waict.py.ready.then(() => true)")
        yield Browser(
            context,
            browser_env.server,
            browser_env.fixture,
            browser_env.ext_dir,
            browser_env.extension_id,
        )
    finally:
        context.close()


def test_every_tab_gets_the_guard_with_the_live_token_at_first_start(fresh_env: Browser) -> None:
    env = fresh_env
    pages = [env.new_page() for _ in range(4)]
    helper = env.new_page()
    # a first start: no token in this browser session, and a new worker instance (it gates
    # every open tab at once, each registering the guard)
    env.sw.evaluate("chrome.storage.session.remove('guardToken')")
    stop_extension_worker(env, helper)
    # an event wakes the new worker, which gates every open tab at once
    helper.evaluate("(url) => { location.href = url; }", env.fixture.url("plain"))
    env.sw.evaluate("waict.startup.then(() => waict.py.ready).then(() => true)")
    for page in pages:
        page.evaluate("(url) => { location.href = url; }", env.fixture.url("g-valid"))
    for page in pages:
        page.wait_for_url(env.fixture.url("g-valid"), timeout=30000)
        # wasm-evil-blocked: the guard read this document's policy (the live token)
        assert wait_settled(page) == sites.ALL_MARKERS
    assert env.sw.evaluate("chrome.storage.session.get('guardToken').then((r) => r.guardToken)")
    for page in (*pages, helper):
        page.close()
