"""The room's servers over TLS (``--cert/--key``, like every other server): the delivery
service on wss:// and the SFU on https://, with a leaf of ``waict local-ca``. An HTTPS
page (the demo's are) may use ws:// and http:// only to a loopback address."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from waict.common.tls import client_context
from waict.demo.ecosystem import ServerProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_room_servers_speak_tls(tmp_path: Path, monkeypatch: Any) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "waict.cli", "local-ca", str(tmp_path / "ca"), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pair = json.loads(made.stdout)
    ca, tls = Path(pair["ca"]), ["--cert", pair["cert"], "--key", pair["key"]]
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the readiness checks trust the CA
    room, sfu = free_port(), free_port()
    servers = [
        ServerProcess(
            "serve-room",
            ["serve-room", "--port", str(room), *tls],
            f"https://127.0.0.1:{room}/status",
            tmp_path / "serve-room.log",
        ),
        ServerProcess(
            "serve-sfu",
            ["serve-sfu", "--port", str(sfu), *tls],
            f"https://127.0.0.1:{sfu}/status",
            tmp_path / "serve-sfu.log",
        ),
    ]
    try:
        for server in servers:
            server.start(60)
        context = client_context(ca)
        key_package = base64.b64encode(b"an opaque KeyPackage").decode()
        with connect(f"wss://127.0.0.1:{room}/rooms/tls", ssl=context) as ws:
            ws.send(json.dumps({"type": "join", "key_package": key_package}))
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "hello" and hello["uid"] == 1 and hello["creates_group"]
        assert httpx.get(f"https://127.0.0.1:{sfu}/stats", verify=context).json() == {"rooms": {}}
    finally:
        for server in servers:
            server.stop()
    assert "wss://127.0.0.1" in (tmp_path / "serve-room.log").read_text()
