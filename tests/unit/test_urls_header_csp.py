"""Focused unit tests: ``verifier.urls``, ``verifier.header.parse_policy``, ``verifier.csp``.

Exact values throughout: canonical forms are manifest keys (design.md 3.2) and tree hosts
are hashed into tree keys (3.4), so a one-character drift matters.
"""

from __future__ import annotations

import base64
import json

import pytest
from world import h64u

from verifier import urls
from verifier.crypto import sha256
from verifier.csp import inline_csp
from verifier.errors import HeaderError, ManifestError, WaictError
from verifier.header import HEADER_NAME, Policy, parse_policy
from verifier.manifest import parse_manifest

ORIGIN = "https://site.example"

# --- verifier.urls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://site.example/a", "https://site.example/a"),
        ("https://Site.EXAMPLE/a", "https://site.example/a"),
        ("HTTPS://site.example/", "https://site.example/"),
        ("https://site.example", "https://site.example/"),
        ("https://site.example/A/B", "https://site.example/A/B"),  # paths keep their case
        ("https://site.example/a%20b", "https://site.example/a%20b"),
        # default ports folded, other ports kept
        ("https://site.example:443/x", "https://site.example/x"),
        ("http://site.example:80/x", "http://site.example/x"),
        ("http://site.example:443/x", "http://site.example:443/x"),
        ("https://site.example:80/x", "https://site.example:80/x"),
        ("https://site.example:8443/x", "https://site.example:8443/x"),
        # fragments dropped; the query (even an empty one) kept
        ("https://site.example/a#frag", "https://site.example/a"),
        ("https://site.example/a?b=1#frag", "https://site.example/a?b=1"),
        ("https://site.example/a?", "https://site.example/a?"),
        ("https://site.example/a?#x", "https://site.example/a?"),
        # a trailing dot of the host is kept (WHATWG), so are userinfo and odd host names
        ("https://site.example./x", "https://site.example./x"),
        ("https://user:pw@site.example/", "https://user:pw@site.example/"),
        ("https://-ok.example/", "https://-ok.example/"),
        ("https://a_b.example/", "https://a_b.example/"),
        # dot segments resolved, characters percent-encoded, backslashes and slashes
        ("https://site.example/a/./b", "https://site.example/a/b"),
        ("https://site.example/a/../b", "https://site.example/b"),
        ("https://site.example/..", "https://site.example/"),
        ("https://site.example/%2e%2E/b", "https://site.example/b"),
        ("https://site.example/.%2e/b", "https://site.example/b"),
        ("https://site.example/a b", "https://site.example/a%20b"),
        ("https://site.example/a\\b", "https://site.example/a/b"),
        ("https://site.example/a\tb", "https://site.example/ab"),
        ("https:///x", "https://x/"),
        ("https://site.example/ä?ä", "https://site.example/%C3%A4?%C3%A4"),
        # IDN hosts as punycode
        ("https://bücher.example/p", "https://xn--bcher-kva.example/p"),
        ("https://BÜCHER.example/p", "https://xn--bcher-kva.example/p"),
        ("https://xn--bcher-kva.example/p", "https://xn--bcher-kva.example/p"),
        ("https://1.2.3.4/x", "https://1.2.3.4/x"),
    ],
)
def test_canonical_forms(url: str, canonical: str) -> None:
    assert urls.canonicalize(url) == canonical
    assert urls.canonicalize(canonical) == canonical  # idempotent
    assert urls.is_canonical(canonical) is True
    assert urls.is_canonical(url) is (url == canonical)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://site.example/", urls.UnsupportedURL),
        ("javascript:alert(1)", urls.UnsupportedURL),
        ("https://bücher\u00df.example/", urls.UnsupportedURL),  # a UTS 46 deviation
        ("site.example/a", urls.InvalidURL),
        ("/relative", urls.InvalidURL),
        ("", urls.InvalidURL),
        ("https://", urls.InvalidURL),
        ("https://site.example:99999/", urls.InvalidURL),
        ("https://site.example:port/", urls.InvalidURL),
        ("https://exa mple/", urls.InvalidURL),
        ("https://1.2.3.256/", urls.InvalidURL),
        ("https://[::zz]/", urls.InvalidURL),
        ("https://%FF.example/", urls.InvalidURL),
    ],
)
def test_not_serializable(url: str, error: type[ManifestError]) -> None:
    with pytest.raises(error) as info:
        urls.canonicalize(url)
    assert info.value.detail in ("invalid_url", "unsupported_url")
    assert urls.is_canonical(url) is False


