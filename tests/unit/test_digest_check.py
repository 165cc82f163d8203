"""``check_resource`` from a SHA-256 digest gives the verdict the body gives.

The extension hashes a response body in JavaScript (``crypto.subtle.digest``) and asks
``check_resource`` with ``sha256`` instead of the body; the rule stays Python's
(:func:`verifier.check.check_fetch_digest`). Here, in CPython, every resource of every
generated scenario (and of the shared scenario vectors) is checked both ways against the
judged verdict, and the answers must be equal. Plus the crypto counters the extension
exposes (``crypto_stats``): which backend answered, and every fallback with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenario_gen import generate

from verifier import browser, crypto
from verifier.crypto.webcrypto import WebCryptoBackend

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    browser.clear_cache()
    crypto.COUNTERS.reset()
    yield
    browser.clear_cache()
    crypto.set_backend(None)


def call(fn: Any, **request: Any) -> dict[str, Any]:
    out = json.loads(fn(json.dumps(request)))
    assert isinstance(out, dict)
    return out


def _judge(scenario: dict[str, Any]) -> dict[str, Any]:
    return call(
        browser.judge_navigation,
        url=scenario["url"],
        header=scenario["header"],
        manifest_response=scenario["manifest_response"],
        now=scenario["now"],
        trust=scenario["trust"],
        preload=scenario["preload"],
        origin_state=None,
        resources=[],
    )


def _judged_key(name: str, scenario: dict[str, Any]) -> str:
    """The verdict key of the scenario's navigation (the test is skipped without one)."""
    judged = _judge(scenario)
    if judged.get("key") is None:
        pytest.skip(f"{name}: nothing judged to check against")
    return str(judged["key"])


def _scenarios() -> list[tuple[str, dict[str, Any]]]:
    cases = [(name, scenario) for name, scenario, _ in generate()]
    for path in sorted((VECTORS / "scenarios").glob("*.json")):
        if not path.name.endswith(".expected.json"):
            cases.append((path.stem, json.loads(path.read_text())))
    return cases


CASES = _scenarios()
#: destinations every resource is also checked as (covered, passive, wasm, not covered)
EXTRA_DESTINATIONS = ("script", "image", "wasm", "fetch", "iframe")


@pytest.mark.parametrize(("name", "scenario"), CASES, ids=[c[0] for c in CASES])
def test_digest_verdict_equals_body_verdict(name: str, scenario: dict[str, Any]) -> None:
    key = _judged_key(name, scenario)
    compared = 0
    for r in scenario["resources"]:
        body_b64 = r["body"]
        digest = hashlib.sha256(base64.b64decode(body_b64)).hexdigest()
        for destination in (r["destination"], *EXTRA_DESTINATIONS):
            common = {"key": key, "url": r["url"], "destination": destination}
            by_body = call(browser.check_resource, **common, body=body_b64)
            by_digest = call(browser.check_resource, **common, sha256=digest)
            if by_digest.get("body_needed"):
                # only the bytes can decide: the extension asks again with the body
                assert "reason" not in by_digest
                by_digest = call(browser.check_resource, **common, body=body_b64)
            assert by_digest == by_body, (name, r["url"], destination)
            compared += 1
    assert compared > 0


def test_a_tampered_script_is_blocked_by_its_digest() -> None:
    _, scenario, _ = next(c for c in generate() if c[0] == "tampered-script")
    key = _judge(scenario)["key"]
    app = next(r for r in scenario["resources"] if r["destination"] == "script")
    bad = hashlib.sha256(base64.b64decode(app["body"])).hexdigest()
    out = call(browser.check_resource, key=key, url=app["url"], destination="script", sha256=bad)
    assert out["allowed"] is False and out["reason"] == "no_manifest_match"
    good = hashlib.sha256(b"app()").hexdigest()
    out = call(browser.check_resource, key=key, url=app["url"], destination="script", sha256=good)
    assert out["allowed"] is True and out["reason"] is None


