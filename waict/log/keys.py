"""Ed25519 key files for witnesses and other signers: 32 raw seed bytes, base64 in a file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from verifier.crypto import ed25519_public_key
from verifier.encoding import b64decode, b64encode
from verifier.errors import WaictError


def load_or_create_seed(path: Path) -> bytes:
    """Read a base64 seed file, creating it (mode 0600) with a fresh key if absent."""
    if path.exists():
        try:
            seed = b64decode(path.read_text().strip(), what=str(path))
        except WaictError as exc:
            raise SystemExit(f"key file {path} is not a base64 Ed25519 seed: {exc}") from None
        if len(seed) != 32:
            raise SystemExit(f"key file {path} must hold a 32-byte seed, it holds {len(seed)}")
        return seed
    seed = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(b64encode(seed) + "\n")
    return seed


def public_key_b64(seed: bytes) -> str:
    return b64encode(ed25519_public_key(seed))
