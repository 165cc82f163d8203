"""``waict publish``: the command line of :func:`~waict.site.publish.pipeline.publish`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.keys import read_seed
from waict.site.asset_client import read_token
from waict.site.publish.header import MODES
from waict.site.publish.options import AssetUpload, PublishOptions, PublishResult
from waict.site.publish.pipeline import publish
from waict.site.state import SiteState
from waict.site.times import format_time
from waict.site.wiring import ClientSettings, add_client_options, load_trust

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def _print_result(result: PublishResult, state: SiteState, site_dir: Path) -> None:
    out = sys.stdout
    if result.proof is not None:
        head = result.proof.head
        what = {
            "tombstone": "unenrolled (transparency tombstone)",
            "line": "logged the line",
            "manifest": "published",
        }[result.kind]
        out.write(
            f"{what}: {result.host} position {head.position}, "
            f"logged at {format_time(head.entry.time_created)}"
            + (" (new enrollment)" if result.enrolled else "")
            + "\n"
        )
        if result.proven is not None:
            names = ", ".join(c.witness for c in result.proven.counted)
            out.write(f"verified against the trust file: {result.proven.ts_domain}, {names}\n")
    else:
        out.write(f"installed an unlogged ({result.kind}) manifest for {result.host}\n")
    signed = result.kind in ("manifest", "unlogged")
    sigs = json.loads(result.line).get("dev-sigs") if signed else None
    if sigs:
        out.write("developer signatures (dev-sigs): " + ", ".join(s["id"] for s in sigs) + "\n")
    for warning in result.warnings:
        out.write(f"note: {warning}\n")
    if result.kind == "line":
        out.write(
            f"the logged line and its proof are in {state.manifest_file} "
            "(for a preload list: `waict preload body --state "
            f"{state.path} --out preload.waict`)\n"
        )
        return
    out.write(
        "serve on every page:\n"
        f"  Integrity-Policy-WAICT-v1: {result.header}\n"
        f"serve {state.manifest_file} at {result.manifest_url}\n"
        "  as Content-Type: application/waict-integrity-manifest\n"
        f"(`waict serve-site {site_dir}` does both, and picks up changes while running)\n"
    )


def _asset_uploads(urls: list[str], token_files: list[str]) -> tuple[AssetUpload, ...]:
    """``--assets URL`` (repeatable) with ``--assets-token-file FILE``: one file for every
    host, or one per host in the same order."""
    if not urls:
        if token_files:
            raise SiteToolError("--assets-token-file needs --assets URL (the asset host)")
        return ()
    if not token_files:
        raise SiteToolError("--assets needs --assets-token-file (the asset host's upload token)")
    if len(token_files) not in (1, len(urls)):
        raise SiteToolError(
            f"{len(urls)} --assets hosts but {len(token_files)} --assets-token-file",
            "give one token file for every host, or one per --assets in the same order",
        )
    tokens = [read_token(Path(f)) for f in token_files]
    if len(tokens) == 1:
        tokens *= len(urls)
    return tuple(AssetUpload(url, token) for url, token in zip(urls, tokens, strict=True))


def options_from_args(args: argparse.Namespace) -> PublishOptions:
    site_dir = Path(args.dir)
    net = ClientSettings.from_args(args)
    return PublishOptions(
        site_dir=site_dir,
        origin=args.origin,
        ts_url=args.ts,
        state_dir=Path(args.state) if args.state else None,
        assets=_asset_uploads(args.assets, args.assets_token_file),
        max_age=args.max_age,
        mode=args.mode,
        header_preload=args.header_preload,
        endpoints=tuple(args.endpoints),
        dev_ids=tuple(args.dev_ids) if args.dev_ids is not None else None,
        dev_ids_next=tuple(args.dev_ids_next) if args.dev_ids_next is not None else None,
        sign=tuple(read_seed(Path(f), "--sign key file") for f in args.sign),
        line_file=Path(args.line) if args.line else None,
        unenroll=args.unenroll,
        v1=tuple(args.v1) if args.v1 is not None else None,
        no_log=args.no_log,
        wasm_globs=tuple(args.wasm),
        fallback=tuple(Path(f) if os.path.isabs(f) else site_dir / f for f in args.fallback),
        inline=args.inline,
        trust=load_trust(args.trust),
        now=args.now,
        re_enroll=args.re_enroll,
        accept_log_head=args.accept_log_head,
        timeout=net.timeout,
        resolve=dict(net.resolve),
        verify_tls=net.verify_tls,
        ca_file=net.ca_file,
        quiet=args.quiet,
    )


def _cmd_publish(args: argparse.Namespace) -> int:
    try:
        opts = options_from_args(args)
        result = publish(opts)
    except SiteToolError as exc:
        return report_error("publish", exc)
    _print_result(result, opts.state, opts.site_dir)
    return 0


def add_publish_parser(subparsers: Subparsers) -> None:
    """Register ``waict publish``."""
    p = subparsers.add_parser(
        "publish",
        help="log a site's manifest and install the header and manifest to serve",
        description="Build the manifest of DIR, upload it and every file to the asset host, "
        "enroll (first time) or append to the transparency service, check the returned proof "
        "and write the manifest response and header into the state directory. The site must "
        "already be served (`waict serve-site DIR`) when enrolling: the service fetches "
        "/.well-known/waict-enroll from it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", help="the site's built files (what the web server serves)")
    p.add_argument("--origin", required=True, help="the site's origin, e.g. https://example.com")
    p.add_argument("--ts", default=None, help="base URL of the transparency service")
    p.add_argument(
        "--assets",
        action="append",
        default=[],
        metavar="URL",
        help="base URL of an asset host (repeat for several: each gets every object)",
    )
    p.add_argument(
        "--assets-token-file",
        action="append",
        default=[],
        metavar="FILE",
        help="the asset host's upload token file (one for all hosts, or one per --assets)",
    )
    p.add_argument("--state", default=None, help="state directory (default DIR/.waict)")
    p.add_argument("--max-age", type=int, default=3600, help="header max-age (default 3600)")
    p.add_argument("--mode", choices=MODES, default="enforce", help="header mode")
    p.add_argument("--header-preload", action="store_true", help="add `preload` to the header")
    p.add_argument("--endpoints", nargs="+", default=[], metavar="NAME", help="report endpoints")
    p.add_argument(
        "--dev-ids",
        nargs="*",
        default=None,
        metavar="ID",
        help="developer identities (ed25519:<b64u key>); proven by an earlier "
        "manifest that announced them (see --dev-ids-next)",
    )
    p.add_argument(
        "--dev-ids-next",
        nargs="*",
        default=None,
        metavar="ID",
        help="announce the dev-ids a later manifest will carry",
    )
    p.add_argument(
        "--sign",
        action="append",
        default=[],
        metavar="KEYFILE",
        help="sign the manifest (dev-sigs) with this Ed25519 key file (`waict keygen`); "
        "repeat for several keys. Every ed25519 identity in --dev-ids needs its key",
    )
    p.add_argument(
        "--line",
        default=None,
        metavar="FILE",
        help="log this one-line JSON document (e.g. a preload list) instead of a built manifest",
    )
    p.add_argument(
        "--unenroll",
        action="store_true",
        help="leave WAICT: log a transparency tombstone and serve an emergency_opt_out manifest",
    )
    p.add_argument(
        "--v1",
        nargs="+",
        default=None,
        metavar="DEST",
        help="install an unlogged v1 manifest with blocked-destinations=(DEST...)",
    )
    p.add_argument(
        "--no-log",
        action="store_true",
        help="install a v2 manifest with an empty proof line (needs --max-age 0)",
    )
    p.add_argument(
        "--wasm",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="more files for wasm_hashes (*.wasm always)",
    )
    p.add_argument(
        "--fallback", nargs="+", default=[], metavar="FILE", help="documents for fallback_hashes"
    )
    p.add_argument(
        "--inline",
        action="store_true",
        help="list inline <script>/<style> hashes (unlisted inline code is blocked)",
    )
    p.add_argument(
        "--trust",
        default=None,
        metavar="TRUST.JSON",
        help="verify the returned proof as a browser with this trust would",
    )
    p.add_argument("--now", type=int, default=None, help="unix time for the --trust check")
    p.add_argument(
        "--re-enroll",
        action="store_true",
        help="enroll again with a new append token (after losing the token)",
    )
    p.add_argument(
        "--accept-log-head",
        action="store_true",
        help="accept log entries this state directory did not publish",
    )
    add_client_options(p, timeout=120.0, timeout_help="seconds to wait for a proof", insecure=True)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_publish)
