#!/usr/bin/env python3
"""Benchmark the WAICT extension against plain Chromium: the six rows of issue 11, as ratios.

One run, on loopback, one Chromium binary, two headless persistent contexts open side by
side: one without the extension ("plain"), one with it. Page loads are taken as
interleaved pairs (plain, extension; the order flips every pair) so that whatever else
loads the machine hits both alike; each row reports the median of the per-pair ratios
with its interquartile range, and the median times.

Rows:

1. small valid page, warm: the ``valid`` fixture site of ``tests/e2e/sites.py`` (document,
   inline script, script, style, image, iframe, dedicated and shared worker,
   WebAssembly), timed from ``page.goto`` until every marker is set;
2. 20 scripts of 5 KB, warm (``b-many``), timed from ``page.goto`` to ``load``;
3. one 2 MB script, warm (``b-big``), likewise;
4. the first load of the valid page after the extension's service worker was stopped
   (``ServiceWorker.stopAllWorkers``; the restart is on that load's critical path) against
   a warm plain load of the same page;
4b. likewise for a site nothing is known about (``plain``: no WAICT header, never
   enrolled, not preloaded), which the fast path (``sw/fast_path.js``) lets through
   before Python is back;
5. service-worker restart to verifier ready (``waict.timings.worker_ready_ms``: from the
   new worker's time origin, module loading included) against a plain Pyodide boot
   (``loadPyodide`` alone, no wheels) in the same worker right after;
6. ``verifier.decide`` inside the service worker on each shared scenario
   (``tests/vectors/scenarios``), median of ``--decide-reps`` runs each (milliseconds, not
   a ratio), with the crypto backend that answered.

Then a profile: per entry point the calls, time queued and time in Python
(``waict.py.callStats``), the JavaScript digests and which crypto backend answered
(``waict.py.cryptoStats()``). Prints Markdown; ``--json FILE`` also writes the raw data.

Needs ``bash scripts/setup.sh`` (chromium, playwright, node_modules, wheels).

Usage: ``python scripts/bench_extension.py [-n 15] [--restarts 5] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
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
SCENARIOS = REPO_ROOT / "tests" / "vectors" / "scenarios"
TARGETS = {
    "valid": 1.10,
    "b-many": 1.10,
    "b-big": 1.10,
    "cold": 1.25,
    "ready": 0.25,
    "decide": 5.0,
}

#: which crypto backend answered (null from a build without the counters)
CRYPTO_STATS = "waict.py.cryptoStats ? waict.py.cryptoStats() : null"

DECIDE_PY = """
import json, time
import js
from verifier import decide
scenarios = json.loads(str(js.globalThis.__benchScenarios))
reps = int(js.globalThis.__benchReps)
out = {}
for name, scenario in scenarios.items():
    decide(scenario)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        decide(scenario)
        times.append((time.perf_counter() - t) * 1000)
    out[name] = times
