"""The extension's entry points: what the service worker asks Python, JSON text in and out.

The Chromium extension (``extension/``) runs this module in Pyodide. JavaScript gathers the
inputs (the navigation's URL and header, the manifest response bytes, the response bodies,
the clock, the trust settings, the stored per-origin state) and applies the answers
(continue or fail a response, show the block page, set the badge, install a CSP). Every
rule comes from :mod:`verifier.decide` (:func:`~verifier.decide.evaluate_manifest` and
:func:`~verifier.decide.resource_verdict`), :mod:`verifier.ratchet` and :mod:`verifier.csp`;
nothing here re-implements one. The functions are pure (no I/O); the only state is a small
cache of judged manifests, so that the resources of a navigation are checked against the
manifest that was verified for it without verifying it again.

Entry points (each takes and returns one JSON text; bytes travel as standard base64):

- :func:`plan_navigation`: is this navigation gated, and which manifest URL to fetch;
- :func:`judge_navigation`: the manifest verdict (+ the document's own check), the new
  ratchet state, the inline CSP, what the popup and badge show; returns a ``key``;
- :func:`check_resource`: one response body against the verdict named by ``key``;
- :func:`fetch_destination`: the fetch destination of an intercepted request (see its doc);
- :func:`manifest_view`: what plugins see of a verified manifest (extension members,
  dev-ids, dev-sigs and the RFC 8785 payload the dev-sigs are over);
- :func:`plugin_registration`: validate a plugin's origin patterns;
- :func:`validate_settings`: the options page's trust settings and preload list;
- :func:`build_reports`: ``waict-violation`` reports for the site's reporting endpoints;
- :func:`explain_codes` / :func:`explanations`: the plain words for reason and detail
  codes (:data:`EXPLANATIONS`, the one table the block page and the popup use).

A failure inside an entry point is returned as ``{"error": "..."}``, never raised, so the
caller can fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from verifier import urls
from verifier.browser import (
    destinations,
    effective_header,
    fields,
    plain_words,
    plugins,
    reports,
    settings,
)
from verifier.browser.cache import (
    PRELOADS,
    VERDICTS,
    Judged,
    cache_key,
)
from verifier.crypto import sha256
from verifier.csp import inline_csp
from verifier.decide import ManifestVerdict, evaluate_manifest, resource_verdict
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError
from verifier.preload import PreloadList
from verifier.proof import ChainHeadWithProof
from verifier.trust import TrustConfig


def explain_codes(request: str) -> str:
    """``{"items": [{"reason", "detail"}]}`` -> ``{"explanations": [explain(...)|null]}``."""
    return _entry(plain_words.explain_items, request)


def explanations(request: str) -> str:
    """The whole table: ``{"codes": {code: {"text", "action"}}}`` (the request is ignored)."""
    return _entry(plain_words.table, request or "{}")


# --- helpers --------------------------------------------------------------------------


def _entry(fn: Callable[[dict[str, Any]], dict[str, Any]], request: str) -> str:
    try:
        obj = json.loads(request)
        if not isinstance(obj, dict):
            raise ValueError("the request must be a JSON object")
        out = fn(obj)
    except (ValueError, TypeError, KeyError, WaictError) as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    return json.dumps(out, separators=(",", ":"))


def _preload(obj: dict[str, Any], trust: TrustConfig, now: int) -> PreloadList | None:
    body = fields.bytes_or_none(obj, "preload")
    if body is None:
        return None
    return PRELOADS.usable(body, trust, now)


# --- entry points ---------------------------------------------------------------------


def _plan(obj: dict[str, Any]) -> dict[str, Any]:
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
    }


def plan_navigation(request: str) -> str:
    """Whether a navigation response is gated by WAICT and which manifest to fetch.

    Request: ``{"url", "header": str|null, "now", "trust", "preload": b64|null,
    "origin_state": {...}|null}``. Answer: ``{"gated": bool, "manifest_url": str|null,
    "preloaded": bool, "mode": "enforce"|"report"|null}``. When ``gated`` is false the
    document and its subresources are not WAICT's business (``judge_navigation`` would say
    ``status: none``); when ``manifest_url`` is null but ``gated`` is true (a preloaded host
    without a header) the navigation is judged without a manifest response.
    """
    return _entry(_plan, request)


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


def _judge(obj: dict[str, Any]) -> dict[str, Any]:
    url = obj["url"]
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    now = fields.clock(obj)
    trust = fields.trust_settings(obj)
    eff = effective_header.effective(obj, now)
    response = fields.bytes_or_none(obj, "manifest_response")
    plist = _preload(obj, trust, now)
    regs = plugins.registrations(obj)
    outcomes = plugins.plugin_outcomes(obj)
    try:
        origin = urls.origin_of(url)
    except WaictError:
        origin = url
    key = cache_key(
        [
            origin,
            eff.header,
            None if response is None else b64encode(sha256(response)),
            trust.to_json(),
            None if plist is None else [plist.issued, plist.expires, sorted(plist.entries)],
        ]
    )
    fresh = VERDICTS.fresh(key, now)
    if fresh is not None:
        verdict = fresh
    else:
        verdict = evaluate_manifest(
            url=url,
            header=eff.header,
            manifest_response=response,
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


def judge_navigation(request: str) -> str:
    """Judge a navigation: its header (after the ratchet) and manifest response.

    Request: ``{"url", "header": str|null, "manifest_response": b64|null, "now", "trust",
    "preload": b64|null, "origin_state": {...}|null, "resources": [{"url",
    "destination", "body": b64}], "registrations": [{"id", "patterns"}], "plugins":
    [{"id", "verdict", "reason"}]|null}`` (``resources`` optional: usually the document
    itself; ``registrations``: the plugins registered to approve or veto manifests).

    Answer: ``{"key", "navigation": "allow"|"block", "manifest": {status, reason, detail},
    "resources": [...], "gated", "enforcing", "badge": "verified"|"report"|"blocked"|
    "none"|"tombstone", "origin_state": {...}|null (store it for the origin), "csp":
    str|null, "csp_header", "wasm": {...}, "info": {...}, "block": null|{reason, detail,
    message, explanation}}``.

    Plugins: when the manifest is valid and registered plugins match the URL, and
    ``plugins`` is null, the answer is ``{"navigation": "pending", "key": null,
    "ask_plugins": [ids], "plugin_view": {...}}``: the caller asks those plugins (see
    docs/plugin-api.md) and judges again with their answers in ``plugins``. Every plugin
    asked must answer ``approve``; anything else makes the manifest invalid
    (``invalid_manifest``, detail ``plugin_veto:<id>``), so the verdict stays Python's.
    """
    return _entry(_judge, request)


def _check_one(verdict: ManifestVerdict, r: Any) -> dict[str, Any]:
    if not isinstance(r, dict):
        raise ValueError("a resource must be an object")
    url, destination = r.get("url"), r.get("destination")
    if not isinstance(url, str) or not isinstance(destination, str):
        raise ValueError("a resource needs url and destination strings")
    body = fields.bytes_or_none(r, "body") or b""
    return resource_verdict(verdict, url, destination, body)


def _check(obj: dict[str, Any]) -> dict[str, Any]:
    key = obj.get("key")
    judged = VERDICTS.get(key)
    if judged is None:
        return {"error": "unknown_key", "key": key}
    out = _check_one(judged.verdict, obj)
    out["enforcing"] = judged.verdict.enforcing
    return out


def check_resource(request: str) -> str:
    """Check one response against a judged verdict.

    Request: ``{"key", "url", "destination", "body": b64}``. Answer: the verdict's resource
    entry ``{"url", "allowed", "reason", "enforcing"}``, or ``{"error": "unknown_key"}``
    when the verdict is no longer cached (the caller judges the navigation again from
    its stored inputs and retries).
    """
    return _entry(_check, request)


def manifest_view(request: str) -> str:
    """What a plugin sees of the verdict named by ``key``.

    Request: ``{"key", "url"}``. Answer: ``{"key", "url", "origin", "status", "reason",
    "detail"}``, and for a verified manifest also ``"manifest_hash", "manifest_url",
    "mode", "ts", "extension_members": {name: value} (the members WAICT does not define),
    "dev_ids", "dev_ids_next", "dev_sigs" (as in the manifest, or null), "dev_ids_proven",
    "dev_sigs_payload": b64|null`` (the RFC 8785 canonical JSON of the manifest without
    ``dev-sigs`` and ``dev-ids-inclusion``, :func:`verifier.devids.dev_sigs_payload`;
    present when the manifest has ``dev-ids`` or ``dev-sigs``) and
    ``"dev_sigs_payload_error"``. ``{"error": "unknown_key"}`` when the verdict is no longer
    cached (judge again, then retry).
    """
    return _entry(plugins.view_by_key, request)


def plugin_registration(request: str) -> str:
    """Validate a plugin's registration.

    Request: ``{"patterns": [origin pattern], "timeout_ms": int}``. Answer: ``{"ok": true,
    "patterns", "timeout_ms"}`` (patterns sorted, timeout clamped to
    [:data:`PLUGIN_TIMEOUT_MIN_MS`, :data:`PLUGIN_TIMEOUT_MAX_MS`]) or ``{"ok": false,
    "error"}``.
    """
    return _entry(plugins.registration, request)


# --- settings ---------------------------------------------------------------------------


def validate_settings(request: str) -> str:
    """Check the options page's settings before anything is saved.

    Request: ``{"trust": {...trust.json...}, "preload_source": "upload"|"default"|"none",
    "preload": b64|null (the uploaded or bundled preload response body), "now"}``.
    Answer: ``{"ok": true, "trust": normalised trust, "preload_source", "preload":
    {issued, expires, hosts, domain}|null, "warnings": [...]}`` or ``{"ok": false, "field":
    "trust"|"preload", "error": message}``. The trust settings go through
    :func:`verifier.trust.parse_trust`, an uploaded preload list through
    :func:`verifier.preload.verify_preload_response` with the new trust settings (and must
    not be stale); a bundled list that does not verify is only a warning.
    """
    return _entry(settings.validate, request)


# --- reports ----------------------------------------------------------------------------


def build_reports(request: str) -> str:
    """The ``waict-violation`` reports of one navigation, per endpoint.

    Request: ``{"document_url", "endpoints": [names from the WAICT header (after the
    ratchet)], "reporting_endpoints": the document's Reporting-Endpoints value|null,
    "user_agent", "now_ms", "violations": [{"url", "destination", "reason", "detail",
    "report_only", "time_ms"}]}``.

    Answer: ``{"posts": [{"endpoint", "url", "content_type": "application/reports+json",
    "body": JSON text}], "unresolved": [names], "count"}``. Each body is a Reporting API
    list: ``[{"type": "waict-violation", "age" (ms), "url", "user_agent", "body":
    {"documentURL", "blockedURL", "destination", "reportOnly", "reason", "detail"}}]``.
    A name that ``Reporting-Endpoints`` does not define gets nothing (as in the Reporting
    API); two names for one URL get one POST.
    """
    return _entry(reports.build, request)


# --- destinations ---------------------------------------------------------------------


def fetch_destination(request: str) -> str:
    """The WAICT destination of an intercepted response.

    Request: ``{"sec_fetch_dest": str|null, "resource_type": CDP type, "content_type":
    str|null, "main_frame": bool, "worker_script": "serviceworker"|"sharedworker"|null}``
    (``worker_script``: the request is the main script of that worker's own target).

    - ``Sec-Fetch-Dest`` (what Chromium sent, from ``Network.requestWillBeSentExtraInfo``)
      is the fetch destination itself; ``empty`` is ``""``.
    - A ``""`` destination whose response is ``application/wasm`` is ``wasm``:
      ``WebAssembly.compileStreaming`` / ``instantiateStreaming`` accept only that type.
    - Without the header (Chromium sends it only to potentially trustworthy origins), the
      CDP resource type decides (table ``_RESOURCE_TYPES``); ``Document`` is ``document``
      for the main frame and ``iframe`` otherwise; ``Other`` and unknown types are
      ``script``, the strictest choice.
    """
    return _entry(destinations.destination, request)