@pytest.mark.parametrize(
    ("relative", "base", "canonical"),
    [
        ("app.js", "https://site.example/", "https://site.example/app.js"),
        ("/a/b.js", "https://site.example/", "https://site.example/a/b.js"),
        ("?q", "https://site.example/dir/page", "https://site.example/dir/page?q"),
        ("//cdn.example/z", "https://site.example/", "https://cdn.example/z"),
        ("x.js#f", "https://site.example:443/", "https://site.example/x.js"),
    ],
)
def test_relative_resolved_against_base(relative: str, base: str, canonical: str) -> None:
    assert urls.canonicalize(relative, base) == canonical


@pytest.mark.parametrize(
    ("url", "host", "origin"),
    [
        ("https://site.example/index.html", "site.example", "https://site.example"),
        ("https://Site.Example:8443/x", "site.example", "https://site.example:8443"),
        ("https://site.example./", "site.example", "https://site.example."),
        ("https://site.example.:443/", "site.example", "https://site.example."),
        ("http://site.example:80/", "site.example", "http://site.example"),
        ("https://bücher.example/", "xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://1.2.3.4:8080/", "1.2.3.4", "https://1.2.3.4:8080"),
    ],
)
def test_tree_host_and_origin(url: str, host: str, origin: str) -> None:
    assert urls.tree_host(url) == host
    assert urls.origin_of(url) == origin


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Site.Example", "site.example"),
        ("site.example.", "site.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_host(host: str, normal: str) -> None:
    assert urls.normalize_host(host) == normal


@pytest.mark.parametrize("host", ["", ".", "a..b", "a b", "-a.example", "a-.example", "a" * 64])
def test_normalize_host_rejects(host: str) -> None:
    with pytest.raises(ManifestError):
        urls.normalize_host(host)


def test_manifest_keys_must_already_be_canonical() -> None:
    """A v2 manifest key is accepted only when it is its own canonical form."""
    good = {"hashes": {ORIGIN + "/a.js": h64u(b"a"), "https://xn--bcher-kva.example/": h64u(b"b")}}
    manifest = parse_manifest(json.dumps(good).encode(), ORIGIN)
    assert set(manifest.hashes) == set(good["hashes"])
    for key in (ORIGIN + ":443/a.js", "https://SITE.example/a.js", ORIGIN + "/a.js#f", "/a.js"):
        with pytest.raises(ManifestError):
            parse_manifest(json.dumps({"hashes": {key: h64u(b"a")}}).encode(), ORIGIN)


# --- verifier.header.parse_policy -------------------------------------------------------------

BASE = 'max-age=60, mode=enforce, manifest="/m"'


def test_header_name() -> None:
    assert HEADER_NAME == "Integrity-Policy-WAICT-v1"


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        (BASE, Policy(60, "enforce", "/m")),
        (
            'max-age=0, mode=report, manifest="https://cdn.example/m"',
            Policy(0, "report", "https://cdn.example/m"),
        ),
        # order does not matter; the last duplicate wins (RFC 9651 dictionaries)
        ('manifest="/m", mode=report, max-age=5, mode=enforce', Policy(5, "enforce", "/m")),
        # parameters on members are ignored
        ('max-age=5;x=1, mode=enforce;y, manifest="/m";z=2', Policy(5, "enforce", "/m")),
        (
            'max-age=999999999999999, mode=enforce, manifest="/m"',
            Policy(999999999999999, "enforce", "/m"),
        ),
        # optional keys
        (BASE + ", preload", Policy(60, "enforce", "/m", preload=True)),
        (BASE + ", preload=?1", Policy(60, "enforce", "/m", preload=True)),
        (BASE + ", preload=?0", Policy(60, "enforce", "/m", preload=False)),
        (BASE + ", preload=1", Policy(60, "enforce", "/m", preload=False)),  # invalid: ignored
        (BASE + ', endpoints=("a" b)', Policy(60, "enforce", "/m", endpoints=("a", "b"))),
        (BASE + ", endpoints=a", Policy(60, "enforce", "/m")),  # not an inner list: ignored
        (BASE + ", endpoints=(1 2)", Policy(60, "enforce", "/m")),
        # unknown keys ignored
        (BASE + ", unknown=?1, x=(a b);c, y=:AAAA:", Policy(60, "enforce", "/m")),
        # v1 compatibility
        (
            BASE + ", blocked-destinations=(script style)",
            Policy(60, "enforce", "/m", blocked_destinations=("script", "style")),
        ),
        (BASE + ", blocked-destinations=()", Policy(60, "enforce", "/m", blocked_destinations=())),
    ],
)
def test_valid_headers(value: str, policy: Policy) -> None:
    assert parse_policy(value) == policy


