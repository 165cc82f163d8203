"""Storage for the transparency service, behind one small interface.

:class:`TransparencyStore` is what the service needs; :class:`SqliteStore` is the embedded
default (one SQLite file, WAL journal, ``synchronous=FULL``: a commit that returned is on
disk); :class:`waict.log.store_pg.PostgresStore` keeps the same tables in PostgreSQL.

Group commit: accepted events are held by the service in memory and written with their batch,
their chain nodes, the tokens of the enrolments among them and new asset-host lists in ONE
transaction (:meth:`TransparencyStore.publish_batch`), so a crash leaves either all of a batch
or none of it, and the disk is synced once per batch. An append is acknowledged only once its
batch is stored and cosigned, so nothing acknowledged depends on memory. Cosignatures are
written without their own sync (they become durable with the next batch; a lost one is sent
again by its witness).

Tables (schema version 2; no row is stored twice)::

    domains(domain PK, token_sha256)                    enrolled domains and their append token
    batches(n PK, body, root, created)                  TreeEventBatch n (0-based), root after it
    chain(domain, position, batch, node; PK(domain, position))   every ChainNode; the head of a
                                                        domain is its highest position
    asset_hosts(hash PK, vector)                        asset-host TLS vectors by their hash
    cosignatures(count, witness, timestamp, line; PK(count, witness))

A version-0 file (before group commit: ``events`` and ``heads`` tables) is upgraded in place,
in one transaction, when it is opened; its events never put in a batch are handed to the
service (:meth:`TransparencyStore.recovered_events`) and go into its next batch. A file of a
newer version than this code knows is refused (:class:`StorageError` ``unsupported``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from verifier.chain import ChainNode
from verifier.errors import WaictError
from waict.log.storage import (
    CRASH_ENV,
    SCHEMA_VERSION,
    BatchWrite,
    StorageError,
    StoredCosignature,
    TransparencyStore,
    crash_point,
    storage_error,
)

__all__ = [
    "CRASH_ENV",
    "SCHEMA_VERSION",
    "BatchWrite",
    "SqliteStore",
    "StorageError",
    "StoredCosignature",
    "TransparencyStore",
    "crash_point",
    "open_store",
    "storage_error",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
    domain TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    n INTEGER PRIMARY KEY, body BLOB NOT NULL, root BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chain (
    domain TEXT NOT NULL, position INTEGER NOT NULL, batch INTEGER NOT NULL, node BLOB NOT NULL,
    PRIMARY KEY (domain, position)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS asset_hosts (hash BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cosignatures (
    count INTEGER NOT NULL, witness TEXT NOT NULL, timestamp INTEGER NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (count, witness)) WITHOUT ROWID;
"""

# Version 0 -> 2, in one transaction (the caller's). Pending events are read out first.
UPGRADE_FROM_0 = """
CREATE TABLE domains_v2 (domain TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO domains_v2(domain, token_sha256) SELECT domain, token_sha256 FROM domains;
DROP TABLE domains;
ALTER TABLE domains_v2 RENAME TO domains;
CREATE TABLE chain_v2 (
    domain TEXT NOT NULL, position INTEGER NOT NULL, batch INTEGER NOT NULL, node BLOB NOT NULL,
    PRIMARY KEY (domain, position)) WITHOUT ROWID;
INSERT INTO chain_v2(domain, position, batch, node) SELECT domain, position, batch, node FROM chain;
DROP TABLE chain;
ALTER TABLE chain_v2 RENAME TO chain;
CREATE TABLE asset_hosts_v2 (hash BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO asset_hosts_v2(hash, vector) SELECT hash, vector FROM asset_hosts;
DROP TABLE asset_hosts;
ALTER TABLE asset_hosts_v2 RENAME TO asset_hosts;
CREATE TABLE cosignatures_v2 (
    count INTEGER NOT NULL, witness TEXT NOT NULL, timestamp INTEGER NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (count, witness)) WITHOUT ROWID;
INSERT INTO cosignatures_v2 SELECT count, witness, timestamp, line FROM cosignatures;
DROP TABLE cosignatures;
ALTER TABLE cosignatures_v2 RENAME TO cosignatures;
DROP TABLE heads;
DROP TABLE events;
"""


