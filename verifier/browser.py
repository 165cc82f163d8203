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
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import http_sf

from verifier import urls
from verifier.crypto import sha256
from verifier.csp import inline_csp
from verifier.decide import (
    INVALID_MANIFEST,
    ManifestVerdict,
    evaluate_manifest,
    request_url_of,
    resource_verdict,
)
from verifier.devids import dev_sigs_payload
from verifier.encoding import b64decode, b64encode, b64uencode
from verifier.errors import EncodingError, WaictError
from verifier.header import Policy, parse_policy, resolve_manifest_url
from verifier.preload import PreloadList, usable_preload_list, verify_preload_response
from verifier.proof import ChainHeadWithProof
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
#: How long a plugin may take to answer before its silence counts as a veto (bounds, ms).
PLUGIN_TIMEOUT_DEFAULT_MS = 3000
PLUGIN_TIMEOUT_MIN_MS = 100
PLUGIN_TIMEOUT_MAX_MS = 10000
#: The detail code of a plugin's veto is this prefix followed by the plugin's id.
PLUGIN_VETO = "plugin_veto"


# --- plain words ------------------------------------------------------------------------

_SITE = (
    "This is a problem on the site's side, and only its operator can fix it. Try again "
    "later, or tell the site's operator."
)
_TRUST = (
    "If it keeps happening on sites that work elsewhere, check the trusted transparency "
    "services and witnesses in the WAICT options."
)
_CLOCK = "Check that this computer's clock and time zone are right, then try again."
_LATER = "Try again later. If it keeps happening, tell the site's operator."
_ATTACK = (
    "Do not enter anything on this site now. The site's operator should be told: "
    "someone may have changed the site's code."
)

