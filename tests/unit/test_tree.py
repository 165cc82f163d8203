"""``waict.log.tree.PrefixTree`` agrees byte for byte with the reference ``verifier.mpt``.

For random leaf sets (fixed seeds and hypothesis, sizes 0..300, keys built with long shared
prefixes so that split bits cover the whole 0..255 range): roots, every inclusion proof and
non-inclusion proofs equal the reference and verify; updates, batches and persistence of
old versions; and the spec's known-answer vectors (``tests/vectors/waict-mpt``).
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier import mpt
from waict.log.tree import PrefixTree

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "waict-mpt"

Leaf = tuple[bytes, bytes]


# -- helpers ---------------------------------------------------------------------------


def _key(base: int, prefix_bits: int, tail: int) -> bytes:
    """``base``'s first ``prefix_bits`` bits, then ``tail``'s bits (a 256-bit key)."""
    free = 256 - prefix_bits
    value = ((base >> free) << free) | (tail & ((1 << free) - 1))
    return value.to_bytes(32, "big")


def _random_leaves(rng: random.Random, n: int) -> list[Leaf]:
    """``n`` leaves with distinct keys; a third share long prefixes with a few bases."""
    bases = [rng.getrandbits(256) for _ in range(3)]
    leaves: dict[bytes, bytes] = {}
    while len(leaves) < n:
        if rng.random() < 0.34:
            key = _key(rng.choice(bases), rng.randrange(256), rng.getrandbits(256))
        else:
            key = rng.randbytes(32)
        leaves[key] = rng.randbytes(32)
    items = list(leaves.items())
    rng.shuffle(items)
    return items


def _probes(rng: random.Random, leaves: list[Leaf], count: int = 40) -> list[bytes]:
    """Absent keys: random ones and near neighbours (one bit flipped) of present keys."""
    present = {k for k, _ in leaves}
    probes = [rng.randbytes(32) for _ in range(count // 2)]
    for key, _ in rng.sample(leaves, min(len(leaves), count // 2)):
        bit = rng.choice([255, 254, 200, 128, 64, 8, 1, 0, rng.randrange(256)])
        probes.append((int.from_bytes(key, "big") ^ (1 << (255 - bit))).to_bytes(32, "big"))
    return [p for p in probes if p not in present]


def _check_against_reference(
    tree: PrefixTree, leaves: list[Leaf], probes: list[bytes], all_proofs: bool = True
) -> None:
    root = mpt.compute_root(leaves)
    assert tree.root() == root
    assert len(tree) == len(leaves)
    assert list(tree.items()) == sorted(leaves)
    indices = range(len(leaves)) if all_proofs else range(0, len(leaves), 7)
    for i in indices:
        key, value = leaves[i]
        assert tree.get(key) == value
        assert key in tree
        proof = tree.prove_inclusion(key)
        assert proof == mpt.prove_inclusion(leaves, i)
        assert mpt.verify_inclusion(root, key, value, proof)
    for key in probes:
        assert tree.get(key) is None
        assert key not in tree
        with pytest.raises(KeyError):
            tree.prove_inclusion(key)
        proof = tree.prove_non_inclusion(key)
        assert proof == mpt.prove_non_inclusion(leaves, key)
        assert mpt.verify_non_inclusion(root, key, proof)


def _set_all(tree: PrefixTree, items: list[Leaf]) -> PrefixTree:
    for key, value in items:
        tree = tree.set(key, value)
    return tree


# -- random leaf sets ----------------------------------------------------------------------

SIZES = [0, 1, 2, 3, 4, 5, 8, 17, 33, 64, 129, 300]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("size", SIZES)
def test_build_matches_reference(seed: int, size: int) -> None:
    rng = random.Random(seed * 1000 + size)
    leaves = _random_leaves(rng, size)
    tree = PrefixTree.build(leaves)
    _check_against_reference(tree, leaves, _probes(rng, leaves), all_proofs=True)


@pytest.mark.parametrize("seed", [4, 5])
def test_set_and_set_many_match_build(seed: int) -> None:
    rng = random.Random(seed)
    leaves = _random_leaves(rng, 300)
    built = PrefixTree.build(leaves)
    one_by_one = _set_all(PrefixTree.empty(), leaves)
    batched = PrefixTree.empty()
    for start in range(0, len(leaves), 37):
        batched = batched.set_many(leaves[start : start + 37])
    for tree in (one_by_one, batched):
        assert tree.root() == built.root()
        assert list(tree.items()) == list(built.items())
    _check_against_reference(batched, leaves, _probes(rng, leaves))


@st.composite
def leaf_sets(draw: st.DrawFn, max_size: int = 300) -> list[Leaf]:
    """Distinct keys; many share long prefixes with one drawn base key."""
    base = draw(st.integers(0, 2**256 - 1))
    size = draw(st.integers(0, max_size))
    spec = st.tuples(
        st.integers(0, 256), st.integers(0, 2**256 - 1), st.binary(min_size=32, max_size=32)
    )
    specs = draw(st.lists(spec, min_size=size, max_size=size))
    leaves = {_key(base, min(prefix, 255), tail): value for prefix, tail, value in specs}
    return list(leaves.items())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaves=leaf_sets(), seed=st.integers(0, 2**32))
def test_hypothesis_matches_reference(leaves: list[Leaf], seed: int) -> None:
    rng = random.Random(seed)
    tree = PrefixTree.build(leaves)
    _check_against_reference(tree, leaves, _probes(rng, leaves, 10), all_proofs=len(leaves) <= 100)
    # The same set inserted one by one, in another order, gives the same tree.
    shuffled = list(leaves)
    rng.shuffle(shuffled)
    assert _set_all(PrefixTree.empty(), shuffled).root() == tree.root()


@settings(max_examples=60, deadline=None)
@given(
    initial=leaf_sets(max_size=60),
    batch=st.lists(
        st.tuples(
            st.integers(0, 3), st.integers(0, 2**256 - 1), st.binary(min_size=32, max_size=32)
        ),
        max_size=60,
    ),
    seed=st.integers(0, 2**32),
)
def test_set_many_equals_repeated_set(
    initial: list[Leaf], batch: list[tuple[int, int, bytes]], seed: int
) -> None:
    rng = random.Random(seed)
    tree = PrefixTree.build(initial)
    items: list[Leaf] = []
    for kind, number, value in batch:
        if kind == 0 and initial:  # update an existing key
            key = initial[number % len(initial)][0]
        elif kind == 1 and items:  # repeat a key of this batch (the later value wins)
            key = items[number % len(items)][0]
        elif kind == 2 and initial:  # a neighbour of an existing key
            near = int.from_bytes(initial[number % len(initial)][0], "big")
            key = (near ^ (1 << rng.randrange(256))).to_bytes(32, "big")
        else:
            key = number.to_bytes(32, "big")
        items.append((key, value))
    expected = _set_all(tree, items)
    got = tree.set_many(items)
    assert got.root() == expected.root()
    assert len(got) == len(expected)
    assert list(got.items()) == list(expected.items())
    final = dict(initial)
    final.update(items)
    assert got.root() == mpt.compute_root(list(final.items()))
    # The original is untouched.
    assert tree.root() == mpt.compute_root(initial)
    assert list(tree.items()) == sorted(initial)


# -- updates and persistence ----------------------------------------------------------------


def test_set_updates_existing_key() -> None:
    rng = random.Random(7)
    leaves = _random_leaves(rng, 50)
    tree = PrefixTree.build(leaves)
    key, old_value = leaves[10]
    new_value = rng.randbytes(32)
    updated = tree.set(key, new_value)
    assert len(updated) == len(tree) == 50
    assert updated.get(key) == new_value
    assert tree.get(key) == old_value
    changed = list(leaves)
    changed[10] = (key, new_value)
    assert updated.root() == mpt.compute_root(changed)
    assert updated.prove_inclusion(key) == mpt.prove_inclusion(changed, 10)
    # Setting the value already there changes nothing.
    assert tree.set(key, old_value).root() == tree.root()
    assert tree.set_many([(key, old_value)]).root() == tree.root()


def test_old_versions_are_unchanged() -> None:
    rng = random.Random(8)
    leaves = _random_leaves(rng, 120)
    current = dict(leaves[:40])
    versions: list[tuple[PrefixTree, list[Leaf]]] = []
    tree = PrefixTree.build(list(current.items()))
    versions.append((tree, list(current.items())))
    for step in range(12):
        existing = list(current)
        if step % 3 == 0:  # one insert
            key, value = leaves[40 + step]
            tree = tree.set(key, value)
            current[key] = value
        elif step % 3 == 1:  # one update
            key = rng.choice(existing)
            value = rng.randbytes(32)
            tree = tree.set(key, value)
            current[key] = value
        else:  # a batch of updates and inserts
            batch = [(rng.choice(existing), rng.randbytes(32)) for _ in range(5)]
            batch += leaves[60 + 5 * step : 65 + 5 * step]
            tree = tree.set_many(batch)
            current.update(batch)
        versions.append((tree, list(current.items())))
    snapshots = [
        (v.root(), list(v.items()), [v.prove_inclusion(k) for k, _ in ls]) for v, ls in versions
    ]
    for (version, version_leaves), (root, items, proofs) in zip(versions, snapshots, strict=True):
        assert root == mpt.compute_root(version_leaves)
        assert items == sorted(version_leaves)
        assert proofs == [mpt.prove_inclusion(version_leaves, i) for i in range(len(items))]
        assert version.root() == root
    assert len({root for root, _, _ in snapshots}) == len(snapshots)


def test_empty_tree() -> None:
    tree = PrefixTree.empty()
    key = bytes(range(32))
    assert len(tree) == 0
    assert tree.root() == mpt.EMPTY_ROOT == mpt.compute_root([])
    assert tree.get(key) is None
    assert list(tree.items()) == []
    with pytest.raises(KeyError):
        tree.prove_inclusion(key)
    proof = tree.prove_non_inclusion(key)
    assert proof == mpt.prove_non_inclusion([], key) == mpt.NONINCLUSION_MAGIC + b"\x00"
    assert mpt.verify_non_inclusion(tree.root(), key, proof)
    assert PrefixTree.build([]).root() == mpt.EMPTY_ROOT
    assert tree.set_many([]) is tree
    one = tree.set(key, bytes(32))
    assert one.root() == mpt.leaf_hash(key, bytes(32))
    assert tree.root() == mpt.EMPTY_ROOT


def test_errors() -> None:
    key, value = bytes(32), bytes(32)
    tree = PrefixTree.build([(key, value)])
    with pytest.raises(ValueError, match="duplicate"):
        PrefixTree.build([(key, value), (key, b"\x01" * 32)])
    for bad in [(b"\x00" * 31, value), (key, b"\x00" * 33)]:
        with pytest.raises(ValueError):
            PrefixTree.build([bad])
        with pytest.raises(ValueError):
            tree.set(*bad)
        with pytest.raises(ValueError):
            tree.set_many([(b"\x01" * 32, value), bad])
    for method in (tree.get, tree.prove_inclusion, tree.prove_non_inclusion):
        with pytest.raises(ValueError):
            method(b"\x00" * 31)
    with pytest.raises(ValueError, match="in the tree"):
        tree.prove_non_inclusion(key)
    with pytest.raises(KeyError):
        tree.prove_inclusion(b"\x01" * 32)
    assert len(tree) == 1 and tree.get(key) == value


# -- known-answer vectors -------------------------------------------------------------------


def _load(name: str) -> list[dict[str, Any]]:
    with (VECTORS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _leaves(vector: dict[str, Any]) -> list[Leaf]:
    return [(base64.b64decode(x["key"]), base64.b64decode(x["value"])) for x in vector["leaves"]]


ROOT_KATS = _load("mpt_root_kats.jsonl")
INCLUSION_KATS = _load("mpt_inclusion_kats.jsonl")


def test_vector_counts() -> None:
    assert len(ROOT_KATS) == 24
    assert len(INCLUSION_KATS) == 36


@pytest.mark.parametrize("vector", ROOT_KATS, ids=[v["label"] for v in ROOT_KATS])
def test_root_kats(vector: dict[str, Any]) -> None:
    leaves = _leaves(vector)
    root = base64.b64decode(vector["root"])
    assert PrefixTree.build(leaves).root() == root
    assert _set_all(PrefixTree.empty(), leaves).root() == root
    assert PrefixTree.empty().set_many(leaves).root() == root
    half = len(leaves) // 2
    assert PrefixTree.build(leaves[:half]).set_many(leaves[half:]).root() == root


@pytest.mark.parametrize("vector", INCLUSION_KATS, ids=[v["label"] for v in INCLUSION_KATS])
def test_inclusion_kats(vector: dict[str, Any]) -> None:
    leaves = _leaves(vector)
    root = base64.b64decode(vector["root"])
    proof = base64.b64decode(vector["proof"])
    key, value = leaves[vector["target_index"]]
    for tree in (PrefixTree.build(leaves), _set_all(PrefixTree.empty(), leaves)):
        assert tree.root() == root
        assert tree.prove_inclusion(key) == proof
    assert mpt.verify_inclusion(root, key, value, proof)
