"""Property tests: random bytes and mutated valid encodings against every parser and check.

The contract (verifier/errors.py): on bad input nothing but a ``WaictError`` subclass may
escape from the library, and ``decide`` never raises on anything inside the scenario's byte
fields. Each property also pins what a *successful* parse means (strict formats re-encode
to the exact input), and each ``decide`` property has an exact oracle for the verdict.

Mutations start from valid encodings built with tests/world.py (bit flips, byte changes,
truncations, deletions, insertions of random bytes and of interesting tokens, splices with
other valid encodings, duplications), plus structure-aware JSON mutations (replace, rename
or delete a member deep inside a manifest / trust object). Runs are derandomized, so a
failure reproduces; ``max_examples`` keeps the whole file well under a minute.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from world import DAY, World, b64, h64u, manifest_line

from verifier import chain, decide, mpt, urls
from verifier.chain import ChainNode, Entry
from verifier.crypto import ed25519_public_key, sha256
from verifier.devids import parse_dev_members
from verifier.encoding import b64decode, b64encode, b64udecode, b64uencode
from verifier.errors import (
    ChainError,
    DevIdsError,
    EncodingError,
    HeaderError,
    ManifestError,
    NoteError,
    PreloadError,
    ProofError,
    ScenarioError,
    TreeProofError,
    TrustConfigError,
    WaictError,
)
from verifier.header import MODES, parse_policy
from verifier.manifest import parse_manifest, parse_manifest_response
from verifier.note import Cosignature, NoteBody, SignedNote, parse_note
from verifier.preload import parse_preload_list
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key
from verifier.trust import parse_trust

T = TypeVar("T")

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_SLOW = settings(FUZZ, max_examples=120)
FUZZ_FAST = settings(FUZZ, max_examples=600)  # cheap pure parsers

SPEC_REASONS = {
    "manifest_unavailable",
    "invalid_manifest",
    "invalid_transparency_proof",
    "missing_from_manifest",
    "no_manifest_match",
    "wasm_hash_mismatch",
}
MANIFEST_REASONS = {"manifest_unavailable", "invalid_manifest", "invalid_transparency_proof"}

# --- a deterministic world with valid encodings to mutate -------------------------------------

WORLD = World()
NOW = WORLD.now
W1, W2, W3 = WORLD.witness_names
TRUST = WORLD.trust(quorum=2)  # w1 and w2 trusted, both needed: losing either fails closed

SITE = "site.example"
ORIGIN = f"https://{SITE}"
HEADER = 'max-age=86400, mode=enforce, manifest="/.well-known/waict/manifests/v1"'
DELIM = "/*--*/"
PARTS = (b"part one", b"part two")
WASM = b"\x00asm\x01\x00\x00\x00"
FILES: dict[str, tuple[str, bytes]] = {
    "/index.html": ("document", b"<!doctype html><script src=/app.js></script>"),
    "/app.js": ("script", b"console.log('app');"),
    "/style.css": ("style", b"body{color:black}"),
    "/logo.png": ("image", b"\x89PNG fake image"),
}
SITE_MANIFEST: dict[str, Any] = {
    "hashes": {ORIGIN + p: h64u(body) for p, (_, body) in FILES.items()},
    "wasm_hashes": [h64u(WASM)],
    "wildcard_hashes": sorted(h64u(p) for p in PARTS),
    "resource_delimiter": DELIM,
    "inline_js_hashes": [h64u(b"inline()")],
    "fallback_hashes": [],
    "x-plugin": {"anything": [1, 2, "three"]},
}
# url, destination, body; "covered listed" ones must match exactly
SITE_RESOURCES: list[tuple[str, str, bytes]] = [
    *[(ORIGIN + p, d, body) for p, (d, body) in FILES.items()],
    (ORIGIN + "/m.wasm", "wasm", WASM),
    (ORIGIN + "/bundle.js", "script", DELIM.encode().join(PARTS)),
    (ORIGIN + "/api", "fetch", b'{"ok":true}'),
    (ORIGIN + "/unlisted.png", "image", b"any image"),
]

# dev.example: an earlier manifest announcing dev-ids, logged and cosigned 2-3 days ago
DEV = "dev.example"
DEV_ID = "ed25519:" + b64uencode(ed25519_public_key(sha256(b"dev key")))
DEV_EARLIER = manifest_line({"hashes": {}, "dev-ids": [DEV_ID]})
WORLD.log(DEV, DEV_EARLIER, time_created=NOW - 3 * DAY)
DEV_PROOF = WORLD.proof(DEV, note=WORLD.note({W1: NOW - 2 * DAY, W2: NOW - 2 * DAY}))
DEV_MANIFEST: dict[str, Any] = {
    "hashes": {f"https://{DEV}/": h64u(b"dev page")},
    "dev-ids": [DEV_ID],
    "dev-ids-inclusion": {"manifest": DEV_EARLIER.decode(), "proof": DEV_PROOF.to_b64()},
}
DEV_LINE = manifest_line(DEV_MANIFEST)
DEV_RESPONSE = WORLD.response(DEV_LINE, "")  # max-age=0: no proof of its own

# the site and the preload list (listing bank.example), logged now
SITE_LINE = manifest_line(SITE_MANIFEST)
WORLD.log(SITE, SITE_LINE)
BANK = "bank.example"
PRELOAD_LINE = manifest_line(
    {
        "version": 1,
        "issued": NOW - DAY,
        "expires": NOW + 14 * DAY,
        "entries": {BANK: {"transparency": True, "dev-ids": False}},
    }
)
WORLD.log("preload.example", PRELOAD_LINE)
SITE_PROOF = WORLD.proof(SITE)
PRELOAD_PROOF = WORLD.proof("preload.example")
SITE_RESPONSE = WORLD.response(SITE_LINE, SITE_PROOF)
PRELOAD_RESPONSE = WORLD.response(PRELOAD_LINE, PRELOAD_PROOF)
TOMBSTONE_LINE = manifest_line({"hashes": {}, "emergency_opt_out": True})

V1_HEADER = (
    'manifest="/waict-manifest.json", blocked-destinations=(script style), mode=enforce, max-age=0'
)
V1_BODY = json.dumps(
    {
        "hashes": {
            "/app.js": base64.b64encode(sha256(FILES["/app.js"][1])).decode(),
            "style.css": h64u(FILES["/style.css"][1]),
            ORIGIN + "/index.html": h64u(FILES["/index.html"][1]),
        }
    },
    indent=4,
).encode()

LEAVES = WORLD.leaves()
ROOT = mpt.compute_root(LEAVES)
INCLUSION_PROOFS = [mpt.prove_inclusion(LEAVES, i) for i in range(len(LEAVES))]
ABSENT_KEY = tree_key("absent.example")
NON_INCLUSION_PROOF = mpt.prove_non_inclusion(LEAVES, ABSENT_KEY)

HEADERS = [
    HEADER,
    V1_HEADER,
    'max-age=0, mode=report, manifest="/m", preload, endpoints=(main "backup")',
    'mode=enforce;p=1, manifest="https://site.example/m", max-age=60, x=(a b);c',
]
MANIFEST_LINES = [SITE_LINE, DEV_LINE, DEV_EARLIER, TOMBSTONE_LINE, PRELOAD_LINE, b'{"hashes":{}}']
RESPONSES = [
    SITE_RESPONSE,
    PRELOAD_RESPONSE,
    DEV_RESPONSE,
    WORLD.response(TOMBSTONE_LINE, SITE_PROOF),
]
PROOFS = [SITE_PROOF.encode(), PRELOAD_PROOF.encode(), DEV_PROOF.encode()]
NOTES = [SITE_PROOF.note, DEV_PROOF.note, WORLD.note({W1: NOW, W2: NOW, W3: NOW}).encode()]
NODES = [n.encode() for nodes in WORLD.chains.values() for n in nodes]
ASSET_VECTORS = [
    chain.encode_asset_hosts([]),
    chain.encode_asset_hosts(["https://a.example/", "https://b.example/", "https://ä.example/"]),
]
URLS = [
    ORIGIN + "/app.js",
    "https://Site.Example:443/a/b?c=d#e",
    "http://xn--bcher-kva.example:8080/",
    "https://bücher.example./x",
    "app.js",
    "//cdn.example/lib.js",
]
SEED_BYTES = MANIFEST_LINES + RESPONSES + PROOFS + NOTES + NODES + ASSET_VECTORS

# --- mutation strategies ----------------------------------------------------------------------

TOKENS = [
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xe2\x80\x94 ",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b",",
    b":",
    b"=",
    b"==",
    b"\\",
    b"\\ud800",
    b"\\u0000",
    b'"\\ud800"',
    b"//[",
    b"[::1]",
    b"/../",
    b"%2e",
    b"xn--",
    b"-1",
    b"0",
    b"00",
    b"18446744073709551616",
    b"1e400",
    b"NaN",
    b"true",
    b"null",
    b"[]",
    b"{}",
    b"?1",
    b"?0",
    b"(",
    b")",
    b";",
    b"*",
    b"mptproof\x01",
    b"mptnoincl\x01",
    b"/prefix-tree",
    b'"emergency_opt_out":true,',
    b", max-age=0",
    b", blocked-destinations=(script)",
    b", mode=report",
    b"#frag",
    b"@",
    b":443",
    b"\xf0\x9f\x98\x80",
]
OPS = ("flip", "byte", "truncate", "delete", "insert", "token", "splice", "duplicate")


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_ops: int = 4) -> bytes:
    """A valid encoding with 1..max_ops random edits (may, rarely, come back unchanged)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(OPS))
        n = len(data)
        pos = draw(st.integers(0, n))
        if op == "flip" and n:
            data[min(pos, n - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            data[min(pos, n - 1)] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            data[pos:] = other[draw(st.integers(0, len(other))) :]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


def fuzz_bytes(seeds: Sequence[bytes], max_size: int = 400) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=max_size), mutated(seeds))


