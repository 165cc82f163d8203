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
import errno
import os
import signal
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verifier.chain import ChainNode
from verifier.errors import WaictError

SCHEMA_VERSION = 2

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


CRASH_ENV = "WAICT_TEST_TS_CRASH_AT"
_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Tests only: SIGKILL this process at ``name`` when ``WAICT_TEST_TS_CRASH_AT`` is
    ``name`` or ``name@K`` (the K-th time it is reached). Unset, it does nothing.
    Points: ``batch:mid`` (inside a batch's transaction, before COMMIT), ``batch:after``
    (the batch committed, nothing answered yet)."""
    want = os.environ.get(CRASH_ENV)
    if want is None or want.partition("@")[0] != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    nth = want.partition("@")[2]
    if not nth or int(nth) == _crash_counts[name]:
        os.kill(os.getpid(), signal.SIGKILL)


class StorageError(Exception):
    """Storage cannot do what was asked. ``kind`` names the cause for a one-line error:
    ``disk_full``, ``read_only``, ``damaged``, ``unavailable``, ``busy``, ``io_error`` or
    ``unsupported`` (a database of a newer schema version than this code knows).
    Nothing of the failed change is kept (each change is one transaction)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


_SQLITE_KINDS = {
    13: ("disk_full", "the disk is full"),  # SQLITE_FULL
    8: ("read_only", "the database is read-only"),  # SQLITE_READONLY
    11: ("damaged", "the database file is damaged"),  # SQLITE_CORRUPT
    26: ("damaged", "the file is not a database"),  # SQLITE_NOTADB
    14: ("unavailable", "the database file cannot be opened"),  # SQLITE_CANTOPEN
    5: ("busy", "the database is locked by another process"),  # SQLITE_BUSY
    6: ("busy", "the database is locked"),  # SQLITE_LOCKED
    10: ("io_error", "an I/O error"),  # SQLITE_IOERR
    23: ("unavailable", "access to the database file is denied"),  # SQLITE_AUTH
    3: ("unavailable", "access to the database file is denied"),  # SQLITE_PERM
}


def storage_error(exc: BaseException, path: str) -> StorageError:
    """A :class:`StorageError` naming the cause of a SQLite or OS error on ``path``."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return StorageError(f"{path}: the disk is full", "disk_full")
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_KINDS:
        kind, what = _SQLITE_KINDS[code & 0xFF]
        return StorageError(f"{path}: {what} ({exc})", kind)
    if isinstance(exc, WaictError):
        return StorageError(f"{path}: a stored record does not decode ({exc})", "damaged")
    return StorageError(f"{path}: {exc}", "io_error")


@dataclass(frozen=True)
class StoredCosignature:
    witness: str
    timestamp: int
    line: str


@dataclass(frozen=True)
class BatchWrite:
    """Everything batch ``n`` adds, written in one transaction."""

    n: int
    body: bytes
    root: bytes
    created: int
    nodes: Sequence[tuple[str, ChainNode]]  # in event order; several per domain possible
    tokens: Sequence[tuple[str, bytes]] = field(default=())  # enrolments: (domain, token hash)
    asset_hosts: Sequence[tuple[bytes, bytes]] = field(default=())  # (hash, TLS vector)


class TransparencyStore(ABC):
    """What the transparency service needs from storage. Reads may run on one thread while
    :meth:`publish_batch` runs on another (the service commits off its event loop)."""

    name: str  # for messages: the file or the database

    @abstractmethod
    def token_hash(self, domain: str) -> bytes | None: ...

    def publish_batch(self, batch: BatchWrite) -> None:
        """Atomically and durably: store the batch, its chain nodes, tokens, asset hosts.
        Idempotent: when a commit's outcome was unknown (the connection or the process went
        away during COMMIT) and the batch turns out stored, publishing it again succeeds; a
        *different* batch under a stored number is refused (``StorageError`` ``damaged``)."""
        try:
            self._publish(batch)
        except StorageError:
            stored = self.batch(batch.n)
            if stored is None:
                raise
            if stored != (batch.body, batch.root):
                raise StorageError(
                    f"{self.name}: batch {batch.n} is already stored with other contents",
                    "damaged",
                ) from None

    @abstractmethod
    def _publish(self, batch: BatchWrite) -> None:
        """One transaction: the batch, its chain nodes, tokens and asset hosts."""

    @abstractmethod
    def batch_count(self) -> int: ...

    @abstractmethod
    def batch(self, n: int) -> tuple[bytes, bytes] | None:
        """(body, root) of batch n."""

    @abstractmethod
    def batch_root(self, n: int) -> bytes | None:
        """The root after batch n (without reading its body)."""

    @abstractmethod
    def heads_at(self, count: int) -> Iterator[tuple[str, ChainNode]]:
        """Each domain's head after the first ``count`` batches."""

    @abstractmethod
    def head(self, domain: str) -> tuple[ChainNode, int] | None:
        """The domain's newest stored node and the batch that holds it."""

    @abstractmethod
    def head_at(self, domain: str, count: int) -> ChainNode | None:
        """The domain's head after the first ``count`` batches."""

    @abstractmethod
    def chain_nodes(self, domain: str, start: int, end: int) -> list[ChainNode]: ...

    @abstractmethod
    def asset_hosts(self, digest: bytes) -> bytes | None: ...

    @abstractmethod
    def add_cosignature(self, count: int, witness: str, timestamp: int, line: str) -> None:
        """Keep the newest cosignature of ``witness`` for ``count`` (no sync of its own)."""

    @abstractmethod
    def cosignatures(self, count: int) -> list[StoredCosignature]: ...

    @abstractmethod
    def domain_count(self) -> int: ...

    @abstractmethod
    def chains(self) -> Iterator[tuple[str, list[ChainNode]]]:
        """Every domain's whole chain, in position order (the start-up consistency check)."""

    def recovered_events(self) -> list[tuple[str, bytes]]:
        """Events an older version accepted and never put in a batch (found when its file
        was upgraded): the service puts them in its next batch. Empty afterwards."""
        return []

    def sizes(self) -> dict[str, int]:
        """Bytes used per table (and its indexes), where the engine can tell."""
        return {}

    @abstractmethod
    def close(self) -> None: ...


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
