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
- :func:`fetch_destination`: the fetch destination of an intercepted request (see its doc).

A failure inside an entry point is returned as ``{"error": "..."}``, never raised, so the
caller can fail closed.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from verifier import urls
from verifier.crypto import sha256
from verifier.csp import inline_csp
from verifier.decide import ManifestVerdict, evaluate_manifest, resource_verdict
from verifier.encoding import b64decode, b64encode, b64uencode
from verifier.errors import EncodingError, WaictError
from verifier.header import Policy, parse_policy
from verifier.preload import PreloadList, usable_preload_list
from verifier.ratchet import OriginState, apply_header
from verifier.trust import TrustConfig, parse_trust

#: How long a judged manifest verdict is reused (seconds of the caller's clock). A verdict
#: depends on ``now`` only through cosignature freshness, tombstone and dev-ids cooldowns,
#: all measured in hours or days, so reusing one for a minute changes nothing that matters.
VERDICT_TTL = 60
#: How many judged verdicts are kept (least recently used first out).
CACHE_SIZE = 128
#: How long a verified preload list is reused before it is verified again.
PRELOAD_TTL = 300


@dataclass
class _Judged:
    verdict: ManifestVerdict
    now: int
    origin: str


_verdicts: OrderedDict[str, _Judged] = OrderedDict()
_preload_cache: dict[str, tuple[int, PreloadList | None]] = {}


def clear_cache() -> None:
    """Forget every judged verdict and preload list (tests; a changed trust setting)."""
    _verdicts.clear()
    _preload_cache.clear()


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


def _bytes_or_none(obj: dict[str, Any], key: str) -> bytes | None:
    value = obj.get(key)
    if value is None:
        return None
    try:
        return b64decode(value, what=key)
    except EncodingError as exc:
        raise ValueError(str(exc)) from None


def _now(obj: dict[str, Any]) -> int:
    now = obj.get("now")
    if now is None:
        return int(time.time())
    if isinstance(now, bool) or not isinstance(now, int | float) or now < 0:
        raise ValueError("now must be unix seconds")
    return int(now)


def _trust(obj: dict[str, Any]) -> TrustConfig:
    return parse_trust(obj.get("trust"))


def _preload(obj: dict[str, Any], trust: TrustConfig, now: int) -> PreloadList | None:
    body = _bytes_or_none(obj, "preload")
    if body is None:
        return None
    key = b64encode(sha256(body + json.dumps(trust.to_json(), sort_keys=True).encode()))
    cached = _preload_cache.get(key)
    if cached is not None and 0 <= now - cached[0] < PRELOAD_TTL:
        return cached[1]
    plist = usable_preload_list(body, trust, now)
    _preload_cache[key] = (now, plist)
    return plist


def _state_from_json(value: Any) -> OriginState | None:
    if not isinstance(value, dict):
        return None
    try:
        return OriginState(
            mode=str(value["mode"]),
            manifest=str(value["manifest"]),
            endpoints=tuple(str(e) for e in value.get("endpoints", ())),
            expiry=int(value["expiry"]),
        )
    except (KeyError, TypeError, ValueError):
        return None  # unusable stored state is dropped, as if it had expired


def _state_to_json(state: OriginState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "mode": state.mode,
        "manifest": state.manifest,
        "endpoints": list(state.endpoints),
        "expiry": state.expiry,
    }


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _policy_header(policy: Policy) -> str:
    """Serialise a policy back into an ``Integrity-Policy-WAICT-v1`` value."""
    parts = [
        f"max-age={policy.max_age}",
        f"mode={policy.mode}",
        f"manifest={_sf_string(policy.manifest)}",
    ]
    if policy.endpoints:
        parts.append("endpoints=(" + " ".join(_sf_string(e) for e in policy.endpoints) + ")")
    if policy.blocked_destinations is not None:
        parts.append("blocked-destinations=(" + " ".join(policy.blocked_destinations) + ")")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Effective:
    """The header the navigation is judged with, after the ratchet."""

    header: str | None
    policy: Policy | None
    state: OriginState | None  # the state to store after this navigation


