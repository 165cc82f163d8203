"""The integrity manifest and the manifest response that carries it.

Manifest response (media type ``application/waict-integrity-manifest``)::

    manifest line | "\\n" | proof line | "\\n"

The manifest line is single-line UTF-8 JSON; the proof line is ``b64(ChainHeadWithProof)``
and may be empty only when the header's ``max-age`` is 0. Nothing else may follow.

v1 compatibility (header with ``blocked-destinations``): the body is one JSON object, maybe
over several lines, with no proof line; keys may be relative paths and hashes may be
padded base64; ``any_hashes`` lists hashes accepted at any URL of a covered destination.

Members (v2): ``hashes`` (required: canonical absolute URL -> b64u SHA-256),
``wasm_hashes``, ``fallback_hashes``, ``wildcard_hashes``, ``inline_js_hashes``,
``inline_css_hashes`` (sorted unique lists of b64u SHA-256), ``resource_delimiter``
(string), ``emergency_opt_out`` (boolean; true = integrity tombstone), and the developer
identity members (see :mod:`verifier.devids`). Unknown members are ignored; for duplicate
keys the last wins. A tombstone needs ``hashes`` present but nothing else is validated.
The whole manifest is validated when parsed (no lazy validation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verifier import urls
from verifier.devids import DevMembers, parse_dev_members
from verifier.encoding import decode_manifest_hash
from verifier.errors import EncodingError, ManifestError, WaictError

MEDIA_TYPE = "application/waict-integrity-manifest"
MAX_MANIFEST_SIZE = 32 << 20
HASH_LISTS = (
    "wasm_hashes",
    "fallback_hashes",
    "wildcard_hashes",
    "inline_js_hashes",
    "inline_css_hashes",
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def load_json_object(text: str, what: str) -> dict[str, Any]:
    """Strict JSON object parse: no NaN/Infinity; last duplicate key wins; typed errors."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"{what} is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{what} must be a JSON object")
    _reject_lone_surrogates(value, what)
    return value


