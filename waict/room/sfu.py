"""The room's SFU: forwards each member's encoded video frames to the other members without
decoding them (it could not: they are MLS ciphertext), with aiortc (pinned in pyproject).

Each page opens one peer connection to *publish* its camera
(``POST /rooms/{room}/publish/{uid}`` with an SDP offer) and one per other member to
*subscribe* to that member's video (``POST /rooms/{room}/subscribe/{uid}``); the answer
comes back in the response. No renegotiation: a member that joins later is subscribed to
with a new connection.

**Pass-through.** aiortc's receiver reassembles a frame from RTP packets (jitter buffer,
VP8 payload descriptor: RTP-level, outside the frame) and hands it to a decoder thread.
Here the decoder is :class:`PassThroughDecoder`, which returns the encoded bytes
unchanged; the sender side gets them as an ``av.Packet`` and packs them into RTP again
(aiortc's ``Vp8Encoder.pack``, its path for pre-encoded media). So the bytes a page's
``RTCRtpScriptTransform`` wrote are the bytes the other pages' transforms read.

**What it sees.** A VP8 frame's first bytes stay in clear (10 for a key frame, 3 for a
delta frame: what a VP8 depacketizer reads); the rest is an MLS ``PrivateMessage``.
:func:`parse_frame` reads only public framing: MLS version, wire format, group id length,
epoch, content type. The SFU counts, per publisher, frames, bytes, and how many parsed as
an MLS private message of which epoch (``GET /stats``). It logs sizes and kinds, never
payload bytes. A frame that does not parse is still forwarded (the receiving pages drop
what they cannot decrypt); the count is what the tests check.

The SFU trusts the uid in the URL (a test double of a real SFU's authentication: in a
real room, the uid would be proven by the delivery service's session).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpreceiver
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waict.room.protocol import ROOM_NAME
from waict.room.server import room_tag

log = logging.getLogger("waict.room.sfu")

VIDEO_CLOCK = 90000
#: VP8 bytes left in clear by the room's frame encryption (RFC 6386 9.1: the frame tag,
#: and for a key frame the start code and the dimensions)
VP8_CLEAR_KEY = 10
VP8_CLEAR_DELTA = 3
MLS10 = 1
WIRE_PRIVATE_MESSAGE = 2
CONTENT_APPLICATION = 1
MAX_QUEUE = 64  # frames per subscriber; older ones are dropped when a subscriber lags


@dataclass(frozen=True)
class FrameInfo:
    """The public facts of one forwarded frame."""

    kind: str  # "key" or "delta" (VP8 frame tag)
    size: int
    mls: bool  # the bytes after the clear header parse as an MLS PrivateMessage
    epoch: int | None = None
    content_type: int | None = None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An MLS variable-size length (RFC 9420 2.1.2): (value, next position)."""
    first = data[pos]
    prefix = first >> 6
    if prefix == 3:
        raise ValueError("invalid varint prefix")
    size = 1 << prefix
    if pos + size > len(data):
        raise ValueError("truncated varint")
    value = first & 0x3F
    for b in data[pos + 1 : pos + size]:
        value = (value << 8) | b
    return value, pos + size


def _opaque(data: bytes, pos: int) -> int:
    length, pos = _varint(data, pos)
    if pos + length > len(data):
        raise ValueError("truncated opaque")
    return pos + length


def parse_private_message(data: bytes) -> tuple[int, int]:
    """(epoch, content type) of an MLSMessage holding a PrivateMessage; ValueError if the
    bytes are not exactly one (RFC 9420 6.3: group_id, epoch, content_type,
    authenticated_data, encrypted_sender_data, ciphertext)."""
    try:
        if int.from_bytes(data[0:2], "big") != MLS10:
            raise ValueError("not MLS 1.0")
        if int.from_bytes(data[2:4], "big") != WIRE_PRIVATE_MESSAGE:
            raise ValueError("not a PrivateMessage")
        pos = _opaque(data, 4)  # group_id
        if pos + 9 > len(data):
            raise ValueError("truncated")
        epoch = int.from_bytes(data[pos : pos + 8], "big")
        content_type = data[pos + 8]
        pos += 9
        for _ in range(3):  # authenticated_data, encrypted_sender_data, ciphertext
            pos = _opaque(data, pos)
    except IndexError:
        raise ValueError("truncated") from None
    if pos != len(data):
        raise ValueError("trailing bytes")
    return epoch, content_type


def parse_frame(data: bytes) -> FrameInfo:
    """What the SFU can read of an encrypted VP8 frame (no decryption, no decoding)."""
    key = bool(data) and data[0] & 1 == 0
    kind = "key" if key else "delta"
    clear = VP8_CLEAR_KEY if key else VP8_CLEAR_DELTA
    try:
        epoch, content_type = parse_private_message(data[clear:])
    except ValueError:
        return FrameInfo(kind, len(data), False)
    return FrameInfo(kind, len(data), True, epoch, content_type)


