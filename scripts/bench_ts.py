"""Benchmark the transparency service and its witnesses on this machine.

Phases (each printed with its numbers, then a Markdown table):

  A  bulk: N domains enrolled as pending events, cut into batches (the service's real
     batch code: replay rule, persistent tree, one SQLite transaction per batch)
  B  witness catch-up: one witness replays and cosigns every batch (its real checks)
  C  restart: the service rebuilds its tree from SQLite
  D  HTTP appends at that scale: the service + 2 witnesses on loopback, C concurrent
     clients each appending to their own domain; throughput of acknowledged appends
     (each waits for a quorum-cosigned proof) and median / p90 latency

Usage: .venv/bin/python scripts/bench_ts.py --domains 1000000 --appends 400 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from world import seed_for

from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64uencode
from verifier.events import TreeEvent, apply_event
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.log.accept import Pending
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import WitnessService, create_witness_app

TS_NAME = "ts.bench"
W = ("w1.bench", "w2.bench")
TOKEN = "bench-token"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def progress(label: str, done: int, total: int, t0: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - t0, 1e-9)
    sys.stderr.write(
        f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)"
    )
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def make_service(db: Path, site_port: int = 9) -> TransparencyService:
    witnesses = [Witness(n, ed25519_public_key(seed_for(n))) for n in W]
    return TransparencyService(
        SqliteStore(db),
        TS_NAME,
        witnesses,
        2,
        system_clock(),
        http_enroll_fetcher("http", site_port, connect="127.0.0.1"),
        batch_interval=0.05,
        max_batch=65535,
        append_timeout=120,
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--domains", type=int, default=100_000)
    ap.add_argument("--appends", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="waict-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, str]] = []
    n = args.domains
    now = int(time.time())

    # --- A: bulk enrolment through the real batch code --------------------------------------
    # accepted events are held in memory (group commit), then cut into batches of 65,535
    service = make_service(work / "ts.sqlite")
    service.max_pending = n + 1
    t0 = time.perf_counter()
    token = sha256(TOKEN.encode())
    for i in range(n):
        d = f"d{i}.bench"
        ev = TreeEvent(d, ("https://assets.bench/",), sha256(d.encode()), now)
        service._hold(Pending(d, ev, apply_event(None, ev), token))
    t_insert = time.perf_counter() - t0
    t1 = time.perf_counter()
    batches = 0

    async def cut_all() -> None:
        nonlocal batches
        while await service.cut_batch() is not None:
            batches += 1
            progress("A cut batches   ", min(n, batches * 65535), n, t1)

    asyncio.run(cut_all())
    t_cut = time.perf_counter() - t1
    rss_ts = rss_mb()
    results += [
        ("A: accept N enrolment events (held in memory)", f"{t_insert:.1f} s"),
        (
            "A: cut into batches (replay + tree + commit)",
            f"{t_cut:.1f} s ({batches} batches, {n / t_cut:,.0f} events/s)",
        ),
        ("A: process max RSS after service build", f"{rss_ts:,.0f} MB"),
    ]
    root = service.trees[service.count].root()
    service.store.close()
    del service

    # --- B: a witness replays every batch --------------------------------------------------
    witness = WitnessService(
        work / "w1.sqlite",
        W[0],
        seed_for(W[0]),
        "http://127.0.0.1:9",
        TS_NAME,
        system_clock(),
        past_window=10**9,
    )
    ts_store = SqliteStore(work / "ts.sqlite")
    t2 = time.perf_counter()
    for b in range(ts_store.batch_count()):
        stored = ts_store.batch(b)
        assert stored is not None
        signed = witness.process_batch(b, stored[0])
        progress("B witness replay", min(n, (b + 1) * 65535), n, t2)
    t_witness = time.perf_counter() - t2
    assert signed.root == root, "witness root differs from the service's"
    results.append(
        (
            "B: witness replays and cosigns all batches",
            f"{t_witness:.1f} s ({n / t_witness:,.0f} events/s)",
        )
    )
    ts_store.close()
    witness.close()
    del witness
    # the second witness gets the same state by copying the first's database
    import shutil

    shutil.copy(work / "w1.sqlite", work / "w2-seed.sqlite")

    # --- C: restart (tree rebuild from SQLite) ---------------------------------------------
    t3 = time.perf_counter()
    service = make_service(work / "ts.sqlite")
    t_restart = time.perf_counter() - t3
    results.append(("C: service restart (tree rebuilt from SQLite)", f"{t_restart:.1f} s"))

    # --- D: HTTP appends at this scale ------------------------------------------------------
    site_app = Starlette(routes=[Route("/.well-known/waict-enroll", _enroll_doc)])
    site = ServerThread(site_app).start()
    service.store.close()
    service = make_service(work / "ts.sqlite", site.port)
    ts = ServerThread(create_ts_app(service)).start()
    w1 = WitnessService(
        work / "w1.sqlite", W[0], seed_for(W[0]), ts.url, TS_NAME, system_clock(), poll_wait=2.0
    )
    # w2 has not seen the bulk batches: it catches up over HTTP (its real loop)
    w2 = WitnessService(
        work / "w2.sqlite",
        W[1],
        seed_for(W[1]),
        ts.url,
        TS_NAME,
        system_clock(),
        poll_wait=2.0,
        past_window=10**9,
    )
    t_catch = time.perf_counter()
    s1 = ServerThread(create_witness_app(w1)).start()
    s2 = ServerThread(create_witness_app(w2)).start()
    while w2.count < service.count:
        time.sleep(0.2)
    t_catch = time.perf_counter() - t_catch
    results.append(("D: second witness catches up over HTTP", f"{t_catch:.1f} s"))

    latencies: list[float] = []

    async def client(i: int, count: int) -> None:
        domain = f"c{i}.bench"
        async with httpx.AsyncClient(base_url=ts.url, timeout=120) as http:
            r = await http.post(f"/enroll/{domain}")
            r.raise_for_status()
            prev = ChainHeadWithProof.decode(r.content).head.next_chain_hash()
            for k in range(count):
                body = {
                    "resource_hash": base64.b64encode(sha256(b"%d-%d" % (i, k))).decode(),
                    "asset_hosts": ["https://assets.bench/"],
                    "prev": base64.b64encode(prev).decode(),
                }
                t = time.perf_counter()
                r = await http.post(
                    f"/append/{domain}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
                )
                r.raise_for_status()
                latencies.append(time.perf_counter() - t)
                prev = ChainHeadWithProof.decode(r.content).head.next_chain_hash()
                progress("D appends       ", len(latencies), args.appends, t4)

    per = max(1, args.appends // args.concurrency)
    t4 = time.perf_counter()

    async def run_clients() -> None:
        await asyncio.gather(*(client(i, per) for i in range(args.concurrency)))

    asyncio.run(run_clients())
    elapsed = time.perf_counter() - t4
    done = len(latencies)
    lat = sorted(latencies)
    results += [
        (
            "D: acknowledged appends",
            f"{done} by {args.concurrency} clients in {elapsed:.1f} s"
            f" = {done / elapsed:,.1f} appends/s",
        ),
        (
            "D: append latency median / p90",
            f"{statistics.median(lat) * 1000:.0f} ms / {lat[int(0.9 * (done - 1))] * 1000:.0f} ms",
        ),
        ("process max RSS (service + 2 witnesses in one process)", f"{rss_mb():,.0f} MB"),
    ]
    for s in (s2, s1, ts, site):
        s.stop()

    print(f"\n### Transparency service benchmark: {n:,} domains (work dir {work})\n")
    print("| phase | result |\n|---|---|")
    for k, v in results:
        print(f"| {k} | {v} |")
    print(f"\nmachine: {os.cpu_count()} cores; batch interval 0.05 s; quorum 2 of 2 witnesses")
    return 0


async def _enroll_doc(request: Request) -> JSONResponse:
    host = request.headers["host"].split(":")[0]
    return JSONResponse(
        {
            "resource_hash": base64.b64encode(sha256(host.encode())).decode(),
            "asset_hosts": ["https://assets.bench/"],
            "token_sha256": b64uencode(sha256(TOKEN.encode())),
        }
    )


if __name__ == "__main__":
    raise SystemExit(main())
