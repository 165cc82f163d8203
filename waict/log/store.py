"""Storage for the transparency service, behind one small interface.

:class:`TransparencyStore` is what the service needs; :class:`SqliteStore` is the embedded
default (one SQLite file, WAL journal, ``synchronous=FULL``: a commit that returned is on
disk). Every multi-row change is one transaction, so a crash leaves either all of a batch or
none of it. A networked SQL engine (PostgreSQL, or a distributed SQL engine speaking its
protocol) fits the same interface; ``docs/scale.md`` describes a 100-million-domain layout.

Tables::

    domains(domain PK, token_sha256, created)          enrolled domains and their append token
    events(seq PK, domain, event, batch NULL)          accepted tree events; batch set when cut
    batches(n PK, body, root, created)                 TreeEventBatch n (0-based) and root after it
    chain(domain, position, node, batch)               every ChainNode; PK (domain, position)
    heads(domain PK, node)                             current head after the newest batch
    asset_hosts(hash PK, vector)                       asset-host TLS vectors by their hash
    cosignatures(count, witness, timestamp, line; PK(count, witness))
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from verifier.chain import ChainNode
from verifier.errors import WaictError

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
    domain TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, event BLOB NOT NULL,
    batch INTEGER);
CREATE INDEX IF NOT EXISTS events_pending ON events(batch) WHERE batch IS NULL;
CREATE TABLE IF NOT EXISTS batches (
    n INTEGER PRIMARY KEY, body BLOB NOT NULL, root BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chain (
    domain TEXT NOT NULL, position INTEGER NOT NULL, node BLOB NOT NULL, batch INTEGER NOT NULL,
    PRIMARY KEY (domain, position));
CREATE TABLE IF NOT EXISTS heads (domain TEXT PRIMARY KEY, node BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS asset_hosts (hash BLOB PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cosignatures (
    count INTEGER NOT NULL, witness TEXT NOT NULL, timestamp INTEGER NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (count, witness));
"""


