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
  :func:`_domain_to_ascii`). Documented (with counts from the differential test against
  Node's ``URL``) in docs/decisions.md.

A manifest key is canonical when it equals its own serialization (:func:`is_canonical`).
"""

from __future__ import annotations

import re
import unicodedata

from verifier.errors import ManifestError

SPECIAL_PORTS = {"http": 80, "https": 443}


class InvalidURL(ManifestError):
    """Not a URL: a browser's URL parser fails on it too."""

    detail = "invalid_url"


class UnsupportedURL(ManifestError):
    """Possibly a URL, but not one we can serialize exactly like a browser (fail closed)."""

    detail = "unsupported_url"


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


def _percent_decode(text: str) -> bytes:
    data = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x25 and i + 2 < len(data) and _is_hex(data[i + 1 : i + 3]):
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(b) in "0123456789abcdefABCDEF" for b in pair)


# --- hosts -----------------------------------------------------------------------------------

_FORBIDDEN_HOST = set("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | {chr(c) for c in range(0x20)} | {"%", "\x7f"}
_LABEL_SEPARATORS = ("\u3002", "\uff0e", "\uff61")  # UTS 46 maps these to "."

#: Code point ranges of the conservative UTS 46 subset we serialize ourselves (all assigned
#: long ago, so the answer does not depend on the Python's Unicode version): letters of
#: Latin-1/Latin Extended-A/B, Greek, Cyrillic, Armenian, Georgian, Thai, Hiragana,
#: Katakana, CJK ideographs and Hangul syllables.
_SAFE_RANGES = (
    (0x00C0, 0x024F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x0531, 0x0587),
    (0x10D0, 0x10FA),
    (0x0E01, 0x0E30),
    (0x0E40, 0x0E46),
    (0x3041, 0x3096),
    (0x30A1, 0x30FA),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3),
)
#: UTS 46 deviation characters and others whose mapping differs between IDNA variants.
_UNSURE = frozenset("\u00df\u03c2\u200c\u200d")


def _in_safe_ranges(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _SAFE_RANGES)


def _safe_valid(ch: str) -> bool:
    """A non-ASCII code point that UTS 46 (non-transitional) leaves as it is, in our subset."""
    return (
        _in_safe_ranges(ch)
        and ch not in _UNSURE
        and unicodedata.category(ch) in ("Ll", "Lo")
        and ch.lower() == ch
        and ch.casefold() == ch
        and unicodedata.normalize("NFKC", ch) == ch
    )


def _uts46_map(ch: str) -> str:
    """UTS 46 mapping of one non-ASCII code point, within our subset (else UnsupportedURL)."""
    if _safe_valid(ch):
        return ch
    if ch == "\u00ad":  # soft hyphen: ignored
        return ""
    cp = ord(ch)
    if 0xFF10 <= cp <= 0xFF19 or 0xFF21 <= cp <= 0xFF3A or 0xFF41 <= cp <= 0xFF5A:
        return unicodedata.normalize("NFKC", ch).lower()  # full-width digits and letters
    lower = ch.lower()
    if (
        len(lower) == 1
        and _in_safe_ranges(ch)
        and unicodedata.category(ch) == "Lu"
        and unicodedata.normalize("NFKC", ch) == ch
        and _safe_valid(lower)
    ):
        return lower
    raise UnsupportedURL(
        f"host code point U+{ord(ch):04X} is outside the IDNA subset we serialize exactly"
    )


def _punycode_label(label: str) -> str:
    return "xn--" + label.encode("punycode").decode("ascii")