def as_text(data: bytes) -> str:
    """Bytes to str for text entry points; undecodable bytes become lone surrogates."""
    return data.decode("utf-8", errors="surrogateescape")


INTERESTING_JSON: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**64,
    10**30,
    "",
    " ",
    "\ud800",
    "\x00",
    "ü",
    "präload.example",
    "//[x",
    "http://[::1",
    "../x",
    "/a/../b",
    "%2e%2e",
    "https://site.example/a",
    "HTTPS://SITE.example/",
    "AAAA",
    "=",
    "a" * 300,
    [],
    {},
    ["\ud800"],
    [1, 2],
    {"manifest": "\ud800", "proof": ""},
    {"manifest": "{}", "proof": "AAAA"},
    {"id": DEV_ID, "sig": "AAAA"},
    [DEV_ID, DEV_ID],
    ["ed25519:AAAA"],
    ["sigstore:issuer|subject"],
    {"transparency": True, "dev-ids": True},
]


def _slots(obj: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key-or-index) inside a JSON value."""
    if isinstance(obj, dict):
        for k in list(obj):
            yield obj, k
            yield from _slots(obj[k])
    elif isinstance(obj, list):
        for i in range(len(obj)):
            yield obj, i
            yield from _slots(obj[i])


STRING_TOKENS = [
    "\ud800",
    "\udfff",
    "\x00",
    "[",
    "]",
    "//[",
    "@",
    ":",
    "#",
    "?",
    "/../",
    "%2e",
    " ",
    "\n",
    "ü",
    "\u2014",
    "=",
    "|",
    "xn--",
]


@st.composite
def edited_string(draw: st.DrawFn, text: str) -> str:
    """``text`` with a token inserted, or a character replaced, somewhere inside."""
    pos = draw(st.integers(0, len(text)))
    token = draw(st.sampled_from(STRING_TOKENS) | st.text(min_size=1, max_size=3))
    drop = draw(st.integers(0, 1))
    return text[:pos] + token + text[pos + drop :]


@st.composite
def json_mutated_obj(draw: st.DrawFn, seeds: Sequence[Any]) -> Any:
    """A JSON value with 1..3 edits deep inside: replace a value (by an interesting one,
    random text, or the same string with a token inserted), rename a key, delete a member."""
    obj = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(_slots(obj))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(("replace", "edit", "edit", "rename", "delete", "text")))
        if action == "delete":
            del container[key]
        elif action == "rename" and isinstance(container, dict):
            name = draw(
                edited_string(key)
                | st.sampled_from([v for v in INTERESTING_JSON if isinstance(v, str)])
            )
            container[name] = container.pop(key)
        elif action == "edit" and isinstance(container[key], str):
            container[key] = draw(edited_string(container[key]))
        elif action == "text":
            container[key] = draw(st.text(max_size=20))
        else:
            container[key] = copy.deepcopy(draw(st.sampled_from(INTERESTING_JSON)))
    return obj


def json_mutated(seeds: Sequence[Any]) -> st.SearchStrategy[bytes]:
    return json_mutated_obj(seeds).map(
        lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=True).encode()
    )


def only(errors: type[WaictError], fn: Callable[..., T], *args: Any, **kw: Any) -> T | None:
    """Call fn; a WaictError must be of class ``errors``; anything else propagates (fails)."""
    try:
        return fn(*args, **kw)
    except WaictError as exc:
        assert isinstance(exc, errors), f"{type(exc).__name__} is not a {errors.__name__}: {exc}"
        assert isinstance(exc.detail, str) and exc.detail
        return None


# --- headers ----------------------------------------------------------------------------------


@FUZZ_FAST
@given(st.one_of(st.text(max_size=120), mutated([h.encode() for h in HEADERS]).map(as_text)))
def test_parse_policy(value: str) -> None:
    policy = only(HeaderError, parse_policy, value)
    if policy is None:
        return
    assert isinstance(policy.max_age, int) and not isinstance(policy.max_age, bool)
    assert policy.max_age >= 0
    assert policy.mode in MODES
    assert isinstance(policy.manifest, str) and policy.manifest
    assert isinstance(policy.preload, bool)
    assert all(isinstance(e, str) for e in policy.endpoints)
    assert policy.blocked_destinations is None or all(
        isinstance(d, str) for d in policy.blocked_destinations
    )
    assert value.isascii()
    assert parse_policy(value) == policy


# --- manifests --------------------------------------------------------------------------------


def _check_manifest(m: Any, line: bytes, v1: bool) -> None:
    assert m.line == line
    if m.tombstone:
        assert m.hashes == {}
        return
    for url, digest in m.hashes.items():
        assert urls.is_canonical(url), url
        assert len(digest) == 32
    for hashes in (m.wasm_hashes, m.fallback_hashes, m.wildcard_hashes):
        assert all(len(h) == 32 for h in hashes)
    if not v1:
        raw = json.loads(line)
        assert set(m.hashes) == set(raw["hashes"])


MANIFEST_OBJS = [json.loads(line) for line in MANIFEST_LINES if line.startswith(b"{")]


@FUZZ_FAST
@given(st.one_of(fuzz_bytes(MANIFEST_LINES), json_mutated(MANIFEST_OBJS)))
def test_parse_manifest_v2(line: bytes) -> None:
    m = only(ManifestError, parse_manifest, line, ORIGIN)
    if m is not None:
        _check_manifest(m, line, v1=False)


@FUZZ_FAST
@given(st.one_of(fuzz_bytes([V1_BODY, *MANIFEST_LINES]), json_mutated([json.loads(V1_BODY)])))
def test_parse_manifest_v1(body: bytes) -> None:
    m = only(ManifestError, parse_manifest, body, ORIGIN, v1=True)
    if m is not None:
        _check_manifest(m, body, v1=True)


@FUZZ
@given(fuzz_bytes(RESPONSES, max_size=600))
def test_parse_manifest_response_v2(body: bytes) -> None:
    response = only(ManifestError, parse_manifest_response, body, ORIGIN)
    if response is None:
        return
    assert isinstance(response.proof, str)
    # strict framing: the response is exactly line \n proof \n
    assert body == response.manifest.line + b"\n" + response.proof.encode() + b"\n"


@FUZZ
@given(fuzz_bytes([V1_BODY, SITE_RESPONSE]))
def test_parse_manifest_response_v1(body: bytes) -> None:
    response = only(ManifestError, parse_manifest_response, body, ORIGIN, v1=True)
    if response is None:
        return
    assert response.proof is None
    assert response.manifest.line == body.strip(b" \t\r\n")


# --- chain, proof, note -----------------------------------------------------------------------


@FUZZ
@given(fuzz_bytes(NODES + [n[:80] for n in NODES], max_size=130))
def test_entry_and_chain_node_decode(data: bytes) -> None:
    entry = only(ChainError, Entry.decode, data)
    assert (entry is not None) is (len(data) == 80)  # every 80-byte string is an Entry
    if entry is not None:
        assert entry.encode() == data
    node = only(ChainError, ChainNode.decode, data)
    assert (node is not None) is (len(data) == 112)
    if node is not None:
        assert node.encode() == data
        assert len(node.next_chain_hash()) == 32


@FUZZ
@given(fuzz_bytes(ASSET_VECTORS, max_size=80))
def test_decode_asset_hosts(data: bytes) -> None:
    hosts = only(ChainError, chain.decode_asset_hosts, data)
    if hosts is not None:
        assert chain.encode_asset_hosts(hosts) == data
        assert hosts == sorted(set(hosts), key=lambda h: h.encode())


@FUZZ_FAST
@given(fuzz_bytes(PROOFS, max_size=700))
def test_chain_head_with_proof_decode(data: bytes) -> None:
    proof = only(ProofError, ChainHeadWithProof.decode, data)
    if proof is not None:
        assert proof.encode() == data  # strict: exact lengths, no trailing bytes


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        mutated([b64encode(p).encode() for p in PROOFS]).map(as_text),
        mutated(PROOFS).map(b64encode),
    )
)
def test_chain_head_with_proof_from_b64(text: str) -> None:
    proof = only(ProofError, ChainHeadWithProof.from_b64, text)
    if proof is not None:
        assert proof.to_b64() == text


@FUZZ_FAST
@given(fuzz_bytes(NOTES, max_size=500))
def test_parse_note(data: bytes) -> None:
    note = only(NoteError, parse_note, data)
    if note is not None:
        assert note.encode() == data  # one text form per note
        assert note.body.origin.endswith("/prefix-tree")
        assert len(note.body.root) == 32
        assert all(len(c.key_id) == 4 and len(c.signature) == 64 for c in note.cosignatures)


# --- the tree ---------------------------------------------------------------------------------


@FUZZ
@given(
    st.binary(min_size=32, max_size=32) | st.sampled_from([ROOT]),
    st.binary(min_size=32, max_size=32) | st.sampled_from([k for k, _ in LEAVES]),
    st.binary(min_size=32, max_size=32) | st.sampled_from([v for _, v in LEAVES]),
    fuzz_bytes(INCLUSION_PROOFS, max_size=300),
)
def test_verify_inclusion_random(root: bytes, key: bytes, value: bytes, proof: bytes) -> None:
    result = only(TreeProofError, mpt.verify_inclusion, root, key, value, proof)
    assert result is None or isinstance(result, bool)
    if result:  # only a genuine proof of a genuine leaf verifies
        assert root == ROOT and (key, value) in LEAVES
        assert proof == INCLUSION_PROOFS[LEAVES.index((key, value))]


@FUZZ
@given(st.integers(0, len(LEAVES) - 1), mutated(INCLUSION_PROOFS, max_ops=2))
def test_verify_inclusion_mutated(index: int, proof: bytes) -> None:
    key, value = LEAVES[index]
    result = only(TreeProofError, mpt.verify_inclusion, ROOT, key, value, proof)
    assert result is None or isinstance(result, bool)
    if proof == INCLUSION_PROOFS[index]:
        assert result is True
    else:
        assert result is not True


@FUZZ
@given(
    st.binary(min_size=32, max_size=32) | st.sampled_from([ABSENT_KEY, *(k for k, _ in LEAVES)]),
    fuzz_bytes([NON_INCLUSION_PROOF, b"mptnoincl\x00", *INCLUSION_PROOFS], max_size=300),
)
def test_verify_non_inclusion(key: bytes, proof: bytes) -> None:
    result = only(TreeProofError, mpt.verify_non_inclusion, ROOT, key, proof)
    assert result is None or isinstance(result, bool)
    present = {k for k, _ in LEAVES}
    if key in present:
        assert result is not True
    if key == ABSENT_KEY and proof == NON_INCLUSION_PROOF:
        assert result is True
    empty = only(TreeProofError, mpt.verify_non_inclusion, mpt.EMPTY_ROOT, key, proof)
    assert empty is None or empty is (proof == b"mptnoincl\x00")


@FUZZ
@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=40))
def test_tree_wrong_sizes_raise(root: bytes, key: bytes, value: bytes) -> None:
    sizes_ok = len(root) == len(key) == len(value) == 32
    result = only(TreeProofError, mpt.verify_inclusion, root, key, value, INCLUSION_PROOFS[0])
    assert result is (False if sizes_ok else None)  # random root: never True
    result = only(TreeProofError, mpt.verify_non_inclusion, root, key, NON_INCLUSION_PROOF)
    assert result is (False if len(root) == len(key) == 32 else None)


# --- encodings --------------------------------------------------------------------------------


def _ref_b64(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode() == text else None


def _ref_b64u(text: str) -> bytes | None:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if not set(text) <= alphabet or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if base64.urlsafe_b64encode(data).decode().rstrip("=") == text else None


B64_SEEDS = [b64encode(bytes(range(n))).encode() for n in range(0, 8)] + [
    b64encode(PROOFS[0][:40]).encode()
]
B64U_SEEDS = [b64uencode(bytes(range(250, 256))[:n]).encode() for n in range(0, 7)]


@FUZZ
@given(st.one_of(st.text(max_size=40), mutated(B64_SEEDS + B64U_SEEDS).map(as_text)))
def test_b64decode_matches_reference(text: str) -> None:
    assert only(EncodingError, b64decode, text) == _ref_b64(text)


@FUZZ
@given(st.one_of(st.text(max_size=40), mutated(B64_SEEDS + B64U_SEEDS).map(as_text)))
def test_b64udecode_matches_reference(text: str) -> None:
    assert only(EncodingError, b64udecode, text) == _ref_b64u(text)


@pytest.mark.parametrize("value", [None, 5, b"AAAA", ["AAAA"]])
def test_decoders_reject_non_strings(value: Any) -> None:
    for fn in (b64decode, b64udecode):
        with pytest.raises(EncodingError):
            fn(value)


@FUZZ
@given(st.binary(max_size=64))
def test_b64_round_trips(data: bytes) -> None:
    assert b64decode(b64encode(data)) == data
    assert b64udecode(b64uencode(data)) == data
    assert "=" not in b64uencode(data)


# --- URLs -------------------------------------------------------------------------------------


@FUZZ_FAST
@given(
    st.one_of(
        st.text(max_size=60),
        mutated([u.encode() for u in URLS]).map(as_text),
        st.sampled_from(URLS).flatmap(edited_string),
    ),
    st.sampled_from([None, ORIGIN + "/", "https://site.example/dir/page"]),
)
def test_canonicalize(url: str, base: str | None) -> None:
    canon = only(ManifestError, urls.canonicalize, url, base)
    assert isinstance(urls.is_canonical(url), bool)
    if canon is None:
        if base is None:
            assert urls.is_canonical(url) is False
        return
    assert urls.canonicalize(canon) == canon  # idempotent
    assert urls.is_canonical(canon) is True
    assert canon.startswith(("https://", "http://"))
    assert "#" not in canon
    host = only(ManifestError, urls.tree_host, canon)  # a URL host need not be a DNS name
    if host is not None:
        assert urls.normalize_host(host) == host
        assert host.isascii()
    assert urls.origin_of(canon) == urls.origin_of(urls.origin_of(canon) + "/")


# --- preload list, dev members, trust ---------------------------------------------------------


PRELOAD_OBJS = [json.loads(PRELOAD_LINE)]


@FUZZ
@given(st.one_of(fuzz_bytes([PRELOAD_LINE]), json_mutated(PRELOAD_OBJS)))
def test_parse_preload_list(line: bytes) -> None:
    plist = only(PreloadError, parse_preload_list, line)
    if plist is None:
        return
    assert plist.version == 1
    assert plist.issued >= 0 and plist.expires >= 0
    for host, entry in plist.entries.items():
        assert urls.normalize_host(host) == host
        assert isinstance(entry.transparency, bool) and isinstance(entry.dev_ids, bool)


DEV_OBJS = [DEV_MANIFEST, json.loads(DEV_EARLIER), {"dev-sigs": [{"id": DEV_ID, "sig": "AAAA"}]}]


@FUZZ
@given(json_mutated_obj(DEV_OBJS))
def test_parse_dev_members(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    dev = only(DevIdsError, parse_dev_members, obj)
    names = ("dev-ids", "dev-ids-next", "dev-ids-inclusion", "dev-sigs")
    if not any(n in obj for n in names):
        assert dev is None
    if dev is None:
        return
    for ids in (dev.ids, dev.next_ids):
        assert ids is None or list(ids) == sorted(set(ids))


TRUST_OBJS = [TRUST, WORLD.trust(quorum=1, witnesses=[W1, W2, W3])]


@FUZZ
@given(
    st.one_of(
        json_mutated_obj(TRUST_OBJS),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_parse_trust(obj: Any) -> None:
    trust = only(TrustConfigError, parse_trust, obj)
    if trust is None:
        return
    assert trust.quorum >= 1
    assert all(len(w.public_key) == 32 for w in trust.witnesses)
    assert parse_trust(trust.to_json()) == trust


# --- round trips ------------------------------------------------------------------------------


u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
entries = st.builds(Entry, u64, u64, h32, h32)
nodes = st.builds(ChainNode, entries, h32)


@FUZZ
@given(entries)
def test_entry_round_trip(entry: Entry) -> None:
    data = entry.encode()
    assert len(data) == 80
    assert Entry.decode(data) == entry
    assert Entry.decode(data).encode() == data


@FUZZ
@given(nodes)
def test_chain_node_round_trip(node: ChainNode) -> None:
    data = node.encode()
    assert len(data) == 112
    assert ChainNode.decode(data) == node
    assert ChainNode.decode(data).encode() == data


@FUZZ
@given(nodes, st.binary(max_size=300), st.binary(max_size=300))
def test_chain_head_with_proof_round_trip(head: ChainNode, tree_proof: bytes, note: bytes) -> None:
    chwp = ChainHeadWithProof(head, tree_proof, note)
    data = chwp.encode()
    assert len(data) == 112 + 2 + len(tree_proof) + 3 + len(note)
    assert ChainHeadWithProof.decode(data) == chwp
    assert ChainHeadWithProof.decode(data).encode() == data
    assert ChainHeadWithProof.from_b64(chwp.to_b64()) == chwp


visible = st.from_regex(r"[\x21-\x7e]{1,24}", fullmatch=True)
cosignatures = st.builds(
    Cosignature,
    visible,
    st.binary(min_size=4, max_size=4),
    u64,
    st.binary(min_size=64, max_size=64),
)
notes = st.builds(
    SignedNote,
    st.builds(NoteBody, visible.map(lambda d: d + "/prefix-tree"), u64, h32),
    st.lists(cosignatures, max_size=4).map(tuple),
)


@FUZZ
@given(notes)
def test_signed_note_round_trip(note: SignedNote) -> None:
    data = note.encode()
    assert parse_note(data) == note
    assert parse_note(data).encode() == data


@FUZZ
@given(st.lists(st.text(max_size=12), max_size=6))
def test_asset_hosts_round_trip(hosts: list[str]) -> None:
    data = chain.encode_asset_hosts(hosts)
    assert chain.decode_asset_hosts(data) == sorted(set(hosts), key=lambda h: h.encode())
    assert chain.encode_asset_hosts(chain.decode_asset_hosts(data)) == data


# --- MPT: random leaf sets --------------------------------------------------------------------


@st.composite
def clustered_keys(draw: st.DrawFn, min_size: int = 0, max_size: int = 16) -> list[bytes]:
    """Unique 32-byte keys that share long prefixes with a base key (deep trees)."""
    base = int.from_bytes(draw(h32), "big")
    count = draw(st.integers(min_size, max_size))
    out: dict[bytes, None] = {}
    for _ in range(count):
        shared = draw(st.integers(0, 255))
        mask = (1 << (256 - shared)) - 1
        rand = int.from_bytes(draw(h32), "big")
        out[((base & ~mask) | (rand & mask)).to_bytes(32, "big")] = None
    return list(out)


def _near(key: bytes, bit: int) -> bytes:
    return (int.from_bytes(key, "big") ^ (1 << (255 - bit))).to_bytes(32, "big")


@settings(FUZZ, max_examples=80)
@given(clustered_keys(), st.data())
def test_mpt_random_leaf_sets(keys: list[bytes], data: st.DataObject) -> None:
    values = [data.draw(h32) for _ in keys]
    leaves = list(zip(keys, values, strict=True))
    root = mpt.compute_root(leaves)
    assert mpt.compute_root(list(reversed(leaves))) == root
    if not leaves:
        assert root == mpt.EMPTY_ROOT
    present = set(keys)

    proofs = []
    for i, (k, v) in enumerate(leaves):
        proof = mpt.prove_inclusion(leaves, i)
        assert (len(proof) - 41) % 33 == 0
        assert mpt.verify_inclusion(root, k, v, proof) is True
        proofs.append(proof)
    # an inclusion proof never verifies for another key or another value
    for i, (k, v) in enumerate(leaves):
        for j, (k2, v2) in enumerate(leaves):
            if j != i:
                assert mpt.verify_inclusion(root, k2, v, proofs[i]) is False
                assert mpt.verify_inclusion(root, k2, v2, proofs[i]) is False
                if v2 != v:
                    assert mpt.verify_inclusion(root, k, v2, proofs[i]) is False
        for bit in (0, 128, 255):
            assert mpt.verify_inclusion(root, _near(k, bit), v, proofs[i]) is False

    # absent keys: random ones and ones one bit away from a present key
    absent = [data.draw(h32) for _ in range(3)]
    for k in keys[:4]:
        absent += [_near(k, data.draw(st.integers(0, 255))), _near(k, 255)]
    for a in absent:
        if a in present:
            continue
        proof = mpt.prove_non_inclusion(leaves, a)
        assert mpt.verify_non_inclusion(root, a, proof) is True
        for k in present:  # never verifies for a present key
            assert mpt.verify_non_inclusion(root, k, proof) is False
        for i, (_, v) in enumerate(leaves):  # and no inclusion proof verifies for it
            assert mpt.verify_inclusion(root, a, v, proofs[i]) is False
    for k in present:
        with pytest.raises(TreeProofError):
            mpt.prove_non_inclusion(leaves, k)


def test_mpt_empty_tree_non_inclusion() -> None:
    proof = mpt.prove_non_inclusion([], ABSENT_KEY)
    assert proof == b"mptnoincl\x00"
    assert mpt.verify_non_inclusion(mpt.EMPTY_ROOT, ABSENT_KEY, proof) is True
    assert mpt.verify_non_inclusion(ROOT, ABSENT_KEY, proof) is False


# --- decide on mutated byte fields ------------------------------------------------------------


def site_scenario(
    response: bytes | None = SITE_RESPONSE,
    header: str | None = HEADER,
    resources: Sequence[tuple[str, str, bytes]] = SITE_RESOURCES,
    trust: dict[str, Any] | None = None,
    url: str = ORIGIN + "/index.html",
    preload: bytes | None = None,
) -> dict[str, Any]:
    return WORLD.scenario(
        url, header, response, list(resources), trust=trust or TRUST, preload=preload
    )


def assert_shape(verdict: Any, scenario: dict[str, Any]) -> None:
    """The exact verdict shape of design.md section 5, and its internal consistency."""
    assert isinstance(verdict, dict) and set(verdict) == {"navigation", "manifest", "resources"}
    assert verdict["navigation"] in ("allow", "block")
    manifest = verdict["manifest"]
    assert set(manifest) == {"status", "reason", "detail"}
    assert manifest["status"] in ("none", "valid", "invalid", "tombstone")
    if manifest["status"] == "invalid":
        assert manifest["reason"] in MANIFEST_REASONS
        assert isinstance(manifest["detail"], str) and manifest["detail"]
    else:
        assert manifest["reason"] is None and manifest["detail"] is None
    assert [r["url"] for r in verdict["resources"]] == [r["url"] for r in scenario["resources"]]
    for r in verdict["resources"]:
        assert set(r) == {"url", "allowed", "reason"}
        assert isinstance(r["allowed"], bool)
        assert r["reason"] is None or r["reason"] in SPEC_REASONS
        if r["reason"] is None:
            assert r["allowed"] is True
    if manifest["status"] in ("none", "tombstone"):
        assert all(
            r == {"url": r["url"], "allowed": True, "reason": None} for r in verdict["resources"]
        )
    if manifest["status"] == "invalid":
        assert all(r["reason"] in (None, manifest["reason"]) for r in verdict["resources"])
    documents_blocked = any(
        not out["allowed"]
        for out, res in zip(verdict["resources"], scenario["resources"], strict=True)
        if res["destination"] == "document"
    )
    if documents_blocked:
        assert verdict["navigation"] == "block"


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    verdict = decide(scenario)
    assert_shape(verdict, scenario)
    return verdict


def _covered(destination: str, blocked: Sequence[str] | None = None) -> bool:
    if blocked is not None:
        return destination in blocked
    return destination not in ("fetch", "", "manifest", "report", "track", "embed")


VALID_SITE: dict[str, Any] = {
    "navigation": "allow",
    "manifest": {"status": "valid", "reason": None, "detail": None},
    "resources": [{"url": u, "allowed": True, "reason": None} for u, _, _ in SITE_RESOURCES],
}


def test_base_site_scenario_is_valid() -> None:
    assert run(site_scenario()) == VALID_SITE


@FUZZ_SLOW
@given(
    st.one_of(
        mutated([SITE_RESPONSE, PRELOAD_RESPONSE]),
        json_mutated([SITE_MANIFEST]).map(lambda line: WORLD.response(line, SITE_PROOF)),
    )
)
def test_decide_mutated_manifest_response(body: bytes) -> None:
    """The site's response is logged and proven: any change at all makes it invalid."""
    scenario = site_scenario(response=body)
    verdict = run(scenario)
    if body == SITE_RESPONSE:
        assert verdict == VALID_SITE
        return
    manifest = verdict["manifest"]
    assert manifest["status"] == "invalid", manifest
    assert manifest["reason"] in ("invalid_manifest", "invalid_transparency_proof")
    assert verdict["navigation"] == "block"
    for out, (_, destination, _) in zip(verdict["resources"], SITE_RESOURCES, strict=True):
        if _covered(destination):
            assert out["allowed"] is False and out["reason"] == manifest["reason"]
        else:
            assert out["allowed"] is True and out["reason"] is None


