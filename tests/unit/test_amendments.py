"""The contract's 2026-11-30 amendments (issue 9), verifier side: one section per rule.

design.md 3.1 (manifest URL resolution), 3.2 (canonical URLs, hash padding bits, v1
``any_hashes``, blob:/data: code), 3.5 (unknown signature lines) and 5 (redirects).
Each scenario is built with the verifier's own encoders (tests/world.py) and run through
``verifier.decide``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from world import World, b64, h64u, manifest_line

from verifier import browser, decide
from verifier.crypto import ed25519_public_key, ed25519_sign, sha256
from verifier.csp import inline_csp
from verifier.encoding import b64encode, b64uencode
from verifier.errors import ScenarioError
from verifier.header import resolve_manifest_url
from verifier.manifest import parse_manifest
from verifier.note import key_id
from verifier.proof import ChainHeadWithProof
from waict.site.verify import verify_site

HOST = "site.example"
ORIGIN = f"https://{HOST}"
HEADER = 'max-age=86400, mode=enforce, manifest="/m"'
V1_HEADER = 'manifest="/v1.json", blocked-destinations=(script), mode=enforce, max-age=0'
PAGE = b"<!doctype html><script src=/app.js></script>"
APP = b"app()"
WASM = b"\x00asm\x01\x00\x00\x00"
EVIL = b"evil()"

_B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64 = _B64U[:62] + "+/"


def stray_bits(text: str) -> str:
    """The same 32 bytes with a non-zero padding bit in the last base64 character."""
    alphabet = _B64 if text.endswith("=") or "+" in text or "/" in text else _B64U
    i = len(text.rstrip("=")) - 1
    value = alphabet.index(text[i])
    assert value & 3 == 0, "a 32-byte value leaves two padding bits in its last character"
    return text[:i] + alphabet[value | 1] + text[i + 1 :]


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    return decide(json.loads(json.dumps(scenario)))


def v2_scenario(
    manifest: dict[str, Any],
    resources: list[tuple[str, str, bytes]],
    *,
    url: str = f"{ORIGIN}/",
    header: str = HEADER,
) -> dict[str, Any]:
    world = World()
    line = manifest_line(manifest)
    world.log(HOST, line)
    return world.scenario(url, header, world.response(line, world.proof(HOST)), resources)


def v1_scenario(
    manifest: dict[str, Any], resources: list[tuple[str, str, bytes]], *, url: str = f"{ORIGIN}/"
) -> dict[str, Any]:
    body = json.dumps(manifest, indent=2).encode()
    return World().scenario(url, V1_HEADER, body, resources)


def verdict_of(verdict: dict[str, Any]) -> tuple[str, str, list[str | None]]:
    return (
        verdict["navigation"],
        verdict["manifest"]["status"],
        [r["reason"] for r in verdict["resources"]],
    )


# --- 3.2: hash values with non-zero padding bits ----------------------------------------


def test_stray_bits_helper_changes_text_not_bytes() -> None:
    text = h64u(APP)
    odd = stray_bits(text)
    assert odd != text
    padded = b64encode(sha256(APP))
    assert stray_bits(padded) != padded


def test_v2_hashes_with_padding_bits_are_accepted_and_compared_as_bytes() -> None:
    manifest = {
        "hashes": {f"{ORIGIN}/": stray_bits(h64u(PAGE)), f"{ORIGIN}/app.js": stray_bits(h64u(APP))}
    }
    verdict = run(
        v2_scenario(
            manifest,
            [
                (f"{ORIGIN}/", "document", PAGE),
                (f"{ORIGIN}/app.js", "script", APP),
                (f"{ORIGIN}/app.js", "script", EVIL),
            ],
        )
    )
    assert verdict_of(verdict) == ("allow", "valid", [None, None, "no_manifest_match"])


@pytest.mark.parametrize(
    "member", ["wasm_hashes", "fallback_hashes", "wildcard_hashes", "inline_js_hashes"]
)
def test_v2_hash_lists_with_padding_bits_are_accepted(member: str) -> None:
    manifest: dict[str, Any] = {"hashes": {f"{ORIGIN}/app.js": h64u(APP)}}
    manifest[member] = [stray_bits(h64u(b"one"))]
    resources = [(f"{ORIGIN}/app.js", "script", APP)]
    if member == "wasm_hashes":
        resources.append((f"{ORIGIN}/m.wasm", "wasm", b"one"))
    elif member == "fallback_hashes":
        resources.append((f"{ORIGIN}/other", "document", b"one"))
    elif member == "wildcard_hashes":
        manifest["resource_delimiter"] = "//"
        resources.append((f"{ORIGIN}/b.js", "script", b"one//one"))
    verdict = run(v2_scenario(manifest, resources))
    assert verdict_of(verdict) == ("allow", "valid", [None] * len(resources))


@pytest.mark.parametrize("size", [31, 33])
def test_a_hash_must_be_exactly_32_bytes(size: int) -> None:
    manifest = {"hashes": {f"{ORIGIN}/app.js": b64uencode(bytes(size))}}
    verdict = run(v2_scenario(manifest, [(f"{ORIGIN}/app.js", "script", APP)]))
    assert verdict["manifest"]["status"] == "invalid"
    manifest = {"hashes": {}, "wasm_hashes": [b64uencode(bytes(size))]}
    assert run(v2_scenario(manifest, []))["manifest"]["status"] == "invalid"


def test_v2_still_refuses_padded_or_standard_alphabet_hashes() -> None:
    padded = b64encode(b"\xfb" * 32)  # has '+', '/' and '='
    manifest = {"hashes": {f"{ORIGIN}/app.js": padded}}
    verdict = run(v2_scenario(manifest, [(f"{ORIGIN}/app.js", "script", APP)]))
    assert verdict["manifest"]["status"] == "invalid"


def test_v1_padded_b64_with_padding_bits_is_accepted() -> None:
    manifest = {"hashes": {"/app.js": stray_bits(b64encode(sha256(APP)))}}
    verdict = run(
        v1_scenario(
            manifest, [(f"{ORIGIN}/app.js", "script", APP), (f"{ORIGIN}/app.js", "script", EVIL)]
        )
    )
    assert verdict_of(verdict) == ("allow", "valid", [None, "no_manifest_match"])


def test_b64_helper_sanity() -> None:
    assert b64(b"x") == "eA=="


# --- 3.5: signature lines of unknown keys and other signature types ---------------------


def _note_scenario(extra_lines: list[str]) -> dict[str, Any]:
    """The valid site, with ``extra_lines`` appended to its note's signature lines."""
    world = World()
    line = manifest_line({"hashes": {f"{ORIGIN}/app.js": h64u(APP)}})
    world.log(HOST, line)
    good = world.proof(HOST)
    note = good.note + "".join(f"\u2014 {x}\n" for x in extra_lines).encode()
    proof = ChainHeadWithProof(good.head, good.tree_proof, note)
    return world.scenario(
        f"{ORIGIN}/", HEADER, world.response(line, proof), [(f"{ORIGIN}/app.js", "script", APP)]
    )


