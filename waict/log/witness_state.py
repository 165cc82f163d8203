"""A witness's SQLite state, opened and checked (:func:`open_state`), and its heads read in
bulk (:func:`read_heads`). The tables are :data:`waict.log.witness.SCHEMA`."""

from __future__ import annotations

import sqlite3

from verifier.chain import ChainNode
from verifier.errors import WaictError
from verifier.mpt import EMPTY_ROOT
from verifier.transparency import tree_key
from waict.log.storage import StorageError, storage_error
from waict.log.tree import PrefixTree


def open_state(path: str, schema: str) -> tuple[sqlite3.Connection, int, PrefixTree]:
    """The connection, the batch count and the tree over the stored heads, after checking the
    file (``PRAGMA quick_check``) and that the tree has the stored root: else
    :class:`~waict.log.storage.StorageError` with a one-line cause (``damaged``,
    ``unavailable``, ``read_only``...)."""
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, path) from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        _upgrade_heads(db)
        problems = [str(r[0]) for r in db.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise StorageError(
                f"{path}: the database file is damaged (quick_check: "
                f"{' '.join(' '.join(problems).split())[:300]})",
                "damaged",
            )
        meta = dict(db.execute("SELECT k, v FROM meta WHERE k IN ('count', 'root')"))
        count = int(meta.get("count", 0))
        stored_root = bytes(meta.get("root", EMPTY_ROOT))
        rows = db.execute("SELECT domain, node FROM heads").fetchall()
        tree = PrefixTree.build(
            (tree_key(str(d)), ChainNode.decode(bytes(n)).next_chain_hash()) for d, n in rows
        )
    except (sqlite3.Error, OSError, WaictError, ValueError, TypeError) as exc:
        db.close()
        raise storage_error(
            exc if not isinstance(exc, (ValueError, TypeError)) else WaictError(str(exc)), path
        ) from None
    except StorageError:
        db.close()
        raise
    if tree.root() != stored_root:
        db.close()
        raise StorageError(
            f"{path}: the witness state is inconsistent (the tree over its heads does not "
            "have its stored root): storage damaged; refusing to run",
            "damaged",
        )
    return db, count, tree


def _upgrade_heads(db: sqlite3.Connection) -> None:
    """A file from before ``heads`` was ``WITHOUT ROWID`` (one b-tree, not a table and an
    index holding every domain twice) is rewritten in one transaction: a crash leaves the
    old table."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='heads'").fetchone()
    if row is None or "WITHOUT ROWID" in str(row[0]).upper():
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE heads_v2 (domain TEXT PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID"
        )
        db.execute("INSERT INTO heads_v2(domain, node) SELECT domain, node FROM heads")
        db.execute("DROP TABLE heads")
        db.execute("ALTER TABLE heads_v2 RENAME TO heads")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def read_heads(db: sqlite3.Connection, domains: set[str]) -> dict[str, ChainNode]:
    """The stored heads of ``domains``, in a few queries (not one per domain)."""
    out: dict[str, ChainNode] = {}
    names = list(domains)
    for i in range(0, len(names), 500):
        part = names[i : i + 500]
        rows = db.execute(
            f"SELECT domain, node FROM heads WHERE domain IN ({','.join('?' * len(part))})",
            part,
        ).fetchall()
        for d, n in rows:
            out[str(d)] = ChainNode.decode(bytes(n))
    return out