def test_policy_properties() -> None:
    v1 = parse_policy(BASE + ", blocked-destinations=(script)")
    assert v1.is_v1 is True and v1.enforcing is True
    v2 = parse_policy('max-age=1, mode=report, manifest="/m"')
    assert v2.is_v1 is False and v2.enforcing is False


@pytest.mark.parametrize(
    "value",
    [
        # max-age missing or invalid
        'mode=enforce, manifest="/m"',
        'max-age=-1, mode=enforce, manifest="/m"',
        'max-age=1.5, mode=enforce, manifest="/m"',
        'max-age="60", mode=enforce, manifest="/m"',
        'max-age=?1, mode=enforce, manifest="/m"',
        'max-age=(1), mode=enforce, manifest="/m"',
        'max-age, mode=enforce, manifest="/m"',
        'max-age=9999999999999999, mode=enforce, manifest="/m"',  # longer than sf-integer
        # mode missing or invalid
        'max-age=60, manifest="/m"',
        'max-age=60, mode=block, manifest="/m"',
        'max-age=60, mode="enforce", manifest="/m"',
        'max-age=60, mode=ENFORCE, manifest="/m"',
        'max-age=60, mode=(enforce), manifest="/m"',
        # manifest missing or invalid
        "max-age=60, mode=enforce",
        "max-age=60, mode=enforce, manifest=m",
        'max-age=60, mode=enforce, manifest=""',
        "max-age=60, mode=enforce, manifest=:AAAA:",
        'max-age=60, mode=enforce, manifest=%"/m"',
        'max-age=60, mode=enforce, manifest=("/m")',
        # not a dictionary at all / not ASCII
        "",
        "not a dictionary;;",
        'max-age=60, mode=enforce, manifest="/m",',
        'max-age=60, mode=enforce, manifest="/ü"',
        # an invalid blocked-destinations voids the header: it decides the manifest format
        BASE + ', blocked-destinations=("script")',
        BASE + ", blocked-destinations=script",
        BASE + ", blocked-destinations=(1)",
    ],
)
def test_invalid_headers_are_void(value: str) -> None:
    with pytest.raises(HeaderError):
        parse_policy(value)


@pytest.mark.parametrize("value", [None, 5, b'max-age=60, mode=enforce, manifest="/m"'])
def test_non_string_header(value: object) -> None:
    with pytest.raises(HeaderError):
        parse_policy(value)  # type: ignore[arg-type]


