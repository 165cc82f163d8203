"""The room's delivery service: a Starlette WebSocket app giving each room one total order.

``GET /rooms/{name}`` upgrades to a WebSocket.  The client's first frame is ``join`` with
its KeyPackage; the server assigns the next uid of the room (1, 2, 3, ... in join order),
answers ``hello`` (privately) and orders ``user_joined`` in the room.  From then on every
``mls`` frame of a member is given the room's next sequence number and sent to every
member, the sender included, so all see one order.  ``user_left`` is ordered when a
member leaves, closes, breaks the protocol, falls too far behind, or sends nothing for
``heartbeat_timeout`` seconds; nothing of that member is ordered after it.

Ordering is synchronous: a frame's sequence number is taken and the frame is queued for
every member in one step of the event loop (no await in between), and each member has
one writer draining its queue in order.  The log says which room (a short hash of its
name), which uid, the sequence number, the kind and the size; never payload bytes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from waict.room.protocol import (
    ROOM_NAME,
    Heartbeat,
    Join,
    Leave,
    Limits,
    Mls,
    ProtocolError,
    dumps,
    error_frame,
    hello_frame,
    mls_frame,
    parse_client_frame,
    user_joined_frame,
    user_left_frame,
)

log = logging.getLogger("waict.room")


def room_tag(name: str) -> str:
    """What the log says for a room: its name may be the secret of an invitation link."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclass
class Member:
    uid: int
    outbox: collections.deque[str | None] = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False

    def push(self, text: str | None) -> None:
        self.outbox.append(text)
        self.ready.set()


@dataclass
class Room:
    name: str
    tag: str
    next_uid: int = 1
    seq: int = 0
    members: dict[int, Member] = field(default_factory=dict)


class DeliveryService:
    """The rooms and their total orders; every method runs synchronously on the loop."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.rooms: dict[str, Room] = {}

    def join(self, name: str, key_package: bytes) -> tuple[Room, Member]:
        room = self.rooms.get(name)
        if room is None:
            if len(self.rooms) >= self.limits.max_rooms:
                raise ProtocolError("too_many_rooms", "the server has no room for a new room", 1013)
            room = self.rooms[name] = Room(name, room_tag(name))
        if len(room.members) >= self.limits.max_members:
            raise ProtocolError("room_full", f"the room has {len(room.members)} members", 1013)
        member = Member(room.next_uid)
        room.next_uid += 1
        before = sorted(room.members)
        room.members[member.uid] = member
        seq = room.seq
        member.push(dumps(hello_frame(name, member.uid, seq, before, self.limits)))
        self._order(
            room,
            "user_joined",
            member.uid,
            len(key_package),
            user_joined_frame(seq, member.uid, key_package),
        )
        return room, member

    def send(self, room: Room, member: Member, msg: Mls) -> None:
        if member.gone:
            return
        self._order(room, msg.kind, member.uid, len(msg.data), mls_frame(room.seq, member.uid, msg))

    def leave(self, room: Room, member: Member, reason: str) -> None:
        """Idempotent: the first call orders ``user_left`` and ends the member's writer."""
        if member.gone:
            return
        member.gone = True
        room.members.pop(member.uid, None)
        member.push(None)
        self._order(room, "user_left", member.uid, 0, user_left_frame(room.seq, member.uid, reason))
        log.info(
            "room %s: u%d left (%s), %d members", room.tag, member.uid, reason, len(room.members)
        )
        if not room.members and self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def _order(self, room: Room, kind: str, uid: int, size: int, frame: dict[str, Any]) -> None:
        assert frame["seq"] == room.seq
        room.seq += 1
        text = dumps(frame)
        log.info(
            "room %s: seq %d %s u%d, %d payload bytes, %d frame bytes",
            room.tag,
            frame["seq"],
            kind,
            uid,
            size,
            len(text),
        )
        slow: list[Member] = []
        for other in list(room.members.values()):
            if len(other.outbox) >= self.limits.max_queue:
                slow.append(other)
            else:
                other.push(text)
        for other in slow:
            err = ProtocolError("too_slow", "you fell too far behind the room", 1008)
            other.push(dumps(error_frame(err)))
            self.leave(room, other, "slow")