def _service_signature(world: World) -> str:
    """A standard signed-note signature of the service itself: keyID[4] | Ed25519 sig[64]
    (68 bytes), over the note body, with the service's own key (type 0x01)."""
    seed = sha256(b"ts-own-key")
    pub = ed25519_public_key(seed)
    body = world.note().body.encode()
    key_id = sha256(world.ts.encode() + b"\n\x01" + pub)[:4]
    return f"{world.ts} {b64(key_id + ed25519_sign(seed, body))}"


def test_checkpoint_with_the_services_own_signature_still_verifies() -> None:
    world = World()
    verdict = run(_note_scenario([_service_signature(world)]))
    assert verdict_of(verdict) == ("allow", "valid", [None])


@pytest.mark.parametrize("size", [1, 3, 4, 60, 68, 75, 77, 100, 300])
def test_unknown_key_lines_are_ignored_whatever_their_length(size: int) -> None:
    text = b64(b"\x9a" * size)
    verdict = run(_note_scenario([f"other.example {text}"]))
    assert verdict_of(verdict) == ("allow", "valid", [None])


def test_known_witness_line_that_is_not_a_cosignature_rejects_the_note() -> None:
    world = World()
    name = world.witness_names[0]
    kid = key_id(name, world.public_key(name))
    verdict = run(_note_scenario([f"{name} {b64(kid + bytes(64))}"]))
    assert verdict["manifest"]["status"] == "invalid"
    assert verdict["manifest"]["detail"] == "bad_cosignature"