def test_header_error_is_waict_error() -> None:
    with pytest.raises(WaictError) as info:
        parse_policy("mode=enforce")
    assert info.value.detail == "invalid_header"


# --- verifier.csp.inline_csp ------------------------------------------------------------------


def _manifest(**members: object) -> object:
    obj = {"hashes": {ORIGIN + "/": h64u(b"page")}, **members}
    return parse_manifest(json.dumps(obj).encode(), ORIGIN)


def _sri(data: bytes) -> str:
    return "'sha256-" + base64.b64encode(sha256(data)).decode() + "'"


def test_no_csp_without_inline_lists() -> None:
    assert inline_csp(_manifest()) is None  # type: ignore[arg-type]
    assert inline_csp(_manifest(wasm_hashes=[h64u(b"w")])) is None  # type: ignore[arg-type]


def test_no_csp_for_tombstone() -> None:
    tomb = parse_manifest(b'{"hashes":{},"emergency_opt_out":true,"inline_js_hashes":[]}', ORIGIN)
    assert inline_csp(tomb) is None


def test_script_and_style_hashes() -> None:
    js = sorted([h64u(b"alert(1)"), h64u(b"console.log(2)")])
    css = [h64u(b"body{}")]
    csp = inline_csp(_manifest(inline_js_hashes=js, inline_css_hashes=css))  # type: ignore[arg-type]
    # sources in the order of the raw digests (deterministic output)
    ordered = sorted([b"alert(1)", b"console.log(2)"], key=sha256)
    js_sources = " ".join(_sri(d) for d in ordered)
    assert csp == (
        f"script-src * 'wasm-unsafe-eval' {js_sources}; worker-src *; "
        f"style-src * blob: data: {_sri(b'body{}')}"
    )
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in csp


def test_script_list_only() -> None:
    csp = inline_csp(_manifest(inline_js_hashes=[h64u(b"x")]))  # type: ignore[arg-type]
    assert csp == f"script-src * 'wasm-unsafe-eval' {_sri(b'x')}; worker-src *"
    assert "style-src" not in csp


def test_style_list_only() -> None:
    csp = inline_csp(_manifest(inline_css_hashes=[h64u(b"y")]))  # type: ignore[arg-type]
    # an inline list is present, so eval, blob: and data: code are blocked (design.md 3.2)
    assert csp == (
        "script-src * 'unsafe-inline' 'wasm-unsafe-eval'; worker-src *; "
        f"style-src * blob: data: {_sri(b'y')}"
    )


def test_empty_inline_list_blocks_all_inline_and_eval() -> None:
    """An empty list still covers inline code: no hashes, no 'unsafe-inline', no eval."""
    csp = inline_csp(_manifest(inline_js_hashes=[]))  # type: ignore[arg-type]
    assert csp == "script-src * 'wasm-unsafe-eval'; worker-src *"
    assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp


def test_csp_hashes_are_standard_base64() -> None:
    """SRI hash sources are standard base64 with padding, not the manifest's base64url."""
    data = next(
        bytes([i]) for i in range(256) if "-" in h64u(bytes([i])) or "_" in h64u(bytes([i]))
    )
    csp = inline_csp(_manifest(inline_js_hashes=[h64u(data)]))  # type: ignore[arg-type]
    assert csp is not None and csp.startswith(f"script-src * 'wasm-unsafe-eval' {_sri(data)};")
    source = csp.split("'sha256-")[1].split("'")[0]
    assert "-" not in source and "_" not in source
    assert csp.split("'sha256-")[1].split(";")[0].endswith("='")


def test_ipv6_literal_hosts() -> None:
    assert urls.canonicalize("https://[::1]/") == "https://[::1]/"
    assert urls.canonicalize("http://[0:0::1]:8080/a") == "http://[::1]:8080/a"
    assert urls.tree_host("http://[::1]:8080/") == "::1"
    with pytest.raises(ManifestError):
        urls.canonicalize("https://[::zz]/")
