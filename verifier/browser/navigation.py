"""Judging a navigation: its manifest verdict, its resources, what the badge and popup show.

Design section 6: until the decision for an enrolled or preloaded origin is known, nothing
of it runs. The service worker asks first whether a navigation is gated and which manifest
to fetch (:func:`plan`), then for the verdict on the navigation's header (after the
ratchet, :mod:`verifier.browser.effective_header`) and manifest response (:func:`judge`),
then for each response of the page against that verdict (:func:`check`). Every rule comes
from :mod:`verifier.decide` (:func:`~verifier.decide.evaluate_manifest`,
:func:`~verifier.decide.resource_verdict`) and :mod:`verifier.csp`; plugins' answers are
inputs (:mod:`verifier.browser.plugins`); the verdict is kept in
:mod:`verifier.browser.cache` under the ``key`` the answer names. Nothing is re-implemented
here: this module gathers inputs and derives what the extension shows.
"""

from __future__ import annotations

from typing import Any

from verifier import urls
from verifier.browser import bounds, effective_header, fields, plain_words, plugins
from verifier.browser.cache import PRELOADS, VERDICTS, Judged, cache_key
from verifier.check import BodyNeeded
from verifier.crypto import sha256
from verifier.csp import inline_csp
from verifier.decide import ManifestVerdict, request_url_of, resource_verdict
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError
from verifier.preload import PreloadList
from verifier.proof import ChainHeadWithProof
from verifier.trust import TrustConfig


def _preload(obj: dict[str, Any], trust: TrustConfig, now: int) -> PreloadList | None:
    body = fields.bytes_or_none(obj, "preload")
    if body is None:
        return None
    return PRELOADS.usable(body, trust, now)


def plan(obj: dict[str, Any]) -> dict[str, Any]:
    url = obj["url"]
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    now = fields.clock(obj)
    trust = fields.trust_settings(obj)
    eff = effective_header.effective(obj, now)
    try:
        host = urls.tree_host(url)
    except WaictError:
        return {"gated": False, "manifest_url": None, "preloaded": False}
    plist = _preload(obj, trust, now)
    preloaded = plist is not None and plist.lookup(host) is not None
    manifest_url = (
        effective_header.manifest_url(url, eff.policy) if eff.policy is not None else None
    )
    return {
        "gated": eff.policy is not None or preloaded,
        "manifest_url": manifest_url,
        "preloaded": preloaded,
        "mode": eff.policy.mode if eff.policy is not None else None,
        "manifest_max_bytes": bounds.MAX_MANIFEST_BYTES,
        "manifest_deadline_ms": bounds.MANIFEST_DEADLINE_MS,
    }