@pytest.mark.parametrize(
    "line",
    ["other.example", "other.example ", "other.example %%%", "other.example QUJD QUJD", " QUJD"],
)
def test_a_line_not_of_the_form_name_base64_makes_the_note_malformed(line: str) -> None:
    verdict = run(_note_scenario([line]))
    assert verdict["manifest"]["reason"] == "invalid_transparency_proof"
    assert verdict["manifest"]["detail"] == "malformed_note"


# --- 3.2: v1 any_hashes -------------------------------------------------------------------


def test_v1_any_hashes_are_accepted_at_any_url_of_a_covered_destination() -> None:
    lib = b"library()"
    manifest = {
        "hashes": {"/app.js": h64u(APP)},
        "any_hashes": [b64encode(sha256(lib)), stray_bits(h64u(b"other()"))],
    }
    resources = [
        (f"{ORIGIN}/app.js", "script", APP),
        (f"{ORIGIN}/vendor/lib.js", "script", lib),  # not listed: any_hashes
        (f"{ORIGIN}/x/y.js?v=2", "script", b"other()"),
        (f"{ORIGIN}/app.js", "script", lib),  # listed with another hash: any_hashes
        (f"{ORIGIN}/evil.js", "script", EVIL),
        (f"{ORIGIN}/pic.png", "image", EVIL),  # not a blocked destination
    ]
    verdict = run(v1_scenario(manifest, resources))
    expected = [None, None, None, None, "missing_from_manifest", None]
    assert verdict_of(verdict) == ("allow", "valid", expected)
    assert [r["allowed"] for r in verdict["resources"]] == [True] * 4 + [False, True]


@pytest.mark.parametrize("bad", [["%%"], [b64uencode(bytes(31))], "abc", [1]])
def test_v1_any_hashes_malformed_make_the_manifest_invalid(bad: Any) -> None:
    manifest = {"hashes": {"/app.js": h64u(APP)}, "any_hashes": bad}
    verdict = run(v1_scenario(manifest, [(f"{ORIGIN}/app.js", "script", APP)]))
    assert verdict["manifest"]["status"] == "invalid"


def test_v2_does_not_honour_any_hashes() -> None:
    manifest = {"hashes": {f"{ORIGIN}/app.js": h64u(APP)}, "any_hashes": [h64u(EVIL)]}
    verdict = run(v2_scenario(manifest, [(f"{ORIGIN}/evil.js", "script", EVIL)]))
    assert verdict_of(verdict) == ("allow", "valid", ["missing_from_manifest"])


# --- 3.2: blob: and data: code when inline code is covered -------------------------------

BLOB_URLS = [
    ("blob:https://site.example/5c1f0b3e-1d2a-4c55-9b1e-0d7f6a0b9c11", "script"),
    ("data:text/javascript,app()", "script"),
    ("DATA:text/javascript;base64,YXBwKCk=", "script"),
    (" \tblob:https://site.example/uuid", "worker"),
    ("blob:https://site.example/uuid", "sharedworker"),
    ("data:application/javascript,app()", "serviceworker"),
    ("blob:https://site.example/uuid", "audioworklet"),
    ("blob:https://site.example/uuid", "paintworklet"),
]


def _blob_manifest(**extra: Any) -> dict[str, Any]:
    # every way a body could otherwise pass: wildcard parts, fallback, any listed hash
    manifest: dict[str, Any] = {
        "hashes": {f"{ORIGIN}/": h64u(PAGE)},
        "wildcard_hashes": [h64u(APP)],
        "resource_delimiter": "\n//\n",
    }
    manifest.update(extra)
    return manifest


@pytest.mark.parametrize(("url", "destination"), BLOB_URLS)
@pytest.mark.parametrize("inline", ["inline_js_hashes", "inline_css_hashes"])
def test_blob_and_data_code_is_blocked_when_inline_code_is_covered(
    url: str, destination: str, inline: str
) -> None:
    manifest = _blob_manifest(**{inline: []})
    verdict = run(
        v2_scenario(manifest, [(f"{ORIGIN}/", "document", PAGE), (url, destination, APP)])
    )
    assert verdict_of(verdict) == ("allow", "valid", [None, "missing_from_manifest"])
    assert verdict["resources"][1]["allowed"] is False