def _effective(obj: dict[str, Any], now: int) -> _Effective:
    """Apply the ratchet (:mod:`verifier.ratchet`) to the navigation's header.

    - a valid header: judged as sent, except that the mode is the ratcheted state's (a
      ``report`` header cannot downgrade a live ``enforce`` state);
    - no valid header but a live state: judged as if the stored policy had been sent
      (its manifest URL, mode and endpoints, the remaining max-age);
    - neither: no header.
    """
    raw = obj.get("header")
    if raw is not None and not isinstance(raw, str):
        raise ValueError("header must be null or a string")
    try:
        policy = parse_policy(raw) if raw is not None else None
    except WaictError:
        policy = None
    state = _state_from_json(obj.get("origin_state"))
    after = apply_header(state, policy, now)
    if policy is not None:
        if after is not None and after.mode != policy.mode:
            ratcheted = Policy(
                policy.max_age,
                after.mode,
                policy.manifest,
                policy.preload,
                policy.endpoints,
                policy.blocked_destinations,
            )
            return _Effective(_policy_header(ratcheted), ratcheted, after)
        return _Effective(raw, policy, after)
    if after is not None:
        stored = Policy(
            max(after.expiry - now, 0), after.mode, after.manifest, False, after.endpoints
        )
        return _Effective(_policy_header(stored), stored, after)
    return _Effective(None, None, None)


def _manifest_url(url: str, policy: Policy) -> str:
    """The absolute manifest URL: the header's value, relative to the document's origin."""
    return urljoin(urls.origin_of(url) + "/", policy.manifest)


# --- entry points ---------------------------------------------------------------------


def _plan(obj: dict[str, Any]) -> dict[str, Any]:
    url = obj["url"]
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    now = _now(obj)
    trust = _trust(obj)
    eff = _effective(obj, now)
    try:
        host = urls.tree_host(url)
    except WaictError:
        return {"gated": False, "manifest_url": None, "preloaded": False}
    plist = _preload(obj, trust, now)
    preloaded = plist is not None and plist.lookup(host) is not None
    manifest_url = _manifest_url(url, eff.policy) if eff.policy is not None else None
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


def _cache_key(parts: list[Any]) -> str:
    return b64uencode(sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()))


def _remember(key: str, judged: _Judged) -> None:
    _verdicts[key] = judged
    _verdicts.move_to_end(key)
    while len(_verdicts) > CACHE_SIZE:
        _verdicts.popitem(last=False)


def _info(verdict: ManifestVerdict, now: int) -> dict[str, Any]:
    """What the popup shows about a verdict (all of it derived, nothing decided here)."""
    out: dict[str, Any] = {"message": verdict.message}
    policy = verdict.policy
    if policy is not None:
        out.update(
            mode=policy.mode,
            max_age=policy.max_age,
            manifest_url=policy.manifest,
            endpoints=list(policy.endpoints),
            v1=policy.is_v1,
        )
    out["preloaded"] = verdict.preload is not None
    manifest = verdict.manifest
    if manifest is not None:
        out["manifest_hash"] = b64uencode(sha256(manifest.line))
        out["tombstone"] = manifest.tombstone
        out["asset_count"] = len(manifest.hashes)
        out["inline_covered"] = manifest.covers_inline
        out["extension_members"] = sorted(manifest.extension_members)
        if manifest.dev is not None and manifest.dev.ids is not None:
            out["dev_ids"] = list(manifest.dev.ids)
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
    now = _now(obj)
    trust = _trust(obj)
    eff = _effective(obj, now)
    response = _bytes_or_none(obj, "manifest_response")
    plist = _preload(obj, trust, now)
    try:
        origin = urls.origin_of(url)
    except WaictError:
        origin = url
    key = _cache_key(
        [
            origin,
            eff.header,
            None if response is None else b64encode(sha256(response)),
            trust.to_json(),
            None if plist is None else [plist.issued, plist.expires, sorted(plist.entries)],
        ]
    )
    cached = _verdicts.get(key)
    if cached is not None and 0 <= now - cached.now < VERDICT_TTL:
        verdict = cached.verdict
        _verdicts.move_to_end(key)
    else:
        verdict = evaluate_manifest(
            url=url,
            header=eff.header,
            manifest_response=response,
            trust=trust,
            now=now,
            preload_list=plist,
        )
        _remember(key, _Judged(verdict, now, origin))

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
    return {
        "key": key,
        "url": url,
        "navigation": "block" if verdict.blocks_navigation or document_blocked else "allow",
        "manifest": verdict.as_json(),
        "resources": resources,
        "gated": verdict.status in ("valid", "invalid"),
        "enforcing": verdict.enforcing,
        "badge": status,
        "origin_state": _state_to_json(eff.state),
        "csp": csp,
        "csp_header": (
            "Content-Security-Policy"
            if verdict.enforcing
            else "Content-Security-Policy-Report-Only"
        ),
        "wasm": _wasm_policy(verdict, key),
        "info": _info(verdict, now),
        "now": now,
    }