#: Plain words for every reason and detail code a verdict can carry: code -> (what
#: happened, what the user can do). The one table: the block page, the popup and the
#: reports take their words from here (:func:`explain`); a test checks that every code
#: the verifier can produce has an entry.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    # spec reasons
    "manifest_unavailable": (
        "The site's integrity manifest, the list of the code it committed to, could not be "
        "fetched.",
        _LATER,
    ),
    "invalid_manifest": (
        "The site's integrity manifest, or the proof that it was publicly logged, did not "
        "pass the checks.",
        _SITE,
    ),
    "invalid_transparency_proof": (
        "The proof that the site's manifest was publicly logged is damaged or incomplete.",
        _SITE,
    ),
    "missing_from_manifest": (
        "The site loaded a file that its manifest does not list.",
        _ATTACK,
    ),
    "no_manifest_match": (
        "A file the site served is not the one it publicly committed to: its content differs "
        "from the hash in the manifest.",
        _ATTACK,
    ),
    "wasm_hash_mismatch": (
        "The site tried to run a WebAssembly module that its manifest does not list.",
        _ATTACK,
    ),
    # manifest and header details
    "invalid": ("The site's WAICT data is not valid.", _SITE),
    "invalid_url": ("The page or a manifest entry has an address WAICT cannot read.", _SITE),
    "non_canonical_url": (
        "The site's manifest lists an address in a form WAICT does not accept (it must be "
        "the exact, canonical form).",
        _SITE,
    ),
    "bad_encoding": ("The site's manifest or proof holds badly encoded data.", _SITE),
    "invalid_header": ("The site's WAICT header is not valid.", _SITE),
    "v1_transparency_unsupported": (
        "The site uses the old WAICT v1 format together with a transparency promise, which "
        "v1 cannot keep.",
        _SITE,
    ),
    # transparency proof details
    "malformed_proof": (
        "The proof that the manifest was logged is damaged, truncated or missing.",
        _SITE,
    ),
    "malformed_chain_node": ("The site's log entry in the proof is damaged.", _SITE),
    "malformed_tree_proof": ("The log's tree proof for this site is damaged.", _SITE),
    "malformed_note": ("The signed statement of the transparency log is damaged.", _SITE),
    "transparency_failed": ("The proof that the manifest was logged does not verify.", _SITE),
    "untrusted_ts": (
        "The manifest was logged by a transparency service this browser does not trust.",
        _TRUST,
    ),
    "resource_hash_mismatch": (
        "The manifest the site served is not the one its public log entry commits to.",
        _ATTACK,
    ),
    "tree_proof_failed": (
        "The proof does not show the site's log entry in the transparency log: it does not add up.",
        _SITE,
    ),
    "chain_discontinuity": ("The site's log history does not link up.", _SITE),
    "unknown_domain_without_hosts": ("The log has no record for this site.", _SITE),
    "bad_cosignature": (
        "A witness's signature on the transparency log does not verify: the log's statement "
        "was altered or forged.",
        _ATTACK,
    ),
    "quorum_not_met": (
        "Too few trusted witnesses confirmed the transparency log's current state.",
        _TRUST,
    ),
    "stale_cosignature": (
        "The witnesses' confirmations of the transparency log are too old: the site may be "
        "serving an outdated version.",
        "Try again later. " + _CLOCK,
    ),
    "future_cosignature": (
        "The witnesses' confirmations are dated in the future.",
        _CLOCK,
    ),
    "cooldown_not_met": (
        "The proof is newer than the waiting period (cooldown) this browser requires.",
        _LATER,
    ),
    # preload list and tombstones
    "preload_unsatisfied": (
        "This site is on the WAICT preload list, so it must always prove its code, and this "
        "time it did not.",
        _ATTACK,
    ),
    "tombstone_too_recent": (
        "The site left WAICT too recently: a preloaded site may leave only after the "
        "waiting period (cooldown), so that a sudden exit cannot hide an attack.",
        _LATER,
    ),
    "invalid_preload": ("The preload list is not valid.", _TRUST),
    # developer identities
    "dev_ids_invalid": ("The site's developer identities are not valid.", _SITE),
    "dev_ids_missing": (
        "The site must name the developers who sign its code, with a proof, and it did not.",
        _SITE,
    ),
    "dev_ids_cooldown": (
        "The site changed the developers allowed to sign its code less than the waiting "
        "period (cooldown) ago.",
        "Try again after the waiting period. If you did not expect this site to change "
        "hands, tell its operator.",
    ),
    "dev_ids_mismatch": (
        "The site's developer identities are not the ones it announced earlier.",
        _ATTACK,
    ),
    "dev_ids_unproven": (
        "The proof of the site's developer identities does not verify.",
        _SITE,
    ),
    "dev_ids_malformed": ("The site's developer identities are malformed.", _SITE),
    "dev_sigs_malformed": ("The site's developer signatures are malformed.", _SITE),
    # plugins (detail plugin_veto:<plugin id>)
    PLUGIN_VETO: (
        "A WAICT plugin you installed refused this site's manifest (for example because a "
        "developer signature is missing or wrong), or did not answer in time.",
        "See the plugin's message below. If you do not want this plugin to judge sites, "
        "remove it in the WAICT options.",
    ),
    # the extension's own failures
    "internal_error": (
        "WAICT could not finish checking this site, so it stopped it to be safe.",
        "Reload the page. If it keeps happening, restart the browser.",
    ),
    "no_verdict": (
        "WAICT has no verified manifest for this code's site, so it stopped it to be safe.",
        "Reload the page.",
    ),
    # errors of the settings and tools (never in a page verdict, named for completeness)
    "invalid_trust": ("The trust settings are not valid.", "Fix them in the WAICT options."),
    "crypto_error": ("A key or signature has the wrong size.", _SITE),
    "invalid_scenario": ("The scenario file is not usable.", "Fix the file."),
    "invalid_event": ("The transparency log sent an invalid event.", _SITE),
}

_UNKNOWN = (
    "WAICT could not verify this site's code, so it stopped it to be safe.",
    _SITE,
)


def explain(reason: str | None, detail: str | None = None) -> dict[str, Any] | None:
    """The plain words for a verdict's reason and detail (the detail is more precise).

    ``{"code", "text", "action"}``; None when there is nothing to explain.
    """
    if reason is None and detail is None:
        return None
    for code in (detail, reason):
        if code is None:
            continue
        base = code.split(":", 1)[0]
        if base in EXPLANATIONS:
            text, action = EXPLANATIONS[base]
            return {"code": code, "text": text, "action": action}
    text, action = _UNKNOWN
    return {"code": detail or reason, "text": text, "action": action}