def test_blob_and_data_code_in_a_v1_manifest_with_an_inline_list() -> None:
    manifest = {"hashes": {"/app.js": h64u(APP)}, "any_hashes": [h64u(APP)], "inline_js_hashes": []}
    verdict = run(v1_scenario(manifest, [("data:text/javascript,app()", "script", APP)]))
    assert verdict_of(verdict) == ("allow", "valid", ["missing_from_manifest"])


def test_blob_and_data_without_inline_coverage_follow_the_ordinary_check() -> None:
    manifest = _blob_manifest()
    resources = [(url, dest, APP) for url, dest in BLOB_URLS[:2]]
    verdict = run(v2_scenario(manifest, resources))
    assert verdict_of(verdict) == ("allow", "valid", [None, None])  # wildcard parts match


def test_blob_and_data_images_and_styles_are_not_code() -> None:
    manifest = _blob_manifest(inline_js_hashes=[])
    resources = [
        ("data:image/png;base64,iVBORw0K", "image", b"png"),
        ("blob:https://site.example/uuid", "image", b"png"),
    ]
    verdict = run(v2_scenario(manifest, resources))
    assert verdict_of(verdict) == ("allow", "valid", [None, None])


@pytest.mark.parametrize(
    "lists",
    [{"inline_js_hashes": []}, {"inline_css_hashes": []}, {"inline_js_hashes": [h64u(b"x")]}],
)
def test_inline_csp_never_allows_blob_or_data_scripts_or_workers(lists: dict[str, Any]) -> None:
    manifest = parse_manifest(manifest_line({"hashes": {}, **lists}), ORIGIN)
    csp = inline_csp(manifest)
    assert csp is not None
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    for name in ("script-src", "worker-src"):
        assert name in directives, csp
        assert "blob:" not in directives[name] and "data:" not in directives[name], csp
    assert "'unsafe-eval'" not in directives["script-src"]


# --- 5: redirects: looked up by the URL the fetch was made for, judged on the final bytes --

CDN = "https://cdn.example"


def _redirect_resources() -> list[dict[str, Any]]:
    return [
        # /app.js (listed) redirected to the CDN: looked up as /app.js, judged on the bytes
        {"request_url": f"{ORIGIN}/app.js", "url": f"{CDN}/app.js", "body": APP},
        {"request_url": f"{ORIGIN}/app.js", "url": f"{CDN}/app.js", "body": EVIL},
        # an unlisted URL redirected to a listed one stays unlisted
        {"request_url": f"{ORIGIN}/new.js", "url": f"{ORIGIN}/app.js", "body": APP},
        # no redirect: request_url absent, the lookup uses url
        {"url": f"{ORIGIN}/app.js", "body": APP},
    ]


REDIRECT_EXPECTED = [None, "no_manifest_match", "missing_from_manifest", None]


def test_decide_looks_a_redirected_fetch_up_by_its_request_url() -> None:
    manifest = {"hashes": {f"{ORIGIN}/app.js": h64u(APP)}}
    scenario = v2_scenario(manifest, [])
    scenario["resources"] = [
        {**r, "destination": "script", "body": b64(r["body"])} for r in _redirect_resources()
    ]
    verdict = run(scenario)
    assert [r["reason"] for r in verdict["resources"]] == REDIRECT_EXPECTED
    # the verdict echoes url (the response's URL), in order
    assert [r["url"] for r in verdict["resources"]] == [r["url"] for r in scenario["resources"]]


def test_scenario_request_url_must_be_a_string() -> None:
    scenario = v2_scenario({"hashes": {}}, [(f"{ORIGIN}/app.js", "script", APP)])
    scenario["resources"][0]["request_url"] = 5
    with pytest.raises(ScenarioError):
        decide(scenario)


