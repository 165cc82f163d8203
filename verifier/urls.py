"""URLs: the WHATWG URL serialization of http(s) URLs, origins and tree hosts.

Canonical URLs are the WHATWG URL serialization, fragment excluded (design.md 3.2): what a
browser's ``URL`` gives. :func:`serialize` is the WHATWG "basic URL parser" followed by the
URL serializer, for the special schemes ``http`` and ``https`` only, in pure Python:

- leading/trailing C0 controls and spaces stripped, tabs and newlines removed anywhere;
- ``\\`` is a ``/``; any number of slashes after ``scheme:``; ``.``/``..`` segments (also
  ``%2e`` forms) resolved; relative references resolved against an http(s) base;
- userinfo, path and query percent-encoded as UTF-8 with the WHATWG percent-encode sets
  (userinfo, path, special-query); existing ``%XX`` escapes kept as they are;
- host: percent-decoded, then domain-to-ASCII (lower case; IDNs as punycode), IPv4 in all
  its WHATWG spellings (``0x7f.1``, ``017``, ``2130706433``), IPv6 compressed;
- the default port dropped, an empty query (``?``) kept, the fragment dropped.

Two typed errors, both :class:`~verifier.errors.ManifestError`:

- :class:`InvalidURL` (detail ``invalid_url``) where a browser's parser fails too;
- :class:`UnsupportedURL` (detail ``unsupported_url``) where we fail closed on a URL a
  browser may accept, because we cannot serialize it exactly like a browser: a scheme other
  than http/https, and non-ASCII host labels outside a conservative subset of UTS #46 (see
  :func:`domain_to_ascii`). Documented (with counts from the differential test against
  Node's ``URL``) in docs/decisions.md.

A manifest key is canonical when it equals its own serialization (:func:`is_canonical`).
"""

from __future__ import annotations

import re

from verifier.errors import InvalidURL as InvalidURL  # re-exported: urls.InvalidURL
from verifier.errors import ManifestError
from verifier.errors import UnsupportedURL as UnsupportedURL
from verifier.url_host import (
    FORBIDDEN_DOMAIN,
    domain_to_ascii,
    parse_host,
    parse_ipv6,
    serialize_ipv6,
)

SPECIAL_PORTS = {"http": 80, "https": 443}


# --- percent-encode sets (WHATWG URL 1.3) ----------------------------------------------------

_C0 = frozenset(range(0x20)) | {0x7F}
_QUERY = _C0 | {0x20, 0x22, 0x23, 0x3C, 0x3E}
_SPECIAL_QUERY = _QUERY | {0x27}
_PATH = _QUERY | {0x3F, 0x60, 0x7B, 0x7D}
_USERINFO = _PATH | {0x2F, 0x3A, 0x3B, 0x3D, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x7C}


def _encode(text: str, encode_set: frozenset[int]) -> str:
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp < 0x80 and cp not in encode_set:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


# --- the parser ------------------------------------------------------------------------------


class _URL:
    __slots__ = ("host", "password", "path", "port", "query", "scheme", "username")

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        self.username = ""
        self.password = ""
        self.host = ""
        self.port: int | None = None
        self.path: list[str] = []
        self.query: str | None = None

    def serialize(self) -> str:
        out = self.scheme + "://"
        if self.username or self.password:
            out += self.username + (":" + self.password if self.password else "") + "@"
        out += self.host
        if self.port is not None:
            out += f":{self.port}"
        out += "".join("/" + segment for segment in self.path)
        if self.query is not None:
            out += "?" + self.query
        return out


_SCHEME_START_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_STRIP = "".join(chr(c) for c in range(0x21))
_SINGLE_DOT = frozenset((".", "%2e"))
_DOUBLE_DOT = frozenset(("..", ".%2e", "%2e.", "%2e%2e"))


def _preprocess(url: str) -> str:
    url = url.strip(_STRIP)
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    # a JavaScript string reaches the parser as a USVString: lone surrogates become U+FFFD
    return url.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _parse_authority(url: _URL, authority: str) -> None:
    at = authority.rfind("@")
    if at >= 0:
        userinfo, hostport = authority[:at], authority[at + 1 :]
        user, colon, password = userinfo.partition(":")
        url.username = _encode(user, _USERINFO)
        url.password = _encode(password, _USERINFO) if colon else ""
        if not hostport:
            raise InvalidURL("URL has credentials but no host")
    else:
        hostport = authority
    inside = False
    split = -1
    for i, ch in enumerate(hostport):
        if ch == "[":
            inside = True
        elif ch == "]":
            inside = False
        elif ch == ":" and not inside:
            split = i
            break
    host_text, port_text = (
        (hostport, None) if split < 0 else (hostport[:split], hostport[split + 1 :])
    )
    if not host_text:
        raise InvalidURL("URL has no host")
    url.host = parse_host(host_text)
    if port_text:
        if not all(c in "0123456789" for c in port_text):
            raise InvalidURL(f"port {port_text[:20]!r} is not a number")
        port = int(port_text)
        if port > 65535:
            raise InvalidURL(f"port {port} is out of range")
        url.port = None if port == SPECIAL_PORTS[url.scheme] else port


