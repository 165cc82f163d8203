"""``waict demo``: start the ecosystem (:mod:`waict.demo.ecosystem`), check every sample site
with ``waict verify``, then in Chromium (:mod:`waict.demo.browser`), and keep running."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waict.demo import ecosystem
from waict.demo.browser import DEFAULT_TIMEOUT, DemoBrowser
from waict.demo.ecosystem import DemoEcosystem, Ports, compare
from waict.demo.sites import say

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def _cmd_demo(args: argparse.Namespace) -> int:
    eco = DemoEcosystem(Path(args.workdir).resolve(), Ports.from_base(args.port_base))
    browser: DemoBrowser | None = None
    try:
        eco.start()
        print()
        print(f"{'site':24} {'url':44} {'expected':28} {'waict verify':28} ok")
        failures = 0
        for site in eco.sites.values():
            if site.expected is None:
                continue
            report = eco.verify(site)
            problems = compare(site.expected, report.verdict)
            failures += bool(problems)
            want = _short(site.expected)
            got = _short(report.verdict)
            ok = "yes" if not problems else "NO"
            print(f"{site.name:24} {eco.url(site):44} {want:28} {got:28} {ok}")
            for p in problems:
                print(f"    {p}")
        browser_failures, browser = run_demo_browser(eco, args)
        print()
        print(f"trust: {eco.trust_path}   preload list: {eco.preload_path}")
        print(
            "browser: map *.waict.test to 127.0.0.1 and trust the demo's certificate by its key, "
            "e.g. chromium --host-resolver-rules='MAP *.waict.test 127.0.0.1' "
            f"--ignore-certificate-errors-spki-list={eco.spki} (tools: --ca-file {eco.ca_file})"
        )
        if failures:
            say(f"{failures} site(s) did not give their expected verdict")
        if args.exit:
            return 1 if failures or browser_failures else 0
        say("the ecosystem keeps running; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
        return 0
    except RuntimeError as exc:
        print(f"waict demo: {exc}", file=sys.stderr)
        return 2
    finally:
        if browser is not None:
            browser.close()
        eco.stop()


def _short(verdict: dict[str, Any]) -> str:
    """``allow valid 1 blocked`` for a verdict or an expected.json."""
    m = verdict["manifest"]
    resources = verdict["resources"]
    detail = f"/{m['detail']}" if m.get("detail") else ""
    head = f"{verdict['navigation']} {m['status']}{detail}"
    if isinstance(resources, dict):  # expected.json: path -> verdict, "*" for the rest
        if not resources.get("*", {"allowed": True})["allowed"]:
            return f"{head} all blocked"
        entries = [r for k, r in resources.items() if k != "*"]
    else:
        entries = resources
        if entries and not any(r["allowed"] for r in entries):
            return f"{head} all blocked"
    return f"{head} {sum(1 for r in entries if not r['allowed'])} blocked"


def add_demo_browser_options(parser: argparse.ArgumentParser) -> None:
    """The browser options of ``waict demo``."""
    group = parser.add_argument_group(
        "browser",
        "after the `waict verify` table, visit every site in Debian Chromium with the real "
        "extension (built into WORKDIR/extension) and compare with expected.json's `browser`",
    )
    group.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check the sites in Chromium too (default: yes)",
    )
    group.add_argument(
        "--headless",
        dest="headless",
        action="store_const",
        const=True,
        default=None,
        help="run Chromium headless (default: headless when DISPLAY is not set)",
    )
    group.add_argument(
        "--headed",
        dest="headless",
        action="store_const",
        const=False,
        help="show the Chromium window (needs DISPLAY); it stays open while the demo runs",
    )
    group.add_argument(
        "--chromium",
        metavar="PATH",
        help="the Chromium executable (default: $WAICT_CHROMIUM, /usr/lib/chromium/chromium)",
    )
    group.add_argument(
        "--browser-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up waiting for a page after this long (default: {DEFAULT_TIMEOUT:g})",
    )


def run_demo_browser(
    eco: DemoEcosystem, args: argparse.Namespace
) -> tuple[int, DemoBrowser | None]:
    """The browser step of ``waict demo``: (number of sites that differ, the browser when it
    stays open for the keep-running phase: headed without ``--exit``; close it at the end).
    """
    if not getattr(args, "browser", False):
        return 0, None
    browser = DemoBrowser(
        eco,
        headless=args.headless,
        chromium=args.chromium,
        timeout=args.browser_timeout,
    )
    print()
    try:
        browser.start()
        failures = browser.check_sites()
    except BaseException:
        browser.close()
        raise
    print(f"explore by hand: {browser.manual_command()}")
    if args.exit or browser.headless:
        browser.close()
        return failures, None
    if "valid" in eco.sites:
        browser.show(eco.sites["valid"])
    say("the Chromium window stays open while the demo runs")
    return failures, browser


def add_demo_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the local ecosystem with the sample sites and check each one",
        description=ecosystem.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workdir", default="build/demo", help="where state goes (wiped first)")
    p.add_argument("--port-base", type=int, default=8100, help="sites on this port, servers above")
    p.add_argument("--exit", action="store_true", help="stop after checking the sites")
    add_demo_browser_options(p)
    p.set_defaults(func=_cmd_demo)