def _reject_lone_surrogates(value: Any, what: str) -> None:
    """I-JSON (RFC 7493): strings must be valid Unicode; ``"\\ud800"`` escapes are refused
    here once, so no later ``.encode("utf-8")`` can fail."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings: list[str] = [item]
        elif isinstance(item, dict):
            strings = list(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ManifestError(f"{what} holds a string that is not valid Unicode") from None


@dataclass(frozen=True)
class Manifest:
    line: bytes  # the exact bytes that were hashed into the log (v2: the manifest line)
    members: dict[str, Any]
    hashes: dict[str, bytes]  # canonical URL -> SHA-256
    tombstone: bool = False
    wasm_hashes: frozenset[bytes] = frozenset()
    fallback_hashes: frozenset[bytes] = frozenset()
    wildcard_hashes: frozenset[bytes] = frozenset()
    inline_js_hashes: frozenset[bytes] | None = None
    inline_css_hashes: frozenset[bytes] | None = None
    resource_delimiter: bytes | None = None
    any_hashes: frozenset[bytes] = frozenset()  # v1 only: accepted at any covered URL
    dev: DevMembers | None = None
    extension_members: dict[str, Any] = field(default_factory=dict)

    @property
    def covers_inline(self) -> bool:
        """Inline code is held to the manifest only when an inline list is present."""
        return self.inline_js_hashes is not None or self.inline_css_hashes is not None


KNOWN_MEMBERS = frozenset(
    (
        "hashes",
        "resource_delimiter",
        "emergency_opt_out",
        "dev-ids",
        "dev-ids-next",
        "dev-ids-inclusion",
        "dev-sigs",
        *HASH_LISTS,
    )
)


def _hash_list(members: dict[str, Any], name: str, *, v1: bool = False) -> frozenset[bytes] | None:
    if name not in members:
        return None
    value = members[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{name} must be a list of base64url strings")
    if value != sorted(set(value)):
        raise ManifestError(f"{name} must be sorted and unique")
    try:
        return frozenset(decode_manifest_hash(v, what=name, v1=v1) for v in value)
    except EncodingError as exc:
        raise ManifestError(str(exc)) from None


def _v1_any_hashes(members: dict[str, Any]) -> frozenset[bytes]:
    """v1 ``any_hashes``: hashes accepted at any URL of a covered destination (design.md
    3.2). A list of hash strings (b64u, or padded b64); order and duplicates do not matter."""
    value = members.get("any_hashes", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError("any_hashes must be a list of base64 strings")
    try:
        return frozenset(decode_manifest_hash(v, what="any_hashes", v1=True) for v in value)
    except EncodingError as exc:
        raise ManifestError(str(exc)) from None


def parse_manifest(line: bytes, origin: str, *, v1: bool = False) -> Manifest:
    """Parse and fully validate a manifest.

    ``origin``: the URL v1 relative keys are resolved against, the document's URL
    (design.md 3.2; an origin ``scheme://host[:port]`` works as the site root). v2 keys
    must be absolute and already in their WHATWG serialization (:func:`urls.is_canonical`).
    """
    if len(line) > MAX_MANIFEST_SIZE:
        raise ManifestError("manifest is larger than 32 MiB")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("manifest is not valid UTF-8") from None
    members = load_json_object(text, "manifest")
    if "hashes" not in members:
        raise ManifestError("manifest has no 'hashes' member")
    opt_out = members.get("emergency_opt_out", False)
    if not isinstance(opt_out, bool):
        raise ManifestError("emergency_opt_out must be a boolean")
    extension = {k: v for k, v in members.items() if k not in KNOWN_MEMBERS}
    if opt_out:
        return Manifest(line, members, {}, tombstone=True, extension_members=extension)

    raw_hashes = members["hashes"]
    if not isinstance(raw_hashes, dict):
        raise ManifestError("hashes must be an object of URL -> hash")
    base = origin
    hashes: dict[str, bytes] = {}
    for key, value in raw_hashes.items():
        try:
            if v1:
                canon = urls.canonicalize(key, base)
                digest = decode_manifest_hash(value, what=f"hash of {key[:80]}", v1=True)
            else:
                canon = urls.canonicalize(key)
                if canon != key:
                    raise ManifestError(
                        f"manifest key {key[:100]!r} is not a canonical absolute URL "
                        f"(canonical form: {canon[:100]!r})",
                        detail="non_canonical_url",
                    )
                digest = decode_manifest_hash(value, what=f"hash of {key[:80]}")
        except EncodingError as exc:
            raise ManifestError(str(exc)) from None
        hashes[canon] = digest

    lists = {name: _hash_list(members, name, v1=v1) for name in HASH_LISTS}
    any_hashes = _v1_any_hashes(members) if v1 else frozenset()
    delimiter = members.get("resource_delimiter")
    if delimiter is not None and not isinstance(delimiter, str):
        raise ManifestError("resource_delimiter must be a string")
    try:
        dev = parse_dev_members(members)
    except WaictError as exc:
        raise ManifestError(str(exc), detail=exc.detail) from None
    return Manifest(
        line=line,
        members=members,
        hashes=hashes,
        wasm_hashes=lists["wasm_hashes"] or frozenset(),
        fallback_hashes=lists["fallback_hashes"] or frozenset(),
        wildcard_hashes=lists["wildcard_hashes"] or frozenset(),
        inline_js_hashes=lists["inline_js_hashes"],
        inline_css_hashes=lists["inline_css_hashes"],
        resource_delimiter=delimiter.encode("utf-8") if delimiter else None,
        any_hashes=any_hashes,
        dev=dev,
        extension_members=extension,
    )


def split_response(body: bytes) -> tuple[bytes, str]:
    """Split ``line \\n proof \\n`` strictly; returns (manifest line, proof line text)."""
    if len(body) > MAX_MANIFEST_SIZE:
        raise ManifestError("manifest response is larger than 32 MiB")
    parts = body.split(b"\n")
    if len(parts) < 3:
        raise ManifestError(
            "manifest response must be a JSON line and a proof line, each ending in a newline"
        )
    if len(parts) > 3 or parts[2] != b"":
        raise ManifestError("manifest response has bytes after the proof line")
    line, proof = parts[0], parts[1]
    try:
        proof_text = proof.decode("ascii")
    except UnicodeDecodeError:
        raise ManifestError("proof line is not ASCII base64") from None
    return line, proof_text


@dataclass(frozen=True)
class ManifestResponse:
    manifest: Manifest
    proof: str | None  # None for v1 bodies; "" when the proof line is empty


def parse_manifest_response(body: bytes, origin: str, *, v1: bool = False) -> ManifestResponse:
    if v1:
        return ManifestResponse(parse_manifest(body.strip(b" \t\r\n"), origin, v1=True), None)
    line, proof = split_response(body)
    return ManifestResponse(parse_manifest(line, origin), proof)
