"""The plugin API (design section 6, docs/plugin-api.md) and the dev-sigs plugin.

The first tests run the Python side in CPython: which plugins are asked, and how their
answers become the verdict (a veto, a timeout, an unreachable plugin, a missing answer are
all ``invalid_manifest`` / ``plugin_veto:<id>``). The browser tests use a second Chromium
with the extension and ``plugins/dev-sigs`` loaded side by side (fixture ``plugin_env``):
the plugin reads a tab's verified manifest, approves the correctly signed ``d-signed``
and vetoes ``d-badsig`` (wrong signature) and ``d-nosig`` (no signature), which get the
block page.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sites
from harness import (
    DEV_SIGS_PLUGIN,
    EXTENSION_ID,
    REPO_ROOT,
    Browser,
    PluginBrowser,
    screenshot,
    slow_storage_reads,
    wait_settled,
)
from playwright.sync_api import expect
from world import NOW

from verifier import browser
from verifier.browser.plugins import _pattern_matches
from verifier.devids import dev_sigs_payload

BLOCK_PAGE = re.compile(r"^chrome-extension://[a-p]{32}/block\.html\?")
PLUGIN = "abcdefghijklmnopabcdefghijklmnop"
OTHER = "ponmlkjihgfedcbaponmlkjihgfedcba"


# --- the extension's pinned id ----------------------------------------------------------


def test_the_pinned_extension_id_is_the_one_plugins_use() -> None:
    manifest = json.loads((REPO_ROOT / "extension" / "src" / "manifest.json").read_text())
    digest = hashlib.sha256(base64.b64decode(manifest["key"])).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == EXTENSION_ID
    assert f'WAICT_EXTENSION_IDS = ["{EXTENSION_ID}"]' in (DEV_SIGS_PLUGIN / "sw.js").read_text()
    assert EXTENSION_ID in (REPO_ROOT / "docs" / "plugin-api.md").read_text()


def test_the_loaded_extension_has_the_pinned_id(browser_env: Browser) -> None:
    assert browser_env.extension_id == EXTENSION_ID


# --- Python: registrations and answers (no browser) -------------------------------------


@pytest.fixture(scope="module")
def fx() -> sites.Fixture:
    return sites.build(8080, NOW)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    browser.clear_cache()
    yield
    browser.clear_cache()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def judge(fx: sites.Fixture, label: str, **extra: Any) -> dict[str, Any]:
    site = fx.sites[label]
    assert site.manifest_response is not None
    request = {
        "url": fx.url(label),
        "header": site.header,
        "manifest_response": b64(site.manifest_response),
        "now": NOW,
        "trust": fx.trust,
        "preload": b64(fx.preload),
        "origin_state": None,
        "resources": [
            {"url": fx.url(label), "destination": "document", "body": b64(site.files["/"])}
        ],
        **extra,
    }
    out = json.loads(browser.judge_navigation(json.dumps(request)))
    assert "error" not in out, out
    return out


def regs(*ids: str, patterns: tuple[str, ...] = ("<all_urls>",)) -> list[dict[str, Any]]:
    return [{"id": i, "patterns": list(patterns)} for i in ids]


def expected_payload(fx: sites.Fixture, label: str) -> str:
    response = fx.sites[label].manifest_response
    assert response is not None
    return b64(dev_sigs_payload(json.loads(response.split(b"\n")[0])))


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("<all_urls>", "http://a.example:8080/x", True),
        ("*://*.waict.test/*", "http://d-signed.waict.test:8080/", True),
        ("*://*.waict.test/*", "https://waict.test/", True),
        ("*://*.waict.test/*", "https://evilwaict.test/", False),
        ("https://bank.example/*", "http://bank.example/", False),
        ("https://bank.example/*", "https://bank.example/login", True),
        ("http://host.test:8080/*", "http://host.test:8080/", True),
        ("http://host.test:8080/*", "http://host.test:8081/", False),
        ("http://host.test/*", "http://host.test:8080/", True),
        ("http://host.test:80/*", "http://host.test/", True),
    ],
)
def test_plugin_origin_patterns(pattern: str, url: str, matches: bool) -> None:
    assert _pattern_matches(pattern, url) is matches


def test_a_registration_is_validated() -> None:
    def register(**request: Any) -> dict[str, Any]:
        out = json.loads(browser.plugin_registration(json.dumps(request)))
        assert isinstance(out, dict)
        return out

    ok = register(patterns=["https://b.example/*", "<all_urls>", "<all_urls>"], timeout_ms=99999)
    assert ok == {
        "ok": True,
        "patterns": ["<all_urls>", "https://b.example/*"],
        "timeout_ms": 10000,
    }
    assert register(patterns=["<all_urls>"])["timeout_ms"] == browser.PLUGIN_TIMEOUT_DEFAULT_MS
    assert register(patterns=["<all_urls>"], timeout_ms=1)["timeout_ms"] == 100
    assert register(patterns=[])["ok"] is False
    bad = register(patterns=["https://bank.example/login*"])
    assert bad["ok"] is False and "not an origin pattern" in bad["error"]
    assert register(patterns=["<all_urls>"], timeout_ms="soon")["ok"] is False


def test_plugins_are_asked_first_and_nothing_is_released_meanwhile(fx: sites.Fixture) -> None:
    first = judge(fx, "d-signed", registrations=regs(PLUGIN))
    assert first["navigation"] == "pending" and first["key"] is None
    assert first["ask_plugins"] == [PLUGIN]
    view = first["plugin_view"]
    assert view["status"] == "valid"
    assert view["extension_members"] == {sites.EXTENSION_MEMBER[0]: sites.EXTENSION_MEMBER[1]}
    assert view["dev_ids"] == [sites.DEV_ID]
    assert view["dev_sigs_payload"] == expected_payload(fx, "d-signed")
    assert view["dev_ids_proven"] is True
    # a plugin registered for other origins is not asked
    other = judge(fx, "d-signed", registrations=regs(PLUGIN, patterns=("https://x.example/*",)))
    assert other["navigation"] == "allow" and "plugins" not in other["info"]


def test_an_approval_keeps_the_verdict(fx: sites.Fixture) -> None:
    plain = judge(fx, "d-signed")
    out = judge(
        fx,
        "d-signed",
        registrations=regs(PLUGIN),
        plugins=[{"id": PLUGIN, "verdict": "approve", "reason": "1 signature"}],
    )
    assert out["navigation"] == "allow" and out["badge"] == "verified"
    assert out["manifest"] == {"status": "valid", "reason": None, "detail": None}
    assert out["key"] != plain["key"]  # its own verdict (the answers are part of the inputs)
    assert out["info"]["plugins"] == [{"id": PLUGIN, "verdict": "approve", "reason": "1 signature"}]


@pytest.mark.parametrize(
    ("answers", "vetoed_by", "words"),
    [
        ([{"id": PLUGIN, "verdict": "veto", "reason": "bad sig"}], PLUGIN, "vetoed this manifest"),
        ([{"id": PLUGIN, "verdict": "timeout"}], PLUGIN, "did not answer in time"),
        ([{"id": PLUGIN, "verdict": "unreachable"}], PLUGIN, "could not be reached"),
        ([{"id": PLUGIN, "verdict": "maybe"}], PLUGIN, "gave no usable answer"),
        ([], PLUGIN, "gave no usable answer (missing"),
        (
            [{"id": PLUGIN, "verdict": "approve"}, {"id": OTHER, "verdict": "veto"}],
            OTHER,
            "vetoed",
        ),
    ],
)
def test_anything_but_an_approval_is_a_veto(
    fx: sites.Fixture, answers: list[dict[str, Any]], vetoed_by: str, words: str
) -> None:
    out = judge(fx, "d-signed", registrations=regs(PLUGIN, OTHER), plugins=answers)
    assert out["navigation"] == "block" and out["badge"] == "blocked"
    assert out["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": f"plugin_veto:{vetoed_by}",
    }
    assert words in out["info"]["message"]
    assert out["block"]["explanation"]["text"] == browser.EXPLANATIONS["plugin_veto"][0]
    # every covered resource of the vetoed manifest is refused, like an invalid manifest
    check = json.loads(
        browser.check_resource(
            json.dumps(
                {
                    "key": out["key"],
                    "url": fx.url("d-signed", "/app.js"),
                    "destination": "script",
                    "body": b64(fx.sites["d-signed"].files["/app.js"]),
                }
            )
        )
    )
    assert check["allowed"] is False and check["reason"] == "invalid_manifest"
    # the plugin API still shows the verified manifest of a vetoed verdict
    view = json.loads(browser.manifest_view(json.dumps({"key": out["key"]})))
    assert view["detail"] == f"plugin_veto:{vetoed_by}" and view["dev_ids"] == [sites.DEV_ID]


def test_a_veto_in_report_mode_only_reports(fx: sites.Fixture) -> None:
    out = judge(
        fx,
        "r-report",
        registrations=regs(PLUGIN),
        plugins=[{"id": PLUGIN, "verdict": "veto", "reason": "no"}],
    )
    assert out["navigation"] == "allow" and out["badge"] == "report"
    assert out["manifest"]["detail"] == f"plugin_veto:{PLUGIN}"


def test_invalid_manifests_are_not_sent_to_plugins(fx: sites.Fixture) -> None:
    out = judge(fx, "m-untrusted", registrations=regs(PLUGIN))
    assert out["navigation"] == "block" and out["manifest"]["detail"] == "quorum_not_met"


# --- the browser with the dev-sigs plugin ------------------------------------------------


@pytest.fixture(scope="module")
def env(plugin_env: PluginBrowser) -> PluginBrowser:
    """The plugin browser, once the plugin has registered with the extension."""
    registered = plugin_env.plugin_sw.evaluate("devSigs.registered")
    assert registered and registered["ok"], plugin_env.plugin_sw.evaluate("devSigs.state")
    table = plugin_env.sw.evaluate("chrome.storage.local.get('plugins').then((r) => r.plugins)")
    assert table[plugin_env.plugin_id]["patterns"] == ["<all_urls>"]
    return plugin_env


def visit_blocked(env: PluginBrowser, label: str) -> Any:
    page = env.new_page()
    with contextlib.suppress(Exception):
        page.goto(env.fixture.url(label), wait_until="load")
    expect(page).to_have_url(BLOCK_PAGE, timeout=15000)
    expect(page.locator("#detail")).not_to_have_text("", timeout=5000)
    return page


def plugin_decisions(env: PluginBrowser, label: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.plugin_sw.evaluate("devSigs.decisions")
    return [d for d in found if d["url"] == env.fixture.url(label)]


def test_a_correctly_signed_site_loads(env: PluginBrowser) -> None:
    page = env.new_page()
    page.goto(env.fixture.url("d-signed"), wait_until="load")
    assert wait_settled(page) == sites.ALL_MARKERS
    assert [(d["verdict"], d["reason"]) for d in plugin_decisions(env, "d-signed")] == [
        ("approve", "1 developer signature(s) verified")
    ]
    view = env.extension_page(f"popup.html?tab={env.tab_id(page)}")
    view.set_viewport_size({"width": 520, "height": 620})
    expect(view.locator("#plugins")).to_have_text(
        f"{env.plugin_id}: approve (1 developer signature(s) verified)"
    )
    screenshot(view, "popup-plugin-approved")
    view.close()
    page.close()


def test_the_plugin_reads_the_extension_members(env: PluginBrowser) -> None:
    page = env.new_page()
    page.goto(env.fixture.url("d-signed"), wait_until="load")
    wait_settled(page)
    by_tab = env.plugin_sw.evaluate("(tabId) => devSigs.readManifest({ tabId })", env.tab_id(page))
    assert by_tab["ok"] is True, by_tab
    manifest = by_tab["manifest"]
    assert manifest["status"] == "valid"
    assert manifest["url"] == env.fixture.url("d-signed")
    assert manifest["extension_members"] == {sites.EXTENSION_MEMBER[0]: sites.EXTENSION_MEMBER[1]}
    assert manifest["dev_ids"] == [sites.DEV_ID]
    assert [s["id"] for s in manifest["dev_sigs"]] == [sites.DEV_ID]
    assert manifest["dev_sigs_payload"] == expected_payload(env.fixture, "d-signed")
    by_origin = env.plugin_sw.evaluate(
        "(origin) => devSigs.readManifest({ origin })", env.fixture.origin("d-signed")
    )
    assert by_origin["manifest"]["extension_members"] == manifest["extension_members"]
    # a site without WAICT
    plain = env.plugin_sw.evaluate(
        "(origin) => devSigs.readManifest({ origin })", env.fixture.origin("plain")
    )
    assert plain["ok"] is True and plain["manifest"]["status"] == "none"
    page.close()


@pytest.mark.parametrize(
    ("label", "why"),
    [
        ("d-badsig", f"the developer signature of {sites.DEV_ID} does not verify"),
        ("d-nosig", f"no developer signature from {sites.DEV_ID}"),
    ],
)
def test_the_plugin_vetoes_a_bad_developer_signature(
    env: PluginBrowser, label: str, why: str
) -> None:
    page = visit_blocked(env, label)
    screenshot(page, f"block-page-plugin-veto-{label}")
    body = page.inner_text("body")
    assert page.inner_text("#reason") == "invalid_manifest"
    assert page.inner_text("#detail") == f"plugin_veto:{env.plugin_id}"
    assert page.inner_text("#message") == f"plugin {env.plugin_id} vetoed this manifest: {why}"
    assert browser.EXPLANATIONS["plugin_veto"][0] in body
    assert [d["verdict"] for d in plugin_decisions(env, label)] == ["veto"]
    # nothing of the site was fetched beyond the document and its manifest
    assert set(env.server.requested(label)) <= {"/", sites.MANIFEST_PATH}
    page.close()


def test_a_plugin_that_cannot_be_reached_counts_as_a_veto(env: PluginBrowser) -> None:
    ghost = "a" * 32  # registered, but no such extension is installed
    pattern = f"https://valid2.{sites.DOMAIN}:*/*"
    env.sw.evaluate(
        """async ([id, pattern]) => {
            const { plugins = {} } = await chrome.storage.local.get('plugins');
            plugins[id] = { patterns: [pattern], timeout_ms: 500, name: 'ghost' };
            await chrome.storage.local.set({ plugins });
        }""",
        [ghost, pattern],
    )
    try:
        page = visit_blocked(env, "valid2")
        assert page.inner_text("#detail") == f"plugin_veto:{ghost}"
        assert page.inner_text("#message").startswith(
            f"plugin {ghost} could not be reached (counted as a veto)"
        )
        page.close()
    finally:
        env.sw.evaluate(
            """async (id) => {
                const { plugins = {} } = await chrome.storage.local.get('plugins');
                delete plugins[id];
                await chrome.storage.local.set({ plugins });
            }""",
            ghost,
        )
    page = env.new_page()
    page.goto(env.fixture.url("valid2"), wait_until="load")
    assert wait_settled(page) == sites.ALL_MARKERS
    page.close()


def test_the_options_page_lists_the_plugin(env: PluginBrowser) -> None:
    page = env.extension_page("options.html")
    page.set_viewport_size({"width": 900, "height": 1300})
    expect(page.locator("li.plugin")).to_have_count(1, timeout=15000)
    assert page.inner_text("li.plugin").startswith(
        f"WAICT dev-sigs ({env.plugin_id}): <all_urls>, answers within 5000 ms"
    )
    page.close()


def test_concurrent_registrations_are_both_kept(env: PluginBrowser) -> None:
    table = env.sw.evaluate("chrome.storage.local.get('plugins').then((r) => r.plugins)")
    mine = table[env.plugin_id]
    second = env.second_plugin_sw
    second_id = second.url.split("/")[2]
    start = "(message) => { globalThis.__waictAnswer = secondPlugin.send(message); return true; }"
    try:
        with slow_storage_reads(env.sw, "local", "plugins", 1000):
            # the dev-sigs plugin registers again (same patterns) while the second registers
            env.plugin_sw.evaluate(
                """(message) => {
                    globalThis.__waictAnswer = chrome.runtime.sendMessage(
                        'jjjinacfkghmlcgnadipofmhdmcgflbb', message);
                    return true;
                }""",
                {
                    "type": "waict.register",
                    "patterns": mine["patterns"],
                    "timeout_ms": mine["timeout_ms"],
                },
            )
            second.evaluate(
                start,
                {
                    "type": "waict.register",
                    "patterns": [f"https://nothing.{sites.DOMAIN}:*/*"],
                    "timeout_ms": 500,
                },
            )
            assert env.plugin_sw.evaluate("globalThis.__waictAnswer")["ok"] is True
            answer = second.evaluate("globalThis.__waictAnswer")
            assert answer["ok"] is True, answer
        after = env.sw.evaluate("chrome.storage.local.get('plugins').then((r) => r.plugins)")
        assert sorted(after) == sorted([env.plugin_id, second_id])
        assert after[second_id]["patterns"] == [f"https://nothing.{sites.DOMAIN}:*/*"]
        assert after[env.plugin_id]["patterns"] == mine["patterns"]
        # and the dev-sigs plugin's new registration is the one kept (whichever wrote last)
        assert after[env.plugin_id]["since"] > mine["since"]
    finally:
        env.sw.evaluate("(plugins) => chrome.storage.local.set({ plugins })", table)
