"""The transparency service under hostile input (issue 10), as a real HTTP server on
loopback: every answer to bad input is a 4xx with a one-line JSON error, never a 500, a hang
or a change of state."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
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
from waict.log.store import open_store
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

    def __init__(self, tmp: Path, servers: list[ServerThread], store: str | None = None) -> None:
        self.tmp = tmp
        self.servers = servers
        self.well_known: dict[str, bytes] = {}
        self.site = self._start(Starlette(routes=[Route("/.well-known/waict-enroll", self._doc)]))
        self.service = TransparencyService(
            open_store(store or str(tmp / "ts.sqlite")),
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
        host = request.headers["host"].split(":")[0]
        if host == "drip.example":  # one byte every half second, for two minutes

            async def drip() -> AsyncIterator[bytes]:
                for _ in range(240):
                    yield b" "
                    await asyncio.sleep(0.5)

            return StreamingResponse(drip(), media_type="application/json")
        if host == "big.example":  # 2 MiB, no Content-Length

            async def big() -> AsyncIterator[bytes]:
                for _ in range(32):
                    yield b" " * 65536

            return StreamingResponse(big(), media_type="application/json")
        body = self.well_known.get(host)
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
def log(tmp_path: Path, servers: list[ServerThread], store_spec: str) -> Iterator[Log]:
    """The service on each store (SQLite file, PostgreSQL): bad input is refused the same way
    and changes nothing on both."""
    made = Log(tmp_path, servers, store_spec)
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


# --- class 11: bounds before state, one domain rule for service and witness ---------------


def test_oversized_asset_host_list_changes_nothing(log: Log) -> None:
    hosts = [f"https://h{i:02d}.example/" + "a" * 491 for i in range(16)]  # 16 x 513 > 8191
    log.publish_doc(HOST, 1, "tok", asset_hosts=hosts)
    assert_json_error(log.enroll(HOST), 400)
    assert log.service.store.token_hash(HOST) is None  # no binding left behind
    assert log.service.pending == 0
    # an enrolled domain: the append is refused the same way and the head stays
    log.publish_doc(HOST, 1, "tok")
    first = ChainHeadWithProof.decode(log.enroll(HOST).content)
    r = httpx.post(
        f"{log.url}/append/{HOST}",
        json={
            "resource_hash": b64(rh(2)),
            "asset_hosts": hosts,
            "prev": b64(first.head.next_chain_hash()),
        },
        headers={"Authorization": "Bearer tok"},
        timeout=30,
    )
    assert_json_error(r, 400)
    assert log.leaf(HOST).head == first.head
    assert log.service.pending == 0


BAD_DOMAINS = [
    "site.example%0A",
    "site.example%0a.",
    "127.0.0.1",
    "127.1",
    "1.0x7f",
    "localhost",
    "app.localhost",
    "intranet",
    "%5B::1%5D",
    "-a.example",
    "a-.example",
    "a_b.example",
    "a..example",
    "x" * 64 + ".example",
    ("a" * 60 + ".") * 5 + "example",
]


@pytest.mark.parametrize("domain", BAD_DOMAINS)
def test_enroll_refuses_names_that_are_not_public_dns_names(log: Log, domain: str) -> None:
    fetched: list[str] = []
    original = log.service.enroll_fetch

    async def spy(name: str) -> bytes:
        fetched.append(name)
        return await original(name)

    log.service.enroll_fetch = spy
    for host in ("site.example\n", "127.0.0.1", "localhost", "intranet"):
        log.publish_doc(host, 1, "tok")
    r = httpx.post(f"{log.url}/enroll/{domain}", timeout=30)
    assert_json_error(r, 400, "bad_domain")
    assert fetched == [] and log.service.store.domain_count() == 0
    assert log.service.pending == 0


def _raw_batch(domain: bytes) -> bytes:
    import struct

    event = (
        bytes((len(domain),))
        + domain
        + bytes((0,))
        + struct.pack(">H", 0)
        + rh(1)
        + struct.pack(">Q", int(time.time()))
    )
    return struct.pack(">H", 1) + len(event).to_bytes(3, "big") + event


@pytest.mark.parametrize(
    "domain", [b"site.example\n", b"127.0.0.1", b"localhost", b"intranet", b"a..example"]
)
def test_witness_refuses_a_batch_with_a_bad_domain(tmp_path: Path, domain: bytes) -> None:
    from verifier.events import EventError

    w = WitnessService(
        tmp_path / "w.sqlite", WIT, seed_for(WIT), "http://127.0.0.1:9", TS_NAME, system_clock()
    )
    assert w.process_batch(0, _raw_batch(b"good.example")).count == 1
    with pytest.raises(EventError):
        w.process_batch(1, _raw_batch(domain))
    assert w.count == 1 and w.signed(2) is None
    w.close()


# --- class 2: a stranger cannot change an enrolled domain's chain ---------------------------


def test_enroll_cannot_change_an_enrolled_domains_chain(log: Log) -> None:
    log.publish_doc(HOST, 1, "tok-a")
    first = ChainHeadWithProof.decode(log.enroll(HOST).content)
    r = log.append(HOST, 2, "tok-a", first.head.next_chain_hash())
    assert r.status_code == 200, r.text
    second = ChainHeadWithProof.decode(r.content)
    # the site's first document is still served: anyone may POST /enroll again
    for _ in range(3):
        assert_json_error(log.enroll(HOST), 409, "already_enrolled")
    # a document naming an old head cannot roll the chain back either
    log.publish_doc(HOST, 1, "tok-x", prev=b64(first.head.next_chain_hash()))
    assert_json_error(log.enroll(HOST), 409, "stale_prev")
    time.sleep(0.3)  # a batch would have been cut by now
    assert log.service.pending == 0
    assert log.leaf(HOST).head == second.head
    assert log.service.store.token_hash(HOST) == sha256(b"tok-a")
    # the domain itself may re-enroll (a lost token): its document names the current head,
    # so it applies once
    log.publish_doc(HOST, 3, "tok-b", prev=b64(second.head.next_chain_hash()))
    r = log.enroll(HOST)
    assert r.status_code == 200, r.text
    third = ChainHeadWithProof.decode(r.content)
    assert third.head.position == 2 and third.head.entry.resource_hash == rh(3)
    # sending it again changes nothing: it is answered with the entry it made (a re-run of
    # an interrupted enrolment converges), never appended twice
    again = log.enroll(HOST)
    assert again.status_code == 200, again.text
    assert ChainHeadWithProof.decode(again.content).head == third.head
    assert_json_error(log.append(HOST, 4, "tok-a", third.head.next_chain_hash()), 401)
    assert log.append(HOST, 4, "tok-b", third.head.next_chain_hash()).status_code == 200


# --- class 5: limits on bodies and on the enrollment fetch ----------------------------------


def raw_request(url: str, head: bytes, body: bytes = b"", timeout: float = 30) -> bytes:
    """Send ``head`` (and ``body``), then read what the server answers before closing."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data or len(data) < 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data


