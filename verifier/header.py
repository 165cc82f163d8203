"""The ``Integrity-Policy-WAICT-v1`` response header.

An RFC 9651 dictionary, parsed with ``http_sf`` (a real structured-field parser).

Required: ``max-age`` (integer >= 0), ``mode`` (token ``enforce`` | ``report``),
``manifest`` (string URL; a relative one is resolved against the URL of the response that
carries the header, like any URL in an HTTP header: :func:`resolve_manifest_url`, the one
place that rule lives). A missing or invalid required
key voids the whole header. Optional: ``preload`` (boolean), ``endpoints`` (inner list of
endpoint names, tokens or strings). Unknown keys are ignored.

Compatibility with the v1 header that deployed demos send: ``blocked-destinations=(...)``
(inner list of tokens). Such a header is "v1": exactly the listed destinations are covered,
each like an active destination, and the manifest body is one JSON object without a proof
line. A ``blocked-destinations`` that is not an inner list of tokens voids the header, since
it decides the manifest format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import http_sf

from verifier import urls
from verifier.errors import HeaderError, ManifestError

HEADER_NAME = "Integrity-Policy-WAICT-v1"
MODES = ("enforce", "report")


@dataclass(frozen=True)
class Policy:
    max_age: int
    mode: str
    manifest: str
    preload: bool = False
    endpoints: tuple[str, ...] = ()
    blocked_destinations: tuple[str, ...] | None = None  # set only for the v1 form

    @property
    def is_v1(self) -> bool:
        return self.blocked_destinations is not None

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"


def _bare(member: Any) -> Any:
    """The bare value of a dictionary member (http_sf returns (value, params) tuples)."""
    if isinstance(member, tuple) and len(member) == 2 and isinstance(member[1], dict):
        return member[0]
    return member


def _names(value: Any, key: str, *, allow_strings: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise HeaderError(f"header key {key!r} must be an inner list")
    out: list[str] = []
    for item in value:
        bare = _bare(item)
        if isinstance(bare, http_sf.Token) or (allow_strings and isinstance(bare, str)):
            out.append(str(bare))
        else:
            raise HeaderError(f"header key {key!r} must list tokens")
    return tuple(out)


def parse_policy(value: str) -> Policy:
    """Parse the header value; raises :class:`HeaderError` when it must be ignored."""
    if not isinstance(value, str):
        raise HeaderError("header value must be a string")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise HeaderError("header value is not ASCII") from None
    try:
        parsed = http_sf.parse(raw, tltype="dictionary")
    except Exception as exc:  # http_sf raises ValueError subclasses; be total anyway
        raise HeaderError(f"header is not a structured-field dictionary: {exc}") from None
    if not isinstance(parsed, dict):
        raise HeaderError("header is not a structured-field dictionary")
    members = {k: _bare(v) for k, v in parsed.items()}

    max_age = members.get("max-age")
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise HeaderError("header needs max-age, an integer >= 0")
    mode = members.get("mode")
    if not isinstance(mode, http_sf.Token) or str(mode) not in MODES:
        raise HeaderError("header needs mode, the token enforce or report")
    manifest = members.get("manifest")
    if not isinstance(manifest, str) or isinstance(manifest, http_sf.Token) or not manifest:
        raise HeaderError("header needs manifest, a non-empty string")

    preload = members.get("preload", False)
    if not isinstance(preload, bool):
        preload = False  # an invalid optional key is ignored
    endpoints: tuple[str, ...] = ()
    if "endpoints" in members:
        try:
            endpoints = _names(members["endpoints"], "endpoints", allow_strings=True)
        except HeaderError:
            endpoints = ()
    blocked: tuple[str, ...] | None = None
    if "blocked-destinations" in members:
        blocked = _names(
            members["blocked-destinations"], "blocked-destinations", allow_strings=False
        )
    return Policy(max_age, str(mode), manifest, preload, endpoints, blocked)


def resolve_manifest_url(manifest: str, response_url: str) -> str | None:
    """The absolute manifest URL (design.md 3.1): the header's ``manifest`` value resolved
    against ``response_url``, the URL of the response that carries the header (after any
    redirect, not the URL first requested nor the site root), WHATWG-serialized without a
    fragment. None when it does not resolve to an http(s) URL we can serialize exactly: the
    manifest is then unavailable (fail closed), never fetched from a guessed URL.

    Every caller uses this function: ``waict verify`` and the extension's
    ``plan_navigation``."""
    try:
        return urls.serialize(manifest, response_url)
    except ManifestError:
        return None
