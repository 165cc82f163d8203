"""Every row of issue 12's table in one command: the transparency service as a real process
(`waict serve-ts`), two real witness processes (quorum 2), and a raw HTTP load generator
in its own process.

Rows (each printed against its target, then as a Markdown table):

  appends/s      acknowledged appends per second (each answered only with a proof under a
                 root cosigned by both witnesses) into N enrolled domains, C connections
  fsyncs/batch   fsync + fdatasync calls of the service per batch while appending (strace)
  bytes/domain   bytes the store uses per enrolled domain (SQLite: dbstat per table; file)
  memory         the service's resident memory with 1,000 enrolments in flight, and how
                 many of them failed
  witness        one witness replays, cosigns and persists a 10,000-event batch (appends to
                 random enrolled domains) at N domains: median and slowest of several

Set-up (not timed as rows): N domains are enrolled through the service's real batch code
(group commit, persistent tree) in batches of 65,535; witness 1 replays them all and its
state is copied for witness 2.

Usage:
  .venv/bin/python scripts/bench_ts_scale.py --domains 100000
  .venv/bin/python scripts/bench_ts_scale.py --domains 1000000 --seconds 20
  .venv/bin/python scripts/bench_ts_scale.py --domains 100000 --postgres   (throwaway cluster)
  .venv/bin/python scripts/bench_ts_scale.py --database postgresql://user@host/db
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from verifier.chain import ChainNode  # noqa: E402
from verifier.crypto import ed25519_public_key, sha256  # noqa: E402
from verifier.encoding import b64encode, b64uencode  # noqa: E402
from verifier.events import TreeEvent, apply_event, encode_batch  # noqa: E402

TS_NAME = "ts.bench"
W = ("w1.bench", "w2.bench")
TOKEN = "bench-token"
HOSTS = ("https://assets.bench/",)
T0 = 1_790_000_000  # time of every bulk enrolment


def seed_for(name: str) -> bytes:
    return sha256(b"bench seed " + name.encode())


def domain(i: int) -> str:
    return f"d{i}.bench"


def node0(i: int) -> ChainNode:
    d = domain(i)
    return apply_event(None, TreeEvent(d, HOSTS, sha256(d.encode()), T0))


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- load generator (its own process) ---------------------------------------------------------


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    writer.write(head + body)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _append_worker(
    port: int, i: int, deadline: float, out: dict[str, list[float]], errors: list[str]
) -> None:
    d = domain(i)
    head = node0(i)
    k = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    try:
        while time.monotonic() < deadline:
            k += 1
            body = json.dumps(
                {
                    "resource_hash": b64encode(sha256(b"%s %d %d" % (d.encode(), os.getpid(), k))),
                    "asset_hosts": list(HOSTS),
                    "prev": b64encode(head.next_chain_hash()),
                }
            ).encode()
            req = (
                (
                    f"POST /append/{d} HTTP/1.1\r\nHost: ts\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n"
                ).encode()
                + auth
                + b"\r\n"
            )
            t = time.monotonic()
            status, answer = await _request(reader, writer, req, body)
            if status != 200:
                errors.append(f"{status} {answer[:120]!r}")
                await asyncio.sleep(0.5)
                continue
            out["lat"].append(time.monotonic() - t)
            out["done"].append(time.monotonic())
            head = ChainNode.decode(answer[:112])
    except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _site(port: int) -> asyncio.Server:
    """Answers every host's /.well-known/waict-enroll (the enrolment documents)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host = b""
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"host:"):
                    host = line[5:].strip().split(b":")[0]
            doc = json.dumps(
                {
                    "resource_hash": b64encode(sha256(host)),
                    "asset_hosts": list(HOSTS),
                    "token_sha256": b64uencode(sha256(TOKEN.encode())),
                }
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc)
            )
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)