def test_bodies_are_bounded_and_read_after_the_token_check(log: Log) -> None:
    log.publish_doc(HOST, 1, "tok")
    first = ChainHeadWithProof.decode(log.enroll(HOST).content)
    huge = b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    # no token: refused at once, without waiting for 100 MB
    answer = raw_request(
        log.url, b"POST /append/" + HOST.encode() + b" HTTP/1.1\r\nHost: t\r\n" + huge
    )
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    # the right token, a body declared too large: 413 at once
    answer = raw_request(
        log.url,
        b"POST /append/"
        + HOST.encode()
        + b" HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tok\r\n"
        + huge,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    # ... or streamed without a length: 413 once it passes the bound
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 4096

    r = httpx.post(
        f"{log.url}/append/{HOST}",
        content=chunks(),
        headers={"Authorization": "Bearer tok"},
        timeout=30,
    )
    assert_json_error(r, 413, "too_large")
    r = httpx.post(f"{log.url}/upload-cosignature/001", content=b"x" * 100_000, timeout=30)
    assert_json_error(r, 413, "too_large")
    assert log.leaf(HOST).head == first.head


def test_enrollment_fetch_has_one_deadline_and_a_byte_bound(log: Log) -> None:
    started = time.monotonic()
    r = httpx.post(f"{log.url}/enroll/drip.example", timeout=90)
    assert_json_error(r, 502, "enroll_fetch_failed")
    assert "within" in r.json()["error"]
    assert time.monotonic() - started < 60  # 10 s deadline; the drip lasts 120 s
    r = httpx.post(f"{log.url}/enroll/big.example", timeout=90)
    assert_json_error(r, 502, "enroll_fetch_failed")
    assert "larger than" in r.json()["error"]
    assert log.service.store.domain_count() == 0


# --- every route, garbage in: a 4xx with a one-line JSON error, no state change -------------


def _garbage(rng: random.Random) -> str:
    pieces = [
        "",
        ".",
        "..",
        "/",
        "%00",
        "%0A",
        "%2F",
        "%ff%fe",
        "nan",
        "-1",
        "inf",
        "1e999",
        "x001/x/1",
        "000.p/0",
        "000.p/999",
        "x000/000",
        "18446744073709551616",
        "site.example",
        "SITE.EXAMPLE.",
        "a" * 300,
        "é.example",
        "xn--.example",
        "[::1]",
        "127.0.0.1",
        "sha256-",
        "sha256-" + "A" * 43,
        "sha256-!!!!",
        "\u2028",
        "\\u0000",
    ]
    out = rng.choice(pieces)
    for _ in range(rng.randrange(3)):
        out += rng.choice(["/", "", "."]) + rng.choice(pieces)
    if rng.random() < 0.3:
        out += "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(1, 20)))
    return out


def _body(rng: random.Random) -> bytes:
    choices: list[Any] = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"[" * 50000 + b"]" * 50000,
        os.urandom(rng.randrange(1, 2000)),
        json.dumps({"resource_hash": 5, "asset_hosts": "x", "prev": None}).encode(),
        json.dumps(
            {"resource_hash": b64(b"\0" * 31), "asset_hosts": [1, 2], "prev": "!!"}
        ).encode(),
        json.dumps(
            {"resource_hash": b64(rh(9)), "asset_hosts": ["ftp://x/"], "prev": b64(b"\1" * 32)}
        ).encode(),
        json.dumps(
            {"resource_hash": b64(rh(9)), "asset_hosts": [], "prev": b64(b"\1" * 32)}
        ).encode(),
        "— w1.example AAAA\n".encode(),
        "— w9.example ".encode() + base64.b64encode(os.urandom(76)) + b"\n",
        b"\xff\xfe\n",
    ]
    return rng.choice(choices)  # type: ignore[no-any-return]


