"""A small real ecosystem for the monitor and explorer tests: the transparency service, three
witnesses (quorum 2), an asset host, one site app serving every test domain (by ``Host``),
and a webhook receiver that counts raw deliveries. All on loopback, in this process."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier import chain
from verifier.chain import ZERO_HASH
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64uencode
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.assets import create_assets_app
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import WitnessService, create_witness_app

TS_NAME = "ts.example"
WITNESSES = ("w1.example", "w2.example", "w3.example")
ASSET_TOKEN = "asset-upload-token"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def manifest_line(host: str, files: dict[str, bytes], **members: Any) -> bytes:
    hashes = {f"https://{host}/{name}": b64uencode(sha256(body)) for name, body in files.items()}
    return json.dumps({"hashes": hashes, **members}, separators=(",", ":"), sort_keys=True).encode()


class Receiver:
    """A webhook receiver: records every POST body it answers; the first ``fail_first``
    requests get a 500 (and are counted apart)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.failed = 0
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self.lock:
            if self.failed < self.fail_first:
                self.failed += 1
                return Response("try later", status_code=500)
            assert request.headers["idempotency-key"] == body["id"]
            self.received.append(body)
        return Response(status_code=204)


PASSED_HEADERS = ("authorization", "content-type")


class TsProxy:
    """A reverse proxy in front of the transparency service, for the monitor to read through:
    it passes every request on, except that ``lie`` makes it answer ``/leaf/<domain>`` with
    the leaf of another domain (a misbehaving service); ``stop``/``start`` take it off the
    network and back on the same port (an outage)."""

    def __init__(self, target: str, servers: list[ServerThread]) -> None:
        self.target = target
        self.servers = servers
        self.lies: dict[str, str] = {}  # domain -> the domain whose leaf is served instead
        self.app = Starlette(
            routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT"])]
        )
        self.server = ServerThread(self.app).start()
        self.servers.append(self.server)
        self.port = self.server.port
        self.url = self.server.url

    def lie(self, domain: str, instead: str | None) -> None:
        if instead is None:
            self.lies.pop(domain, None)
        else:
            self.lies[domain] = instead

    def stop(self) -> None:
        self.server.stop()
        self.servers.remove(self.server)

    def start(self) -> None:
        self.server = ServerThread(self.app, port=self.port).start()
        self.servers.append(self.server)

    async def _forward(self, request: Request) -> Response:
        path = request.url.path
        for domain, instead in self.lies.items():
            if path == f"/leaf/{domain}":
                path = f"/leaf/{instead}"
        query = f"?{request.url.query}" if request.url.query else ""
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.request(
                request.method,
                self.target + path + query,
                content=await request.body(),
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k in ("authorization", "content-type")
                },
            )
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type",)}
        return Response(answer.content, status_code=answer.status_code, headers=kept)