@FUZZ_SLOW
@given(
    st.one_of(
        st.text(max_size=80),
        mutated([h.encode() for h in HEADERS]).map(lambda b: b.decode("latin-1")),
    )
)
def test_decide_mutated_header(header: str) -> None:
    """The header is not authenticated; the verdict follows from how it parses."""
    scenario = site_scenario(header=header)
    verdict = run(scenario)
    try:
        policy = parse_policy(header)
    except HeaderError:
        policy = None
    if policy is None:
        assert verdict["manifest"]["status"] == "none"
        assert verdict["navigation"] == "allow"
        return
    if policy.is_v1:  # the v2 body is not one JSON object
        assert verdict["manifest"]["status"] == "invalid"
        assert verdict["manifest"]["reason"] == "invalid_manifest"
        assert verdict["navigation"] == ("block" if policy.enforcing else "allow")
        for out, (_, destination, _) in zip(verdict["resources"], SITE_RESOURCES, strict=True):
            listed = destination in policy.blocked_destinations  # type: ignore[operator]
            assert out["reason"] == ("invalid_manifest" if listed else None)
            assert out["allowed"] is (not (listed and policy.enforcing))
        return
    # a v2 header: the proof is checked when max-age > 0 and verifies either way
    assert verdict == VALID_SITE


