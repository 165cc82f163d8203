"""ChainHeadWithProof: what a site serves on the manifest response's proof line.

Byte layout (big-endian)::

    ChainHeadWithProof = ChainNode head (112 B) | u16 len | mpt proof
                         | u24 len | signed note (UTF-8)

Parsed strictly: exact lengths, no trailing bytes. On the wire it is base64 (with padding).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from verifier.chain import CHAIN_NODE_SIZE, ChainNode
from verifier.encoding import b64decode, b64encode
from verifier.errors import ChainError, EncodingError, ProofError


@dataclass(frozen=True)
class ChainHeadWithProof:
    head: ChainNode
    tree_proof: bytes
    note: bytes

    def encode(self) -> bytes:
        if len(self.tree_proof) > 0xFFFF:
            raise ProofError("tree proof longer than 65535 bytes")
        if len(self.note) > 0xFFFFFF:
            raise ProofError("signed note longer than 2^24-1 bytes")
        return (
            self.head.encode()
            + struct.pack(">H", len(self.tree_proof))
            + self.tree_proof
            + len(self.note).to_bytes(3, "big")
            + self.note
        )

    def to_b64(self) -> str:
        return b64encode(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> ChainHeadWithProof:
        if len(data) < CHAIN_NODE_SIZE + 2:
            raise ProofError("proof is shorter than a chain node and its tree-proof length")
        try:
            head = ChainNode.decode(data[:CHAIN_NODE_SIZE])
        except ChainError as exc:
            raise ProofError(str(exc)) from None
        i = CHAIN_NODE_SIZE
        (tree_len,) = struct.unpack(">H", data[i : i + 2])
        i += 2
        if i + tree_len + 3 > len(data):
            raise ProofError("proof: tree proof length runs past the end")
        tree_proof = bytes(data[i : i + tree_len])
        i += tree_len
        note_len = int.from_bytes(data[i : i + 3], "big")
        i += 3
        if i + note_len != len(data):
            if i + note_len > len(data):
                raise ProofError("proof: note length runs past the end")
            raise ProofError("proof: trailing bytes after the signed note")
        return cls(head, tree_proof, bytes(data[i:]))

    @classmethod
    def from_b64(cls, text: str) -> ChainHeadWithProof:
        try:
            data = b64decode(text, what="transparency proof")
        except EncodingError as exc:
            raise ProofError(str(exc)) from None
        return cls.decode(data)
