"""Witnesses under faults (issue 10): a lost cosignature upload, a loop that hits an
unexpected error, a witness back after longer than its clock window, a service that rolled
back or forked its history. The service and witnesses run in this process, on loopback."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier import chain
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.events import TreeEvent, encode_batch
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.http import Clock, system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import ForkError, WitnessService, create_witness_app

TS_NAME = "ts.example"
W = ("w1.example", "w2.example")
HOST = "site.example"
TOKEN = "faults-token"
Scope = dict[str, Any]


def rh(k: int) -> bytes:
    return chain.resource_hash(b"manifest %d" % k)


class Log:
    """A transparency service and its witnesses, in this process, restartable."""

    def __init__(
        self,
        tmp: Path,
        servers: list[ServerThread],
        *,
        witnesses: tuple[str, ...] = W,
        quorum: int = 2,
        append_timeout: float = 30.0,
    ) -> None:
        self.tmp = tmp
        self.servers = servers
        self.witness_names = witnesses
        self.quorum = quorum
        self.append_timeout = append_timeout
        self.ts_clock_offset = 0
        self.intercept: Callable[[Scope], bool] | None = None
        self.site = self._start(Starlette(routes=[Route("/.well-known/waict-enroll", self._doc)]))
        self.ts: ServerThread | None = None
        self.ts_port: int | None = None
        self.witnesses: dict[str, tuple[WitnessService, ServerThread]] = {}
        self.start_ts()

    def _start(self, app: Any, port: int | None = None) -> ServerThread:
        server = ServerThread(app, port).start()
        self.servers.append(server)
        return server

    def _stop(self, server: ServerThread) -> None:
        server.stop()
        self.servers.remove(server)

    async def _doc(self, request: Request) -> Response:
        doc = {
            "resource_hash": b64encode(rh(0)),
            "asset_hosts": [],
            "token_sha256": b64uencode(sha256(TOKEN.encode())),
        }
        return Response(json.dumps(doc), media_type="application/json")

    def _wrap(self, app: Any) -> Any:
        """The service's app, with an optional interceptor that loses requests (503)."""

        async def asgi(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and self.intercept is not None and self.intercept(scope):
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"lost"})
                return
            await app(scope, receive, send)

        return asgi

    # --- the service --------------------------------------------------------------------
    def start_ts(self, db: str = "ts.sqlite") -> None:
        self.service = TransparencyService(
            SqliteStore(self.tmp / db),
            TS_NAME,
            [Witness(n, ed25519_public_key(seed_for(n))) for n in self.witness_names],
            self.quorum,
            lambda: int(time.time()) + self.ts_clock_offset,
            http_enroll_fetcher("http", self.site.port, connect="127.0.0.1"),
            batch_interval=0.05,
            append_timeout=self.append_timeout,
        )
        self.ts = self._start(self._wrap(create_ts_app(self.service)), self.ts_port)
        self.ts_port = self.ts.port

    def stop_ts(self) -> None:
        assert self.ts is not None
        self._stop(self.ts)
        self.ts = None
        self.service.store.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ts_port}"

    # --- witnesses ----------------------------------------------------------------------
    def start_witness(self, name: str, clock: Clock | None = None, **kw: Any) -> WitnessService:
        service = WitnessService(
            self.tmp / f"{name}.sqlite",
            name,
            seed_for(name),
            self.url,
            TS_NAME,
            clock or system_clock(),
            poll_wait=1.0,
            **kw,
        )
        self.witnesses[name] = (service, self._start(create_witness_app(service)))
        return service

    def stop_witness(self, name: str) -> None:
        service, server = self.witnesses.pop(name)
        self._stop(server)
        service.close()

    def witness_get(self, name: str, path: str = "/status") -> httpx.Response:
        return httpx.get(f"{self.witnesses[name][1].url}{path}", timeout=10)

    # --- a writer -----------------------------------------------------------------------
    def enroll(self) -> httpx.Response:
        return httpx.post(f"{self.url}/enroll/{HOST}", timeout=self.append_timeout + 10)

    def append(self, k: int, prev: bytes) -> httpx.Response:
        body = {"resource_hash": b64encode(rh(k)), "asset_hosts": [], "prev": b64encode(prev)}
        return httpx.post(
            f"{self.url}/append/{HOST}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=self.append_timeout + 10,
        )


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- item 3: a lost cosignature upload is sent again, with no other traffic -----------------


def test_lost_cosignature_upload_is_sent_again(tmp_path: Path, servers: list[ServerThread]) -> None:
    log = Log(tmp_path, servers)
    lost: list[str] = []

    def lose_first_upload(scope: Scope) -> bool:
        path = str(scope["path"])
        if scope["method"] == "POST" and path.startswith("/upload-cosignature/") and not lost:
            lost.append(path)
            return True
        return False

    log.intercept = lose_first_upload
    for name in W:
        log.start_witness(name)
    r = log.enroll()  # nothing else happens: the witness must send its line again by itself
    assert lost == ["/upload-cosignature/001"]
    assert r.status_code == 200, r.text
    assert ChainHeadWithProof.decode(r.content).head.entry.resource_hash == rh(0)


