"""The verdict cache: judged manifests, and verified preload lists, kept between calls.

The only state of :mod:`verifier.browser`. A navigation's manifest is verified once, by
``judge_navigation``; its resources are then checked (``check_resource``) and shown to
plugins (``manifest_view``) against that same verdict, named by its ``key``, without
verifying the manifest again. Two named objects hold it, both module-level (one per
Python runtime: in the extension, one per service-worker lifetime; a restarted service
worker starts empty, and the caller judges again from its stored inputs when a key is
unknown):

- :data:`VERDICTS` (:class:`VerdictCache`): key -> :class:`Judged` (the manifest verdict,
  the ``now`` it was judged at, the document's origin, the size of its manifest). The key
  is :func:`cache_key` of
  everything the verdict depends on except the clock: the origin, the effective
  ``Integrity-Policy-WAICT-v1`` header (after the ratchet), the SHA-256 of the manifest
  response, the trust settings, the preload list's issued/expires/hosts; a verdict that
  plugins approved or vetoed gets its own key, over that key and their answers. At most
  :data:`CACHE_SIZE` entries whose manifests hold at most :data:`CACHE_BYTES` bytes
  together (a large manifest costs several times its size in memory), least recently
  judged first out; the newest entry is always kept. ``judge_navigation``
  reuses an entry for :data:`VERDICT_TTL` seconds of the caller's clock; a resource
  check or a plugin's view uses an entry of any age while it is kept.
- :data:`PRELOADS` (:class:`PreloadCache`): the preload list decoded and verified (or
  found unusable: ``None``) from a preload response body under given trust settings,
  keyed by the SHA-256 of the body and the canonical JSON of the trust settings, reused
  for :data:`PRELOAD_TTL` seconds. One entry per distinct (body, trust settings) pair,
  not bounded by a count: those change only when the options are changed.

:func:`clear_cache` empties both (tests; a changed trust setting).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from verifier.crypto import sha256
from verifier.decide import ManifestVerdict
from verifier.encoding import b64encode, b64uencode
from verifier.preload import PreloadList, usable_preload_list
from verifier.trust import TrustConfig

#: How long a judged manifest verdict is reused (seconds of the caller's clock). A verdict
#: depends on ``now`` only through cosignature freshness, tombstone and dev-ids cooldowns,
#: all measured in hours or days, so reusing one for a minute changes nothing that matters.
VERDICT_TTL = 60
#: How many judged verdicts are kept (least recently used first out).
CACHE_SIZE = 128
#: How many manifest bytes the kept verdicts may hold together (least recently used first
#: out; the newest is always kept).
CACHE_BYTES = 24 << 20
#: How long a verified preload list is reused before it is verified again.
PRELOAD_TTL = 300


@dataclass
class Judged:
    """A judged manifest verdict, the ``now`` it was judged at, the document's origin."""

    verdict: ManifestVerdict
    now: int
    origin: str

    @property
    def size(self) -> int:
        """The bytes of its manifest (what it costs in memory, roughly in proportion)."""
        manifest = self.verdict.manifest
        return len(manifest.line) if manifest is not None else 0


def cache_key(parts: list[Any]) -> str:
    """The key of a verdict: base64url SHA-256 of the canonical JSON of ``parts``."""
    return b64uencode(sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()))


class VerdictCache:
    """Judged verdicts by key, least recently judged first out (see the module doc)."""

    def __init__(
        self, size: int = CACHE_SIZE, ttl: int = VERDICT_TTL, max_bytes: int = CACHE_BYTES
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._judged: OrderedDict[str, Judged] = OrderedDict()
        self._bytes = 0

    def get(self, key: object) -> Judged | None:
        """The verdict named by ``key``, of any age (None: unknown or no longer kept)."""
        return self._judged.get(key) if isinstance(key, str) else None

    def fresh(self, key: str, now: int) -> ManifestVerdict | None:
        """The verdict under ``key`` if judged less than :attr:`ttl` seconds before ``now``
        (it becomes the most recently used), else None."""
        cached = self._judged.get(key)
        if cached is not None and 0 <= now - cached.now < self.ttl:
            self._judged.move_to_end(key)
            return cached.verdict
        return None

    def remember(self, key: str, judged: Judged) -> None:
        """Keep ``judged`` under ``key`` (most recently used), dropping the oldest beyond
        :attr:`size` entries or :attr:`max_bytes` manifest bytes."""
        old = self._judged.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._judged[key] = judged
        self._bytes += judged.size
        while len(self._judged) > 1 and (
            len(self._judged) > self.size or self._bytes > self.max_bytes
        ):
            _key, dropped = self._judged.popitem(last=False)
            self._bytes -= dropped.size

    @property
    def bytes(self) -> int:
        """The manifest bytes of the kept verdicts."""
        return self._bytes

    def __contains__(self, key: object) -> bool:
        return key in self._judged

    def __len__(self) -> int:
        return len(self._judged)

    def clear(self) -> None:
        self._judged.clear()
        self._bytes = 0


class PreloadCache:
    """Usable preload lists by (body, trust settings), each reused for :attr:`ttl` seconds."""

    def __init__(self, ttl: int = PRELOAD_TTL) -> None:
        self.ttl = ttl
        self._lists: dict[str, tuple[int, PreloadList | None]] = {}

    def usable(self, body: bytes, trust: TrustConfig, now: int) -> PreloadList | None:
        """:func:`verifier.preload.usable_preload_list` of ``body``, verified at most once
        per :attr:`ttl` seconds for the same body and trust settings."""
        key = b64encode(sha256(body + json.dumps(trust.to_json(), sort_keys=True).encode()))
        cached = self._lists.get(key)
        if cached is not None and 0 <= now - cached[0] < self.ttl:
            return cached[1]
        plist = usable_preload_list(body, trust, now)
        self._lists[key] = (now, plist)
        return plist

    def __len__(self) -> int:
        return len(self._lists)

    def clear(self) -> None:
        self._lists.clear()


#: The judged verdicts of this runtime.
VERDICTS = VerdictCache()
#: The verified preload lists of this runtime.
PRELOADS = PreloadCache()


def clear_cache() -> None:
    """Forget every judged verdict and preload list (tests; a changed trust setting)."""
    VERDICTS.clear()
    PRELOADS.clear()


def has_verdict(key: str) -> bool:
    """Whether a verdict is kept under ``key``."""
    return key in VERDICTS
