"""A persistent (path-copying) crit-bit tree: the WAICT prefix tree, kept incrementally.

:mod:`verifier.mpt` holds the reference Merkle Patricia tree of the transparency spec: it
rebuilds every hash from a sorted leaf list on each call. The transparency service and the
witnesses need the same tree for millions of domains, updated batch by batch, with old
versions still answering proofs (the service serves proofs against the last cosigned root
while the next batch is already applied). :class:`PrefixTree` is that tree. Its roots and
proofs are byte-identical to :mod:`verifier.mpt` for the same leaf set; the hashing rule
(``leaf_hash``, ``inner_hash``) and the proof wire formats are taken from there and exist
only there.

Structure
---------
A binary crit-bit (PATRICIA) tree over 256-bit keys, bit 0 being the most significant bit
of byte 0. Its shape is fully determined by the leaf set, so it is exactly the shape the
reference computes:

- a **leaf** is one ``bytes`` object, ``key || value`` (64 bytes; no wrapper object);
- an **inner node** is a plain 3-tuple ``(hash || u8 bit, left, right)``: ``bit`` is the
  first bit at which its two subtrees differ (= the length of the common prefix of all keys
  below it), ``left`` holds the keys with 0 at ``bit``, ``right`` those with 1, and
  ``hash = inner_hash(hash(left), hash(right), bit)``. Bits strictly increase from root to
  leaf.

Why tuples and not a ``__slots__`` class: a 3-tuple costs the same memory as a 4-slot
object, is cheaper to create, and, because it holds only bytes and other such tuples,
CPython's cyclic garbage collector untracks it after its first collection. A tree of
millions of nodes is then invisible to the collector, instead of being rescanned by every
full collection (measured with a ``__slots__`` node class: the collector took almost half
of a 1M-leaf bulk build, and each full collection then scanned the whole tree).

Inner hashes are computed once, when a node is created; a leaf's hash ``H(key || value)``
is not stored but recomputed when needed (one SHA-256 of 64 bytes, needed only for a leaf
that is a sibling on a proof or update path). A :class:`PrefixTree` stores its root node,
its size and its root hash. Nodes are never mutated, so an update copies only the path
from the root to the changed leaf and shares every other node with the previous version:
any number of versions can be kept and queried at once, and a version's private nodes are
freed (by reference counting) when it is dropped.

Memory per leaf: the leaf (64-byte ``bytes``, 97 B) plus one inner node (3-tuple, 64 B)
and its 33-byte ``hash || bit`` (66 B): 227 B requested (tracemalloc), about 260 B of RSS
with allocator rounding (1M leaves: 217 MiB traced, 260 MiB peak-RSS growth). Each
version kept alive costs only its copied paths (see ``scripts/bench_tree.py``).

Complexity (n leaves, d = depth: about log2 n for hash-derived keys, at most 256):

- :meth:`PrefixTree.build`: O(n log n) for the sort, then O(n) (a stack construction over
  the sorted keys, as in the spec's reference algorithm); n - 1 inner hashes;
- :meth:`~PrefixTree.get`, :meth:`~PrefixTree.prove_inclusion`,
  :meth:`~PrefixTree.prove_non_inclusion`: O(d);
- :meth:`~PrefixTree.set`: O(d) time, O(d) new nodes and hashes;
- :meth:`~PrefixTree.set_many` of m keys: O(m log m + m d) time. The sorted batch is
  split recursively along the tree (a new split where batch keys leave a subtree's prefix,
  new-only ranges built like :meth:`~PrefixTree.build`, a lone key handed to the path copy
  of :meth:`~PrefixTree.set`), so only the union of the m paths is copied and rehashed:
  about m·(d - log2 m) + m nodes instead of m·d;
- :meth:`~PrefixTree.root`, ``len``: O(1); :meth:`~PrefixTree.items`: O(n), in key order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import TypeAlias

from verifier.mpt import (
    EMPTY_ROOT,
    NONINCLUSION_MAGIC,
    PROOF_MAGIC,
    bit_at,
    common_prefix_bits,
    inner_hash,
    leaf_hash,
)

__all__ = ["KEY_SIZE", "VALUE_SIZE", "PrefixTree"]

KEY_SIZE = 32
VALUE_SIZE = 32
_HASH_SIZE = 32
_NO_SPLIT = 8 * KEY_SIZE  # a leaf: "splits" below the last bit
_BIT_BYTE = tuple(bytes((bit,)) for bit in range(256))  # u8 bit, as in node tags and proofs

# A leaf is the 64-byte ``key || value``; an inner node is ``(hash || u8 bit, left, right)``.
_Node: TypeAlias = "bytes | tuple[bytes, _Node, _Node]"
_Inner: TypeAlias = "tuple[bytes, _Node, _Node]"


def _node_hash(node: _Node) -> bytes:
    if isinstance(node, tuple):
        return node[0][:_HASH_SIZE]
    return leaf_hash(node[:KEY_SIZE], node[KEY_SIZE:])


def _make_inner(bit: int, left: _Node, right: _Node) -> _Inner:
    return (inner_hash(_node_hash(left), _node_hash(right), bit) + _BIT_BYTE[bit], left, right)


def _leaf_bytes(key: bytes, value: bytes) -> bytes:
    if len(key) != KEY_SIZE or len(value) != VALUE_SIZE:
        raise ValueError("tree keys and values must be 32 bytes")
    return b"".join((key, value))


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError("tree keys must be 32 bytes")


def _build_sorted(leaves: list[bytes], lo: int, hi: int) -> _Node:
    """The subtree over ``leaves[lo:hi]`` (at least one), sorted by key, keys distinct.

    Stack construction: the split bit between neighbours i-1 and i is the length of their
    common prefix, and the tree is the Cartesian tree of those bits (smallest at the root).
    ``nodes``/``hashes`` hold the right spine under construction, ``bits[j]`` the split
    between ``nodes[j]`` and ``nodes[j + 1]`` (strictly increasing).
    """
    first = leaves[lo]
    prev_key = first[:KEY_SIZE]
    nodes: list[_Node] = [first]
    hashes: list[bytes] = [leaf_hash(prev_key, first[KEY_SIZE:])]
    bits: list[int] = []
    for i in range(lo + 1, hi):
        leaf = leaves[i]
        key = leaf[:KEY_SIZE]
        d = common_prefix_bits(prev_key, key)
        while bits and bits[-1] > d:
            bit = bits.pop()
            right = nodes.pop()
            right_hash = hashes.pop()
            digest = inner_hash(hashes[-1], right_hash, bit)
            hashes[-1] = digest
            nodes[-1] = (digest + _BIT_BYTE[bit], nodes[-1], right)
        bits.append(d)
        nodes.append(leaf)
        hashes.append(leaf_hash(key, leaf[KEY_SIZE:]))
        prev_key = key
    while bits:
        bit = bits.pop()
        right = nodes.pop()
        right_hash = hashes.pop()
        digest = inner_hash(hashes[-1], right_hash, bit)
        hashes[-1] = digest
        nodes[-1] = (digest + _BIT_BYTE[bit], nodes[-1], right)
    return nodes[0]


def _set_one(node: _Node, key: bytes, new_leaf: bytes) -> tuple[_Node, bool]:
    """``node`` with the leaf ``new_leaf`` (= ``key || value``) set, and whether ``key`` is
    new; ``node`` itself when nothing changes. The walk for ``key`` must pass through
    ``node`` (so ``key`` may leave ``node``'s prefix, but no ancestor's)."""
    top = node
    path: list[_Inner] = []
    while isinstance(node, tuple):
        path.append(node)
        node = node[2] if bit_at(key, node[0][_HASH_SIZE]) else node[1]
    sub: _Node
    if node[:KEY_SIZE] == key:
        if node == new_leaf:
            return top, False
        sub = new_leaf
        sub_hash = leaf_hash(key, new_leaf[KEY_SIZE:])
        depth = len(path)
        inserted = False
    else:
        # Insert a split at the first differing bit d, above the first path node that
        # splits further down (path bits increase; none equals d).
        d = common_prefix_bits(key, node[:KEY_SIZE])
        depth = 0
        while depth < len(path) and path[depth][0][_HASH_SIZE] < d:
            depth += 1
        below = path[depth] if depth < len(path) else node
        sub = _make_inner(d, below, new_leaf) if bit_at(key, d) else _make_inner(d, new_leaf, below)
        sub_hash = sub[0][:_HASH_SIZE]
        inserted = True
    # Copy and rehash the path bottom-up, carrying the new child's hash along.
    for parent in reversed(path[:depth]):
        tag = parent[0]
        bit = tag[_HASH_SIZE]
        if bit_at(key, bit):
            sibling = parent[1]
            sub_hash = inner_hash(_node_hash(sibling), sub_hash, bit)
            sub = (sub_hash + tag[_HASH_SIZE:], sibling, sub)
        else:
            sibling = parent[2]
            sub_hash = inner_hash(sub_hash, _node_hash(sibling), bit)
            sub = (sub_hash + tag[_HASH_SIZE:], sub, sibling)
    return sub, inserted


def _first_one(keys: list[bytes], bit: int, lo: int, hi: int) -> int:
    """In sorted ``keys[lo:hi]`` sharing their first ``bit`` bits: first index with 1 at ``bit``."""
    return bisect.bisect_left(keys, 1, lo, hi, key=lambda k: bit_at(k, bit))


def _leaf_key(node: _Node, key: bytes) -> bytes:
    """The key of the leaf that the walk for ``key`` from ``node`` reaches: a key under
    ``node``, sharing ``node``'s prefix."""
    while isinstance(node, tuple):
        node = node[2] if bit_at(key, node[0][_HASH_SIZE]) else node[1]
    return node[:KEY_SIZE]


