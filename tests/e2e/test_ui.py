"""What a person sees: the popup, the block page and the options page of the real extension.

The popup is opened as an extension page for a given tab (``popup.html?tab=<id>``); the
block page is the one the extension navigates a blocked tab to; the options page saves
only what Python (``verifier.browser.validate_settings``) accepts. Screenshots go to
``test-artifacts/`` (``popup-*.png``, ``block-page-*.png``, ``options*.png``).

The first tests need no browser: every reason and detail code the verifier can produce
has plain words in ``verifier.browser.EXPLANATIONS`` (the one table).
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sites
from harness import REPO_ROOT, Browser, screenshot, wait_settled
from playwright.sync_api import expect
from world import h64u

from verifier import browser, check
from verifier.browser import bounds
from verifier.decide import INVALID_MANIFEST, INVALID_TRANSPARENCY_PROOF, MANIFEST_UNAVAILABLE

BLOCK_PAGE = re.compile(r"^chrome-extension://[a-p]{32}/block\.html\?")
CODE_RE = re.compile(r"""detail\s*=\s*"([a-z0-9_]+)"|_invalid\(\s*\w+,\s*"([a-z0-9_]+)\"""")


# --- plain words (no browser) -----------------------------------------------------------


def verifier_codes() -> set[str]:
    """Every detail code written in the verifier's source, and the spec reasons."""
    codes: set[str] = set()
    for path in (REPO_ROOT / "verifier").rglob("*.py"):
        for match in CODE_RE.finditer(path.read_text()):
            codes.update(g for g in match.groups() if g)
    codes |= {
        MANIFEST_UNAVAILABLE,
        INVALID_MANIFEST,
        INVALID_TRANSPARENCY_PROOF,
        check.MISSING_FROM_MANIFEST,
        check.NO_MANIFEST_MATCH,
        check.WASM_HASH_MISMATCH,
    }
    return codes


def test_every_reason_and_detail_code_has_plain_words() -> None:
    codes = verifier_codes()
    assert {"quorum_not_met", "tree_proof_failed", "dev_ids_cooldown", "malformed_proof"} <= codes
    # and the codes the extension itself uses
    codes |= {"internal_error", "no_verdict", "plugin_veto", "storage_full"}
    codes |= {detail for detail, _message in bounds.FETCH_FAILURES.values()}
    missing = sorted(c for c in codes if c not in browser.EXPLANATIONS)
    assert missing == []
    for code in codes:
        text, action = browser.EXPLANATIONS[code]
        assert text.endswith(".") and action.endswith("."), code
        assert "_" not in text, f"{code}: plain words, not codes"


def test_explain_prefers_the_detail_and_reads_plugin_vetoes() -> None:
    out = browser.explain("invalid_manifest", "stale_cosignature")
    assert out is not None and out["code"] == "stale_cosignature"
    assert out["text"] == browser.EXPLANATIONS["stale_cosignature"][0]
    veto = browser.explain("invalid_manifest", "plugin_veto:abcdefghijklmnopabcdefghijklmnop")
    assert veto is not None and veto["text"] == browser.EXPLANATIONS["plugin_veto"][0]
    assert browser.explain("no_manifest_match")["code"] == "no_manifest_match"  # type: ignore[index]
    assert browser.explain(None, None) is None
    newer = browser.explain("invalid_manifest", "something_new")  # the reason's words
    assert newer is not None and newer["text"] == browser.EXPLANATIONS["invalid_manifest"][0]
    unknown = browser.explain("something_else", "something_new")  # still words, fail closed
    assert unknown is not None and unknown["code"] == "something_new"
    assert "stopped it to be safe" in unknown["text"]
    table = json.loads(browser.explanations("{}"))["codes"]
    assert table["quorum_not_met"]["text"] == browser.EXPLANATIONS["quorum_not_met"][0]


# --- helpers ----------------------------------------------------------------------------


def visit(env: Browser, label: str) -> Any:
    page = env.new_page()
    page.goto(env.fixture.url(label), wait_until="load")
    wait_settled(page)
    return page


