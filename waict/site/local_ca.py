"""``waict local-ca``: a local certificate authority and a leaf certificate for HTTPS on
loopback (:mod:`waict.common.tls`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.tls import issue_leaf

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def _cmd_local_ca(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    try:
        leaf = issue_leaf(directory, args.label, args.names)
    except SiteToolError as exc:
        return report_error("local-ca", exc)
    except OSError as exc:
        return report_error("local-ca", SiteToolError(f"cannot write into {directory}: {exc}"))
    print(
        json.dumps(
            {
                "ca": str(directory / "ca.pem"),
                "cert": str(leaf.cert),
                "key": str(leaf.key),
                "spki": leaf.spki,
                "names": list(args.names),
            }
        )
    )
    return 0


def add_local_ca_parser(subparsers: Subparsers) -> None:
    """Register ``waict local-ca``."""
    p = subparsers.add_parser(
        "local-ca",
        help="make a local certificate authority and a leaf certificate (HTTPS on loopback)",
        description="Create DIR/ca.pem and DIR/ca.key when absent, then a leaf certificate for "
        "NAME... (DNS names, *.wildcards, IP addresses) signed by it: DIR/LABEL.pem (the leaf, "
        "then the CA) and DIR/LABEL.key. Prints JSON with the paths and the leaf's SPKI hash. "
        "Serve with `--cert DIR/LABEL.pem --key DIR/LABEL.key` (serve-site, serve-ts, "
        "serve-witness, serve-assets); Python clients trust it with SSL_CERT_FILE=DIR/ca.pem, "
        "Chromium with --ignore-certificate-errors-spki-list=SPKI. For loopback and tests only: "
        "the CA key is stored unencrypted.",
    )
    p.add_argument("dir", help="the CA's directory (created if absent)")
    p.add_argument("names", nargs="+", metavar="NAME", help="host names or addresses to cover")
    p.add_argument("--label", default="server", help="file name of the leaf (default server)")
    p.set_defaults(func=_cmd_local_ca)