def test_only_unlisted_urls_under_delimited_wildcards_need_the_body() -> None:
    _, scenario, _ = next(c for c in generate() if c[0] == "wildcard")
    key = _judge(scenario)["key"]
    bundle = next(r for r in scenario["resources"] if r["url"].endswith("/b.js"))
    digest = hashlib.sha256(base64.b64decode(bundle["body"])).hexdigest()
    out = call(
        browser.check_resource, key=key, url=bundle["url"], destination="script", sha256=digest
    )
    assert out == {"body_needed": True, "key": key}
    # a listed URL is decided from its digest (the wildcards are never consulted for it)
    page = scenario["url"]
    out = call(browser.check_resource, key=key, url=page, destination="script", sha256="00" * 32)
    assert out["reason"] == "no_manifest_match"


@pytest.mark.parametrize("bad", ["", "zz" * 32, "ab" * 31, 7, "AB" * 33])
def test_a_malformed_digest_is_an_error(bad: Any) -> None:
    _, scenario, _ = next(iter(generate()))
    key = _judge(scenario)["key"]
    out = call(
        browser.check_resource, key=key, url=scenario["url"], destination="script", sha256=bad
    )
    assert "error" in out


# --- which crypto backend answered ------------------------------------------------------


def test_crypto_stats_count_the_backend_that_answered() -> None:
    crypto.set_backend(crypto.backend_by_name("pure"))
    _, scenario, _ = next(iter(generate()))
    _judge(scenario)
    stats = call(browser.crypto_stats, reset=True)
    assert stats["backend"] == "pure"
    assert stats["answered"]["ed25519_verify"]["pure"] >= 1
    assert stats["answered"]["sha256"]["hashlib"] >= 1
    assert stats["fallbacks"] == {} and stats["fallback_count"] == 0
    assert call(browser.crypto_stats)["answered"] == {}  # reset after reading


def test_webcrypto_without_a_browser_falls_back_visibly() -> None:
    crypto.set_backend(WebCryptoBackend())
    _, scenario, _ = next(iter(generate()))
    _judge(scenario)
    stats = call(browser.crypto_stats)
    assert stats["backend"] == "webcrypto"
    verifies = stats["answered"]["ed25519_verify"]
    assert set(verifies) == {"pure"} and verifies["pure"] >= 1
    assert stats["fallbacks"] == {"no_webcrypto": verifies["pure"]}
    assert stats["fallback_count"] == verifies["pure"]
    assert stats["last_fallback"] == "no_webcrypto"


class _FailingSubtle:
    """A ``crypto.subtle`` whose every call fails (as a broken WebCrypto would)."""

    def importKey(self, *args: Any) -> Any:
        raise RuntimeError("importKey broke")

    def verify(self, *args: Any) -> Any:
        raise RuntimeError("verify broke")


def test_a_webcrypto_failure_is_counted_with_its_reason_not_swallowed() -> None:
    backend = WebCryptoBackend()
    backend._subtle = _FailingSubtle()
    backend._run_sync = lambda x: x
    backend._to_js = lambda x, **kw: x
    backend._unavailable_reason = lambda: None  # type: ignore[method-assign]
    crypto.set_backend(backend)
    pure = crypto.backend_by_name("pure")
    seed = bytes(range(32))
    sig = pure.sign(seed, b"m")
    assert crypto.ed25519_verify(pure.public_key(seed), sig, b"m") is True
    stats = crypto.crypto_stats()
    assert stats["answered"]["ed25519_verify"] == {"pure": 1}
    assert stats["fallbacks"] == {"import_key_error": 1}
    assert stats["last_fallback"] == "import_key_error: RuntimeError: importKey broke"
    backend._key = lambda k: object()  # type: ignore[method-assign]
    assert crypto.ed25519_verify(pure.public_key(seed), sig, b"m") is True
    stats = crypto.crypto_stats()
    assert stats["fallbacks"] == {"import_key_error": 1, "verify_error": 1}
    assert stats["last_fallback"] == "verify_error: RuntimeError: verify broke"


def test_verify_many_gives_the_answers_of_one_verify_each() -> None:
    pure = crypto.backend_by_name("pure")
    seed = bytes(range(32))
    pk = pure.public_key(seed)
    good = pure.sign(seed, b"m")
    bad = bytes([good[0] ^ 1]) + good[1:]
    items = [(pk, good, b"m"), (pk, bad, b"m"), (pk, good, b"other"), (pk, good, b"m")]
    for backend in (pure, WebCryptoBackend()):
        crypto.set_backend(backend)
        assert crypto.ed25519_verify_many(items) == [True, False, False, True]
        assert crypto.ed25519_verify_many([]) == []
    with pytest.raises(crypto.CryptoError):
        crypto.ed25519_verify_many([(pk[:31], good, b"m")])


