"""The transparency service over HTTP (docs/ts-api.md): :func:`create_ts_app` serves a
:class:`~waict.log.service.TransparencyService`; :func:`http_enroll_fetcher` fetches a site's
``/.well-known/waict-enroll`` at enrollment."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from verifier.encoding import b64udecode
from verifier.errors import WaictError
from verifier.proof import ChainHeadWithProof
from waict.log.entry import normalize_domain
from waict.log.http import (
    JSON_HTTP_ERRORS,
    HttpError,
    RateLimitedLog,
    bounded_number,
    parse_index,
    read_body,
)
from waict.log.service import (
    WELL_KNOWN_ENROLL,
    EnrollFetcher,
    TransparencyService,
    stopping_error,
)
from waict.log.store import StorageError

log = logging.getLogger("waict.ts")

OCTETS = "application/octet-stream"
MAX_ENROLL_DOCUMENT = 64 * 1024
MAX_APPEND_BODY = 64 * 1024  # New Entry Data: 16 asset hosts of at most 511 bytes, 2 hashes
MAX_COSIGNATURE_BODY = 16 * 1024  # a few "— name base64" lines

# Cache-Control (docs/decisions.md): what can never change is cacheable by anyone for a
# year (a CDN absorbs the read traffic); what moves is never stored; errors neither (a 404
# for a tile or batch that does not exist yet must not outlive its appearance).
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL_TILE = "public, max-age=60"  # immutable too, but superseded by the wider tile
NO_STORE = "no-store"


Resolver = Callable[[str], Awaitable[list[str]]]


async def system_resolver(domain: str) -> list[str]:
    """The addresses ``domain`` resolves to (TCP)."""
    infos = await asyncio.get_running_loop().getaddrinfo(domain, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def http_enroll_fetcher(
    scheme: str = "https",
    port: int | None = None,
    timeout: float = 10.0,
    connect: str | None = None,
    *,
    resolve: Resolver = system_resolver,
    max_connections: int = 256,
) -> EnrollFetcher:
    """Fetch ``<scheme>://<domain>[:port]/.well-known/waict-enroll``: at most 64 KiB,
    uncompressed, within one ``timeout`` (resolving and waiting for a connection included).

    The service fetches from a name anyone may submit, so the name must resolve only to
    public addresses (no loopback, private, link-local... target), and the request goes to
    the address checked (no second lookup to rebind; TLS still verifies the name). Loopback
    tests and the demo name the address instead, ``connect="127.0.0.1"`` (with
    ``scheme="http"`` and a port): the request goes there with ``Host: <domain>[:port]``.

    One HTTP client (one TLS context: building one costs 15-20 ms of CPU and most of a MB)
    serves every enrolment of an event loop; at most ``max_connections`` fetches are open
    at once, the others wait within their deadline. Connections are never reused: one was
    verified for one name, and the next enrolment on the same address is another name.
    """
    shared: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Semaphore]
    ] = weakref.WeakKeyDictionary()

    def for_this_loop() -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        found = shared.get(loop)
        if found is None:
            # the bound is the semaphore's (httpx's own pool queue, when full, let waiting
            # requests time out long after their deadline: measured with 1,000 at once)
            client = httpx.AsyncClient(
                timeout=timeout,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            )
            found = shared[loop] = (client, asyncio.Semaphore(max_connections))
        return found

    async def address_of(domain: str) -> str:
        if connect is not None:
            return connect
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolve(domain)]
        if not addresses:
            raise RuntimeError(f"{domain} does not resolve")
        for address in addresses:
            if not address.is_global:
                raise RuntimeError(f"{domain} resolves to {address}, not a public address")
        first = addresses[0]
        return f"[{first}]" if first.version == 6 else str(first)

    async def fetch(domain: str) -> bytes:
        netloc = domain if port is None else f"{domain}:{port}"
        too_large = RuntimeError(f"enrollment document larger than {MAX_ENROLL_DOCUMENT} bytes")
        deadline = asyncio.get_running_loop().time() + timeout  # one for the whole fetch
        client, slots = for_this_loop()
        try:
            async with asyncio.timeout_at(deadline):
                address = await address_of(domain)
                target = address if port is None else f"{address}:{port}"
            async with (
                asyncio.timeout_at(deadline),
                slots,
                client.stream(
                    "GET",
                    f"{scheme}://{target}{WELL_KNOWN_ENROLL}",
                    headers={"Host": netloc, "Accept-Encoding": "identity"},
                    extensions={"sni_hostname": domain},
                ) as response,
            ):
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}")
                if response.headers.get("content-encoding", "identity") != "identity":
                    raise RuntimeError("the enrollment document must not be content-encoded")
                declared = response.headers.get("content-length", "0")
                if not declared.isdecimal() or int(declared) > MAX_ENROLL_DOCUMENT:
                    raise too_large
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > MAX_ENROLL_DOCUMENT:
                        raise too_large
        except TimeoutError:
            raise RuntimeError(f"no complete answer within {timeout:g} s") from None
        return bytes(body)

    return fetch


def create_ts_app(service: TransparencyService) -> Starlette:
    faults = RateLimitedLog(log)

    def guard(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except HttpError as exc:
                return exc.response()
            except ClientDisconnect:  # the client went away mid-request: nobody to answer
                log.info("%s %s: the client disconnected", request.method, request.url.path)
                return Response(status_code=400)
            except asyncio.CancelledError:
                if not service.stopping:
                    raise
                return stopping_error().response()  # cancelled by the stop's grace period
            except StorageError as exc:  # nothing of the request was stored
                faults.log(logging.ERROR, f"storage:{exc.kind}", f"storage fault: {exc}")
                return HttpError(
                    503,
                    f"storage fault ({exc.kind}): {' '.join(str(exc).split())}; nothing was "
                    "stored, try again later",
                    exc.kind,
                ).response()

        return wrapped

    def proof_response(proof: ChainHeadWithProof) -> Response:
        return Response(proof.encode(), media_type=OCTETS, headers={"Cache-Control": NO_STORE})

    async def enroll(request: Request) -> Response:
        return proof_response(await service.enroll(request.path_params["domain"]))

    async def append(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        domain = service.authorize(request.path_params["domain"], token)  # before the body
        body = await read_body(request, MAX_APPEND_BODY)
        return proof_response(await service.append(domain, token, body))

    async def leaf(request: Request) -> Response:
        return proof_response(service.proof(normalize_domain(request.path_params["domain"])))

    async def entries_tile(request: Request) -> Response:
        domain = normalize_domain(request.path_params["domain"])
        index = parse_index(request.path_params["index"], limit=2**24, allow_partial=True)
        start = index.n * 256
        nodes = service.store.chain_nodes(domain, start, start + (index.width or 256))
        if not nodes or (index.width is not None and len(nodes) != index.width):
            raise HttpError(404, "no such tile (yet)", "not_found")
        if index.width is None and len(nodes) != 256:
            raise HttpError(404, f"tile {index.n} is partial: ask for .p/{len(nodes)}", "not_found")
        return Response(
            b"".join(n.entry.encode() for n in nodes),
            media_type=OCTETS,
            headers={"Cache-Control": IMMUTABLE if index.width is None else PARTIAL_TILE},
        )

    async def chain_hash(request: Request) -> Response:
        domain = normalize_domain(request.path_params["domain"])
        index = parse_index(request.path_params["index"], limit=2**32)
        nodes = service.store.chain_nodes(domain, index.n, index.n + 1)
        if not nodes:
            raise HttpError(404, f"{domain} has no entry {index.n}", "not_found")
        return Response(
            nodes[0].next_chain_hash(), media_type=OCTETS, headers={"Cache-Control": IMMUTABLE}
        )

    async def asset_hosts(request: Request) -> Response:
        text = request.path_params["digest"]
        if not text.startswith("sha256-"):
            raise HttpError(400, "digest must be sha256-<base64url>", "bad_digest")
        try:
            digest = b64udecode(text[7:], what="digest")
        except WaictError as exc:
            raise HttpError(400, str(exc), "bad_digest") from None
        vector = service.store.asset_hosts(digest)
        if vector is None:
            raise HttpError(404, "unknown asset-hosts hash", "not_found")
        return Response(
            vector,
            media_type=OCTETS,
            headers={"Cache-Control": IMMUTABLE},
        )

    async def tree_event_batch(request: Request) -> Response:
        index = parse_index(request.path_params["index"], limit=2**63)
        wait = bounded_number(
            request.query_params.get("wait"), "wait (seconds)", low=0, high=60, default=0
        )
        body = await service.wait_for_batch(index.n, wait)
        root = service.root(index.n + 1) if body is not None else None
        if body is None or root is None:
            raise HttpError(404, f"batch {index.n} is not published yet", "not_found")
        return Response(
            body,
            media_type=OCTETS,
            headers={
                "Cache-Control": IMMUTABLE,
                # the root after this batch: a witness whose replay differs sees a fork
                "Waict-Tree-Root": base64.b64encode(root).decode(),
            },
        )

    async def upload_cosignature(request: Request) -> Response:
        index = parse_index(request.path_params["index"], limit=2**63)
        body = await read_body(request, MAX_COSIGNATURE_BODY)
        await service.upload_cosignatures(index.n, body)
        return Response(status_code=204)

    async def checkpoint(request: Request) -> Response:
        if not service.cosigned:
            raise HttpError(503, "no cosigned root yet", "not_cosigned")
        return Response(
            service.signed_note(service.cosigned),
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": NO_STORE},
        )

    async def status(request: Request) -> Response:
        tree = service.trees.get(service.count)
        return JSONResponse(
            {
                "name": service.name,
                "batches": service.count,
                "cosigned": service.cosigned,
                "root": base64.b64encode(tree.root()).decode() if tree else None,
                "domains": service.domains,
                "pending": service.pending,
                "quorum": service.quorum,
                "storage_fault": str(service.storage_fault) if service.storage_fault else None,
                "witnesses": sorted({w.name for w in service.witnesses.values()}),
                "loop": service.loop.status(),
            },
            headers={"Cache-Control": NO_STORE},
        )

    routes = [
        Route("/enroll/{domain}", guard(enroll), methods=["POST"]),
        Route("/append/{domain}", guard(append), methods=["POST"]),
        Route("/leaf/{domain}", guard(leaf), methods=["GET"]),
        Route("/entries-tile/{domain}/{index:path}", guard(entries_tile), methods=["GET"]),
        Route("/chain-hash/{domain}/{index:path}", guard(chain_hash), methods=["GET"]),
        Route("/asset-hosts/{digest}", guard(asset_hosts), methods=["GET"]),
        Route("/tree-event-batch/{index:path}", guard(tree_event_batch), methods=["GET"]),
        Route("/upload-cosignature/{index:path}", guard(upload_cosignature), methods=["POST"]),
        Route("/checkpoint", guard(checkpoint), methods=["GET"]),
        Route("/status", guard(status), methods=["GET"]),
    ]

    app = Starlette(
        routes=routes, lifespan=service.loop.lifespan(), exception_handlers=JSON_HTTP_ERRORS
    )
    app.state.stop_hooks = [service.stop_waiting]
    return app
