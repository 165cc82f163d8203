#!/usr/bin/env python3
"""Benchmark the WAICT extension: page load with and without it, and its cold start.

In one run, on loopback: the ``valid`` fixture site of ``tests/e2e/sites.py`` (document,
inline script, script, style, image, iframe, dedicated and shared worker, WebAssembly) is
loaded N times in a fresh headless Chromium without the extension and N times with it
(after one warm-up load each). A load is timed from ``page.goto`` to the moment the page's
script has finished its asynchronous work (every marker set), so workers and WebAssembly
count. Then the service worker's cold start: the time its module takes to get Pyodide and
the verifier ready (``waict.timings``), and the first page load after the worker was
stopped (the restart is on that load's critical path). Prints a Markdown table.

Needs ``bash scripts/setup.sh`` (chromium, playwright, node_modules, wheels).

Usage: ``python scripts/bench_extension.py [-n 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "tests" / "e2e"), str(REPO_ROOT / "tests"), str(REPO_ROOT)]

import sites  # noqa: E402
from harness import (  # noqa: E402
    QUIET_FLAGS,
    chromium_args,
    chromium_path,
    load_build_extension,
    wait_settled,
)
from server import FixtureServer  # noqa: E402

#: Without the extension there is no inline CSP (eval runs) and no WebAssembly guard.
WITHOUT_MARKERS = sites.UNGUARDED_MARKERS


def _timed_load(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="load")
    seen = wait_settled(page)
    elapsed = (time.perf_counter() - start) * 1000
    if seen not in (sites.ALL_MARKERS, WITHOUT_MARKERS):
        raise SystemExit(f"bench: the page did not load fully: {sorted(seen)}")
    return elapsed


def _loads(page: Any, url: str, n: int) -> list[float]:
    _timed_load(page, url)  # warm-up
    return [_timed_load(page, url) for _ in range(n)]


def _stop_workers(context: Any, page: Any) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    cdp.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="loads per configuration (default 10)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise SystemExit("bench: Chromium is not installed: run bash scripts/setup.sh")
    server = FixtureServer()
    fixture = sites.build(server.port, int(time.time()))
    server.start(fixture)
    url = fixture.url("valid")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="waict-bench-") as tmp:
        work = Path(tmp)
        (work / "trust.json").write_text(sites.trust_json(fixture))
        (work / "preload.waict").write_bytes(fixture.preload)
        print("bench: building the extension", flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            load_build_extension().build(work / "ext", work / "trust.json", work / "preload.waict")
        with sync_playwright() as pw:
            print(f"bench: {args.n} loads without the extension", flush=True)
            plain_args = [
                *QUIET_FLAGS,
                f"--host-resolver-rules=MAP *.{sites.DOMAIN} 127.0.0.1",
                "--unsafely-treat-insecure-origin-as-secure=" + ",".join(fixture.origins()),
            ]
            ctx = pw.chromium.launch_persistent_context(
                str(work / "p0"), executable_path=exe, headless=True, args=plain_args
            )
            results["without"] = _loads(ctx.new_page(), url, args.n)
            ctx.close()

            print(f"bench: {args.n} loads with the extension", flush=True)
            launched = time.perf_counter()
            ctx = pw.chromium.launch_persistent_context(
                str(work / "p1"),
                executable_path=exe,
                headless=True,
                args=chromium_args(work / "ext", fixture.origins()),
            )
            sw = (
                ctx.service_workers[0]
                if ctx.service_workers
                else ctx.wait_for_event("serviceworker")
            )
            timings = sw.evaluate("waict.py.ready.then(() => waict.timings)")
            results["launch_to_ready"] = (time.perf_counter() - launched) * 1000
            results["timings"] = timings
            page = ctx.new_page()
            sw.evaluate("waict.whenAllTabsGated()")
            results["with"] = _loads(page, url, args.n)

            print("bench: first load after the service worker was stopped", flush=True)
            restarts = []
            helper = ctx.new_page()
            for _ in range(3):
                _stop_workers(ctx, helper)
                restarts.append(_timed_load(page, url))
            results["restart_load"] = restarts
            sw = next(w for w in ctx.service_workers if w.url.startswith("chrome-extension://"))
            results["restart_timings"] = sw.evaluate("waict.py.ready.then(() => waict.timings)")
            results["stats"] = sw.evaluate("waict.stats")
            ctx.close()
    server.stop()

    med_without = statistics.median(results["without"])
    med_with = statistics.median(results["with"])
    t = results["timings"]
    rt = results["restart_timings"]
    print()
    print(f"| measure (valid fixture site, {args.n} loads, median) | value |")
    print("|---|---|")
    print(f"| page load without the extension | {med_without:.0f} ms |")
    print(f"| page load with the extension | {med_with:.0f} ms |")
    print(f"| ratio with / without | {med_with / med_without:.2f}x |")
    print(
        f"| service worker cold start: Pyodide runtime / verifier ready | "
        f"{t['runtime_ms']} ms / {t['ready_ms']} ms |"
    )
    print(f"| browser launch to extension ready | {results['launch_to_ready']:.0f} ms |")
    print(
        f"| first load after the worker was stopped (median of 3) | "
        f"{statistics.median(results['restart_load']):.0f} ms "
        f"(worker ready in {rt['ready_ms']} ms) |"
    )
    print(f"| JSPI in the service worker | {t['jspi']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
