"""The extension in Chromium against the fixture sites (see conftest.py and sites.py).

Each fixture page marks what ran (``data-m-<name>`` on ``<html>``); the tests wait until
the page settled (its script finished or never ran) and compare the markers.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import sites
from harness import Browser, markers, screenshot, wait_settled
from playwright.sync_api import expect

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
BLOCK_PAGE = re.compile(r"^chrome-extension://[a-p]{32}/block\.html\?")


def visit(env: Browser, label: str, page: Any = None) -> tuple[Any, set[str]]:
    page = page or env.new_page()
    page.goto(env.fixture.url(label), wait_until="load")
    return page, wait_settled(page)


def visit_blocked(env: Browser, label: str, page: Any = None) -> Any:
    """Navigate to a page the extension blocks; return the tab once it shows the block page."""
    page = page or env.new_page()
    # the navigation fails: net::ERR_BLOCKED_BY_CLIENT, or ERR_ABORTED by the block page
    with contextlib.suppress(Exception):
        page.goto(env.fixture.url(label), wait_until="load")
    expect(page).to_have_url(BLOCK_PAGE, timeout=15000)
    page.wait_for_load_state("load")
    return page


def badge(env: Browser, page: Any) -> str:
    return str(
        env.sw.evaluate(
            """async (url) => {
                const tabs = await chrome.tabs.query({});
                const tab = tabs.find((t) => t.url === url);
                return tab ? chrome.action.getBadgeText({ tabId: tab.id }) : '?';
            }""",
            page.url,
        )
    )


def violations(env: Browser, label: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.sw.evaluate("waict.violations")
    prefix = env.fixture.origin(label)
    return [v for v in found if v["url"].startswith(prefix)]


# --- a valid site -----------------------------------------------------------------------


def test_valid_site_loads_fully_and_nothing_is_blocked(browser_env: Browser) -> None:
    page, seen = visit(browser_env, "valid")
    screenshot(page, "valid")
    assert seen == sites.ALL_MARKERS
    assert violations(browser_env, "valid") == []
    assert badge(browser_env, page) == "✓"
    status = browser_env.sw.evaluate(
        """async (url) => {
            const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
            return waict.tabStatus(tab.id);
        }""",
        page.url,
    )
    assert status["badge"] == "verified"
    assert status["info"]["ts"] == "ts.waict.test"
    assert [w["name"] for w in status["info"]["witnesses"]] == ["w1.example", "w2.example"]
    page.close()


def test_plain_site_is_not_enrolled_and_untouched(browser_env: Browser) -> None:
    page, seen = visit(browser_env, "plain")
    # no WAICT: no CSP (eval works), no WebAssembly guard
    assert seen == sites.UNGUARDED_MARKERS
    assert badge(browser_env, page) == ""
    page.close()


# --- tampered assets --------------------------------------------------------------------

#: tamper case -> (markers that must be missing, markers that must be there instead)
TAMPER_EXPECTATIONS: dict[str, tuple[set[str], set[str]]] = {
    "t-script": (sites.ALL_MARKERS - {"inline", "iframe"}, set()),
    "t-style": ({"style"}, {"style-missing"}),
    "t-worker": ({"worker"}, {"worker-error"}),
    "t-sharedworker": ({"sharedworker"}, {"sharedworker-error"}),
    "t-wasm": ({"wasm"}, {"wasm-error"}),
    "t-iframe": ({"iframe"}, set()),
    "t-image": ({"image"}, {"image-error"}),
    "t-inline": (set(), set()),
}


@pytest.mark.parametrize("label", sorted(TAMPER_EXPECTATIONS))
def test_a_tampered_asset_is_blocked_and_the_rest_loads(browser_env: Browser, label: str) -> None:
    missing, instead = TAMPER_EXPECTATIONS[label]
    page, seen = visit(browser_env, label)
    screenshot(page, label)
    assert "evil" not in seen and "evil-inline" not in seen
    assert seen == (sites.ALL_MARKERS - missing) | instead
    path = sites.TAMPERS[label][0]
    if label != "t-inline":
        blocked = violations(browser_env, label)
        assert [(v["url"], v["allowed"]) for v in blocked] == [
            (browser_env.fixture.url(label, path), False)
        ]
    page.close()


def test_a_tampered_document_gets_the_block_page(browser_env: Browser) -> None:
    page = visit_blocked(browser_env, "t-document")
    screenshot(page, "t-document-block-page")
    assert "no_manifest_match" in page.inner_text("body")
    assert browser_env.server.requested("t-document").count("/app.js") == 0
    page.close()


# --- manifest-level failures ------------------------------------------------------------


@pytest.mark.parametrize(("label", "detail"), sorted(sites.MANIFEST_FAILURES.items()))
def test_manifest_level_failure_shows_the_block_page(
    browser_env: Browser, label: str, detail: str
) -> None:
    page = visit_blocked(browser_env, label)
    screenshot(page, f"{label}-block-page")
    text = page.inner_text("body")
    assert detail in text
    assert "invalid_manifest" in text or "invalid_transparency_proof" in text
    assert page.title().startswith("Blocked by WAICT")
    # nothing of the site ran or was even fetched beyond the document and its manifest
    assert set(browser_env.server.requested(label)) <= {"/", sites.MANIFEST_PATH}
    page.close()


# --- report mode --------------------------------------------------------------------------


def test_report_mode_loads_everything_and_reports(browser_env: Browser) -> None:
    page, seen = visit(browser_env, "report")
    # report mode: the CSP is report-only and the wasm guard only logs
    assert seen == sites.UNGUARDED_MARKERS | {"evil"}
    reported = violations(browser_env, "report")
    assert [(v["url"], v["reason"], v["allowed"]) for v in reported] == [
        (browser_env.fixture.url("report", "/app.js"), "no_manifest_match", True)
    ]
    assert badge(browser_env, page) == "R"
    page.close()


# --- tabs and reloads ---------------------------------------------------------------------


def test_second_tab_and_reload_behave_like_the_first(browser_env: Browser) -> None:
    first, seen_first = visit(browser_env, "valid2")
    second, seen_second = visit(browser_env, "t-script")
    assert seen_first == sites.ALL_MARKERS
    assert seen_second == {"inline", "iframe"}
    for _ in range(2):
        first.reload(wait_until="load")
        second.reload(wait_until="load")
        assert wait_settled(first) == sites.ALL_MARKERS
        assert wait_settled(second) == {"inline", "iframe"}
    blocked = [v for v in violations(browser_env, "t-script") if not v["allowed"]]
    assert len(blocked) >= 3  # the first visit and both reloads
    third = browser_env.new_page()
    third.goto(browser_env.fixture.url("valid2"), wait_until="load")
    assert wait_settled(third) == sites.ALL_MARKERS
    for page in (first, second, third):
        page.close()


def test_a_prefetched_manifest_is_judged_like_a_fetched_one(browser_env: Browser) -> None:
    """sw/manifests.js: once an origin was judged, its next navigation prefetches the
    manifest as it starts; the document's check takes that fetch instead of making its own.
    A valid site stays valid and a tampered one is still caught, with the prefetch used
    (counted), and the server sees as many manifest requests per load as without it."""
    env = browser_env
    labels = ("valid2", "t-style")

    def manifest_requests() -> list[int]:
        return [len(env.server.requested_with(x, sites.MANIFEST_PATH)) for x in labels]

    n0 = manifest_requests()
    valid, seen = visit(env, "valid2")
    tampered, seen_t = visit(env, "t-style")
    assert seen == sites.ALL_MARKERS and "style" not in seen_t
    n1 = manifest_requests()
    before = env.sw.evaluate("({...waict.stats})")
    for _ in range(2):
        valid.reload(wait_until="load")
        tampered.reload(wait_until="load")
        assert wait_settled(valid) == sites.ALL_MARKERS
        assert wait_settled(tampered) == seen_t
    after = env.sw.evaluate("({...waict.stats})")
    assert after["manifestPrefetchUsed"] - before["manifestPrefetchUsed"] >= 4, (before, after)
    n2 = manifest_requests()
    per_load = [b - a for a, b in zip(n0, n1, strict=True)]
    assert all(per_load)
    assert [b - a for a, b in zip(n1, n2, strict=True)] == [2 * n for n in per_load]
    for page in (valid, tampered):
        page.close()


# --- the service worker killed during a navigation -------------------------------------


def _stop_extension_worker(env: Browser, page: Any) -> None:
    cdp = env.context.new_cdp_session(page)
    try:
        cdp.send("ServiceWorker.enable")
        cdp.send("ServiceWorker.stopAllWorkers")
    finally:
        cdp.detach()


def _wait_document_paused(env: Browser, judged_before: int) -> None:
    """Until the worker has the navigation's document response paused (it started judging
    it). The manifest request alone does not say so: a known origin's manifest is
    prefetched as the navigation starts (sw/manifests.js), before the document arrives."""
    deadline = time.monotonic() + 15
    while env.sw.evaluate("waict.stats.navigations") <= judged_before:
        assert time.monotonic() < deadline, "the document never reached the worker"
        time.sleep(0.05)


def test_killed_service_worker_lets_nothing_unverified_run(browser_env: Browser) -> None:
    env = browser_env
    server = env.server
    server.hold("slow")
    page = env.new_page()
    helper = env.new_page()
    env.sw.evaluate("globalThis.__beforeKill = true")
    judged = env.sw.evaluate("waict.stats.navigations")
    page.evaluate("(url) => { location.href = url; }", env.fixture.url("slow"))
    assert server.manifest_requested["slow"].wait(15), "the extension never asked the manifest"
    _wait_document_paused(env, judged)
    _stop_extension_worker(env, helper)
    server.release("slow")
    # the paused document must stay paused: nothing of the site may have been fetched or run
    page.wait_for_timeout(1500)
    assert set(server.requested("slow")) <= {"/", sites.MANIFEST_PATH}
    assert not page.url.startswith(env.fixture.origin("slow")) or markers(page) == set()
    # the next navigation wakes a new worker, which judges everything again
    page.goto(env.fixture.url("slow"), wait_until="load")
    seen = wait_settled(page)
    assert seen == sites.ALL_MARKERS, (
        env.sw.evaluate("waict.logs"),
        env.sw.evaluate("waict.stats"),
        env.sw.evaluate("waict.violations"),
    )
    # a new instance of the worker did it (the old one's globals are gone)
    assert env.sw.evaluate("globalThis.__beforeKill === undefined") is True
    # and the ratchet survived the restart: a tampered site is still blocked
    tampered, seen = visit(env, "t-script", helper)
    assert seen == {"inline", "iframe"}
    page.close()
    tampered.close()


def test_a_tab_left_waiting_by_a_stopped_worker_is_reloaded_by_the_next(
    browser_env: Browser,
) -> None:
    """A document paused by a worker that was then stopped is never released (its event is
    not sent again): the next instance reloads a tab that is still loading and none of
    whose responses it saw (after a grace period), and judges it."""
    env = browser_env
    server = env.server
    server.hold("slow")
    page = env.new_page()
    helper = env.new_page()
    judged = env.sw.evaluate("waict.stats.navigations")
    page.evaluate("(url) => { location.href = url; }", env.fixture.url("slow"))
    assert server.manifest_requested["slow"].wait(15), "the extension never asked the manifest"
    _wait_document_paused(env, judged)
    _stop_extension_worker(env, helper)
    server.release("slow")
    env.context.new_page().close()  # wakes the worker (tabs.onCreated)
    expect(page).to_have_url(env.fixture.url("slow"), timeout=30000)
    assert wait_settled(page, timeout=30000) == sites.ALL_MARKERS
    assert env.sw.evaluate("waict.stats.restartReloads") >= 1
    page.close()
    helper.close()


def test_a_site_nothing_is_known_about_does_not_wait_for_python_after_a_stop(
    browser_env: Browser,
) -> None:
    """The fast path (sw/fast_path.js, verifier/browser/fast_path.py): after the worker was
    stopped, a site with no header, no stored state and no preload entry goes on before
    Python is back; a WAICT site right after is still judged by Python."""
    env = browser_env
    helper = env.new_page()
    page = env.new_page()
    assert env.sw.evaluate("chrome.storage.local.get('fastPathFacts')")["fastPathFacts"]
    _stop_extension_worker(env, helper)
    page.goto(env.fixture.url("plain"), wait_until="load")
    seen = wait_settled(page)
    # not WAICT's business: everything runs, eval and unlisted WebAssembly included
    assert {"script", "eval", "wasm-evil"} <= seen, seen
    stats = env.sw.evaluate("({...waict.stats})")
    timings = env.sw.evaluate("({...waict.timings})")
    assert stats["fastPath"] >= 1, (stats, timings)
    assert badge(env, page) == ""  # no badge: not a WAICT site
    # a tampered WAICT site still waits for Python and is caught
    tampered, seen = visit(env, "t-script", helper)
    assert seen == {"inline", "iframe"}
    page.close()
    tampered.close()


# --- WebCrypto in the browser -------------------------------------------------------------

WEBCRYPTO_RUN = """
import json, time
import js
from verifier.crypto.webcrypto import WebCryptoBackend
from verifier.crypto import backend_by_name
data = json.loads(str(js.globalThis.__waictVectors))
wc = WebCryptoBackend()
pure = backend_by_name("pure")
out = {"available": wc.available, "edge": [], "rfc": []}
for v in data["edge"]:
    key, sig = bytes.fromhex(v["key"]), bytes.fromhex(v["sig"])
    out["edge"].append(wc.verify(key, sig, v["msg"].encode()))