def _explain_items(obj: dict[str, Any]) -> dict[str, Any]:
    items = obj.get("items") or []
    if not isinstance(items, list):
        raise ValueError("items must be a list of {reason, detail}")
    out = []
    for item in items:
        item = item if isinstance(item, dict) else {}
        reason, detail = item.get("reason"), item.get("detail")
        out.append(
            explain(
                reason if isinstance(reason, str) else None,
                detail if isinstance(detail, str) else None,
            )
        )
    return {"explanations": out}


def explain_codes(request: str) -> str:
    """``{"items": [{"reason", "detail"}]}`` -> ``{"explanations": [explain(...)|null]}``."""
    return _entry(_explain_items, request)


def explanations(request: str) -> str:
    """The whole table: ``{"codes": {code: {"text", "action"}}}`` (the request is ignored)."""
    return _entry(
        lambda _obj: {"codes": {k: {"text": t, "action": a} for k, (t, a) in EXPLANATIONS.items()}},
        request or "{}",
    )


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


def _manifest_url(url: str, policy: Policy) -> str | None:
    """The absolute manifest URL: the header's value, relative to the response's URL."""
    return resolve_manifest_url(policy.manifest, url)


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
            manifest_url=_manifest_url(url, policy),
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
        out["explanation"] = explain(verdict.reason, verdict.detail)
    return out


# --- plugins ----------------------------------------------------------------------------

_PATTERN_RE = re.compile(r"^(\*|https?)://(\*|\*\.[^/*:]+|[^/*:]+)(?::(\*|\d{1,5}))?/\*$")


def _pattern_ok(pattern: Any) -> bool:
    return isinstance(pattern, str) and (
        pattern == "<all_urls>" or _PATTERN_RE.match(pattern) is not None
    )


def _pattern_matches(pattern: str, url: str) -> bool:
    """Chrome-style origin patterns: ``<all_urls>``, ``*://*.example.com/*``,
    ``https://bank.example/*``, ``http://host:8080/*`` (paths are always ``/*``)."""
    parts = urlsplit(url)
    scheme, host, port = parts.scheme, (parts.hostname or ""), parts.port
    if scheme not in ("http", "https") or not host:
        return False
    if pattern == "<all_urls>":
        return True
    m = _PATTERN_RE.match(pattern)
    if m is None:
        return False
    p_scheme, p_host, p_port = m.group(1), m.group(2).lower(), m.group(3)
    if p_scheme != "*" and p_scheme != scheme:
        return False
    if p_host.startswith("*."):
        if not (host == p_host[2:] or host.endswith(p_host[1:])):
            return False
    elif p_host != "*" and p_host != host:
        return False
    if p_port not in (None, "*"):
        effective = port if port is not None else (443 if scheme == "https" else 80)
        if int(p_port) != effective:
            return False
    return True


