"""The Content-Security-Policy that holds inline code to the manifest's inline lists.

Only when the manifest carries ``inline_js_hashes`` or ``inline_css_hashes``: then inline
code whose hash is not listed is blocked, and so are ``eval`` and ``new Function`` (no
``'unsafe-eval'``). External resources stay governed by the per-fetch check, so the
directives keep allowing any source (``*``, ``blob:``, ``data:``) and add only hashes.
"""

from __future__ import annotations

import base64

from verifier.manifest import Manifest


def _sources(hashes: frozenset[bytes]) -> str:
    return " ".join(f"'sha256-{base64.b64encode(h).decode()}'" for h in sorted(hashes))


def inline_csp(manifest: Manifest) -> str | None:
    """The CSP header value to add for this manifest, or None when inline code is not covered."""
    if manifest.tombstone or not manifest.covers_inline:
        return None
    directives: list[str] = []
    if manifest.inline_js_hashes is not None:
        hashes = _sources(manifest.inline_js_hashes)
        directives.append(f"script-src * blob: data: 'wasm-unsafe-eval' {hashes}".rstrip())
    if manifest.inline_css_hashes is not None:
        hashes = _sources(manifest.inline_css_hashes)
        directives.append(f"style-src * blob: data: {hashes}".rstrip())
    return "; ".join(directives)
