"""``waict serve-room``: run the room's delivery service (docs/room.md)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from waict.common.serve import add_tls_options, tls_files


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be finite and positive: {text!r}")
        return value

    return parse


def _cmd_serve_room(args: argparse.Namespace) -> int:
    import logging

    from waict.room.protocol import Limits
    from waict.room.server import serve_room

    try:
        limits = Limits(
            max_message_bytes=args.max_message_bytes,
            max_members=args.max_members,
            max_rooms=args.max_rooms,
            heartbeat_timeout=args.heartbeat_timeout,
            join_timeout=args.join_timeout,
            max_queue=args.max_queue,
        )
        cert, key = tls_files(args)
    except ValueError as exc:
        print(f"waict serve-room: {exc}")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheme = "wss" if cert else "ws"
    print(f"room delivery service on {scheme}://{args.host}:{args.port}/rooms/NAME", flush=True)
    serve_room(args.host, args.port, limits, log_level="warning", tls=(cert, key))
    return 0


def add_room_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve-room",
        help="run the delivery service of the end-to-end encrypted room",
        description="WebSocket delivery service of the designated-committer room: one total "
        "order per room (ws://HOST:PORT/rooms/NAME). Logs message kinds and sizes only.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8020)
    p.add_argument("--max-message-bytes", type=_positive(int), default=256 * 1024)
    p.add_argument("--max-members", type=_positive(int), default=32, help="per room")
    p.add_argument("--max-rooms", type=_positive(int), default=1000)
    p.add_argument("--max-queue", type=_positive(int), default=1024, help="frames per member")
    p.add_argument("--heartbeat-timeout", type=_positive(float), default=10.0, help="seconds")
    p.add_argument("--join-timeout", type=_positive(float), default=10.0, help="seconds")
    add_tls_options(p)  # wss:// (an HTTPS page may use ws:// only to a loopback address)
    p.set_defaults(func=_cmd_serve_room)


def _cmd_serve_sfu(args: argparse.Namespace) -> int:
    import logging

    try:
        from waict.room.sfu import serve_sfu
    except ImportError as exc:
        print(f"waict serve-sfu: {exc} (pip install -e '.[room]', or run scripts/setup.sh)")
        return 2
    try:
        cert, key = tls_files(args)
    except ValueError as exc:
        print(f"waict serve-sfu: {exc}")
        return 2
    level = logging.DEBUG if args.frames else logging.INFO
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("waict.room.sfu").setLevel(level)
    scheme = "https" if cert else "http"
    print(f"room SFU on {scheme}://{args.host}:{args.port}/rooms/NAME/{{publish,subscribe}}/UID")
    serve_sfu(args.host, args.port, tls=(cert, key))
    return 0


def add_sfu_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve-sfu",
        help="run the SFU of the end-to-end encrypted room (forwards frames, never decodes)",
        description="Selective forwarding unit of the room (aiortc): each member publishes "
        "its video and subscribes to the others'; encoded frames are forwarded as they "
        "came, without decoding. Logs frame sizes and kinds only; GET /stats counts the "
        "frames that parse as MLS private messages, by epoch.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8021)
    p.add_argument("--frames", action="store_true", help="log every frame (size, kind)")
    add_tls_options(p)  # https:// for the signalling (media goes over DTLS-SRTP anyway)
    p.set_defaults(func=_cmd_serve_sfu)