def test_a_failed_batch_is_counted_and_each_is_verified_alone() -> None:
    backend = WebCryptoBackend()
    backend._subtle = _FailingSubtle()
    backend._run_sync = lambda x: x
    backend._to_js = lambda x, **kw: x
    backend._unavailable_reason = lambda: None  # type: ignore[method-assign]
    backend._key = lambda k: object()  # type: ignore[method-assign]
    crypto.set_backend(backend)
    pure = crypto.backend_by_name("pure")
    seed = bytes(range(32))
    item = (pure.public_key(seed), pure.sign(seed, b"m"), b"m")
    assert crypto.ed25519_verify_many([item, item]) == [True, True]
    stats = crypto.crypto_stats()
    assert stats["answered"]["ed25519_verify"] == {"pure": 2}
    assert stats["fallbacks"] == {"verify_error": 2}


def test_a_plain_call_is_deferred_to_a_promising_one_not_answered_by_the_fallback() -> None:
    from verifier.crypto.webcrypto import NeedsPromisingCall

    backend = WebCryptoBackend()
    backend._unavailable_reason = lambda: "no_jspi"  # type: ignore[method-assign]
    crypto.set_backend(backend)
    pure = crypto.backend_by_name("pure")
    seed = bytes(range(32))
    item = (pure.public_key(seed), pure.sign(seed, b"m"), b"m")
    backend.defer_to_promising = True
    with pytest.raises(NeedsPromisingCall):
        crypto.ed25519_verify(*item)
    with pytest.raises(NeedsPromisingCall):
        crypto.ed25519_verify_many([item, item])
    assert crypto.crypto_stats()["answered"] == {}  # nothing answered, nothing fell back
    backend.defer_to_promising = False
    assert crypto.ed25519_verify(*item) is True  # outside a plain call: counted fallback
    assert crypto.crypto_stats()["fallbacks"] == {"no_jspi": 1}


#: the inputs of fetch_destination the extension sends: every Sec-Fetch-Dest it may see
#: (and none), the CDP types, a WebAssembly response, both frame kinds, worker scripts
FETCH_INPUTS = [
    {
        "sec_fetch_dest": sec,
        "resource_type": rtype,
        "content_type": ctype,
        "main_frame": main,
        "worker_script": worker,
    }
    for sec in (None, "", "script", "empty", "style", "image", "worker", "iframe", "bogus")
    for rtype in ("Script", "Stylesheet", "Image", "Fetch", "XHR", "Document", "Other")
    for ctype in (None, "application/wasm", "text/javascript")
    for main in (False, True)
    for worker in (None, "serviceworker", "sharedworker")
]


@pytest.mark.parametrize(("name", "scenario"), CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_check_with_fetch_inputs_equals_destination_then_check(
    name: str, scenario: dict[str, Any]
) -> None:
    """``check_resource`` given the destination's inputs (one call, the extension's hot
    path) answers what ``fetch_destination`` then ``check_resource`` answer, for every
    resource of the scenario under every input combination, and names that destination."""
    key = _judged_key(name, scenario)
    compared = 0
    for r in scenario["resources"]:
        digest = hashlib.sha256(base64.b64decode(r["body"])).hexdigest()
        for fetch in FETCH_INPUTS:
            dest = call(browser.fetch_destination, **fetch)["destination"]
            two_step = call(
                browser.check_resource, key=key, url=r["url"], destination=dest, sha256=digest
            )
            one = call(browser.check_resource, key=key, url=r["url"], fetch=fetch, sha256=digest)
            assert one == {**two_step, "destination": dest}, (fetch, one, two_step)
            compared += 1
    assert compared


def test_check_with_fetch_inputs_refuses_both_or_a_bad_fetch() -> None:
    for request in (
        {"key": "k", "url": "https://a.example/", "destination": "script", "fetch": {}},
        {"key": "k", "url": "https://a.example/", "fetch": "script"},
    ):
        out = call(browser.check_resource, **request, sha256="00" * 32)
        assert out["error"].startswith("ValueError"), out