DOMAIN_ROUTES = {"enroll", "append", "leaf", "entries-tile", "chain-hash"}
ROUTES = [
    ("POST", "/enroll/{}"),
    ("POST", "/append/{}"),
    ("GET", "/leaf/{}"),
    ("GET", "/entries-tile/{}/{}"),
    ("GET", "/chain-hash/{}/{}"),
    ("GET", "/asset-hosts/{}"),
    ("GET", "/tree-event-batch/{}"),
    ("POST", "/upload-cosignature/{}"),
    ("GET", "/checkpoint"),
    ("GET", "/status"),
    ("GET", "/{}"),
    ("DELETE", "/leaf/{}"),
]


def _state(log: Log) -> Any:
    store = log.service.store
    status = httpx.get(f"{log.url}/status", timeout=30).json()
    return (
        status,
        store.domain_count(),
        store.batch_count(),
        log.service.pending,
        store.token_hash(HOST),
        [c.line for c in store.cosignatures(status["cosigned"])],
    )


def test_garbage_on_every_route_is_a_json_4xx_and_changes_nothing(log: Log) -> None:
    log.publish_doc(HOST, 1, "tok")
    first = ChainHeadWithProof.decode(log.enroll(HOST).content)
    assert log.append(HOST, 2, "tok", first.head.next_chain_hash()).status_code == 200
    time.sleep(1.5)  # the witness is idle again
    before = _state(log)
    rng = random.Random(20261130)
    seen: dict[tuple[str, str, int], int] = {}
    with httpx.Client(base_url=log.url, timeout=30) as client:
        for i in range(400):
            method, template = ROUTES[i % len(ROUTES)]
            args = [_garbage(rng) for _ in range(template.count("{}"))]
            domain_first = template.split("/")[1] in DOMAIN_ROUTES
            if domain_first and rng.random() < 0.5:
                args[0] = HOST  # the enrolled domain, so the handlers' checks run
            path = template.format(*args)
            path = "/" + quote(path.lstrip("/"), safe="/%.-_~") if rng.random() < 0.8 else path
            headers = {}
            if rng.random() < 0.5:
                headers["Authorization"] = rng.choice(
                    ["Bearer tok", "Bearer x y", "Basic x", "Bearer \u00e9"]
                )
            params = {"wait": _garbage(rng)[:50]} if rng.random() < 0.3 else None
            try:
                r = client.request(
                    method,
                    path,
                    content=_body(rng) if method != "GET" else None,
                    headers={k: v.encode("utf-8") for k, v in headers.items()},
                    params=params,
                )
            except httpx.InvalidURL:
                continue
            what = f"{method} {path!r} -> {r.status_code} {r.text[:200]!r}"
            seen[(method, template, r.status_code)] = (
                seen.get((method, template, r.status_code), 0) + 1
            )
            if r.status_code >= 500:
                assert r.status_code == 502 and r.json()["detail"] == "enroll_fetch_failed", what
            if r.status_code >= 400:
                body = r.json()
                assert set(body) == {"error", "detail"} and "\n" not in body["error"], what
    statuses = {status for _, _, status in seen}
    assert {400, 401, 404, 409} <= statuses, seen  # the handlers' checks were reached
    assert _state(log) == before
    assert log.leaf(HOST).head.position == 1


