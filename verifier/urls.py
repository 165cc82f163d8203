"""URLs: canonical manifest keys, origins and tree hosts.

The integrity spec defines a manifest key as canonical when the WHATWG URL serialization
(fragment excluded) of the key, parsed against the top-level origin, equals the key. We
implement the subset a static site produces, in pure Python:

- scheme ``http`` or ``https`` (lower case), an ASCII host (lower case; IDNs must be given
  in punycode), no userinfo, no default port (``:443`` / ``:80`` are dropped), a path that
  starts with ``/`` and has no ``.``/``..`` segments, optional query, no fragment.

Anything outside that subset is not canonical (the manifest is invalid): failing closed is
the safe direction for a security check. Documented in docs/decisions.md.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urljoin, urlsplit

from verifier.errors import ManifestError

_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form of ``url`` (relative URLs resolved against ``base``), fragment removed.

    Raises :class:`ManifestError` when the URL is outside the supported subset.
    """
    if not isinstance(url, str) or not url or any(c in url for c in " \t\r\n\\"):
        raise ManifestError(f"not a usable URL: {str(url)[:100]!r}", detail="invalid_url")
    try:
        if base is not None:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ManifestError(f"not a usable URL: {url[:100]!r}", detail="invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ManifestError(
            f"URL scheme must be http or https: {url[:100]!r}", detail="invalid_url"
        )
    if parts.username is not None or parts.password is not None:
        raise ManifestError(f"URL must not carry credentials: {url[:100]!r}", detail="invalid_url")
    host = normalize_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path or "/"
    if not path.startswith("/"):
        raise ManifestError(f"URL path must be absolute: {url[:100]!r}", detail="invalid_url")
    segments = path.split("/")
    if any(s in (".", "..") or s.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.") for s in segments):
        raise ManifestError(f"URL path has dot segments: {url[:100]!r}", detail="invalid_url")
    query = f"?{parts.query}" if parts.query or url.split("#")[0].endswith("?") else ""
    return f"{scheme}://{netloc}{path}{query}"


def is_canonical(url: str) -> bool:
    try:
        return canonicalize(url) == url
    except ManifestError:
        return False


def normalize_host(host: str) -> str:
    """Lower-case ASCII host name, no trailing dot, IDNs as punycode (``xn--``); IPv6
    literals in their compressed form (without brackets)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.strip("[]")).compressed
        except ValueError:
            raise ManifestError(
                f"host {host[:100]!r} is not a valid name", detail="invalid_url"
            ) from None
    host = host.rstrip(".") if host.endswith(".") and host != "." else host
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ManifestError(
                f"host {host[:100]!r} is not a valid name", detail="invalid_url"
            ) from None
    host = host.lower()
    if not host or not (_HOST_RE.match(host) or _IPV4_RE.match(host)):
        raise ManifestError(f"host {host[:100]!r} is not a valid name", detail="invalid_url")
    return host


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) URL."""
    canon = canonicalize(url)
    scheme, rest = canon.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def tree_host(url: str) -> str:
    """The host a site is enrolled under: lower-case, punycode, no port, no trailing dot."""
    canon = canonicalize(url)
    netloc = canon.split("://", 1)[1].split("/", 1)[0]
    if netloc.startswith("["):
        return netloc[1 : netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def scheme_of(url: str) -> str | None:
    """The URL's scheme, lower case, as a WHATWG parser reads it (leading and trailing C0
    controls and spaces stripped, tabs and newlines removed), or None if it has none."""
    text = url.strip("".join(chr(c) for c in range(0x21)))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME_RE.match(text)
    return match.group(1).lower() if match else None


def is_blob_or_data(url: str) -> bool:
    """A ``blob:`` or ``data:`` URL: code from it is ``eval`` under another name."""
    return scheme_of(url) in ("blob", "data")
