"""The transparency service's storage, against both stores (SQLite file, PostgreSQL in the
throwaway cluster of tests/pg.py): one transaction per batch, no duplicated rows, reads of
heads at any count, the schema version check, and the upgrade of a version-0 SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from servers import run_async
from world import seed_for

from verifier.chain import ChainNode, asset_hosts_hash, encode_asset_hosts
from verifier.crypto import ed25519_public_key, sha256
from verifier.events import TreeEvent, apply_event, encode_batch
from verifier.note import Witness, cosign
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import BatchWrite, SqliteStore, StorageError, open_store

HOSTS = ("https://assets.example/",)


def event(domain: str, k: int, first: bool = False) -> TreeEvent:
    return TreeEvent(
        domain, HOSTS if first else None, sha256(b"%s %d" % (domain.encode(), k)), 1000 + k
    )


def write_batches(spec: str) -> list[list[tuple[str, ChainNode]]]:
    """Batch 0: a.example and b.example enrolled; batch 1: a.example twice more."""
    store = open_store(spec)
    heads: dict[str, ChainNode | None] = {}
    out = []
    plan = [[("a.example", 0), ("b.example", 0)], [("a.example", 1), ("a.example", 2)]]
    for n, items in enumerate(plan):
        nodes = []
        events = []
        for d, k in items:
            ev = event(d, k, first=k == 0)
            node = apply_event(heads.get(d), ev)
            heads[d] = node
            nodes.append((d, node))
            events.append(ev)
        store.publish_batch(
            BatchWrite(
                n,
                encode_batch(events),
                bytes([n]) * 32,
                1000 + n,
                nodes,
                [(d, sha256(d.encode())) for d, k in items if k == 0],
                [(asset_hosts_hash(HOSTS), encode_asset_hosts(HOSTS))] if n == 0 else [],
            )
        )
        out.append(nodes)
    store.close()
    return out


def test_reads_at_every_count(store_spec: str) -> None:
    batches = write_batches(store_spec)
    store = open_store(store_spec)
    try:
        a = [node for d, node in batches[0] + batches[1] if d == "a.example"]
        assert store.batch_count() == 2 and store.domain_count() == 2
        assert store.head("a.example") == (a[2], 1)
        assert store.head_at("a.example", 1) == a[0]
        assert store.head_at("a.example", 2) == a[2]
        assert store.head_at("c.example", 2) is None
        assert dict(store.heads_at(1)) == {"a.example": a[0], "b.example": batches[0][1][1]}
        assert dict(store.chains()) == {"a.example": a, "b.example": [batches[0][1][1]]}
        assert store.chain_nodes("a.example", 1, 3) == a[1:]
        assert store.token_hash("b.example") == sha256(b"b.example")
        assert store.asset_hosts(asset_hosts_hash(HOSTS)) == encode_asset_hosts(HOSTS)
        assert store.batch_root(1) == b"\x01" * 32 and store.batch(5) is None
        store.add_cosignature(2, "w", 10, "line 10")
        store.add_cosignature(2, "w", 9, "line 9")  # older: kept out
        store.add_cosignature(2, "w", 11, "line 11")
        assert [c.line for c in store.cosignatures(2)] == ["line 11"]
        sizes = store.sizes()
        assert set(sizes) >= {"chain", "batches", "domains"} and "heads" not in sizes
    finally:
        store.close()


def test_a_batch_that_fails_leaves_nothing(store_spec: str) -> None:
    batches = write_batches(store_spec)
    store = open_store(store_spec)
    try:
        node = batches[1][1][1]
        ev = event("c.example", 0, first=True)
        bad = BatchWrite(
            2,
            encode_batch([ev]),
            b"\x02" * 32,
            1002,
            [("c.example", apply_event(None, ev)), ("a.example", node)],  # a's position 2 again
            [("c.example", sha256(b"c"))],
        )
        with pytest.raises(StorageError):
            store.publish_batch(bad)
        assert store.batch_count() == 2
        assert store.head("c.example") is None and store.token_hash("c.example") is None
        # and the store still works
        store.publish_batch(BatchWrite(2, bad.body, bad.root, 1002, bad.nodes[:1], bad.tokens))
        assert store.batch_count() == 3 and store.token_hash("c.example") == sha256(b"c")
    finally:
        store.close()


def test_a_newer_schema_is_refused(store_spec: str) -> None:
    open_store(store_spec).close()
    if store_spec.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_spec, autocommit=True) as db:
            db.execute("UPDATE waict_schema SET version = 99")
    else:
        conn = sqlite3.connect(store_spec)
        conn.execute("PRAGMA user_version=99")
        conn.close()
    with pytest.raises(StorageError) as info:
        open_store(store_spec)
    assert info.value.kind == "unsupported" and "newer" in str(info.value)


V0_SCHEMA = """
CREATE TABLE domains (
    domain TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, event BLOB NOT NULL,
    batch INTEGER);
