"""The room's servers for the browser tests: ``waict serve-room`` (the delivery service)
and ``waict serve-sfu`` (the SFU), each a process on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from waict.demo.ecosystem import ServerProcess
from waict.room.server import room_tag

#: Chromium's fake camera and microphone, and no permission prompt (the room's media)
MEDIA_FLAGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_delivery(logs: Path) -> Iterator[str]:
    """``waict serve-room``: its ws:// base URL (pages join ``/rooms/NAME``)."""
    port = free_port()
    # leaves in the tests are closes or `leave` frames, ordered at once; a long heartbeat
    # timeout keeps a worker starved of CPU on a loaded machine from being dropped
    args = ["serve-room", "--port", str(port), "--heartbeat-timeout", "30"]
    server = ServerProcess(
        "serve-room", args, f"http://127.0.0.1:{port}/status", logs / "serve-room.log"
    )
    server.start()
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def running_sfu(logs: Path, *, lying: bool = False) -> Iterator[str]:
    """``waict serve-sfu`` (aiortc, pass-through): its http:// base URL. ``lying``: the
    SFU of ``lying_sfu.py`` instead, which labels one member's frames as another's."""
    port = free_port()
    ready = f"http://127.0.0.1:{port}/status"
    if lying:
        server: ServerProcess = _ScriptProcess(
            "lying-sfu", [str(LYING_SFU), str(port)], ready, logs / "lying-sfu.log"
        )
    else:
        args = ["serve-sfu", "--port", str(port)]
        server = ServerProcess("serve-sfu", args, ready, logs / "serve-sfu.log")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


LYING_SFU = Path(__file__).resolve().with_name("lying_sfu.py")


class _ScriptProcess(ServerProcess):
    """A Python script (not a ``waict`` command) as a server process."""

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *self.args], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.ready_url, timeout=1.0)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_url} in {timeout} s")


def room_stats(sfu: str, room: str) -> dict[str, dict[str, Any]]:
    """The SFU's counts for one room: publisher uid -> counts (waict/room/sfu.py)."""
    rooms = httpx.get(f"{sfu}/stats", timeout=5).json()["rooms"]
    return dict(rooms.get(room_tag(room), {}))
