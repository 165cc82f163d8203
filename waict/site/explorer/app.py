"""``waict explore``: the log explorer, a web page over a monitor's state and the service.

The page (``static/``: plain HTML, CSS and JS) fetches only this server's ``/api/*``; the
server reads the transparency service with :class:`~waict.site.log_client.TsClient` and
the monitor's state file (``waict monitor --state``), and checks proofs with ``verifier``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from verifier.errors import WaictError
from verifier.urls import normalize_host
from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.serve import add_tls_options, tls_files
from waict.site.explorer.views import Explorer
from waict.site.log_client import TsClient
from waict.site.wiring import (
    ClientSettings,
    add_client_options,
    load_trust,
    parse_listen,
    serve_app,
)

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

STATIC = Path(__file__).parent / "static"
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
#: the page loads nothing from elsewhere
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'"


def create_explorer_app(
    ts_url: str,
    state_path: Path,
    trust_path: str | None = None,
    *,
    net: ClientSettings | None = None,
    clock: Callable[[], int] = lambda: int(time.time()),
) -> Starlette:
    trust = load_trust(trust_path)
    settings = net or ClientSettings()

    def explorer(run: Callable[[Explorer], Any]) -> Response:
        with settings.client() as client:
            try:
                return JSONResponse(run(Explorer(TsClient(ts_url, client), state_path, trust)))
            except KeyError as exc:
                return JSONResponse({"error": str(exc.args[0])}, status_code=404)
            except (SiteToolError, WaictError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=502)

    def domain_of(request: Request) -> str:
        try:
            return normalize_host(request.path_params["domain"])
        except WaictError as exc:
            raise HTTPException(400, f"not a domain: {exc}") from None

    def static(request: Request) -> Response:
        name, media = FILES[request.url.path]
        return FileResponse(
            STATIC / name,
            media_type=media,
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
        )

    def overview(request: Request) -> Response:
        return explorer(lambda e: e.overview())

    def chain(request: Request) -> Response:
        domain = domain_of(request)
        return explorer(lambda e: e.chain(domain, clock()))

    def diff(request: Request) -> Response:
        domain = domain_of(request)
        try:
            to = int(request.query_params["to"])
            frm = int(request.query_params["from"]) if "from" in request.query_params else None
        except (KeyError, ValueError):
            return JSONResponse({"error": "give to=N (and from=M)"}, status_code=400)
        return explorer(lambda e: e.diff(domain, to, frm))

    def checkpoint(request: Request) -> Response:
        return explorer(lambda e: e.checkpoint(clock()))

    def proof(request: Request) -> Response:
        domain = domain_of(request)
        return explorer(lambda e: e.proof(domain, clock()))

    routes = [Route(path, static) for path in FILES]
    routes += [
        Route("/api/overview", overview),
        Route("/api/chain/{domain}", chain),
        Route("/api/diff/{domain}", diff),
        Route("/api/checkpoint", checkpoint),
        Route("/api/proof/{domain}", proof),
    ]
    return Starlette(routes=routes)


def serve_explorer(
    args: argparse.Namespace, listen: str, option: str, *, background: bool, out: TextIO
) -> None:
    """Serve the explorer over ``args.ts``, ``args.state`` and ``args.trust`` with the
    client options of ``args`` on ``listen`` (the ``HOST:PORT`` of ``option``): ``waict
    explore`` in the foreground, ``waict monitor --serve`` in a background thread."""
    host, port = parse_listen(listen, option)
    try:
        tls = tls_files(args) if hasattr(args, "tls_cert") else (None, None)
    except ValueError as exc:
        raise SiteToolError(str(exc)) from None
    app = create_explorer_app(
        args.ts, Path(args.state), args.trust, net=ClientSettings.from_args(args)
    )
    scheme = "https" if tls[0] else "http"
    print(f"log explorer on {scheme}://{host}:{port}/", file=out, flush=True)
    serve_app(app, host, port, background=background, name="explorer", tls=tls)


def _cmd_explore(args: argparse.Namespace) -> int:
    try:
        serve_explorer(args, args.listen, "--listen", background=False, out=sys.stdout)
    except SiteToolError as exc:
        return report_error("explore", exc)
    return 0


def add_explore_parser(subparsers: Subparsers) -> None:
    """Register ``waict explore``."""
    p = subparsers.add_parser(
        "explore",
        help="a web page over a transparency service and a monitor's state",
        description="Serve the log explorer: the watched domains (from `waict monitor "
        "--state`), each domain's chain, diffs of the manifests the monitor found, the "
        "newest checkpoint with each witness's cosignature and age, and any head's proof "
        "checked by verifier. The page loads nothing but this server's own files and API.",
    )
    p.add_argument("--ts", required=True, help="base URL of the transparency service")
    p.add_argument("--state", required=True, help="the monitor's state file")
    p.add_argument("--trust", default=None, help="check cosignatures against this trust.json")
    p.add_argument("--listen", default="127.0.0.1:8700", help="HOST:PORT (default %(default)s)")
    add_client_options(p)
    add_tls_options(p)
    p.set_defaults(func=_cmd_explore)
