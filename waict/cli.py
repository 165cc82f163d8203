"""The ``waict`` command line: the top-level parser and ``waict check``; every other command
is registered by its wing (:mod:`waict.log`, :mod:`waict.site`, :mod:`waict.demo`).

waict check SCENARIO.json   print the client's verdict for a scenario as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from verifier import decide
from verifier.errors import WaictError

DESCRIPTION = """\
WAICT (Web Application Integrity, Consistency and Transparency) tools.

Client decision:
  check SCENARIO.json   Run the browser's whole decision (verifier.decide) on a scenario
                        and print the verdict as JSON. Exit 0 when it could decide, exit 2
                        with a one-line error when the file is unusable.

Ecosystem servers:
  serve-ts              Transparency service: chains, prefix tree, batches, cosigned proofs.
  serve-witness         Witness: replays every batch on its own tree, cosigns each root.
  serve-assets          Asset host: content-addressed store of logged manifests and assets.
  keygen                Create an Ed25519 key file (witnesses) and print its public key.

Site operator:
  manifest build DIR    Hash a built site into a one-line integrity manifest.
  publish DIR           Upload assets, enroll or append, wait for the cosigned proof, write
                        the manifest response and the header to serve.
  serve-site DIR        Static server sending the header and the manifest response.
  verify URL            Fetch a site and run exactly the browser's decision on it.
  monitor DOMAIN        Report every new entry, tombstone or asset-host change of a domain.
  preload build|body    Build the preload list, and its logged response body.
  local-ca DIR NAME...  A local certificate authority and a leaf for HTTPS on loopback.

Demo:
  demo                  Run the local ecosystem with the sample sites of web/ and check each.

Run `waict COMMAND --help` for the options of each command.
"""


def _cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.scenario)
    try:
        text = sys.stdin.read() if args.scenario == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"waict check: cannot read {args.scenario}: {exc}", file=sys.stderr)
        return 2
    try:
        scenario = json.loads(text)
    except (ValueError, RecursionError) as exc:
        print(f"waict check: {args.scenario} is not JSON: {exc}", file=sys.stderr)
        return 2
    try:
        verdict = decide(scenario)
    except WaictError as exc:
        print(f"waict check: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    indent = 2 if args.pretty else None
    print(json.dumps(verdict, indent=indent))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waict",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="print the client verdict for a scenario (JSON)",
        description="Run verifier.decide on a waict check scenario (design.md section 5) and "
        "print the verdict as JSON. Exit 0 when it could decide; exit 2 with a one-line error "
        "when the scenario file is unusable.",
    )
    check.add_argument("scenario", help="scenario JSON file, or - for standard input")
    check.add_argument("--pretty", action="store_true", help="indent the JSON output")
    check.set_defaults(func=_cmd_check)

    # Each wing registers its own commands; imported here, in this order (the order of
    # `waict --help`), so that importing waict.cli stays light.
    from waict.demo.command import add_demo_parser
    from waict.log.assets import add_serve_assets_parser
    from waict.log.commands import add_log_parsers
    from waict.site.commands import add_site_tool_parsers

    add_log_parsers(sub)  # serve-ts, serve-witness, keygen
    add_site_tool_parsers(sub)  # manifest, publish, serve-site, verify, monitor, preload
    add_serve_assets_parser(sub)
    add_demo_parser(sub)
    room_cli = __import__("waict.room.cli", fromlist=["cli"])  # the room wing
    room_cli.add_room_parser(sub)  # serve-room
    room_cli.add_sfu_parser(sub)  # serve-sfu
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
