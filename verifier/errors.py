"""The one typed error family of the verifier.

Every parser and check raises a subclass of :class:`WaictError`; nothing else may escape
from the library on bad input. ``decide`` turns these into spec reasons and detail codes.
Each error carries ``detail``: a short stable code (``malformed_proof``, ``quorum_not_met``,
...) that ends up in the verdict, and a human message that says what was wrong.
"""

from __future__ import annotations


class WaictError(Exception):
    """Base of every error the verifier raises on bad input."""

    detail: str = "invalid"

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        if detail is not None:
            self.detail = detail

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class EncodingError(WaictError):
    """Bad base64 / base64url, wrong length, bad UTF-8."""

    detail = "bad_encoding"


class HeaderError(WaictError):
    """The Integrity-Policy-WAICT-v1 header is missing a required key or is not valid."""

    detail = "invalid_header"


class ManifestError(WaictError):
    """The manifest response or the manifest JSON is not valid."""

    detail = "invalid_manifest"


class ChainError(WaictError):
    """An Entry / ChainNode is malformed, or a chain does not link."""

    detail = "malformed_chain_node"


class TreeProofError(WaictError):
    """A Merkle Patricia tree proof is malformed (not merely wrong)."""

    detail = "malformed_tree_proof"


class NoteError(WaictError):
    """A signed note or a cosignature line is malformed, or a known key's signature fails."""

    detail = "malformed_note"


class ProofError(WaictError):
    """A ChainHeadWithProof cannot be parsed (lengths, trailing bytes, base64)."""

    detail = "malformed_proof"


class TransparencyError(WaictError):
    """A well-formed transparency proof does not verify against the trust configuration."""

    detail = "transparency_failed"


class TrustConfigError(WaictError):
    """The trust configuration (trust.json) is not usable."""

    detail = "invalid_trust"


class PreloadError(WaictError):
    """The preload list is malformed or fails verification."""

    detail = "invalid_preload"


class DevIdsError(WaictError):
    """dev-ids / dev-ids-inclusion / dev-sigs are malformed or not proven."""

    detail = "dev_ids_invalid"


class ScenarioError(WaictError):
    """A `waict check` scenario file is unusable."""

    detail = "invalid_scenario"


class CryptoError(WaictError):
    """A key or signature has the wrong size, or no backend is available."""

    detail = "crypto_error"


class InvalidURL(ManifestError):
    """Not a URL: a browser's URL parser fails on it too."""

    detail = "invalid_url"


class UnsupportedURL(ManifestError):
    """Possibly a URL, but not one we can serialize exactly like a browser (fail closed)."""

    detail = "unsupported_url"