CREATE INDEX events_pending ON events(batch) WHERE batch IS NULL;
CREATE TABLE batches (
    n INTEGER PRIMARY KEY, body BLOB NOT NULL, root BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE chain (
    domain TEXT NOT NULL, position INTEGER NOT NULL, node BLOB NOT NULL, batch INTEGER NOT NULL,
    PRIMARY KEY (domain, position));
CREATE TABLE heads (domain TEXT PRIMARY KEY, node BLOB NOT NULL);
CREATE TABLE asset_hosts (hash BLOB PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE cosignatures (
    count INTEGER NOT NULL, witness TEXT NOT NULL, timestamp INTEGER NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (count, witness));
"""


def test_a_version_0_file_is_upgraded_and_its_pending_events_are_batched(
    tmp_path: Path,
) -> None:
    """A file written before group commit (heads and events tables; one event accepted and
    never batched) opens: the rows move to the new tables in one transaction, the pending
    event goes into the service's next batch, and the chain goes on."""
    from verifier.transparency import tree_key
    from waict.log.tree import PrefixTree

    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(V0_SCHEMA)
    now = int(time.time())
    e0 = TreeEvent("a.example", HOSTS, sha256(b"v0"), now)
    n0 = apply_event(None, e0)
    root = PrefixTree.build([(tree_key("a.example"), n0.next_chain_hash())]).root()
    conn.execute("INSERT INTO domains VALUES ('a.example', ?, ?)", (sha256(b"tok"), now))
    conn.execute("INSERT INTO events VALUES (1, 'a.example', ?, 0)", (e0.encode(),))
    conn.execute("INSERT INTO batches VALUES (0, ?, ?, ?)", (encode_batch([e0]), root, now))
    conn.execute("INSERT INTO chain VALUES ('a.example', 0, ?, 0)", (n0.encode(),))
    conn.execute("INSERT INTO heads VALUES ('a.example', ?)", (n0.encode(),))
    conn.execute(
        "INSERT INTO asset_hosts VALUES (?, ?)",
        (asset_hosts_hash(HOSTS), encode_asset_hosts(HOSTS)),
    )
    e1 = TreeEvent("a.example", None, sha256(b"v1"), now)
    conn.execute("INSERT INTO events VALUES (2, 'a.example', ?, NULL)", (e1.encode(),))
    conn.commit()
    conn.close()

    async def run() -> None:
        store = SqliteStore(db)
        tables = {
            r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert "heads" not in tables and "events" not in tables
        service = TransparencyService(
            store,
            "ts.example",
            [Witness("w1.example", ed25519_public_key(seed_for("w1.example")))],
            1,
            system_clock(),
            lambda d: asyncio.sleep(0, b""),
        )
        assert service.count == 1 and service.pending == 1 and service.domains == 1
        assert await service.cut_batch() == 1
        body = service.note_body(2)
        line = cosign(body, "w1.example", seed_for("w1.example"), now).line()
        await service.upload_cosignatures(2, line.encode())
        proof = service.proof("a.example")
        assert proof.head.position == 1 and proof.head.entry.resource_hash == sha256(b"v1")
        assert service.authorize("a.example", "tok") == "a.example"
        store.close()
        again = SqliteStore(db)  # opened again: already version 2, nothing recovered twice
        assert again.recovered_events() == [] and again.batch_count() == 2
        again.close()

    run_async(run)


def test_publishing_a_stored_batch_again_is_a_no_op(store_spec: str) -> None:
    """A COMMIT whose outcome was unknown (connection or process lost during it) is retried
    by the batch loop: the same batch again succeeds, another one under its number is
    refused."""
    write_batches(store_spec)
    store = open_store(store_spec)
    try:
        body, root = store.batch(1) or (b"", b"")
        again = BatchWrite(1, body, root, 1001, [])
        store.publish_batch(again)  # already stored: nothing happens
        assert store.batch_count() == 2
        with pytest.raises(StorageError) as info:
            store.publish_batch(BatchWrite(1, body + b"x", root, 1001, []))
        assert info.value.kind == "damaged"
    finally:
        store.close()


def test_postgres_connection_lost_is_a_fault_then_recovers() -> None:
    """The server ends the service's sessions (a restart, an operator): the next call is a
    one-line StorageError, the one after opens a new connection and works."""
    import pg
    import psycopg

    store_spec = pg.cluster().new_database()

    write_batches(store_spec)
    store = open_store(store_spec)
    try:
        assert store.batch_count() == 2
        with psycopg.connect(store_spec, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        time.sleep(0.2)
        with pytest.raises(StorageError) as info:
            store.batch_count()
        assert info.value.kind == "unavailable" and "\n" not in str(info.value)
        assert store.batch_count() == 2  # reconnected
        ev = event("c.example", 0, first=True)
        batch = BatchWrite(
            2, encode_batch([ev]), b"\x02" * 32, 1002, [("c.example", apply_event(None, ev))]
        )
        with pytest.raises(StorageError):  # the writer's session was ended too
            store.publish_batch(batch)
        store.publish_batch(batch)  # the batch loop's next tick: a new connection
        assert store.batch_count() == 3
    finally:
        store.close()
