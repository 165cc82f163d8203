"""The server commands: ``waict serve-ts``, ``waict serve-witness`` and ``waict keygen``
(``waict serve-assets`` is registered by :mod:`waict.log.assets`). The servers are imported
when a command runs, so building the parser stays cheap."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from waict.common.serve import add_limit_options, add_tls_options, number_arg

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def _witness_arg(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError("use NAME=BASE64KEY")
    return name, key


def _cmd_serve_ts(args: argparse.Namespace) -> int:
    import logging

    from verifier.encoding import b64decode
    from verifier.note import Witness
    from waict.common.serve import Limits, serve, tls_files
    from waict.log.api import create_ts_app, http_enroll_fetcher
    from waict.log.http import system_clock
    from waict.log.service import TransparencyService
    from waict.log.store import SqliteStore, StorageError

    try:
        tls_cert, tls_key = tls_files(args)
    except ValueError as exc:
        print(f"waict serve-ts: {exc}", file=sys.stderr)
        return 2
    witnesses = [Witness(n, b64decode(k, what=f"key of {n}")) for n, k in args.witness]
    if not witnesses:
        print("waict serve-ts: name at least one --witness NAME=BASE64KEY", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        store = SqliteStore(args.db)
        try:
            service = TransparencyService(
                store,
                args.name,
                witnesses,
                args.quorum,
                system_clock(args.clock_offset),
                http_enroll_fetcher(
                    args.enroll_scheme, args.enroll_port, connect=args.enroll_connect
                ),
                batch_interval=args.batch_interval,
            )
        except BaseException:
            store.close()
            raise
    except StorageError as exc:
        text = " ".join(str(exc).split())
        print(f"waict serve-ts: cannot start ({exc.kind}): {text}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"waict serve-ts: {exc}", file=sys.stderr)
        return 2
    print(
        f"transparency service {args.name}: {service.count} batches, "
        f"{service.store.domain_count()} domains, on "
        f"{'https' if tls_cert else 'http'}://{args.host}:{args.port}",
        flush=True,
    )
    serve(
        create_ts_app(service),
        args.host,
        args.port,
        limits=Limits.from_args(args),
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    return 0


def _cmd_serve_witness(args: argparse.Namespace) -> int:
    import logging

    from waict.common.serve import Limits, serve, tls_files
    from waict.log.http import system_clock
    from waict.log.keys import load_or_create_seed, public_key_b64
    from waict.log.witness import WitnessService, create_witness_app

    try:
        tls_cert, tls_key = tls_files(args)
    except ValueError as exc:
        print(f"waict serve-witness: {exc}", file=sys.stderr)
        return 2
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
        clear_fork=args.clear_fork,
    )
    print(
        f"witness {args.name} (key {public_key_b64(seed)}) following {args.ts}, "
        f"at {service.count} batches; status on "
        f"{'https' if tls_cert else 'http'}://{args.host}:{args.port}/status",
        flush=True,
    )
    serve(
        create_witness_app(service),
        args.host,
        args.port,
        limits=Limits.from_args(args),
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from waict.log.keys import load_or_create_seed, public_key_b64

    path = Path(args.out)
    existed = path.exists()
    seed = load_or_create_seed(path)
    print(json.dumps({"name": args.name, "key": public_key_b64(seed)}))
    if existed:
        print(f"(kept the existing key in {path})", file=sys.stderr)
    return 0


def add_serve_ts_parser(sub: Subparsers) -> None:
    """Register ``waict serve-ts``."""
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
    ts.add_argument(
        "--quorum",
        type=number_arg(int, low=1, high=1000),
        default=1,
        help="cosignatures needed (default 1)",
    )
    ts.add_argument("--host", default="127.0.0.1")
    ts.add_argument("--port", type=int, default=8001)
    ts.add_argument(
        "--batch-interval",
        type=number_arg(float, low=0, high=60, low_open=True),
        default=0.2,
        help="seconds between batches",
    )
    ts.add_argument("--enroll-scheme", default="https", choices=["https", "http"])
    ts.add_argument("--enroll-port", type=int, default=None, help="port of sites' well-known")
    ts.add_argument(
        "--enroll-connect",
        default=None,
        metavar="ADDR",
        help="connect to ADDR for every enrollment fetch (loopback: 127.0.0.1)",
    )
    ts.add_argument("--clock-offset", type=int, default=0, help="shift the clock (seconds)")
    add_limit_options(ts)
    add_tls_options(ts)
    ts.set_defaults(func=_cmd_serve_ts)


def add_serve_witness_parser(sub: Subparsers) -> None:
    """Register ``waict serve-witness``."""
    wit = sub.add_parser("serve-witness", help="run a witness that cosigns a service's roots")
    wit.add_argument("--db", required=True, help="SQLite file for the witness state")
    wit.add_argument("--name", required=True, help="witness name, e.g. w1.example")
    wit.add_argument("--key-file", required=True, help="Ed25519 seed file (created if absent)")
    wit.add_argument("--ts", required=True, help="base URL of the transparency service")
    wit.add_argument("--ts-name", required=True, help="the service's domain (note origin)")
    wit.add_argument("--host", default="127.0.0.1")
    wit.add_argument("--port", type=int, default=8011)
    wit.add_argument("--clock-offset", type=int, default=0)
    wit.add_argument(
        "--past-window",
        type=number_arg(int, low=0, high=10**8),
        default=3600,
        help="oldest event age accepted",
    )
    wit.add_argument(
        "--clear-fork",
        action="store_true",
        help="forget a recorded fork or rollback of the service (after investigating it); "
        "the witness checks the service again and refuses if it still does not extend "
        "the history this witness signed",
    )
    add_limit_options(wit)
    add_tls_options(wit)
    wit.set_defaults(func=_cmd_serve_witness)


def add_keygen_parser(sub: Subparsers) -> None:
    """Register ``waict keygen``."""
    kg = sub.add_parser("keygen", help="create an Ed25519 key file and print its public key")
    kg.add_argument("name", help="the key's name (e.g. the witness name)")
    kg.add_argument("--out", required=True, help="seed file to create (kept if it exists)")
    kg.set_defaults(func=_cmd_keygen)


def add_log_parsers(sub: Subparsers) -> None:
    """Register ``serve-ts``, ``serve-witness`` and ``keygen``."""
    add_serve_ts_parser(sub)
    add_serve_witness_parser(sub)
    add_keygen_parser(sub)