def test_extension_check_resource_looks_up_the_request_url() -> None:
    browser.clear_cache()
    manifest = {"hashes": {f"{ORIGIN}/app.js": h64u(APP)}}
    scenario = v2_scenario(manifest, [])
    judged = json.loads(
        browser.judge_navigation(
            json.dumps(
                {
                    "url": scenario["url"],
                    "header": scenario["header"],
                    "manifest_response": scenario["manifest_response"],
                    "now": scenario["now"],
                    "trust": scenario["trust"],
                    "preload": None,
                    "origin_state": None,
                }
            )
        )
    )
    assert judged["manifest"]["status"] == "valid", judged
    reasons = []
    for r in _redirect_resources():
        request = {**r, "key": judged["key"], "destination": "script", "body": b64(r["body"])}
        reasons.append(json.loads(browser.check_resource(json.dumps(request)))["reason"])
    assert reasons == REDIRECT_EXPECTED


# --- 3.2: canonical URLs are the WHATWG serialization ------------------------------------
# (the differential test against Node's URL is tests/unit/test_urls_differential.py)


@pytest.mark.parametrize(
    "key",
    [
        f"{ORIGIN}/\u00e4.js",  # non-ASCII path: must be percent-encoded
        f'{ORIGIN}/a"b.js',
        f"{ORIGIN}/{{x}}.js",
        f"{ORIGIN}/a.js?'",  # special-query set encodes '
        f"{ORIGIN}/a.js?q=\u00e4",
        f"{ORIGIN}/a/../app.js",
        f"{ORIGIN}/a.js#frag",
        "https://SITE.example/app.js",
        "https://site.example:443/app.js",
    ],
)
def test_a_v2_key_not_in_whatwg_form_makes_the_manifest_invalid(key: str) -> None:
    verdict = run(v2_scenario({"hashes": {key: h64u(APP)}}, [(f"{ORIGIN}/x.js", "script", APP)]))
    assert verdict["manifest"]["status"] == "invalid", key
    assert verdict["manifest"]["detail"] in ("non_canonical_url", "invalid_url", "unsupported_url")


@pytest.mark.parametrize(
    "key",
    [
        f"{ORIGIN}/%C3%A4.js",
        f"{ORIGIN}/a.js?q=%C3%A4&r=%27",
        f"{ORIGIN}/^|.js",
        "https://site.example./app.js",
        "https://a_b.site.example/app.js",
        "https://user@site.example/app.js",
    ],
)
def test_a_v2_key_in_whatwg_form_is_accepted(key: str) -> None:
    verdict = run(v2_scenario({"hashes": {key: h64u(APP)}}, [(key, "script", APP)]))
    assert verdict_of(verdict) == ("allow", "valid", [None])


@pytest.mark.parametrize(
    ("request_url", "key"),
    [
        (f"{ORIGIN}/\u00e4.js", f"{ORIGIN}/%C3%A4.js"),
        (f"{ORIGIN}/a.js?q=\u00e4 b", f"{ORIGIN}/a.js?q=%C3%A4%20b"),
        ("https://SITE.example:443/x/../app.js#f", f"{ORIGIN}/app.js"),
        ("https://site.example\\app.js", f"{ORIGIN}/app.js"),
        ("https://b\u00fccher.example/app.js", "https://xn--bcher-kva.example/app.js"),
    ],
)
def test_a_request_url_is_serialized_before_the_lookup(request_url: str, key: str) -> None:
    manifest = {"hashes": {key: h64u(APP)}}
    resources = [(request_url, "script", APP), (request_url, "script", EVIL)]
    verdict = run(v2_scenario(manifest, resources))
    assert verdict_of(verdict) == ("allow", "valid", [None, "no_manifest_match"])


def test_v1_relative_keys_resolve_against_the_document_url() -> None:
    manifest = {"hashes": {"app.js": h64u(APP), "../up.js": h64u(b"up()"), "/abs.js": h64u(EVIL)}}
    url = f"{ORIGIN}/dir/sub/page.html?x=1"
    resources = [
        (f"{ORIGIN}/dir/sub/app.js", "script", APP),
        (f"{ORIGIN}/dir/up.js", "script", b"up()"),
        (f"{ORIGIN}/abs.js", "script", EVIL),
        (f"{ORIGIN}/app.js", "script", APP),  # the site root is not the base
    ]
    verdict = run(v1_scenario(manifest, resources, url=url))
    assert verdict_of(verdict) == ("allow", "valid", [None, None, None, "missing_from_manifest"])