def visit_blocked(env: Browser, label: str) -> tuple[Any, list[str]]:
    """The tab once it shows the block page, and every URL its main frame committed."""
    page = env.new_page()
    committed: list[str] = []
    page.on("framenavigated", lambda f: committed.append(f.url) if f == page.main_frame else None)
    with contextlib.suppress(Exception):
        page.goto(env.fixture.url(label), wait_until="load")
    expect(page).to_have_url(BLOCK_PAGE, timeout=15000)
    page.wait_for_load_state("load")
    expect(page.locator("#detail")).not_to_have_text("", timeout=5000)
    return page, committed


def popup(env: Browser, page: Any) -> Any:
    view = env.extension_page(f"popup.html?tab={env.tab_id(page)}")
    view.set_viewport_size({"width": 520, "height": 560})
    expect(view.locator("body[data-status]")).to_have_count(1, timeout=10000)
    return view


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def manifest_hash(env: Browser, label: str) -> str:
    response = env.fixture.sites[label].manifest_response
    assert response is not None
    return "sha256-" + h64u(response.split(b"\n")[0])


# --- the popup --------------------------------------------------------------------------


def test_popup_of_a_verified_site(browser_env: Browser) -> None:
    env = browser_env
    page = visit(env, "valid")
    view = popup(env, page)
    screenshot(view, "popup-verified")
    assert text(view, "#status") == "Verified"
    assert text(view, "#site") == f"valid.{sites.DOMAIN}:{env.fixture.port}"
    assert text(view, "#manifest") == "valid"
    assert text(view, "#manifest-url") == env.fixture.url("valid", sites.MANIFEST_PATH)
    assert text(view, "#manifest-hash") == manifest_hash(env, "valid")
    assert text(view, "#ts") == "ts.waict.test"
    assert re.fullmatch(
        r"position 0, logged \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(1 h ago\)",
        text(view, "#log-entry"),
    ), text(view, "#log-entry")
    assert re.fullmatch(
        r"w1\.example: cosigned \d+ min ago; w2\.example: cosigned \d+ min ago",
        text(view, "#witnesses"),
    ), text(view, "#witnesses")
    assert text(view, "#preload").startswith("not listed; list issued 24 h ago, 2 hosts")
    assert text(view, "#mode") == "enforce, max-age 1 h"
    assert view.locator("#resources").is_hidden()
    view.close()
    page.close()


def test_popup_of_a_report_only_site_lists_what_failed(browser_env: Browser) -> None:
    env = browser_env
    page = visit(env, "report")
    view = popup(env, page)
    screenshot(view, "popup-report-only")
    assert text(view, "#status") == "Report-only"
    assert "still runs" in text(view, "#summary")
    items = view.locator("#resource-list li").all_inner_texts()
    app = env.fixture.url("report", "/app.js")
    assert len(items) == 1
    assert items[0].startswith(f"Reported script {app}: no_manifest_match")
    assert browser.EXPLANATIONS["no_manifest_match"][0] in items[0]
    view.close()
    page.close()


def test_popup_of_a_site_with_a_blocked_script(browser_env: Browser) -> None:
    env = browser_env
    page = visit(env, "t-script")
    view = popup(env, page)
    screenshot(view, "popup-blocked-script")
    assert text(view, "#status") == "Verified"  # the manifest and the page are fine ...
    items = view.locator("#resource-list li").all_inner_texts()  # ... one script is not
    assert text(view, "#resources-title") == "Blocked resources (1)"
    assert items[0].startswith(f"Blocked script {env.fixture.url('t-script', '/app.js')}")
    view.close()
    page.close()


def test_popup_of_a_blocked_site(browser_env: Browser) -> None:
    env = browser_env
    page, _ = visit_blocked(env, "m-untrusted")
    view = popup(env, page)
    screenshot(view, "popup-blocked")
    assert text(view, "#status") == "Blocked"
    assert text(view, "#manifest") == "invalid: invalid_manifest (quorum_not_met)"
    assert text(view, "#why").startswith(browser.EXPLANATIONS["quorum_not_met"][0])
    assert text(view, "#manifest-hash") == manifest_hash(env, "m-untrusted")
    assert text(view, "#message") == "0 of the 1 required trusted witnesses cosigned this root"
    view.close()
    page.close()


