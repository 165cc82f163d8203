"""``waict serve-site``: a static web server for a WAICT site.

- Serves the files under DIR with correct content types (``application/wasm`` for .wasm,
  ``text/javascript``, ``text/css``, ``image/png``, ...) and ``Cache-Control: no-cache`` (so a
  browser always sees the bytes on disk, tampered or not). A directory URL serves its
  ``index.html``; ``/dir`` redirects to ``/dir/``.
- Sends ``Integrity-Policy-WAICT-v1`` (the state directory's ``header``) on every response.
- Serves every published manifest response at ``/.well-known/waict/manifests/<id>`` with media
  type ``application/waict-integrity-manifest``, and ``/.well-known/waict-enroll`` from the
  tree (what the transparency service fetches at enrollment).
- Never serves other dotfiles: the state directory (``.waict/``, which holds the append
  token) and anything else hidden answers 404.
- Re-reads the state files when they change, so ``waict publish`` while serving just works.

Several sites can share one port (virtual hosts by ``Host``): ``--site HOST=DIR`` (repeat).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.serve import add_tls_options
from waict.site.content_types import content_type_for
from waict.site.names import (
    HEADER_NAME,
    MANIFEST_MEDIA_TYPE,
    MANIFEST_PREFIX,
    WELL_KNOWN_ENROLL,
    default_state_dir,
)
from waict.site.state import SiteState

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


class _HeaderCache:
    """The header file's value, re-read when its mtime or size changes."""

    def __init__(self, state: SiteState | None) -> None:
        self.state = state
        self._stamp: tuple[int, int] | None = None
        self._value: str | None = None

    def get(self) -> str | None:
        if self.state is None:
            return None
        try:
            st = os.stat(self.state.header_file)
        except FileNotFoundError:
            self._stamp, self._value = None, None
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            self._value = self.state.read_header()
        return self._value


@dataclass
class ServedSite:
    root: Path
    state: SiteState | None

    def __post_init__(self) -> None:
        self.root_real = self.root.resolve()
        self.header = _HeaderCache(self.state)


def _not_found(message: str = "not found") -> Response:
    return Response(message + "\n", status_code=404, media_type="text/plain; charset=utf-8")


def _serve(site: ServedSite, request: Request) -> Response:
    path: str = request.scope["path"]
    if path.startswith(MANIFEST_PREFIX):
        body = site.state.read_manifest(path[len(MANIFEST_PREFIX) :]) if site.state else None
        if body is None:
            return _not_found("no such manifest: publish the site with `waict publish`")
        return Response(body, media_type=MANIFEST_MEDIA_TYPE)
    segments = path.split("/")[1:]
    if any(s in (".", "..") or "\x00" in s for s in segments):
        return _not_found()
    hidden = [s for s in segments if s.startswith(".")]
    if hidden and "/".join(segments) != WELL_KNOWN_ENROLL:
        return _not_found()
    target = site.root.joinpath(*[s for s in segments if s])
    try:
        real = target.resolve()
    except OSError:
        return _not_found()
    if real != site.root_real and site.root_real not in real.parents:
        return _not_found()
    if real.is_dir():
        if not path.endswith("/"):
            query = request.url.query
            location = quote(path, safe="/:@!$&'()*+,;=-._~") + "/"
            return RedirectResponse(location + (f"?{query}" if query else ""), status_code=301)
        real = real / "index.html"
    try:
        data = real.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return _not_found()
    media_type = (
        "application/json" if path.endswith(WELL_KNOWN_ENROLL) else content_type_for(real.name)
    )
    return Response(data, media_type=media_type)


def create_site_app(
    root: Path | None = None,
    state_dir: Path | None = None,
    *,
    sites: Mapping[str, Path] | None = None,
) -> Starlette:
    """A static server for one site (``root``, state in ``state_dir`` or ``root/.waict``) or
    several virtual hosts (``sites``: host name -> directory, state in ``DIR/.waict``)."""
    served: dict[str, ServedSite] = {}
    for host, directory in (sites or {}).items():
        served[host.lower()] = ServedSite(directory, SiteState(default_state_dir(directory)))
    default: ServedSite | None = None
    if root is not None:
        default = ServedSite(root, SiteState(state_dir or default_state_dir(root)))
    if default is None and not served:
        raise ValueError("give a site directory or virtual hosts")

    async def handle(request: Request) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower().rstrip(".")
        site = served.get(host, default)
        if site is None:
            return _not_found(f"no site is served for host {host!r}")
        response = _serve(site, request)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        header = site.header.get()
        if header is not None:
            response.headers[HEADER_NAME] = header
        return response

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "HEAD"])])


def _site_arg(text: str) -> tuple[str, Path]:
    host, sep, directory = text.partition("=")
    if not sep or not host or not directory:
        raise argparse.ArgumentTypeError("use HOST=DIR")
    return host, Path(directory)


def _cmd_serve_site(args: argparse.Namespace) -> int:
    from waict.common.serve import serve, tls_files

    try:
        try:
            tls_cert, tls_key = tls_files(args)
        except ValueError as exc:
            raise SiteToolError(str(exc)) from None
        if args.dir is None and not args.site:
            raise SiteToolError("give a site directory, or --site HOST=DIR")
        if args.dir is not None and not Path(args.dir).is_dir():
            raise SiteToolError(f"{args.dir} is not a directory")
        for host, directory in args.site:
            if not directory.is_dir():
                raise SiteToolError(f"--site {host}: {directory} is not a directory")
        app = create_site_app(
            Path(args.dir) if args.dir else None,
            Path(args.state) if args.state else None,
            sites=dict(args.site),
        )
    except SiteToolError as exc:
        return report_error("serve-site", exc)
    scheme = "https" if tls_cert else "http"
    where = f"{scheme}://{args.host}:{args.port}"
    if args.dir:
        state = Path(args.state) if args.state else default_state_dir(Path(args.dir))
        print(f"serving {args.dir} (state {state}) on {where}", flush=True)
    for host, directory in args.site:
        print(f"serving {directory} for {host} on {where}", flush=True)
    serve(
        app,
        args.host,
        args.port,
        log_level=args.log_level,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    return 0


def add_serve_site_parser(subparsers: Subparsers) -> None:
    """Register ``waict serve-site``."""
    p = subparsers.add_parser(
        "serve-site",
        help="serve a site with its WAICT header and manifest",
        description="Static server for DIR: sends the Integrity-Policy-WAICT-v1 header from the "
        "state directory, serves the manifest response at its URL and "
        "/.well-known/waict-enroll, never serves the state directory, and picks up a new "
        "publish while running. Start it before the first `waict publish`.",
    )
    p.add_argument("dir", nargs="?", default=None, help="the site's files")
    p.add_argument("--state", default=None, help="state directory (default DIR/.waict)")
    p.add_argument(
        "--site",
        action="append",
        type=_site_arg,
        default=[],
        metavar="HOST=DIR",
        help="serve DIR for requests to HOST (repeat for several sites on one port)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    add_tls_options(p)
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    p.set_defaults(func=_cmd_serve_site)
