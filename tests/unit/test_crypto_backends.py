"""The Ed25519 backends behind ``verifier.crypto`` give identical, ref10-rule verdicts.

Vectors: ``tests/vectors/ed25519/ed25519vectors.json`` (C2SP/CCTV edge cases, 914 vectors) and
``tests/vectors/rfc8032.json`` (RFC 8032 section 7.1, Ed25519).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import crypto
from verifier.crypto import Ed25519Backend, backend_by_name
from verifier.errors import CryptoError

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
BACKEND_NAMES = ["cryptography", "pure"]
# The ref10 rule (Go crypto/ed25519, OpenSSL): reject exactly these, accept everything else.
REF10_REJECT_FLAGS = frozenset({"non_canonical_R", "low_order_residue"})
L = 2**252 + 27742317777372353535851937790883648493


def _load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


EDGE_VECTORS = _load(VECTORS / "ed25519" / "ed25519vectors.json")
RFC_VECTORS = _load(VECTORS / "rfc8032.json")


def _edge_inputs(vector: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    return bytes.fromhex(vector["key"]), bytes.fromhex(vector["sig"]), vector["msg"].encode()


def _ref10_expected(vector: dict[str, Any]) -> bool:
    return not (REF10_REJECT_FLAGS & set(vector["flags"] or ()))


@functools.cache
def _edge_verdicts(name: str) -> tuple[bool, ...]:
    """One backend's verdict on every edge-case vector (computed once per backend)."""
    backend = backend_by_name(name)
    return tuple(backend.verify(*_edge_inputs(v)) for v in EDGE_VECTORS)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Ed25519Backend:
    return backend_by_name(request.param)


@pytest.fixture(params=BACKEND_NAMES)
def installed_backend(request: pytest.FixtureRequest) -> Iterator[Ed25519Backend]:
    """Install a backend in the seam for the test, then put the previous one back."""
    previous = crypto.get_backend()
    chosen = backend_by_name(request.param)
    crypto.set_backend(chosen)
    try:
        yield chosen
    finally:
        crypto.set_backend(previous)


def _flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- edge-case vectors (C2SP/CCTV) ------------------------------------------------------------


def test_edge_vector_file_shape() -> None:
    assert len(EDGE_VECTORS) == 914
    assert [v["number"] for v in EDGE_VECTORS] == list(range(914))
    expected = [_ref10_expected(v) for v in EDGE_VECTORS]
    assert expected.count(True) == 208
    assert expected.count(False) == 706


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_edge_vectors_follow_ref10_rule(name: str) -> None:
    verdicts = _edge_verdicts(name)
    wrong = [
        (v["number"], got, v["flags"])
        for v, got in zip(EDGE_VECTORS, verdicts, strict=True)
        if got != _ref10_expected(v)
    ]
    assert wrong == []
    assert verdicts.count(True) == 208
    assert verdicts.count(False) == 706


def test_backends_agree_on_every_edge_vector() -> None:
    pairs = zip(_edge_verdicts("cryptography"), _edge_verdicts("pure"), strict=True)
    disagree = [v["number"] for v, (a, b) in zip(EDGE_VECTORS, pairs, strict=True) if a != b]
    assert disagree == []


# --- RFC 8032 section 7.1 ---------------------------------------------------------------------


def _rfc_ids() -> list[str]:
    return [v["name"] for v in RFC_VECTORS]


def _rfc_inputs(vector: dict[str, Any]) -> tuple[bytes, bytes, bytes, bytes]:
    return (
        bytes.fromhex(vector["secret_key"]),
        bytes.fromhex(vector["public_key"]),
        bytes.fromhex(vector["message"]),
        bytes.fromhex(vector["signature"]),
    )


def test_rfc8032_file_shape() -> None:
    assert [v["name"] for v in RFC_VECTORS] == [
        "TEST 1",
        "TEST 2",
        "TEST 3",
        "TEST 1024",
        "TEST SHA(abc)",
    ]
    sizes = [len(bytes.fromhex(v["message"])) for v in RFC_VECTORS]
    assert sizes == [0, 1, 2, 1023, 64]


@pytest.mark.parametrize("vector", RFC_VECTORS, ids=_rfc_ids())
def test_rfc8032_verify_sign_public_key(backend: Ed25519Backend, vector: dict[str, Any]) -> None:
    seed, public_key, message, signature = _rfc_inputs(vector)
    assert backend.verify(public_key, signature, message) is True
    assert backend.sign(seed, message) == signature
    assert backend.public_key(seed) == public_key


@pytest.mark.parametrize("vector", RFC_VECTORS, ids=_rfc_ids())
def test_rfc8032_bit_flips_rejected(backend: Ed25519Backend, vector: dict[str, Any]) -> None:
    _, public_key, message, signature = _rfc_inputs(vector)
    accepted = [
        ("sig", bit)
        for bit in range(len(signature) * 8)
        if backend.verify(public_key, _flip_bit(signature, bit), message)
    ]
    accepted += [
        ("key", bit)
        for bit in range(len(public_key) * 8)
        if backend.verify(_flip_bit(public_key, bit), signature, message)
    ]
    # Every bit of short messages; a spread of bits of the long one.
    message_bits = range(0, len(message) * 8, 1 if len(message) <= 64 else 37)
    accepted += [
        ("msg", bit)
        for bit in message_bits
        if backend.verify(public_key, signature, _flip_bit(message, bit))
    ]
    assert accepted == []
    assert backend.verify(public_key, signature, message + b"\x00") is False


