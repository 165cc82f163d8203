"""A small, deterministic WAICT world for tests: a transparency service's chains and tree,
witness keys, signed notes and cosignatures, manifests and scenarios.

Every byte is produced by the verifier's own encoders (one implementation of each format);
this module only arranges them. Keys are derived from names, so vectors are reproducible.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier import chain, mpt
from verifier.chain import ChainNode, Entry
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.note import Cosignature, NoteBody, SignedNote, cosign
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key, tree_value

NOW = 1790000000
HOUR = 3600
DAY = 24 * HOUR


def seed_for(name: str) -> bytes:
    return sha256(b"waict-test-seed:" + name.encode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def h64u(data: bytes) -> str:
    """b64u SHA-256 of data, as a manifest lists it."""
    return b64uencode(sha256(data))


def manifest_line(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class World:
    now: int = NOW
    ts: str = "ts.example"
    witness_names: tuple[str, ...] = ("w1.example", "w2.example", "w3.example")
    batch: int = 14
    chains: dict[str, list[ChainNode]] = field(default_factory=dict)
    filler: int = 5  # other domains in the tree, so proofs have several levels

    # --- keys and trust -------------------------------------------------------------
    def public_key(self, witness: str) -> bytes:
        return ed25519_public_key(seed_for(witness))

    def trust(
        self, quorum: int = 1, witnesses: Iterable[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        names = self.witness_names[:2] if witnesses is None else tuple(witnesses)
        out: dict[str, Any] = {
            "transparency_services": [self.ts],
            "witnesses": [{"name": n, "key": b64(self.public_key(n))} for n in names],
            "quorum": quorum,
            "max_cosignature_age": 7 * DAY,
            "max_future_skew": 600,
            "cooldown": DAY,
            "preload_domain": "preload.example",
        }
        out.update(extra)
        return out

    # --- the log --------------------------------------------------------------------
    def log(
        self,
        host: str,
        line: bytes | None,
        time_created: int | None = None,
        asset_hosts: Sequence[str] = (),
    ) -> ChainNode:
        """Append to ``host``'s chain; ``line=None`` appends a transparency tombstone."""
        nodes = self.chains.setdefault(host, [])
        head = nodes[-1] if nodes else None
        rh = chain.ZERO_HASH if line is None else chain.resource_hash(line)
        when = self.now - HOUR if time_created is None else time_created
        entry = Entry(len(nodes), when, rh, chain.asset_hosts_hash(asset_hosts))
        node = chain.append_node(head, entry)
        nodes.append(node)
        return node

    def leaves(self, heads: Mapping[str, ChainNode] | None = None) -> list[tuple[bytes, bytes]]:
        current = {h: n[-1] for h, n in self.chains.items()}
        current.update(heads or {})
        out = [(tree_key(h), tree_value(node)) for h, node in current.items()]
        out += [(sha256(b"filler%d" % i), sha256(b"value%d" % i)) for i in range(self.filler)]
        return out

    def root(self) -> bytes:
        return mpt.compute_root(self.leaves())

    def note(
        self,
        cosigners: Mapping[str, int] | Sequence[tuple[str, int]] | None = None,
        *,
        root: bytes | None = None,
        ts: str | None = None,
        batch: int | None = None,
    ) -> SignedNote:
        """A note over the current root. ``cosigners``: witness -> timestamp (default: the
        first two witnesses, 10 and 9 minutes ago)."""
        if cosigners is None:
            cosigners = {
                self.witness_names[0]: self.now - 600,
                self.witness_names[1]: self.now - 540,
            }
        items = list(cosigners.items()) if isinstance(cosigners, Mapping) else list(cosigners)
        body = NoteBody.for_service(
            ts or self.ts,
            self.batch if batch is None else batch,
            self.root() if root is None else root,
        )
        sigs = tuple(cosign(body, name, seed_for(name), t) for name, t in items)
        return SignedNote(body, sigs)

    def proof(
        self,
        host: str,
        note: SignedNote | None = None,
        *,
        head: ChainNode | None = None,
        tree_proof: bytes | None = None,
    ) -> ChainHeadWithProof:
        head = head or self.chains[host][-1]
        leaves = self.leaves({host: head})
        index = next(i for i, (k, _) in enumerate(leaves) if k == tree_key(host))
        return ChainHeadWithProof(
            head=head,
            tree_proof=mpt.prove_inclusion(leaves, index) if tree_proof is None else tree_proof,
            note=(note or self.note()).encode(),
        )

    # --- sites ------------------------------------------------------------------------
    def response(self, line: bytes, proof: ChainHeadWithProof | str | None) -> bytes:
        text = proof.to_b64() if isinstance(proof, ChainHeadWithProof) else (proof or "")
        return line + b"\n" + text.encode() + b"\n"

    def scenario(
        self,
        url: str,
        header: str | None,
        response: bytes | None,
        resources: Sequence[tuple[str, str, bytes]] = (),
        *,
        trust: dict[str, Any] | None = None,
        preload: bytes | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        return {
            "now": self.now if now is None else now,
            "trust": trust or self.trust(),
            "preload": None if preload is None else b64(preload),
            "url": url,
            "header": header,
            "manifest_response": None if response is None else b64(response),
            "resources": [{"url": u, "destination": d, "body": b64(b)} for u, d, b in resources],
        }


def cosignature_line_bytes(sig: Cosignature) -> bytes:
    return sig.line().encode()


def b64e(data: bytes) -> str:
    return b64encode(data)