def test_extension_v1_verdicts_are_not_shared_between_documents() -> None:
    """v1 relative keys depend on the document URL, so the extension's verdict cache must
    not reuse one page's verdict for another page of the same origin."""
    browser.clear_cache()
    manifest = json.dumps({"hashes": {"app.js": h64u(APP)}}).encode()
    world = World()
    answers = []
    for page in ("/a/page.html", "/b/page.html"):
        request = {
            "url": f"{ORIGIN}{page}",
            "header": V1_HEADER,
            "manifest_response": b64(manifest),
            "now": world.now,
            "trust": world.trust(),
            "preload": None,
            "origin_state": None,
        }
        judged = json.loads(browser.judge_navigation(json.dumps(request)))
        check = {"key": judged["key"], "url": f"{ORIGIN}/a/app.js", "destination": "script"}
        check["body"] = b64(APP)
        answers.append(json.loads(browser.check_resource(json.dumps(check)))["reason"])
    assert answers == [None, "missing_from_manifest"]


# --- 3.1: a relative manifest URL resolves against the URL of the response carrying it ----

MANIFEST_URL_CASES = [
    # (requested URL, response URL, manifest value, expected manifest URL)
    (f"{ORIGIN}/dir/page.html", None, "m.json", f"{ORIGIN}/dir/m.json"),
    (f"{ORIGIN}/dir/", None, "/m", f"{ORIGIN}/m"),
    (f"{ORIGIN}/a/b?q=1", None, "../m?v=1#x", f"{ORIGIN}/m?v=1"),
    (f"{ORIGIN}/a/b", None, "?v=2", f"{ORIGIN}/a/b?v=2"),
    (f"{ORIGIN}/", None, "https://cdn.example/m", "https://cdn.example/m"),
    (f"{ORIGIN}/dir/page", None, "//other.example/m", "https://other.example/m"),
    (f"{ORIGIN}/d/p", None, "%C3%A4 b.json", f"{ORIGIN}/d/%C3%A4%20b.json"),
    # a redirected document: the response URL, not the requested one, is the base
    ("https://old.example/start", f"{ORIGIN}/app/index.html", "manifest", f"{ORIGIN}/app/manifest"),
    (f"{ORIGIN}/x", f"{ORIGIN}/moved/here/", "../m", f"{ORIGIN}/moved/m"),
    # nothing we can fetch: no manifest (unavailable, fail closed)
    (f"{ORIGIN}/", None, "http://[::zz]/m", None),
    (f"{ORIGIN}/", None, "data:,x", None),
]


def _header(value: str) -> str:
    return f'max-age=0, mode=enforce, manifest="{value}"'


@pytest.mark.parametrize(("requested", "response", "value", "expected"), MANIFEST_URL_CASES)
def test_resolve_manifest_url(
    requested: str, response: str | None, value: str, expected: str | None
) -> None:
    assert resolve_manifest_url(value, response or requested) == expected


@pytest.mark.parametrize(("requested", "response", "value", "expected"), MANIFEST_URL_CASES)
def test_waict_verify_and_the_extension_fetch_the_same_manifest_url(
    requested: str, response: str | None, value: str, expected: str | None
) -> None:
    final = response or requested
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if url == requested and response is not None:
            return httpx.Response(302, headers={"Location": response})
        if url == final:
            return httpx.Response(
                200,
                headers={"Integrity-Policy-WAICT-v1": _header(value), "content-type": "text/html"},
                content=b"<!doctype html><p>hi",
            )
        return httpx.Response(404)

    world = World()
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    with client:
        report = verify_site(requested, world.trust(), now=world.now, client=client)
    assert report.url == final
    assert report.manifest_url == expected
    assert (expected in seen) if expected is not None else (len(seen) >= 1)

    browser.clear_cache()
    plan = json.loads(
        browser.plan_navigation(
            json.dumps(
                {
                    "url": final,  # the extension must pass the final response's URL
                    "header": _header(value),
                    "now": world.now,
                    "trust": world.trust(),
                    "preload": None,
                    "origin_state": None,
                }
            )
        )
    )
    assert plan["gated"] is True
    assert plan["manifest_url"] == report.manifest_url == expected
