"""What a site sends the transparency service: the "New Entry Data" JSON of an enrollment
document or an append body, and the domain in a request path, checked."""

from __future__ import annotations

import json
from dataclasses import dataclass

from verifier.encoding import b64decode, b64udecode
from verifier.errors import WaictError
from verifier.events import EventError, check_domain
from waict.log.http import HttpError

MAX_ASSET_HOSTS = 16


@dataclass(frozen=True)
class NewEntry:
    resource_hash: bytes
    asset_hosts: tuple[str, ...]
    token_sha256: bytes | None = None
    prev: bytes | None = None


def parse_new_entry(raw: bytes, *, enrolling: bool) -> NewEntry:
    """The "New Entry Data" JSON (plus ``token_sha256`` at enrollment, ``prev`` at append and
    in the enrollment document of a domain that already has a chain)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise HttpError(400, "body is not JSON: send New Entry Data", "bad_request") from None
    if not isinstance(obj, dict):
        raise HttpError(400, "New Entry Data must be a JSON object", "bad_request")
    try:
        rh = b64decode(obj.get("resource_hash"), what="resource_hash")  # type: ignore[arg-type]
    except WaictError as exc:
        raise HttpError(400, str(exc), "bad_request") from None
    if len(rh) != 32:
        raise HttpError(400, "resource_hash must decode to 32 bytes", "bad_request")
    hosts = obj.get("asset_hosts")
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise HttpError(400, "asset_hosts must be a list of URLs", "bad_request")
    if len(hosts) > MAX_ASSET_HOSTS:
        raise HttpError(400, f"at most {MAX_ASSET_HOSTS} asset hosts", "bad_request")
    for h in hosts:
        if not h.startswith(("https://", "http://")) or not 1 <= len(h.encode()) <= 511:
            raise HttpError(400, f"asset host {h[:80]!r} is not an http(s) URL", "bad_request")
    token_hash = prev = None
    try:
        if enrolling:
            token_hash = b64udecode(obj.get("token_sha256"), what="token_sha256")  # type: ignore[arg-type]
            if len(token_hash) != 32:
                raise HttpError(400, "token_sha256 must be 32 bytes", "bad_request")
        if not enrolling or obj.get("prev") is not None:
            prev = b64decode(obj.get("prev"), what="prev")  # type: ignore[arg-type]
            if len(prev) != 32:
                raise HttpError(400, "prev must be 32 bytes", "bad_request")
    except WaictError as exc:
        raise HttpError(400, str(exc), "bad_request") from None
    return NewEntry(rh, tuple(sorted(set(hosts))), token_hash, prev)


def normalize_domain(domain: str) -> str:
    """A domain from a request path, lower-cased, one trailing dot dropped, and checked with
    the replay rule's :func:`~verifier.events.check_domain` (400 ``bad_domain`` if not)."""
    try:
        return check_domain(domain.lower().removesuffix("."))
    except EventError as exc:
        raise HttpError(400, str(exc), "bad_domain") from None
