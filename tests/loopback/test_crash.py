"""Crash the transparency service and a witness with SIGKILL in the middle of a run of
appends: after restarting, every acknowledged append is in the log, the chain links, and
the witness neither loses state nor signs a second root for a count."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from servers import ServerThread, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier import chain
from verifier.chain import ChainNode, Entry
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.proof import ChainHeadWithProof
from waict.demo.ecosystem import ServerProcess

TS_NAME = "ts.example"
W = ("w1.example", "w2.example")
HOST = "crash.example"
TOKEN = "crash-token"


def test_sigkill_mid_run_loses_nothing_acknowledged(
    tmp_path: Path, servers: list[ServerThread]
) -> None:
    async def well_known(request: Request) -> Response:
        return Response(
            json.dumps(
                {
                    "resource_hash": b64encode(chain.resource_hash(b"v0")),
                    "asset_hosts": [],
                    "token_sha256": b64uencode(sha256(TOKEN.encode())),
                }
            ),
            media_type="application/json",
        )

    site = ServerThread(Starlette(routes=[Route("/.well-known/waict-enroll", well_known)])).start()
    servers.append(site)
    for name in W:
        (tmp_path / f"{name}.key").write_text(base64.b64encode(seed_for(name)).decode())
    ts_port = free_port()
    ts_args = [
        "serve-ts",
        "--db",
        str(tmp_path / "ts.sqlite"),
        "--name",
        TS_NAME,
        "--quorum",
        "2",
        "--port",
        str(ts_port),
        "--batch-interval",
        "0.05",
        "--enroll-scheme",
        "http",
        "--enroll-port",
        str(site.port),
        "--enroll-connect",
        "127.0.0.1",
    ]
    for name in W:
        ts_args += ["--witness", f"{name}={b64encode(ed25519_public_key(seed_for(name)))}"]
    ts_url = f"http://127.0.0.1:{ts_port}"
    procs: dict[str, ServerProcess] = {}

    def start(name: str, args: list[str], ready: str) -> None:
        procs[name] = ServerProcess(name, args, ready, tmp_path / f"{name}.log").start()

    def start_witness(i: int) -> None:
        port = free_port() if f"w{i}" not in ports else ports[f"w{i}"]
        ports[f"w{i}"] = port
        start(
            W[i],
            [
                "serve-witness",
                "--db",
                str(tmp_path / f"{W[i]}.sqlite"),
                "--name",
                W[i],
                "--key-file",
                str(tmp_path / f"{W[i]}.key"),
                "--ts",
                ts_url,
                "--ts-name",
                TS_NAME,
                "--port",
                str(port),
            ],
            f"http://127.0.0.1:{port}/status",
        )

    ports: dict[str, int] = {}
    try:
        start("ts", ts_args, f"{ts_url}/status")
        start_witness(0)
        start_witness(1)
        r = httpx.post(f"{ts_url}/enroll/{HOST}", timeout=30)
        assert r.status_code == 200, r.text
        acknowledged = [ChainHeadWithProof.decode(r.content).head]

        def append(k: int) -> None:
            body = {
                "resource_hash": b64encode(chain.resource_hash(b"v%d" % k)),
                "asset_hosts": [],
                "prev": b64encode(acknowledged[-1].next_chain_hash()),
            }
            r = httpx.post(
                f"{ts_url}/append/{HOST}",
                json=body,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            acknowledged.append(ChainHeadWithProof.decode(r.content).head)

        for k in range(1, 5):
            append(k)
        procs["ts"].kill()  # crash the service right after acknowledging
        start("ts", ts_args, f"{ts_url}/status")
        for k in range(5, 8):
            append(k)
        procs[W[0]].kill()  # crash a witness
        start_witness(0)
        for k in range(8, 11):
            append(k)

        tile = httpx.get(f"{ts_url}/entries-tile/{HOST}/000.p/{len(acknowledged)}")
        assert tile.status_code == 200
        entries = [Entry.decode(tile.content[i : i + 80]) for i in range(0, len(tile.content), 80)]
        assert entries == [node.entry for node in acknowledged]
        nodes = [ChainNode(e, acknowledged[i].chain_hash) for i, e in enumerate(entries)]
        chain.verify_chain(nodes)
        status = httpx.get(f"http://127.0.0.1:{ports['w0']}/status").json()
        assert status["last_error"] is None and status["count"] >= 11
    finally:
        for p in procs.values():
            p.stop()