@FUZZ_SLOW
@given(st.data())
def test_decide_mutated_resource_bodies(data: st.DataObject) -> None:
    resources = []
    for url, destination, body in SITE_RESOURCES:
        if data.draw(st.booleans()):
            body = data.draw(mutated([body, *(b for _, _, b in SITE_RESOURCES)]))
        resources.append((url, destination, body))
    verdict = run(site_scenario(resources=resources))
    assert verdict["manifest"]["status"] == "valid"
    manifest_hashes = {
        u: base64.urlsafe_b64decode(h + "=") for u, h in SITE_MANIFEST["hashes"].items()
    }
    wildcard = {sha256(p) for p in PARTS}
    for out, (url, destination, body) in zip(verdict["resources"], resources, strict=True):
        if destination == "fetch" or (destination == "image" and url not in manifest_hashes):
            expected = None
        elif destination == "wasm":
            expected = None if sha256(body) == sha256(WASM) else "wasm_hash_mismatch"
        elif url in manifest_hashes:
            expected = None if sha256(body) == manifest_hashes[url] else "no_manifest_match"
        else:  # the wildcard bundle
            parts = body.split(DELIM.encode())
            expected = None if all(sha256(p) in wildcard for p in parts) else "no_manifest_match"
        assert out["reason"] == expected, (url, body)
        assert out["allowed"] is (expected is None)
    document_ok = resources[0][2] == FILES["/index.html"][1]
    assert verdict["navigation"] == ("allow" if document_ok else "block")


