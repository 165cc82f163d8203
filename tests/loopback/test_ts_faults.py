"""The transparency service as a real process under faults (issue 10): a damaged,
unreadable or read-only database at start, a full disk, a graceful stop under long polls,
slow clients. Each fault gives a clear one-line message and loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerThread, free_port, run_async
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier import chain
from verifier.chain import ChainNode, Entry
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.demo.ecosystem import ServerProcess
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import WitnessService, create_witness_app

TS_NAME = "ts.example"
WIT = "w1.example"
HOST = "site.example"


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
        stored = service.store.head("a.example")
        assert stored is not None
        head = stored[0]
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
    """The newest node of a.example removed: the chain still links, the tree over the heads
    no longer has the last batch's root."""
    _tamper(db, "DELETE FROM chain WHERE domain='a.example' AND position=1")


def damage_root(db: Path) -> None:
    _tamper(db, "UPDATE batches SET root=? WHERE n=(SELECT MAX(n) FROM batches)", b"\x09" * 32)


def damage_not_a_database(db: Path) -> None:
    db.write_bytes(b"this is not a database\n" * 300)


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (damage_garbage, "damaged"),
        (damage_chain, "damaged"),
        (damage_head, "damaged"),
        (damage_root, "damaged"),
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


# --- class 8: a full disk gives a clear 503, nothing half-written, recovery -----------------


class Site:
    """The well-known document of HOST, served on loopback."""

    def __init__(self, servers: list[ServerThread], token: str) -> None:
        doc = json.dumps(
            {
                "resource_hash": b64encode(chain.resource_hash(b"v0")),
                "asset_hosts": [],
                "token_sha256": b64uencode(sha256(token.encode())),
            }
        ).encode()

        async def well_known(request: Request) -> Response:
            return Response(doc, media_type="application/json")

        self.server = ServerThread(
            Starlette(routes=[Route("/.well-known/waict-enroll", well_known)])
        ).start()
        servers.append(self.server)


def start_ts(tmp: Path, db: Path, site_port: int, port: int | None = None) -> ServerProcess:
    port = free_port() if port is None else port
    args = ts_args(
        db,
        port,
        "--batch-interval",
        "0.05",
        "--enroll-scheme",
        "http",
        "--enroll-port",
        str(site_port),
        "--enroll-connect",
        "127.0.0.1",
    )
    return ServerProcess("ts", args, f"http://127.0.0.1:{port}/status", tmp / "ts.log").start()


def start_witness(tmp: Path, ts_url: str, servers: list[ServerThread]) -> None:
    witness = WitnessService(
        tmp / "w.sqlite", WIT, seed_for(WIT), ts_url, TS_NAME, system_clock(), poll_wait=1.0
    )
    servers.append(ServerThread(create_witness_app(witness)).start())


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 9):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    return filler


