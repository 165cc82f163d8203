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

#: The largest manifest response the extension reads (bytes).
MAX_MANIFEST_BYTES = 4 << 20
#: The overall deadline of a manifest fetch, headers and body (milliseconds).
MANIFEST_DEADLINE_MS = 10_000
#: The most entries (``hashes`` keys plus the hash lists' items) Python judges.
MAX_MANIFEST_ENTRIES = 50_000