BANK_RESOURCES = [
    (f"https://{BANK}/", "document", b"page"),
    (f"https://{BANK}/app.js", "script", b"x"),
]


def bank_scenario(preload: bytes | None) -> dict[str, Any]:
    return site_scenario(
        response=None,
        header=None,
        resources=BANK_RESOURCES,
        url=f"https://{BANK}/",
        preload=preload,
    )


def test_base_preload_scenario() -> None:
    verdict = run(bank_scenario(PRELOAD_RESPONSE))
    assert verdict["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": "preload_unsatisfied",
    }
    assert verdict["navigation"] == "block"
    assert all(r["allowed"] is False for r in verdict["resources"])


@FUZZ_SLOW
@given(
    st.one_of(
        mutated([PRELOAD_RESPONSE, SITE_RESPONSE]),
        json_mutated(PRELOAD_OBJS).map(lambda line: WORLD.response(line, PRELOAD_PROOF)),
    )
)
def test_decide_mutated_preload(body: bytes) -> None:
    """A changed preload response fails verification and is not used at all."""
    verdict = run(bank_scenario(body))
    if body == PRELOAD_RESPONSE:
        assert verdict["manifest"]["detail"] == "preload_unsatisfied"
        return
    assert verdict == {
        "navigation": "allow",
        "manifest": {"status": "none", "reason": None, "detail": None},
        "resources": [{"url": u, "allowed": True, "reason": None} for u, _, _ in BANK_RESOURCES],
    }