def judge_navigation(request: str) -> str:
    """Judge a navigation: its header (after the ratchet) and manifest response.

    Request: ``{"url", "header": str|null, "manifest_response": b64|null, "now", "trust",
    "preload": b64|null, "origin_state": {...}|null, "resources": [{"url",
    "destination", "body": b64}]}`` (``resources`` optional: usually the document itself).

    Answer: ``{"key", "navigation": "allow"|"block", "manifest": {status, reason, detail},
    "resources": [...], "gated", "enforcing", "badge": "verified"|"report"|"blocked"|
    "none"|"tombstone", "origin_state": {...}|null (store it for the origin), "csp":
    str|null, "csp_header", "wasm": {...}, "info": {...}}``.
    """
    return _entry(_judge, request)


def _check_one(verdict: ManifestVerdict, r: Any) -> dict[str, Any]:
    if not isinstance(r, dict):
        raise ValueError("a resource must be an object")
    url, destination = r.get("url"), r.get("destination")
    if not isinstance(url, str) or not isinstance(destination, str):
        raise ValueError("a resource needs url and destination strings")
    body = _bytes_or_none(r, "body") or b""
    return resource_verdict(verdict, url, destination, body)


def _check(obj: dict[str, Any]) -> dict[str, Any]:
    key = obj.get("key")
    judged = _verdicts.get(key) if isinstance(key, str) else None
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


def has_verdict(key: str) -> bool:
    return key in _verdicts


# --- destinations ---------------------------------------------------------------------

#: ``Sec-Fetch-Dest`` values that name a destination as they are.
_SEC_FETCH_DESTS = frozenset(
    (
        "audio",
        "audioworklet",
        "document",
        "embed",
        "font",
        "frame",
        "iframe",
        "image",
        "json",
        "manifest",
        "object",
        "paintworklet",
        "report",
        "script",
        "serviceworker",
        "sharedworker",
        "style",
        "track",
        "video",
        "worker",
        "xslt",
    )
)

#: CDP ``Network.ResourceType`` -> destination, used only when ``Sec-Fetch-Dest`` is absent.
#: ``Other`` and unknown types map to ``script``: the strictest active destination, so an
#: unknown request of a WAICT page fails closed unless its URL is in the manifest.
_RESOURCE_TYPES = {
    "Document": "document",
    "Stylesheet": "style",
    "Image": "image",
    "Media": "video",
    "Font": "font",
    "Script": "script",
    "TextTrack": "track",
    "XHR": "",
    "Fetch": "",
    "Prefetch": "",
    "EventSource": "",
    "WebSocket": "",
    "Manifest": "manifest",
    "SignedExchange": "",
    "Ping": "report",
    "CSPViolationReport": "report",
    "Preflight": "",
    "FedCM": "",
}

WASM_MEDIA_TYPE = "application/wasm"


def _destination(obj: dict[str, Any]) -> dict[str, Any]:
    sec = obj.get("sec_fetch_dest")
    rtype = obj.get("resource_type")
    ctype = obj.get("content_type") or ""
    main = bool(obj.get("main_frame"))
    media = ctype.split(";", 1)[0].strip().lower() if isinstance(ctype, str) else ""
    if isinstance(sec, str) and sec:
        sec = sec.lower()
        if sec == "empty":
            dest = ""
        elif sec in _SEC_FETCH_DESTS:
            dest = sec
        else:
            dest = "script"  # a destination this code does not know: strictest
        source = "sec-fetch-dest"
    elif rtype == "Document":
        dest = "document" if main else "iframe"
        source = "resource-type"
    else:
        dest = _RESOURCE_TYPES.get(str(rtype), "script")
        source = "resource-type"
    if dest == "" and media == WASM_MEDIA_TYPE:
        dest = "wasm"  # bytes meant for WebAssembly (compileStreaming demands this type)
    return {"destination": dest, "source": source}


def fetch_destination(request: str) -> str:
    """The WAICT destination of an intercepted response.

    Request: ``{"sec_fetch_dest": str|null, "resource_type": CDP type, "content_type":
    str|null, "main_frame": bool}``.

    - ``Sec-Fetch-Dest`` (what Chromium sent, from ``Network.requestWillBeSentExtraInfo``)
      is the fetch destination itself; ``empty`` is ``""``.
    - A ``""`` destination whose response is ``application/wasm`` is ``wasm``:
      ``WebAssembly.compileStreaming`` / ``instantiateStreaming`` accept only that type.
    - Without the header (Chromium sends it only to potentially trustworthy origins), the
      CDP resource type decides (table ``_RESOURCE_TYPES``); ``Document`` is ``document``
      for the main frame and ``iframe`` otherwise; ``Other`` and unknown types are
      ``script``, the strictest choice.
    """
    return _entry(_destination, request)
