"""The WHATWG host parser for http(s) URLs: percent-decoding, domain-to-ASCII (a
conservative subset of UTS #46; outside it we fail closed with :class:`UnsupportedURL`),
IPv4 in all its WHATWG spellings, IPv6 parsed and serialized compressed.

:func:`parse_host` is what :mod:`verifier.urls` calls for the host of a special URL; it
returns the serialized host or raises :class:`InvalidURL` (a browser fails too) or
:class:`UnsupportedURL` (we cannot serialize it exactly like a browser).
"""

from __future__ import annotations

import unicodedata

from verifier.errors import InvalidURL, UnsupportedURL


def percent_decode(text: str) -> bytes:
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
FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | {chr(c) for c in range(0x20)} | {"%", "\x7f"}
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


def domain_to_ascii(domain: str) -> str:
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


def parse_ipv6(text: str) -> list[int]:
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


def serialize_ipv6(address: list[int]) -> str:
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


def parse_host(text: str) -> str:
    """The WHATWG host parser for a special URL; returns the serialized host."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidURL(f"host {text[:80]!r} has an unclosed IPv6 bracket")
        return f"[{serialize_ipv6(parse_ipv6(text[1:-1]))}]"
    domain = percent_decode(text).decode("utf-8", errors="replace")
    ascii_domain = domain_to_ascii(domain)
    bad = next((c for c in ascii_domain if c in FORBIDDEN_DOMAIN), None)
    if bad is not None:
        raise InvalidURL(f"host {ascii_domain[:80]!r} has a forbidden code point {bad!r}")
    if _ends_in_number(ascii_domain):
        return _parse_ipv4(ascii_domain)
    return ascii_domain