def _info(
    verdict: ManifestVerdict, now: int, url: str, plist: PreloadList | None
) -> dict[str, Any]:
    """What the popup shows about a verdict (all of it derived, nothing decided here)."""
    out: dict[str, Any] = {"message": verdict.message}
    policy = verdict.policy
    if policy is not None:
        out.update(
            mode=policy.mode,
            max_age=policy.max_age,
            manifest_url=effective_header.manifest_url(url, policy),
            endpoints=list(policy.endpoints),
            v1=policy.is_v1,
        )
    out["enforcing"] = verdict.enforcing
    out["preloaded"] = verdict.preload is not None
    out["preload"] = {
        "listed": verdict.preload is not None,
        "dev_ids_required": verdict.preload is not None and verdict.preload.dev_ids,
        "list": None
        if plist is None
        else {"issued": plist.issued, "expires": plist.expires, "hosts": len(plist.entries)},
    }
    manifest = verdict.manifest
    if manifest is not None:
        out["manifest_hash"] = b64uencode(sha256(manifest.line))
        out["tombstone"] = manifest.tombstone
        out["asset_count"] = len(manifest.hashes)
        out["inline_covered"] = manifest.covers_inline
        out["extension_members"] = sorted(manifest.extension_members)
        dev = manifest.dev
        if dev is not None and dev.ids is not None:
            out["dev_ids"] = list(dev.ids)
        if dev is not None and dev.next_ids is not None:
            out["dev_ids_next"] = list(dev.next_ids)
        if dev is not None and dev.sigs is not None:
            out["dev_sigs"] = [s.identity for s in dev.sigs]
    proven = verdict.proven
    if proven is not None:
        entry = proven.head.entry
        out.update(
            ts=proven.ts_domain,
            log_position=entry.position,
            entry_time=entry.time_created,
            entry_age=now - entry.time_created,
            tree_size=proven.note.body.batch_count,
            witnesses=[
                {"name": c.witness, "timestamp": c.timestamp, "age": now - c.timestamp}
                for c in proven.counted
            ],
        )
    if verdict.dev_ids_cosignatures:
        out["dev_ids_ages"] = [now - t for t in verdict.dev_ids_cosignatures]
        committed: dict[str, Any] = {
            "cosigned": list(verdict.dev_ids_cosignatures),
            "ages": out["dev_ids_ages"],
        }
        inclusion = manifest.dev.inclusion if manifest and manifest.dev else None
        if inclusion is not None:
            try:
                head = ChainHeadWithProof.from_b64(inclusion.proof).head.entry
                committed.update(entry_time=head.time_created, age=now - head.time_created)
            except WaictError:
                pass  # proven above, so this does not happen; the popup shows the ages
        out["dev_ids_committed"] = committed
    if verdict.status == "invalid":
        out["explanation"] = plain_words.explain(verdict.reason, verdict.detail)
    return out


def _wasm_policy(verdict: ManifestVerdict, key: str) -> dict[str, Any]:
    """What the page-side WebAssembly guard needs: the digests Python allows.

    ``covered`` false: the guard lets every module compile. Otherwise a module compiles
    only when its SHA-256 is in ``allowed`` (the manifest's ``wasm_hashes`` for a valid
    manifest, nothing for an invalid one); in report mode a miss is reported, not blocked.
    """
    covered = verdict.status in ("valid", "invalid")
    allowed: list[str] = []
    if verdict.status == "valid" and verdict.manifest is not None:
        allowed = sorted(b64uencode(h) for h in verdict.manifest.wasm_hashes)
        policy = verdict.policy
        if policy is not None and policy.is_v1:
            covered = "wasm" in (policy.blocked_destinations or ())
    return {"key": key, "covered": covered, "enforcing": verdict.enforcing, "allowed": allowed}


