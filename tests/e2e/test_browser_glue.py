"""``verifier.browser``: the JSON entry points the extension's service worker calls.

Runs in CPython (no browser), so the glue is covered wherever Chromium is missing. The
fixture sites are the ones the browser tests serve (``sites.py``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sites
from world import DAY, NOW

from verifier import browser, decide
from verifier.browser import bounds, cache
from verifier.crypto import backend_by_name
from verifier.crypto.webcrypto import WebCryptoBackend, needs_reference
from verifier.decide import ManifestVerdict
from verifier.manifest import Manifest

PORT = 8080
#: What plan_navigation hands the worker about reading the manifest
BOUNDS = {
    "manifest_max_bytes": bounds.MAX_MANIFEST_BYTES,
    "manifest_deadline_ms": bounds.MANIFEST_DEADLINE_MS,
}
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture(scope="module")
def fx() -> sites.Fixture:
    return sites.build(PORT, NOW)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    browser.clear_cache()
    yield
    browser.clear_cache()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def call(fn: Any, **request: Any) -> dict[str, Any]:
    out = json.loads(fn(json.dumps(request)))
    assert isinstance(out, dict)
    return out


def judge(fx: sites.Fixture, label: str, *, now: int = NOW, **kw: Any) -> dict[str, Any]:
    site = fx.sites[label]
    request: dict[str, Any] = {
        "url": fx.url(label),
        "header": site.header,
        "manifest_response": None
        if site.manifest_response is None
        else b64(site.manifest_response),
        "now": now,
        "trust": fx.trust,
        "preload": b64(fx.preload),
        "origin_state": None,
        "resources": [
            {"url": fx.url(label), "destination": "document", "body": b64(site.files["/"])}
        ],
    }
    request.update(kw)
    return call(browser.judge_navigation, **request)


def check(key: str, url: str, destination: str, body: bytes) -> dict[str, Any]:
    return call(browser.check_resource, key=key, url=url, destination=destination, body=b64(body))


# --- judging navigations ----------------------------------------------------------------


def test_valid_site_is_verified_and_every_asset_passes(fx: sites.Fixture) -> None:
    out = judge(fx, "valid")
    assert out["navigation"] == "allow"
    assert out["manifest"] == {"status": "valid", "reason": None, "detail": None}
    assert out["badge"] == "verified" and out["gated"] and out["enforcing"]
    assert out["resources"] == [{"url": fx.url("valid"), "allowed": True, "reason": None}]
    dests = {
        "/app.js": "script",
        "/style.css": "style",
        "/img.png": "image",
        "/frame.html": "iframe",
        "/worker.js": "worker",
        "/shared.js": "sharedworker",
        "/add.wasm": "wasm",
    }
    for path, dest in dests.items():
        res = check(out["key"], fx.url("valid", path), dest, fx.sites["valid"].files[path])
        assert res == {
            "url": fx.url("valid", path),
            "allowed": True,
            "reason": None,
            "enforcing": True,
        }


def test_popup_info_names_the_log_and_the_witnesses(fx: sites.Fixture) -> None:
    info = judge(fx, "valid")["info"]
    assert info["ts"] == "ts.waict.test"
    assert info["mode"] == "enforce" and info["max_age"] == 3600
    assert isinstance(info["log_position"], int) and info["entry_time"] == NOW - 3600
    assert [w["name"] for w in info["witnesses"]] == ["w1.example", "w2.example"]
    assert [w["age"] for w in info["witnesses"]] == [600, 540]
    assert len(info["manifest_hash"]) == 43 and info["inline_covered"] is True


@pytest.mark.parametrize("label", sorted(sites.TAMPERS))
def test_each_tampered_asset_fails_and_only_it(fx: sites.Fixture, label: str) -> None:
    path, _bad, _ = sites.TAMPERS[label]
    out = judge(fx, label)
    assert out["manifest"]["status"] == "valid"
    good = sites.base_files()
    for p, body in good.items():
        dest = {
            "/": "document",
            "/app.js": "script",
            "/style.css": "style",
            "/img.png": "image",
            "/frame.html": "iframe",
            "/frame.js": "script",
            "/worker.js": "worker",
            "/shared.js": "sharedworker",
            "/add.wasm": "wasm",
        }[p]
        served = fx.sites[label].files[p]
        res = check(out["key"], fx.url(label, p), dest, served)
        if p == path and label != "t-inline":
            assert res["allowed"] is False, p
            assert res["reason"] == (
                "wasm_hash_mismatch" if dest == "wasm" else "no_manifest_match"
            )
        elif label != "t-inline":
            assert res["allowed"] is True, p
        assert body == good[p]
    if label == "t-document":
        assert out["navigation"] == "block" and out["badge"] == "blocked"
    if label == "t-inline":
        # the document is listed with its own bytes, the CSP names the listed inline hash only
        assert out["csp"] is not None and sites.digest_b64(sites.INLINE_JS.encode()) in out["csp"]
        assert sites.digest_b64(sites.EVIL_INLINE_JS.encode()) not in out["csp"]


@pytest.mark.parametrize(("label", "detail"), sorted(sites.MANIFEST_FAILURES.items()))
def test_manifest_level_failures_block_the_navigation(
    fx: sites.Fixture, label: str, detail: str
) -> None:
    out = judge(fx, label)
    assert out["navigation"] == "block", out
    assert out["badge"] == "blocked"
    assert out["manifest"]["status"] == "invalid"
    assert out["manifest"]["detail"] == detail
    res = check(out["key"], fx.url(label, "/app.js"), "script", sites.APP_JS.encode())
    assert res["allowed"] is False and res["reason"] == out["manifest"]["reason"]


def test_report_mode_allows_but_reports(fx: sites.Fixture) -> None:
    out = judge(fx, "report")
    assert out["navigation"] == "allow" and out["badge"] == "report"
    assert not out["enforcing"]
    assert out["csp_header"] == "Content-Security-Policy-Report-Only"
    res = check(
        out["key"], fx.url("report", "/app.js"), "script", fx.sites["report"].files["/app.js"]
    )
    assert res == {
        "url": fx.url("report", "/app.js"),
        "allowed": True,
        "reason": "no_manifest_match",
        "enforcing": False,
    }


def test_plain_site_is_not_gated(fx: sites.Fixture) -> None:
    plan = call(
        browser.plan_navigation,
        url=fx.url("plain"),
        header=None,
        now=NOW,
        trust=fx.trust,
        preload=b64(fx.preload),
        origin_state=None,
    )
    assert plan == {
        "gated": False,
        "manifest_url": None,
        "preloaded": False,
        "mode": None,
        **BOUNDS,
    }
    out = judge(fx, "plain")
    assert out["badge"] == "none" and not out["gated"] and out["navigation"] == "allow"
    assert out["origin_state"] is None and out["csp"] is None


def test_plan_resolves_the_manifest_url_and_knows_the_preload_list(fx: sites.Fixture) -> None:
    plan = call(
        browser.plan_navigation,
        url=fx.url("valid", "/x/y.html"),
        header=sites.HEADER,
        now=NOW,
        trust=fx.trust,
        preload=b64(fx.preload),
        origin_state=None,
    )
    assert plan == {
        "gated": True,
        "manifest_url": fx.url("valid", sites.MANIFEST_PATH),
        "preloaded": False,
        "mode": "enforce",
        **BOUNDS,
    }
    plan = call(
        browser.plan_navigation,
        url=fx.url("m-preload"),
        header=None,
        now=NOW,
        trust=fx.trust,
        preload=b64(fx.preload),
        origin_state=None,
    )
    assert plan["gated"] and plan["preloaded"] and plan["manifest_url"] is None
    # a preloaded host that sends no header is blocked
    out = judge(fx, "m-preload", header=None, manifest_response=None)
    assert out["navigation"] == "block" and out["manifest"]["detail"] == "preload_unsatisfied"


# --- the ratchet ----------------------------------------------------------------------


def test_ratchet_state_is_returned_and_keeps_enforce(fx: sites.Fixture) -> None:
    out = judge(fx, "valid")
    state = out["origin_state"]
    assert state["mode"] == "enforce" and state["expiry"] == NOW + 3600
    # the site now says report with its tampered script: the live enforce state wins
    later = judge(
        fx, "report", now=NOW + 60, origin_state=dict(state, manifest=sites.MANIFEST_PATH)
    )
    assert later["enforcing"] and later["badge"] == "verified"
    assert later["info"]["mode"] == "enforce"
    res = check(
        later["key"], fx.url("report", "/app.js"), "script", fx.sites["report"].files["/app.js"]
    )
    assert res["allowed"] is False


def test_dropping_the_header_does_not_escape_a_live_state(fx: sites.Fixture) -> None:
    state = judge(fx, "valid")["origin_state"]
    plan = call(
        browser.plan_navigation,
        url=fx.url("valid"),
        header=None,
        now=NOW + 10,
        trust=fx.trust,
        preload=None,
        origin_state=state,
    )
    assert plan["gated"] and plan["manifest_url"] == fx.url("valid", sites.MANIFEST_PATH)
    out = judge(fx, "valid", header=None, manifest_response=None, now=NOW + 10, origin_state=state)
    assert out["navigation"] == "block"
    assert out["manifest"]["reason"] == "manifest_unavailable"
    # after the stored max-age the state is gone and so is the gate
    out = judge(fx, "valid", header=None, now=NOW + 3600, origin_state=state)
    assert out["badge"] == "none" and out["origin_state"] is None


def test_report_upgrades_to_enforce_at_once(fx: sites.Fixture) -> None:
    report = judge(fx, "report")
    assert report["origin_state"]["mode"] == "report"
    out = judge(fx, "valid", origin_state=report["origin_state"])
    assert out["origin_state"]["mode"] == "enforce" and out["enforcing"]


# --- cache and errors -------------------------------------------------------------------


def test_a_judged_manifest_is_reused(fx: sites.Fixture, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = bounds.evaluate_bounded

    def counting(**kw: Any) -> Any:
        calls.append(kw["url"])
        return real(**kw)

    monkeypatch.setattr(bounds, "evaluate_bounded", counting)
    first = judge(fx, "valid")
    second = judge(fx, "valid", now=NOW + 5)
    assert first["key"] == second["key"] and len(calls) == 1
    judge(fx, "valid", now=NOW + browser.VERDICT_TTL + 1)
    assert len(calls) == 2


def test_unknown_key_and_bad_requests_are_errors_not_exceptions(fx: sites.Fixture) -> None:
    assert check("nope", fx.url("valid", "/app.js"), "script", b"x")["error"] == "unknown_key"
    assert "error" in json.loads(browser.judge_navigation("[]"))
    assert "error" in json.loads(browser.judge_navigation("{not json"))
    assert "error" in call(browser.judge_navigation, url=fx.url("valid"), trust={"quorum": 1})
    assert "error" in call(browser.check_resource, key=1, body="***")


def test_judge_agrees_with_decide_on_the_scenario_vectors() -> None:
    for path in sorted((VECTORS / "scenarios").glob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        scenario = json.loads(path.read_text())
        expected = decide(scenario)
        out = call(
            browser.judge_navigation,
            url=scenario["url"],
            header=scenario["header"],
            manifest_response=scenario["manifest_response"],
            now=scenario["now"],
            trust=scenario["trust"],
            preload=scenario["preload"],
            origin_state=None,
            resources=scenario["resources"],
        )
        assert out["navigation"] == expected["navigation"], path.name
        assert out["manifest"] == expected["manifest"], path.name
        assert out["resources"] == expected["resources"], path.name


def test_wasm_policy_lists_the_allowed_digests(fx: sites.Fixture) -> None:
    wasm = judge(fx, "valid")["wasm"]
    assert wasm["covered"] and wasm["enforcing"]
    assert wasm["allowed"] == [sites.h64u(sites.ADD_WASM)]
    assert judge(fx, "plain")["wasm"]["covered"] is False
    blocked = judge(fx, "m-stale")["wasm"]
    assert blocked["covered"] and blocked["allowed"] == []


# --- destinations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"sec_fetch_dest": "script", "resource_type": "Script"}, "script"),
        ({"sec_fetch_dest": "worker", "resource_type": "Other"}, "worker"),
        ({"sec_fetch_dest": "sharedworker", "resource_type": "Other"}, "sharedworker"),
        ({"sec_fetch_dest": "iframe", "resource_type": "Document"}, "iframe"),
        ({"sec_fetch_dest": "empty", "resource_type": "Fetch"}, ""),
        (
            {"sec_fetch_dest": "empty", "resource_type": "XHR", "content_type": "application/wasm"},
            "wasm",
        ),
        ({"sec_fetch_dest": "weird-new-thing", "resource_type": "Other"}, "script"),
        ({"resource_type": "Document", "main_frame": True}, "document"),
        ({"resource_type": "Document", "main_frame": False}, "iframe"),
        ({"resource_type": "Stylesheet"}, "style"),
        ({"resource_type": "Other"}, "script"),
        ({"resource_type": "Fetch", "content_type": "application/wasm; x=y"}, "wasm"),
    ],
)
def test_fetch_destination(request_: dict[str, Any], expected: str) -> None:
    assert call(browser.fetch_destination, **request_)["destination"] == expected


# --- the WebCrypto backend's gate (the browser run is in test_extension.py) ----------


def test_webcrypto_backend_outside_the_browser_is_the_pure_backend() -> None:
    backend = WebCryptoBackend()
    assert backend.available is False
    vectors = json.loads((VECTORS / "ed25519" / "ed25519vectors.json").read_text())[:40]
    pure = backend_by_name("pure")
    for v in vectors:
        args = (bytes.fromhex(v["key"]), bytes.fromhex(v["sig"]), v["msg"].encode())
        assert backend.verify(*args) == pure.verify(*args)
    assert backend.stats["webcrypto"] == 0


def test_reference_gate_picks_small_order_and_non_canonical_keys() -> None:
    identity = (1).to_bytes(32, "little")
    minus_one = (2**255 - 20).to_bytes(32, "little")
    non_canonical = (2**255 - 19 + 1).to_bytes(32, "little")  # y = p + 1 == 1 (mod p)
    ordinary = base64.b64decode(sites.build(PORT, NOW).trust["witnesses"][0]["key"])
    assert needs_reference(identity) and needs_reference(minus_one)
    assert needs_reference(non_canonical)
    assert not needs_reference(ordinary)
    _ = DAY


# --- bounds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "detail"), [("too_large", "manifest_too_large"), ("timeout", "manifest_timeout")]
)
def test_a_manifest_the_worker_stopped_reading_blocks_with_its_detail(
    fx: sites.Fixture, error: str, detail: str
) -> None:
    out = judge(fx, "valid", manifest_response=None, manifest_error=error)
    assert out["navigation"] == "block"
    assert out["manifest"] == {
        "status": "invalid",
        "reason": "manifest_unavailable",
        "detail": detail,
    }
    assert out["block"]["explanation"]["text"] == browser.EXPLANATIONS[detail][0]
    assert out["key"] != judge(fx, "valid", manifest_response=None)["key"]
    # a site without WAICT is not the manifest's business
    assert judge(fx, "plain", manifest_error=error)["navigation"] == "allow"
    assert "error" in judge(fx, "valid", manifest_error="gone")


def test_too_many_entries_are_refused_before_they_are_judged(fx: sites.Fixture) -> None:
    out = judge(fx, "h-many")
    assert out["navigation"] == "block"
    assert out["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": "manifest_too_many_entries",
    }
    assert len(fx.sites["h-many"].manifest_response or b"") < bounds.MAX_MANIFEST_BYTES
    huge = b"{" + b" " * bounds.MAX_MANIFEST_BYTES + b"}\n\n"
    out = judge(fx, "valid", manifest_response=b64(huge))
    assert out["manifest"]["detail"] == "manifest_too_large"
    assert out["manifest"]["reason"] == "manifest_unavailable"


def test_a_large_valid_manifest_is_judged(fx: sites.Fixture) -> None:
    out = judge(fx, "h-big")
    assert out["navigation"] == "allow" and out["badge"] == "verified"
    assert out["info"]["asset_count"] > sites.BIG_ENTRIES


def test_the_verdict_cache_keeps_a_bounded_number_of_manifest_bytes() -> None:
    kept = cache.VerdictCache(size=10, max_bytes=100)
    verdict = ManifestVerdict("valid", manifest=_manifest_of(60))
    for key in "abc":
        kept.remember(key, cache.Judged(verdict, NOW, "o"))
    assert list(kept._judged) == ["c"] and kept.bytes == 60  # the newest is always kept
    kept.remember("d", cache.Judged(ManifestVerdict("none"), NOW, "o"))
    assert list(kept._judged) == ["c", "d"] and kept.bytes == 60


def _manifest_of(size: int) -> Any:
    return Manifest(line=b"x" * size, members={}, hashes={})
