"""Plugins: their registration, what they see of a verified manifest, their approve or veto.

Design section 6: other extensions read the verified manifest's extension members and may
veto a manifest (the message schema is ``docs/plugin-api.md``). A plugin registers the
origin patterns it judges (Chrome-style: ``<all_urls>``, ``*://*.example.com/*``,
``https://bank.example/*``, ``http://host:8080/*``) and how long it may take to answer.
Its answer is an input of Python's verdict, never the verdict itself: every plugin asked
about a valid manifest must answer ``approve``; anything else makes the manifest invalid
(reason ``invalid_manifest``, detail ``plugin_veto:<plugin id>``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from verifier import urls
from verifier.browser import effective_header
from verifier.browser.cache import VERDICTS
from verifier.crypto import sha256
from verifier.decide import INVALID_MANIFEST, ManifestVerdict
from verifier.devids import dev_sigs_payload
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError

#: How long a plugin may take to answer before its silence counts as a veto (bounds, ms).
PLUGIN_TIMEOUT_DEFAULT_MS = 3000
PLUGIN_TIMEOUT_MIN_MS = 100
PLUGIN_TIMEOUT_MAX_MS = 10000
#: The detail code of a plugin's veto is this prefix followed by the plugin's id.
PLUGIN_VETO = "plugin_veto"

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


def registrations(obj: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
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


def plugins_for(regs: list[tuple[str, tuple[str, ...]]], url: str) -> list[str]:
    """The plugins to ask about a navigation to ``url`` (sorted ids)."""
    return [pid for pid, patterns in regs if any(_pattern_matches(x, url) for x in patterns)]


def plugin_outcomes(obj: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
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


def apply_plugins(
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


def view(verdict: ManifestVerdict, url: str, key: str | None) -> dict[str, Any]:
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
        manifest_url=effective_header.manifest_url(url, verdict.policy) if verdict.policy else None,
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


def view_by_key(obj: dict[str, Any]) -> dict[str, Any]:
    """:func:`view` of the verdict the cache keeps under ``key`` (``manifest_view``)."""
    key = obj.get("key")
    judged = VERDICTS.get(key)
    if judged is None:
        return {"error": "unknown_key", "key": key}
    url = obj.get("url")
    return view(judged.verdict, url if isinstance(url, str) else judged.origin + "/", key)


def registration(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate one plugin's registration (``plugin_registration``)."""
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
