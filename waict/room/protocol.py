"""The room's WebSocket message schema (docs/room.md, "Message schema").

Every frame is one JSON object in a WebSocket text frame.  Client frames are parsed here
into typed values, strictly and within bounds (unknown keys, wrong types, non-finite or
out-of-range numbers, bad base64 and oversize frames are a :class:`ProtocolError` with a
code); server frames are built here.  The server never looks inside MLS bytes: ``data``
and ``key_package`` are opaque, and the routing metadata a committer declares (``op``,
``targets``, ``epoch``, ``parent``, ``state``) is relayed for the members to check
against what their MLS library says.

Client -> server
    {"type": "join", "key_package": B64}              first frame, once
    {"type": "mls", "kind": K, "data": B64, ...}      K: welcome | commit | application
        "targets": [uid, ...]   welcome: [joiner]; commit add/remove: the users
        "op": "add" | "remove" | "update"             commits only
        "epoch": n              the epoch the message leads to (welcome, commit)
        "parent": HEX, "state": HEX                   group-state ids (parent -> state)
    {"type": "heartbeat"}                              any frame counts as a heartbeat
    {"type": "leave"}

Server -> client
    {"type": "hello", "room", "uid", "seq", "creates_group", "members", "limits"}  private
    {"type": "user_joined", "seq", "uid", "key_package"}                          to all
    {"type": "user_left", "seq", "uid", "reason"}                                 to all
    {"type": "mls", "seq", "from", "kind", "data", ...metadata as sent}           to all
    {"type": "error", "code", "message"}       private, then the server closes
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATE_ID = re.compile(r"[0-9a-f]{1,128}")
MAX_UID = 2**31 - 1
MAX_EPOCH = 2**53 - 1  # exact in a JavaScript number
MLS_KINDS = ("welcome", "commit", "application")
COMMIT_OPS = ("add", "remove", "update")
LEAVE_REASONS = ("leave", "closed", "heartbeat", "error", "slow")


@dataclass(frozen=True)
class Limits:
    """Every bound the server enforces; all finite and positive (checked on creation)."""

    max_message_bytes: int = 256 * 1024  # one client frame, UTF-8 bytes of its JSON text
    max_members: int = 32  # users in one room at once
    max_rooms: int = 1000  # rooms at once
    heartbeat_timeout: float = 10.0  # seconds without any frame from a member -> user_left
    join_timeout: float = 10.0  # seconds to send the join frame after connecting
    max_queue: int = 1024  # frames waiting for a slow member before it is dropped

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_members", "max_rooms", "max_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**30:
                raise ValueError(f"{name} must be an integer in 1..2^30, not {value!r}")
        for name in ("heartbeat_timeout", "join_timeout"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0 < value <= 3600
            ):
                raise ValueError(f"{name} must be a number of seconds in (0, 3600], not {value!r}")

    def public(self) -> dict[str, Any]:
        """The limits a client needs to know (sent in ``hello``)."""
        return {
            "max_message_bytes": self.max_message_bytes,
            "max_members": self.max_members,
            "heartbeat_timeout": self.heartbeat_timeout,
            "heartbeat_interval": self.heartbeat_timeout / 3,
        }


class ProtocolError(Exception):
    """A client frame the server refuses: sent back as an ``error`` frame, then close."""

    def __init__(self, code: str, message: str, close_code: int = 1008) -> None:
        super().__init__(message)
        self.code = code
        self.close_code = close_code


@dataclass(frozen=True)
class Join:
    key_package: bytes


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Mls:
    kind: str
    data: bytes
    targets: tuple[int, ...] = ()
    op: str | None = None
    epoch: int | None = None
    parent: str | None = None
    state: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # the metadata keys, as relayed


ClientFrame = Join | Heartbeat | Leave | Mls


def _reject_constant(name: str) -> Any:
    raise ProtocolError("bad_json", f"{name} is not a JSON number this server accepts")


def _b64(value: Any, what: str, limit: int) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError("bad_frame", f"{what} must be a base64 string")
    if len(value) > (limit + 2) // 3 * 4:
        raise ProtocolError("too_large", f"{what} is over {limit} bytes", 1009)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("bad_frame", f"{what} is not canonical base64") from None


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError("bad_frame", f"{what} must be an integer in {low}..{high}")
    return value


def _keys(obj: dict[str, Any], allowed: set[str], kind: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ProtocolError("bad_frame", f"unknown key(s) {extra[:4]} in a {kind} frame")


def parse_client_frame(text: str | bytes | None, limits: Limits) -> ClientFrame:
    """One client frame (the text of a WebSocket text frame) -> a typed value."""
    if not isinstance(text, str):
        raise ProtocolError("bad_frame", "send JSON in text frames, not binary frames")
    if len(text) > limits.max_message_bytes or len(text.encode()) > limits.max_message_bytes:
        raise ProtocolError(
            "too_large", f"frame is over {limits.max_message_bytes} bytes", close_code=1009
        )
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "frame is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_frame", "frame must be a JSON object")
    kind = obj.get("type")
    if kind == "heartbeat":
        _keys(obj, {"type"}, "heartbeat")
        return Heartbeat()
    if kind == "leave":
        _keys(obj, {"type"}, "leave")
        return Leave()
    if kind == "join":
        _keys(obj, {"type", "key_package"}, "join")
        kp = _b64(obj.get("key_package"), "key_package", limits.max_message_bytes)
        if not kp:
            raise ProtocolError("bad_frame", "key_package is empty")
        return Join(kp)
    if kind == "mls":
        return _parse_mls(obj, limits)
    raise ProtocolError("bad_frame", "type must be join, mls, heartbeat or leave")


def _parse_mls(obj: dict[str, Any], limits: Limits) -> Mls:
    _keys(obj, {"type", "kind", "data", "targets", "op", "epoch", "parent", "state"}, "mls")
    kind = obj.get("kind")
    if kind not in MLS_KINDS:
        raise ProtocolError("bad_frame", f"kind must be one of {', '.join(MLS_KINDS)}")
    data = _b64(obj.get("data"), "data", limits.max_message_bytes)
    meta: dict[str, Any] = {}
    targets: tuple[int, ...] = ()
    if "targets" in obj:
        raw = obj["targets"]
        if not isinstance(raw, list) or len(raw) > limits.max_members:
            raise ProtocolError(
                "bad_frame", f"targets must be a list of at most {limits.max_members} uids"
            )
        targets = tuple(_int(t, "a target uid", 1, MAX_UID) for t in raw)
        if len(set(targets)) != len(targets):
            raise ProtocolError("bad_frame", "targets must not repeat a uid")
        meta["targets"] = list(targets)
    op = obj.get("op")
    if op is not None:
        if kind != "commit" or op not in COMMIT_OPS:
            raise ProtocolError("bad_frame", f"op is for commits: one of {', '.join(COMMIT_OPS)}")
        meta["op"] = op
    elif kind == "commit":
        raise ProtocolError("bad_frame", "a commit needs op")
    if kind == "welcome" and len(targets) != 1:
        raise ProtocolError("bad_frame", "a welcome needs exactly one target")
    if kind == "commit" and op in ("add", "remove") and not targets:
        raise ProtocolError("bad_frame", f"an {op} commit needs targets")
    epoch: int | None = None
    if "epoch" in obj:
        epoch = _int(obj["epoch"], "epoch", 0, MAX_EPOCH)
        meta["epoch"] = epoch
    ids: dict[str, str] = {}
    for name in ("parent", "state"):
        if name in obj:
            value = obj[name]
            if not isinstance(value, str) or not STATE_ID.fullmatch(value):
                raise ProtocolError("bad_frame", f"{name} must be 1..128 lowercase hex digits")
            ids[name] = value
            meta[name] = value
    return Mls(kind, data, targets, op, epoch, ids.get("parent"), ids.get("state"), meta)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def hello_frame(
    room: str, uid: int, seq: int, members: list[int], limits: Limits
) -> dict[str, Any]:
    return {
        "type": "hello",
        "room": room,
        "uid": uid,
        "seq": seq,
        "creates_group": not members,
        "members": members,
        "limits": limits.public(),
    }


def user_joined_frame(seq: int, uid: int, key_package: bytes) -> dict[str, Any]:
    return {"type": "user_joined", "seq": seq, "uid": uid, "key_package": b64(key_package)}


def user_left_frame(seq: int, uid: int, reason: str) -> dict[str, Any]:
    return {"type": "user_left", "seq": seq, "uid": uid, "reason": reason}


def mls_frame(seq: int, sender: int, msg: Mls) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "mls", "seq": seq, "from": sender, "kind": msg.kind}
    frame.update(msg.meta)
    frame["data"] = b64(msg.data)
    return frame


def error_frame(err: ProtocolError) -> dict[str, Any]:
    return {"type": "error", "code": err.code, "message": str(err)}