def judge(obj: dict[str, Any]) -> dict[str, Any]:
    url = obj["url"]
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    now = fields.clock(obj)
    trust = fields.trust_settings(obj)
    eff = effective_header.effective(obj, now)
    response = fields.bytes_or_none(obj, "manifest_response")
    manifest_error = obj.get("manifest_error")
    plist = _preload(obj, trust, now)
    regs = plugins.registrations(obj)
    outcomes = plugins.plugin_outcomes(obj)
    try:
        origin = urls.origin_of(url)
    except WaictError:
        origin = url
    key = cache_key(
        [
            url if eff.policy is not None and eff.policy.is_v1 else origin,  # v1 keys: doc URL
            eff.header,
            None if response is None else b64encode(sha256(response)),
            trust.to_json(),
            None if plist is None else [plist.issued, plist.expires, sorted(plist.entries)],
            *([manifest_error] if manifest_error is not None else []),
        ]
    )
    fresh = VERDICTS.fresh(key, now)
    if fresh is not None:
        verdict = fresh
    else:
        verdict = bounds.evaluate_bounded(
            url=url,
            header=eff.header,
            manifest_response=response,
            manifest_error=manifest_error,
            trust=trust,
            now=now,
            preload_list=plist,
        )
        VERDICTS.remember(key, Judged(verdict, now, origin))

    # plugins (design section 6): asked about a valid manifest; their answers are inputs
    asked = plugins.plugins_for(regs, url) if verdict.status == "valid" else []
    plugin_results: list[dict[str, Any]] = []
    if asked and outcomes is None:
        # first round: the caller asks the plugins, then judges again with their answers;
        # nothing may be released on this answer (no key, navigation "pending")
        return {
            "key": None,
            "url": url,
            "navigation": "pending",
            "ask_plugins": asked,
            "plugin_view": plugins.view(verdict, url, None),
            "manifest": verdict.as_json(),
            "now": now,
        }
    if asked:
        assert outcomes is not None
        verdict, plugin_results = plugins.apply_plugins(verdict, asked, outcomes)
        key = cache_key([key, plugin_results])
        VERDICTS.remember(key, Judged(verdict, now, origin))

    resources = [_check_one(verdict, r) for r in obj.get("resources") or ()]
    document_blocked = any(
        r.get("destination") == "document" and not out["allowed"]
        for r, out in zip(obj.get("resources") or (), resources, strict=True)
    )
    csp = None
    if verdict.status == "valid" and verdict.manifest is not None:
        csp = inline_csp(verdict.manifest)
    if verdict.status == "none":
        status = "none"
    elif verdict.status == "tombstone":
        status = "tombstone"
    elif verdict.blocks_navigation or document_blocked:
        status = "blocked"
    elif not verdict.enforcing:
        status = "report"
    elif verdict.status == "valid":
        status = "verified"
    else:  # an invalid manifest that does not block (report mode)
        status = "report"
    block: dict[str, Any] | None = None
    if verdict.blocks_navigation:
        block = {"reason": verdict.reason, "detail": verdict.detail, "message": verdict.message}
    elif document_blocked:
        doc = next(
            out
            for r, out in zip(obj.get("resources") or (), resources, strict=True)
            if r.get("destination") == "document" and not out["allowed"]
        )
        block = {
            "reason": doc["reason"],
            "detail": verdict.detail,
            "message": "the page itself is not the document the site committed to",
        }
    if block is not None:
        block["explanation"] = plain_words.explain(block["reason"], block["detail"])
    info = _info(verdict, now, url, plist)
    if asked:
        info["plugins"] = plugin_results
    return {
        "key": key,
        "url": url,
        "navigation": "block" if block is not None else "allow",
        "manifest": verdict.as_json(),
        "resources": resources,
        "gated": verdict.status in ("valid", "invalid"),
        "enforcing": verdict.enforcing,
        "badge": status,
        "origin_state": effective_header.state_to_json(eff.state),
        "forget_service_workers": effective_header.forgets_service_workers(obj, eff.state, now),
        "csp": csp,
        "csp_header": (
            "Content-Security-Policy"
            if verdict.enforcing
            else "Content-Security-Policy-Report-Only"
        ),
        "wasm": _wasm_policy(verdict, key),
        "info": info,
        "block": block,
        "now": now,
    }


def _check_one(verdict: ManifestVerdict, r: Any) -> dict[str, Any]:
    if not isinstance(r, dict):
        raise ValueError("a resource must be an object")
    url, destination = r.get("url"), r.get("destination")
    if not isinstance(url, str) or not isinstance(destination, str):
        raise ValueError("a resource needs url and destination strings")
    digest = _digest_or_none(r)
    if digest is not None and r.get("body") is None:
        return resource_verdict(verdict, url, destination, None, request_url_of(r), digest)
    body = fields.bytes_or_none(r, "body") or b""
    return resource_verdict(verdict, url, destination, body, request_url_of(r))


def _digest_or_none(r: dict[str, Any]) -> bytes | None:
    """Member ``sha256``: the body's SHA-256 as 64 hex digits (the caller hashed the bytes)."""
    value = r.get("sha256")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError("sha256 must be 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError("sha256 must be 64 hex digits") from None


def check(obj: dict[str, Any]) -> dict[str, Any]:
    key = obj.get("key")
    judged = VERDICTS.get(key)
    if judged is None:
        return {"error": "unknown_key", "key": key}
    try:
        out = _check_one(judged.verdict, obj)
    except BodyNeeded:
        return {"body_needed": True, "key": key}
    out["enforcing"] = judged.verdict.enforcing
    return out