def test_popup_shows_developer_ids_and_when_they_were_committed(browser_env: Browser) -> None:
    env = browser_env
    page = visit(env, "d-signed")  # no plugin in this browser: dev-sigs are not checked
    view = popup(env, page)
    screenshot(view, "popup-dev-ids")
    assert text(view, "#status") == "Verified"
    assert text(view, "#dev-ids") == f"{sites.DEV_ID}; committed 2 days ago"
    view.close()
    page.close()


def test_popup_without_a_verdict(browser_env: Browser) -> None:
    env = browser_env
    page = env.new_page()
    view = env.extension_page(f"popup.html?tab={env.tab_id(page)}")
    expect(view.locator("#status")).to_have_text("No WAICT verdict for this tab")
    view.close()
    page.close()


# --- the block page ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "reason", "detail"),
    [
        ("m-untrusted", "invalid_manifest", "quorum_not_met"),
        ("m-stale", "invalid_manifest", "stale_cosignature"),
        ("t-document", "no_manifest_match", ""),
    ],
)
def test_block_page_names_the_site_the_reason_and_what_to_do(
    browser_env: Browser, label: str, reason: str, detail: str
) -> None:
    env = browser_env
    page, committed = visit_blocked(env, label)
    screenshot(page, f"block-page-{label}")
    host = f"{label}.{sites.DOMAIN}:{env.fixture.port}"
    words, action = browser.EXPLANATIONS[detail or reason]
    assert text(page, "h1") == f"WAICT blocked {host}"
    assert text(page, "#text") == words
    assert text(page, "#action") == action
    assert text(page, "#reason") == reason
    assert text(page, "#detail") == (detail or "—")
    assert text(page, "#url") == env.fixture.url(label)
    assert text(page, "#message") not in ("", "—")
    # what the user can do; no way past the block
    assert page.locator(".buttons .button").all_inner_texts() == [
        "Try again",
        "Go back",
        "WAICT options",
    ]
    assert page.locator("#retry").get_attribute("href") == env.fixture.url(label)
    assert "no way to open this page anyway" in text(page, "#nobypass")
    # rendered once: Chromium's error page never committed before the block page (that
    # swap is what showed the block page twice in a screenshot)
    assert page.locator("h1").count() == 1
    assert [u for u in committed if u.startswith("chrome-error://")] == []
    page.close()


# --- the options page -------------------------------------------------------------------


def stored_settings(env: Browser) -> Any:
    return env.sw.evaluate("chrome.storage.local.get('settings').then((r) => r.settings || null)")


def reset_settings(env: Browser) -> None:
    env.sw.evaluate(
        """async () => {
            await chrome.storage.local.remove('settings');
            await waict.py.runPython('from verifier import browser\\nbrowser.clear_cache()');
        }"""
    )


@pytest.fixture
def options(browser_env: Browser) -> Any:
    reset_settings(browser_env)
    page = browser_env.extension_page("options.html")
    page.set_viewport_size({"width": 900, "height": 1300})
    expect(page.locator("#source")).not_to_have_text("", timeout=15000)
    try:
        yield page
    finally:
        page.close()
        reset_settings(browser_env)  # the other tests use the shipped trust settings


def save(page: Any) -> str:
    page.locator("#msg").evaluate("(el) => { el.textContent = ''; el.className = ''; }")
    page.click("#save")
    expect(page.locator("#msg")).not_to_have_text("", timeout=15000)
    return text(page, "#msg")


