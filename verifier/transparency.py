"""Transparency verification of a logged resource (a manifest or the preload list).

Given the exact logged line, the host it is logged for and the ``ChainHeadWithProof``
served beside it, check, in order:

1. the proof parses strictly (else :class:`ProofError`: reason ``invalid_transparency_proof``);
2. the note's origin names a trusted transparency service (``untrusted_ts``);
3. the head commits to the line: ``resource_hash == H("waict-rh" || line)``
   (``resource_hash_mismatch``), except that a tombstone head (all-zero resource hash) is
   accepted where the caller allows one;
4. the tree proves ``H("waict-kh" || host) -> H("waict-ch" || head)`` under the note's root
   (``tree_proof_failed``);
5. every cosignature line of a trusted witness verifies (else the note is rejected:
   ``bad_cosignature``), and a quorum of distinct trusted witnesses cosigned within the
   time window (``quorum_not_met``, or ``stale_cosignature`` / ``future_cosignature`` when
   cosignatures were there but outside the window).

Two time windows: ``fresh`` (manifests and the preload list: no older than the maximum
cosignature age, not further in the future than the skew) and ``cooled`` (dev-ids inclusion:
at least the cooldown old; the maximum age does not apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from verifier import mpt
from verifier.chain import ChainNode, resource_hash
from verifier.crypto import sha256
from verifier.errors import NoteError, ProofError, TransparencyError, TreeProofError
from verifier.note import SignedNote, VerifiedCosignature, parse_note, verify_cosignatures
from verifier.proof import ChainHeadWithProof
from verifier.trust import TrustConfig

LABEL_KEY = b"waict-kh"


class Window(Enum):
    FRESH = "fresh"
    COOLED = "cooled"


def tree_key(host: str) -> bytes:
    """``H("waict-kh" || host)``; ``host`` lower-case ASCII, no port, no trailing dot."""
    return sha256(LABEL_KEY + host.encode("ascii"))


def tree_value(head: ChainNode) -> bytes:
    """``H("waict-ch" || head)``: the chain hash the next node would carry."""
    return head.next_chain_hash()


@dataclass(frozen=True)
class ProvenHead:
    head: ChainNode
    note: SignedNote
    ts_domain: str
    counted: tuple[VerifiedCosignature, ...]  # the distinct witnesses that made the quorum


def parse_proof(proof_text: str) -> tuple[ChainHeadWithProof, SignedNote]:
    if not proof_text:
        raise ProofError("the transparency proof line is empty")
    proof = ChainHeadWithProof.from_b64(proof_text)
    try:
        note = parse_note(proof.note)
    except NoteError as exc:
        raise ProofError(f"signed note: {exc}", detail="malformed_note") from None
    return proof, note


def verify_logged(
    *,
    host: str,
    line: bytes,
    proof_text: str,
    trust: TrustConfig,
    now: int,
    window: Window = Window.FRESH,
    allow_tombstone_head: bool = False,
) -> ProvenHead:
    proof, note = parse_proof(proof_text)
    ts_domain = note.body.ts_domain
    if ts_domain not in trust.transparency_services:
        raise TransparencyError(
            f"the proof is signed by transparency service {ts_domain!r}, which is not trusted",
            detail="untrusted_ts",
        )
    head = proof.head
    skip_match = allow_tombstone_head and head.entry.is_tombstone
    if not skip_match and head.entry.resource_hash != resource_hash(line):
        raise TransparencyError(
            "the logged chain head does not commit to this resource",
            detail="resource_hash_mismatch",
        )
    try:
        included = mpt.verify_inclusion(
            note.body.root, tree_key(host), tree_value(head), proof.tree_proof
        )
    except TreeProofError as exc:
        raise ProofError(f"tree proof: {exc}", detail="malformed_tree_proof") from None
    if not included:
        raise TransparencyError(
            f"the tree proof does not place this chain head under {host!r} in the signed root",
            detail="tree_proof_failed",
        )
    try:
        valid = verify_cosignatures(note, trust.witnesses)
    except NoteError as exc:
        raise TransparencyError(str(exc), detail="bad_cosignature") from None
    counted = _count(valid, trust, now, window)
    return ProvenHead(head, note, ts_domain, counted)


def _count(
    valid: list[VerifiedCosignature], trust: TrustConfig, now: int, window: Window
) -> tuple[VerifiedCosignature, ...]:
    chosen: dict[str, VerifiedCosignature] = {}
    stale = future = too_new = 0
    for c in valid:
        if window is Window.FRESH:
            if c.timestamp > now + trust.max_future_skew:
                future += 1
                continue
            if now - c.timestamp > trust.max_cosignature_age:
                stale += 1
                continue
        elif now - c.timestamp < trust.cooldown:
            too_new += 1
            continue
        best = chosen.get(c.witness)
        if best is None or c.timestamp > best.timestamp:
            chosen[c.witness] = c
    if len(chosen) >= trust.quorum:
        return tuple(sorted(chosen.values(), key=lambda c: c.witness))
    have = f"{len(chosen)} of the {trust.quorum} required"
    if window is Window.COOLED and too_new:
        raise TransparencyError(
            f"only {have} trusted cosignatures are at least {trust.cooldown} s old",
            detail="cooldown_not_met",
        )
    if future:
        raise TransparencyError(
            f"{have} usable cosignatures; {future} are dated in the future",
            detail="future_cosignature",
        )
    if stale:
        raise TransparencyError(
            f"{have} usable cosignatures; {stale} are older than {trust.max_cosignature_age} s",
            detail="stale_cosignature",
        )
    raise TransparencyError(f"{have} trusted witnesses cosigned this root", detail="quorum_not_met")
