"""Developer identities: ``dev-ids``, ``dev-ids-next``, ``dev-ids-inclusion``, ``dev-sigs``.

Manifest members:

- ``dev-ids``: sorted unique list of identities, ``ed25519:<b64u 32-byte key>`` or
  ``sigstore:<issuer>|<subject>``. An empty list means "no developer signing".
- ``dev-ids-next``: the same shape; announces the value a later manifest will carry.
- ``dev-ids-inclusion``: ``{"manifest": "<exact earlier manifest line>", "proof": "<b64
  ChainHeadWithProof>"}``.
- ``dev-sigs``: ``[{"id": identity, "sig": b64u}]``, Ed25519 over the RFC 8785 canonical JSON
  of the manifest object without ``dev-sigs`` and ``dev-ids-inclusion``. Checked by a plugin,
  not by the core decision (helpers for it live here so there is one implementation).

Rule: a manifest that carries ``dev-ids`` is valid only if ``dev-ids-inclusion`` proves,
for the same host, an earlier manifest whose ``dev-ids`` or ``dev-ids-next`` equals the
current ``dev-ids``, with a quorum of trusted cosignatures all at least the cooldown old.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import rfc8785

from verifier.crypto import ed25519_public_key, ed25519_sign, ed25519_verify
from verifier.encoding import b64udecode, b64uencode
from verifier.errors import DevIdsError, EncodingError, WaictError

_SIGSTORE_RE = re.compile(r"^sigstore:[^|\s]+\|[^|\s]+$")


def parse_identity(identity: object) -> str:
    if not isinstance(identity, str):
        raise DevIdsError("a developer identity must be a string", detail="dev_ids_malformed")
    if identity.startswith("ed25519:"):
        try:
            key = b64udecode(identity[len("ed25519:") :], what="ed25519 identity")
        except EncodingError as exc:
            raise DevIdsError(str(exc), detail="dev_ids_malformed") from None
        if len(key) != 32:
            raise DevIdsError("an ed25519 identity is a 32-byte key", detail="dev_ids_malformed")
        return identity
    if _SIGSTORE_RE.match(identity):
        return identity
    raise DevIdsError(
        f"unknown developer identity form {identity[:60]!r} (use ed25519:<key> or "
        "sigstore:<issuer>|<subject>)",
        detail="dev_ids_malformed",
    )


def _identity_list(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise DevIdsError(f"{name} must be a list of identities", detail="dev_ids_malformed")
    ids = [parse_identity(v) for v in value]
    if ids != sorted(set(ids)):
        raise DevIdsError(f"{name} must be sorted and unique", detail="dev_ids_malformed")
    return tuple(ids)


@dataclass(frozen=True)
class DevInclusion:
    manifest_line: str
    proof: str


@dataclass(frozen=True)
class DevSignature:
    identity: str
    signature: bytes


@dataclass(frozen=True)
class DevMembers:
    ids: tuple[str, ...] | None
    next_ids: tuple[str, ...] | None
    inclusion: DevInclusion | None
    sigs: tuple[DevSignature, ...] | None


def parse_dev_members(members: dict[str, Any]) -> DevMembers | None:
    names = ("dev-ids", "dev-ids-next", "dev-ids-inclusion", "dev-sigs")
    if not any(n in members for n in names):
        return None
    ids = _identity_list(members["dev-ids"], "dev-ids") if "dev-ids" in members else None
    next_ids = (
        _identity_list(members["dev-ids-next"], "dev-ids-next")
        if "dev-ids-next" in members
        else None
    )
    inclusion = None
    if "dev-ids-inclusion" in members:
        inc = members["dev-ids-inclusion"]
        if (
            not isinstance(inc, dict)
            or not isinstance(inc.get("manifest"), str)
            or not isinstance(inc.get("proof"), str)
        ):
            raise DevIdsError(
                "dev-ids-inclusion must be {manifest: string, proof: string}",
                detail="dev_ids_malformed",
            )
        inclusion = DevInclusion(inc["manifest"], inc["proof"])
    sigs = None
    if "dev-sigs" in members:
        raw = members["dev-sigs"]
        if not isinstance(raw, list):
            raise DevIdsError("dev-sigs must be a list of {id, sig}", detail="dev_sigs_malformed")
        out: list[DevSignature] = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("sig"), str):
                raise DevIdsError(
                    "each dev-sigs item needs id and sig", detail="dev_sigs_malformed"
                )
            try:
                sig = b64udecode(item["sig"], what="dev-sigs sig")
            except EncodingError as exc:
                raise DevIdsError(str(exc), detail="dev_sigs_malformed") from None
            out.append(DevSignature(parse_identity(item.get("id")), sig))
        sigs = tuple(out)
    return DevMembers(ids, next_ids, inclusion, sigs)


def verify_dev_ids(dev: DevMembers | None, host: str, trust: Any, now: int) -> tuple[int, ...]:
    """Check the dev-ids rule; returns the counted cooled cosignature timestamps.

    Raises :class:`DevIdsError` with detail ``dev_ids_missing`` (no inclusion),
    ``dev_ids_cooldown`` (proven, but not yet a cooldown old), ``dev_ids_mismatch`` (the
    earlier manifest announced something else) or ``dev_ids_unproven`` (the inclusion
    proof fails).
    """
    from verifier.transparency import Window, verify_logged

    if dev is None or dev.ids is None:
        raise DevIdsError("the manifest has no dev-ids", detail="dev_ids_missing")
    if dev.inclusion is None:
        raise DevIdsError("dev-ids are not proven: no dev-ids-inclusion", detail="dev_ids_missing")
    earlier_line = dev.inclusion.manifest_line.encode("utf-8")
    try:
        earlier = json.loads(dev.inclusion.manifest_line)
    except (ValueError, RecursionError):
        raise DevIdsError(
            "dev-ids-inclusion manifest is not JSON", detail="dev_ids_unproven"
        ) from None
    if not isinstance(earlier, dict):
        raise DevIdsError("dev-ids-inclusion manifest is not an object", detail="dev_ids_unproven")
    try:
        earlier_dev = parse_dev_members(earlier)
    except WaictError as exc:
        raise DevIdsError(f"earlier manifest: {exc}", detail="dev_ids_unproven") from None
    announced = [
        v for v in ((earlier_dev.ids, earlier_dev.next_ids) if earlier_dev else ()) if v is not None
    ]
    if dev.ids not in announced:
        raise DevIdsError(
            "the earlier logged manifest did not announce these dev-ids "
            "(as dev-ids or dev-ids-next)",
            detail="dev_ids_mismatch",
        )
    try:
        proven = verify_logged(
            host=host,
            line=earlier_line,
            proof_text=dev.inclusion.proof,
            trust=trust,
            now=now,
            window=Window.COOLED,
        )
    except WaictError as exc:
        if exc.detail == "cooldown_not_met":
            raise DevIdsError(
                f"dev-ids were committed less than the cooldown ago: {exc}",
                detail="dev_ids_cooldown",
            ) from None
        raise DevIdsError(f"dev-ids inclusion proof: {exc}", detail="dev_ids_unproven") from None
    return tuple(c.timestamp for c in proven.counted)


def dev_sigs_payload(members: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the manifest without dev-sigs and dev-ids-inclusion."""
    stripped = {k: v for k, v in members.items() if k not in ("dev-sigs", "dev-ids-inclusion")}
    try:
        return bytes(rfc8785.dumps(stripped))
    except Exception as exc:  # rfc8785 raises its own errors for floats / ints out of range
        raise DevIdsError(
            f"manifest cannot be canonicalized: {exc}", detail="dev_sigs_malformed"
        ) from None


