"""How much work one manifest may cost the extension: bytes, time, entries.

The service worker reads a manifest response incrementally and stops at
:data:`MAX_MANIFEST_BYTES`, or at :data:`MANIFEST_DEADLINE_MS` after the fetch started
(one overall deadline: a server that drips a byte at a time cannot extend it);
:func:`verifier.browser.navigation.plan` hands both to the worker. Python refuses to judge
a manifest with more than :data:`MAX_MANIFEST_ENTRIES` entries before it canonicalizes or
decodes any of them. Every Python call runs in one queue shared by all tabs, so these
bounds also bound how long one site's manifest can hold up the other tabs' checks.
See docs/decisions.md ("Manifest bounds").
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from verifier.decide import (
    INVALID_MANIFEST,
    MANIFEST_UNAVAILABLE,
    ManifestVerdict,
    evaluate_manifest,
)
from verifier.errors import WaictError
from verifier.manifest import HASH_LISTS
from verifier.preload import PreloadList
from verifier.trust import TrustConfig

#: The largest manifest response the extension reads (bytes).
MAX_MANIFEST_BYTES = 4 << 20
#: The overall deadline of a manifest fetch, headers and body (milliseconds).
MANIFEST_DEADLINE_MS = 10_000
#: The most entries (``hashes`` keys plus the hash lists' items) Python judges.
MAX_MANIFEST_ENTRIES = 50_000
#: What the service worker says when it stopped reading (``manifest_error``): the
#: detail code and the message of the verdict (reason ``manifest_unavailable``).
FETCH_FAILURES: dict[str, tuple[str, str]] = {
    "too_large": (
        "manifest_too_large",
        f"the manifest response is larger than {MAX_MANIFEST_BYTES} bytes; it was not read further",
    ),
    "timeout": (
        "manifest_timeout",
        f"the manifest response did not arrive within {MANIFEST_DEADLINE_MS} ms",
    ),
}


class ManifestBoundError(WaictError):
    """A manifest response is more than the extension judges (:func:`check_manifest`)."""

    detail = "manifest_too_large"


def check_manifest(body: bytes, *, v1: bool) -> None:
    """Raise :class:`ManifestBoundError` when ``body`` is over the bounds, before anything
    of it is canonicalized, decoded or verified (one JSON parse, bounded by the size)."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestBoundError(
            f"the manifest response is {len(body)} bytes; at most {MAX_MANIFEST_BYTES} are judged",
            detail="manifest_too_large",
        )
    line = body if v1 else body.split(b"\n", 1)[0]
    try:
        members = json.loads(line)
    except (ValueError, RecursionError):
        return  # not JSON: the manifest parser says why
    if not isinstance(members, dict):
        return
    count = 0
    hashes = members.get("hashes")
    if isinstance(hashes, dict):
        count += len(hashes)
    for name in HASH_LISTS:
        items = members.get(name)
        if isinstance(items, list):
            count += len(items)
    if count > MAX_MANIFEST_ENTRIES:
        raise ManifestBoundError(
            f"the manifest has {count} entries; at most {MAX_MANIFEST_ENTRIES} are judged",
            detail="manifest_too_many_entries",
        )


def evaluate_bounded(
    *,
    url: str,
    header: str | None,
    manifest_response: bytes | None,
    manifest_error: str | None,
    trust: TrustConfig,
    now: int,
    preload_list: PreloadList | None,
) -> ManifestVerdict:
    """:func:`verifier.decide.evaluate_manifest`, within the bounds.

    A manifest the service worker stopped reading (``manifest_error``, a key of
    :data:`FETCH_FAILURES`) is unavailable with that detail; one over the bounds
    (:func:`check_manifest`) is unavailable (too large) or invalid (too many entries).
    Either way only when the navigation needs a manifest at all: the verdict without one
    (no header, a preloaded host without a header, ...) is kept as it is.
    """
    if manifest_error is not None and manifest_error not in FETCH_FAILURES:
        raise ValueError(f"manifest_error must be one of {sorted(FETCH_FAILURES)} or null")
    kw: dict[str, Any] = {"url": url, "header": header, "trust": trust, "now": now}
    kw["preload_list"] = preload_list
    if manifest_response is not None and manifest_error is None and len(manifest_response) < 4096:
        return evaluate_manifest(manifest_response=manifest_response, **kw)  # small: no check
    without = evaluate_manifest(manifest_response=None, **kw)
    if without.reason != MANIFEST_UNAVAILABLE or without.policy is None:
        return without
    if manifest_error is not None:
        detail, message = FETCH_FAILURES[manifest_error]
        return replace(without, detail=detail, message=message)
    if manifest_response is None:
        return without
    try:
        check_manifest(manifest_response, v1=without.policy.is_v1)
    except ManifestBoundError as exc:
        reason = MANIFEST_UNAVAILABLE if exc.detail == "manifest_too_large" else INVALID_MANIFEST
        return replace(without, reason=reason, detail=exc.detail, message=str(exc))
    return evaluate_manifest(manifest_response=manifest_response, **kw)
