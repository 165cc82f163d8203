"""Known-answer tests for the WAICT wire formats: tests/vectors/waict-formats.json.

The vectors were generated once (scripts/gen_format_vectors.py) and are kept as data. Each
is recomputed here from its inputs, twice where cheap: with the verifier's encoders and
with a few lines of ``hashlib``/``struct`` written straight from design.md section 3, so a
change in an encoder and a misreading of the contract both show up. Every encoding is
also parsed back and re-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from verifier import chain, mpt, urls
from verifier.chain import ChainNode, Entry
from verifier.crypto import backend_by_name, ed25519_public_key, ed25519_verify
from verifier.encoding import b64decode, b64encode
from verifier.note import (
    COSIGNATURE_ALGORITHM,
    NoteBody,
    SignedNote,
    cosign,
    key_id,
    parse_note,
    signed_message,
)
from verifier.proof import ChainHeadWithProof
from verifier.transparency import parse_proof, tree_key, tree_value, verify_logged
from verifier.trust import parse_trust

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "waict-formats.json").read_text("utf-8")
)
NODES = VECTORS["chain"]["nodes"]
WITNESSES = {w["name"]: w for w in VECTORS["witnesses"]}


def H(data: bytes) -> bytes:  # the contract's name for SHA-256
    return hashlib.sha256(data).digest()


def unhex(text: str) -> bytes:
    return bytes.fromhex(text)


def tls_vector(items: list[str]) -> bytes:
    body = b"".join(struct.pack(">H", len(u)) + u for u in sorted({i.encode() for i in items}))
    return struct.pack(">H", len(body)) + body


# --- constants --------------------------------------------------------------------------------


def test_constants() -> None:
    c = VECTORS["constants"]
    assert c["cosignature_algorithm"] == COSIGNATURE_ALGORITHM == 0x06
    assert unhex(c["empty_root"]) == mpt.EMPTY_ROOT == H(b"")


# --- resource hash, asset hosts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "vec", VECTORS["resource_hash"], ids=lambda v: str(len(v["manifest_line"]))
)
def test_resource_hash(vec: dict[str, Any]) -> None:
    line = vec["manifest_line"].encode()
    assert chain.resource_hash(line) == unhex(vec["hash"]) == H(b"waict-rh" + line)


@pytest.mark.parametrize("vec", VECTORS["asset_hosts"], ids=lambda v: str(len(v["urls"])))
def test_asset_hosts(vec: dict[str, Any]) -> None:
    encoded = unhex(vec["encoded"])
    assert chain.encode_asset_hosts(vec["urls"]) == encoded == tls_vector(vec["urls"])
    assert chain.asset_hosts_hash(vec["urls"]) == unhex(vec["hash"]) == H(b"waict-ah" + encoded)
    assert chain.decode_asset_hosts(encoded) == sorted(set(vec["urls"]), key=str.encode)


def test_asset_hosts_sorted_by_bytes_not_text_order() -> None:
    """'https://z.example/' < 'https://ä.example/' by UTF-8 bytes (0x7a < 0xc3)."""
    vec = VECTORS["asset_hosts"][3]
    assert chain.decode_asset_hosts(unhex(vec["encoded"])) == [
        "https://z.example/",
        "https://ä.example/",
    ]


# --- the 3-node chain with a tombstone --------------------------------------------------------


@pytest.mark.parametrize("index", range(3))
def test_chain_node(index: int) -> None:
    vec = NODES[index]
    line = vec["manifest_line"]
    rh = bytes(32) if line is None else H(b"waict-rh" + line.encode())
    ahh = H(b"waict-ah" + tls_vector(vec["asset_hosts"]))
    assert rh == unhex(vec["resource_hash"])
    assert ahh == unhex(vec["asset_hosts_hash"])
    entry_bytes = struct.pack(">QQ", vec["position"], vec["time_created"]) + rh + ahh
    assert entry_bytes == unhex(vec["entry"])
    assert len(entry_bytes) == 80
    prev = bytes(32) if index == 0 else H(b"waict-ch" + unhex(NODES[index - 1]["chain_node"]))
    assert prev == unhex(vec["chain_hash"])
    node_bytes = entry_bytes + prev
    assert node_bytes == unhex(vec["chain_node"])
    assert H(b"waict-ch" + node_bytes) == unhex(vec["next_chain_hash"])

    # the verifier's encoders
    entry = Entry(
        vec["position"],
        vec["time_created"],
        bytes(32) if line is None else chain.resource_hash(line.encode()),
        chain.asset_hosts_hash(vec["asset_hosts"]),
    )
    assert entry.encode() == entry_bytes
    assert entry.is_tombstone is vec["tombstone"] is (line is None)
    previous = None if index == 0 else ChainNode.decode(unhex(NODES[index - 1]["chain_node"]))
    node = chain.append_node(previous, entry)
    assert node.encode() == node_bytes
    assert node.next_chain_hash() == unhex(vec["next_chain_hash"])

    # parse back
    assert Entry.decode(entry_bytes) == entry
    assert Entry.decode(entry_bytes).encode() == entry_bytes
    assert ChainNode.decode(node_bytes) == node
    assert ChainNode.decode(node_bytes).encode() == node_bytes


def test_chain_links() -> None:
    nodes = [ChainNode.decode(unhex(v["chain_node"])) for v in NODES]
    chain.verify_chain(nodes)
    assert [n.position for n in nodes] == [0, 1, 2]
    assert nodes[2].entry.is_tombstone and not nodes[1].entry.is_tombstone
    assert nodes[0].chain_hash == chain.ZERO_HASH


# --- tree keys, witnesses, key IDs ------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["tree_keys"], ids=lambda v: v["url"])
def test_tree_key(vec: dict[str, Any]) -> None:
    assert urls.tree_host(vec["url"]) == vec["host"]
    assert (
        tree_key(vec["host"]) == unhex(vec["key"]) == H(b"waict-kh" + vec["host"].encode("ascii"))
    )


def test_tree_key_punycode_host_present() -> None:
    hosts = {v["host"] for v in VECTORS["tree_keys"]}
    assert "xn--bcher-kva.example" in hosts
    assert any(not v["url"].isascii() for v in VECTORS["tree_keys"])


@pytest.mark.parametrize("name", sorted(WITNESSES))
def test_witness_key_id(name: str) -> None:
    vec = WITNESSES[name]
    pub = unhex(vec["public_key"])
    assert ed25519_public_key(unhex(vec["seed"])) == pub
    kid = H(name.encode() + b"\n" + b"\x06" + pub)[:4]
    assert key_id(name, pub) == kid == unhex(vec["key_id"])


# --- the cosignature, the signed note ---------------------------------------------------------


def _note_body(root_b64: str | None = None) -> NoteBody:
    sn = VECTORS["signed_note"]
    return NoteBody.for_service(
        sn["ts_domain"], sn["batch_count"], b64decode(root_b64 or sn["root"])
    )


def test_note_body_matches_tree() -> None:
    leaves = [(unhex(leaf["key"]), unhex(leaf["value"])) for leaf in VECTORS["tree"]["leaves"]]
    assert mpt.compute_root(leaves) == unhex(VECTORS["tree"]["root"])
    assert b64decode(VECTORS["signed_note"]["root"]) == unhex(VECTORS["tree"]["root"])


def test_cosignature_signed_message() -> None:
    vec = VECTORS["cosignature"]
    body = _note_body()
    assert body.encode().decode() == vec["body"]
    sn = VECTORS["signed_note"]
    assert vec["body"] == f"{sn['ts_domain']}/prefix-tree\n{sn['batch_count']}\n{sn['root']}\n"
    expected = f"waict-cosignature/v1\ntime {vec['timestamp']}\n" + vec["body"]
    assert (
        signed_message(body, vec["timestamp"])
        == expected.encode()
        == vec["signed_message"].encode()
    )


@pytest.mark.parametrize("backend", ["cryptography", "pure"])
def test_cosignature_signature(backend: str) -> None:
    vec = VECTORS["cosignature"]
    witness = WITNESSES[vec["witness"]]
    message = vec["signed_message"].encode()
    pub, seed, sig = unhex(witness["public_key"]), unhex(witness["seed"]), unhex(vec["signature"])
    impl = backend_by_name(backend)
    assert impl.public_key(seed) == pub
    assert impl.sign(seed, message) == sig  # Ed25519 is deterministic
    assert impl.verify(pub, sig, message) is True
    assert impl.verify(pub, sig, message + b"x") is False


def test_cosignature_blob_and_line() -> None:
    vec = VECTORS["cosignature"]
    witness = WITNESSES[vec["witness"]]
    sig = cosign(_note_body(), vec["witness"], unhex(witness["seed"]), vec["timestamp"])
    blob = unhex(vec["key_id"]) + struct.pack(">Q", vec["timestamp"]) + unhex(vec["signature"])
    assert len(blob) == 76
    assert sig.blob() == blob == base64.b64decode(vec["blob"])
    assert sig.key_id == unhex(witness["key_id"])
    assert sig.line() == vec["line"] == f"\u2014 {vec['witness']} {vec['blob']}\n"
    assert ed25519_verify(
        unhex(witness["public_key"]), sig.signature, vec["signed_message"].encode()
    )


def test_signed_note_text() -> None:
    vec = VECTORS["signed_note"]
    body = _note_body()
    sigs = tuple(
        cosign(body, c["name"], unhex(WITNESSES[c["name"]]["seed"]), c["timestamp"])
        for c in vec["cosigners"]
    )
    text = vec["text"].encode()
    assert SignedNote(body, sigs).encode() == text
    assert text.startswith(body.encode() + "\n\u2014 ".encode())
    assert text.count("\u2014".encode()) == 2
    assert VECTORS["cosignature"]["line"] in vec["text"]
    parsed = parse_note(text)
    assert parsed.body == body
    assert [(c.name, c.timestamp) for c in parsed.cosignatures] == [
        (c["name"], c["timestamp"]) for c in vec["cosigners"]
    ]
    assert parsed.encode() == text


# --- ChainHeadWithProof -----------------------------------------------------------------------


def test_chain_head_with_proof_bytes() -> None:
    vec = VECTORS["chain_head_with_proof"]
    head, tree_proof, note = unhex(vec["head"]), unhex(vec["tree_proof"]), vec["note"].encode()
    raw = (
        head + struct.pack(">H", len(tree_proof)) + tree_proof + len(note).to_bytes(3, "big") + note
    )
    assert len(raw) == vec["encoded_length"]
    assert base64.b64encode(raw).decode() == vec["b64"]
    assert note == VECTORS["signed_note"]["text"].encode()
    chwp = ChainHeadWithProof(ChainNode.decode(head), tree_proof, note)
    assert chwp.encode() == raw
    assert chwp.to_b64() == vec["b64"]
    assert ChainHeadWithProof.from_b64(vec["b64"]) == chwp
    assert ChainHeadWithProof.decode(raw).encode() == raw


def test_chain_head_with_proof_tree_proof_recomputed() -> None:
    vec = VECTORS["chain_head_with_proof"]
    leaves = [(unhex(leaf["key"]), unhex(leaf["value"])) for leaf in VECTORS["tree"]["leaves"]]
    head = ChainNode.decode(unhex(vec["head"]))
    assert head.entry.resource_hash == H(b"waict-rh" + vec["manifest_line"].encode())
    key, value = tree_key(vec["host"]), tree_value(head)
    assert key == unhex(vec["tree_key"])
    assert value == unhex(vec["tree_value"]) == H(b"waict-ch" + unhex(vec["head"]))
    index = leaves.index((key, value))
    assert mpt.prove_inclusion(leaves, index) == unhex(vec["tree_proof"])
    proof = unhex(vec["tree_proof"])
    assert proof[:9] == b"mptproof\x01" and proof[9:41] == value and (len(proof) - 41) % 33 == 0
    assert mpt.verify_inclusion(unhex(VECTORS["tree"]["root"]), key, value, proof) is True


def test_chain_head_with_proof_verifies_end_to_end() -> None:
    vec = VECTORS["chain_head_with_proof"]
    trust = parse_trust(vec["trust"])
    proven = verify_logged(
        host=vec["host"],
        line=vec["manifest_line"].encode(),
        proof_text=vec["b64"],
        trust=trust,
        now=vec["now"],
    )
    assert proven.ts_domain == VECTORS["signed_note"]["ts_domain"]
    assert sorted(c.witness for c in proven.counted) == ["w1.example", "w2.example"]
    assert proven.head.encode() == unhex(vec["head"])
    parsed, note = parse_proof(vec["b64"])
    assert parsed.note == note.encode()


# --- non-inclusion ----------------------------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["non_inclusion"], ids=lambda v: v["tree"])
def test_non_inclusion(vec: dict[str, Any]) -> None:
    leaves = (
        [(unhex(leaf["key"]), unhex(leaf["value"])) for leaf in VECTORS["tree"]["leaves"]]
        if vec["tree"] == "leaves"
        else []
    )
    key, root, proof = unhex(vec["key"]), unhex(vec["root"]), unhex(vec["proof"])
    assert key == tree_key(vec["host"])
    assert mpt.compute_root(leaves) == root
    assert mpt.prove_non_inclusion(leaves, key) == proof
    assert mpt.verify_non_inclusion(root, key, proof) is True
    assert proof.startswith(b"mptnoincl")
    if not leaves:
        assert proof == b"mptnoincl\x00"
        return
    assert proof[9] == 1 and (len(proof) - 74) % 33 == 0
    other_key, other_value = proof[10:42], proof[42:74]
    assert (other_key, other_value) in leaves
    # the same siblings prove the reached leaf's inclusion
    inclusion = b"mptproof\x01" + other_value + proof[74:]
    assert mpt.verify_inclusion(root, other_key, other_value, inclusion) is True
    # and the non-inclusion proof does not work for any present key
    for k, _ in leaves:
        assert mpt.verify_non_inclusion(root, k, proof) is False


def test_vectors_are_base64_where_they_say_so() -> None:
    assert (
        b64encode(base64.b64decode(VECTORS["chain_head_with_proof"]["b64"]))
        == (VECTORS["chain_head_with_proof"]["b64"])
    )
