"""Byte encodings used on the wire.

- ``b64``: standard base64 (RFC 4648 section 4) *with* padding. Used for proofs, notes,
  keys in trust.json, scenario fields.
- ``b64u``: base64url (RFC 4648 section 5) *without* padding. Used for every hash in a
  manifest and for ``ed25519:`` developer identities.

Decoders are strict: no whitespace, no stray characters, correct padding, and canonical
trailing bits (the encoding must round-trip), so each byte string has exactly one text form.
The one exception is a hash listed in a manifest (:func:`decode_manifest_hash`): design.md
3.2 tolerates non-zero padding bits there, and hashes are compared as bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

from verifier.errors import EncodingError

_B64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_B64U_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str = "value") -> bytes:
    """Strict standard base64 with padding."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64 string, got {type(text).__name__}")
    if not _B64_RE.match(text):
        raise EncodingError(f"{what}: not valid padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not valid padded base64 ({exc})") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise EncodingError(f"{what}: non-canonical base64 (stray bits in the last character)")
    return data


def b64uencode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64udecode(text: str, *, what: str = "value") -> bytes:
    """Strict base64url without padding."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64url string, got {type(text).__name__}")
    if not _B64U_RE.match(text) or len(text) % 4 == 1:
        raise EncodingError(f"{what}: not valid unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not valid unpadded base64url ({exc})") from None
    if b64uencode(data) != text:
        raise EncodingError(f"{what}: non-canonical base64url (stray bits in the last character)")
    return data


def decode_hash_b64u(text: object, *, what: str = "hash") -> bytes:
    """A SHA-256 digest as unpadded base64url: exactly 32 bytes."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64url string, got {type(text).__name__}")
    digest = b64udecode(text, what=what)
    if len(digest) != 32:
        raise EncodingError(f"{what}: a SHA-256 hash is 32 bytes, this decodes to {len(digest)}")
    return digest


def _decode_tolerant(text: str, *, standard: bool, what: str) -> bytes:
    """Base64 whose last character may carry non-zero padding bits (RFC 4648 3.5 lets a
    decoder accept them): the alphabet and length are checked, the stray bits are dropped."""
    if standard:
        if not _B64_RE.match(text):
            raise EncodingError(f"{what}: not valid padded base64")
        padded = text
        alphabet = b"+/"
    else:
        if not _B64U_RE.match(text) or len(text) % 4 == 1:
            raise EncodingError(f"{what}: not valid unpadded base64url")
        padded = text + "=" * (-len(text) % 4)
        alphabet = b"-_"
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not valid base64 ({exc})") from None


def decode_manifest_hash(text: object, *, what: str = "hash", v1: bool = False) -> bytes:
    """A SHA-256 digest as a manifest lists it (design.md 3.2): unpadded base64url (a v1
    manifest may also use padded standard base64); exactly 32 bytes; non-zero padding bits
    in the last character are tolerated (other implementations' manifests carry them), so
    hashes are compared as bytes, never as text."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64url string, got {type(text).__name__}")
    standard = v1 and ("=" in text or "+" in text or "/" in text)
    digest = _decode_tolerant(text, standard=standard, what=what)
    if len(digest) != 32:
        raise EncodingError(f"{what}: a SHA-256 hash is 32 bytes, this decodes to {len(digest)}")
    return digest
