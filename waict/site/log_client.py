"""An HTTP client for the transparency service API of docs/ts-api.md (the operator side and
the monitor side). Every body is decoded with :mod:`verifier`; errors become
:class:`~waict.common.errors.SiteToolError`s that say what to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from verifier.chain import ENTRY_SIZE, LABEL_ASSET_HOSTS, Entry, decode_asset_hosts
from verifier.crypto import sha256
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError
from verifier.proof import ChainHeadWithProof
from waict.common.errors import NetworkError, UnexpectedLogError
from waict.common.tiles import encode_index
from waict.site.http_client import error_text, network_errors

TILE_WIDTH = 256


class TsUnreachableError(NetworkError):
    """The transparency service could not be reached (connection refused, timed out, ...)."""


class TsHttpError(NetworkError):
    """The transparency service answered with an error status."""

    def __init__(self, message: str, status: int, detail: str | None, hint: str | None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str | None:
    try:
        obj = response.json()
    except ValueError:
        return None
    value = obj.get("detail") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


_HINTS = {
    "enroll_fetch_failed": "start `waict serve-site DIR` first: the service fetches "
    "/.well-known/waict-enroll from the site to check you control it",
    "unauthorized": "the append token in the state directory is not the one bound to this "
    "domain; if it was lost, re-enroll with `waict publish ... --re-enroll`",
    "not_enrolled": "the service does not know this domain: enroll with "
    "`waict publish ... --re-enroll`",
    "stale_prev": "the log's head moved while publishing (another publisher?): run "
    "`waict monitor` to see what was appended, then publish again",
    "not_cosigned": "the service has no cosigned root yet: are its witnesses running? "
    "retry in a moment",
}


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the service is down rather than that it refused a request: it
    could not be reached, or it answered an HTTP 5xx."""
    return isinstance(exc, TsUnreachableError) or (
        isinstance(exc, TsHttpError) and exc.status >= 500
    )


class TsClient:
    def __init__(self, base_url: str, client: httpx.Client) -> None:
        self.base = base_url.rstrip("/")
        self.http = client

    def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        url = self.base + path
        try:
            with network_errors(f"transparency service {self.base}"):
                if timeout is None:
                    response = self.http.request(method, url, content=content, headers=headers)
                else:
                    response = self.http.request(
                        method, url, content=content, headers=headers, timeout=timeout
                    )
        except NetworkError as exc:
            raise TsUnreachableError(str(exc.args[0]), exc.hint) from None
        if response.status_code >= 400:
            detail = _detail(response)
            raise TsHttpError(
                f"transparency service {self.base}: {method} {path} answered HTTP "
                f"{response.status_code}: {error_text(response)}",
                response.status_code,
                detail,
                _HINTS.get(detail or ""),
            )
        return response

    @staticmethod
    def _proof(response: httpx.Response, what: str) -> ChainHeadWithProof:
        try:
            return ChainHeadWithProof.decode(response.content)
        except WaictError as exc:
            raise UnexpectedLogError(
                f"{what}: the answer is not a ChainHeadWithProof: {exc}"
            ) from None

    # --- operator ------------------------------------------------------------------------
    def enroll(self, host: str, *, timeout: float) -> ChainHeadWithProof:
        response = self._request("POST", f"/enroll/{host}", timeout=timeout)
        return self._proof(response, f"enroll {host}")

    def append(
        self,
        host: str,
        token: str,
        resource_hash: bytes,
        asset_hosts: Sequence[str],
        prev: bytes,
        *,
        timeout: float,
    ) -> ChainHeadWithProof:
        body = json.dumps(
            {
                "resource_hash": b64encode(resource_hash),
                "asset_hosts": sorted(set(asset_hosts)),
                "prev": b64encode(prev),
            }
        ).encode()
        response = self._request(
            "POST",
            f"/append/{host}",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
        )
        return self._proof(response, f"append {host}")

    # --- reading -------------------------------------------------------------------------
    def leaf(self, host: str) -> ChainHeadWithProof | None:
        """The head under the newest cosigned root, or None when the domain is not in it."""
        try:
            response = self._request("GET", f"/leaf/{host}")
        except TsHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return self._proof(response, f"leaf {host}")

    def entries(self, host: str, start: int, end: int) -> list[Entry]:
        """Entries ``[start, end)`` from the entries tiles."""
        out: list[Entry] = []
        tile = start // TILE_WIDTH
        while tile * TILE_WIDTH < end:
            first = tile * TILE_WIDTH
            width = min(TILE_WIDTH, end - first)
            suffix = "" if width == TILE_WIDTH else f".p/{width}"
            path = f"/entries-tile/{host}/{encode_index(tile)}{suffix}"
            data = self._request("GET", path).content
            if len(data) != width * ENTRY_SIZE:
                raise UnexpectedLogError(
                    f"entries tile {path} has {len(data)} bytes, expected {width} entries"
                )
            for i in range(width):
                if first + i >= start:
                    try:
                        entry = Entry.decode(data[i * ENTRY_SIZE : (i + 1) * ENTRY_SIZE])
                    except WaictError as exc:
                        raise UnexpectedLogError(f"entries tile {path}: {exc}") from None
                    if entry.position != first + i:
                        raise UnexpectedLogError(
                            f"entries tile {path}: entry {i} says position {entry.position}, "
                            f"expected {first + i}"
                        )
                    out.append(entry)
            tile += 1
        return out

    def chain_hash(self, host: str, position: int) -> bytes:
        data = self._request("GET", f"/chain-hash/{host}/{encode_index(position)}").content
        if len(data) != 32:
            raise UnexpectedLogError(f"chain-hash of {host} #{position} is not 32 bytes")
        return data

    def asset_hosts(self, digest: bytes) -> list[str]:
        path = f"/asset-hosts/sha256-{b64uencode(digest)}"
        data = self._request("GET", path).content
        if asset_hosts_hash_of_vector(data) != digest:
            raise UnexpectedLogError(f"{path}: the answer does not hash to the requested digest")
        try:
            return decode_asset_hosts(data)
        except WaictError as exc:
            raise UnexpectedLogError(f"{path}: {exc}") from None

    def checkpoint(self) -> bytes:
        """The newest cosigned signed note (``GET /checkpoint``), as bytes to parse."""
        return self._request("GET", "/checkpoint").content

    def status(self) -> dict[str, Any]:
        """``GET /status``: name, batches published, newest cosigned count, root, domains."""
        response = self._request("GET", "/status")
        try:
            obj = response.json()
        except ValueError:
            raise UnexpectedLogError("/status: the answer is not JSON") from None
        if not isinstance(obj, dict):
            raise UnexpectedLogError("/status: the answer is not a JSON object")
        return obj


def asset_hosts_hash_of_vector(vector: bytes) -> bytes:
    """``H("waict-ah" || vector)``: the digest an asset-host vector is published under."""
    return sha256(LABEL_ASSET_HOSTS + vector)