@FUZZ_SLOW
@given(st.one_of(fuzz_bytes([V1_BODY]), json_mutated([json.loads(V1_BODY)])))
def test_decide_mutated_v1_body(body: bytes) -> None:
    """v1 with max-age=0 is unauthenticated: valid exactly when the body parses."""
    verdict = run(site_scenario(response=body, header=V1_HEADER))
    try:
        parsed = parse_manifest_response(body, ORIGIN, v1=True)
    except ManifestError:
        parsed = None
    if parsed is None:
        assert verdict["manifest"]["status"] == "invalid"
        assert verdict["manifest"]["reason"] == "invalid_manifest"
        assert verdict["navigation"] == "block"
    else:
        assert verdict["manifest"]["status"] == (
            "tombstone" if parsed.manifest.tombstone else "valid"
        )
    if body == V1_BODY:
        assert verdict["manifest"]["status"] == "valid"
        assert [r["reason"] for r in verdict["resources"]] == [
            None,
            None,
            None,
            None,
            None,
            "missing_from_manifest",
            None,
            None,
        ]


DEV_RESOURCES = [(f"https://{DEV}/", "document", b"dev page")]


def dev_scenario(body: bytes) -> dict[str, Any]:
    return site_scenario(
        response=body,
        header='max-age=0, mode=enforce, manifest="/m"',
        resources=DEV_RESOURCES,
        url=f"https://{DEV}/",
    )


