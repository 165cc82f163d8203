"""What JavaScript may decide alone while Python is not ready: nothing known about an origin.

After the extension's service worker was stopped (Chromium stops it when idle), Python
needs about a second to come back. Ordinary web pages (no WAICT header, never enrolled,
not preloaded) should not wait for it. The claim this module backs:

    For a document response with no ``Integrity-Policy-WAICT-v1`` header, no stored origin
    state for its origin, and a host that no entry of the preload list names (whatever the
    entry's flags, whether the list verifies or is fresh), :func:`navigation.plan` answers
    ``gated: false``.

Why it holds: ``gated`` is ``eff.policy is not None or preloaded``. With no header and no
stored state, :func:`effective_header.effective` has no policy. ``preloaded`` needs
``PreloadList.lookup(host)`` to find an entry, and every list Python would use is a subset
of the entries :func:`facts` returns (it parses the same line the same way, without the
signature, freshness and transparency-flag conditions that can only remove entries).

So JavaScript gets :func:`facts` (from Python, once per preload list, cached by the list's
digest) and checks only membership: the rule itself stays here. The extension's
``sw/fast_path.js`` uses it only for host names that are plain lower-case ASCII DNS names
(where ``URL.hostname`` equals :func:`verifier.urls.tree_host`: tested against both), and
defers to Python for anything else. ``tests/unit/test_fast_path.py`` runs that JavaScript
in Node against :func:`navigation.plan` on generated inputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from verifier import header
from verifier.browser import fields
from verifier.errors import WaictError
from verifier.manifest import split_response
from verifier.preload import parse_preload_list

#: the only response header :func:`navigation.plan` reads (lower case)
HEADER_NAME = header.HEADER_NAME.lower()


def facts(obj: dict[str, Any]) -> dict[str, Any]:
    """``{"preload": b64|null}`` → ``{"header_name", "preload_sha256": hex|null,
    "preload_hosts": [host, ...]|null}``. ``preload_hosts`` is every host the list names
    (sorted), ``[]`` without a list, and null when the list cannot be parsed (then
    JavaScript must not decide alone: Python's view of such a list is not modelled here)."""
    body = fields.bytes_or_none(obj, "preload")
    if body is None:
        return {"header_name": HEADER_NAME, "preload_sha256": None, "preload_hosts": []}
    digest = hashlib.sha256(body).hexdigest()
    try:
        line, _proof = split_response(body)
        hosts: list[str] | None = sorted(parse_preload_list(line).entries)
    except WaictError:
        hosts = None
    return {"header_name": HEADER_NAME, "preload_sha256": digest, "preload_hosts": hosts}