async def _writer(ws: WebSocket, member: Member) -> None:
    while True:
        await member.ready.wait()
        member.ready.clear()
        while member.outbox:
            text = member.outbox.popleft()
            if text is None:
                return
            await ws.send_text(text)


async def _receive_text(ws: WebSocket) -> str | bytes | None:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text: str | None = message.get("text")
    if text is not None:
        return text
    data: bytes | None = message.get("bytes")
    return data


class RoomEndpoint:
    def __init__(self, service: DeliveryService) -> None:
        self.service = service

    async def handle(self, ws: WebSocket) -> None:
        service, limits = self.service, self.service.limits
        name = ws.path_params.get("name", "")
        await ws.accept()
        if not ROOM_NAME.fullmatch(name):
            await _refuse(ws, ProtocolError("bad_room", "room names are 1..64 of A-Z a-z 0-9 _ -"))
            return
        try:
            first = await asyncio.wait_for(_receive_text(ws), limits.join_timeout)
            frame = parse_client_frame(first, limits)
            if not isinstance(frame, Join):
                raise ProtocolError("join_first", "the first frame must be join")
            room, member = service.join(name, frame.key_package)
        except ProtocolError as err:
            log.info("refused a connection: %s", err.code)
            await _refuse(ws, err)
            return
        except (TimeoutError, WebSocketDisconnect):
            with contextlib.suppress(Exception):
                await ws.close(1008)
            return
        writer = asyncio.create_task(_writer(ws, member))
        reason, close_code = "closed", 1000
        try:
            while not member.gone:
                raw = await asyncio.wait_for(_receive_text(ws), limits.heartbeat_timeout)
                frame = parse_client_frame(raw, limits)
                if isinstance(frame, Mls):
                    service.send(room, member, frame)
                elif isinstance(frame, Leave):
                    reason = "leave"
                    break
                elif isinstance(frame, Join):
                    raise ProtocolError("bad_frame", "already joined")
                else:
                    assert isinstance(frame, Heartbeat)
        except TimeoutError:
            reason = "heartbeat"
        except WebSocketDisconnect:
            reason = "closed"
        except ProtocolError as err:
            log.info("room %s: u%d broke the protocol: %s", room.tag, member.uid, err.code)
            reason, close_code = "error", err.close_code
            if not member.gone:
                member.push(dumps(error_frame(err)))
        finally:
            service.leave(room, member, reason)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)
            writer.cancel()
            with contextlib.suppress(Exception):
                await ws.close(close_code)


async def _refuse(ws: WebSocket, err: ProtocolError) -> None:
    with contextlib.suppress(Exception):
        await ws.send_text(dumps(error_frame(err)))
        await ws.close(err.close_code)


def create_room_app(service: DeliveryService | None = None) -> Starlette:
    """The delivery service's ASGI app (``app.state.service`` is the service)."""
    service = service or DeliveryService()

    async def status(request: Request) -> JSONResponse:
        return JSONResponse({"rooms": len(service.rooms), "limits": service.limits.public()})

    app = Starlette(
        routes=[
            Route("/status", status),
            WebSocketRoute("/rooms/{name}", RoomEndpoint(service).handle),
        ]
    )
    app.state.service = service
    return app


def ws_max_size(limits: Limits) -> int:
    """uvicorn's frame limit: above the app's, so a slightly oversize frame gets the typed
    ``too_large`` error; anything bigger is cut by the WebSocket layer (close 1009)."""
    return 2 * limits.max_message_bytes + 1024


def serve_room(
    host: str,
    port: int,
    limits: Limits,
    *,
    log_level: str = "info",
    tls: tuple[str | None, str | None] = (None, None),
) -> None:
    """Run the delivery service; ``tls``: (certificate chain, key) PEM files for wss://."""
    import uvicorn

    uvicorn.run(
        create_room_app(DeliveryService(limits)),
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=tls[0],
        ssl_keyfile=tls[1],
        ws_max_size=ws_max_size(limits),
        ws_ping_interval=None,  # liveness is the room's own heartbeat
        timeout_graceful_shutdown=2,
    )
