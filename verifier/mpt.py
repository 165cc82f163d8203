"""The Merkle Patricia tree (prefix tree) over all enrolled domains.

As in ``merkle-patricia-tree.md`` of waict-transparency-spec (verification algorithm of
branch ``mpt-verif-alg``), compatible with Russ Cox's MPT. Keys and values are 32 bytes;
bit 0 is the most significant bit of byte 0.

- empty tree: ``H("")``
- leaf: ``H(key || value)`` (a one-leaf tree's root is its leaf hash)
- inner node splitting at bit ``r`` (= length of the children's common prefix):
  ``H(left || right || u8 r)``, left being the child whose bit ``r`` is 0.

Inclusion proof (``41 + 33·k`` bytes)::

    "mptproof" | 0x01 | value[32] | (u8 r | sibling[32]) * k

Siblings run leaf to root; the split bits r strictly decrease.

Non-inclusion proof (our wire form; the spec leaves it TODO)::

    "mptnoincl" | 0x00                                              the tree is empty (root = H(""))
    "mptnoincl" | 0x01 | key'[32] | value'[32] | (u8 r | sibling[32]) * k

The second form proves the leaf ``(key', value')`` that a walk for the absent key reaches:
its siblings verify ``(key', value')`` against the root exactly as an inclusion proof does,
``key' != key``, and the first bit where ``key`` and ``key'`` differ is none of the split
bits ``r`` on the path. Then ``key`` agrees with ``key'`` at every split above that bit (so
the walk for ``key`` follows the same path) and differs inside the subtree the path ends
in, whose keys all share ``key'``'s prefix up to the next split: ``key`` cannot be present.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from verifier.crypto import sha256
from verifier.errors import TreeProofError

EMPTY_ROOT = sha256(b"")
PROOF_MAGIC = b"mptproof\x01"
NONINCLUSION_MAGIC = b"mptnoincl"
SEGMENT_SIZE = 33

Leaf = tuple[bytes, bytes]


def leaf_hash(key: bytes, value: bytes) -> bytes:
    return sha256(key + value)


def inner_hash(left: bytes, right: bytes, bit: int) -> bytes:
    return sha256(left + right + bytes((bit,)))


def bit_at(key: bytes, i: int) -> int:
    """Bit ``i`` of ``key``, bit 0 being the most significant bit of byte 0."""
    return (key[i >> 3] >> (7 - (i & 7))) & 1


def common_prefix_bits(a: bytes, b: bytes) -> int:
    """Number of leading bits two 32-byte keys share (256 when equal)."""
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return 256 - x.bit_length()


def _check_leaves(leaves: Sequence[Leaf]) -> list[Leaf]:
    for k, v in leaves:
        if len(k) != 32 or len(v) != 32:
            raise TreeProofError("tree keys and values must be 32 bytes")
    ordered = sorted(leaves)
    for i in range(1, len(ordered)):
        if ordered[i - 1][0] == ordered[i][0]:
            raise TreeProofError("duplicate key in tree")
    return ordered


def _split(keys: Sequence[bytes], lo: int, hi: int) -> tuple[int, int]:
    """For sorted keys[lo:hi] (at least two), the split bit and the first index of the 1-side."""
    r = common_prefix_bits(keys[lo], keys[hi - 1])
    # The first key in the range whose bit r is 1: all keys share bits [0, r).
    pivot = bytearray(keys[lo])
    byte, shift = r >> 3, 7 - (r & 7)
    pivot[byte] |= 1 << shift
    for j in range(byte + 1, 32):
        pivot[j] = 0
    pivot[byte] &= 0xFF ^ ((1 << shift) - 1)
    return r, bisect.bisect_left(keys, bytes(pivot), lo, hi)


def _subtree(keys: Sequence[bytes], values: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaf_hash(keys[lo], values[lo])
    r, mid = _split(keys, lo, hi)
    return inner_hash(_subtree(keys, values, lo, mid), _subtree(keys, values, mid, hi), r)


def compute_root(leaves: Sequence[Leaf]) -> bytes:
    """The root hash of a set of (key, value) leaves (order of the input does not matter)."""
    ordered = _check_leaves(leaves)
    if not ordered:
        return EMPTY_ROOT
    keys = [k for k, _ in ordered]
    values = [v for _, v in ordered]
    return _subtree(keys, values, 0, len(keys))


def _path(
    keys: Sequence[bytes], values: Sequence[bytes], target: bytes
) -> tuple[int, list[tuple[int, bytes]]]:
    """Walk from the root towards ``target``; return the reached leaf index and the
    (split bit, sibling hash) pairs from the leaf up to the root."""
    lo, hi = 0, len(keys)
    segments: list[tuple[int, bytes]] = []
    while hi - lo > 1:
        r, mid = _split(keys, lo, hi)
        if bit_at(target, r) == 0:
            segments.append((r, _subtree(keys, values, mid, hi)))
            hi = mid
        else:
            segments.append((r, _subtree(keys, values, lo, mid)))
            lo = mid
    segments.reverse()
    return lo, segments


def _encode_segments(segments: Sequence[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes((r,)) + sibling for r, sibling in segments)


def prove_inclusion(leaves: Sequence[Leaf], index: int) -> bytes:
    """The inclusion proof of ``leaves[index]``."""
    if not 0 <= index < len(leaves):
        raise TreeProofError("cannot prove inclusion: index out of range")
    target_key, target_value = leaves[index]
    ordered = _check_leaves(leaves)
    keys = [k for k, _ in ordered]
    values = [v for _, v in ordered]
    _, segments = _path(keys, values, target_key)
    return PROOF_MAGIC + target_value + _encode_segments(segments)


def _fold(key: bytes, value: bytes, segments_bytes: bytes) -> tuple[bytes, list[int]]:
    """Hash a leaf up through proof segments; strictly decreasing split bits are enforced."""
    if len(segments_bytes) % SEGMENT_SIZE != 0:
        raise TreeProofError("tree proof: trailing bytes after the last full segment")
    node = leaf_hash(key, value)
    last = 256
    bits: list[int] = []
    for i in range(0, len(segments_bytes), SEGMENT_SIZE):
        r = segments_bytes[i]
        sibling = segments_bytes[i + 1 : i + SEGMENT_SIZE]
        if r >= last:
            raise TreeProofError("tree proof: split bits must strictly decrease towards the root")
        node = inner_hash(node, sibling, r) if bit_at(key, r) == 0 else inner_hash(sibling, node, r)
        last = r
        bits.append(r)
    return node, bits


def verify_inclusion(root: bytes, key: bytes, value: bytes, proof: bytes) -> bool:
    """True when ``proof`` shows ``(key, value)`` in the tree with ``root``.

    Returns False for a well-formed proof that does not match; raises
    :class:`TreeProofError` for a malformed one.
    """
    if len(root) != 32 or len(key) != 32 or len(value) != 32:
        raise TreeProofError("tree root, key and value must be 32 bytes")
    if len(proof) < len(PROOF_MAGIC) + 32:
        raise TreeProofError("tree proof shorter than its header")
    if proof[: len(PROOF_MAGIC)] != PROOF_MAGIC:
        raise TreeProofError("tree proof does not start with 'mptproof' 0x01")
    if proof[9:41] != value:
        return False
    node, _ = _fold(key, value, proof[41:])
    return node == root


def prove_non_inclusion(leaves: Sequence[Leaf], key: bytes) -> bytes:
    """A proof that ``key`` is absent (raises if it is present)."""
    ordered = _check_leaves(leaves)
    if len(key) != 32:
        raise TreeProofError("tree keys must be 32 bytes")
    if not ordered:
        return NONINCLUSION_MAGIC + b"\x00"
    keys = [k for k, _ in ordered]
    values = [v for _, v in ordered]
    index, segments = _path(keys, values, key)
    if keys[index] == key:
        raise TreeProofError("cannot prove non-inclusion: the key is in the tree")
    return NONINCLUSION_MAGIC + b"\x01" + keys[index] + values[index] + _encode_segments(segments)


def verify_non_inclusion(root: bytes, key: bytes, proof: bytes) -> bool:
    """True when ``proof`` shows ``key`` absent from the tree with ``root``."""
    if len(root) != 32 or len(key) != 32:
        raise TreeProofError("tree root and key must be 32 bytes")
    n = len(NONINCLUSION_MAGIC)
    if len(proof) < n + 1 or proof[:n] != NONINCLUSION_MAGIC:
        raise TreeProofError("non-inclusion proof does not start with 'mptnoincl'")
    kind = proof[n]
    if kind == 0:
        if len(proof) != n + 1:
            raise TreeProofError("empty-tree non-inclusion proof has trailing bytes")
        return root == EMPTY_ROOT
    if kind != 1:
        raise TreeProofError(f"unknown non-inclusion proof kind {kind}")
    if len(proof) < n + 1 + 64:
        raise TreeProofError("non-inclusion proof shorter than its leaf")
    other_key = proof[n + 1 : n + 33]
    other_value = proof[n + 33 : n + 65]
    node, bits = _fold(other_key, other_value, proof[n + 65 :])
    if node != root or other_key == key:
        return False
    return common_prefix_bits(key, other_key) not in bits