# --- item 7: an unexpected error in the loop is logged, surfaced, and recovered from --------


def test_witness_loop_survives_an_unexpected_error(
    tmp_path: Path, servers: list[ServerThread], caplog: pytest.LogCaptureFixture
) -> None:
    log = Log(tmp_path, servers, witnesses=W[:1], quorum=1)
    witness = log.start_witness(W[0])
    real = witness.process_batch
    failures: list[int] = []

    def failing_once(n: int, body: bytes, **kw: Any) -> Any:
        if not failures:
            failures.append(n)
            raise sqlite3.OperationalError("disk I/O error")
        return real(n, body, **kw)

    witness.process_batch = failing_once  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        r = log.enroll()
    assert failures == [0]
    assert r.status_code == 200, r.text  # the loop came back and cosigned
    status = log.witness_get(W[0]).json()
    assert status["count"] >= 1
    assert status["loop"]["errors"] >= 1 and status["loop"]["running"]
    assert "disk I/O error" in status["loop"]["last_error"]
    assert any("disk I/O error" in rec.getMessage() or rec.exc_info for rec in caplog.records)


# --- item 4: a witness back after longer than its clock window catches up -------------------


def test_witness_away_longer_than_its_window_catches_up(
    tmp_path: Path, servers: list[ServerThread]
) -> None:
    log = Log(tmp_path, servers, quorum=1)
    two_hours = 2 * 3600
    w1_offset = {"s": -two_hours}
    log.ts_clock_offset = -two_hours  # the history was written two hours ago
    log.start_witness(W[0], clock=lambda: int(time.time()) + w1_offset["s"])
    first = log.enroll()
    assert first.status_code == 200, first.text
    second = log.append(1, ChainHeadWithProof.decode(first.content).head.next_chain_hash())
    assert second.status_code == 200, second.text

    # now: the service wants both witnesses, and w2 joins (brand new: all it sees is old)
    log.stop_ts()
    log.quorum, log.ts_clock_offset, w1_offset["s"] = 2, 0, 0
    log.start_ts()
    w2 = log.start_witness(W[1])
    # it replays batch 0 (old); batch 1 is the newest and too old to be signed now
    wait_until("w2 to replay the old batch", lambda: w2.count == 1)
    third = log.append(2, ChainHeadWithProof.decode(second.content).head.next_chain_hash())
    assert third.status_code == 200, third.text  # a quorum of two: w2 cosigned the new root
    assert w2.count == 3 and w2.signed(1) is None and w2.signed(2) is None  # replayed only
    signed = w2.signed(3)
    assert signed is not None and signed.root == w2.tree.root()
    assert log.witness_get(W[1]).json()["last_error"] is None


# --- item 12: a rolled-back or forked service is refused, loudly, for good -----------------


def _copy_db(src: Path, dst: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, dst)


def test_witness_refuses_a_rolled_back_then_forked_service(
    tmp_path: Path, servers: list[ServerThread], caplog: pytest.LogCaptureFixture
) -> None:
    log = Log(tmp_path, servers, witnesses=W[:1], quorum=1, append_timeout=4.0)
    w1 = log.start_witness(W[0])
    first = log.enroll()
    assert first.status_code == 200, first.text
    log.stop_ts()
    _copy_db(tmp_path / "ts.sqlite", tmp_path / "backup.sqlite")  # a backup at 1 batch
    log.start_ts()
    second = log.append(1, ChainHeadWithProof.decode(first.content).head.next_chain_hash())
    assert second.status_code == 200, second.text
    wait_until("w1 to sign 2", lambda: w1.signed(2) is not None)
    signed_before = w1.signed(2)

    # the service is restored from the backup: 1 batch, while w1 signed 2
    with caplog.at_level(logging.ERROR, logger="waict.witness"):
        log.stop_ts()
        _copy_db(tmp_path / "backup.sqlite", tmp_path / "ts.sqlite")
        log.start_ts()
        wait_until("w1 to see the rollback", lambda: w1.fork is not None)
        # and it writes another history on top: two more appends
        prev = ChainHeadWithProof.decode(first.content).head.next_chain_hash()
        assert log.append(7, prev).status_code == 503  # no witness signs it
        prev = httpx.get(f"{log.url}/chain-hash/{HOST}/001").content
        assert log.append(8, prev).status_code == 503
    status = log.witness_get(W[0]).json()
    fork = status["fork_detected"]
    assert fork["kind"] == "rollback" and fork["service_count"] == 1
    assert fork["witness_count"] == 2 and fork["witness_root"] and fork["service_root"]
    assert log.witness_get(W[0], "/health").status_code == 503
    assert w1.latest_signed() == signed_before  # nothing signed for the new history
    assert httpx.get(f"{log.url}/status").json()["cosigned"] == 1
    fork_lines = [r for r in caplog.records if "FORK DETECTED" in r.getMessage()]
    assert len(fork_lines) == 1 and fork_lines[0].levelno == logging.ERROR

    # a restart does not forget it
    log.stop_witness(W[0])
    again = log.start_witness(W[0])
    assert again.fork == fork and log.witness_get(W[0], "/health").status_code == 503
    # the operator clears it: the witness looks again, and still sees a fork (same count,
    # another root), so it still signs nothing
    log.stop_witness(W[0])
    cleared = log.start_witness(W[0], clear_fork=True)
    wait_until("the fork to be seen again", lambda: cleared.fork is not None)
    assert cleared.fork is not None and cleared.fork["kind"] == "fork"
    assert cleared.latest_signed() == signed_before


