"""The room's delivery service (waict/room/server.py) on loopback, with real WebSocket
clients (the ``websockets`` package): one total order per room, server-made user_joined /
user_left, heartbeats, bounds and typed errors, and logs without payloads."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from servers import ServerThread, run_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from waict.room.protocol import Limits
from waict.room.server import DeliveryService, create_room_app

Client = ClientConnection


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def start(servers: list[ServerThread]) -> Iterator[Callable[..., str]]:
    def go(**limits: Any) -> str:
        server = ServerThread(create_room_app(DeliveryService(Limits(**limits)))).start()
        servers.append(server)
        return server.url.replace("http://", "ws://")

    yield go


async def recv(ws: Client, timeout: float = 5) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def recv_until(ws: Client, want: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        frame = await recv(ws)
        if want(frame):
            return frame


async def join(base: str, room: str, kp: bytes = b"kp") -> tuple[Client, dict[str, Any]]:
    ws = await connect(f"{base}/rooms/{room}")
    await ws.send(json.dumps({"type": "join", "key_package": b64(kp)}))
    hello = await recv(ws)
    assert hello["type"] == "hello", hello
    joined = await recv(ws)
    assert joined == {
        "type": "user_joined",
        "seq": hello["seq"],
        "uid": hello["uid"],
        "key_package": b64(kp),
    }
    return ws, hello


async def closed_with_error(ws: Client) -> tuple[dict[str, Any], int | None]:
    frame = await recv(ws)
    assert frame["type"] == "error", frame
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    return frame, ws.close_code


def run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return run_async(coro)


def test_three_clients_sending_concurrently_see_one_total_order(
    start: Callable[..., str],
) -> None:
    base = start()
    per_client = 40

    async def scenario() -> None:
        clients = [await join(base, "order", f"kp{i}".encode()) for i in range(3)]
        uids = [hello["uid"] for _, hello in clients]
        assert uids == [1, 2, 3]
        first_seq = clients[-1][1]["seq"] + 1  # after the last user_joined

        async def sender(ws: Client, uid: int) -> None:
            for n in range(per_client):
                data = f"u{uid}-{n}".encode()
                await ws.send(json.dumps({"type": "mls", "kind": "application", "data": b64(data)}))
                if random.random() < 0.3:
                    await asyncio.sleep(0)

        async def reader(ws: Client) -> list[tuple[int, int, str]]:
            seen: list[tuple[int, int, str]] = []
            while len(seen) < 3 * per_client:
                frame = await recv(ws)
                if frame["type"] == "mls":
                    seen.append((frame["seq"], frame["from"], frame["data"]))
            return seen

        readers = [asyncio.create_task(reader(ws)) for ws, _ in clients]
        await asyncio.gather(*(sender(ws, uid) for (ws, _), uid in zip(clients, uids, strict=True)))
        orders = await asyncio.gather(*readers)
        assert orders[0] == orders[1] == orders[2]
        seqs = [seq for seq, _, _ in orders[0]]
        assert seqs == list(range(first_seq, first_seq + 3 * per_client))
        for uid in uids:  # each sender's own messages stay in its sending order
            mine = [base64.b64decode(d).decode() for _, f, d in orders[0] if f == uid]
            assert mine == [f"u{uid}-{n}" for n in range(per_client)]
        # the interleaving is real: senders alternate somewhere in the order
        assert len({f for _, f, _ in orders[0][:per_client]}) > 1 or len(set(uids)) == 1
        for ws, _ in clients:
            await ws.close()

    run(scenario)


def test_joins_and_leaves_are_announced_in_order(start: Callable[..., str]) -> None:
    base = start()

    async def scenario() -> None:
        a, hello_a = await join(base, "room1", b"kp-a")
        assert hello_a["uid"] == 1 and hello_a["seq"] == 0
        assert hello_a["creates_group"] is True and hello_a["members"] == []
        assert hello_a["limits"]["heartbeat_timeout"] == 10.0
        b, hello_b = await join(base, "room1", b"kp-b")
        assert hello_b["uid"] == 2 and hello_b["seq"] == 1
        assert hello_b["creates_group"] is False and hello_b["members"] == [1]
        assert await recv(a) == {
            "type": "user_joined",
            "seq": 1,
            "uid": 2,
            "key_package": b64(b"kp-b"),
        }
        c, hello_c = await join(base, "room1", b"kp-c")
        assert hello_c["members"] == [1, 2]
        for ws in (a, b):
            assert (await recv(ws))["uid"] == 3
        # a commit with its routing metadata reaches everyone, the sender included
        commit = {
            "type": "mls",
            "kind": "commit",
            "op": "add",
            "targets": [3],
            "epoch": 2,
            "parent": "aa01",
            "state": "bb02",
            "data": b64(b"commit"),
        }
        await a.send(json.dumps(commit))
        for ws in (a, b, c):
            got = await recv(ws)
            assert got == {**commit, "seq": 3, "from": 1}
        await b.send(json.dumps({"type": "leave"}))
        for ws in (a, c):
            assert await recv(ws) == {"type": "user_left", "seq": 4, "uid": 2, "reason": "leave"}
        await c.close()
        assert await recv(a) == {"type": "user_left", "seq": 5, "uid": 3, "reason": "closed"}
        # another room has its own order and uids
        d, hello_d = await join(base, "room2")
        assert (hello_d["uid"], hello_d["seq"], hello_d["creates_group"]) == (1, 0, True)
        await a.close()
        await d.close()
        # an emptied room starts afresh
        await asyncio.sleep(0.2)
        e, hello_e = await join(base, "room1")
        assert (hello_e["uid"], hello_e["seq"], hello_e["creates_group"]) == (1, 0, True)
        await e.close()

    run(scenario)


def test_missed_heartbeats_produce_user_left(start: Callable[..., str]) -> None:
    base = start(heartbeat_timeout=1.0)

    async def scenario() -> None:
        a, _ = await join(base, "hb")
        b, _ = await join(base, "hb")
        await recv(a)  # b's user_joined
        started = time.monotonic()

        async def beat() -> None:
            while True:
                await a.send(json.dumps({"type": "heartbeat"}))
                await asyncio.sleep(0.1)

        beating = asyncio.create_task(beat())
        left = await recv(a)
        waited = time.monotonic() - started
        beating.cancel()
        assert left == {"type": "user_left", "seq": 2, "uid": 2, "reason": "heartbeat"}
        assert 0.8 < waited < 6, waited
        with pytest.raises(ConnectionClosed):  # the silent member is disconnected
            await asyncio.wait_for(b.recv(), 5)
        await a.close()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ('{"type": "mls", "kind": "application", "data": "", "epoch": NaN}', "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "shout"}', "bad_frame"),
        ('{"type": "heartbeat", "extra": 1}', "bad_frame"),
        ('{"type": "mls", "kind": "application", "data": "%%%"}', "bad_frame"),
        ('{"type": "mls", "kind": "commit", "data": ""}', "bad_frame"),
        ('{"type": "mls", "kind": "welcome", "data": "", "targets": []}', "bad_frame"),
        ('{"type": "mls", "kind": "welcome", "data": "", "targets": [true]}', "bad_frame"),
        ('{"type": "mls", "kind": "application", "data": "", "epoch": 1e400}', "bad_frame"),
        (
            '{"type": "mls", "kind": "application", "data": "", "epoch": 9007199254740992}',
            "bad_frame",
        ),
        ('{"type": "mls", "kind": "application", "data": "", "epoch": -1}', "bad_frame"),
        ('{"type": "mls", "kind": "application", "data": "", "state": "XYZ"}', "bad_frame"),
        ('{"type": "join", "key_package": "a2s="}', "bad_frame"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        (b"\x00binary", "bad_frame"),
    ],
)
def test_malformed_frames_get_a_typed_error_and_close(
    start: Callable[..., str], frame: str | bytes, code: str
) -> None:
    base = start(max_message_bytes=20_000)

    async def scenario() -> None:
        a, _ = await join(base, "bad")
        b, hello_b = await join(base, "bad")
        await recv(a)
        await b.send(frame)
        error, close_code = await closed_with_error(b)
        assert error["code"] == code, error
        assert close_code == 1008
        assert await recv(a) == {
            "type": "user_left",
            "seq": 2,
            "uid": hello_b["uid"],
            "reason": "error",
        }
        # the room goes on
        await a.send(json.dumps({"type": "mls", "kind": "application", "data": b64(b"ok")}))
        assert (await recv(a))["seq"] == 3
        await a.close()

    run(scenario)


def test_oversize_frames_and_key_packages_are_refused(start: Callable[..., str]) -> None:
    base = start(max_message_bytes=4096)

    async def scenario() -> None:
        a, _ = await join(base, "big")
        b, _ = await join(base, "big")
        await recv(a)
        big = {"type": "mls", "kind": "application", "data": b64(b"x" * 4000)}
        await b.send(json.dumps(big))
        error, close_code = await closed_with_error(b)
        assert error["code"] == "too_large" and close_code == 1009
        assert (await recv(a))["type"] == "user_left"
        # a joiner with an oversize KeyPackage never joins
        c = await connect(f"{base}/rooms/big")
        await c.send(json.dumps({"type": "join", "key_package": b64(b"k" * 5000)}))
        error, close_code = await closed_with_error(c)
        assert error["code"] == "too_large"
        # nothing was ordered for it
        await a.send(json.dumps({"type": "mls", "kind": "application", "data": b64(b"ok")}))
        assert (await recv(a))["seq"] == 3
        await a.close()

    run(scenario)


def test_joining_is_bounded(start: Callable[..., str]) -> None:
    base = start(max_members=2, max_rooms=2, join_timeout=1.0)

    async def scenario() -> None:
        a, _ = await join(base, "r1")
        b, _ = await join(base, "r1")
        c = await connect(f"{base}/rooms/r1")
        await c.send(json.dumps({"type": "join", "key_package": b64(b"kp")}))
        error, close_code = await closed_with_error(c)
        assert error["code"] == "room_full" and close_code == 1013
        d, _ = await join(base, "r2")
        e = await connect(f"{base}/rooms/r3")
        await e.send(json.dumps({"type": "join", "key_package": b64(b"kp")}))
        error, _ = await closed_with_error(e)
        assert error["code"] == "too_many_rooms"
        f = await connect(f"{base}/rooms/r1")
        await f.send(json.dumps({"type": "heartbeat"}))
        error, _ = await closed_with_error(f)
        assert error["code"] == "join_first"
        g = await connect(f"{base}/rooms/{'x' * 65}")
        error, _ = await closed_with_error(g)
        assert error["code"] == "bad_room"
        h = await connect(f"{base}/rooms/r2")  # says nothing: closed after join_timeout
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(h.recv(), 5)
        for ws in (a, b, d):
            await ws.close()

    run(scenario)


def test_the_log_has_kinds_and_sizes_never_payloads(
    start: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    base = start()
    secret = b"SECRET-PAYLOAD-7f3a9c"
    secret_kp = b"SECRET-KEYPACKAGE-51d2"
    room = "secret-room-name-c0ffee"

    async def scenario() -> None:
        a, _ = await join(base, room, secret_kp)
        b, _ = await join(base, room, secret_kp)
        await recv(a)
        for kind in ("application", "welcome", "commit"):
            frame: dict[str, Any] = {"type": "mls", "kind": kind, "data": b64(secret)}
            if kind == "welcome":
                frame["targets"] = [2]
            if kind == "commit":
                frame.update(op="update")
            await a.send(json.dumps(frame))
            for ws in (a, b):
                assert (await recv(ws))["data"] == b64(secret)
        await b.send("not json " + secret.decode())
        await closed_with_error(b)
        await a.close()
        await asyncio.sleep(0.2)

    with caplog.at_level(logging.INFO, logger="waict.room"):
        run(scenario)
    text = caplog.text
    assert "application" in text and "commit" in text and "user_joined" in text
    assert f"{len(secret)} payload bytes" in text
    for needle in (secret, secret_kp):
        assert needle.decode() not in text
        assert b64(needle) not in text
        assert b64(needle)[:12] not in text
    assert room not in text
