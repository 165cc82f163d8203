"""The log step's talk with the transparency service: enroll (first time) or append, and wait until
a quorum of witnesses cosigned the new head."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from verifier.chain import ZERO_HASH, ChainNode
from verifier.crypto import sha256
from verifier.encoding import b64encode, b64uencode
from verifier.proof import ChainHeadWithProof
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write
from waict.site.log_client import TsClient, TsHttpError
from waict.site.names import WELL_KNOWN_ENROLL
from waict.site.publish.checks import check_leaf_against_state
from waict.site.publish.options import PublishOptions, say


def enroll_or_append(
    opts: PublishOptions,
    *,
    host: str,
    rh: bytes,
    hosts: list[str],
    client: httpx.Client,
) -> tuple[ChainHeadWithProof, bool, ChainNode | None]:
    """Enroll or append. Returns the proof, whether this was an enrollment, and the head the
    new node must follow (the log's head before the call; None for a new chain)."""
    assert opts.ts_url is not None
    ts = TsClient(opts.ts_url, client)
    state = opts.state
    meta = state.load_meta()
    token = None if opts.re_enroll else state.read_token()
    last = state.last_head() if meta.get("host") == host else None
    try:
        leaf_proof = ts.leaf(host)
    except TsHttpError as exc:
        if token is not None or exc.detail != "not_cosigned":
            raise
        leaf_proof = None  # a fresh service with no cosigned root yet: nothing to compare
    leaf = leaf_proof.head if leaf_proof is not None else None
    check_leaf_against_state(leaf, last, host, opts.accept_log_head or opts.re_enroll)
    if token is None and rh == ZERO_HASH:
        raise SiteToolError(
            f"this state directory has no append token for {host}: nothing to unenroll",
            "unenrolling appends to an existing enrollment; give the --state it was published with",
        )
    if token is None:
        token = state.new_token()
        enroll_doc = {
            "resource_hash": b64encode(rh),
            "asset_hosts": hosts,
            "token_sha256": b64uencode(sha256(token.encode("utf-8"))),
        }
        if leaf is not None:  # enrolling again: name the head, so the document applies once
            enroll_doc["prev"] = b64encode(leaf.next_chain_hash())
        enroll_path = opts.site_dir / WELL_KNOWN_ENROLL
        atomic_write(enroll_path, json.dumps(enroll_doc, separators=(",", ":")).encode() + b"\n")
        say(opts, f"wrote {enroll_path}; asking {opts.ts_url} to enroll {host}")
        proof = _wait_on_not_cosigned(
            lambda: ts.enroll(host, timeout=opts.timeout), ts, host, rh, leaf, opts
        )
        state.write_token(token)
        return proof, True, leaf
    if leaf is None:
        raise SiteToolError(
            f"the service has no cosigned head for {host}",
            "if the domain was never enrolled there, publish with --re-enroll",
        )
    say(opts, f"appending to {host} at {opts.ts_url} (after position {leaf.position})")
    append_token = token
    proof = _wait_on_not_cosigned(
        lambda: ts.append(
            host, append_token, rh, hosts, leaf.next_chain_hash(), timeout=opts.timeout
        ),
        ts,
        host,
        rh,
        leaf,
        opts,
    )
    return proof, False, leaf


def _wait_on_not_cosigned(
    call: Callable[[], ChainHeadWithProof],
    ts: TsClient,
    host: str,
    rh: bytes,
    previous: ChainNode | None,
    opts: PublishOptions,
) -> ChainHeadWithProof:
    """Run ``call``; when the entry was recorded but not yet cosigned (503 not_cosigned),
    poll ``/leaf`` until the head carrying our resource hash is cosigned."""
    try:
        return call()
    except TsHttpError as exc:
        if exc.detail != "not_cosigned" or exc.status != 503:
            raise
    say(opts, "recorded, waiting for the witnesses to cosign ...")
    deadline = time.monotonic() + opts.timeout
    while time.monotonic() < deadline:
        leaf = ts.leaf(host)
        if (
            leaf is not None
            and leaf.head.entry.resource_hash == rh
            and (previous is None or leaf.head.position > previous.position)
        ):
            return leaf
        time.sleep(1.0)
    raise SiteToolError(
        f"the entry for {host} is recorded but no cosigned root includes it after "
        f"{opts.timeout:.0f} s",
        "are the witnesses running? publish again later (it appends a new entry)",
    )
