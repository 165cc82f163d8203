"""The room's servers for the browser tests: ``waict serve-room`` (the delivery service)
and ``waict serve-sfu`` (the SFU), each a process on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
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
    args = ["serve-room", "--port", str(port), "--heartbeat-timeout", "6"]
    server = ServerProcess(
        "serve-room", args, f"http://127.0.0.1:{port}/status", logs / "serve-room.log"
    )
    server.start()
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def running_sfu(logs: Path) -> Iterator[str]:
    """``waict serve-sfu`` (aiortc, pass-through): its http:// base URL."""
    port = free_port()
    args = ["serve-sfu", "--port", str(port)]
    server = ServerProcess(
        "serve-sfu", args, f"http://127.0.0.1:{port}/status", logs / "serve-sfu.log"
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def room_stats(sfu: str, room: str) -> dict[str, dict[str, Any]]:
    """The SFU's counts for one room: publisher uid -> counts (waict/room/sfu.py)."""
    rooms = httpx.get(f"{sfu}/stats", timeout=5).json()["rooms"]
    return dict(rooms.get(room_tag(room), {}))
