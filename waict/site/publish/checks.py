"""What publish checks about the log's answers before it trusts them: the returned proof, and the
log's head against the head this state directory last published."""

from __future__ import annotations

from collections.abc import Sequence

from verifier import mpt
from verifier.chain import ChainNode, asset_hosts_hash
from verifier.encoding import b64encode
from verifier.errors import WaictError
from verifier.note import SignedNote, parse_note
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key, tree_value
from waict.common.errors import UnexpectedLogError


def check_proof(
    proof: ChainHeadWithProof,
    *,
    host: str,
    expected_resource_hash: bytes,
    asset_hosts: Sequence[str],
    previous: ChainNode | None,
) -> SignedNote:
    """Structural checks of a returned proof (no trust needed): commits to our resource and
    asset hosts, links to the previous head, and the tree proof places it under the root."""
    head = proof.head
    if head.entry.resource_hash != expected_resource_hash:
        raise UnexpectedLogError(
            f"the service logged resource hash {b64encode(head.entry.resource_hash)} for "
            f"{host}, not ours ({b64encode(expected_resource_hash)})",
            "do not serve this proof; check the service with `waict monitor`",
        )
    if head.entry.asset_hosts_hash != asset_hosts_hash(asset_hosts):
        raise UnexpectedLogError(f"the service logged other asset hosts for {host}")
    if previous is not None:
        if head.position != previous.position + 1:
            raise UnexpectedLogError(
                f"the new head of {host} is at position {head.position}, expected "
                f"{previous.position + 1}",
                "someone else appended to this chain: run `waict monitor`",
            )
        if head.chain_hash != previous.next_chain_hash():
            raise UnexpectedLogError(
                f"the new head of {host} does not link to the previous head",
                "the log's history was rewritten: run `waict monitor` and alert",
            )
    try:
        note = parse_note(proof.note)
        included = mpt.verify_inclusion(
            note.body.root, tree_key(host), tree_value(head), proof.tree_proof
        )
    except WaictError as exc:
        raise UnexpectedLogError(f"the returned proof is malformed: {exc}") from None
    if not included:
        raise UnexpectedLogError(
            f"the returned tree proof does not place the head of {host} under the signed root"
        )
    return note


def check_leaf_against_state(
    leaf: ChainNode | None, last: ChainNode | None, host: str, accept: bool
) -> None:
    if last is None or leaf is None:
        if last is not None and leaf is None:
            raise UnexpectedLogError(
                f"the service has no chain for {host}, but this state directory published "
                f"position {last.position}",
                "the service lost or dropped the domain: alert its operator; to start a new "
                "chain anyway, remove state.json from the state directory and publish again",
            )
        return
    if leaf.position < last.position or (
        leaf.position == last.position and leaf.encode() != last.encode()
    ):
        raise UnexpectedLogError(
            f"the log's head of {host} (position {leaf.position}) is not the head this state "
            f"directory published (position {last.position})",
            "the log's history was rewritten or rolled back: run `waict monitor` and alert",
        )
    if leaf.position > last.position and not accept:
        raise UnexpectedLogError(
            f"the log holds {leaf.position - last.position} entr"
            f"{'y' if leaf.position - last.position == 1 else 'ies'} for {host} that this "
            "state directory did not publish",
            "run `waict monitor` to see them; if you published them from elsewhere, pass "
            "--accept-log-head",
        )
