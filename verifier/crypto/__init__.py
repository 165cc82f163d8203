"""The crypto seam: SHA-256 and Ed25519, behind one narrow interface.

Every hash and signature check in the verifier goes through :func:`sha256` and
:func:`ed25519_verify` here. Backends:

- ``cryptography`` (CPython, fast; OpenSSL),
- ``pure`` (pure Python; runs anywhere, Pyodide included; slow but exact),
- ``webcrypto`` (the browser's WebCrypto through the Pyodide FFI; added by the extension).

All backends must give the same accept/reject answer on every vector in
``shared/vectors/ed25519`` (the "ref10" rule: reject non-canonical R, reject S >= L,
cofactorless equation, accept non-canonical A encodings that decode) and on RFC 8032.
SHA-256 is always ``hashlib`` (present in CPython and in Pyodide).

Which backend answered is counted, never guessed: :data:`COUNTERS` (read it with
:func:`crypto_stats`) holds, per operation, how many times each backend answered, and every
fallback from the installed backend to another one with its reason (and the last message).
A backend that hands an operation to another one says so through :func:`record_fallback`
and :func:`record`; :func:`ed25519_verify` counts every other answer under the backend's
name. The extension exposes the counters (``crypto_stats`` entry point,
``waict.py.cryptoStats()``) and its end-to-end tests assert that WebCrypto answered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from verifier.errors import CryptoError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32


class Ed25519Backend(Protocol):
    """What a backend provides. ``verify`` never raises on a bad signature: it returns False."""

    name: str

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool: ...

    def sign(self, seed: bytes, message: bytes) -> bytes: ...

    def public_key(self, seed: bytes) -> bytes: ...


class Counters:
    """How many times each backend answered each operation, and each fallback's reason."""

    def __init__(self) -> None:
        self.answered: dict[str, dict[str, int]] = {}
        self.fallbacks: dict[str, int] = {}
        self.last_fallback: str | None = None

    def reset(self) -> None:
        self.answered.clear()
        self.fallbacks.clear()
        self.last_fallback = None

    def as_json(self) -> dict[str, Any]:
        return {
            "answered": {op: dict(by) for op, by in self.answered.items()},
            "fallbacks": dict(self.fallbacks),
            "fallback_count": sum(self.fallbacks.values()),
            "last_fallback": self.last_fallback,
        }


COUNTERS = Counters()


def record(operation: str, backend: str) -> None:
    """Count one answer to ``operation`` (``"sha256"``, ``"ed25519_verify"``) by ``backend``."""
    by = COUNTERS.answered.setdefault(operation, {})
    by[backend] = by.get(backend, 0) + 1


def record_fallback(reason: str, message: str | None = None) -> None:
    """Count one fallback from the installed backend, by reason (e.g. ``no_jspi``)."""
    COUNTERS.fallbacks[reason] = COUNTERS.fallbacks.get(reason, 0) + 1
    COUNTERS.last_fallback = reason if message is None else f"{reason}: {message}"


def crypto_stats() -> dict[str, Any]:
    """The installed backend's name and :data:`COUNTERS` as JSON-ready data."""
    return {"backend": get_backend().name, **COUNTERS.as_json()}


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data`` (32 bytes)."""
    record("sha256", "hashlib")
    return hashlib.sha256(data).digest()


_backend: Ed25519Backend | None = None


def _default_backend() -> Ed25519Backend:
    try:
        from verifier.crypto.cryptography_backend import CryptographyBackend

        return CryptographyBackend()
    except ImportError:
        from verifier.crypto.pure_ed25519 import PureBackend

        return PureBackend()


def get_backend() -> Ed25519Backend:
    """The backend in use: ``cryptography`` when importable, else pure Python."""
    global _backend
    if _backend is None:
        _backend = _default_backend()
    return _backend


def set_backend(backend: Ed25519Backend | None) -> None:
    """Install a backend (``None`` restores the default choice)."""
    global _backend
    _backend = backend


def backend_by_name(name: str) -> Ed25519Backend:
    """``cryptography`` or ``pure`` (``webcrypto`` is installed by the extension at runtime)."""
    if name == "cryptography":
        from verifier.crypto.cryptography_backend import CryptographyBackend

        return CryptographyBackend()
    if name == "pure":
        from verifier.crypto.pure_ed25519 import PureBackend

        return PureBackend()
    raise CryptoError(f"unknown crypto backend {name!r}; use 'cryptography' or 'pure'")


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    Wrong sizes are a :class:`CryptoError` (a caller bug or malformed input), not False.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise CryptoError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    if len(signature) != SIGNATURE_SIZE:
        raise CryptoError(f"Ed25519 signature must be 64 bytes, got {len(signature)}")
    backend = get_backend()
    if getattr(backend, "counts_itself", False):
        return backend.verify(public_key, signature, message)
    ok = backend.verify(public_key, signature, message)
    record("ed25519_verify", backend.name)
    return ok


def ed25519_verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """:func:`ed25519_verify` of each ``(public_key, signature, message)``, in order.

    The same answers as one call each; a backend with ``verify_many`` (WebCrypto) checks
    them all at once, so a note's cosignatures cost one wait on the browser, not one each.
    """
    for public_key, signature, _ in items:
        if len(public_key) != PUBLIC_KEY_SIZE:
            raise CryptoError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
        if len(signature) != SIGNATURE_SIZE:
            raise CryptoError(f"Ed25519 signature must be 64 bytes, got {len(signature)}")
    backend = get_backend()
    many = getattr(backend, "verify_many", None)
    if many is not None and len(items) > 1:
        answers: list[bool] = many(items)
        return answers
    return [ed25519_verify(*item) for item in items]


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """Sign ``message`` with the 32-byte private seed (servers and test fixtures only)."""
    if len(seed) != SEED_SIZE:
        raise CryptoError(f"Ed25519 private seed must be 32 bytes, got {len(seed)}")
    return get_backend().sign(seed, message)


def ed25519_public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte private seed."""
    if len(seed) != SEED_SIZE:
        raise CryptoError(f"Ed25519 private seed must be 32 bytes, got {len(seed)}")
    return get_backend().public_key(seed)
