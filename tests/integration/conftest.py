"""Fixtures for the integration tests: real HTTP servers on loopback, and a TEST DOUBLE of the
transparency service.

- :class:`LiveServer` runs any ASGI app with uvicorn in a background thread on a socket bound
  to a free loopback port (bound before the thread starts, so there is no port race).
- :class:`FakeTransparencyService` is **a test double**, not the transparency service: it
  speaks the HTTP API of docs/ts-api.md (enroll, append, leaf, entries-tile, chain-hash,
  asset-hosts) well enough to exercise the operator tools' HTTP clients, enforces the
  service's rules on who may change a chain (``/enroll`` of an enrolled domain needs a
  document whose ``prev`` names the head; ``/append`` needs the token and the head's
  ``prev``; a refusal stores nothing), and answers real,
  verifiable proofs built with ``tests/world.py`` (the deterministic test world) under a
  clock the test sets. It has no event batches, no witnesses and no persistence; the real
  service (waict/log/service.py) is tested on its own.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from world import NOW, World

from verifier import chain
from verifier.chain import ChainNode, Entry
from verifier.crypto import sha256
from verifier.encoding import b64decode, b64udecode
from verifier.errors import WaictError
from waict.log.http import parse_index


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="session")
def harness() -> SimpleNamespace:
    """The helper classes, for tests that build their own servers (no ``from conftest``)."""
    return SimpleNamespace(LiveServer=LiveServer, FakeTransparencyService=FakeTransparencyService)


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(app)`` starts a live server and returns it; all are stopped at teardown."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app).__enter__()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)


# --- the transparency-service test double --------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeTransparencyService:
    """TEST DOUBLE of the transparency service (see the module docstring)."""

    world: World = field(default_factory=World)
    now: int = NOW
    site_address: str = "127.0.0.1"
    site_port: int | None = None  # where the sites' /.well-known/waict-enroll is served
    tokens: dict[str, bytes] = field(default_factory=dict)
    vectors: dict[bytes, bytes] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    cosigners: tuple[str, ...] = ("w1.example", "w2.example")

    def nodes(self, host: str) -> list[ChainNode]:
        return self.world.chains.get(host, [])

    def add(self, host: str, rh: bytes, hosts: list[str]) -> ChainNode:
        nodes = self.world.chains.setdefault(host, [])
        vector = chain.encode_asset_hosts(hosts)
        self.vectors[chain.asset_hosts_hash(hosts)] = vector
        entry = Entry(len(nodes), self.now, rh, chain.asset_hosts_hash(hosts))
        node = chain.append_node(nodes[-1] if nodes else None, entry)
        nodes.append(node)
        return node

    def is_retry(self, host: str, prev: bytes | None, rh: bytes, hosts: list[str]) -> bool:
        """The request that made ``host``'s newest entry, sent again: the real service
        answers it with that entry (200), it does not apply it twice."""
        nodes = self.nodes(host)
        if not nodes:
            return False
        newest = nodes[-1].entry
        if newest.resource_hash != rh or newest.asset_hosts_hash != chain.asset_hosts_hash(hosts):
            return False
        made_with = nodes[-2].next_chain_hash() if len(nodes) > 1 else None
        return prev == made_with

    def proof_bytes(self, host: str) -> bytes:
        note = self.world.note({name: self.now - 60 for name in self.cosigners})
        return self.world.proof(host, note).encode()

    def rewrite(self, host: str, position: int) -> None:
        """Misbehave: replace the entry at ``position`` and rebuild the chain after it."""
        nodes = self.nodes(host)
        old = nodes[position].entry
        entries = [n.entry for n in nodes]
        entries[position] = Entry(
            old.position, old.time_created, sha256(b"evil"), old.asset_hosts_hash
        )
        rebuilt: list[ChainNode] = []
        for e in entries:
            rebuilt.append(chain.append_node(rebuilt[-1] if rebuilt else None, e))
        self.world.chains[host] = rebuilt

    # --- HTTP ---------------------------------------------------------------------------
    def app(self) -> Starlette:
        def err(status: int, message: str, detail: str) -> JSONResponse:
            return JSONResponse({"error": message, "detail": detail}, status_code=status)

        async def record(request: Request) -> None:
            self.requests.append(
                Recorded(
                    request.method, request.url.path, dict(request.headers), await request.body()
                )
            )

        def proof_response(host: str) -> Response:
            return Response(self.proof_bytes(host), media_type="application/octet-stream")

        async def enroll(request: Request) -> Response:
            await record(request)
            host = request.path_params["domain"]
            port = f":{self.site_port}" if self.site_port else ""
            try:
                answer = httpx.get(
                    f"http://{self.site_address}{port}/.well-known/waict-enroll",
                    headers={"Host": host},
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                return err(
                    502, f"could not fetch the enrollment document: {exc}", "enroll_fetch_failed"
                )
            if answer.status_code != 200:
                return err(
                    502, f"enrollment document: HTTP {answer.status_code}", "enroll_fetch_failed"
                )
            doc = json.loads(answer.content)
            # the rule of the real service (docs/decisions.md, "No unauthenticated change to
            # an enrolled chain"): a domain with a chain is enrolled again only by a document
            # whose prev names its current head; a refusal stores nothing
            nodes = self.nodes(host)
            prev = b64decode(doc["prev"]) if doc.get("prev") is not None else None
            token = b64udecode(doc["token_sha256"])
            retry = self.is_retry(host, prev, b64decode(doc["resource_hash"]), doc["asset_hosts"])
            if retry and self.tokens.get(host) == token:
                return proof_response(host)
            if nodes:
                if doc.get("prev") is None:
                    return err(409, f"{host} is already enrolled", "already_enrolled")
                if b64decode(doc["prev"]) != nodes[-1].next_chain_hash():
                    return err(409, "prev does not match the chain's head", "stale_prev")
            self.tokens[host] = b64udecode(doc["token_sha256"])
            self.add(host, b64decode(doc["resource_hash"]), doc["asset_hosts"])
            return proof_response(host)

        async def append(request: Request) -> Response:
            await record(request)
            host = request.path_params["domain"]
            if host not in self.tokens:
                return err(400, "not enrolled", "not_enrolled")
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or sha256(auth[7:].encode()) != self.tokens[host]:
                return err(401, "missing or wrong bearer token", "unauthorized")
            body = json.loads(await request.body())
            nodes = self.nodes(host)
            rh, prev = b64decode(body["resource_hash"]), b64decode(body["prev"])
            if len(nodes) > 1 and self.is_retry(host, prev, rh, body["asset_hosts"]):
                return proof_response(host)
            if prev != nodes[-1].next_chain_hash():
                return err(409, "prev does not match", "stale_prev")
            self.add(host, b64decode(body["resource_hash"]), body["asset_hosts"])
            return proof_response(host)

        async def leaf(request: Request) -> Response:
            await record(request)
            host = request.path_params["domain"]
            if not self.nodes(host):
                return err(404, "not in the tree", "not_found")
            return proof_response(host)

        async def entries_tile(request: Request) -> Response:
            await record(request)
            host = request.path_params["domain"]
            index = parse_index(request.path_params["index"], limit=2**24, allow_partial=True)
            start = index.n * 256
            nodes = self.nodes(host)[start : start + (index.width or 256)]
            if not nodes or len(nodes) != (index.width or 256):
                return err(404, "no such tile", "not_found")
            return Response(b"".join(n.entry.encode() for n in nodes))

        async def chain_hash(request: Request) -> Response:
            await record(request)
            index = parse_index(request.path_params["index"], limit=2**32)
            nodes = self.nodes(request.path_params["domain"])
            if index.n >= len(nodes):
                return err(404, "no such entry", "not_found")
            return Response(nodes[index.n].next_chain_hash())

        async def asset_hosts(request: Request) -> Response:
            await record(request)
            text = request.path_params["digest"]
            try:
                digest = b64udecode(text[len("sha256-") :])
            except WaictError:
                return err(400, "bad digest", "bad_digest")
            vector = self.vectors.get(digest)
            if vector is None:
                return err(404, "unknown", "not_found")
            return Response(vector)

        return Starlette(
            routes=[
                Route("/enroll/{domain}", enroll, methods=["POST"]),
                Route("/append/{domain}", append, methods=["POST"]),
                Route("/leaf/{domain}", leaf, methods=["GET"]),
                Route("/entries-tile/{domain}/{index:path}", entries_tile, methods=["GET"]),
                Route("/chain-hash/{domain}/{index:path}", chain_hash, methods=["GET"]),
                Route("/asset-hosts/{digest}", asset_hosts, methods=["GET"]),
            ]
        )
