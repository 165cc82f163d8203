"""Reading an Ed25519 key file on the client side (never creating one): the format of
``waict keygen`` (:mod:`waict.log.keys`), 32 raw seed bytes in base64 on one line."""

from __future__ import annotations

from pathlib import Path

from verifier.encoding import b64decode
from verifier.errors import WaictError
from waict.common.errors import KeyFileError

SEED_SIZE = 32
_HINT = "give a file `waict keygen NAME --out FILE` created (one line: a base64 32-byte seed)"


def read_seed(path: Path, what: str = "key file") -> bytes:
    """The 32-byte Ed25519 seed in ``path``; :class:`KeyFileError` says what is wrong."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist", _HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc}", _HINT) from None
    try:
        seed = b64decode(text, what=str(path))
    except WaictError as exc:
        raise KeyFileError(f"{what} {path} is not a base64 Ed25519 seed: {exc}", _HINT) from None
    if len(seed) != SEED_SIZE:
        raise KeyFileError(
            f"{what} {path} holds {len(seed)} bytes, an Ed25519 seed is {SEED_SIZE}", _HINT
        )
    return seed