def verify_dev_sig(identity: str, signature: bytes, payload: bytes) -> bool:
    """Verify one developer signature (``ed25519:`` identities only; others are False)."""
    if not identity.startswith("ed25519:") or len(signature) != 64:
        return False
    key = b64udecode(identity[len("ed25519:") :])
    return ed25519_verify(key, signature, payload)


def ed25519_identity(seed: bytes) -> str:
    """The ``ed25519:<b64u public key>`` identity of a 32-byte private seed."""
    return "ed25519:" + b64uencode(ed25519_public_key(seed))


def sign_dev_sigs(members: dict[str, Any], seeds: list[bytes]) -> list[dict[str, str]]:
    """The ``dev-sigs`` member for ``members`` signed by each seed (tools only): one
    ``{"id", "sig"}`` per key, sorted by id, over :func:`dev_sigs_payload`."""
    payload = dev_sigs_payload(members)
    sigs = {ed25519_identity(s): b64uencode(ed25519_sign(s, payload)) for s in seeds}
    return [{"id": identity, "sig": sig} for identity, sig in sorted(sigs.items())]


def unsigned_dev_ids(members: dict[str, Any]) -> list[str]:
    """The ``ed25519:`` identities of ``dev-ids`` without a valid signature in ``dev-sigs``:
    the rule of the shipped dev-sigs plugin (plugins/dev-sigs/sw.js ``judge``), which vetoes
    a manifest when this is not empty. Raises :class:`DevIdsError` on malformed members."""
    dev = parse_dev_members(members)
    if dev is None or not dev.ids:
        return []
    payload = dev_sigs_payload(members)
    sigs = dev.sigs or ()
    return [
        identity
        for identity in dev.ids
        if identity.startswith("ed25519:")
        and not any(
            s.identity == identity and verify_dev_sig(identity, s.signature, payload) for s in sigs
        )
    ]
