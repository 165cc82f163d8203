"""The names a site serves and keeps: the header, the manifest media type and URLs, the
enrollment document, and the state directory."""

from __future__ import annotations

from pathlib import Path

STATE_DIRNAME = ".waict"


WELL_KNOWN_ENROLL = ".well-known/waict-enroll"


MANIFEST_PREFIX = "/.well-known/waict/manifests/"


MANIFEST_ID_LENGTH = 22


MANIFEST_MEDIA_TYPE = "application/waict-integrity-manifest"


HEADER_NAME = "Integrity-Policy-WAICT-v1"


def default_state_dir(site_dir: Path) -> Path:
    return site_dir / STATE_DIRNAME


def manifest_id(body: bytes) -> str:
    """The manifest URL's last path element: first 22 chars of b64u SHA-256 of the body."""
    from verifier.crypto import sha256
    from verifier.encoding import b64uencode

    return b64uencode(sha256(body))[:MANIFEST_ID_LENGTH]


def manifest_path(body: bytes) -> str:
    return MANIFEST_PREFIX + manifest_id(body)
