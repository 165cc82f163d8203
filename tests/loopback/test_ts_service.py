"""The service's state machine without HTTP: proofs while a batch awaits its quorum."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import pytest
from servers import run_async
from world import seed_for

from verifier import chain, mpt
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64uencode
from verifier.note import NoteBody, Witness, cosign, parse_note
from verifier.transparency import tree_key
from waict.log.http import HttpError, system_clock
from waict.log.service import TransparencyService
from waict.log.store import open_store

W = ("w1.example", "w2.example")


def doc(host: str) -> bytes:
    return json.dumps(
        {
            "resource_hash": base64.b64encode(chain.resource_hash(host.encode())).decode(),
            "asset_hosts": [],
            "token_sha256": b64uencode(sha256(b"tok")),
        }
    ).encode()


def make(spec: str) -> TransparencyService:
    async def fetch(domain: str) -> bytes:
        return doc(domain)

    witnesses = [Witness(n, ed25519_public_key(seed_for(n))) for n in W]
    return TransparencyService(
        open_store(spec),
        "ts.example",
        witnesses,
        1,
        system_clock(),
        fetch,
        append_timeout=0.5,
    )


async def cosign_count(service: TransparencyService, count: int) -> None:
    body = service.note_body(count)
    line = cosign(body, W[0], seed_for(W[0]), int(time.time())).line()
    await service.upload_cosignatures(count, line.encode())


def test_proof_uses_the_last_cosigned_root_while_the_next_batch_waits(store_spec: str) -> None:
    async def run() -> None:
        service = make(store_spec)
        enroll_a = asyncio.create_task(service.enroll("a.example"))
        await asyncio.sleep(0.05)
        assert await service.cut_batch() == 0
        await cosign_count(service, 1)
        proof_a = await enroll_a
        enroll_b = asyncio.create_task(service.enroll("b.example"))
        await asyncio.sleep(0.05)
        assert await service.cut_batch() == 1
        assert service.count == 2 and service.cosigned == 1
        # a's proof is still served under root 1, b is not there yet
        again = service.proof("a.example")
        assert again.head == proof_a.head
        note = parse_note(again.note)
        assert note.body.batch_count == 1
        assert mpt.verify_inclusion(
            note.body.root, tree_key("a.example"), again.head.next_chain_hash(), again.tree_proof
        )
        with pytest.raises(HttpError) as info:
            service.proof("b.example")
        assert info.value.status == 404
        await cosign_count(service, 2)
        proof_b = await enroll_b
        assert parse_note(proof_b.note).body.batch_count == 2
        assert 1 not in service.trees  # older versions are released
        service.store.close()

    run_async(run)


def test_append_without_quorum_times_out_but_is_kept(store_spec: str) -> None:
    async def run() -> None:
        service = make(store_spec)
        task = asyncio.create_task(service.enroll("a.example"))
        await asyncio.sleep(0.05)
        await service.cut_batch()
        with pytest.raises(HttpError) as info:
            await task
        assert info.value.status == 503 and info.value.detail == "not_cosigned"
        service.store.close()
        restarted = make(store_spec)
        assert restarted.count == 1 and restarted.store.head("a.example") is not None
        await cosign_count(restarted, 1)
        assert restarted.proof("a.example").head.position == 0
        # a cosignature over another root is refused
        bad = cosign(
            NoteBody.for_service("ts.example", 1, bytes(32)), W[1], seed_for(W[1]), 1
        ).line()
        with pytest.raises(HttpError):
            await restarted.upload_cosignatures(1, bad.encode())
        restarted.store.close()

    run_async(run)


def test_restart_with_a_cosigning_backlog_serves_leaf(store_spec: str) -> None:
    """Issue 10 class 6: batches 2 and 3 await their quorum when the service restarts; when
    the root after 2 batches is cosigned, /leaf answers under it (was a 500, KeyError)."""
    import httpx

    from waict.log.api import create_ts_app

    async def run() -> None:
        service = make(store_spec)
        task = asyncio.create_task(service.enroll("a.example"))
        await asyncio.sleep(0.05)
        await service.cut_batch()
        await cosign_count(service, 1)
        await task
        for host in ("b.example", "c.example"):
            pending = asyncio.create_task(service.enroll(host))
            await asyncio.sleep(0.05)
            await service.cut_batch()
            with pytest.raises(HttpError):  # no quorum in time: kept, not cosigned
                await pending
        service.store.close()
        restarted = make(store_spec)
        assert restarted.count == 3 and restarted.cosigned == 1
        await cosign_count(restarted, 2)
        assert restarted.cosigned == 2
        for host in ("a.example", "b.example"):
            assert restarted.proof(host).head.position == 0
        with pytest.raises(HttpError) as info:
            restarted.proof("c.example")
        assert info.value.status == 404
        transport = httpx.ASGITransport(create_ts_app(restarted), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ts") as client:
            assert (await client.get("/leaf/b.example")).status_code == 200
        await cosign_count(restarted, 3)
        assert restarted.proof("c.example").head.position == 0
        restarted.store.close()

    run_async(run)


def test_batch_that_cannot_be_stored_answers_its_cause_and_is_published_later(
    store_spec: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10 class 8: the event is recorded, then the disk fills up before its batch is
    stored: the append answers 503 naming the cause (not "no quorum"), the batch loop logs
    one line (not a traceback per tick), and the batch is published once space returns."""
    from waict.log.store import StorageError

    async def run() -> None:
        service = make(store_spec)
        service.append_timeout = 60
        service.batch_interval = 0.01
        real = service.store.publish_batch
        full = True

        def publish_batch(*args: object, **kwargs: object) -> None:
            if full:
                raise StorageError("ts.sqlite: the disk is full", "disk_full")
            real(*args, **kwargs)  # type: ignore[arg-type]

        service.store.publish_batch = publish_batch  # type: ignore[method-assign]
        loop = asyncio.create_task(service.run())
        with pytest.raises(HttpError) as info:
            await asyncio.wait_for(service.enroll("a.example"), 30)
        assert info.value.status == 503 and info.value.detail == "disk_full"
        assert "disk is full" in str(info.value) and "quorum" not in str(info.value)
        await asyncio.sleep(0.5)  # ~50 failing ticks
        full = False
        for _ in range(500):
            if service.count == 1:
                break
            await asyncio.sleep(0.01)
        assert service.count == 1 and service.storage_fault is None
        await cosign_count(service, 1)
        assert service.proof("a.example").head.position == 0
        loop.cancel()
        service.store.close()

    with caplog.at_level("INFO", logger="waict.ts"):
        run_async(run)
    lines = [r.getMessage() for r in caplog.records if "disk is full" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert not any(r.exc_info for r in caplog.records)


def test_enrolment_sent_again_before_its_batch_is_one_entry(store_spec: str) -> None:
    """Issue 10 remainder: an enrolment re-run (a publish killed with its request in flight)
    while the first one still waits for its batch is the same enrolment: both answer with
    the one entry; the domain is enrolled once (was: 409 already_enrolled, so the re-run
    failed, and a re-run after the batch appended the same manifest again)."""

    async def run() -> None:
        service = make(store_spec)
        service.append_timeout = 5
        first = asyncio.create_task(service.enroll("a.example"))
        await asyncio.sleep(0.05)
        again = asyncio.create_task(service.enroll("a.example"))
        await asyncio.sleep(0.05)
        assert not again.done(), again
        assert await service.cut_batch() == 0
        assert await service.cut_batch() is None  # nothing else was held
        await cosign_count(service, 1)
        p1, p2 = await first, await again
        assert p1.head == p2.head and p1.head.position == 0
        # and after its batch: the same document is answered with the same entry
        p3 = await service.enroll("a.example")
        assert p3.head == p1.head
        assert len(service.store.chain_nodes("a.example", 0, 10)) == 1
        service.store.close()

    run_async(run)


def test_a_held_event_is_not_stored_and_a_restart_forgets_it(store_spec: str) -> None:
    """Group commit: an accepted event is written with its batch, not before; a service
    that stops before the batch leaves nothing of it (it was never acknowledged), and the
    same request sent again is accepted afresh."""

    async def run() -> None:
        service = make(store_spec)
        service.append_timeout = 0.2
        with pytest.raises(HttpError) as info:
            await service.enroll("a.example")
        assert info.value.detail == "not_cosigned" and "accepted" in str(info.value)
        assert service.pending == 1 and service.store.head("a.example") is None
        assert service.store.token_hash("a.example") is None
        service.store.close()
        restarted = make(store_spec)
        assert restarted.pending == 0 and restarted.count == 0
        task = asyncio.create_task(restarted.enroll("a.example"))
        await asyncio.sleep(0.05)
        assert await restarted.cut_batch() == 0
        await cosign_count(restarted, 1)
        assert (await task).head.position == 0
        assert restarted.store.token_hash("a.example") == sha256(b"tok")
        restarted.store.close()

    run_async(run)


def test_cache_headers_immutable_reads_and_moving_ones(tmp_path: Path) -> None:
    """Issue 12: what never changes is cacheable for a year by anyone (a CDN absorbs the
    reads): full tiles, chain hashes, batches, asset-host lists, asset-host objects; partial
    tiles for a minute; heads, checkpoints, status and every error never."""
    import httpx

    from verifier.chain import asset_hosts_hash
    from verifier.encoding import b64uencode
    from verifier.events import TreeEvent, apply_event
    from waict.log.accept import Pending
    from waict.log.api import create_ts_app
    from waict.log.assets import create_assets_app

    immutable = "public, max-age=31536000, immutable"
    hosts = ("https://assets.example/",)

    async def run() -> None:
        service = make(str(tmp_path / "ts.sqlite"))
        node = None
        for k in range(260):  # a full tile of 256 entries and a partial one
            ev = TreeEvent("a.example", hosts if k == 0 else None, sha256(b"%d" % k), 1000 + k)
            node = apply_event(node, ev)
            service._hold(Pending("a.example", ev, node, sha256(b"tok") if k == 0 else None))
        assert await service.cut_batch() == 0
        await cosign_count(service, 1)
        digest = "sha256-" + b64uencode(asset_hosts_hash(hosts))
        transport = httpx.ASGITransport(create_ts_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://ts") as client:

            async def header(path: str, status: int = 200) -> str:
                r = await client.get(path)
                assert r.status_code == status, (path, r.status_code, r.text)
                return r.headers.get("cache-control", "")

            assert await header("/entries-tile/a.example/000") == immutable
            assert await header("/entries-tile/a.example/001.p/4") == "public, max-age=60"
            assert await header("/entries-tile/a.example/001", 404) == "no-store"
            assert await header("/entries-tile/a.example/001.p/9", 404) == "no-store"
            assert await header("/chain-hash/a.example/259") == immutable
            assert await header("/chain-hash/a.example/260", 404) == "no-store"
            assert await header("/tree-event-batch/000") == immutable
            assert await header("/tree-event-batch/001", 404) == "no-store"
            assert await header(f"/asset-hosts/{digest}") == immutable
            assert await header("/asset-hosts/sha256-" + "A" * 43, 404) == "no-store"
            assert await header("/leaf/a.example") == "no-store"
            assert await header("/leaf/b.example", 404) == "no-store"
            assert await header("/checkpoint") == "no-store"
            assert await header("/status") == "no-store"
        assets = httpx.ASGITransport(create_assets_app(tmp_path / "assets", "t"))
        async with httpx.AsyncClient(transport=assets, base_url="http://a") as client:
            put = await client.put("/upload", content=b"x", headers={"Authorization": "Bearer t"})
            fetched = await client.get(f"/fetch/{put.json()['digest']}")
            assert fetched.headers["cache-control"] == immutable
            missing = await client.get("/fetch/sha256-" + b64uencode(sha256(b"y")))
            assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
        service.store.close()

    run_async(run)


def test_a_batch_is_cut_within_its_byte_bound(tmp_path: Path) -> None:
    """Events with long asset-host lists (8 KB each) held beyond a batch's 2^24-1 bytes: the
    batch stops at the bound and the rest goes into the next one (a batch that cannot be
    encoded would block the log for good)."""
    from verifier.events import MAX_BATCH_BYTES, TreeEvent, apply_event, decode_batch
    from waict.log.service import Pending

    hosts = tuple(f"https://h{i:02d}.example/" + "a" * 480 for i in range(16))

    async def run() -> None:
        service = make(str(tmp_path / "ts.sqlite"))
        service.max_pending = 10_000
        for i in range(2200):
            d = f"big{i}.example"
            ev = TreeEvent(d, hosts, sha256(d.encode()), 1000)
            service._hold(Pending(d, ev, apply_event(None, ev), None, size=len(ev.encode())))
        assert await service.cut_batch() == 0
        assert await service.cut_batch() == 1
        assert await service.cut_batch() is None
        first, second = service.batch_body(0), service.batch_body(1)
        assert first is not None and second is not None
        assert len(first) <= MAX_BATCH_BYTES + 5
        assert len(decode_batch(first)) + len(decode_batch(second)) == 2200
        service.store.close()

    run_async(run)
