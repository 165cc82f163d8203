"""The ``Integrity-Policy-WAICT-v1`` header a published site serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import http_sf

from verifier.errors import WaictError
from verifier.header import parse_policy
from waict.common.errors import SiteToolError

MODES = ("enforce", "report")


def build_header(
    *,
    max_age: int,
    mode: str,
    manifest_url: str,
    preload: bool = False,
    endpoints: Sequence[str] = (),
    blocked_destinations: Sequence[str] | None = None,
) -> str:
    """The Integrity-Policy-WAICT-v1 value, serialized by http_sf and re-parsed as a check."""
    if mode not in MODES:
        raise SiteToolError(f"mode must be enforce or report, not {mode!r}")
    if max_age < 0:
        raise SiteToolError("max-age must be >= 0")
    members: dict[str, Any] = {
        "max-age": max_age,
        "mode": http_sf.Token(mode),
        "manifest": manifest_url,
    }
    if preload:
        members["preload"] = True
    if endpoints:
        members["endpoints"] = [http_sf.Token(e) for e in endpoints]
    if blocked_destinations is not None:
        members["blocked-destinations"] = [http_sf.Token(d) for d in blocked_destinations]
    try:
        value = str(http_sf.ser(members))
        parse_policy(value)
    except (ValueError, WaictError) as exc:
        raise SiteToolError(f"cannot build the header: {exc}") from None
    return value