def _registrations(obj: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    raw = obj.get("registrations") or []
    if not isinstance(raw, list):
        raise ValueError("registrations must be a list of {id, patterns}")
    out: list[tuple[str, tuple[str, ...]]] = []
    for r in raw:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not r["id"]:
            raise ValueError("a registration needs an id")
        patterns = r.get("patterns")
        if not isinstance(patterns, list) or not all(_pattern_ok(x) for x in patterns):
            raise ValueError(f"registration {r['id']!r} has invalid patterns")
        out.append((r["id"], tuple(patterns)))
    return sorted(out)


def _plugins_for(regs: list[tuple[str, tuple[str, ...]]], url: str) -> list[str]:
    """The plugins to ask about a navigation to ``url`` (sorted ids)."""
    return [pid for pid, patterns in regs if any(_pattern_matches(x, url) for x in patterns)]


def _plugin_outcomes(obj: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    raw = obj.get("plugins")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("plugins must be a list of {id, verdict, reason}")
    out: dict[str, dict[str, Any]] = {}
    for r in raw:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str):
            raise ValueError("a plugin outcome needs an id")
        reason = r.get("reason")
        out[r["id"]] = {
            "id": r["id"],
            "verdict": r.get("verdict") if isinstance(r.get("verdict"), str) else "invalid",
            "reason": reason[:300] if isinstance(reason, str) else None,
        }
    return out


def _apply_plugins(
    verdict: ManifestVerdict, asked: list[str], outcomes: dict[str, dict[str, Any]]
) -> tuple[ManifestVerdict, list[dict[str, Any]]]:
    """Fold the plugins' answers into the verdict: every plugin that was asked must have
    answered ``approve``; anything else (a veto, no answer in time, an unreachable plugin,
    an answer we cannot read, no answer recorded) makes the manifest invalid, with reason
    ``invalid_manifest`` and detail ``plugin_veto:<id>`` (the first such plugin by id)."""
    results: list[dict[str, Any]] = []
    veto: dict[str, Any] | None = None
    for pid in asked:
        got = outcomes.get(pid) or {"id": pid, "verdict": "missing", "reason": None}
        results.append(got)
        if got["verdict"] != "approve" and veto is None:
            veto = got
    if veto is None:
        return verdict, results
    how = {
        "veto": "vetoed this manifest",
        "timeout": "did not answer in time (counted as a veto)",
        "unreachable": "could not be reached (counted as a veto)",
    }.get(veto["verdict"], f"gave no usable answer ({veto['verdict']}; counted as a veto)")
    message = f"plugin {veto['id']} {how}" + (f": {veto['reason']}" if veto["reason"] else "")
    return (
        replace(
            verdict,
            status="invalid",
            reason=INVALID_MANIFEST,
            detail=f"{PLUGIN_VETO}:{veto['id']}",
            message=message,
        ),
        results,
    )


def _view(verdict: ManifestVerdict, url: str, key: str | None) -> dict[str, Any]:
    """What a plugin sees of a judged manifest (only a valid one has members)."""
    out: dict[str, Any] = {
        "key": key,
        "url": url,
        "status": verdict.status,
        "reason": verdict.reason,
        "detail": verdict.detail,
    }
    try:
        out["origin"] = urls.origin_of(url)
    except WaictError:
        out["origin"] = None
    vetoed = (verdict.detail or "").startswith(PLUGIN_VETO + ":")
    manifest = verdict.manifest
    if manifest is None or manifest.tombstone or not (verdict.status == "valid" or vetoed):
        return out
    members = manifest.members
    out.update(
        manifest_hash=b64uencode(sha256(manifest.line)),
        manifest_url=_manifest_url(url, verdict.policy) if verdict.policy else None,
        mode=verdict.policy.mode if verdict.policy else None,
        ts=verdict.proven.ts_domain if verdict.proven else None,
        extension_members=manifest.extension_members,
        dev_ids=members.get("dev-ids"),
        dev_ids_next=members.get("dev-ids-next"),
        dev_sigs=members.get("dev-sigs"),
        dev_ids_proven=bool(verdict.dev_ids_cosignatures),
        dev_sigs_payload=None,
        dev_sigs_payload_error=None,
    )
    if "dev-ids" in members or "dev-sigs" in members:
        try:
            out["dev_sigs_payload"] = b64encode(dev_sigs_payload(members))
        except WaictError as exc:
            out["dev_sigs_payload_error"] = str(exc)
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
    regs = _registrations(obj)
    outcomes = _plugin_outcomes(obj)
    try:
        origin = urls.origin_of(url)
    except WaictError:
        origin = url
    key = _cache_key(
        [
            url if eff.policy is not None and eff.policy.is_v1 else origin,  # v1 keys: doc URL
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

    # plugins (design section 6): asked about a valid manifest; their answers are inputs
    asked = _plugins_for(regs, url) if verdict.status == "valid" else []
    plugin_results: list[dict[str, Any]] = []
    if asked and outcomes is None:
        # first round: the caller asks the plugins, then judges again with their answers;
        # nothing may be released on this answer (no key, navigation "pending")
        return {
            "key": None,
            "url": url,
            "navigation": "pending",
            "ask_plugins": asked,
            "plugin_view": _view(verdict, url, None),
            "manifest": verdict.as_json(),
            "now": now,
        }
    if asked:
        assert outcomes is not None
        verdict, plugin_results = _apply_plugins(verdict, asked, outcomes)
        key = _cache_key([key, plugin_results])
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
        block["explanation"] = explain(block["reason"], block["detail"])
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
        "origin_state": _state_to_json(eff.state),
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
    body = _bytes_or_none(r, "body") or b""
    return resource_verdict(verdict, url, destination, body, request_url_of(r))


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

    Request: ``{"key", "url", "destination", "body": b64, "request_url"?}`` (``request_url``:
    the URL the fetch was made for, before any redirect; the lookup uses it, design.md 5;
    ``body``: the bytes finally delivered). Answer: the verdict's resource
    entry ``{"url", "allowed", "reason", "enforcing"}``, or ``{"error": "unknown_key"}``
    when the verdict is no longer cached (the caller judges the navigation again from
    its stored inputs and retries).
    """
    return _entry(_check, request)


def has_verdict(key: str) -> bool:
    return key in _verdicts


def _manifest_view(obj: dict[str, Any]) -> dict[str, Any]:
    key = obj.get("key")
    judged = _verdicts.get(key) if isinstance(key, str) else None
    if judged is None:
        return {"error": "unknown_key", "key": key}
    url = obj.get("url")
    return _view(judged.verdict, url if isinstance(url, str) else judged.origin + "/", key)


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
    return _entry(_manifest_view, request)


def _registration(obj: dict[str, Any]) -> dict[str, Any]:
    patterns = obj.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        return {"ok": False, "error": "patterns must be a non-empty list of origin patterns"}
    if len(patterns) > 100:
        return {"ok": False, "error": "at most 100 patterns"}
    bad = [x for x in patterns if not _pattern_ok(x)]
    if bad:
        return {
            "ok": False,
            "error": f"not an origin pattern: {str(bad[0])[:80]!r} (use <all_urls>, "
            "*://*.example.com/*, https://example.com/* or http://host:8080/*)",
        }
    timeout = obj.get("timeout_ms", PLUGIN_TIMEOUT_DEFAULT_MS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return {"ok": False, "error": "timeout_ms must be a number of milliseconds"}
    timeout = int(min(max(timeout, PLUGIN_TIMEOUT_MIN_MS), PLUGIN_TIMEOUT_MAX_MS))
    return {"ok": True, "patterns": sorted(set(patterns)), "timeout_ms": timeout}


def plugin_registration(request: str) -> str:
    """Validate a plugin's registration.

    Request: ``{"patterns": [origin pattern], "timeout_ms": int}``. Answer: ``{"ok": true,
    "patterns", "timeout_ms"}`` (patterns sorted, timeout clamped to
    [:data:`PLUGIN_TIMEOUT_MIN_MS`, :data:`PLUGIN_TIMEOUT_MAX_MS`]) or ``{"ok": false,
    "error"}``.
    """
    return _entry(_registration, request)


# --- settings ---------------------------------------------------------------------------


def _validate_settings(obj: dict[str, Any]) -> dict[str, Any]:
    now = _now(obj)
    try:
        trust = parse_trust(obj.get("trust"))
    except WaictError as exc:
        return {"ok": False, "field": "trust", "error": str(exc)}
    warnings: list[str] = []
    if not trust.transparency_services:
        warnings.append(
            "no transparency service is trusted: every WAICT site that proves its code "
            "with a transparency log will be blocked"
        )
    if len(trust.witnesses) < trust.quorum:
        warnings.append(
            f"the quorum ({trust.quorum}) is larger than the number of trusted witnesses "
            f"({len(trust.witnesses)}): no proof can be accepted"
        )
    source = obj.get("preload_source", "upload")
    if source not in ("upload", "default", "none"):
        return {"ok": False, "field": "preload", "error": "unknown preload list source"}
    summary = None
    try:
        body = _bytes_or_none(obj, "preload")
    except ValueError as exc:
        return {"ok": False, "field": "preload", "error": f"preload list: {exc}"}
    if source != "none" and body is not None:
        problem = None
        try:
            plist = verify_preload_response(body, trust, now)
        except WaictError as exc:
            problem = f"the preload list does not verify under these trust settings: {exc}"
        else:
            if plist.stale(now):
                problem = (
                    f"the preload list is stale (issued {plist.issued}, expires "
                    f"{plist.expires}): a stale list is not enforced; get a fresh one"
                )
            summary = {
                "issued": plist.issued,
                "expires": plist.expires,
                "hosts": sorted(plist.entries),
                "domain": trust.preload_domain,
            }
        if problem is not None:
            if source == "upload":
                return {"ok": False, "field": "preload", "error": problem}
            warnings.append(f"the bundled preload list will not be used: {problem}")
            summary = None
    elif source == "upload":
        return {"ok": False, "field": "preload", "error": "choose a preload.waict file"}
    return {
        "ok": True,
        "trust": trust.to_json(),
        "preload_source": source,
        "preload": summary,
        "warnings": warnings,
    }


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
    return _entry(_validate_settings, request)


# --- reports ----------------------------------------------------------------------------

REPORT_TYPE = "waict-violation"
REPORTS_MEDIA_TYPE = "application/reports+json"
MAX_REPORTS_PER_POST = 100


def _reporting_endpoints(value: Any, document_url: str) -> dict[str, str]:
    """``Reporting-Endpoints`` (an RFC 9651 dictionary of name -> URL string) resolved
    against the document's URL; members that are not strings or not http(s) URLs are
    ignored (Reporting API)."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dictionary")
    except Exception:  # an unparseable header names no endpoint
        return {}
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, str] = {}
    for name, member in parsed.items():
        bare = member[0] if isinstance(member, tuple) else member
        if not isinstance(bare, str) or isinstance(bare, http_sf.Token):
            continue
        target = urljoin(document_url, bare)
        if urlsplit(target).scheme in ("http", "https"):
            out[str(name)] = target
    return out


def _reports(obj: dict[str, Any]) -> dict[str, Any]:
    document_url = obj.get("document_url")
    if not isinstance(document_url, str):
        raise ValueError("document_url must be a string")
    names = obj.get("endpoints") or []
    if not isinstance(names, list):
        raise ValueError("endpoints must be a list of names")
    resolved = _reporting_endpoints(obj.get("reporting_endpoints"), document_url)
    now_ms = obj.get("now_ms")
    if isinstance(now_ms, bool) or not isinstance(now_ms, int | float):
        now_ms = int(time.time() * 1000)
    user_agent = obj.get("user_agent") if isinstance(obj.get("user_agent"), str) else ""
    reports: list[dict[str, Any]] = []
    for v in obj.get("violations") or []:
        if not isinstance(v, dict) or not isinstance(v.get("url"), str):
            continue
        when = v.get("time_ms")
        age = int(now_ms - when) if isinstance(when, int | float) else 0
        reports.append(
            {
                "type": REPORT_TYPE,
                "age": max(age, 0),
                "url": document_url,
                "user_agent": user_agent,
                "body": {
                    "documentURL": document_url,
                    "blockedURL": v["url"],
                    "destination": str(v.get("destination") or ""),
                    "reportOnly": bool(v.get("report_only")),
                    "reason": v.get("reason"),
                    "detail": v.get("detail"),
                },
            }
        )
    posts: list[dict[str, Any]] = []
    unresolved: list[str] = []
    seen: set[str] = set()
    for name in names:
        target = resolved.get(name) if isinstance(name, str) else None
        if target is None:
            unresolved.append(str(name))
            continue
        if target in seen or not reports:
            continue
        seen.add(target)
        for i in range(0, len(reports), MAX_REPORTS_PER_POST):
            posts.append(
                {
                    "endpoint": name,
                    "url": target,
                    "content_type": REPORTS_MEDIA_TYPE,
                    "body": json.dumps(
                        reports[i : i + MAX_REPORTS_PER_POST], separators=(",", ":")
                    ),
                }
            )
    return {"posts": posts, "unresolved": unresolved, "count": len(reports)}


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
    return _entry(_reports, request)


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
    elif obj.get("worker_script") in ("serviceworker", "sharedworker"):
        dest = str(obj["worker_script"])  # the main script of a worker we attached to
        source = "worker-target"
    else:
        dest = _RESOURCE_TYPES.get(str(rtype), "script")
        source = "resource-type"
    if dest == "" and media == WASM_MEDIA_TYPE:
        dest = "wasm"  # bytes meant for WebAssembly (compileStreaming demands this type)
    return {"destination": dest, "source": source}


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
    return _entry(_destination, request)