def test_garbage_on_the_asset_host_is_a_json_4xx_and_stores_nothing(
    tmp_path: Path, servers: list[ServerThread]
) -> None:
    from waict.log.assets import create_assets_app

    server = ServerThread(create_assets_app(tmp_path / "assets", "right-token")).start()
    servers.append(server)
    rng = random.Random(7)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for i in range(150):
            method = ["GET", "HEAD", "PUT", "POST", "DELETE"][i % 5]
            path = rng.choice(["/fetch/", "/upload", "/", "/fetch/sha256-"]) + _garbage(rng)
            headers: dict[str, bytes] = {}
            if rng.random() < 0.7:
                headers["Authorization"] = rng.choice(
                    ["Bearer wrong", "Bearer right-token-no", "Basic x", "Bearer \u00e9"]
                ).encode()
            try:
                r = client.request(
                    method, quote(path, safe="/%.-_~"), content=_body(rng), headers=headers
                )
            except (httpx.InvalidURL, httpx.LocalProtocolError):
                continue
            what = f"{method} {path!r} -> {r.status_code} {r.text[:200]!r}"
            assert r.status_code < 500, what
            if r.status_code >= 400 and method != "HEAD":
                body = r.json()
                assert set(body) == {"error", "detail"} and "\n" not in body["error"], what
    for length in (b"-1", b"nan", b"1e9", b"99999999999999999999", b"300000000"):
        head = b"PUT /upload HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer right-token\r\n"
        answer = raw_request(server.url, head + b"Content-Length: " + length + b"\r\n\r\n")
        assert answer[9:10] == b"4", (length, answer[:200])
    assert list((tmp_path / "assets" / "objects").iterdir()) == []
    assert list((tmp_path / "assets" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["10.1.2.3"], ["93.184.216.34", "192.168.0.1"], ["::1"], []]
)
def test_enrollment_fetch_refuses_names_resolving_to_non_public_addresses(
    addresses: list[str],
) -> None:
    """A public-looking name pointing at the service's own network is no fetch target (the
    loopback tests name their address with ``connect=`` instead)."""
    from servers import run_async

    async def resolve(domain: str) -> list[str]:
        return addresses

    fetch = http_enroll_fetcher("http", 9, timeout=5, resolve=resolve)

    async def run() -> str:
        try:
            await fetch("site.example")
        except RuntimeError as exc:
            return str(exc)
        return "fetched"

    message = run_async(run)
    assert "not a public address" in message or "does not resolve" in message, message
