"""The per-fetch integrity check (integrity spec, "Integrity Check").

Destinations:
- active: document, frame, iframe, script, style, worker, sharedworker, serviceworker,
  audioworklet, paintworklet, xslt, object: the URL must be in ``hashes`` (or every part
  of a delimited bundle in ``wildcard_hashes``);
- passive: image, font, audio, video, json: checked only when the URL is listed;
- ``wasm``: bytes handed to WebAssembly compilation, checked against ``wasm_hashes``;
- anything else ("", fetch, manifest, track, report, embed, ...) is not covered.

When the manifest covers inline code (an inline list is present), code from ``blob:`` and
``data:`` URLs (scripts, module imports, workers, worklets) is blocked whatever its bytes,
with reason ``missing_from_manifest`` (such URLs can never be manifest keys).

Under a v1 header exactly the ``blocked-destinations`` are covered, each like an active one,
and a body whose hash is in the v1 manifest's ``any_hashes`` passes at any URL.
"""

from __future__ import annotations

from verifier import urls
from verifier.crypto import sha256
from verifier.errors import WaictError
from verifier.manifest import Manifest

ACTIVE = frozenset(
    (
        "document",
        "frame",
        "iframe",
        "script",
        "style",
        "worker",
        "sharedworker",
        "serviceworker",
        "audioworklet",
        "paintworklet",
        "xslt",
        "object",
    )
)
PASSIVE = frozenset(("image", "font", "audio", "video", "json"))
#: Destinations whose response runs as script (module imports are ``script`` too).
SCRIPT_DESTINATIONS = frozenset(
    ("script", "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet")
)
WASM = "wasm"

# Spec reasons
MISSING_FROM_MANIFEST = "missing_from_manifest"
NO_MANIFEST_MATCH = "no_manifest_match"
WASM_HASH_MISMATCH = "wasm_hash_mismatch"


def is_covered(destination: str, blocked_destinations: tuple[str, ...] | None = None) -> bool:
    """Whether a fetch of this destination is subject to WAICT at all."""
    if blocked_destinations is not None:
        return destination in blocked_destinations
    return destination in ACTIVE or destination in PASSIVE or destination == WASM


class BodyNeeded(WaictError):
    """The digest alone cannot decide: the manifest's delimited bundles need the bytes."""


def check_fetch(
    manifest: Manifest,
    url: str,
    destination: str,
    body: bytes,
    blocked_destinations: tuple[str, ...] | None = None,
) -> str | None:
    """The spec reason a covered fetch fails, or None when it passes (or is not covered).

    ``url`` is the URL the fetch was made for, before any redirect; ``body`` the bytes
    finally delivered (design.md 5)."""
    return check_fetch_digest(manifest, url, destination, None, blocked_destinations, body)


def check_fetch_digest(
    manifest: Manifest,
    url: str,
    destination: str,
    digest: bytes | None,
    blocked_destinations: tuple[str, ...] | None = None,
    body: bytes | None = None,
) -> str | None:
    """:func:`check_fetch` from the body's SHA-256 ``digest`` (computed by the caller).

    The one rule for both: ``check_fetch`` is this with ``digest = sha256(body)``. When
    ``body`` is None and only the bytes could decide (the URL is not listed and the manifest
    has delimited ``wildcard_hashes``), raises :class:`BodyNeeded`.
    """
    if manifest.tombstone:
        return None
    if manifest.covers_inline and destination in SCRIPT_DESTINATIONS and urls.is_blob_or_data(url):
        # design.md 3.2: with inline code covered (so eval is blocked), code from blob: and
        # data: URLs is eval under another name: blocked whatever its bytes
        return MISSING_FROM_MANIFEST
    if not is_covered(destination, blocked_destinations):
        return None
    if digest is None:
        if body is None:
            raise ValueError("check_fetch_digest needs a digest or a body")
        digest = sha256(body)
    if destination == WASM and blocked_destinations is None:
        return None if digest in manifest.wasm_hashes else WASM_HASH_MISMATCH
    try:
        key: str | None = urls.canonicalize(url)
    except WaictError:
        key = None  # a URL we cannot canonicalize is not in the manifest
    path_hash = manifest.hashes.get(key) if key is not None else None
    if digest in manifest.any_hashes:  # v1: accepted at any URL of a covered destination
        return None
    passive = blocked_destinations is None and destination in PASSIVE
    if passive and path_hash is None:
        return None
    if destination == "document" and digest in manifest.fallback_hashes:
        return None
    if path_hash is not None:
        return None if path_hash == digest else NO_MANIFEST_MATCH
    if manifest.wildcard_hashes and manifest.resource_delimiter:
        if body is None:
            raise BodyNeeded("the manifest's delimited bundles are checked on the bytes")
        parts = body.split(manifest.resource_delimiter)
        if all(sha256(p) in manifest.wildcard_hashes for p in parts):
            return None
        return NO_MANIFEST_MATCH
    return MISSING_FROM_MANIFEST
