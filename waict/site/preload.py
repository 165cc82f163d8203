"""The preload list tool.

``waict preload build HOSTS.txt --issued T --expires T --out preload.json`` turns a host list
(one host per line, optionally followed by the flag ``dev-ids``; ``#`` starts a comment) into
the one-line JSON of design.md section 4::

    {"entries":{"bank.example":{"dev-ids":false,"transparency":true}},"expires":T,"issued":T,"version":1}

(compact, keys sorted), validated with :func:`verifier.preload.parse_preload_list`.

Publishing: the list is a logged resource of the vendor's preload domain, exactly like a
manifest line. The resource hash is ``H("waict-rh" || preload JSON line)``, so::

    waict serve-site VENDOR_DIR --port 8443 &           # the preload domain's site
    waict publish VENDOR_DIR --origin https://preload.vendor.example --ts URL \\
        --assets URL --assets-token-file F --line preload.json
    waict preload body --state VENDOR_DIR/.waict --out preload.waict [--trust trust.json]

``waict publish --line`` logs the line (not a built manifest) and keeps ``line \\n proof \\n``
in the state directory's ``manifest`` file; :func:`preload_body_from_state` turns that into
the ``preload.waict`` body the extension ships (JSON line + "\\n" + b64 proof + "\\n"). Use a
dedicated domain for the list: its chain holds the list, not a site's manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.errors import WaictError
from verifier.manifest import split_response
from verifier.preload import MAX_AGE_AFTER_ISSUE, parse_preload_list, verify_preload_response
from verifier.trust import parse_trust
from verifier.urls import normalize_host
from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write, read_bytes_file, read_text_file
from waict.site.manifest import encode_manifest
from waict.site.state import SiteState
from waict.site.times import format_time, parse_time

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

FLAGS = ("dev-ids",)


def parse_hosts(text: str, *, source: str = "hosts file") -> dict[str, dict[str, bool]]:
    """``host [dev-ids]`` per line -> preload entries (host names normalised)."""
    entries: dict[str, dict[str, bool]] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        try:
            host = normalize_host(words[0])
        except WaictError as exc:
            raise SiteToolError(f"{source} line {n}: {exc}") from None
        flags = [w.lower() for w in words[1:]]
        unknown = [f for f in flags if f not in FLAGS]
        if unknown:
            raise SiteToolError(
                f"{source} line {n}: unknown flag {unknown[0]!r}", "the only flag is dev-ids"
            )
        if host in entries:
            raise SiteToolError(f"{source} line {n}: {host} is listed twice")
        entries[host] = {"dev-ids": "dev-ids" in flags, "transparency": True}
    return entries


def build_preload_line(entries: dict[str, dict[str, bool]], issued: int, expires: int) -> bytes:
    """The preload list as one compact JSON line (sorted keys), validated."""
    if expires <= issued:
        raise SiteToolError("--expires must be after --issued")
    line = encode_manifest({"entries": entries, "expires": expires, "issued": issued, "version": 1})
    try:
        parse_preload_list(line)
    except WaictError as exc:
        raise SiteToolError(f"the preload list does not validate: {exc}") from None
    return line


def preload_response(line: bytes, proof_b64: str) -> bytes:
    """A preload response body: the JSON line, "\\n", the b64 proof, "\\n"."""
    return line + b"\n" + proof_b64.encode("ascii") + b"\n"


def preload_body_from_state(state_dir: Path) -> bytes:
    """The ``preload.waict`` body from a state directory after ``waict publish --line``."""
    state = SiteState(state_dir)
    body = state.current_manifest()
    if body is None:
        raise SiteToolError(
            f"{state.manifest_file} does not exist",
            "log the list first: waict publish DIR --origin https://PRELOAD-DOMAIN --line "
            "preload.json ...",
        )
    try:
        line, proof = split_response(body)
        parse_preload_list(line)
    except WaictError as exc:
        raise SiteToolError(
            f"{state.manifest_file} does not hold a logged preload list: {exc}",
            "the last publish of this state directory must be `waict publish --line preload.json`",
        ) from None
    if not proof:
        raise SiteToolError(f"{state.manifest_file} has no proof line")
    return preload_response(line, proof)


# --- command line --------------------------------------------------------------------------


def _cmd_build(args: argparse.Namespace) -> int:
    try:
        entries = parse_hosts(read_text_file(Path(args.hosts), "hosts file"), source=args.hosts)
        issued = parse_time(args.issued)
        expires = parse_time(args.expires, base=issued)
        line = build_preload_line(entries, issued, expires)
        if expires > issued + MAX_AGE_AFTER_ISSUE:
            print(
                "note: browsers stop enforcing a list 30 days after it was issued, whatever "
                "its expiry",
                file=sys.stderr,
            )
        if args.out and args.out != "-":
            atomic_write(Path(args.out), line + b"\n")
            print(
                f"wrote {args.out}: {len(entries)} hosts, issued {format_time(issued)}, "
                f"expires {format_time(expires)}",
                file=sys.stderr,
            )
        else:
            sys.stdout.write(line.decode() + "\n")
    except SiteToolError as exc:
        return report_error("preload build", exc)
    return 0


def _cmd_body(args: argparse.Namespace) -> int:
    try:
        body = preload_body_from_state(Path(args.state))
        if args.trust:
            try:
                trust = parse_trust(json.loads(read_bytes_file(Path(args.trust), "trust file")))
            except (ValueError, WaictError) as exc:
                raise SiteToolError(f"trust file {args.trust}: {exc}") from None
            now = int(time.time()) if args.now is None else args.now
            try:
                plist = verify_preload_response(body, trust, now)
            except WaictError as exc:
                raise SiteToolError(
                    f"the preload response does not verify: {exc} ({exc.detail})",
                    "is trust.preload_domain the domain the list was published under?",
                ) from None
            if plist.stale(now):
                print("note: the list is stale (expired or over 30 days old)", file=sys.stderr)
        atomic_write(Path(args.out), body)
        print(f"wrote {args.out} ({len(body)} bytes)", file=sys.stderr)
    except SiteToolError as exc:
        return report_error("preload body", exc)
    return 0


def add_preload_parser(subparsers: Subparsers) -> None:
    """Register ``waict preload build`` and ``waict preload body``."""
    p = subparsers.add_parser(
        "preload",
        help="build and package the preload list",
        description="The preload list: hosts that must always be served with transparency.",
    )
    sub = p.add_subparsers(dest="preload_command", metavar="SUBCOMMAND", required=True)
    b = sub.add_parser(
        "build",
        help="turn a host list into the one-line preload JSON",
        description="HOSTS.txt: one host per line, optionally followed by the flag dev-ids; "
        "# starts a comment. Times are unix seconds, 'now', or an offset like +30d (--expires "
        "is relative to --issued).",
    )
    b.add_argument("hosts", help="the host list")
    b.add_argument("--issued", default="now", help="issue time (default now)")
    b.add_argument("--expires", default="+30d", help="expiry time (default issued + 30 days)")
    b.add_argument("--out", default=None, help="output file (default stdout)")
    b.set_defaults(func=_cmd_build)
    c = sub.add_parser(
        "body",
        help="write preload.waict from a state directory after `waict publish --line`",
        description="Package the logged preload list (JSON line + b64 proof) as the preload "
        "response body the extension ships as preload.waict.",
    )
    c.add_argument("--state", required=True, help="state directory of the preload domain")
    c.add_argument("--out", required=True, help="output file, e.g. preload.waict")
    c.add_argument("--trust", default=None, help="verify the body against this trust.json")
    c.add_argument("--now", type=int, default=None, help="unix time for the --trust check")
    c.set_defaults(func=_cmd_body)