class SqliteStore(TransparencyStore):
    """The embedded default: one SQLite file on disk. Two connections (WAL): one writes
    (batches, cosignatures), one reads, so reads never wait for a batch's sync."""

    def __init__(self, path: Path | str) -> None:
        """Open (or create) the database, upgrade an old one and check it (``PRAGMA
        quick_check``): a file that cannot be opened, written or read back raises
        :class:`StorageError`."""
        self.path = self.name = str(path)
        self._lock = threading.RLock()  # the writer
        self._rlock = threading.RLock()  # the reader
        self._recovered: list[tuple[str, bytes]] = []
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise storage_error(exc, self.path) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._open_schema()
            problems = [str(r[0]) for r in self._db.execute("PRAGMA quick_check(5)").fetchall()]
            if problems == ["ok"]:
                self._rdb = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None
                )
        except (sqlite3.Error, OSError) as exc:
            self._db.close()
            raise storage_error(exc, self.path) from None
        except StorageError:
            self._db.close()
            raise
        if problems != ["ok"]:
            self._db.close()
            raise StorageError(
                f"{self.path}: the database file is damaged (quick_check: "
                f"{' '.join(' '.join(problems).split())[:300]})",
                "damaged",
            )

    def _open_schema(self) -> None:
        db = self._db
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: schema version {version} is newer than this waict knows "
                f"({SCHEMA_VERSION}): run a newer waict on it",
                "unsupported",
            )
        if version == SCHEMA_VERSION:
            return
        if "heads" in tables or "events" in tables:  # version 0: upgrade in place
            db.execute("BEGIN IMMEDIATE")
            try:
                self._recovered = [
                    (str(d), bytes(e))
                    for d, e in db.execute(
                        "SELECT domain, event FROM events WHERE batch IS NULL ORDER BY seq"
                    )
                ]
                for statement in UPGRADE_FROM_0.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return
        db.executescript(SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")

    def recovered_events(self) -> list[tuple[str, bytes]]:
        out, self._recovered = self._recovered, []
        return out

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The writing connection, under its lock; errors become :class:`StorageError`."""
        with self._lock:
            try:
                yield self._db
            except (sqlite3.Error, OSError) as exc:
                raise storage_error(exc, self.path) from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The reading connection, under its lock; errors become :class:`StorageError`."""
        with self._rlock:
            try:
                yield self._rdb
            except (sqlite3.Error, OSError) as exc:
                raise storage_error(exc, self.path) from None

    def _node(self, blob: object) -> ChainNode:
        try:
            return ChainNode.decode(bytes(blob))  # type: ignore[call-overload]
        except (WaictError, TypeError) as exc:
            raise storage_error(WaictError(str(exc)), self.path) from None

    def _one(self, sql: str, *args: object) -> tuple[object, ...] | None:
        with self._reading() as db:
            row: tuple[object, ...] | None = db.execute(sql, args).fetchone()
            return row

    def token_hash(self, domain: str) -> bytes | None:
        row = self._one("SELECT token_sha256 FROM domains WHERE domain=?", domain)
        return bytes(row[0]) if row else None  # type: ignore[call-overload]

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it rolls back by itself on
        some errors, e.g. a full disk: a second ROLLBACK would mask the real error)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _publish(self, batch: BatchWrite) -> None:
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO batches(n, body, root, created) VALUES (?,?,?,?)",
                    (batch.n, batch.body, batch.root, batch.created),
                )
                db.executemany(
                    "INSERT INTO chain(domain, position, batch, node) VALUES (?,?,?,?)",
                    [(d, node.position, batch.n, node.encode()) for d, node in batch.nodes],
                )
                db.executemany(
                    "INSERT INTO domains(domain, token_sha256) VALUES (?,?) "
                    "ON CONFLICT(domain) DO UPDATE SET token_sha256=excluded.token_sha256",
                    batch.tokens,
                )
                db.executemany(
                    "INSERT OR IGNORE INTO asset_hosts(hash, vector) VALUES (?,?)",
                    batch.asset_hosts,
                )
                crash_point("batch:mid")
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        crash_point("batch:after")

    def batch_count(self) -> int:
        row = self._one("SELECT COALESCE(MAX(n) + 1, 0) FROM batches")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def batch(self, n: int) -> tuple[bytes, bytes] | None:
        row = self._one("SELECT body, root FROM batches WHERE n=?", n)
        return (bytes(row[0]), bytes(row[1])) if row else None  # type: ignore[call-overload]

    def batch_root(self, n: int) -> bytes | None:
        row = self._one("SELECT root FROM batches WHERE n=?", n)
        return bytes(row[0]) if row else None  # type: ignore[call-overload]

    def heads_at(self, count: int) -> Iterator[tuple[str, ChainNode]]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT c.domain, c.node FROM chain c JOIN ("
                " SELECT domain, MAX(position) AS p FROM chain WHERE batch < ? GROUP BY domain"
                ") m ON c.domain = m.domain AND c.position = m.p",
                (count,),
            ).fetchall()
        for domain, node in rows:
            yield str(domain), self._node(node)

    def head(self, domain: str) -> tuple[ChainNode, int] | None:
        row = self._one(
            "SELECT node, batch FROM chain WHERE domain=? ORDER BY position DESC LIMIT 1", domain
        )
        return (self._node(row[0]), int(row[1])) if row else None  # type: ignore[call-overload]

    def head_at(self, domain: str, count: int) -> ChainNode | None:
        row = self._one(
            "SELECT node FROM chain WHERE domain=? AND batch<? ORDER BY position DESC LIMIT 1",
            domain,
            count,
        )
        return self._node(row[0]) if row else None

    def chain_nodes(self, domain: str, start: int, end: int) -> list[ChainNode]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT node FROM chain WHERE domain=? AND position>=? AND position<? "
                "ORDER BY position",
                (domain, start, end),
            ).fetchall()
        return [self._node(r[0]) for r in rows]

    def asset_hosts(self, digest: bytes) -> bytes | None:
        row = self._one("SELECT vector FROM asset_hosts WHERE hash=?", digest)
        return bytes(row[0]) if row else None  # type: ignore[call-overload]

    def add_cosignature(self, count: int, witness: str, timestamp: int, line: str) -> None:
        with self._locked() as db:
            db.execute("PRAGMA synchronous=NORMAL")  # durable with the next batch's sync
            try:
                db.execute(
                    "INSERT INTO cosignatures(count, witness, timestamp, line) VALUES (?,?,?,?) "
                    "ON CONFLICT(count, witness) DO UPDATE SET timestamp=excluded.timestamp, "
                    "line=excluded.line WHERE excluded.timestamp > cosignatures.timestamp",
                    (count, witness, timestamp, line),
                )
            finally:
                db.execute("PRAGMA synchronous=FULL")

    def cosignatures(self, count: int) -> list[StoredCosignature]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT witness, timestamp, line FROM cosignatures WHERE count=? ORDER BY witness",
                (count,),
            ).fetchall()
        return [StoredCosignature(str(w), int(t), str(line)) for w, t, line in rows]

    def domain_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM domains")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def chains(self) -> Iterator[tuple[str, list[ChainNode]]]:
        """One ordered scan of the chain table (its primary key is its order)."""
        with self._reading() as db:
            cursor = db.execute("SELECT domain, node FROM chain ORDER BY domain, position")
            domain: str | None = None
            nodes: list[ChainNode] = []
            while True:
                rows = cursor.fetchmany(10_000)
                if not rows:
                    break
                for d, blob in rows:
                    if d != domain:
                        if domain is not None:
                            yield domain, nodes
                        domain, nodes = str(d), []
                    nodes.append(self._node(blob))
            if domain is not None:
                yield domain, nodes

    def sizes(self) -> dict[str, int]:
        """Bytes per table, its indexes included (SQLite's ``dbstat``, when compiled in)."""
        try:
            with self._reading() as db:
                rows = db.execute(
                    "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s "
                    "JOIN sqlite_master m ON s.name = m.name GROUP BY m.tbl_name"
                ).fetchall()
        except StorageError:
            return {}
        return {str(t): int(n) for t, n in rows}

    def close(self) -> None:
        with self._lock, self._rlock:
            self._db.close()
            if hasattr(self, "_rdb"):
                self._rdb.close()


def is_postgres_url(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def open_store(spec: str | Path) -> TransparencyStore:
    """A PostgreSQL store for a ``postgresql://`` URL, else a SQLite file at ``spec``."""
    if isinstance(spec, str) and is_postgres_url(spec):
        from waict.log.store_pg import PostgresStore

        return PostgresStore(spec)
    return SqliteStore(spec)
