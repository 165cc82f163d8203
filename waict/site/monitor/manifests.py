"""The manifest behind a chain entry, its developer identities, and a diff of two manifests.

The chain holds only ``H("waict-rh" || line)``, while ``waict publish`` uploads the manifest
line to the asset host under its plain SHA-256 (``/fetch/sha256-<b64u SHA-256(line)>``), so
neither name can be derived from the other. Candidates therefore come from outside the log:

1. the live site: ``GET <origin>/``, the ``manifest`` of its ``Integrity-Policy-WAICT-v1``
   header (resolved as :func:`verifier.header.resolve_manifest_url` does), then the
   manifest response's first line: its SHA-256 names it on the asset hosts;
2. digests given with ``--manifest-digest sha256-...``.

Each candidate digest is fetched from every asset host the entry names and matched by
``H("waict-rh" || bytes) == resource_hash``. A line from the site that matches but that no
asset host serves is still used, with a note (the operator failed to upload it).
Matched lines are kept in ``<state>.d/manifests/<b64u resource hash>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verifier.chain import resource_hash
from verifier.encoding import b64uencode
from verifier.errors import WaictError
from verifier.header import parse_policy, resolve_manifest_url
from verifier.manifest import load_json_object, split_response
from waict.common.digests import digest_name
from waict.common.files import atomic_write

DEV_MEMBERS = ("dev-ids", "dev-ids-next")
MAX_FETCH = 32 << 20


class ManifestStore:
    """Manifest lines by resource hash, on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, rh: bytes) -> Path:
        return self.root / b64uencode(rh)

    def get(self, rh: bytes) -> bytes | None:
        try:
            return self.path(rh).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put(self, line: bytes) -> bytes:
        rh = resource_hash(line)
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.path(rh).exists():
            atomic_write(self.path(rh), line)
        return rh


@dataclass
class Candidates:
    """Candidate manifest lines (from the site) and digests (from the site and the user)."""

    lines: dict[str, bytes] = field(default_factory=dict)  # digest name -> line
    digests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _get(client: httpx.Client, url: str) -> httpx.Response | None:
    try:
        response = client.get(url)
    except httpx.HTTPError:
        return None
    return response if response.status_code == 200 else None


def site_candidates(origin: str, client: httpx.Client, extra: Iterable[str] = ()) -> Candidates:
    """The live site's manifest line (see the module docstring) plus ``extra`` digests."""
    out = Candidates(digests=list(extra))
    page = _get(client, origin.rstrip("/") + "/")
    if page is None:
        out.notes.append(f"{origin}/ did not answer 200: no manifest candidate from the site")
        return out
    header = page.headers.get("integrity-policy-waict-v1")
    if header is None:
        out.notes.append(f"{origin}/ sends no Integrity-Policy-WAICT-v1 header")
        return out
    try:
        url = resolve_manifest_url(parse_policy(header).manifest, str(page.url))
    except WaictError as exc:
        out.notes.append(f"{origin}/: the header is unusable: {exc}")
        return out
    body = _get(client, url) if url else None
    if body is None:
        out.notes.append(f"the manifest {url} of {origin} could not be fetched")
        return out
    try:
        line, _proof = split_response(body.content)
    except WaictError:
        line = body.content.rstrip(b"\n")  # a v1 body: one JSON document
    name = digest_name(line)
    out.lines[name] = line
    out.digests.insert(0, name)
    return out


def fetch_from_hosts(hosts: list[str], digest: str, client: httpx.Client) -> bytes | None:
    """The object ``digest`` from the first asset host that serves bytes hashing to it."""
    for host in hosts:
        response = _get(client, f"{host.rstrip('/')}/fetch/{digest}")
        if response is None or len(response.content) > MAX_FETCH:
            continue
        if digest_name(response.content) == digest:
            return response.content
    return None


def match_entry(
    rh: bytes,
    hosts: list[str],
    candidates: Candidates,
    client: httpx.Client,
    cache: dict[tuple[str, str], bytes | None],
) -> tuple[bytes | None, str | None]:
    """The line whose resource hash is ``rh``, and a note when it is not on the asset hosts."""
    for digest in candidates.digests:
        key = (",".join(hosts), digest)
        if key not in cache:
            cache[key] = fetch_from_hosts(hosts, digest, client)
        data = cache[key]
        if data is not None and resource_hash(data) == rh:
            return data, None
        line = candidates.lines.get(digest)
        if line is not None and resource_hash(line) == rh:
            return line, (
                f"the manifest {digest} is served by the site but by none of its asset hosts "
                f"{hosts}"
            )
    return None, None


def members_of(line: bytes) -> dict[str, Any] | None:
    try:
        return load_json_object(line.decode("utf-8"), "manifest")
    except (WaictError, UnicodeDecodeError):
        return None


def dev_of(line: bytes) -> dict[str, list[str] | None]:
    """``dev-ids`` and ``dev-ids-next`` as given (None when absent)."""
    members = members_of(line) or {}
    out: dict[str, list[str] | None] = {}
    for name in DEV_MEMBERS:
        value = members.get(name)
        out[name] = [str(v) for v in value] if isinstance(value, list) else None
    return out


def diff_manifests(old: bytes | None, new: bytes) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: hashes added, removed and changed per URL, the
    dev-ids members, and every other member (old and new value)."""
    a = (members_of(old) if old is not None else None) or {}
    b = members_of(new) or {}
    ha = a.get("hashes") if isinstance(a.get("hashes"), dict) else {}
    hb = b.get("hashes") if isinstance(b.get("hashes"), dict) else {}
    assert isinstance(ha, dict) and isinstance(hb, dict)
    added = {u: hb[u] for u in sorted(hb) if u not in ha}
    removed = {u: ha[u] for u in sorted(ha) if u not in hb}
    changed = {u: [ha[u], hb[u]] for u in sorted(hb) if u in ha and ha[u] != hb[u]}
    dev: dict[str, Any] = {}
    for name in DEV_MEMBERS:
        va, vb = a.get(name), b.get(name)
        if va != vb:
            la = set(va) if isinstance(va, list) else set()
            lb = set(vb) if isinstance(vb, list) else set()
            dev[name] = {
                "before": va,
                "after": vb,
                "added": sorted(str(x) for x in lb - la),
                "removed": sorted(str(x) for x in la - lb),
            }
    other: dict[str, Any] = {}
    for name in sorted(set(a) | set(b)):
        if name == "hashes" or name in DEV_MEMBERS:
            continue
        if a.get(name) != b.get(name):
            other[name] = {"before": a.get(name), "after": b.get(name)}
    return {
        "hashes": {"added": added, "removed": removed, "changed": changed},
        "unchanged": sum(1 for u in hb if u in ha and ha[u] == hb[u]),
        "dev": dev,
        "other": other,
    }
