"""The asset host's client side: upload and fetch objects, read the upload token file.

The server is :mod:`waict.log.assets`; both name objects by :mod:`waict.common.digests`.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from waict.common.digests import digest_name
from waict.common.errors import NetworkError, SiteToolError
from waict.site.http_client import error_text, network_errors


class AssetHostError(NetworkError):
    """The asset host refused an upload or answered something unexpected."""


def upload_asset(
    base_url: str,
    token: str,
    data: bytes,
    *,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
) -> str:
    """Upload ``data``; returns ``sha256-<b64u>`` after checking the host stored that digest."""
    url = base_url.rstrip("/") + "/upload"
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        with network_errors(f"asset host {base_url}"):
            response = http.put(
                url,
                content=data,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/octet-stream",
                },
            )
    finally:
        if own:
            http.close()
    if response.status_code == 401:
        raise AssetHostError(
            f"asset host {base_url} refused the upload token",
            "pass the token file of that asset host (--assets-token-file)",
        )
    if response.status_code != 200:
        raise AssetHostError(
            f"asset host {base_url}: upload failed with HTTP {response.status_code}: "
            f"{error_text(response)}"
        )
    try:
        digest = response.json()["digest"]
    except (ValueError, KeyError, TypeError):
        raise AssetHostError(f"asset host {base_url}: the upload answer is not JSON") from None
    expected = digest_name(data)
    if digest != expected:
        raise AssetHostError(
            f"asset host {base_url} stored the upload as {digest!r}, expected {expected}",
            "the asset host is broken or was tampered with; do not use it",
        )
    return expected


def fetch_asset(
    base_url: str, digest: str, *, client: httpx.Client | None = None, timeout: float = 60.0
) -> bytes:
    """Fetch an object and check it hashes to ``digest``."""
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        with network_errors(f"asset host {base_url}"):
            response = http.get(f"{base_url.rstrip('/')}/fetch/{digest}")
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        raise AssetHostError(
            f"asset host {base_url}: fetch {digest} failed with HTTP {response.status_code}: "
            f"{error_text(response)}"
        )
    if digest_name(response.content) != digest:
        raise AssetHostError(f"asset host {base_url} answered bytes that do not hash to {digest}")
    return response.content


def read_token(path: Path) -> str:
    """Read an existing token file (the client side: never creates one)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SiteToolError(
            f"token file {path} does not exist",
            "give the file `waict serve-assets --token-file` created",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteToolError(f"cannot read token file {path}: {exc}") from None
    if not token:
        raise SiteToolError(f"token file {path} is empty")
    return token
