"""What the room's SFU reads of a forwarded frame (waict/room/sfu.py): the VP8 frame tag,
and the public framing of the MLS PrivateMessage after the clear header bytes. Checked on
messages made by hand and on real ones made by ts-mls (the room page's library, from
web/room/node_modules) in Node; plus the SFU app's refusal of bad offers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from waict.room.sfu import (
    VP8_CLEAR_DELTA,
    VP8_CLEAR_KEY,
    create_sfu_app,
    parse_frame,
    parse_private_message,
)

ROOT = Path(__file__).resolve().parents[2]
TS_MLS = ROOT / "web" / "room" / "node_modules" / "ts-mls" / "dist" / "src" / "index.js"


def opaque(data: bytes) -> bytes:
    n = len(data)
    if n < 64:
        return bytes([n]) + data
    assert n < 16384
    return bytes([0x40 | n >> 8, n & 0xFF]) + data


def private_message(epoch: int, content_type: int = 1, ciphertext: bytes = b"x" * 100) -> bytes:
    return (
        b"\x00\x01\x00\x02"  # mls10, mls_private_message
        + opaque(b"g" * 16)
        + epoch.to_bytes(8, "big")
        + bytes([content_type])
        + opaque(b"\x9d\x01\x2a")  # authenticated_data
        + opaque(b"s" * 28)  # encrypted_sender_data
        + opaque(ciphertext)
    )


KEY_TAG = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00])  # P bit 0
DELTA_TAG = bytes([0x31, 0x02, 0x00])  # P bit 1


def test_hand_made_frames() -> None:
    key = parse_frame(KEY_TAG + private_message(7))
    assert (key.kind, key.mls, key.epoch, key.content_type) == ("key", True, 7, 1)
    delta = parse_frame(DELTA_TAG + private_message(2**40, ciphertext=b"y" * 300))
    assert (delta.kind, delta.mls, delta.epoch) == ("delta", True, 2**40)
    assert len(KEY_TAG) == VP8_CLEAR_KEY and len(DELTA_TAG) == VP8_CLEAR_DELTA


@pytest.mark.parametrize(
    "data",
    [
        b"",
        DELTA_TAG,
        DELTA_TAG + b"\x00" * 40,  # a VP8 frame in clear
        DELTA_TAG + private_message(1)[:-1],  # truncated
        DELTA_TAG + private_message(1) + b"\x00",  # trailing bytes
        DELTA_TAG + b"\x00\x01\x00\x01" + private_message(1)[4:],  # a PublicMessage
        KEY_TAG[:3] + private_message(1),  # a key frame with its header cut
        DELTA_TAG + b"\xff" + private_message(1)[1:],
    ],
)
def test_what_is_not_an_mls_private_message(data: bytes) -> None:
    info = parse_frame(data)
    assert not info.mls and info.epoch is None and info.size == len(data)


def test_ts_mls_messages_parse_with_their_epoch(tmp_path: Path) -> None:
    """A real PrivateMessage of ts-mls, at epoch 1 of a two-member group."""
    node = shutil.which("node")
    if node is None or not TS_MLS.is_file():
        pytest.fail("node or web/room/node_modules missing: run scripts/setup.sh", pytrace=False)
    script = tmp_path / "make.mjs"
    script.write_text(
        f'import * as m from "{TS_MLS.as_uri()}";\n'
        + """
const impl = await m.getCiphersuiteImpl(
  m.getCiphersuiteFromName("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"));
const kp = (name) => m.generateKeyPackage(
  { credentialType: "basic", identity: new TextEncoder().encode(name) },
  m.defaultCapabilities(), m.defaultLifetime, [], impl);
const a = await kp("a"), b = await kp("b");
let state = await m.createGroup(new Uint8Array(16), a.publicPackage, a.privatePackage, [], impl);
const added = await m.createCommit({ state, cipherSuite: impl }, {
  extraProposals: [{ proposalType: "add", add: { keyPackage: b.publicPackage } }] });
state = added.newState;
const header = new Uint8Array([0x31, 0x02, 0x00]);
const out = [];
for (const size of [0, 1, 100, 5000]) {
  const r = await m.createApplicationMessage(state, new Uint8Array(size), impl, header);
  state = r.newState;
  const bytes = m.encodeMlsMessage({ privateMessage: r.privateMessage,
    wireformat: "mls_private_message", version: "mls10" });
  out.push(Buffer.from(bytes).toString("hex"));
}
process.stdout.write(JSON.stringify({ epoch: Number(state.groupContext.epoch), out }));
"""
    )
    run = subprocess.run(
        [node, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    made = json.loads(run.stdout)
    assert made["epoch"] == 1
    for hexed in made["out"]:
        message = bytes.fromhex(hexed)
        assert parse_private_message(message) == (1, 1)
        info = parse_frame(DELTA_TAG + message)
        assert info.mls and info.epoch == 1 and info.content_type == 1


def test_the_sfu_refuses_bad_offers() -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=create_sfu_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://sfu") as client:
            assert (await client.get("/stats")).json() == {"rooms": {}}
            offer = {"type": "offer", "sdp": ""}
            bad_room = await client.post("/rooms/bad%20room/publish/1", json=offer)
            assert bad_room.status_code == 400
            answer = {"type": "answer", "sdp": "v=0"}
            not_offer = await client.post("/rooms/r/publish/1", json=answer)
            assert not_offer.status_code == 400 and not_offer.json() == {"error": "bad_offer"}
            junk = await client.post("/rooms/r/publish/1", content=b"\xff" * 10)
            assert junk.status_code == 400
            huge = await client.post("/rooms/r/publish/1", content=b"{" + b" " * 70000 + b"}")
            assert huge.status_code == 400
            a_list = await client.post("/rooms/r/publish/1", json=[1])
            assert a_list.status_code == 400
            nobody = await client.post("/rooms/r/subscribe/2", json={"type": "offer", "sdp": ""})
            assert nobody.status_code == 404 and nobody.json() == {"error": "no_publisher"}
            # aiortc reads any text as an SDP without media (an empty session): no crash
            garbage = await client.post("/rooms/r/publish/3", json={"type": "offer", "sdp": "x"})
            assert garbage.status_code == 200 and "m=" not in garbage.json()["sdp"]

    # on a fresh thread: in a session with the e2e tests, Playwright's driver leaves an
    # event loop running in the main thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=60)
