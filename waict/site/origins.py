"""A site's origin as given on the command line."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from waict.common.errors import SiteToolError


def parse_origin(text: str) -> str:
    """``scheme://host[:port]`` in canonical form (lower case, default port dropped)."""
    from verifier import urls
    from verifier.errors import WaictError

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SiteToolError(
            f"origin {text!r} is not an http(s) origin",
            "give it as https://host or http://host:port, with no path",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SiteToolError(f"origin {text!r} must not have a path, query or fragment")
    try:
        return urls.origin_of(urlunsplit((parts.scheme, parts.netloc, "/", "", "")))
    except WaictError as exc:
        raise SiteToolError(f"origin {text!r}: {exc}") from None