def test_disk_full_is_a_clear_503_and_recovers(tmp_path: Path, servers: list[ServerThread]) -> None:
    token = "disk-token"
    site = Site(servers, token)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        ts = start_ts(tmp_path, disk / "ts.sqlite", site.server.port)
        try:
            url = ts.ready_url.removesuffix("/status")
            start_witness(tmp_path, url, servers)
            r = httpx.post(f"{url}/enroll/{HOST}", timeout=60)
            assert r.status_code == 200, r.text
            acked = [ChainHeadWithProof.decode(r.content).head]

            def append(k: int) -> httpx.Response:
                body = {
                    "resource_hash": b64encode(chain.resource_hash(b"v%d" % k)),
                    "asset_hosts": [],
                    "prev": b64encode(acked[-1].next_chain_hash()),
                }
                return httpx.post(
                    f"{url}/append/{HOST}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )

            filler = fill(disk)
            refused: httpx.Response | None = None
            for k in range(1, 200):
                r = append(k)
                if r.status_code == 200:
                    acked.append(ChainHeadWithProof.decode(r.content).head)
                    continue
                refused = r
                break
            assert refused is not None, "the disk never filled up"
            assert refused.status_code == 503, refused.text
            body = refused.json()
            assert set(body) == {"error", "detail"} and body["detail"] == "disk_full", body
            assert "\n" not in body["error"] and "full" in body["error"]
            time.sleep(3)  # the batch loop keeps failing meanwhile
            assert httpx.get(f"{url}/leaf/{HOST}", timeout=30).status_code == 200
            # space returns: pending appends are published, new appends work
            filler.unlink()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = httpx.get(f"{url}/status").json()
                if (
                    status["storage_fault"] is None
                    and status["pending"] == 0
                    and status["cosigned"] == status["batches"]
                ):
                    break
                time.sleep(0.2)
            leaf = ChainHeadWithProof.decode(httpx.get(f"{url}/leaf/{HOST}").content).head
            if leaf.position > acked[-1].position:  # the refused append was held, then stored
                assert leaf.position == acked[-1].position + 1
                acked.append(leaf)
            r = append(1000)
            assert r.status_code == 200, r.text
            acked.append(ChainHeadWithProof.decode(r.content).head)
            tile = httpx.get(f"{url}/entries-tile/{HOST}/000.p/{len(acked)}")
            entries = [
                Entry.decode(tile.content[i : i + 80]) for i in range(0, len(tile.content), 80)
            ]
            assert entries == [n.entry for n in acked]  # nothing acknowledged is lost
        finally:
            ts.stop()
        text = (tmp_path / "ts.log").read_text()
        assert "Traceback" not in text, text[-3000:]
        full_lines = [line for line in text.splitlines() if "disk" in line and "full" in line]
        assert 1 <= len(full_lines) <= 6, full_lines  # rate-limited, not five a second


# --- class 13: a graceful stop and a vanishing client are no errors --------------------------


def test_graceful_stop_answers_long_polls_and_logs_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "ts.sqlite"
    port = free_port()
    ts = ServerProcess(
        "ts", ts_args(db, port), f"http://127.0.0.1:{port}/status", tmp_path / "ts.log"
    ).start()
    url = f"http://127.0.0.1:{port}"
    answers: list[httpx.Response | Exception] = []

    def poll() -> None:
        try:
            answers.append(httpx.get(f"{url}/tree-event-batch/000?wait=60", timeout=90))
        except Exception as exc:
            answers.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for t in pollers:
        t.start()
    time.sleep(2)  # the long polls are waiting
    assert ts.proc is not None
    ts.proc.send_signal(signal.SIGTERM)
    assert ts.proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    for t in pollers:
        t.join(timeout=60)
    assert len(answers) == 3
    for answer in answers:
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 503 and answer.json()["detail"] == "stopping", answer.text
    text = (tmp_path / "ts.log").read_text()
    assert "Traceback" not in text and "Exception in ASGI" not in text, text


def _disconnect_mid_body(port: int, head: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + b"Content-Length: 100000\r\n\r\n" + b"x" * 100)
        time.sleep(0.5)


def test_client_that_disconnects_is_not_an_error(tmp_path: Path) -> None:
    ts_port, assets_port = free_port(), free_port()
    ts = ServerProcess(
        "ts",
        ts_args(tmp_path / "ts.sqlite", ts_port),
        f"http://127.0.0.1:{ts_port}/status",
        tmp_path / "ts.log",
    ).start()
    (tmp_path / "token").write_text("assets-token\n")
    assets = ServerProcess(
        "assets",
        [
            "serve-assets",
            "--dir",
            str(tmp_path / "objects"),
            "--token-file",
            str(tmp_path / "token"),
            "--port",
            str(assets_port),
        ],
        f"http://127.0.0.1:{assets_port}/fetch/sha256-{b64uencode(sha256(b''))}",
        tmp_path / "assets.log",
    ).start()
    try:
        _disconnect_mid_body(ts_port, b"POST /upload-cosignature/001 HTTP/1.1\r\nHost: ts\r\n")
        _disconnect_mid_body(
            assets_port,
            b"PUT /upload HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer assets-token\r\n",
        )
        time.sleep(2)
        # still serving
        assert httpx.get(f"http://127.0.0.1:{ts_port}/status", timeout=30).status_code == 200
        assert list((tmp_path / "objects" / "tmp").iterdir()) == []  # the partial upload is gone
    finally:
        ts.stop()
        assets.stop()
    for name in ("ts.log", "assets.log"):
        text = (tmp_path / name).read_text()
        assert "Traceback" not in text and "ERROR" not in text, text


# --- class 5: slow and half-open clients do not starve the others ---------------------------


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_slow_clients_do_not_starve_a_normal_request(tmp_path: Path, parser: str) -> None:
    """300 connections that drip their headers or their body, one byte per half second,
    against a server allowed 256 file descriptors: a normal request is still answered, and
    each slow connection is closed by its deadline (a per-read timeout never trips). With
    either HTTP/1.1 parser (the limits are one subclass body over both)."""
    import resource

    port = free_port()
    args = ts_args(
        tmp_path / "ts.sqlite",
        port,
        "--max-connections",
        "64",
        "--header-timeout",
        "3",
        "--body-timeout",
        "3",
        "--http-parser",
        parser,
    )

    def few_fds() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log_file = (tmp_path / "ts.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "waict.cli", *args],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=few_fds,
    )
    url = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    stop = threading.Event()
    closed_after: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/status", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "did not start"
            time.sleep(0.2)
        for i in range(300):
            s = socket.socket()
            s.settimeout(10)
            with contextlib.suppress(OSError):
                s.connect(("127.0.0.1", port))
                if i % 2:
                    s.sendall(b"POST /upload-cosignature/001 HTTP/1.1\r\nHost: t\r\n")
                    s.sendall(b"Content-Length: 100000\r\n\r\nx")
                else:
                    s.sendall(b"GET /status HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            slow.append(s)
        opened = time.monotonic()

        def drip() -> None:
            while not stop.is_set():
                for s in list(slow):
                    try:
                        s.sendall(b"x")
                    except OSError:
                        slow.remove(s)
                        closed_after.append(time.monotonic() - opened)
                        s.close()
                stop.wait(0.5)

        dripper = threading.Thread(target=drip)
        dripper.start()
        started = time.monotonic()
        r = httpx.get(f"{url}/status", timeout=30)
        assert r.status_code == 200 and r.json()["name"] == TS_NAME
        assert time.monotonic() - started < 30
        # every slow connection is closed by its deadline, dripping or not
        deadline = time.monotonic() + 60
        while slow and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not slow, f"{len(slow)} slow connections still open"
        assert httpx.get(f"{url}/status", timeout=30).status_code == 200
    finally:
        stop.set()
        for s in slow:
            s.close()
        proc.terminate()
        proc.wait(timeout=30)
        log_file.close()
    text = (tmp_path / "ts.log").read_text()
    assert "Traceback" not in text, text[-3000:]


@pytest.mark.parametrize(
    "extra",
    [
        ["--batch-interval", "nan"],
        ["--batch-interval", "-1"],
        ["--quorum", "0"],
        ["--header-timeout", "inf"],
        ["--max-connections", "0"],
    ],
)
def test_numbers_on_the_command_line_are_finite_and_bounded(
    tmp_path: Path, extra: list[str]
) -> None:
    """Class 1 on the command line: nan never reaches the batch loop's sleep."""
    result = run_cli([*ts_args(tmp_path / "ts.sqlite"), *extra])
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "must be from" in result.stderr


def test_unreachable_postgresql_is_refused_with_one_line(tmp_path: Path) -> None:
    """`serve-ts --database postgresql://...` whose server cannot be reached: one line
    naming the cause (no traceback, no password), exit 2."""
    args = ts_args(tmp_path / "unused.sqlite")
    at = args.index("--db")
    args[at : at + 2] = [
        "--database",
        f"postgresql://waict:secret-pw@/waict?host={tmp_path}/no-such-dir&connect_timeout=2",
    ]
    result = run_cli(args)
    assert_one_line_refusal(result, "unavailable")
    assert "secret-pw" not in result.stderr
