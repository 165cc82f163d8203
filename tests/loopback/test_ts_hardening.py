"""The transparency service under hostile input (issue 10), as a real HTTP server on
loopback: every answer to bad input is a 4xx with a one-line JSON error, never a 500, a hang
or a change of state."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier import chain
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64uencode
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import WitnessService, create_witness_app

TS_NAME = "ts.example"
WIT = "w1.example"
HOST = "site.example"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def rh(version: int) -> bytes:
    return chain.resource_hash(b"manifest v%d" % version)


class Log:
    """A site serving well-known documents, the service, and one witness (quorum 1)."""

    def __init__(self, tmp: Path, servers: list[ServerThread]) -> None:
        self.tmp = tmp
        self.servers = servers
        self.well_known: dict[str, bytes] = {}
        self.site = self._start(Starlette(routes=[Route("/.well-known/waict-enroll", self._doc)]))
        self.service = TransparencyService(
            SqliteStore(tmp / "ts.sqlite"),
            TS_NAME,
            [Witness(WIT, ed25519_public_key(seed_for(WIT)))],
            1,
            system_clock(),
            http_enroll_fetcher("http", self.site.port, connect="127.0.0.1"),
            batch_interval=0.05,
            append_timeout=30,
        )
        self.ts = self._start(create_ts_app(self.service))
        self.url = self.ts.url
        witness = WitnessService(
            tmp / "w.sqlite", WIT, seed_for(WIT), self.url, TS_NAME, system_clock(), poll_wait=1.0
        )
        self._start(create_witness_app(witness))

    def _start(self, app: Any) -> ServerThread:
        server = ServerThread(app).start()
        self.servers.append(server)
        return server

    async def _doc(self, request: Request) -> Response:
        body = self.well_known.get(request.headers["host"].split(":")[0])
        return Response(body, media_type="application/json") if body else Response(status_code=404)

    def publish_doc(self, host: str, version: int, token: str, **extra: Any) -> None:
        doc = {
            "resource_hash": b64(rh(version)),
            "asset_hosts": ["https://assets.example/"],
            "token_sha256": b64uencode(sha256(token.encode())),
            **extra,
        }
        self.well_known[host] = json.dumps(doc).encode()

    def enroll(self, host: str) -> httpx.Response:
        return httpx.post(f"{self.url}/enroll/{host}", timeout=60)

    def append(self, host: str, version: int, token: str, prev: bytes) -> httpx.Response:
        body = {
            "resource_hash": b64(rh(version)),
            "asset_hosts": ["https://assets.example/"],
            "prev": b64(prev),
        }
        return httpx.post(
            f"{self.url}/append/{host}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def leaf(self, host: str) -> ChainHeadWithProof:
        r = httpx.get(f"{self.url}/leaf/{host}", timeout=30)
        assert r.status_code == 200, r.text
        return ChainHeadWithProof.decode(r.content)


@pytest.fixture
def log(tmp_path: Path, servers: list[ServerThread]) -> Iterator[Log]:
    made = Log(tmp_path, servers)
    yield made


def assert_json_error(r: httpx.Response, status: int, detail: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error", "detail"} and "\n" not in body["error"], body
    if detail is not None:
        assert body["detail"] == detail, body


# --- class 1: numbers from a request are finite and bounded --------------------------------


@pytest.mark.parametrize(
    "wait", ["nan", "NaN", "inf", "-inf", "1e400", "-1", "61", "abc", "", "0x10", "1" * 40]
)
def test_long_poll_wait_must_be_finite_and_bounded(log: Log, wait: str) -> None:
    r = httpx.get(f"{log.url}/tree-event-batch/000", params={"wait": wait}, timeout=30)
    assert_json_error(r, 400, "bad_request")
    # the timer queue is intact: an enrollment (which waits on timers) still completes
    log.publish_doc(HOST, 1, "tok")
    started = time.monotonic()
    r = log.enroll(HOST)
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 30