class _Batch:
    """A sorted batch of distinct updates, merged into a tree in one recursive pass."""

    __slots__ = ("added", "keys", "leaves")

    def __init__(self, keys: list[bytes], leaves: list[bytes]) -> None:
        self.keys = keys
        self.leaves = leaves
        self.added = 0  # keys that were not in the tree

    def merge(self, node: _Node, lo: int, hi: int, rep: bytes | None) -> _Node:
        """``node`` with ``keys[lo:hi]`` set; the walks of all those keys pass through
        ``node``. ``rep`` is a key under ``node`` when the caller knows one."""
        if lo == hi:
            return node
        if hi - lo == 1:
            sub, inserted = _set_one(node, self.keys[lo], self.leaves[lo])
            self.added += inserted
            return sub
        keys = self.keys
        # All keys under ``node`` share their first ``node_bit`` bits with ``rep``.
        if rep is None:
            rep = _leaf_key(node, keys[lo])
        node_bit = node[0][_HASH_SIZE] if isinstance(node, tuple) else _NO_SPLIT
        # The batch is sorted, so its shortest common prefix with ``rep`` is at an end.
        c = min(common_prefix_bits(rep, keys[lo]), common_prefix_bits(rep, keys[hi - 1]))
        if c < node_bit:
            # Some keys leave the subtree's prefix at bit c: a new split at c above ``node``.
            # The keys on the far side are all new (none is under ``node``).
            mid = _first_one(keys, c, lo, hi)
            if bit_at(rep, c) == 0:
                left = self.merge(node, lo, mid, rep)
                self.added += hi - mid
                right = _build_sorted(self.leaves, mid, hi)
            else:
                self.added += mid - lo
                left = _build_sorted(self.leaves, lo, mid)
                right = self.merge(node, mid, hi, rep)
            return _make_inner(c, left, right)
        # c >= node_bit, and two or more distinct keys share that prefix: not a leaf.
        assert isinstance(node, tuple)
        mid = _first_one(keys, node_bit, lo, hi)
        rep_right = bit_at(rep, node_bit)
        left = self.merge(node[1], lo, mid, None if rep_right else rep)
        right = self.merge(node[2], mid, hi, rep if rep_right else None)
        if left is node[1] and right is node[2]:
            return node
        return _make_inner(node_bit, left, right)


