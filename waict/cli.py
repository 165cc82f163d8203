"""The ``waict`` command line.

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


def _witness_arg(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError("use NAME=BASE64KEY")
    return name, key


def _cmd_serve_ts(args: argparse.Namespace) -> int:
    import logging

    from verifier.encoding import b64decode
    from verifier.note import Witness
    from waict.http import serve, system_clock
    from waict.store import SqliteStore
    from waict.ts import TransparencyService, create_ts_app, http_enroll_fetcher

    witnesses = [Witness(n, b64decode(k, what=f"key of {n}")) for n, k in args.witness]
    if not witnesses:
        print("waict serve-ts: name at least one --witness NAME=BASE64KEY", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = TransparencyService(
        SqliteStore(args.db),
        args.name,
        witnesses,
        args.quorum,
        system_clock(args.clock_offset),
        http_enroll_fetcher(args.enroll_scheme, args.enroll_port, connect=args.enroll_connect),
        batch_interval=args.batch_interval,
    )
    print(
        f"transparency service {args.name}: {service.count} batches, "
        f"{service.store.domain_count()} domains, on http://{args.host}:{args.port}",
        flush=True,
    )
    serve(create_ts_app(service), args.host, args.port)
    return 0


def _cmd_serve_witness(args: argparse.Namespace) -> int:
    import logging

    from waict.http import serve, system_clock
    from waict.keys import load_or_create_seed, public_key_b64
    from waict.witness import WitnessService, create_witness_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    seed = load_or_create_seed(Path(args.key_file))
    service = WitnessService(
        args.db,
        args.name,
        seed,
        args.ts,
        args.ts_name,
        system_clock(args.clock_offset),
        past_window=args.past_window,
    )
    print(
        f"witness {args.name} (key {public_key_b64(seed)}) following {args.ts}, "
        f"at {service.count} batches; status on http://{args.host}:{args.port}/status",
        flush=True,
    )
    serve(create_witness_app(service), args.host, args.port)
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from waict.keys import load_or_create_seed, public_key_b64

    path = Path(args.out)
    existed = path.exists()
    seed = load_or_create_seed(path)
    print(json.dumps({"name": args.name, "key": public_key_b64(seed)}))
    if existed:
        print(f"(kept the existing key in {path})", file=sys.stderr)
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

    ts = sub.add_parser("serve-ts", help="run a transparency service")
    ts.add_argument("--db", required=True, help="SQLite file (created if absent)")
    ts.add_argument("--name", required=True, help="the service's domain, e.g. ts.example")
    ts.add_argument(
        "--witness",
        action="append",
        type=_witness_arg,
        default=[],
        metavar="NAME=KEY",
        help="a witness whose cosignatures count (repeat)",
    )
    ts.add_argument("--quorum", type=int, default=1, help="cosignatures needed (default 1)")
    ts.add_argument("--host", default="127.0.0.1")
    ts.add_argument("--port", type=int, default=8001)
    ts.add_argument("--batch-interval", type=float, default=0.2, help="seconds between batches")
    ts.add_argument("--enroll-scheme", default="https", choices=["https", "http"])
    ts.add_argument("--enroll-port", type=int, default=None, help="port of sites' well-known")
    ts.add_argument(
        "--enroll-connect",
        default=None,
        metavar="ADDR",
        help="connect to ADDR for every enrollment fetch (loopback: 127.0.0.1)",
    )
    ts.add_argument("--clock-offset", type=int, default=0, help="shift the clock (seconds)")
    ts.set_defaults(func=_cmd_serve_ts)

    wit = sub.add_parser("serve-witness", help="run a witness that cosigns a service's roots")
    wit.add_argument("--db", required=True, help="SQLite file for the witness state")
    wit.add_argument("--name", required=True, help="witness name, e.g. w1.example")
    wit.add_argument("--key-file", required=True, help="Ed25519 seed file (created if absent)")
    wit.add_argument("--ts", required=True, help="base URL of the transparency service")
    wit.add_argument("--ts-name", required=True, help="the service's domain (note origin)")
    wit.add_argument("--host", default="127.0.0.1")
    wit.add_argument("--port", type=int, default=8011)
    wit.add_argument("--clock-offset", type=int, default=0)
    wit.add_argument("--past-window", type=int, default=3600, help="oldest event age accepted")
    wit.set_defaults(func=_cmd_serve_witness)

    kg = sub.add_parser("keygen", help="create an Ed25519 key file and print its public key")
    kg.add_argument("name", help="the key's name (e.g. the witness name)")
    kg.add_argument("--out", required=True, help="seed file to create (kept if it exists)")
    kg.set_defaults(func=_cmd_keygen)

    from waict.site import add_site_tool_parsers

    add_site_tool_parsers(sub)

    from waict.demo import add_demo_parser

    add_demo_parser(sub)
    __import__("waict.room.cli", fromlist=["cli"]).add_room_parser(sub)  # the room wing
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
