"""``waict monitor``: watch domains in a transparency service, alert on what changes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from verifier.errors import WaictError
from verifier.urls import normalize_host
from waict.common.commands import report_error
from waict.common.digests import parse_digest
from waict.common.errors import SiteToolError
from waict.site.log_client import TsClient, is_outage
from waict.site.monitor.alerts import RetryPolicy, deliver
from waict.site.monitor.health import HealthLimits
from waict.site.monitor.watch import (
    CycleResult,
    WatchConfig,
    WatchState,
    end_outage,
    outage_cycle,
    run_cycle,
)
from waict.site.wiring import ClientSettings, add_client_options, load_trust

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def monitor_once(
    state_path: Path,
    ts_url: str,
    config: WatchConfig,
    client: httpx.Client,
    *,
    webhook: str | None = None,
    retry: RetryPolicy | None = None,
    now: int | None = None,
    out: Any = None,
) -> tuple[CycleResult, WatchState]:
    """Load the state, run one cycle, save it with the new alerts, print one log line per
    new alert, deliver the outbox to ``webhook`` (each delivery saved), return both."""
    out = out or sys.stdout
    now = int(time.time()) if now is None else now
    ts = TsClient(ts_url, client)
    state = WatchState.load(state_path, ts_url)
    try:
        cycle = run_cycle(state, config, ts, client, now)
    except SiteToolError as exc:
        if not is_outage(exc):
            raise
        state = WatchState.load(state_path, ts_url)  # nothing of the cut cycle is kept
        cycle = outage_cycle(state, ts.base, str(exc.args[0]), config.limits, now)
    else:
        end_outage(state, ts.base, cycle, now)
    for alert in cycle.new_alerts:
        print(alert.log_line(), file=out, flush=True)
    if webhook is None:  # the log line is the delivery
        for alert in list(state.pending):
            state.mark_delivered(alert)
    state.save()
    if webhook is not None and state.pending:

        def saved(alert: Any) -> None:
            state.mark_delivered(alert)
            state.save()

        report = deliver(
            list(state.pending), webhook, state.ts, client, policy=retry, on_delivered=saved
        )
        if report.failed:
            cycle.info.append(report.failed)
            state.save()  # the attempt counts
    return cycle, state


def _print(cycle: CycleResult, state: WatchState, as_json: bool) -> None:
    if as_json:
        obj: dict[str, Any] = {
            "domains": [r.as_json() for r in cycle.results.values()],
            "alerts": [a.to_json() for a in cycle.new_alerts],
            "pending_alerts": len(state.pending),
            "info": cycle.info,
            "unreachable": cycle.unreachable,
        }
        if len(cycle.results) == 1:  # one domain: its result at the top, as before
            obj = {**next(iter(cycle.results.values())).as_json(), **obj}
        print(json.dumps(obj))
        return
    if cycle.unreachable is not None:
        print(f"waict monitor: {cycle.unreachable}", file=sys.stderr)
        print("  hint: is the transparency service running and reachable?", file=sys.stderr)
    for domain, result in cycle.results.items():
        for event in result.events:
            print(event.message if len(cycle.results) == 1 else f"{domain} {event.message}")
        if not result.events and not result.problems:
            print(f"{domain}: nothing new")
        for line in result.info:
            print(f"  {line}", file=sys.stderr)
        for problem in result.problems:
            print(f"UNEXPECTED: {problem}")
    for line in cycle.info:
        print(f"  {line}", file=sys.stderr)


def _parse_origins(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        domain, sep, origin = item.partition("=")
        if not sep or not origin.startswith(("http://", "https://")):
            raise SiteToolError(f"--origin {item!r}: expected DOMAIN=http(s)://HOST[:PORT]")
        out[normalize_host(domain)] = origin.rstrip("/")
    return out


def _cmd_monitor(args: argparse.Namespace) -> int:
    try:
        domains = [normalize_host(d) for d in [*args.domains, *args.watch]]
    except WaictError as exc:
        print(f"waict monitor: {exc}", file=sys.stderr)
        return 2
    if not domains:
        print("waict monitor: name at least one domain (DOMAIN or --watch)", file=sys.stderr)
        return 2
    try:
        for digest in args.manifest_digest:
            try:
                parse_digest(digest)
            except WaictError as exc:
                raise SiteToolError(f"--manifest-digest {digest!r}: {exc}") from None
        config = WatchConfig(
            list(dict.fromkeys(domains)),
            load_trust(args.trust),
            _parse_origins(args.origin),
            list(args.manifest_digest),
            HealthLimits(
                args.witness_max_lag,
                args.witness_max_age,
                args.stall_after,
                args.unreachable_after,
            ),
            find_manifests=not args.no_manifests,
        )
        retry = RetryPolicy(attempts=args.webhook_attempts)
        if args.serve:
            if args.interval is None:
                raise SiteToolError("--serve needs --interval (a monitor that keeps running)")
            from waict.site.explorer.app import serve_explorer

            serve_explorer(args, args.serve, "--serve", background=True, out=sys.stderr)
        code = 0
        cycles = 0
        with ClientSettings.from_args(args).client() as client:
            while True:
                try:
                    cycle, state = monitor_once(
                        Path(args.state),
                        args.ts,
                        config,
                        client,
                        webhook=args.alert_webhook,
                        retry=retry,
                        now=args.now,
                        out=sys.stderr if args.json else sys.stdout,
                    )
                except SiteToolError as exc:
                    if args.interval is None:
                        raise
                    report_error("monitor", exc)  # a loop outlives a network error
                    code = 2
                else:
                    _print(cycle, state, args.json)
                    code = cycle.exit_code
                cycles += 1
                if args.interval is None or (args.cycles and cycles >= args.cycles):
                    break
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    except SiteToolError as exc:
        return report_error("monitor", exc)
    return code


def add_monitor_parser(subparsers: Subparsers) -> None:
    """Register ``waict monitor``."""
    p = subparsers.add_parser(
        "monitor",
        help="watch domains in a transparency service; alert on new entries, dev-ids, "
        "tombstones, witnesses behind, a stalled log, an unreachable service",
        description="Compare a transparency service's chains of the watched domains with what "
        "the state file saw last time; report every new entry, transparency tombstone, "
        "asset-host and dev-ids change, witness falling behind, stalled log and outage of "
        "the service (and its end), each as one "
        "'ALERT' line and, with --alert-webhook, a POSTed JSON alert (at least once, with an "
        "id to dedupe on; see docs/monitor.md). Exit 1 when something unexpected happened "
        "(a chain that does not link, a rewritten history, a proof that fails), 2 on usage "
        "or network errors.",
    )
    p.add_argument("domains", nargs="*", help="domains to watch, e.g. example.com")
    p.add_argument("--watch", nargs="+", default=[], metavar="DOMAIN", help="more domains")
    p.add_argument("--ts", required=True, help="base URL of the transparency service")
    p.add_argument("--state", required=True, help="state file (created on the first run)")
    p.add_argument("--trust", default=None, help="check cosignatures against this trust.json")
    p.add_argument("--alert-webhook", default=None, metavar="URL", help="POST alerts here")
    p.add_argument(
        "--webhook-attempts", type=int, default=4, help="POSTs per alert and round (backoff)"
    )
    p.add_argument("--interval", type=float, default=None, help="loop: seconds between runs")
    p.add_argument(
        "--serve",
        default=None,
        metavar="HOST:PORT",
        help="with --interval: also serve the log explorer (as `waict explore`) there",
    )
    p.add_argument("--cycles", type=int, default=0, help="with --interval: stop after N runs")
    p.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="DOMAIN=URL",
        help="where DOMAIN's site is served (default https://DOMAIN), to find its manifest",
    )
    p.add_argument(
        "--manifest-digest",
        action="append",
        default=[],
        metavar="sha256-B64U",
        help="a candidate manifest on the asset hosts (its SHA-256, as uploaded)",
    )
    p.add_argument("--no-manifests", action="store_true", help="do not look for manifests")
    p.add_argument("--witness-max-lag", type=int, default=3, help="batches (default 3)")
    p.add_argument("--witness-max-age", type=int, default=3600, help="seconds (default 3600)")
    p.add_argument("--stall-after", type=int, default=900, help="seconds (default 900)")
    p.add_argument(
        "--unreachable-after",
        type=int,
        default=0,
        metavar="S",
        help="alert ts_unreachable once the service has not answered for S seconds "
        "(default 0: at the first run that cannot reach it)",
    )
    p.add_argument("--now", type=int, default=None, help="unix time for ages (default: now)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_client_options(p)
    p.set_defaults(func=_cmd_monitor)