json.dumps(out)
"""


def _timed_valid(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="load")
    seen = wait_settled(page)
    elapsed = (time.perf_counter() - start) * 1000
    if seen not in (sites.ALL_MARKERS, WITHOUT_MARKERS) and not url.startswith("https://plain."):
        raise SystemExit(f"bench: the page did not load fully: {sorted(seen)}")
    return elapsed


def _timed_scripts(page: Any, url: str, count: int) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="load")
    elapsed = (time.perf_counter() - start) * 1000
    ran = page.evaluate("document.documentElement.dataset.scripts")
    if ran != str(count):
        raise SystemExit(f"bench: {url}: {ran} of {count} scripts ran")
    return elapsed


def _timed(page: Any, fixture: Any, label: str) -> float:
    if label in sites.BENCH_PAGES:
        return _timed_scripts(page, fixture.url(label), sites.BENCH_PAGES[label][0])
    return _timed_valid(page, fixture.url(label))


def _pairs(plain: Any, ext: Any, fixture: Any, label: str, n: int) -> dict[str, Any]:
    _timed(plain, fixture, label)  # warm-up
    _timed(ext, fixture, label)
    without, with_, ratios = [], [], []
    for i in range(n):
        if i % 2 == 0:
            a = _timed(plain, fixture, label)
            b = _timed(ext, fixture, label)
        else:
            b = _timed(ext, fixture, label)
            a = _timed(plain, fixture, label)
        without.append(a)
        with_.append(b)
        ratios.append(b / a)
    return {"without": without, "with": with_, "ratios": ratios}


def _stop_workers(context: Any, page: Any) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    cdp.detach()


def _extension_sw(ctx: Any, after: Any = None) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for w in ctx.service_workers:
            if w.url.startswith("chrome-extension://") and w is not after:
                with contextlib.suppress(Exception):
                    if w.evaluate("typeof waict === 'object'"):
                        return w
        time.sleep(0.05)
    raise SystemExit("bench: the extension's service worker did not come back")


def _spread(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return statistics.median(values), q[0], q[2]


def _scenarios() -> dict[str, Any]:
    return {
        p.stem: json.loads(p.read_text())
        for p in sorted(SCENARIOS.glob("*.json"))
        if not p.name.endswith(".expected.json")
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise SystemExit("bench: Chromium is not installed: run bash scripts/setup.sh")
    server = FixtureServer()
    fixture = sites.build(server.port, int(time.time()))
    server.start(fixture)
    results: dict[str, Any] = {"loadavg_start": os.getloadavg(), "n": args.n}
    with tempfile.TemporaryDirectory(prefix="waict-bench-") as tmp:
        work = Path(tmp)
        (work / "trust.json").write_text(sites.trust_json(fixture))
        (work / "preload.waict").write_bytes(fixture.preload)
        print("bench: building the extension", flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            load_build_extension().build(work / "ext", work / "trust.json", work / "preload.waict")
        results["extension_mb"] = sum(
            f.stat().st_size for f in (work / "ext").rglob("*") if f.is_file()
        ) / (1024 * 1024)
        with sync_playwright() as pw:
            plain_args = [
                *QUIET_FLAGS,
                f"--host-resolver-rules=MAP *.{sites.DOMAIN} 127.0.0.1",
                f"--ignore-certificate-errors-spki-list={server.tls.spki}",
            ]
            plain_ctx = pw.chromium.launch_persistent_context(
                str(work / "p0"), executable_path=exe, headless=True, args=plain_args
            )
            ctx = pw.chromium.launch_persistent_context(
                str(work / "p1"),
                executable_path=exe,
                headless=True,
                args=chromium_args(work / "ext", server.tls.spki),
            )
            sw = _extension_sw(ctx)
            results["first_timings"] = sw.evaluate("waict.py.ready.then(() => waict.timings)")
            plain = plain_ctx.new_page()
            page = ctx.new_page()
            sw.evaluate("waict.whenAllTabsGated()")
            for label in ("valid", "b-many", "b-big"):
                print(f"bench: {label}: {args.n} interleaved pairs", flush=True)
                results[label] = _pairs(plain, page, fixture, label, args.n)
            results["profile_calls"] = sw.evaluate("waict.py.callStats || {}")
            results["profile_crypto"] = sw.evaluate(CRYPTO_STATS)
            results["profile_cdp"] = sw.evaluate("({...waict.cdpStats})")
            results["profile_held"] = sw.evaluate("({...waict.heldStats})")
            results["profile_document"] = sw.evaluate("({...waict.documentPhases})")
            results["profile_dest"] = sw.evaluate(
                "({waits: waict.stats.destWaits, ms: waict.stats.destWaitMs,"
                " timeouts: waict.stats.destWaitTimeouts, paused: waict.stats.paused})"
            )

            print(f"bench: {args.restarts} loads right after the worker was stopped", flush=True)
            helper = ctx.new_page()
            cold: dict[str, list[float]] = {"with": [], "without": [], "ratios": []}
            ready: dict[str, list[float]] = {"ready": [], "plain_boot": [], "ratios": []}
            restart_timings = []
            for _ in range(args.restarts):
                a = _timed(plain, fixture, "valid")
                _stop_workers(ctx, helper)
                time.sleep(0.5)
                b = _timed(page, fixture, "valid")
                cold["without"].append(a)
                cold["with"].append(b)
                cold["ratios"].append(b / a)
                sw = _extension_sw(ctx)
                t = sw.evaluate("waict.py.ready.then(() => waict.timings)")
                boot = sw.evaluate("waict.py.plainBootMs()")
                restart_timings.append(t)
                # from the boot's start (Python boots lazily: python.js startBoot)
                ready["ready"].append(t["worker_ready_ms"] - t.get("boot_start_ms", 0))
                ready["plain_boot"].append(boot)
                ready["ratios"].append(ready["ready"][-1] / boot)
            results["cold"] = cold
            results["ready"] = ready
            cold_plain: dict[str, list[float]] = {"with": [], "without": [], "ratios": []}
            fast = 0
            for _ in range(args.restarts):
                a = _timed(plain, fixture, "plain")
                _stop_workers(ctx, helper)
                time.sleep(0.5)
                b = _timed(page, fixture, "plain")
                cold_plain["without"].append(a)
                cold_plain["with"].append(b)
                cold_plain["ratios"].append(b / a)
                fast += int(_extension_sw(ctx).evaluate("waict.stats.fastPath"))
            results["cold_plain"] = cold_plain
            results["cold_plain_fast_path"] = fast
            results["restart_timings"] = restart_timings

            print("bench: decide in the service worker", flush=True)
            sw = _extension_sw(ctx)
            sw.evaluate("(s) => { globalThis.__benchScenarios = s; }", json.dumps(_scenarios()))
            sw.evaluate(f"globalThis.__benchReps = {args.decide_reps}")
            sw.evaluate(CRYPTO_STATS.replace("()", "(true)"))
            results["decide"] = json.loads(
                sw.evaluate("(code) => waict.py.runPython(code)", DECIDE_PY)
            )
            results["decide_crypto"] = sw.evaluate(CRYPTO_STATS)
            ctx.close()
            plain_ctx.close()
    server.stop()
    results["loadavg_end"] = os.getloadavg()
    return results


def _ratio_row(name: str, r: dict[str, Any], target: float) -> str:
    med, q1, q3 = _spread(r["ratios"])
    ok = "met" if med <= target else "missed"
    best = min(r["with"]) / min(r["without"])
    return (
        f"| {name} | {med:.2f}x ({q1:.2f}–{q3:.2f}); fastest/fastest {best:.2f}x | "
        f"{statistics.median(r['with']):.0f} / {statistics.median(r['without']):.0f} ms | "
        f"≤ {target:.2f}x | {ok} |"
    )


def report(results: dict[str, Any]) -> str:
    n = results["n"]
    lines = [
        f"| row ({n} interleaved pairs unless said; median of the pair ratios (IQR)) | ratio | "
        "with / without (median) | target | |",
        "|---|---|---|---|---|",
        _ratio_row("small valid page, warm", results["valid"], TARGETS["valid"]),
        _ratio_row("20 scripts of 5 KB, warm", results["b-many"], TARGETS["b-many"]),
        _ratio_row("one 2 MB script, warm", results["b-big"], TARGETS["b-big"]),
        _ratio_row(
            f"first load after the worker was stopped ({len(results['cold']['ratios'])} pairs)",
            results["cold"],
            TARGETS["cold"],
        ),
    ]
    if "cold_plain" in results:
        lines.append(
            _ratio_row(
                "first load after the worker was stopped, a site nothing is known about "
                f"({len(results['cold_plain']['ratios'])} pairs; documents let through by "
                f"the fast path: {results['cold_plain_fast_path']}, page and iframe)",
                results["cold_plain"],
                TARGETS["cold"],
            )
        )
    rd = results["ready"]
    med, q1, q3 = _spread(rd["ratios"])
    lines.append(
        f"| worker restart to verifier ready / plain Pyodide boot ({len(rd['ratios'])} restarts)"
        f" | {med:.2f}x ({q1:.2f}–{q3:.2f}) | {statistics.median(rd['ready']):.0f} / "
        f"{statistics.median(rd['plain_boot']):.0f} ms | ≤ {TARGETS['ready']:.2f}x | "
        f"{'met' if med <= TARGETS['ready'] else 'missed'} |"
    )
    per = {name: statistics.median(times) for name, times in results["decide"].items()}
    fastest = {name: min(times) for name, times in results["decide"].items()}
    worst = max(per.values())
    lines.append(
        "| `decide` in the service worker, per shared scenario (median ms; fastest) | "
        + ", ".join(f"{k} {v:.1f} ({fastest[k]:.1f})" for k, v in per.items())
        + f" | max {worst:.1f} ms | < {TARGETS['decide']:.0f} ms each | "
        + f"{'met' if worst < TARGETS['decide'] else 'missed'} |"
    )
    lines.append("")
    lines.append(
        f"Load average (1/5/15 min) at start {tuple(round(x, 1) for x in results['loadavg_start'])}"
        f", at end {tuple(round(x, 1) for x in results['loadavg_end'])}; "
        f"extension size {results['extension_mb']:.1f} MB."
    )
    lines.append("")
    lines.append("Profile (warm rows): per entry point calls, mean queued, mean in Python")
    for name, c in sorted(results["profile_calls"].items()):
        lines.append(
            f"- `{name}`: {c['n']} calls, queued {c['queue_ms'] / c['n']:.2f} ms "
            f"(max {c['max_queue_ms']:.1f}), in Python {c['run_ms'] / c['n']:.2f} ms"
        )
    held = results.get("profile_held") or {}
    for kind, c in sorted(held.items(), key=lambda kv: -kv[1]["ms"]):
        lines.append(
            f"- responses of type {kind}: {c['n']} held, {c['ms'] / c['n']:.1f} ms mean from "
            f"pause to release (max {c['max_ms']:.0f})"
        )
    phases = results.get("profile_document") or {}
    if phases:
        lines.append(
            "- a judged document's hold by phase (mean ms): "
            + ", ".join(f"{name} {c['ms'] / c['n']:.1f}" for name, c in phases.items())
        )
    cdp = results.get("profile_cdp") or {}
    for method, c in sorted(cdp.items(), key=lambda kv: -kv[1]["ms"])[:8]:
        lines.append(
            f"- CDP `{method}`: {c['n']} calls, {c['ms'] / c['n']:.1f} ms mean until answered "
            f"(max {c['max_ms']:.0f}), {c['ms']:.0f} ms summed over concurrent calls"
        )
    dest = results.get("profile_dest")
    if dest:
        lines.append(
            f"- Sec-Fetch-Dest waits: {dest['waits']} of {dest['paused']} paused responses "
            f"waited, {dest['ms']} ms in all, {dest['timeouts']} never got it (150 ms each)"
        )
    crypto = results["profile_crypto"]
    if crypto is not None:
        js = crypto["js"]
        lines.append(
            f"- JavaScript SHA-256: {js['sha256_subtle']} bodies, "
            f"{js['sha256_bytes'] / 1e6:.1f} MB, {js['sha256_ms']:.0f} ms in all "
            "(base64 decode + digest)"
        )
        lines.append(
            f"- crypto backend `{crypto['backend']}`: answered {crypto['answered']}, "
            f"fallbacks {crypto['fallbacks']}"
        )
        dc = results["decide_crypto"]
        lines.append(f"- during `decide`: answered {dc['answered']}, fallbacks {dc['fallbacks']}")
    rt = results["restart_timings"]
    lines.append(
        "- restarts: runtime / ready after module start / from worker start (ms): "
        + "; ".join(f"{t['runtime_ms']}/{t['ready_ms']}/{t['worker_ready_ms']}" for t in rt)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="interleaved pairs per warm row")
    parser.add_argument("--restarts", type=int, default=5, help="worker restarts (rows 4, 5)")
    parser.add_argument("--decide-reps", type=int, default=20, help="decide runs per scenario")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
