"""Asset-host object names: ``sha256-<base64url digest>`` (docs/ts-api.md)."""

from __future__ import annotations

from verifier.crypto import sha256
from verifier.encoding import b64uencode, decode_hash_b64u
from verifier.errors import WaictError

DIGEST_PREFIX = "sha256-"


def digest_name(data: bytes) -> str:
    """``sha256-<b64u>`` of ``data``: the name the asset host stores it under."""
    return DIGEST_PREFIX + b64uencode(sha256(data))


def parse_digest(text: str) -> bytes:
    """The 32-byte digest of ``sha256-<b64u>``; raises :class:`WaictError` when malformed."""
    if not text.startswith(DIGEST_PREFIX):
        raise WaictError("digest must be sha256-<base64url of 32 bytes>", detail="bad_digest")
    return decode_hash_b64u(text[len(DIGEST_PREFIX) :], what="digest")