def test_witness_refuses_a_batch_whose_claimed_root_differs(tmp_path: Path) -> None:
    w = WitnessService(
        tmp_path / "w.sqlite", W[0], seed_for(W[0]), "http://127.0.0.1:9", TS_NAME, system_clock()
    )
    batch = encode_batch([TreeEvent(HOST, (), rh(0), int(time.time()))])
    with pytest.raises(ForkError):
        w.process_batch(0, batch, claimed_root=b"\x01" * 32)
    assert w.count == 0 and w.latest_signed() is None and w.fork is not None
    assert w.fork["kind"] == "fork" and w.fork["service_root"] == b64encode(b"\x01" * 32)
    with pytest.raises(ForkError):  # never signs again, not even the root it agrees with
        w.process_batch(0, batch)
    assert not w.healthy()


# --- a witness started on a damaged database refuses with one line (issue 10 remainder) -----


def _witness_db(path: Path) -> None:
    w = WitnessService(path, W[0], seed_for(W[0]), "http://127.0.0.1:9", TS_NAME, system_clock())
    now = int(time.time())
    events = [
        TreeEvent(f"d{i}.example", ("https://assets.example/",), rh(i), now) for i in range(300)
    ]
    assert w.process_batch(0, encode_batch(events)) is not None
    w.close()


def _tamper_witness(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def _garbage(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:4096] + bytes(range(256)) * ((len(data) - 4096) // 256 + 1))


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 300)


def _other_head(path: Path) -> None:
    node = chain.ChainNode(chain.Entry(0, 1, b"\x07" * 32, b"\x08" * 32), b"\0" * 32)
    _tamper_witness(path, "UPDATE heads SET node=? WHERE domain='d7.example'", node.encode())


def _short_node(path: Path) -> None:
    _tamper_witness(path, "UPDATE heads SET node=x'00' WHERE domain='d7.example'")


@pytest.mark.parametrize("damage", [_garbage, _not_a_database, _other_head, _short_node])
def test_witness_on_a_damaged_database_refuses_with_one_line(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    import subprocess
    import sys

    db = tmp_path / "w.sqlite"
    _witness_db(db)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"w.sqlite{suffix}").unlink(missing_ok=True)
    damage(db)
    (tmp_path / "w.key").write_text(b64encode(seed_for(W[0])))
    args = ["serve-witness", "--db", str(db), "--name", W[0], "--key-file"]
    args += [str(tmp_path / "w.key"), "--ts", "http://127.0.0.1:9", "--ts-name", TS_NAME]
    done = subprocess.run(
        [sys.executable, "-m", "waict.cli", *args], capture_output=True, text=True, timeout=60
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in out, out
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith("waict serve-witness: cannot start (damaged)"), out


def test_a_witness_file_with_the_old_heads_table_is_upgraded(tmp_path: Path) -> None:
    """A witness file whose heads table has the rowid layout (before issue 12) opens: the
    table is rewritten WITHOUT ROWID in one transaction, the state checks, the witness goes
    on from its count."""
    db = tmp_path / "w.sqlite"
    _witness_db(db)
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE old_heads (domain TEXT PRIMARY KEY, node BLOB NOT NULL);"
        "INSERT INTO old_heads SELECT domain, node FROM heads;"
        "DROP TABLE heads; ALTER TABLE old_heads RENAME TO heads;"
    )
    conn.close()
    w = WitnessService(db, W[0], seed_for(W[0]), "http://127.0.0.1:9", TS_NAME, system_clock())
    sql = w._db.execute("SELECT sql FROM sqlite_master WHERE name='heads'").fetchone()[0]
    assert "WITHOUT ROWID" in sql and w.count == 1
    now = int(time.time())
    batch = encode_batch([TreeEvent("d7.example", None, rh(77), now)])
    signed = w.process_batch(1, batch)
    assert signed is not None and signed.count == 2
    w.close()
