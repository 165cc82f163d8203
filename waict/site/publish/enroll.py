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
from waict.site.publish.faults import crash_point, crash_soon
from waict.site.publish.options import PublishOptions, say
from waict.site.state import HistoryEntry, Intent, SiteState


def enroll_or_append(
    opts: PublishOptions,
    *,
    host: str,
    rh: bytes,
    hosts: list[str],
    client: httpx.Client,
    line: str = "",
    kind: str = "manifest",
) -> tuple[ChainHeadWithProof, bool, ChainNode | None]:
    """Enroll or append. Returns the proof, whether this was an enrollment, and the head the
    new node must follow (the log's head before the call; None for a new chain).

    Write-ahead: the intent (:class:`~waict.site.state.Intent`) is stored before the call.
    When a killed publish left one, its entry is looked for in the log first: found with
    this resource hash, it is this publish's own append (no second one is made); found with
    another, it is recorded as published and the new line is appended after it.
    """
    assert opts.ts_url is not None
    ts = TsClient(opts.ts_url, client)
    state = opts.state
    meta = state.load_meta()
    token = None if opts.re_enroll else state.read_token()
    last = state.last_head() if meta.get("host") == host else None
    intent = state.read_intent()
    if intent is not None and intent.host != host:
        raise SiteToolError(
            f"{state.intent_file} holds an interrupted publish of {intent.host}, not {host}",
            f"publish {intent.host} again with this state directory to finish it, or remove "
            "the file after checking the log with `waict monitor`",
        )
    try:
        leaf_proof = ts.leaf(host)
    except TsHttpError as exc:
        if (token is not None and intent is None) or exc.detail != "not_cosigned":
            raise
        leaf_proof = None  # a fresh service with no cosigned root yet: nothing to compare
    if intent is not None:
        leaf_proof = _find_intended(ts, host, intent, leaf_proof, opts)
        if leaf_proof is not None and intent.is_entry(leaf_proof.head):
            if intent.token is not None:
                state.write_token(intent.token)
                token = intent.token
            if intent.resource_hash == rh:
                say(
                    opts,
                    f"the log's head of {host} is this line, logged by an interrupted "
                    "publish: finishing it",
                )
                return leaf_proof, intent.token is not None, intent.previous
            _record_intended(state, intent, leaf_proof)
            last = leaf_proof.head
            intent = None
    leaf = leaf_proof.head if leaf_proof is not None else None
    check_leaf_against_state(leaf, last, host, opts.accept_log_head or opts.re_enroll)
    if token is None and rh == ZERO_HASH:
        raise SiteToolError(
            f"this state directory has no append token for {host}: nothing to unenroll",
            "unenrolling appends to an existing enrollment; give the --state it was published with",
        )
    retrying = intent is not None and intent.resource_hash == rh and intent.previous == leaf
    if token is None:
        # an interrupted enrollment's token is kept: the service may have bound its hash
        token = intent.token if intent is not None and intent.token else state.new_token()
        enroll_doc = {
            "resource_hash": b64encode(rh),
            "asset_hosts": hosts,
            "token_sha256": b64uencode(sha256(token.encode("utf-8"))),
        }
        if leaf is not None:  # enrolling again: name the head, so the document applies once
            enroll_doc["prev"] = b64encode(leaf.next_chain_hash())
        enroll_path = opts.site_dir / WELL_KNOWN_ENROLL
        atomic_write(enroll_path, json.dumps(enroll_doc, separators=(",", ":")).encode() + b"\n")
        state.write_intent(Intent(host, line, kind, rh, tuple(hosts), leaf, token))
        crash_point("intent")
        say(opts, f"wrote {enroll_path}; asking {opts.ts_url} to enroll {host}")
        crash_soon("log:sent")
        proof = _wait_on_not_cosigned(
            lambda: ts.enroll(host, timeout=opts.timeout), ts, host, rh, leaf, opts, retrying
        )
        state.write_token(token)
        return proof, True, leaf
    if leaf is None:
        raise SiteToolError(
            f"the service has no cosigned head for {host}",
            "if the domain was never enrolled there, publish with --re-enroll",
        )
    state.write_intent(Intent(host, line, kind, rh, tuple(hosts), leaf, None))
    crash_point("intent")
    say(opts, f"appending to {host} at {opts.ts_url} (after position {leaf.position})")
    append_token = token
    crash_soon("log:sent")
    proof = _wait_on_not_cosigned(
        lambda: ts.append(
            host, append_token, rh, hosts, leaf.next_chain_hash(), timeout=opts.timeout
        ),
        ts,
        host,
        rh,
        leaf,
        opts,
        retrying,
    )
    return proof, False, leaf


def _find_intended(
    ts: TsClient,
    host: str,
    intent: Intent,
    leaf_proof: ChainHeadWithProof | None,
    opts: PublishOptions,
) -> ChainHeadWithProof | None:
    """The cosigned head, once it reaches the interrupted publish's position when its entry
    is recorded (a killed publish may have left it uncosigned for now)."""
    if leaf_proof is not None and leaf_proof.head.position >= intent.position:
        return leaf_proof
    try:
        recorded = ts.entries(host, intent.position, intent.position + 1)
    except TsHttpError as exc:
        if exc.status != 404:
            raise
        return leaf_proof  # not in the log: the interrupted call never got there
    if not recorded or recorded[0].resource_hash != intent.resource_hash:
        return leaf_proof
    say(opts, f"an interrupted publish's entry for {host} is recorded; waiting for cosignatures")
    return _poll_leaf(ts, host, intent.resource_hash, intent.previous, opts)


def _record_intended(state: SiteState, intent: Intent, proof: ChainHeadWithProof) -> None:
    """Record an interrupted publish's entry (now superseded) in the history and state."""
    state.append_history(
        HistoryEntry(
            intent.line,
            proof.to_b64(),
            proof.head.position,
            proof.head.entry.time_created,
            intent.kind,
            int(time.time()),
        )
    )
    meta = state.load_meta()
    meta.update(
        {"host": intent.host, "head": SiteState.encode_head(proof.head), "kind": intent.kind}
    )
    state.save_meta(meta)
    state.clear_intent()


def _poll_leaf(
    ts: TsClient, host: str, rh: bytes, previous: ChainNode | None, opts: PublishOptions
) -> ChainHeadWithProof:
    """Poll ``/leaf`` until the head carrying ``rh`` after ``previous`` is cosigned."""
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
        "are the witnesses running? publish again later: it finds this entry and finishes",
    )


def _wait_on_not_cosigned(
    call: Callable[[], ChainHeadWithProof],
    ts: TsClient,
    host: str,
    rh: bytes,
    previous: ChainNode | None,
    opts: PublishOptions,
    retrying: bool = False,
) -> ChainHeadWithProof:
    """Run ``call``; when the entry was recorded but not yet cosigned (503 not_cosigned, or
    409 stale_prev while retrying an interrupted append that did get there), poll ``/leaf``
    until the head carrying our resource hash is cosigned."""
    try:
        return call()
    except TsHttpError as exc:
        recorded = exc.detail == "not_cosigned" and exc.status == 503
        if not (recorded or (retrying and exc.status == 409 and exc.detail == "stale_prev")):
            if exc.status < 500 and exc.status != 409:
                opts.state.clear_intent()  # refused: nothing was recorded
            raise
    say(opts, "recorded, waiting for the witnesses to cosign ...")
    return _poll_leaf(ts, host, rh, previous, opts)
