"""The Content-Security-Policy that holds inline code to the manifest's inline lists.

Only when the manifest carries ``inline_js_hashes`` or ``inline_css_hashes``: then inline
code whose hash is not listed is blocked, and so are ``eval`` and ``new Function`` (no
``'unsafe-eval'``), and code from ``blob:`` and ``data:`` URLs (design.md 3.2: it is eval
under another name): ``script-src`` and ``worker-src`` list ``*`` (which matches only
network schemes) and never ``blob:`` or ``data:``. External resources stay governed by the
per-fetch check, so the directives otherwise allow any network source and add only hashes.
With only ``inline_css_hashes``, ``script-src`` keeps ``'unsafe-inline'`` (no JS list to
hold inline scripts to) but still blocks eval, blob: and data: code. ``style-src`` keeps
``blob:``/``data:``: a stylesheet is not script.
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
        directives.append(f"script-src * 'wasm-unsafe-eval' {hashes}".rstrip())
    else:
        directives.append("script-src * 'unsafe-inline' 'wasm-unsafe-eval'")
    directives.append("worker-src *")
    if manifest.inline_css_hashes is not None:
        hashes = _sources(manifest.inline_css_hashes)
        directives.append(f"style-src * blob: data: {hashes}".rstrip())
    return "; ".join(directives)