@pytest.mark.parametrize("vector", RFC_VECTORS, ids=_rfc_ids())
def test_s_not_reduced_is_rejected(backend: Ed25519Backend, vector: dict[str, Any]) -> None:
    """S + L satisfies the group equation ([L]B is the identity) but ref10 rejects S >= L.

    The CCTV file has no vector with S >= L, so this rule is pinned here.
    """
    _, public_key, message, signature = _rfc_inputs(vector)
    s = int.from_bytes(signature[32:], "little")
    for bad_s in (s + L, L, 2**256 - 1):
        forged = signature[:32] + bad_s.to_bytes(32, "little")
        assert backend.verify(public_key, forged, message) is False


def test_undecodable_public_key_rejected_by_both() -> None:
    """A y with no curve point (u/v not a square): both backends reject, and agree.

    The CCTV file has no undecodable key either, so a few are generated here.
    """
    p = 2**255 - 19
    d = -121665 * pow(121666, -1, p) % p

    def has_x(y: int) -> bool:
        # x^2 = (y^2 - 1) / (d y^2 + 1) must be a square (Euler's criterion).
        x2 = (y * y - 1) * pow(d * y * y + 1, -1, p) % p
        return x2 == 0 or pow(x2, (p - 1) // 2, p) == 1

    undecodable = [y.to_bytes(32, "little") for y in range(2, 200) if not has_x(y)]
    assert len(undecodable) >= 10
    _, _, message, signature = _rfc_inputs(RFC_VECTORS[0])
    pure = backend_by_name("pure")
    fast = backend_by_name("cryptography")
    for key in undecodable[:10]:
        assert pure.verify(key, signature, message) is False
        assert fast.verify(key, signature, message) is False


# --- the seam: sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_size", "sig_size"),
    [(0, 64), (31, 64), (33, 64), (64, 64), (32, 0), (32, 63), (32, 65), (32, 32), (0, 0)],
)
def test_wrong_sizes_raise_crypto_error(
    installed_backend: Ed25519Backend, key_size: int, sig_size: int
) -> None:
    _, public_key, message, signature = _rfc_inputs(RFC_VECTORS[0])
    key = (public_key * 3)[:key_size]
    sig = (signature * 2)[:sig_size]
    with pytest.raises(CryptoError):
        crypto.ed25519_verify(key, sig, message)
    # Backends themselves never raise on bad data.
    assert installed_backend.verify(key, sig, message) is False


def test_seam_uses_installed_backend(installed_backend: Ed25519Backend) -> None:
    seed, public_key, message, signature = _rfc_inputs(RFC_VECTORS[2])
    assert crypto.get_backend() is installed_backend
    assert crypto.ed25519_verify(public_key, signature, message) is True
    assert crypto.ed25519_sign(seed, message) == signature
    assert crypto.ed25519_public_key(seed) == public_key
    for bad_seed in (b"", seed[:31], seed + b"\x00"):
        with pytest.raises(CryptoError):
            crypto.ed25519_sign(bad_seed, message)
        with pytest.raises(CryptoError):
            crypto.ed25519_public_key(bad_seed)


def test_unknown_backend_name() -> None:
    with pytest.raises(CryptoError):
        backend_by_name("nacl")


# --- properties ---------------------------------------------------------------------------------

PURE = backend_by_name("pure")
FAST = backend_by_name("cryptography")

# S either arbitrary (mostly >= L: rejected early) or reduced (reaches the group equation).
_scalars = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.integers(min_value=0, max_value=L - 1).map(lambda n: n.to_bytes(32, "little")),
)


@settings(max_examples=150, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    r=st.binary(min_size=32, max_size=32),
    s=_scalars,
    message=st.binary(max_size=64),
)
def test_random_inputs_never_raise_and_backends_agree(
    key: bytes, r: bytes, s: bytes, message: bytes
) -> None:
    signature = r + s
    assert PURE.verify(key, signature, message) == FAST.verify(key, signature, message)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    r=st.binary(min_size=32, max_size=32),
    s=_scalars,
    message=st.binary(max_size=64),
)
def test_random_signatures_under_valid_keys_agree(
    seed: bytes, r: bytes, s: bytes, message: bytes
) -> None:
    key = FAST.public_key(seed)
    signature = r + s
    assert PURE.verify(key, signature, message) == FAST.verify(key, signature, message)


@settings(max_examples=100, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=256))
def test_pure_sign_matches_cryptography(seed: bytes, message: bytes) -> None:
    signature = PURE.sign(seed, message)
    assert signature == FAST.sign(seed, message)
    public_key = PURE.public_key(seed)
    assert public_key == FAST.public_key(seed)
    assert PURE.verify(public_key, signature, message) is True
    assert FAST.verify(public_key, signature, message) is True