class MonitorWorld:
    def __init__(self, tmp: Path, servers: list[ServerThread]) -> None:
        self.tmp = tmp
        self.servers = servers
        self.well_known: dict[str, bytes] = {}
        self.current: dict[str, bytes] = {}  # host -> manifest line the site serves
        self.tokens: dict[str, str] = {}
        self.heads: dict[str, ChainHeadWithProof] = {}
        self.site = self._start(
            Starlette(
                routes=[
                    Route("/.well-known/waict-enroll", self._enroll_doc),
                    Route("/", self._page),
                    Route("/.well-known/waict/manifests/{id}", self._manifest),
                ]
            )
        )
        self.assets = self._start(create_assets_app(tmp / "assets", ASSET_TOKEN))
        self.asset_hosts = [self.assets.url + "/"]
        witnesses = [Witness(n, ed25519_public_key(seed_for(n))) for n in WITNESSES]
        self.service = TransparencyService(
            SqliteStore(tmp / "ts.sqlite"),
            TS_NAME,
            witnesses,
            2,
            system_clock(),
            http_enroll_fetcher("http", self.site.port, connect="127.0.0.1"),
            batch_interval=0.05,
            append_timeout=20,
        )
        self.ts = self._start(create_ts_app(self.service))
        self.witnesses = {n: self._start_witness(n) for n in WITNESSES}

    # --- servers ---------------------------------------------------------------------------
    def _start(self, app: Any) -> ServerThread:
        server = ServerThread(app).start()
        self.servers.append(server)
        return server

    def _start_witness(self, name: str) -> ServerThread:
        service = WitnessService(
            self.tmp / f"{name}.sqlite",
            name,
            seed_for(name),
            self.ts.url,
            TS_NAME,
            system_clock(),
            poll_wait=1.0,
        )
        return self._start(create_witness_app(service))

    def stop_witness(self, name: str) -> None:
        server = self.witnesses.pop(name)
        server.stop()
        self.servers.remove(server)

    def start_receiver(self, receiver: Receiver) -> str:
        return self._start(receiver.app).url + "/hook"

    # --- the site --------------------------------------------------------------------------
    def _host(self, request: Request) -> str:
        return request.headers["host"].split(":")[0]

    async def _enroll_doc(self, request: Request) -> Response:
        body = self.well_known.get(self._host(request))
        return Response(body, media_type="application/json") if body else Response(status_code=404)

    async def _page(self, request: Request) -> Response:
        line = self.current.get(self._host(request))
        if line is None:
            return Response("not here", status_code=404)
        mid = b64uencode(sha256(line))[:22]
        header = f'max-age=0, mode=enforce, manifest="/.well-known/waict/manifests/{mid}"'
        return Response("<p>hello</p>", headers={"Integrity-Policy-WAICT-v1": header})

    async def _manifest(self, request: Request) -> Response:
        line = self.current.get(self._host(request))
        if line is None:
            return Response(status_code=404)
        return Response(line + b"\n\n", media_type="application/waict-integrity-manifest")

    def origin(self, host: str) -> str:
        return f"http://{host}:{self.site.port}"

    # --- publishing --------------------------------------------------------------------------
    def upload(self, data: bytes) -> None:
        r = httpx.put(
            self.assets.url + "/upload",
            content=data,
            headers={"Authorization": f"Bearer {ASSET_TOKEN}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text

    def enroll(self, host: str, line: bytes) -> ChainHeadWithProof:
        token = secrets.token_urlsafe(16)
        self.tokens[host] = token
        self.upload(line)
        self.current[host] = line
        self.well_known[host] = json.dumps(
            {
                "resource_hash": b64(chain.resource_hash(line)),
                "asset_hosts": self.asset_hosts,
                "token_sha256": b64uencode(sha256(token.encode())),
            }
        ).encode()
        r = httpx.post(f"{self.ts.url}/enroll/{host}", timeout=60)
        assert r.status_code == 200, r.text
        self.heads[host] = ChainHeadWithProof.decode(r.content)
        return self.heads[host]

    def append(self, host: str, line: bytes | None, *, timeout: float = 60) -> httpx.Response:
        """Log ``line`` (None: a transparency tombstone); the site then serves it."""
        rh = ZERO_HASH if line is None else chain.resource_hash(line)
        if line is not None:
            self.upload(line)
            self.current[host] = line
        body = {
            "resource_hash": b64(rh),
            "asset_hosts": self.asset_hosts,
            "prev": b64(self.heads[host].head.next_chain_hash()),
        }
        r = httpx.post(
            f"{self.ts.url}/append/{host}",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[host]}"},
            timeout=timeout,
        )
        if r.status_code == 200:
            self.heads[host] = ChainHeadWithProof.decode(r.content)
        return r

    def append_uncosigned(self, host: str, line: bytes) -> None:
        """Append while no quorum is up: the client gives up waiting; the batch is out."""
        before = self.status()["batches"]
        with contextlib.suppress(httpx.TimeoutException):
            self.append(host, line, timeout=2)
        deadline = time.monotonic() + 60
        while self.status()["batches"] <= before:
            assert time.monotonic() < deadline, "the batch was not published"
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        return dict(httpx.get(self.ts.url + "/status", timeout=30).json())

    def trust(self) -> dict[str, Any]:
        return {
            "transparency_services": [TS_NAME],
            "quorum": 2,
            "witnesses": [
                {"name": n, "key": b64(ed25519_public_key(seed_for(n)))} for n in WITNESSES
            ],
        }

    def wait_cosigned_by_all(self) -> None:
        """Until every running witness has cosigned the newest batch."""
        deadline = time.monotonic() + 60
        while True:
            status = self.status()
            note = httpx.get(self.ts.url + "/checkpoint", timeout=30).text
            signers = {line.split(" ")[1] for line in note.splitlines() if line.startswith("—")}
            if status["cosigned"] == status["batches"] and set(self.witnesses) <= signers:
                return
            assert time.monotonic() < deadline, f"not cosigned by all: {status} {signers}"
            time.sleep(0.1)
