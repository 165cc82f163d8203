"""design.md 6: the origin's earlier service workers are unregistered before a document is
released when the navigation gives the origin its first live WAICT state or a new manifest
URL (``effective_header.forgets_service_workers``; the extension only applies it)."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.browser import effective_header
from verifier.ratchet import OriginState

NOW = 1_800_000_000
M1 = "https://a.example/waict-manifest.json"
M2 = "https://a.example/v2/waict-manifest.json"


def state(manifest: str = M1, expiry: int = NOW + 3600) -> OriginState:
    return OriginState(mode="enforce", manifest=manifest, endpoints=(), expiry=expiry)


def stored(s: OriginState | None) -> dict[str, Any]:
    return {"origin_state": effective_header.state_to_json(s)}


@pytest.mark.parametrize(
    ("before", "after", "forget"),
    [
        (None, state(), True),  # the origin's first WAICT header
        (state(expiry=NOW - 1), state(), True),  # the stored state had expired
        (state(expiry=NOW), state(), True),  # expires exactly now: not live
        (state(M1), state(M2), True),  # a new manifest URL
        (state(M1), state(M1), False),  # the same live state, renewed
        (state(M1), None, False),  # no state after (nothing to protect)
        (None, None, False),  # not a WAICT origin
    ],
)
def test_when_earlier_service_workers_are_forgotten(
    before: OriginState | None, after: OriginState | None, forget: bool
) -> None:
    assert effective_header.forgets_service_workers(stored(before), after, NOW) is forget


def test_a_damaged_stored_state_counts_as_none() -> None:
    # fail closed: a stored state Python cannot read never spares a service worker
    damaged = {"origin_state": {"mode": "enforce"}}
    assert effective_header.forgets_service_workers(damaged, state(), NOW) is True
