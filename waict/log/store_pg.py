"""The transparency service's store in PostgreSQL (psycopg 3), for operators who outgrow one
machine's SQLite file: ``waict serve-ts --database postgresql://...``.

Same tables and rules as :class:`~waict.log.store.SqliteStore` (module docstring there): one
transaction per batch (its chain nodes sent with COPY), cosignatures committed with
``synchronous_commit = off`` (durable with the next batch; a lost one is sent again by its
witness), two connections (one writes, one reads) so reads never wait for a batch's commit.
Errors become :class:`~waict.log.store.StorageError` with the same kinds, from the SQLSTATE.
A database whose schema version is newer than this code is refused (``unsupported``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

from verifier.chain import ChainNode
from verifier.errors import WaictError
from waict.log.storage import (
    SCHEMA_VERSION,
    BatchWrite,
    StorageError,
    StoredCosignature,
    TransparencyStore,
    crash_point,
)

TABLES = ("domains", "batches", "chain", "asset_hosts", "cosignatures", "waict_schema")

SCHEMA = """
CREATE TABLE IF NOT EXISTS waict_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS domains (domain TEXT PRIMARY KEY, token_sha256 BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    n BIGINT PRIMARY KEY, body BYTEA NOT NULL, root BYTEA NOT NULL, created BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS chain (
    domain TEXT NOT NULL, position BIGINT NOT NULL, batch BIGINT NOT NULL, node BYTEA NOT NULL,
    PRIMARY KEY (domain, position));
CREATE TABLE IF NOT EXISTS asset_hosts (hash BYTEA PRIMARY KEY, vector BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS cosignatures (
    count BIGINT NOT NULL, witness TEXT NOT NULL, timestamp BIGINT NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (count, witness));
"""


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database"
    where = info.get("host") or "localhost"
    return f"postgresql {info.get('dbname') or ''}@{where}:{info.get('port') or 5432}"


def pg_error(exc: BaseException, name: str) -> StorageError:
    """A :class:`StorageError` naming the cause of a psycopg error."""
    if isinstance(exc, StorageError):
        return exc
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, WaictError):
        return StorageError(f"{name}: a stored record does not decode ({text})", "damaged")
    state = getattr(exc, "sqlstate", None) or ""
    if state == "53100":
        kind, what = "disk_full", "the disk is full"
    elif state == "25006":
        kind, what = "read_only", "the database is read-only"
    elif state in ("XX001", "XX002"):
        kind, what = "damaged", "the database is damaged"
    elif state.startswith(("08", "57")) or (
        isinstance(exc, psycopg.OperationalError) and not state
    ):  # connection lost, server shut down or restarting
        kind, what = "unavailable", "the database cannot be reached"
    elif state in ("40001", "40P01", "55P03"):
        kind, what = "busy", "the database is busy"
    elif state.startswith("28") or state == "42501":
        kind, what = "unavailable", "access to the database is denied"
    else:
        kind, what = "io_error", "a database error"
    return StorageError(f"{name}: {what} ({text})", kind)


class PostgresStore(TransparencyStore):
    def __init__(self, url: str) -> None:
        """Connect (10 s at most), create the tables if absent and check the schema version."""
        self.url = url
        self.name = redact(url)
        self._lock = threading.RLock()  # the writer
        self._rlock = threading.RLock()  # the reader
        try:
            self._db = psycopg.connect(url, connect_timeout=10, autocommit=True)
            self._rdb = psycopg.connect(url, connect_timeout=10, autocommit=True)
        except psycopg.Error as exc:
            raise pg_error(exc, self.name) from None
        try:
            with self._db.transaction():
                # one process creates the tables at a time
                self._db.execute("SELECT pg_advisory_xact_lock(7243041)")
                self._db.execute(SCHEMA)
                row = self._db.execute("SELECT max(version) FROM waict_schema").fetchone()
                version = row[0] if row else None
                if version is None:
                    self._db.execute(
                        "INSERT INTO waict_schema(version) VALUES (%s)", (SCHEMA_VERSION,)
                    )
                elif int(version) > SCHEMA_VERSION:
                    raise StorageError(
                        f"{self.name}: schema version {version} is newer than this waict knows "
                        f"({SCHEMA_VERSION}): run a newer waict on it",
                        "unsupported",
                    )
        except BaseException as exc:
            self._db.close()
            self._rdb.close()
            if isinstance(exc, psycopg.Error | StorageError):
                raise pg_error(exc, self.name) from None
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, connect_timeout=10, autocommit=True)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[psycopg.Connection[Any]]:
        """The writing connection (opened again if it was lost: a server restart, a
        terminated backend); errors become :class:`StorageError`."""
        with self._lock:
            try:
                if self._db.closed:
                    self._db = self._connect()
                yield self._db
            except psycopg.Error as exc:
                raise pg_error(exc, self.name) from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        with self._rlock:
            try:
                if self._rdb.closed:
                    self._rdb = self._connect()
                yield self._rdb
            except psycopg.Error as exc:
                raise pg_error(exc, self.name) from None

    def _one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        with self._reading() as db:
            row: tuple[Any, ...] | None = db.execute(sql, args).fetchone()
            return row

    def _node(self, blob: object) -> ChainNode:
        try:
            return ChainNode.decode(bytes(blob))  # type: ignore[call-overload]
        except (WaictError, TypeError) as exc:
            raise pg_error(WaictError(str(exc)), self.name) from None

    def token_hash(self, domain: str) -> bytes | None:
        row = self._one("SELECT token_sha256 FROM domains WHERE domain=%s", domain)
        return bytes(row[0]) if row else None

    def _publish(self, batch: BatchWrite) -> None:
        with self._writing() as db, db.transaction():
            db.execute(
                "INSERT INTO batches(n, body, root, created) VALUES (%s,%s,%s,%s)",
                (batch.n, batch.body, batch.root, batch.created),
            )
            with db.cursor() as cur:
                with cur.copy("COPY chain (domain, position, batch, node) FROM STDIN") as copy:
                    for d, node in batch.nodes:
                        copy.write_row((d, node.position, batch.n, node.encode()))
                if batch.tokens:
                    cur.executemany(
                        "INSERT INTO domains(domain, token_sha256) VALUES (%s,%s) "
                        "ON CONFLICT (domain) DO UPDATE SET token_sha256=excluded.token_sha256",
                        list(batch.tokens),
                    )
                if batch.asset_hosts:
                    cur.executemany(
                        "INSERT INTO asset_hosts(hash, vector) VALUES (%s,%s) "
                        "ON CONFLICT (hash) DO NOTHING",
                        list(batch.asset_hosts),
                    )
            crash_point("batch:mid")
        crash_point("batch:after")

    def batch_count(self) -> int:
        row = self._one("SELECT COALESCE(MAX(n) + 1, 0) FROM batches")
        return int(row[0]) if row else 0

    def batch(self, n: int) -> tuple[bytes, bytes] | None:
        row = self._one("SELECT body, root FROM batches WHERE n=%s", n)
        return (bytes(row[0]), bytes(row[1])) if row else None

    def batch_root(self, n: int) -> bytes | None:
        row = self._one("SELECT root FROM batches WHERE n=%s", n)
        return bytes(row[0]) if row else None

    def heads_at(self, count: int) -> Iterator[tuple[str, ChainNode]]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT DISTINCT ON (domain) domain, node FROM chain WHERE batch < %s "
                "ORDER BY domain, position DESC",
                (count,),
            ).fetchall()
        for domain, node in rows:
            yield str(domain), self._node(node)

    def head(self, domain: str) -> tuple[ChainNode, int] | None:
        row = self._one(
            "SELECT node, batch FROM chain WHERE domain=%s ORDER BY position DESC LIMIT 1", domain
        )
        return (self._node(row[0]), int(row[1])) if row else None

    def head_at(self, domain: str, count: int) -> ChainNode | None:
        row = self._one(
            "SELECT node FROM chain WHERE domain=%s AND batch<%s ORDER BY position DESC LIMIT 1",
            domain,
            count,
        )
        return self._node(row[0]) if row else None

    def chain_nodes(self, domain: str, start: int, end: int) -> list[ChainNode]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT node FROM chain WHERE domain=%s AND position>=%s AND position<%s "
                "ORDER BY position",
                (domain, start, end),
            ).fetchall()
        return [self._node(r[0]) for r in rows]

    def asset_hosts(self, digest: bytes) -> bytes | None:
        row = self._one("SELECT vector FROM asset_hosts WHERE hash=%s", digest)
        return bytes(row[0]) if row else None

    def add_cosignature(self, count: int, witness: str, timestamp: int, line: str) -> None:
        with self._writing() as db, db.transaction():
            db.execute("SET LOCAL synchronous_commit = off")
            db.execute(
                "INSERT INTO cosignatures(count, witness, timestamp, line) "
                "VALUES (%s,%s,%s,%s) ON CONFLICT (count, witness) DO UPDATE SET "
                "timestamp=excluded.timestamp, line=excluded.line "
                "WHERE excluded.timestamp > cosignatures.timestamp",
                (count, witness, timestamp, line),
            )

    def cosignatures(self, count: int) -> list[StoredCosignature]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT witness, timestamp, line FROM cosignatures WHERE count=%s ORDER BY witness",
                (count,),
            ).fetchall()
        return [StoredCosignature(str(w), int(t), str(line)) for w, t, line in rows]

    def domain_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM domains")
        return int(row[0]) if row else 0

    def chains(self) -> Iterator[tuple[str, list[ChainNode]]]:
        """One ordered scan of the chain table, streamed (a server-side cursor)."""
        with self._reading() as db, db.transaction(), db.cursor(name="waict_chains") as cur:
            cur.itersize = 10_000
            cur.execute("SELECT domain, node FROM chain ORDER BY domain, position")
            domain: str | None = None
            nodes: list[ChainNode] = []
            for d, blob in cur:
                if d != domain:
                    if domain is not None:
                        yield domain, nodes
                    domain, nodes = str(d), []
                nodes.append(self._node(blob))
            if domain is not None:
                yield domain, nodes

    def sizes(self) -> dict[str, int]:
        """Bytes per table, indexes and TOAST included (``pg_total_relation_size``)."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relkind = 'r' AND relname = ANY(%s)",
                (list(TABLES[:-1]),),
            ).fetchall()
        return {str(t): int(n) for t, n in rows}

    def close(self) -> None:
        with self._lock, self._rlock:
            self._db.close()
            self._rdb.close()


def drop_all(url: str) -> None:
    """Drop this store's tables (benchmarks and tests start from an empty database)."""
    with psycopg.connect(url, autocommit=True) as db:
        for table in TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