async def _enroll_one(port: int, name: str, out: list[int], errors: list[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, answer = await _request(
                reader,
                writer,
                f"POST /enroll/{name} HTTP/1.1\r\nHost: ts\r\nContent-Length: 0\r\n\r\n".encode(),
                b"",
            )
        finally:
            writer.close()
        out.append(status)
        if status != 200:
            errors.append(f"{status} {answer[:160]!r}")
    except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


def loadgen(args: argparse.Namespace) -> int:
    async def run() -> dict[str, object]:
        errors: list[str] = []
        if args.mode == "append":
            out: dict[str, list[float]] = {"lat": [], "done": []}
            picked = random.Random(args.seed).sample(range(args.domains), args.concurrency)
            start = time.monotonic()
            deadline = start + args.seconds
            await asyncio.gather(
                *(_append_worker(args.port, i, deadline, out, errors) for i in picked)
            )
            # count what was acknowledged in the steady part: after the first second
            done = [t - start for t in out["done"]]
            steady = [t for t in done if t >= 1.0]
            lat = sorted(out["lat"])
            return {
                "acknowledged": len(done),
                "per_second": len(steady) / max(args.seconds - 1.0, 1e-9),
                "median_ms": statistics.median(lat) * 1000 if lat else None,
                "p99_ms": lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else None,
                "errors": len(errors),
                "error_sample": errors[:3],
            }
        site = await _site(args.site_port)
        statuses: list[int] = []
        start = time.monotonic()
        await asyncio.gather(
            *(
                _enroll_one(args.port, f"new{args.seed}-{i}.bench", statuses, errors)
                for i in range(args.concurrency)
            )
        )
        site.close()
        return {
            "enrolled": statuses.count(200),
            "failed": args.concurrency - statuses.count(200),
            "seconds": time.monotonic() - start,
            "error_sample": errors[:3],
        }

    print(json.dumps(asyncio.run(run())), flush=True)
    return 0


# --- orchestration ----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of the waited-for children of this process (the load generator runs)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def http_json(url: str) -> dict[str, object]:
    import httpx

    r = httpx.get(url, timeout=30)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({proc.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def pg_wal_syncs(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    return int(row[0]) if row else 0


def build(store_spec: str, work: Path, n: int) -> None:
    """N domains enrolled through the real batch code; witness 1 replays them."""
    from waict.log.accept import Pending
    from waict.log.http import system_clock
    from waict.log.service import TransparencyService
    from waict.log.store import open_store
    from waict.log.witness import WitnessService

    store = open_store(store_spec)
    from verifier.note import Witness

    service = TransparencyService(
        store,
        TS_NAME,
        [Witness(w, ed25519_public_key(seed_for(w))) for w in W],
        2,
        system_clock(),
        lambda d: asyncio.sleep(0, b""),
        max_batch=65535,
        max_pending=n + 1,
    )
    token = sha256(TOKEN.encode())
    t0 = time.perf_counter()

    async def cut_all() -> None:
        for start in range(0, n, 65535):
            for i in range(start, min(n, start + 65535)):
                d = domain(i)
                event = TreeEvent(d, HOSTS, sha256(d.encode()), T0)
                service._hold(Pending(d, event, apply_event(None, event), token))
            await service.cut_batch()
            say(f"built {min(n, start + 65535):,} / {n:,} domains")

    asyncio.run(cut_all())
    say(f"service store: {n:,} domains in {time.perf_counter() - t0:.1f} s")
    sizes = store.sizes()
    (work / "sizes.json").write_text(json.dumps(sizes))
    store.close()
    witness = WitnessService(
        work / "w1.sqlite", W[0], seed_for(W[0]), "http://127.0.0.1:9", TS_NAME, system_clock()
    )
    store = open_store(store_spec)
    t0 = time.perf_counter()
    for b in range(store.batch_count()):
        stored = store.batch(b)
        assert stored is not None
        witness.process_batch(b, stored[0], sign=False)
    say(f"witness state: {time.perf_counter() - t0:.1f} s")
    # both witnesses cosign the bulk's last root (what their loops would have sent)
    from verifier.note import NoteBody, cosign

    count = store.batch_count()
    root = store.batch_root(count - 1)
    assert root is not None and root == witness.tree.root()
    for w in W:
        line = cosign(NoteBody.for_service(TS_NAME, count, root), w, seed_for(w), int(time.time()))
        store.add_cosignature(count, w, int(time.time()), line.line())
    store.close()
    witness.close()
    shutil.copy(work / "w1.sqlite", work / "w2.sqlite")


def witness_row(work: Path, n: int, rounds: int) -> list[float]:
    """Replay + cosign + persist a 10,000-event batch of appends to random domains."""
    from waict.log.http import system_clock
    from waict.log.witness import WitnessService

    shutil.copy(work / "w1.sqlite", work / "w-scratch.sqlite")
    w = WitnessService(
        work / "w-scratch.sqlite",
        W[0],
        seed_for(W[0]),
        "http://127.0.0.1:9",
        TS_NAME,
        system_clock(),
        past_window=10**10,
    )
    rng = random.Random(12)
    times = []
    now = int(time.time())
    for r in range(rounds):
        picked = rng.sample(range(n), min(10_000, n))
        body = encode_batch(
            [TreeEvent(domain(i), None, sha256(b"w %d %d" % (r, i)), now + r) for i in picked]
        )
        t = time.perf_counter()
        signed = w.process_batch(w.count, body)
        times.append(time.perf_counter() - t)
        assert signed is not None
    w.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work / 'w-scratch.sqlite'}{suffix}").unlink(missing_ok=True)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd")
    lg = sub.add_parser("loadgen", help="(internal) the load generator process")
    lg.add_argument("mode", choices=["append", "enroll"])
    lg.add_argument("--port", type=int, required=True)
    lg.add_argument("--site-port", type=int, default=0)
    lg.add_argument("--domains", type=int, default=0)
    lg.add_argument("--concurrency", type=int, default=1000)
    lg.add_argument("--seconds", type=float, default=20)
    lg.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domains", type=int, default=100_000, help="N enrolled domains")
    ap.add_argument("--concurrency", type=int, default=1500, help="append connections")
    ap.add_argument("--seconds", type=float, default=20, help="length of the append run")
    ap.add_argument("--batch-interval", type=float, default=0.2)
    ap.add_argument("--enrolments", type=int, default=1000, help="enrolments in flight")
    ap.add_argument("--witness-rounds", type=int, default=7)
    ap.add_argument(
        "--database",
        default=None,
        help="PostgreSQL URL (emptied first); default: a SQLite file in the work directory",
    )
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster (initdb + pg_ctl, tests/pg.py) and use it",
    )
    ap.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    ap.add_argument(
        "--http-parser",
        choices=["httptools", "h11"],
        default="httptools",
        help="the servers' HTTP/1.1 parser (serve-ts --http-parser; default httptools)",
    )
    args = ap.parse_args()
    if args.cmd == "loadgen":
        return loadgen(args)

    work = Path(args.dir or tempfile.mkdtemp(prefix="waict-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    cluster = None
    if args.postgres:  # a throwaway cluster (tests/pg.py), stopped at the end
        import pg

        cluster = pg.Cluster().start()
        args.database = cluster.new_database()
        say(f"throwaway PostgreSQL cluster: {args.database}")
    try:
        return run(args, work)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args: argparse.Namespace, work: Path) -> int:
    n = args.domains
    store_spec = args.database or str(work / "ts.sqlite")
    if args.database:
        from waict.log.store_pg import drop_all

        drop_all(args.database)
    rows: list[tuple[str, str, str]] = []
    say(f"building {n:,} domains in {store_spec}")
    build(store_spec, work, n)

    say("witness: 10,000-event batches")
    wt = witness_row(work, n, args.witness_rounds)
    rows.append(
        (
            f"witness: replay + cosign + persist a 10,000-event batch at {n:,} domains",
            f"median {statistics.median(wt):.2f} s, slowest {max(wt):.2f} s ({len(wt)} batches)",
            "< 1 s, tail included",
        )
    )

    # the service and two witnesses, real processes
    py = sys.executable
    ts_port, site_port = free_port(), free_port()
    ts_url = f"http://127.0.0.1:{ts_port}"
    ts_cmd = [py, "-m", "waict.cli", "serve-ts", "--database", store_spec, "--name", TS_NAME]
    ts_cmd += ["--quorum", "2", "--port", str(ts_port), "--max-connections", "8192"]
    ts_cmd += ["--http-parser", args.http_parser]
    ts_cmd += ["--batch-interval", str(args.batch_interval), "--enroll-scheme", "http"]
    ts_cmd += ["--enroll-port", str(site_port), "--enroll-connect", "127.0.0.1"]
    for w in W:
        ts_cmd += ["--witness", f"{w}={b64encode(ed25519_public_key(seed_for(w)))}"]
    logs = {name: (work / f"{name}.log").open("ab") for name in ("ts", *W)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        t0 = time.perf_counter()
        procs["ts"] = subprocess.Popen(ts_cmd, stdout=logs["ts"], stderr=subprocess.STDOUT)
        wait_ready(f"{ts_url}/status", procs["ts"])
        say(f"service up in {time.perf_counter() - t0:.1f} s")
        for w in W:
            (work / f"{w}.key").write_text(base64.b64encode(seed_for(w)).decode())
            port = free_port()
            cmd = [py, "-m", "waict.cli", "serve-witness", "--db", str(work / f"{w[:2]}.sqlite")]
            cmd += ["--name", w, "--key-file", str(work / f"{w}.key"), "--ts", ts_url]
            cmd += ["--ts-name", TS_NAME, "--port", str(port), "--past-window", str(10**8)]
            procs[w] = subprocess.Popen(cmd, stdout=logs[w], stderr=subprocess.STDOUT)
            wait_ready(f"http://127.0.0.1:{port}/status", procs[w])
        st = http_json(f"{ts_url}/status")
        assert st["cosigned"] == st["batches"], st
        ts_pid = procs["ts"].pid

        def run_loadgen(mode: str, extra: list[str]) -> dict[str, object]:
            cmd = [py, __file__, "loadgen", mode, "--port", str(ts_port), *extra]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

        # appends/s, and the CPU time each process spent on them
        say(f"appends: {args.concurrency} connections for {args.seconds:g} s")
        cpu_before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        cpu_before["load generator"] = children_cpu_seconds()
        a = run_loadgen(
            "append",
            [
                "--domains",
                str(n),
                "--concurrency",
                str(args.concurrency),
                "--seconds",
                str(args.seconds),
            ],
        )
        rows.append(
            (
                f"acknowledged appends/s into {n:,} enrolled domains",
                f"{a['per_second']:,.0f}/s ({a['acknowledged']:,} in {args.seconds:g} s, "
                f"{args.concurrency} connections; latency median {a['median_ms']:.0f} ms, "
                f"p99 {a['p99_ms']:.0f} ms; {a['errors']} errors)",
                "≥ 4,000/s",
            )
        )
        say(json.dumps(a))
        cpu = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p in procs.items()}
        cpu["load generator"] = children_cpu_seconds() - cpu_before["load generator"]
        acked = max(int(a["acknowledged"]), 1)
        per_append = {name: 1000 * used / acked for name, used in cpu.items()}
        cores = os.cpu_count() or 1
        rows.append(
            (
                "CPU per acknowledged append, by process (what the cores were spent on)",
                ", ".join(f"{name} {ms:.3f} ms" for name, ms in per_append.items())
                + f"; in all {sum(per_append.values()):.3f} ms: {cores} cores give at most "
                f"{1000 * cores / sum(per_append.values()):,.0f}/s with every process here; "
                f"the service alone on one core {1000 / per_append['ts']:,.0f}/s",
                "(a profile, not a target)",
            )
        )

        # fsyncs per batch (strace slows the service: a separate, short run)
        if args.database or shutil.which("strace"):
            before = http_json(f"{ts_url}/status")["batches"]
            trace = work / "strace.txt"
            strace = None
            if args.database:  # the syncs are the PostgreSQL server's: its WAL statistics
                syncs_before = pg_wal_syncs(args.database)
            else:
                strace_cmd = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o"]
                strace = subprocess.Popen(
                    [*strace_cmd, str(trace), "-p", str(ts_pid)], stderr=subprocess.DEVNULL
                )
                time.sleep(1.0)
            fs = run_loadgen(
                "append",
                ["--domains", str(n), "--concurrency", "300", "--seconds", "6", "--seed", "2"],
            )
            time.sleep(0.5)
            calls = 0
            if strace is not None:
                strace.send_signal(signal.SIGINT)
                strace.wait(timeout=30)
                for line in trace.read_text().splitlines():
                    parts = line.split()
                    if parts and parts[-1] in ("fsync", "fdatasync"):
                        calls += int(parts[3]) if len(parts) >= 6 else int(parts[-2])
                what = "fsync/fdatasync of the service (strace)"
            else:
                calls = pg_wal_syncs(args.database) - syncs_before
                what = "WAL syncs of the PostgreSQL server (pg_stat_wal.wal_sync)"
            after = http_json(f"{ts_url}/status")["batches"]
            batches = int(after) - int(before)  # type: ignore[call-overload]
            rows.append(
                (
                    "fsyncs per batch (while appending)",
                    f"{calls / max(batches, 1):.2f} ({calls} {what} in {batches} "
                    f"batches, {fs['acknowledged']} appends)",
                    "2 per batch",
                )
            )

        # memory with 1,000 enrolments in flight
        rss_before = proc_kb(ts_pid, "VmRSS")
        say(f"{args.enrolments} enrolments at once")
        peak = [rss_before]
        stop = False

        def sample() -> None:
            while not stop:
                peak.append(proc_kb(ts_pid, "VmRSS"))
                time.sleep(0.05)

        import threading

        sampler = threading.Thread(target=sample)
        sampler.start()
        e = run_loadgen(
            "enroll",
            ["--site-port", str(site_port), "--concurrency", str(args.enrolments)],
        )
        stop = True
        sampler.join()
        rows.append(
            (
                f"service memory with {args.enrolments:,} enrolments in flight",
                f"{max(peak) / 1024:,.0f} MB peak RSS ({rss_before / 1024:,.0f} MB before, "
                f"+{(max(peak) - rss_before) / 1024:,.0f} MB); {e['enrolled']} enrolled, "
                f"{e['failed']} failed, in {e['seconds']:.1f} s",
                "bounded, no failure",
            )
        )
        say(json.dumps(e))
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()

    # bytes per domain: the store right after the build (every domain enrolled, one entry)
    sizes = json.loads((work / "sizes.json").read_text())
    total = sum(sizes.values())
    detail = ", ".join(f"{t} {v / n:.0f}" for t, v in sorted(sizes.items()) if v / n >= 0.5)
    rows.append(
        (
            "bytes stored per domain (one entry each, indexes included)",
            f"{total / n:.0f} B ({detail}); {n:,} domains",
            "≤ 300 B",
        )
    )

    engine = "PostgreSQL" if args.database else "SQLite"
    print(f"\n### Transparency service at {n:,} domains ({engine}; work dir {work})\n")
    print("| row | result | target |\n|---|---|---|")
    for k, v, t in rows:
        print(f"| {k} | {v} | {t} |")
    print(
        f"\nmachine: {os.cpu_count()} cores (shared); batch interval {args.batch_interval:g} s; "
        "quorum 2 of 2 witness processes; load generator in its own process"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