class StorageError(Exception):
    """Storage cannot do what was asked. ``kind`` names the cause for a one-line error:
    ``disk_full``, ``read_only``, ``damaged``, ``unavailable``, ``busy`` or ``io_error``.
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
class PendingEvent:
    seq: int
    domain: str
    event: bytes


@dataclass(frozen=True)
class StoredCosignature:
    witness: str
    timestamp: int
    line: str


class TransparencyStore(ABC):
    """What the transparency service needs from storage."""

    @abstractmethod
    def token_hash(self, domain: str) -> bytes | None: ...

    @abstractmethod
    def add_event(
        self, domain: str, event: bytes, *, bind_token: bytes | None = None, now: int = 0
    ) -> int:
        """Durably record an accepted event; returns its sequence number. At enrollment
        ``bind_token`` (the append token's SHA-256) is bound in the same transaction: both or
        neither."""

    @abstractmethod
    def add_events(self, events: Sequence[tuple[str, bytes]]) -> None:
        """Durably record many accepted events at once (bulk loads, benchmarks)."""

    @abstractmethod
    def pending_events(self, limit: int) -> list[PendingEvent]: ...

    @abstractmethod
    def publish_batch(
        self,
        n: int,
        body: bytes,
        root: bytes,
        created: int,
        event_seqs: Sequence[int],
        nodes: Sequence[tuple[str, ChainNode]],
        asset_hosts: Sequence[tuple[bytes, bytes]],
    ) -> None:
        """Atomically: store batch n, mark its events, add the new chain nodes and heads."""

    @abstractmethod
    def batch_count(self) -> int: ...

    @abstractmethod
    def batch(self, n: int) -> tuple[bytes, bytes] | None:
        """(body, root) of batch n."""

    @abstractmethod
    def event_batch(self, seq: int) -> int | None: ...

    @abstractmethod
    def heads(self) -> Iterator[tuple[str, ChainNode]]: ...

    @abstractmethod
    def heads_at(self, count: int) -> Iterator[tuple[str, ChainNode]]:
        """Each domain's head after the first ``count`` batches."""

    @abstractmethod
    def head(self, domain: str) -> ChainNode | None: ...

    @abstractmethod
    def head_at(self, domain: str, count: int) -> ChainNode | None:
        """The domain's head after the first ``count`` batches."""

    @abstractmethod
    def chain_nodes(self, domain: str, start: int, end: int) -> list[ChainNode]: ...

    @abstractmethod
    def asset_hosts(self, digest: bytes) -> bytes | None: ...

    @abstractmethod
    def add_cosignature(self, count: int, witness: str, timestamp: int, line: str) -> None: ...

    @abstractmethod
    def cosignatures(self, count: int) -> list[StoredCosignature]: ...

    @abstractmethod
    def domain_count(self) -> int: ...

    @abstractmethod
    def chains(self) -> Iterator[tuple[str, list[ChainNode]]]:
        """Every domain's whole chain, in position order (the start-up consistency check)."""

    @abstractmethod
    def close(self) -> None: ...


class SqliteStore(TransparencyStore):
    """The embedded default: one SQLite file on disk."""

    def __init__(self, path: Path | str) -> None:
        """Open (or create) the database and check it (``PRAGMA quick_check``): a file that
        cannot be opened, written or read back raises :class:`StorageError`."""
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise storage_error(exc, self.path) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            problems = [str(r[0]) for r in self._db.execute("PRAGMA quick_check(5)").fetchall()]
        except (sqlite3.Error, OSError) as exc:
            self._db.close()
            raise storage_error(exc, self.path) from None
        if problems != ["ok"]:
            self._db.close()
            raise StorageError(
                f"{self.path}: the database file is damaged (quick_check: "
                f"{' '.join(' '.join(problems).split())[:300]})",
                "damaged",
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; SQLite errors become :class:`StorageError`."""
        with self._lock:
            try:
                yield self._db
            except (sqlite3.Error, OSError) as exc:
                raise storage_error(exc, self.path) from None

    def _node(self, blob: object) -> ChainNode:
        try:
            return ChainNode.decode(bytes(blob))  # type: ignore[call-overload]
        except (WaictError, TypeError) as exc:
            raise storage_error(WaictError(str(exc)), self.path) from None

    def _one(self, sql: str, *args: object) -> tuple[object, ...] | None:
        with self._locked() as db:
            row: tuple[object, ...] | None = db.execute(sql, args).fetchone()
            return row

    def token_hash(self, domain: str) -> bytes | None:
        row = self._one("SELECT token_sha256 FROM domains WHERE domain=?", domain)
        return bytes(row[0]) if row else None  # type: ignore[call-overload]

    def add_event(
        self, domain: str, event: bytes, *, bind_token: bytes | None = None, now: int = 0
    ) -> int:
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if bind_token is not None:
                    db.execute(
                        "INSERT INTO domains(domain, token_sha256, created) VALUES (?,?,?) "
                        "ON CONFLICT(domain) DO UPDATE SET token_sha256=excluded.token_sha256",
                        (domain, bind_token, now),
                    )
                cur = db.execute("INSERT INTO events(domain, event) VALUES (?,?)", (domain, event))
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return int(cur.lastrowid or 0)

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it rolls back by itself on
        some errors, e.g. a full disk: a second ROLLBACK would mask the real error)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def add_events(self, events: Sequence[tuple[str, bytes]]) -> None:
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO events(domain, event) VALUES (?,?)", events)
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def pending_events(self, limit: int) -> list[PendingEvent]:
        with self._locked() as db:
            rows = db.execute(
                "SELECT seq, domain, event FROM events WHERE batch IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingEvent(int(s), str(d), bytes(e)) for s, d, e in rows]

    def publish_batch(
        self,
        n: int,
        body: bytes,
        root: bytes,
        created: int,
        event_seqs: Sequence[int],
        nodes: Sequence[tuple[str, ChainNode]],
        asset_hosts: Sequence[tuple[bytes, bytes]],
    ) -> None:
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO batches(n, body, root, created) VALUES (?,?,?,?)",
                    (n, body, root, created),
                )
                db.executemany(
                    "UPDATE events SET batch=? WHERE seq=?", [(n, s) for s in event_seqs]
                )
                db.executemany(
                    "INSERT INTO chain(domain, position, node, batch) VALUES (?,?,?,?)",
                    [(d, node.position, node.encode(), n) for d, node in nodes],
                )
                db.executemany(
                    "INSERT INTO heads(domain, node) VALUES (?,?) "
                    "ON CONFLICT(domain) DO UPDATE SET node=excluded.node",
                    [(d, node.encode()) for d, node in nodes],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO asset_hosts(hash, vector) VALUES (?,?)", asset_hosts
                )
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def batch_count(self) -> int:
        row = self._one("SELECT COALESCE(MAX(n) + 1, 0) FROM batches")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def batch(self, n: int) -> tuple[bytes, bytes] | None:
        row = self._one("SELECT body, root FROM batches WHERE n=?", n)
        return (bytes(row[0]), bytes(row[1])) if row else None  # type: ignore[call-overload]

    def event_batch(self, seq: int) -> int | None:
        row = self._one("SELECT batch FROM events WHERE seq=?", seq)
        return None if row is None or row[0] is None else int(row[0])  # type: ignore[call-overload]

    def heads(self) -> Iterator[tuple[str, ChainNode]]:
        with self._locked() as db:
            rows = db.execute("SELECT domain, node FROM heads").fetchall()
        for domain, node in rows:
            yield str(domain), self._node(node)

    def heads_at(self, count: int) -> Iterator[tuple[str, ChainNode]]:
        with self._locked() as db:
            rows = db.execute(
                "SELECT c.domain, c.node FROM chain c JOIN ("
                " SELECT domain, MAX(position) AS p FROM chain WHERE batch < ? GROUP BY domain"
                ") m ON c.domain = m.domain AND c.position = m.p",
                (count,),
            ).fetchall()
        for domain, node in rows:
            yield str(domain), self._node(node)

    def head(self, domain: str) -> ChainNode | None:
        row = self._one("SELECT node FROM heads WHERE domain=?", domain)
        return self._node(row[0]) if row else None

    def head_at(self, domain: str, count: int) -> ChainNode | None:
        row = self._one(
            "SELECT node FROM chain WHERE domain=? AND batch<? ORDER BY position DESC LIMIT 1",
            domain,
            count,
        )
        return self._node(row[0]) if row else None

    def chain_nodes(self, domain: str, start: int, end: int) -> list[ChainNode]:
        with self._locked() as db:
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
            db.execute(
                "INSERT INTO cosignatures(count, witness, timestamp, line) VALUES (?,?,?,?) "
                "ON CONFLICT(count, witness) DO UPDATE SET timestamp=excluded.timestamp, "
                "line=excluded.line WHERE excluded.timestamp > cosignatures.timestamp",
                (count, witness, timestamp, line),
            )

    def cosignatures(self, count: int) -> list[StoredCosignature]:
        with self._locked() as db:
            rows = db.execute(
                "SELECT witness, timestamp, line FROM cosignatures WHERE count=? ORDER BY witness",
                (count,),
            ).fetchall()
        return [StoredCosignature(str(w), int(t), str(line)) for w, t, line in rows]

    def domain_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM heads")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def chains(self) -> Iterator[tuple[str, list[ChainNode]]]:
        with self._locked() as db:
            domains = [str(r[0]) for r in db.execute("SELECT DISTINCT domain FROM chain")]
        for domain in domains:
            with self._locked() as db:
                rows = db.execute(
                    "SELECT node FROM chain WHERE domain=? ORDER BY position", (domain,)
                ).fetchall()
            yield domain, [self._node(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