for v in data["rfc"]:
    out["rfc"].append(wc.verify(bytes.fromhex(v["public_key"]), bytes.fromhex(v["signature"]),
                                bytes.fromhex(v["message"])))
out["stats"] = dict(wc.stats)
# all at once (one wait on WebCrypto): the same answers
out["many"] = wc.verify_many(
    [(bytes.fromhex(v["key"]), bytes.fromhex(v["sig"]), v["msg"].encode()) for v in data["edge"]]
)
# WebCrypto alone, without the reference gate: how Chromium itself answers (documentation)
from pyodide.ffi import to_js
raw = []
for v in data["edge"]:
    key, sig, msg = bytes.fromhex(v["key"]), bytes.fromhex(v["sig"]), v["msg"].encode()
    try:
        k = wc._key(key)
    except Exception as exc:
        raw.append("import_error")
        continue
    alg = to_js({"name": "Ed25519"}, dict_converter=js.Object.fromEntries)
    raw.append(bool(wc._run_sync(wc._subtle.verify(alg, k, to_js(sig), to_js(msg)))))
out["raw"] = raw
sample = [v for v in data["rfc"]][:3]
def timeit(backend, n=20):
    t = time.perf_counter()
    for i in range(n):
        v = sample[i % len(sample)]
        backend.verify(bytes.fromhex(v["public_key"]), bytes.fromhex(v["signature"]),
                       bytes.fromhex(v["message"]))
    return (time.perf_counter() - t) * 1000 / n