class PrefixTree:
    """An immutable WAICT prefix tree (Merkle Patricia tree) of 32-byte keys and values.

    Every update returns a new tree and leaves this one unchanged (they share nodes).
    Roots and proofs are those of :mod:`verifier.mpt` for the same leaves.
    """

    __slots__ = ("_node", "_root", "_size")

    _node: _Node | None
    _size: int
    _root: bytes

    def __init__(self, node: _Node | None, size: int) -> None:
        """Internal: use :meth:`empty` or :meth:`build`."""
        self._node = node
        self._size = size
        self._root = EMPTY_ROOT if node is None else _node_hash(node)

    # -- construction ------------------------------------------------------------------

    @classmethod
    def empty(cls) -> PrefixTree:
        """The tree with no leaves (root ``H("")``)."""
        return cls(None, 0)

    @classmethod
    def build(cls, leaves: Iterable[tuple[bytes, bytes]]) -> PrefixTree:
        """The tree over ``(key, value)`` pairs, in any order.

        Raises :class:`ValueError` when a key or value is not 32 bytes or a key repeats.
        """
        flat = [_leaf_bytes(key, value) for key, value in leaves]
        if not flat:
            return cls.empty()
        # Sorting ``key || value`` sorts by key (all keys have the same length).
        flat.sort()
        prev = flat[0][:KEY_SIZE]
        for i in range(1, len(flat)):
            key = flat[i][:KEY_SIZE]
            if key == prev:
                raise ValueError(f"duplicate key in tree: {key.hex()}")
            prev = key
        return cls(_build_sorted(flat, 0, len(flat)), len(flat))

    # -- queries -----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and len(key) == KEY_SIZE and self.get(key) is not None

    def __repr__(self) -> str:
        return f"PrefixTree(size={self._size}, root={self._root.hex()})"

    def root(self) -> bytes:
        """The root hash (32 bytes); ``H("")`` for the empty tree."""
        return self._root

    def _walk(self, key: bytes) -> bytes | None:
        """The leaf the walk for ``key`` reaches (``None`` for the empty tree)."""
        node = self._node
        if node is None:
            return None
        while isinstance(node, tuple):
            node = node[2] if bit_at(key, node[0][_HASH_SIZE]) else node[1]
        return node

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        _check_key(key)
        leaf = self._walk(key)
        if leaf is None or leaf[:KEY_SIZE] != key:
            return None
        return leaf[KEY_SIZE:]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """All ``(key, value)`` pairs in increasing key order."""
        if self._node is None:
            return
        stack: list[_Node] = [self._node]
        while stack:
            node = stack.pop()
            if isinstance(node, tuple):
                stack.append(node[2])
                stack.append(node[1])
            else:
                yield node[:KEY_SIZE], node[KEY_SIZE:]

    # -- proofs ------------------------------------------------------------------------

    def _path(self, key: bytes) -> tuple[bytes, bytes]:
        """The leaf the walk for ``key`` reaches and the encoded ``(u8 bit, sibling)``
        segments, leaf to root. The tree must not be empty."""
        node = self._node
        assert node is not None
        segments: list[bytes] = []
        while isinstance(node, tuple):
            bit = node[0][_HASH_SIZE]
            if bit_at(key, bit):
                sibling, node = node[1], node[2]
            else:
                sibling, node = node[2], node[1]
            segments.append(_BIT_BYTE[bit] + _node_hash(sibling))
        segments.reverse()
        return node, b"".join(segments)

    def prove_inclusion(self, key: bytes) -> bytes:
        """The inclusion proof of ``key`` (as :func:`verifier.mpt.prove_inclusion`).

        Raises :class:`KeyError` when ``key`` is not in the tree, :class:`ValueError` when
        it is not 32 bytes.
        """
        _check_key(key)
        if self._node is None:
            raise KeyError(key)
        leaf, segments = self._path(key)
        if leaf[:KEY_SIZE] != key:
            raise KeyError(key)
        return PROOF_MAGIC + leaf[KEY_SIZE:] + segments

    def prove_non_inclusion(self, key: bytes) -> bytes:
        """A proof that ``key`` is absent (as :func:`verifier.mpt.prove_non_inclusion`).

        Raises :class:`ValueError` when ``key`` is in the tree or is not 32 bytes.
        """
        _check_key(key)
        if self._node is None:
            return NONINCLUSION_MAGIC + b"\x00"
        leaf, segments = self._path(key)
        if leaf[:KEY_SIZE] == key:
            raise ValueError("cannot prove non-inclusion: the key is in the tree")
        return NONINCLUSION_MAGIC + b"\x01" + leaf + segments

    # -- updates -----------------------------------------------------------------------

    def set(self, key: bytes, value: bytes) -> PrefixTree:
        """A tree with ``key`` set to ``value`` (inserted or updated); ``self`` is unchanged.

        Raises :class:`ValueError` when the key or value is not 32 bytes.
        """
        new_leaf = _leaf_bytes(key, value)
        if self._node is None:
            return PrefixTree(new_leaf, 1)
        node, inserted = _set_one(self._node, new_leaf[:KEY_SIZE], new_leaf)
        if node is self._node:
            return self
        return PrefixTree(node, self._size + inserted)

    def set_many(self, items: Iterable[tuple[bytes, bytes]]) -> PrefixTree:
        """A tree with every ``(key, value)`` of ``items`` set, in order (a later pair for
        the same key wins), as repeated :meth:`set` would give; ``self`` is unchanged.

        The batch is sorted and merged into the tree in one pass, so a path shared by
        several keys is copied and rehashed once. Raises :class:`ValueError` when a key or
        value is not 32 bytes (and then applies nothing).
        """
        batch: dict[bytes, bytes] = {}
        for key, value in items:
            leaf = _leaf_bytes(key, value)
            batch[leaf[:KEY_SIZE]] = leaf
        if not batch:
            return self
        keys = sorted(batch)
        leaves = [batch[k] for k in keys]
        if self._node is None:
            return PrefixTree(_build_sorted(leaves, 0, len(leaves)), len(leaves))
        merger = _Batch(keys, leaves)
        node = merger.merge(self._node, 0, len(keys), None)
        if node is self._node:
            return self
        return PrefixTree(node, self._size + merger.added)
