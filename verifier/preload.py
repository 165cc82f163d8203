"""The preload list: hosts that must always be served with transparency.

Document (one JSON line)::

    {"version": 1, "issued": T, "expires": T,
     "entries": {"bank.example": {"transparency": true, "dev-ids": false}, ...}}

It is published as a logged resource of the vendor's own domain (``trust.preload_domain``)
and delivered like a manifest response (JSON line + proof line); it is verified with the
same transparency code. A list that fails verification is not used. A stale list (now past
``expires``, or more than 30 days after ``issued``) is not enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.errors import PreloadError, WaictError
from verifier.manifest import load_json_object, split_response
from verifier.transparency import verify_logged
from verifier.trust import TrustConfig
from verifier.urls import normalize_host

MAX_AGE_AFTER_ISSUE = 30 * 24 * 3600


@dataclass(frozen=True)
class PreloadEntry:
    transparency: bool
    dev_ids: bool


@dataclass(frozen=True)
class PreloadList:
    version: int
    issued: int
    expires: int
    entries: dict[str, PreloadEntry]

    def stale(self, now: int) -> bool:
        return now > self.expires or now > self.issued + MAX_AGE_AFTER_ISSUE

    def lookup(self, host: str) -> PreloadEntry | None:
        entry = self.entries.get(host)
        return entry if entry is not None and entry.transparency else None


def _int(obj: dict[str, object], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PreloadError(f"preload list: {key} must be a non-negative integer")
    return value


def parse_preload_list(line: bytes) -> PreloadList:
    try:
        obj = load_json_object(line.decode("utf-8"), "preload list")
    except (UnicodeDecodeError, WaictError) as exc:
        raise PreloadError(f"preload list: {exc}") from None
    if obj.get("version") != 1 or isinstance(obj.get("version"), bool):
        raise PreloadError("preload list: only version 1 is understood")
    entries_raw = obj.get("entries")
    if not isinstance(entries_raw, dict):
        raise PreloadError("preload list: entries must be an object")
    entries: dict[str, PreloadEntry] = {}
    for host, value in entries_raw.items():
        if not isinstance(value, dict):
            raise PreloadError(f"preload list: entry {host[:60]!r} must be an object")
        t, d = value.get("transparency", False), value.get("dev-ids", False)
        if not isinstance(t, bool) or not isinstance(d, bool):
            raise PreloadError(f"preload list: entry {host[:60]!r} flags must be booleans")
        try:
            name = normalize_host(host)
        except WaictError:
            raise PreloadError(f"preload list: {host[:60]!r} is not a host name") from None
        entries[name] = PreloadEntry(t, d)
    return PreloadList(1, _int(obj, "issued"), _int(obj, "expires"), entries)


def verify_preload_response(body: bytes, trust: TrustConfig, now: int) -> PreloadList:
    """Parse and verify a preload response; raises a :class:`WaictError` when unusable."""
    if trust.preload_domain is None:
        raise PreloadError("no preload_domain is configured in the trust settings")
    line, proof = split_response(body)
    plist = parse_preload_list(line)
    verify_logged(host=trust.preload_domain, line=line, proof_text=proof, trust=trust, now=now)
    return plist


def usable_preload_list(body: bytes | None, trust: TrustConfig, now: int) -> PreloadList | None:
    """The preload list to enforce, or None (absent, unverifiable, or stale)."""
    if body is None:
        return None
    try:
        plist = verify_preload_response(body, trust, now)
    except WaictError:
        return None
    return None if plist.stale(now) else plist
