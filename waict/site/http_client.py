"""The tools' HTTP client: ``--resolve`` routing, error texts of JSON error answers, and
transport failures turned into :class:`~waict.common.errors.NetworkError`."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from waict.common.errors import NetworkError, SiteToolError


def parse_resolve(items: list[str] | None) -> dict[str, str]:
    """``HOST=ADDRESS`` pairs (like curl --resolve): connect to ADDRESS for HOST."""
    out: dict[str, str] = {}
    for item in items or []:
        host, sep, address = item.partition("=")
        if not sep or not host or not address:
            raise SiteToolError(f"--resolve {item!r}: use HOST=ADDRESS, e.g. site.test=127.0.0.1")
        out[host.lower().rstrip(".")] = address
    return out


class ResolvingTransport(httpx.HTTPTransport):
    """An httpx transport that connects to a fixed address for some host names.

    The URL keeps its host name (so ``Host`` and TLS SNI stay right); only the TCP connection
    goes elsewhere, like ``curl --resolve`` or the browser's ``--host-resolver-rules``.
    """

    def __init__(self, resolve: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resolve = dict(resolve)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = self.resolve.get(host)
        if address is None:
            return super().handle_request(request)
        headers = httpx.Headers(request.headers)
        headers["Host"] = host if request.url.port is None else f"{host}:{request.url.port}"
        routed = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return super().handle_request(routed)


def make_client(
    *,
    timeout: float = 30.0,
    resolve: Mapping[str, str] | None = None,
    verify_tls: bool = True,
    ca_file: str | Path | None = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """The tools' client. TLS: verified against the system's roots (``SSL_CERT_FILE``
    replaces them), or against ``ca_file`` only (e.g. ``waict local-ca``'s ``ca.pem``); not
    at all without ``verify_tls``."""
    verify: bool | ssl.SSLContext = verify_tls
    if verify_tls and ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SiteToolError(
                f"--ca-file {ca_file}: {exc}", "give a PEM file of CA certificates"
            ) from None
    transport = ResolvingTransport(resolve or {}, verify=verify)
    return httpx.Client(
        timeout=timeout,
        transport=transport,
        follow_redirects=follow_redirects,
        headers={"User-Agent": "waict-tools/0.1"},
    )


def error_text(response: httpx.Response) -> str:
    """The ``error`` of a JSON error answer (docs/ts-api.md), or the start of the body."""
    try:
        obj = response.json()
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("error"), str):
        detail = obj.get("detail")
        return f"{obj['error']}" + (f" ({detail})" if isinstance(detail, str) else "")
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase


@contextlib.contextmanager
def network_errors(what: str) -> Iterator[None]:
    """Turn transport failures into a :class:`NetworkError` that names the server."""
    try:
        yield
    except httpx.TimeoutException:
        raise NetworkError(f"{what}: timed out", "is the server running and reachable?") from None
    except httpx.HTTPError as exc:
        raise NetworkError(f"{what}: {exc}", "is the server running and reachable?") from None
