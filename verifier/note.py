"""Signed notes carrying the tree root, and witness cosignatures.

Note text (UTF-8)::

    <ts-domain>/prefix-tree\\n        origin line: which transparency service
    <N>\\n                            number of event batches applied, decimal
    <b64 root>\\n                     the tree root
    \\n                               empty line
    — <name> <b64 signature blob>\\n  one line per signature (U+2014, space)

Signature blob = ``keyID[4] | u64 timestamp | ed25519 signature[64]`` (76 bytes).
``keyID = H(name || "\\n" || 0x06 || public key)[:4]``. A witness signs
``"waict-cosignature/v1\\n" + "time <t>\\n" + body``, ``<t>`` being the blob's timestamp
and ``body`` the three note lines.

Verification rules (design.md 3.5): every signature line must be ``— <name> <base64>``
(else the note is malformed); lines whose (name, keyID) is not a trusted witness are
ignored, whatever the length of their blob (a standard checkpoint also carries the
service's own signature, 4 + 64 bytes or longer, and other signature types); a line of a
trusted witness that fails verification (a wrong signature, or a blob that is not the
76-byte cosignature) rejects the whole note. Quorum counts distinct witnesses among the
valid, fresh cosignatures.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.crypto import ed25519_sign, ed25519_verify_many, sha256
from verifier.encoding import b64decode, b64encode
from verifier.errors import EncodingError, NoteError

# The algorithm byte in a key ID. Kept as a named constant: it may be renumbered.
COSIGNATURE_ALGORITHM = 0x06
COSIGNATURE_CONTEXT = b"waict-cosignature/v1\n"
ORIGIN_SUFFIX = "/prefix-tree"
SIGNATURE_PREFIX = "\u2014 "
BLOB_SIZE = 4 + 8 + 64
MAX_NOTE_SIZE = 1 << 20

_NAME_RE = re.compile(r"^[\x21-\x7e]+$")
_B64_SYNTAX_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def key_id(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode("utf-8") + b"\n" + bytes((COSIGNATURE_ALGORITHM,)) + public_key)[:4]


@dataclass(frozen=True)
class NoteBody:
    """The three signed lines."""

    origin: str  # "<ts-domain>/prefix-tree"
    batch_count: int
    root: bytes

    @property
    def ts_domain(self) -> str:
        return self.origin[: -len(ORIGIN_SUFFIX)]

    def encode(self) -> bytes:
        return f"{self.origin}\n{self.batch_count}\n{b64encode(self.root)}\n".encode()

    @classmethod
    def for_service(cls, ts_domain: str, batch_count: int, root: bytes) -> NoteBody:
        return cls(ts_domain + ORIGIN_SUFFIX, batch_count, root)


@dataclass(frozen=True)
class Cosignature:
    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def blob(self) -> bytes:
        return self.key_id + struct.pack(">Q", self.timestamp) + self.signature

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.blob())}\n"


@dataclass(frozen=True)
class OtherSignature:
    """A well-formed signature line whose blob is not a 76-byte cosignature: another
    signature type (e.g. the transparency service's own note signature). It cannot be a
    trusted witness's cosignature; it is kept (as received) only so the note re-encodes to
    the same bytes. A trusted witness's (name, keyID) on such a line rejects the note."""

    name: str
    blob: bytes
    text: str  # the base64 exactly as received

    @property
    def key_id(self) -> bytes | None:
        return self.blob[:4] if len(self.blob) >= 4 else None

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {self.text}\n"


@dataclass(frozen=True)
class SignedNote:
    body: NoteBody
    signatures: tuple[Cosignature | OtherSignature, ...]

    @property
    def cosignatures(self) -> tuple[Cosignature, ...]:
        """The lines that have the cosignature shape (76-byte blob)."""
        return tuple(s for s in self.signatures if isinstance(s, Cosignature))

    @property
    def others(self) -> tuple[OtherSignature, ...]:
        return tuple(s for s in self.signatures if isinstance(s, OtherSignature))

    def encode(self) -> bytes:
        return self.body.encode() + b"\n" + "".join(c.line() for c in self.signatures).encode()


def signed_message(body: NoteBody, timestamp: int) -> bytes:
    """What a witness signs for ``body`` at ``timestamp``."""
    return COSIGNATURE_CONTEXT + f"time {timestamp}\n".encode() + body.encode()


def parse_note(data: bytes) -> SignedNote:
    """Parse a signed note strictly; raises :class:`NoteError`."""
    if len(data) > MAX_NOTE_SIZE:
        raise NoteError("signed note is larger than 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("signed note is not valid UTF-8") from None
    if not text.endswith("\n"):
        raise NoteError("signed note must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 4 or lines[3] != "":
        raise NoteError("signed note must be three body lines, an empty line, then signatures")
    origin, count_text, root_text = lines[0], lines[1], lines[2]
    if not origin.endswith(ORIGIN_SUFFIX) or len(origin) == len(ORIGIN_SUFFIX):
        raise NoteError(f"note origin {origin[:80]!r} is not '<ts-domain>/prefix-tree'")
    if not _NAME_RE.match(origin):
        raise NoteError("note origin has spaces or non-ASCII characters")
    if not _DECIMAL_RE.match(count_text) or int(count_text) >= 2**64:
        raise NoteError("note batch count is not a decimal u64")
    try:
        root = b64decode(root_text, what="note root")
    except EncodingError as exc:
        raise NoteError(str(exc)) from None
    if len(root) != 32:
        raise NoteError("note root must be 32 bytes")
    body = NoteBody(origin, int(count_text), root)
    sigs: list[Cosignature | OtherSignature] = []
    for line in lines[4:]:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line must start with '\u2014 '")
        rest = line[len(SIGNATURE_PREFIX) :]
        name, sep, blob_text = rest.partition(" ")
        if (
            not sep
            or not _NAME_RE.match(name)
            or not blob_text
            or not _B64_SYNTAX_RE.match(blob_text)
        ):
            raise NoteError("a signature line must be '\u2014 <name> <base64>'")
        try:
            blob = b64decode(blob_text, what="cosignature")
        except EncodingError:
            blob = b""  # well-formed base64 with stray bits: not a cosignature we wrote
        if len(blob) == BLOB_SIZE:
            (timestamp,) = struct.unpack(">Q", blob[4:12])
            sigs.append(Cosignature(name, blob[:4], timestamp, blob[12:]))
        else:
            raw = blob or base64.b64decode(blob_text)
            sigs.append(OtherSignature(name, raw, blob_text))
    return SignedNote(body, tuple(sigs))


def cosign(body: NoteBody, name: str, seed: bytes, timestamp: int) -> Cosignature:
    """A witness's cosignature of ``body`` (servers and fixtures)."""
    from verifier.crypto import ed25519_public_key

    pub = ed25519_public_key(seed)
    sig = ed25519_sign(seed, signed_message(body, timestamp))
    return Cosignature(name, key_id(name, pub), timestamp, sig)


@dataclass(frozen=True)
class Witness:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)


@dataclass(frozen=True)
class VerifiedCosignature:
    witness: str
    timestamp: int


def verify_cosignatures(
    note: SignedNote, witnesses: Sequence[Witness]
) -> list[VerifiedCosignature]:
    """Every valid cosignature from a trusted witness (unknown keys skipped).

    Raises :class:`NoteError` (detail ``bad_cosignature``) when a trusted witness's line
    fails to verify: such a note is rejected whole.
    """
    by_id = {(w.name, w.key_id): w for w in witnesses}
    for other in note.others:
        if (other.name, other.key_id) in by_id:
            raise NoteError(
                f"signature line of trusted witness {other.name} is not a cosignature "
                f"({len(other.blob)} bytes, a cosignature is {BLOB_SIZE})",
                detail="bad_cosignature",
            )
    trusted = [
        (sig, by_id[(sig.name, sig.key_id)])
        for sig in note.cosignatures
        if (sig.name, sig.key_id) in by_id
    ]
    # all at once (one wait on WebCrypto in the browser), then judged in order
    answers = ed25519_verify_many(
        [
            (witness.public_key, sig.signature, signed_message(note.body, sig.timestamp))
            for sig, witness in trusted
        ]
    )
    out: list[VerifiedCosignature] = []
    for (sig, _witness), ok in zip(trusted, answers, strict=True):
        if not ok:
            raise NoteError(
                f"cosignature of trusted witness {sig.name} does not verify",
                detail="bad_cosignature",
            )
        out.append(VerifiedCosignature(sig.name, sig.timestamp))
    return out
