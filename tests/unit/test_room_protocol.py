"""waict/room/protocol.py: bounds and parsing of client frames; `waict serve-room` options."""

from __future__ import annotations

import math

import pytest

from waict.cli import build_parser
from waict.room.protocol import (
    Heartbeat,
    Join,
    Leave,
    Limits,
    Mls,
    ProtocolError,
    mls_frame,
    parse_client_frame,
)


@pytest.mark.parametrize(
    "bad",
    [
        {"heartbeat_timeout": math.inf},
        {"heartbeat_timeout": math.nan},
        {"heartbeat_timeout": 0},
        {"heartbeat_timeout": -1.0},
        {"join_timeout": 1e9},
        {"max_members": 0},
        {"max_members": True},
        {"max_rooms": 2.5},
        {"max_message_bytes": 2**31},
        {"max_queue": -3},
    ],
)
def test_limits_are_finite_and_bounded(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Limits(**bad)  # type: ignore[arg-type]


def test_limits_sent_to_clients() -> None:
    assert Limits(heartbeat_timeout=6).public() == {
        "max_message_bytes": 262144,
        "max_members": 32,
        "heartbeat_timeout": 6,
        "heartbeat_interval": 2.0,
    }


def test_frames_parse_to_typed_values() -> None:
    limits = Limits()
    assert parse_client_frame('{"type":"heartbeat"}', limits) == Heartbeat()
    assert parse_client_frame('{"type":"leave"}', limits) == Leave()
    assert parse_client_frame('{"type":"join","key_package":"AAE="}', limits) == Join(b"\0\1")
    msg = parse_client_frame(
        '{"type":"mls","kind":"commit","op":"remove","targets":[2,3],"epoch":7,'
        '"parent":"0a","state":"0b","data":"AAE="}',
        limits,
    )
    assert isinstance(msg, Mls)
    assert (msg.kind, msg.op, msg.targets, msg.epoch, msg.parent, msg.state) == (
        "commit",
        "remove",
        (2, 3),
        7,
        "0a",
        "0b",
    )
    assert mls_frame(9, 1, msg) == {
        "type": "mls",
        "seq": 9,
        "from": 1,
        "kind": "commit",
        "targets": [2, 3],
        "op": "remove",
        "epoch": 7,
        "parent": "0a",
        "state": "0b",
        "data": "AAE=",
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{", "bad_json"),
        ('{"type":"mls","kind":"application","data":"","epoch":Infinity}', "bad_json"),
        ('{"type":"mls","kind":"application","data":"","epoch":1.5}', "bad_frame"),
        ('{"type":"mls","kind":"application","data":"","targets":[1,1]}', "bad_frame"),
        ('{"type":"mls","kind":"application","data":"","targets":[0]}', "bad_frame"),
        ('{"type":"mls","kind":"application","data":"","op":"add"}', "bad_frame"),
        ('{"type":"mls","kind":"commit","op":"add","data":""}', "bad_frame"),
        ('{"type":"mls","kind":"application","data":"AAE"}', "bad_frame"),
        ('{"type":"join","key_package":""}', "bad_frame"),
        ('{"type":"mls","kind":"application","data":"' + "A" * 400 + '"}', "too_large"),
    ],
)
def test_bad_frames_raise_typed_errors(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(text, Limits(max_message_bytes=300))
    assert info.value.code == code


def test_serve_room_options_are_bounded() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve-room", "--port", "9000", "--heartbeat-timeout", "2.5"])
    assert (args.port, args.heartbeat_timeout, args.max_members) == (9000, 2.5, 32)
    for bad in (
        ["--heartbeat-timeout", "inf"],
        ["--heartbeat-timeout", "nan"],
        ["--max-members", "0"],
        ["--max-rooms", "x"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve-room", *bad])
