"""What the transparency service needs from storage (:class:`TransparencyStore`), the
records it passes (:class:`BatchWrite`, :class:`StoredCosignature`), and the one typed error
of every store (:class:`StorageError`). The stores: :mod:`waict.log.store` (SQLite, the
default, and :func:`~waict.log.store.open_store`) and :mod:`waict.log.store_pg`."""

from __future__ import annotations

import errno
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from verifier.chain import ChainNode
from verifier.errors import WaictError

SCHEMA_VERSION = 2

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