def test_base_dev_scenario() -> None:
    verdict = run(dev_scenario(DEV_RESPONSE))
    assert verdict["manifest"] == {"status": "valid", "reason": None, "detail": None}


@FUZZ_SLOW
@given(
    st.one_of(
        mutated([DEV_RESPONSE]),
        json_mutated([DEV_MANIFEST]).map(lambda line: WORLD.response(line, "")),
    )
)
def test_decide_mutated_dev_ids_manifest(body: bytes) -> None:
    """max-age=0, so the manifest itself is unproven, but its dev-ids must stay proven."""
    verdict = run(dev_scenario(body))
    if verdict["manifest"]["status"] != "valid":
        return
    line = body.split(b"\n")[0]
    dev = parse_manifest(line, f"https://{DEV}").dev
    if dev is None or dev.ids is None:
        return  # no dev-ids claimed (dev.example is not preloaded with dev-ids: allowed)
    assert dev.ids == (DEV_ID,)
    assert dev.inclusion is not None
    assert dev.inclusion.manifest_line == DEV_EARLIER.decode()


@FUZZ_SLOW
@given(json_mutated_obj(TRUST_OBJS))
def test_decide_with_mutated_trust(trust: Any) -> None:
    """A trust object either makes the scenario unusable (ScenarioError) or decides."""
    for scenario in (site_scenario(trust=TRUST), bank_scenario(PRELOAD_RESPONSE)):
        scenario["trust"] = trust
        try:
            verdict = decide(scenario)
        except ScenarioError:
            with pytest.raises(TrustConfigError):
                parse_trust(trust)
            continue
        assert_shape(verdict, scenario)