def test_options_show_the_shipped_trust_settings(browser_env: Browser, options: Any) -> None:
    page = options
    screenshot(page, "options")
    trust = browser_env.fixture.trust
    assert page.input_value("#ts") == "ts.waict.test"
    names = [x.input_value() for x in page.locator("tr.witness .w-name").all()]
    keys = [x.input_value() for x in page.locator("tr.witness .w-key").all()]
    assert names == [w["name"] for w in trust["witnesses"]]
    assert keys == [w["key"] for w in trust["witnesses"]]
    assert page.input_value("#quorum") == "1"
    assert page.input_value("#max_cosignature_age") == "604800"
    assert page.input_value("#max_future_skew") == "600"
    assert page.input_value("#cooldown") == "86400"
    assert page.input_value("#preload_domain") == sites.PRELOAD_DOMAIN
    assert page.is_checked("input[name=preload_source][value=default]")
    assert "a list for 2 host(s) proven by preload.waict.test" in text(page, "#preload_summary")
    assert "Showing the settings shipped with the extension." in text(page, "#source")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("#quorum", "0", "trust: quorum must be at least 1"),
        ("#quorum", "two", "trust: quorum must be a non-negative integer"),
        ("#cooldown", "-5", "trust: cooldown must be a non-negative integer"),
        ("tr.witness >> nth=0 >> .w-key", "not-a-key", "trust: key of witness w1.example"),
        ("#preload_domain", "not a host", "trust: preload_domain 'not a host' is not a host name"),
    ],
)
def test_an_invalid_option_is_refused_and_nothing_is_saved(
    browser_env: Browser, options: Any, field: str, value: str, message: str
) -> None:
    page = options
    page.fill(field, value)
    shown = save(page)
    assert shown.startswith("Not saved: ")
    assert message in shown
    assert page.locator("#msg.error").count() == 1
    if field == "#quorum":
        screenshot(page, "options-invalid")
        assert page.locator("#quorum.invalid").count() == 1
    assert stored_settings(browser_env) is None


def test_an_invalid_preload_file_is_refused(browser_env: Browser, options: Any) -> None:
    page = options
    page.set_input_files(
        "#preload_file",
        files=[{"name": "preload.waict", "mimeType": "text/plain", "buffer": b'{"version":1}\n\n'}],
    )
    # the page reads the file before it selects "upload"
    expect(page.locator("input[name=preload_source][value=upload]")).to_be_checked()
    shown = save(page)
    assert shown.startswith("Not saved: the preload list does not verify")
    assert stored_settings(browser_env) is None


def test_valid_options_are_saved_and_can_be_reset(browser_env: Browser, options: Any) -> None:
    env = browser_env
    page = options
    page.fill("#cooldown", "90000")
    page.set_input_files(
        "#preload_file",
        files=[{"name": "preload.waict", "mimeType": "text/plain", "buffer": env.fixture.preload}],
    )
    shown = save(page)
    assert shown.startswith("Saved."), shown
    stored = stored_settings(env)
    assert stored["trust"]["cooldown"] == 90000
    assert stored["preload_source"] == "upload"
    assert "Showing your saved settings." in text(page, "#source")
    assert "2 host(s)" in text(page, "#preload_summary")
    # the uploaded list must verify under the new trust settings: refused
    page.fill("#quorum", "3")
    shown = save(page)
    assert shown.startswith("Not saved: the preload list does not verify under these trust")
    assert stored_settings(env)["trust"]["quorum"] == 1
    # with the bundled list the same settings are saved, with warnings
    page.check("input[name=preload_source][value=default]")
    shown = save(page)
    assert shown.startswith("Saved."), shown
    assert "the quorum (3) is larger than the number of trusted witnesses (2)" in shown
    assert "the bundled preload list will not be used" in shown
    screenshot(page, "options-saved-with-warnings")
    page.click("#reset")
    expect(page.locator("#msg")).to_have_text("The shipped defaults are in use again.")
    assert stored_settings(env) is None
    assert page.input_value("#cooldown") == "86400"


def test_extension_pages_are_in_the_build(browser_env: Browser) -> None:
    for name in ("popup.html", "block.html", "options.html", "ui.css"):
        assert (Path(browser_env.ext_dir) / name).is_file()