# --- aiortc pass-through ---------------------------------------------------------------


@dataclass
class EncodedFrame:
    """What the receiver's "decoder" hands to the track: the frame's bytes, untouched."""

    data: bytes
    timestamp: int


class PassThroughDecoder:
    def decode(self, encoded_frame: JitterFrame) -> list[EncodedFrame]:
        return [EncodedFrame(bytes(encoded_frame.data), encoded_frame.timestamp)]


_original_get_decoder = aiortc.codecs.get_decoder


def _get_decoder(codec: Any) -> Any:
    if codec.mimeType.lower() == "video/vp8":
        return PassThroughDecoder()
    return _original_get_decoder(codec)


# This process forwards and never decodes video: every aiortc receiver here passes VP8
# frames through (the SFU runs in its own process, `waict serve-sfu`).
setattr(aiortc.rtcrtpreceiver, "get_decoder", _get_decoder)  # noqa: B010


class ForwardTrack(MediaStreamTrack):
    """One subscriber's copy of a publisher's frames, as pre-encoded ``av.Packet``."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue(MAX_QUEUE)

    def push(self, frame: EncodedFrame) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(frame)

    async def recv(self) -> Any:
        frame = await self.queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return packet


# --- rooms ---------------------------------------------------------------------------


@dataclass
class PublisherStats:
    frames: int = 0
    bytes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    mls: int = 0
    not_mls: int = 0
    epochs: Counter[int] = field(default_factory=Counter)
    content_types: Counter[int] = field(default_factory=Counter)
    last_epoch: int | None = None

    def add(self, info: FrameInfo) -> None:
        self.frames += 1
        self.bytes += info.size
        self.kinds[info.kind] += 1
        if info.mls:
            self.mls += 1
            assert info.epoch is not None and info.content_type is not None
            self.epochs[info.epoch] += 1
            self.content_types[info.content_type] += 1
            self.last_epoch = info.epoch
        else:
            self.not_mls += 1

    def public(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "kinds": dict(self.kinds),
            "mls": self.mls,
            "not_mls": self.not_mls,
            "epochs": {str(k): v for k, v in sorted(self.epochs.items())},
            "content_types": {str(k): v for k, v in sorted(self.content_types.items())},
            "last_epoch": self.last_epoch,
        }


@dataclass
class Publisher:
    room: str
    uid: int
    pc: RTCPeerConnection
    subscribers: list[ForwardTrack] = field(default_factory=list)
    stats: PublisherStats = field(default_factory=PublisherStats)
    task: asyncio.Task[None] | None = None


class Sfu:
    def __init__(self) -> None:
        self.publishers: dict[tuple[str, int], Publisher] = {}
        self.pcs: set[RTCPeerConnection] = set()
        self.subscriber_pcs: dict[RTCPeerConnection, list[ForwardTrack]] = {}
        self.tasks: set[asyncio.Future[None]] = set()

    def _pc(self) -> RTCPeerConnection:
        # no STUN server: aiortc would otherwise ask a public one (loopback and LAN only)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.add(pc)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._drop(pc)

        return pc

    async def _drop(self, pc: RTCPeerConnection) -> None:
        self.pcs.discard(pc)
        tracks = self.subscriber_pcs.pop(pc, [])  # a subscriber's connection
        for pub in self.publishers.values():
            pub.subscribers = [t for t in pub.subscribers if t not in tracks]
        for key, pub in list(self.publishers.items()):
            if pub.pc is pc:
                del self.publishers[key]
                for sub in pub.subscribers:
                    with contextlib.suppress(asyncio.QueueFull):
                        sub.queue.put_nowait(None)
        await pc.close()

    async def publish(self, room: str, uid: int, offer: RTCSessionDescription) -> Any:
        old = self.publishers.pop((room, uid), None)
        if old is not None:
            await self._drop(old.pc)
        pc = self._pc()
        pub = Publisher(room, uid, pc)
        self.publishers[(room, uid)] = pub

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and pub.task is None:
                pub.task = asyncio.ensure_future(self._forward(pub, track))

        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        log.info("room %s: uid %d publishes", room_tag(room), uid)
        return pc.localDescription

    async def _forward(self, pub: Publisher, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, EncodedFrame):
                continue
            info = parse_frame(frame.data)
            pub.stats.add(info)
            log.debug(
                "room %s: uid %d video %s frame, %d bytes, %s",
                room_tag(pub.room), pub.uid, info.kind, info.size,
                f"MLS epoch {info.epoch}" if info.mls else "not MLS",
            )  # fmt: skip
            if pub.stats.frames % 100 == 1:
                log.info(
                    "room %s: uid %d: %d frames, %d bytes, %d MLS, %d not MLS",
                    room_tag(pub.room), pub.uid, pub.stats.frames, pub.stats.bytes,
                    pub.stats.mls, pub.stats.not_mls,
                )  # fmt: skip
            for sub in pub.subscribers:
                sub.push(frame)

    async def drop_publisher(self, room: str, uid: int) -> None:
        pub = self.publishers.get((room, uid))
        if pub is not None:
            await self._drop(pub.pc)

    async def subscribe(self, room: str, uid: int, offer: RTCSessionDescription) -> Any:
        pub = self.publishers.get((room, uid))
        if pub is None:
            return None
        pc = self._pc()
        track = ForwardTrack()
        pub.subscribers.append(track)
        self.subscriber_pcs[pc] = [track]
        sender = pc.addTrack(track)
        # A subscriber's picture loss (RTCP PLI) cannot be answered here (no encoder):
        # it is passed on to the publisher, whose browser sends a key frame to everyone.
        setattr(sender, "_send_keyframe", lambda: self._request_keyframe(pub))  # noqa: B010
        try:
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self._drop(pc)
            raise
        self._request_keyframe(pub)  # the new subscriber can decode from the next one
        log.info("room %s: a subscriber to uid %d", room_tag(room), uid)
        return pc.localDescription

    def _request_keyframe(self, pub: Publisher) -> None:
        for receiver in pub.pc.getReceivers():
            for source in receiver.getSynchronizationSources():
                task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def stats(self) -> dict[str, Any]:
        rooms: dict[str, dict[str, Any]] = {}
        for (room, uid), pub in self.publishers.items():
            rooms.setdefault(room_tag(room), {})[str(uid)] = {
                **pub.stats.public(),
                "subscribers": len(pub.subscribers),
            }
        return {"rooms": rooms}

    async def close(self) -> None:
        for pc in list(self.pcs):
            await pc.close()
        self.pcs.clear()
        self.publishers.clear()


MAX_SDP = 64 * 1024


async def _offer(request: Request) -> tuple[str, int, RTCSessionDescription] | JSONResponse:
    room = request.path_params["room"]
    if not ROOM_NAME.fullmatch(room):
        return JSONResponse({"error": "bad_room"}, status_code=400)
    try:
        uid = int(request.path_params["uid"])
        body = await request.body()
        if len(body) > MAX_SDP:
            raise ValueError("too large")
        obj = json.loads(body)
        if not isinstance(obj, dict) or obj.get("type") != "offer":
            raise ValueError("not an offer")
        if not isinstance(obj.get("sdp"), str):
            raise ValueError("not an offer")
    except ValueError:
        return JSONResponse({"error": "bad_offer"}, status_code=400)
    return room, uid, RTCSessionDescription(sdp=obj["sdp"], type="offer")


def create_sfu_app(sfu: Sfu | None = None) -> Starlette:
    sfu = sfu or Sfu()

    async def publish(request: Request) -> JSONResponse:
        parsed = await _offer(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            answer = await sfu.publish(*parsed)
        except Exception:  # aiortc refused the SDP (it raises several kinds)
            await sfu.drop_publisher(parsed[0], parsed[1])
            return JSONResponse({"error": "bad_offer"}, status_code=400)
        return JSONResponse({"type": answer.type, "sdp": answer.sdp})

    async def subscribe(request: Request) -> JSONResponse:
        parsed = await _offer(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            answer = await sfu.subscribe(*parsed)
        except Exception:
            return JSONResponse({"error": "bad_offer"}, status_code=400)
        if answer is None:
            return JSONResponse({"error": "no_publisher"}, status_code=404)
        return JSONResponse({"type": answer.type, "sdp": answer.sdp})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(sfu.stats())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await sfu.close()

    return Starlette(
        routes=[
            Route("/rooms/{room}/publish/{uid:int}", publish, methods=["POST"]),
            Route("/rooms/{room}/subscribe/{uid:int}", subscribe, methods=["POST"]),
            Route("/stats", stats),
            Route("/status", stats),
        ],
        # the room page is served from another origin than the SFU
        middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["POST"])],
        lifespan=lifespan,
    )


def serve_sfu(
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls: tuple[str | None, str | None] = (None, None),
) -> None:
    """Run the SFU; ``tls``: (certificate chain, key) PEM files for https://."""
    import uvicorn

    uvicorn.run(
        create_sfu_app(),
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=tls[0],
        ssl_keyfile=tls[1],
    )
