"""The header a navigation is judged with: its ``Integrity-Policy-WAICT-v1`` after the ratchet.

:mod:`verifier.ratchet` holds the rule (a ``report`` header cannot downgrade a live
``enforce`` state; a live state stands in for a missing or invalid header); this module
applies it to a navigation's request: the stored per-origin state in and out as JSON
(``origin_state``), the resulting policy serialised back into a header value, and the
absolute manifest URL it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.errors import WaictError
from verifier.header import Policy, parse_policy, resolve_manifest_url
from verifier.ratchet import OriginState, apply_header


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


def state_to_json(state: OriginState | None) -> dict[str, Any] | None:
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
class Effective:
    """The header the navigation is judged with, after the ratchet."""

    header: str | None
    policy: Policy | None
    state: OriginState | None  # the state to store after this navigation


def effective(obj: dict[str, Any], now: int) -> Effective:
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
            return Effective(_policy_header(ratcheted), ratcheted, after)
        return Effective(raw, policy, after)
    if after is not None:
        stored = Policy(
            max(after.expiry - now, 0), after.mode, after.manifest, False, after.endpoints
        )
        return Effective(_policy_header(stored), stored, after)
    return Effective(None, None, None)


def manifest_url(url: str, policy: Policy) -> str | None:
    """The absolute manifest URL: the header's value, resolved against the URL of the
    response that carries the header (design.md 3.1); None when it cannot be resolved."""
    return resolve_manifest_url(policy.manifest, url)


def forgets_service_workers(obj: dict[str, Any], after: OriginState | None, now: int) -> bool:
    """Whether the origin's earlier service workers must be unregistered before the
    document is released (design.md 6): the navigation gives the origin a live state it
    did not have (its first WAICT header, or the first after the stored one expired), or
    moves it to a new manifest URL. A service worker registered before then was never
    checked against this manifest and must not answer until its script passes the check."""
    if after is None:
        return False
    before = _state_from_json(obj.get("origin_state"))
    return before is None or not before.live(now) or before.manifest != after.manifest