def _check_ace_label(label: str) -> None:
    """An ``xn--`` label (lower case): must decode to a label we would encode the same way."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, IndexError):
        raise InvalidURL(f"host label {label[:60]!r} is not valid punycode") from None
    if not decoded or all(ord(c) < 0x80 for c in decoded):
        raise UnsupportedURL(f"host label {label[:60]!r} decodes to an ASCII label")
    for ch in decoded:
        if ord(ch) >= 0x80 and not _safe_valid(ch):
            if ch == "\ufffd":
                raise InvalidURL(f"host label {label[:60]!r} decodes to U+FFFD")
            raise UnsupportedURL(f"host label {label[:60]!r} is outside our IDNA subset")
        if "A" <= ch <= "Z":  # UTS 46 would map it: not the form we would produce
            raise UnsupportedURL(f"host label {label[:60]!r} is not in its canonical form")
    if unicodedata.normalize("NFC", decoded) != decoded or _punycode_label(decoded) != label:
        raise UnsupportedURL(f"host label {label[:60]!r} is not in its canonical form")


def _domain_to_ascii(domain: str) -> str:
    """WHATWG domain to ASCII (UTS 46, non-transitional, CheckHyphens false, no DNS length
    check), exact for ASCII domains and for non-ASCII labels made of letters of common LTR
    scripts (:data:`_SAFE_RANGES`, upper case mapped to lower case); anything else in a
    non-ASCII or ``xn--`` label fails closed (:class:`UnsupportedURL`). U+FFFD (what
    undecodable percent-escapes become) fails like in a browser (:class:`InvalidURL`)."""
    if "\ufffd" in domain:
        raise InvalidURL("host is not valid UTF-8 once percent-decoded")
    ascii_only = all(ord(c) < 0x80 for c in domain)
    if ascii_only and not any(lab.lower().startswith("xn--") for lab in domain.split(".")):
        return domain.lower()
    for sep in _LABEL_SEPARATORS:
        domain = domain.replace(sep, ".")
    labels: list[str] = []
    for label in domain.split("."):
        if all(ord(c) < 0x80 for c in label):
            label = label.lower()
            if label.startswith("xn--"):
                _check_ace_label(label)
            labels.append(label)
            continue
        mapped = "".join(c.lower() if ord(c) < 0x80 else _uts46_map(c) for c in label)
        if all(ord(c) < 0x80 for c in mapped):
            if mapped.startswith("xn--"):
                _check_ace_label(mapped)
            labels.append(mapped)
            continue
        if unicodedata.normalize("NFC", mapped) != mapped:
            raise UnsupportedURL(f"host label {label[:60]!r} is not in NFC")
        labels.append(_punycode_label(mapped))
    result = ".".join(labels)
    if not result:
        raise InvalidURL("host is empty")
    return result


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and all(c in "0123456789" for c in last):
        return True
    return _ipv4_number(last) is not None and last[:2].lower() == "0x"


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    radix = 10
    if part[:2].lower() == "0x":
        radix, part = 16, part[2:]
    elif len(part) >= 2 and part[0] == "0":
        radix, part = 8, part[1:]
    if not part:
        return 0
    digits = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[radix]
    if not all(c in digits for c in part):
        return None
    return int(part, radix)


def _parse_ipv4(domain: str) -> str:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise InvalidURL(f"host {domain[:80]!r} is not a valid IPv4 address")
    numbers: list[int] = []
    for part in parts:
        n = _ipv4_number(part)
        if n is None:
            raise InvalidURL(f"host {domain[:80]!r} is not a valid IPv4 address")
        numbers.append(n)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL(f"host {domain[:80]!r} is not a valid IPv4 address")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - i)
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def _parse_ipv6(text: str) -> list[int]:
    """The WHATWG IPv6 parser (eight 16-bit pieces)."""
    bad = InvalidURL(f"host [{text[:80]}] is not a valid IPv6 address")
    address = [0] * 8
    piece = 0
    compress: int | None = None
    i = 0
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    if at(0) == ":":
        if at(1) != ":":
            raise bad
        i += 2
        piece += 1
        compress = piece
    while i < n:
        if piece == 8:
            raise bad
        if at(i) == ":":
            if compress is not None:
                raise bad
            i += 1
            piece += 1
            compress = piece
            continue
        value = length = 0
        while length < 4 and at(i) and at(i) in "0123456789abcdefABCDEF":
            value = value * 0x10 + int(at(i), 16)
            i += 1
            length += 1
        if at(i) == ".":
            if length == 0:
                raise bad
            i -= length
            if piece > 6:
                raise bad
            seen = 0
            while at(i):
                ipv4_piece: int | None = None
                if seen > 0:
                    if at(i) == "." and seen < 4:
                        i += 1
                    else:
                        raise bad
                if not (at(i) and at(i) in "0123456789"):
                    raise bad
                while at(i) and at(i) in "0123456789":
                    number = int(at(i))
                    if ipv4_piece is None:
                        ipv4_piece = number
                    elif ipv4_piece == 0:
                        raise bad
                    else:
                        ipv4_piece = ipv4_piece * 10 + number
                    if ipv4_piece > 255:
                        raise bad
                    i += 1
                assert ipv4_piece is not None
                address[piece] = address[piece] * 0x100 + ipv4_piece
                seen += 1
                if seen in (2, 4):
                    piece += 1
            if seen != 4:
                raise bad
            break
        elif at(i) == ":":
            i += 1
            if not at(i):
                raise bad
        elif at(i):
            raise bad
        address[piece] = value
        piece += 1
    if compress is not None:
        swaps = piece - compress
        piece = 7
        while piece != 0 and swaps > 0:
            address[piece], address[compress + swaps - 1] = (
                address[compress + swaps - 1],
                address[piece],
            )
            piece -= 1
            swaps -= 1
    elif piece != 8:
        raise bad
    return address


def _serialize_ipv6(address: list[int]) -> str:
    best_start, best_len = -1, 1
    i = 0
    while i < 8:
        if address[i] == 0:
            j = i
            while j < 8 and address[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    out = ""
    ignore0 = False
    for k in range(8):
        if ignore0 and address[k] == 0:
            continue
        ignore0 = False
        if k == best_start:
            out += "::" if k == 0 else ":"
            ignore0 = True
            continue
        out += f"{address[k]:x}"
        if k != 7:
            out += ":"
    return out


def _parse_host(text: str) -> str:
    """The WHATWG host parser for a special URL; returns the serialized host."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidURL(f"host {text[:80]!r} has an unclosed IPv6 bracket")
        return f"[{_serialize_ipv6(_parse_ipv6(text[1:-1]))}]"
    domain = _percent_decode(text).decode("utf-8", errors="replace")
    ascii_domain = _domain_to_ascii(domain)
    bad = next((c for c in ascii_domain if c in _FORBIDDEN_DOMAIN), None)
    if bad is not None:
        raise InvalidURL(f"host {ascii_domain[:80]!r} has a forbidden code point {bad!r}")
    if _ends_in_number(ascii_domain):
        return _parse_ipv4(ascii_domain)
    return ascii_domain


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
    url.host = _parse_host(host_text)
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


def _parse_path_relative(url: _URL, text: str) -> None:
    """Path state entered with segments appended to the base's directory."""
    segments = re.split(r"[/\\]", text)
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
        return _serialize_ipv6(_parse_ipv6(inner))
    if host.endswith(".") and host != ".":
        host = host[:-1]
    if not host or any(c in _FORBIDDEN_DOMAIN for c in host):
        raise bad
    try:
        name = _domain_to_ascii(host)
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
