"""Per-origin WAICT state and its ratchet, as a pure state transition.

State per top-level origin: reporting endpoints, manifest URL, mode, and the effective
expiry (``max-age`` seconds after the header was last seen). Rules (integrity spec,
"Upgrades and Downgrades"):

1. endpoints and manifest URL are always overwritten with the latest header's;
2. no live state: store the new record;
3. ``report`` -> ``enforce`` upgrades at once (mode and expiry);
4. same mode: the expiry only moves later;
5. anything else (a downgrade, a shorter expiry) is ignored until the stored expiry lapses.

A state past its expiry is gone. ``max-age=0`` therefore never creates lasting state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from verifier.header import Policy


@dataclass(frozen=True)
class OriginState:
    mode: str
    manifest: str
    endpoints: tuple[str, ...]
    expiry: int  # unix seconds

    def live(self, now: int) -> bool:
        return now < self.expiry


def apply_header(state: OriginState | None, policy: Policy | None, now: int) -> OriginState | None:
    """The state after seeing ``policy`` (None: no valid header) at ``now``."""
    if state is not None and not state.live(now):
        state = None
    if policy is None:
        return state
    expiry = now + policy.max_age
    if state is None:
        new = OriginState(policy.mode, policy.manifest, policy.endpoints, expiry)
        return new if new.live(now) else None
    state = replace(state, manifest=policy.manifest, endpoints=policy.endpoints)
    if state.mode == "report" and policy.mode == "enforce":
        return replace(state, mode="enforce", expiry=expiry)
    if state.mode == policy.mode and expiry > state.expiry:
        return replace(state, expiry=expiry)
    return state


def effective_mode(state: OriginState | None, policy: Policy | None, now: int) -> str | None:
    """The mode the client applies now: the ratcheted state's, else the header's own."""
    after = apply_header(state, policy, now)
    if after is not None:
        return after.mode
    return policy.mode if policy is not None else None
