"""The transparency service as a real process under faults (issue 10): a damaged,
unreadable or read-only database at start, a full disk, a graceful stop under long polls,
slow clients. Each fault gives a clear one-line message and loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, run_async
from world import seed_for

from verifier import chain
from verifier.chain import ChainNode, Entry
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.note import Witness
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore

TS_NAME = "ts.example"
WIT = "w1.example"


def ts_args(db: Path, port: int | None = None, *extra: str) -> list[str]:
    port = free_port() if port is None else port
    return [
        "serve-ts",
        "--db",
        str(db),
        "--name",
        TS_NAME,
        "--port",
        str(port),
        "--witness",
        f"{WIT}={b64encode(ed25519_public_key(seed_for(WIT)))}",
        *extra,
    ]


def run_cli(args: list[str], timeout: float = 45) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waict.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build_db(path: Path) -> None:
    """A small log: a.example at positions 0 and 1, b.example at 0; three batches."""

    async def fetch(domain: str) -> bytes:
        return json.dumps(
            {
                "resource_hash": base64.b64encode(chain.resource_hash(domain.encode())).decode(),
                "asset_hosts": [],
                "token_sha256": b64uencode(sha256(b"tok")),
            }
        ).encode()

    async def run() -> None:
        service = TransparencyService(
            SqliteStore(path),
            TS_NAME,
            [Witness(WIT, ed25519_public_key(seed_for(WIT)))],
            1,
            system_clock(),
            fetch,
            append_timeout=0.01,
        )
        for host in ("a.example", "b.example"):
            task = asyncio.create_task(service.enroll(host))
            await asyncio.sleep(0.01)
            await service.cut_batch()
            with contextlib.suppress(Exception):
                await task
        head = service.store.head("a.example")
        assert head is not None
        body = json.dumps(
            {
                "resource_hash": base64.b64encode(chain.resource_hash(b"v2")).decode(),
                "asset_hosts": [],
                "prev": base64.b64encode(head.next_chain_hash()).decode(),
            }
        ).encode()
        task = asyncio.create_task(service.append("a.example", "tok", body))
        await asyncio.sleep(0.01)
        await service.cut_batch()
        with contextlib.suppress(Exception):
            await task
        assert service.count == 3
        service.store.close()

    run_async(run)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Traceback" not in out, out
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("waict serve-ts: cannot start"), out
    for word in words:
        assert word in lines[0], out


# --- class 9: a damaged, unreadable or read-only database is refused at start ---------------


def _tamper(db: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def damage_garbage(db: Path) -> None:
    """Every page but the first (the schema) overwritten: the b-trees are garbage."""
    data = db.read_bytes()
    assert len(data) >= 4 * 4096
    db.write_bytes(data[:4096] + os.urandom(len(data) - 4096))


def damage_chain(db: Path) -> None:
    """Position 0 of a.example replaced by another well-formed node: the file is sound, the
    chain no longer links (the heads, hence the tree root, are untouched)."""
    other = ChainNode(Entry(0, 1, b"\x07" * 32, b"\x08" * 32), b"\0" * 32)
    _tamper(db, "UPDATE chain SET node=? WHERE domain='a.example' AND position=0", other.encode())


def damage_head(db: Path) -> None:
    conn = sqlite3.connect(db)
    node = conn.execute("SELECT node FROM chain WHERE domain='a.example' AND position=0").fetchone()
    conn.close()
    _tamper(db, "UPDATE heads SET node=? WHERE domain='a.example'", node[0])


def damage_not_a_database(db: Path) -> None:
    db.write_bytes(b"this is not a database\n" * 300)


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (damage_garbage, "damaged"),
        (damage_chain, "damaged"),
        (damage_head, "damaged"),
        (damage_not_a_database, "damaged"),
    ],
)
def test_damaged_database_is_refused_with_one_line(
    tmp_path: Path, damage: object, kind: str
) -> None:
    db = tmp_path / "ts.sqlite"
    build_db(db)
    damage(db)  # type: ignore[operator]
    assert_one_line_refusal(run_cli(ts_args(db)), kind)


def test_unopenable_database_is_refused_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    assert_one_line_refusal(run_cli(ts_args(tmp_path / "dir.sqlite")), "unavailable")
    missing = tmp_path / "no" / "such" / "dir" / "ts.sqlite"
    assert_one_line_refusal(run_cli(ts_args(missing)), "unavailable")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_read_only_database_is_refused_with_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "4m") as mnt:
        build_db(mnt / "ts.sqlite")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        result = run_cli(ts_args(mnt / "ts.sqlite"))
        assert_one_line_refusal(result)


def test_sound_database_starts(tmp_path: Path) -> None:
    """The check passes a sound log (the process is stopped once it serves)."""
    db = tmp_path / "ts.sqlite"
    build_db(db)
    store = SqliteStore(db)
    service = TransparencyService(
        store,
        TS_NAME,
        [Witness(WIT, ed25519_public_key(seed_for(WIT)))],
        1,
        system_clock(),
        lambda d: asyncio.sleep(0, b""),
    )
    assert service.count == 3 and store.domain_count() == 2
    store.close()