def _parse_path(url: _URL, text: str, *, leading_slash: bool = True) -> None:
    """The path state, from a path after the authority (``leading_slash``: it starts with
    ``/`` or ``\\``, which the path start state consumes) or a relative path appended to the
    base's directory."""
    segments = re.split(r"[/\\]", text)
    if leading_slash:
        segments = segments[1:]
    for i, raw in enumerate(segments):
        last = i == len(segments) - 1
        buffer = _encode(raw, _PATH)
        lowered = buffer.lower()
        if lowered in _DOUBLE_DOT:
            if url.path:
                url.path.pop()
            if last:
                url.path.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                url.path.append("")
        else:
            url.path.append(buffer)


def _split_rest(rest: str) -> tuple[str, str | None]:
    path, sep, query = rest.partition("?")
    return path, (query if sep else None)


def _with_query(url: _URL, query: str | None) -> None:
    url.query = None if query is None else _encode(query, _SPECIAL_QUERY)


def _parse(text: str, base: _URL | None) -> _URL:
    text = _preprocess(text).split("#", 1)[0]
    match = _SCHEME_START_RE.match(text)
    if match:
        scheme = match.group(1).lower()
        if scheme not in SPECIAL_PORTS:
            raise UnsupportedURL(f"URL scheme {scheme[:20]!r}: only http and https are supported")
        rest = text[match.end() :]
        if base is not None and base.scheme == scheme:
            # "special relative or authority state": http:foo against an http base is
            # relative; two slashes (either kind) still start an authority
            return _relative(rest, base)
        return _absolute(_URL(scheme), rest)
    if base is None:
        raise InvalidURL(f"{text[:100]!r} is not an absolute URL")
    return _relative(text, base)


def _absolute(url: _URL, rest: str) -> _URL:
    """From the special authority slashes state: any number of slashes, then authority."""
    rest = rest.lstrip("/\\")
    end = len(rest)
    for i, ch in enumerate(rest):
        if ch in "/\\?":
            end = i
            break
    _parse_authority(url, rest[:end])
    path, query = _split_rest(rest[end:])
    _parse_path(url, path or "/")
    _with_query(url, query)
    return url


def _relative(rest: str, base: _URL) -> _URL:
    url = _URL(base.scheme)
    if rest[:2] in ("//", "\\\\", "/\\", "\\/"):
        return _absolute(url, rest)
    url.username, url.password = base.username, base.password
    url.host, url.port = base.host, base.port
    if rest[:1] in ("/", "\\"):
        path, query = _split_rest(rest)
        _parse_path(url, path)
        _with_query(url, query)
        return url
    url.path = list(base.path)
    if rest == "":
        url.query = base.query
        return url
    if rest.startswith("?"):
        _with_query(url, rest[1:])
        return url
    if url.path:
        url.path.pop()
    path, query = _split_rest(rest)
    _parse_path(url, path, leading_slash=False)
    _with_query(url, query)
    return url


def serialize(url: str, base: str | None = None) -> str:
    """The WHATWG serialization of ``url`` (resolved against ``base``), fragment excluded.

    Raises :class:`InvalidURL` where a browser's parser fails too, :class:`UnsupportedURL`
    where we fail closed (see the module doc).
    """
    if not isinstance(url, str):
        raise InvalidURL(f"not a URL: {type(url).__name__}")
    parsed_base = None if base is None else _parse(base, None)
    return _parse(url, parsed_base).serialize()


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form of ``url`` (relative URLs resolved against ``base``): its WHATWG
    serialization without the fragment. Raises :class:`ManifestError` (InvalidURL /
    UnsupportedURL) when it has none we can compute exactly."""
    return serialize(url, base)


def is_canonical(url: str) -> bool:
    """A manifest key is canonical when it equals its own serialization."""
    try:
        return serialize(url) == url
    except ManifestError:
        return False


_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def normalize_host(host: str) -> str:
    """A DNS host name as the tree and the trust file use it: lower-case ASCII, no trailing
    dot, IDNs as punycode (``xn--``); IPv6 literals compressed, without brackets. Stricter
    than a URL's host: letters, digits and inner hyphens only (fails closed)."""
    bad = InvalidURL(f"host {host[:100]!r} is not a valid name")
    if not isinstance(host, str):
        raise bad
    if ":" in host:
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        return serialize_ipv6(parse_ipv6(inner))
    if host.endswith(".") and host != ".":
        host = host[:-1]
    if not host or any(c in FORBIDDEN_DOMAIN for c in host):
        raise bad
    try:
        name = domain_to_ascii(host)
    except UnsupportedURL:
        raise
    except ManifestError:
        raise bad from None
    if not (_HOST_RE.match(name) or _IPV4_RE.match(name)):
        raise bad
    return name


def origin_of(url: str) -> str:
    """The WHATWG origin ``scheme://host[:port]`` of an absolute http(s) URL."""
    parsed = _parse(url, None)
    port = "" if parsed.port is None else f":{parsed.port}"
    return f"{parsed.scheme}://{parsed.host}{port}"


def tree_host(url: str) -> str:
    """The host a site is enrolled under: lower-case, punycode, no port, no trailing dot."""
    host = _parse(url, None).host
    if host.startswith("["):
        return host[1:-1]
    return normalize_host(host)


def scheme_of(url: str) -> str | None:
    """The URL's scheme, lower case, as a WHATWG parser reads it (leading and trailing C0
    controls and spaces stripped, tabs and newlines removed), or None if it has none."""
    match = _SCHEME_START_RE.match(_preprocess(url))
    return match.group(1).lower() if match else None


def is_blob_or_data(url: str) -> bool:
    """A ``blob:`` or ``data:`` URL: code from it is ``eval`` under another name."""
    return scheme_of(url) in ("blob", "data")
