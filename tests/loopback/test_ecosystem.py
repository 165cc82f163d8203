"""The transparency service and two witnesses as real HTTP servers on loopback.

Enroll, append, cosign, fetch the proof, and `decide` accepts it; then each attack is
refused with a clear error, and restarts lose nothing that was acknowledged.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
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

from verifier import chain, decide
from verifier.chain import ZERO_HASH
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64uencode
from verifier.events import EventError, TreeEvent, encode_batch
from verifier.note import NoteBody, Witness, cosign
from verifier.proof import ChainHeadWithProof
from waict.common.tiles import encode_index
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import ConflictingRootError, WitnessService, create_witness_app

TS_NAME = "ts.example"
W = ("w1.example", "w2.example")
HOST = "site.example"
ASSETS = ["http://assets.example/"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Ecosystem:
    def __init__(self, tmp: Path, servers: list[ServerThread]) -> None:
        self.tmp = tmp
        self.servers = servers
        self.well_known: dict[str, bytes] = {}
        self.site = self._start(
            Starlette(routes=[Route("/.well-known/waict-enroll", self._enroll_doc)])
        )
        self.ts_port: int | None = None
        self.ts: ServerThread | None = None
        self.witnesses: list[ServerThread] = []
        self.start_ts()
        for name in W:
            self.start_witness(name)

    def _start(self, app: Any, port: int | None = None) -> ServerThread:
        server = ServerThread(app, port).start()
        self.servers.append(server)
        return server

    async def _enroll_doc(self, request: Request) -> Response:
        host = request.headers["host"].split(":")[0]
        body = self.well_known.get(host)
        return Response(body, media_type="application/json") if body else Response(status_code=404)

    def start_ts(self) -> None:
        witnesses = [Witness(n, ed25519_public_key(seed_for(n))) for n in W]
        self.service = TransparencyService(
            SqliteStore(self.tmp / "ts.sqlite"),
            TS_NAME,
            witnesses,
            2,
            system_clock(),
            http_enroll_fetcher("http", self.site.port, connect="127.0.0.1"),
            batch_interval=0.05,
            append_timeout=20,
        )
        self.ts = self._start(create_ts_app(self.service), self.ts_port)
        self.ts_port = self.ts.port

    def start_witness(self, name: str) -> WitnessService:
        assert self.ts is not None
        service = WitnessService(
            self.tmp / f"{name}.sqlite",
            name,
            seed_for(name),
            self.ts.url,
            TS_NAME,
            system_clock(),
            poll_wait=1.0,
        )
        self.witnesses.append(self._start(create_witness_app(service)))
        return service

    def stop_all(self) -> None:
        for s in [*self.witnesses, self.ts]:
            assert s is not None
            s.stop()
            self.servers.remove(s)
        self.witnesses = []
        self.service.store.close()

    @property
    def url(self) -> str:
        assert self.ts is not None
        return self.ts.url

    def trust(self) -> dict[str, Any]:
        return {
            "transparency_services": [TS_NAME],
            "quorum": 2,
            "witnesses": [{"name": n, "key": b64(ed25519_public_key(seed_for(n)))} for n in W],
        }

    def enroll(self, host: str, line: bytes, token: str) -> httpx.Response:
        self.well_known[host] = json.dumps(
            {
                "resource_hash": b64(chain.resource_hash(line)),
                "asset_hosts": ASSETS,
                "token_sha256": b64uencode(sha256(token.encode())),
            }
        ).encode()
        return httpx.post(f"{self.url}/enroll/{host}", timeout=30)

    def append(self, host: str, rh: bytes, token: str, prev: bytes) -> httpx.Response:
        body = {"resource_hash": b64(rh), "asset_hosts": ASSETS, "prev": b64(prev)}
        return httpx.post(
            f"{self.url}/append/{host}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


def manifest(version: int) -> bytes:
    return json.dumps(
        {"hashes": {f"https://{HOST}/app.js": b64uencode(sha256(b"v%d" % version))}},
        separators=(",", ":"),
    ).encode()


def verdict_for(eco: Ecosystem, line: bytes, proof: bytes, body: bytes) -> dict[str, Any]:
    scenario = {
        "now": int(time.time()),
        "trust": eco.trust(),
        "preload": None,
        "url": f"https://{HOST}/",
        "header": 'max-age=60, mode=enforce, manifest="/m"',
        "manifest_response": b64(line + b"\n" + b64(proof).encode() + b"\n"),
        "resources": [
            {"url": f"https://{HOST}/app.js", "destination": "script", "body": b64(body)}
        ],
    }
    return decide(scenario)


@pytest.fixture
def eco(tmp_path: Path, servers: list[ServerThread]) -> Ecosystem:
    return Ecosystem(tmp_path, servers)


def test_enroll_append_cosign_and_decide(eco: Ecosystem) -> None:
    token = secrets.token_urlsafe(16)
    r = eco.enroll(HOST, manifest(1), token)
    assert r.status_code == 200, r.text
    proof = ChainHeadWithProof.decode(r.content)
    assert proof.head.position == 0
    v = verdict_for(eco, manifest(1), r.content, b"v1")
    assert v["manifest"]["status"] == "valid" and v["resources"][0]["allowed"], v

    r2 = eco.append(HOST, chain.resource_hash(manifest(2)), token, proof.head.next_chain_hash())
    assert r2.status_code == 200, r2.text
    proof2 = ChainHeadWithProof.decode(r2.content)
    assert proof2.head.position == 1 and proof2.head.chain_hash == proof.head.next_chain_hash()
    assert verdict_for(eco, manifest(2), r2.content, b"v2")["manifest"]["status"] == "valid"
    # the new proof does not vouch for the old manifest
    assert (
        verdict_for(eco, manifest(1), r2.content, b"v1")["manifest"]["detail"]
        == "resource_hash_mismatch"
    )

    # the same append sent again: answered with the entry it made, nothing appended
    replay = eco.append(HOST, chain.resource_hash(manifest(2)), token, proof.head.next_chain_hash())
    assert replay.status_code == 200, replay.text
    assert ChainHeadWithProof.decode(replay.content).head == proof2.head
    # an older append replayed (its prev is not the newest entry's): refused
    replay = eco.append(HOST, chain.resource_hash(manifest(1)), token, proof.head.next_chain_hash())
    assert replay.status_code == 409 and replay.json()["detail"] == "stale_prev"
    # wrong token
    bad = eco.append(HOST, chain.resource_hash(manifest(3)), "nope", proof2.head.next_chain_hash())
    assert bad.status_code == 401
    # not enrolled
    other = eco.append("other.example", ZERO_HASH, token, ZERO_HASH)
    assert other.status_code == 400 and other.json()["detail"] == "not_enrolled"

    leaf = httpx.get(f"{eco.url}/leaf/{HOST}")
    assert ChainHeadWithProof.decode(leaf.content).head == proof2.head
    tile = httpx.get(f"{eco.url}/entries-tile/{HOST}/000.p/2")
    assert tile.content == proof.head.entry.encode() + proof2.head.entry.encode()
    assert httpx.get(f"{eco.url}/entries-tile/{HOST}/000").status_code == 404
    ch = httpx.get(f"{eco.url}/chain-hash/{HOST}/000")
    assert ch.content == proof.head.next_chain_hash()
    ah = httpx.get(f"{eco.url}/asset-hosts/sha256-{b64uencode(proof.head.entry.asset_hosts_hash)}")
    assert sha256(b"waict-ah" + ah.content) == proof.head.entry.asset_hosts_hash
    status = httpx.get(f"{eco.url}/status").json()
    assert status["domains"] == 1 and status["cosigned"] >= 2


def test_unenroll_makes_a_transparency_tombstone(eco: Ecosystem) -> None:
    token = "t0ken"
    proof = ChainHeadWithProof.decode(eco.enroll(HOST, manifest(1), token).content)
    r = eco.append(HOST, ZERO_HASH, token, proof.head.next_chain_hash())
    assert r.status_code == 200
    head = ChainHeadWithProof.decode(r.content).head
    assert head.entry.is_tombstone
    tomb = json.dumps({"hashes": {}, "emergency_opt_out": True}).encode()
    assert verdict_for(eco, tomb, r.content, b"anything")["manifest"]["status"] == "tombstone"


def test_forked_root_cosignature_is_refused(eco: Ecosystem) -> None:
    eco.enroll(HOST, manifest(1), "tok")
    forged = NoteBody.for_service(TS_NAME, 1, b"\x09" * 32)
    line = cosign(forged, W[0], seed_for(W[0]), int(time.time())).line()
    r = httpx.post(f"{eco.url}/upload-cosignature/{encode_index(1)}", content=line.encode())
    assert r.status_code == 400 and r.json()["detail"] == "bad_cosignature"
    stranger = cosign(
        NoteBody.for_service(TS_NAME, 1, b"\x09" * 32), "w9.example", seed_for("w9.example"), 1
    ).line()
    r = httpx.post(f"{eco.url}/upload-cosignature/001", content=stranger.encode())
    assert r.status_code == 400 and r.json()["detail"] == "unknown_witness"


def test_restart_loses_nothing(eco: Ecosystem) -> None:
    token = "tok"
    first = ChainHeadWithProof.decode(eco.enroll(HOST, manifest(1), token).content)
    second = ChainHeadWithProof.decode(
        eco.append(
            HOST, chain.resource_hash(manifest(2)), token, first.head.next_chain_hash()
        ).content
    )
    eco.stop_all()
    eco.start_ts()
    for name in W:
        eco.start_witness(name)
    leaf = ChainHeadWithProof.decode(httpx.get(f"{eco.url}/leaf/{HOST}", timeout=10).content)
    assert leaf.head == second.head
    third = eco.append(HOST, chain.resource_hash(manifest(3)), token, second.head.next_chain_hash())
    assert third.status_code == 200, third.text
    proof3 = ChainHeadWithProof.decode(third.content)
    assert proof3.head.position == 2
    assert verdict_for(eco, manifest(3), third.content, b"v3")["manifest"]["status"] == "valid"


# --- the witness's rules, directly ------------------------------------------------------


def _witness(tmp: Path, name: str = "w1.example") -> WitnessService:
    return WitnessService(
        tmp / f"{name}-direct.sqlite",
        name,
        seed_for(name),
        "http://127.0.0.1:9",
        TS_NAME,
        system_clock(),
    )


def _event(
    domain: str, hosts: tuple[str, ...] | None, t: int | None = None, rh: bytes = b"\x01" * 32
) -> TreeEvent:
    return TreeEvent(domain, hosts, rh, int(time.time()) if t is None else t)


@pytest.mark.parametrize(
    ("events", "detail"),
    [
        ([_event("a.example", None)], "unknown_domain_without_hosts"),
        (
            [
                _event("a.example", ("http://h/",)),
                _event("a.example", None, t=int(time.time()) - 100),
            ],
            "chain_discontinuity",
        ),
        (
            [_event("a.example", ("http://h/",), t=int(time.time()) + 3600)],
            "timestamp_out_of_range",
        ),
        (
            [_event("a.example", ("http://h/",), t=int(time.time()) - 86400)],
            "timestamp_out_of_range",
        ),
    ],
)
def test_witness_refuses_bad_batches(tmp_path: Path, events: list[TreeEvent], detail: str) -> None:
    w = _witness(tmp_path)
    with pytest.raises(EventError) as info:
        w.process_batch(0, encode_batch(events))
    assert info.value.detail == detail
    assert w.count == 0 and w.signed(1) is None  # nothing persisted, nothing signed


@pytest.mark.parametrize("cut", [1, 5, 12])
def test_witness_refuses_malformed_batches(tmp_path: Path, cut: int) -> None:
    w = _witness(tmp_path)
    good = encode_batch([_event("a.example", ("http://h/",))])
    with pytest.raises(EventError):
        w.process_batch(0, good[:-cut])
    with pytest.raises(EventError):
        w.process_batch(0, good + b"\0")
    assert w.count == 0


def test_witness_never_signs_two_roots_for_one_count(tmp_path: Path) -> None:
    w = _witness(tmp_path)
    batch = encode_batch([_event("a.example", ("http://h/",))])
    signed = w.process_batch(0, batch)
    assert w.process_batch(0, batch) == signed  # the same batch again: the same signature
    other = encode_batch([_event("b.example", ("http://h/",))])
    with pytest.raises(ConflictingRootError):
        w.process_batch(0, other)
    w.close()
    again = _witness(tmp_path)  # after a restart too
    assert again.count == 1 and again.tree.root() == signed.root
    with pytest.raises(ConflictingRootError):
        again.process_batch(0, other)
    with pytest.raises(EventError):  # skipping ahead is refused
        again.process_batch(5, batch)
