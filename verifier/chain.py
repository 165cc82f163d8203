"""The per-site hash chain: Entry, ChainNode and their hashes.

Byte layout (all integers big-endian, H = SHA-256)::

    Entry     = u64 position | u64 time_created | resource_hash[32] | asset_hosts_hash[32]   80 B
    ChainNode = Entry | chain_hash[32]                                                      112 B

- ``resource_hash    = H("waict-rh" || manifest line)``  (the line without its trailing ``\\n``)
- ``asset_hosts_hash = H("waict-ah" || V)``, V the TLS vector of the asset-host URLs sorted by
  bytes: ``u16 total length``, then per URL ``u16 length || bytes``.
- node 0 carries ``chain_hash`` = 32 zero bytes; node i carries
  ``chain_hash = H("waict-ch" || ChainNode_{i-1})``.
- an all-zero ``resource_hash`` is a transparency tombstone (the site unenrolled).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verifier.crypto import sha256
from verifier.errors import ChainError

ENTRY_SIZE = 80
CHAIN_NODE_SIZE = 112
ZERO_HASH = bytes(32)
LABEL_RESOURCE = b"waict-rh"
LABEL_ASSET_HOSTS = b"waict-ah"
LABEL_CHAIN = b"waict-ch"
U64_MAX = 2**64 - 1


def resource_hash(manifest_line: bytes) -> bytes:
    """``H("waict-rh" || manifest line)``; the line excludes the trailing newline."""
    return sha256(LABEL_RESOURCE + manifest_line)


def encode_asset_hosts(urls: Iterable[str]) -> bytes:
    """The TLS vector of asset-host URLs, sorted by their UTF-8 bytes, duplicates removed."""
    items = sorted({u.encode("utf-8") for u in urls})
    body = b""
    for item in items:
        if len(item) > 0xFFFF:
            raise ChainError("an asset-host URL is longer than 65535 bytes")
        body += struct.pack(">H", len(item)) + item
    if len(body) > 0xFFFF:
        raise ChainError("the asset-host list is longer than 65535 bytes")
    return struct.pack(">H", len(body)) + body


def decode_asset_hosts(data: bytes) -> list[str]:
    """Inverse of :func:`encode_asset_hosts` (strict: sorted, unique, exact length)."""
    if len(data) < 2:
        raise ChainError("asset-host vector shorter than its length prefix")
    (total,) = struct.unpack(">H", data[:2])
    if total != len(data) - 2:
        raise ChainError(f"asset-host vector says {total} bytes, has {len(data) - 2}")
    out: list[bytes] = []
    i = 2
    while i < len(data):
        if i + 2 > len(data):
            raise ChainError("asset-host vector: truncated item length")
        (n,) = struct.unpack(">H", data[i : i + 2])
        if i + 2 + n > len(data):
            raise ChainError("asset-host vector: truncated item")
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    if out != sorted(set(out)):
        raise ChainError("asset-host vector is not sorted and unique")
    try:
        return [o.decode("utf-8") for o in out]
    except UnicodeDecodeError:
        raise ChainError("asset-host URL is not UTF-8") from None


def asset_hosts_hash(urls: Iterable[str]) -> bytes:
    return sha256(LABEL_ASSET_HOSTS + encode_asset_hosts(urls))


@dataclass(frozen=True)
class Entry:
    position: int
    time_created: int
    resource_hash: bytes
    asset_hosts_hash: bytes

    def __post_init__(self) -> None:
        if not (0 <= self.position <= U64_MAX and 0 <= self.time_created <= U64_MAX):
            raise ChainError("entry position and time must fit in u64")
        if len(self.resource_hash) != 32 or len(self.asset_hosts_hash) != 32:
            raise ChainError("entry hashes must be 32 bytes")

    @property
    def is_tombstone(self) -> bool:
        """A transparency tombstone: the site unenrolled."""
        return self.resource_hash == ZERO_HASH

    def encode(self) -> bytes:
        return (
            struct.pack(">QQ", self.position, self.time_created)
            + self.resource_hash
            + self.asset_hosts_hash
        )

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        if len(data) != ENTRY_SIZE:
            raise ChainError(f"an Entry is {ENTRY_SIZE} bytes, got {len(data)}")
        position, time_created = struct.unpack(">QQ", data[:16])
        return cls(position, time_created, bytes(data[16:48]), bytes(data[48:80]))


@dataclass(frozen=True)
class ChainNode:
    entry: Entry
    chain_hash: bytes

    def __post_init__(self) -> None:
        if len(self.chain_hash) != 32:
            raise ChainError("chain_hash must be 32 bytes")

    @property
    def position(self) -> int:
        return self.entry.position

    def encode(self) -> bytes:
        return self.entry.encode() + self.chain_hash

    @classmethod
    def decode(cls, data: bytes) -> ChainNode:
        if len(data) != CHAIN_NODE_SIZE:
            raise ChainError(f"a ChainNode is {CHAIN_NODE_SIZE} bytes, got {len(data)}")
        return cls(Entry.decode(data[:ENTRY_SIZE]), bytes(data[ENTRY_SIZE:]))

    def next_chain_hash(self) -> bytes:
        """``H("waict-ch" || this node)``: what the next node carries, and the tree value."""
        return sha256(LABEL_CHAIN + self.encode())


def first_node(entry: Entry) -> ChainNode:
    if entry.position != 0:
        raise ChainError("the first chain node must be at position 0")
    return ChainNode(entry, ZERO_HASH)


def append_node(head: ChainNode | None, entry: Entry) -> ChainNode:
    """The node that follows ``head`` (or the first node when ``head`` is None)."""
    if head is None:
        return first_node(entry)
    if entry.position != head.position + 1:
        raise ChainError(f"next position must be {head.position + 1}, got {entry.position}")
    if entry.time_created < head.entry.time_created:
        raise ChainError("a chain node's time must not go backwards")
    return ChainNode(entry, head.next_chain_hash())


def verify_chain(nodes: Sequence[ChainNode], previous: ChainNode | None = None) -> None:
    """Check that ``nodes`` link (positions consecutive, chain hashes match, time monotonic)."""
    prev = previous
    for node in nodes:
        expected = append_node(prev, node.entry)
        if expected.chain_hash != node.chain_hash:
            raise ChainError(f"chain hash mismatch at position {node.position}")
        prev = node