out["ms_webcrypto"] = timeit(wc)
out["ms_pure"] = timeit(pure, 6)
json.dumps(out)
"""


def test_webcrypto_backend_gives_the_ref10_verdicts_in_the_browser(browser_env: Browser) -> None:
    edge = json.loads((VECTORS / "ed25519" / "ed25519vectors.json").read_text())
    rfc = json.loads((VECTORS / "rfc8032.json").read_text())
    sw = browser_env.sw
    sw.evaluate("(v) => { globalThis.__waictVectors = v; }", json.dumps({"edge": edge, "rfc": rfc}))
    out = json.loads(sw.evaluate("(code) => waict.py.runPython(code)", WEBCRYPTO_RUN))
    assert out["available"] is True, "JSPI (run_sync) is not available in the service worker"
    reject = {"non_canonical_R", "low_order_residue"}
    expected = [not (reject & set(v["flags"] or ())) for v in edge]
    mismatches = [
        v["number"] for v, got, want in zip(edge, out["edge"], expected, strict=True) if got != want
    ]
    assert mismatches == []
    assert out["rfc"] == [True] * len(rfc)
    assert out["many"] == out["edge"]
    assert out["stats"]["webcrypto"] > 300  # the ordinary keys really went to WebCrypto
    raw_diff = [
        (v["number"], got, want)
        for v, got, want in zip(edge, out["raw"], expected, strict=True)
        if got != want
    ]
    print(
        f"\nWebCrypto without the reference gate differs on {len(raw_diff)} vectors: "
        f"{raw_diff[:20]}"
    )
    print(
        f"\nper verify in the service worker: webcrypto {out['ms_webcrypto']:.2f} ms, "
        f"pure {out['ms_pure']:.2f} ms; verdict sources {out['stats']}"
    )


def test_webcrypto_answers_in_the_service_worker_and_no_fallback_is_hidden(
    browser_env: Browser,
) -> None:
    """The extension's own backend (built at start-up, not in a promising call) answers every
    Ed25519 verify of a valid site with WebCrypto; the pure fallback is counted, and 0 here.
    The response bodies are hashed in JavaScript (Python gets digests)."""
    sw = browser_env.sw
    timings = sw.evaluate("waict.py.ready.then(() => waict.timings)")
    # the build's memory snapshot was restored (no plain boot), and WebCrypto still answers
    assert timings["snapshot"] is True, timings
    # forget judged verdicts (a later check re-judges from the stored inputs), zero the counters
    sw.evaluate("waict.py.runPython('from verifier import browser; browser.clear_cache()')")
    before = sw.evaluate("waict.py.cryptoStats(true)")
    assert before["backend"] == "webcrypto"
    js_before = before["js"]["sha256_subtle"]
    page, seen = visit(browser_env, "valid")
    assert seen == sites.ALL_MARKERS
    stats = sw.evaluate("waict.py.cryptoStats()")
    verifies = stats["answered"].get("ed25519_verify", {})
    assert verifies.get("webcrypto", 0) >= 3, stats  # the log's and the witnesses' signatures
    assert verifies.get("pure", 0) == 0, stats
    assert stats["fallback_count"] == 0 and stats["fallbacks"] == {}, stats
    # every subresource body was hashed by crypto.subtle.digest in JavaScript
    assert stats["js"]["sha256_subtle"] - js_before >= 5, stats
    page.close()