# --- any string, anywhere in a manifest -------------------------------------------------------


def _json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, "value" | "key") for every member and list item of a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k), "value"
            yield (*prefix, k), "key"
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i), "value"
            yield from _json_paths(v, (*prefix, i))


def _set_path(obj: Any, path: tuple[Any, ...], mode: str, text: str) -> Any:
    obj = copy.deepcopy(obj)
    container = obj
    for step in path[:-1]:
        container = container[step]
    if mode == "key":
        container[text] = container.pop(path[-1])
    else:
        container[path[-1]] = text
    return obj


STRING_SLOTS = [("site", p, m) for p, m in _json_paths(SITE_MANIFEST)] + [
    ("dev", p, m) for p, m in _json_paths(DEV_MANIFEST)
]
# any code point, lone surrogates included (json.loads produces them from "\ud800" escapes)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=6)


@pytest.mark.parametrize(
    ("which", "path", "mode"),
    STRING_SLOTS,
    ids=[f"{w}:{'/'.join(str(s)[-24:] for s in p)}:{m}" for w, p, m in STRING_SLOTS],
)
@settings(FUZZ, max_examples=12)
@given(text=st.one_of(ANY_TEXT, st.sampled_from(STRING_TOKENS)))
def test_any_string_in_any_manifest_slot(
    which: str, path: tuple[Any, ...], mode: str, text: str
) -> None:
    """Replace one member value / key / list item by an arbitrary string: the manifest parser
    raises only ManifestError and decide returns a verdict (site: proven, max-age > 0;
    dev: max-age=0 with dev-ids that must be proven)."""
    base = SITE_MANIFEST if which == "site" else DEV_MANIFEST
    obj = _set_path(base, path, mode, text)
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()
    origin = ORIGIN if which == "site" else f"https://{DEV}"
    only(ManifestError, parse_manifest, line, origin)
    if which == "site":
        verdict = run(site_scenario(response=WORLD.response(line, SITE_PROOF)))
        assert verdict["manifest"]["status"] == ("valid" if line == SITE_LINE else "invalid")
    else:
        run(dev_scenario(WORLD.response(line, "")))


# --- known bugs: minimal reproductions (these fail until fixed in verifier/) ------------------


def test_bug_canonicalize_with_base_leaks_value_error() -> None:
    """urls.canonicalize calls urljoin outside its try: urljoin raises ValueError."""
    with pytest.raises(ManifestError):
        urls.canonicalize("//[x", ORIGIN + "/")


def test_bug_v1_manifest_key_leaks_value_error_from_decide() -> None:
    scenario = site_scenario(response=b'{"hashes":{"//[x":"AAAA"}}', header=V1_HEADER)
    verdict = decide(scenario)
    assert verdict["manifest"]["status"] == "invalid"
    assert verdict["manifest"]["reason"] == "invalid_manifest"


def test_bug_resource_delimiter_lone_surrogate() -> None:
    """JSON "\\ud800" decodes to a lone surrogate; .encode('utf-8') raises UnicodeEncodeError."""
    line = b'{"hashes":{},"resource_delimiter":"\\ud800"}'
    with pytest.raises(ManifestError):
        parse_manifest(line, ORIGIN)
    verdict = decide(site_scenario(response=WORLD.response(line, SITE_PROOF)))
    assert verdict["manifest"]["status"] == "invalid"


def test_bug_dev_ids_inclusion_manifest_lone_surrogate() -> None:
    line = manifest_line(
        {"hashes": {}, "dev-ids": [], "dev-ids-inclusion": {"manifest": "\ud800", "proof": ""}}
    )
    verdict = decide(dev_scenario(WORLD.response(line, "")))
    assert verdict["manifest"]["status"] == "invalid"
    assert verdict["manifest"]["reason"] == "invalid_manifest"


def test_bug_non_ascii_preload_domain() -> None:
    """trust.preload_domain is not normalized; tree_key() does host.encode('ascii')."""
    trust = WORLD.trust(quorum=2, preload_domain="präload.example")
    scenario = bank_scenario(PRELOAD_RESPONSE)
    scenario["trust"] = trust
    try:
        verdict = decide(scenario)
    except ScenarioError:
        return  # rejecting the trust configuration is fine too
    assert verdict["manifest"]["status"] == "none"  # the list cannot be verified: not used


def test_bug_witness_name_lone_surrogate() -> None:
    """parse_trust accepts a name that key_id() cannot encode (UnicodeEncodeError)."""
    trust = WORLD.trust(quorum=1)
    trust["witnesses"][0]["name"] = "w1\ud800"
    scenario = site_scenario(trust=trust)
    try:
        verdict = decide(scenario)
    except ScenarioError:
        return  # rejecting the trust configuration is fine
    assert_shape(verdict, scenario)


def test_bug_uncanonicalizable_navigation_url_without_header_is_not_none() -> None:
    """design.md 5: no valid header and host not preloaded -> status none, everything allowed.

    An IPv6 literal (or userinfo, or '_' in the host) navigation URL gets status 'invalid'
    with reason invalid_manifest on every covered resource instead."""
    for url in ("http://[::1]:8080/", "https://my_host.example/"):
        scenario = WORLD.scenario(url, None, None, [(url, "document", b"page")], trust=TRUST)
        verdict = decide(scenario)
        assert verdict == {
            "navigation": "allow",
            "manifest": {"status": "none", "reason": None, "detail": None},
            "resources": [{"url": url, "allowed": True, "reason": None}],
        }, url


def test_world_sanity() -> None:
    assert b64(b"\x00") == "AA=="
    assert SITE_PROOF.head.entry.resource_hash == chain.resource_hash(SITE_LINE)
