"""The asset host: a content-addressed store of every logged manifest and asset, for auditors.

HTTP API (docs/ts-api.md)::

    PUT /upload                      Authorization: Bearer <token>; body = the bytes
                                     -> 200 {"digest": "sha256-<b64u>"}
    GET /fetch/sha256-<b64u digest>  -> the bytes, Cache-Control: public, max-age=31536000,
                                        immutable; 404 unknown; 400 malformed digest

Errors are JSON ``{"error": "<what went wrong and what to do>", "detail": "<code>"}``.

Storage: ``<root>/objects/<b64u digest>``. An upload streams into a temporary file in
``<root>/tmp`` while it is hashed, is fsynced, then renamed into place (and the directory
fsynced), so a crash never leaves a partial object under a digest name. Objects are never
modified; uploading the same bytes again is a no-op.

``waict serve-assets --dir DIR --token-file F`` runs it; the token is generated into F when
F does not exist. The client side is :mod:`waict.site.asset_client`; objects are named by
:mod:`waict.common.digests`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from verifier.crypto import sha256
from verifier.encoding import b64uencode
from verifier.errors import WaictError
from waict.common.commands import report_error
from waict.common.digests import DIGEST_PREFIX, parse_digest
from waict.common.errors import SiteToolError
from waict.common.files import fsync_dir
from waict.common.serve import add_limit_options, add_tls_options, number_arg
from waict.log.http import JSON_HTTP_ERRORS, HttpError, bounded_number

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

log = logging.getLogger("waict.assets")

IMMUTABLE = "public, max-age=31536000, immutable"
DEFAULT_MAX_UPLOAD = 256 << 20


def _error(status: int, message: str, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


class AssetStore:
    """Content-addressed objects on disk (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # partial uploads of a crashed run
            with contextlib.suppress(OSError):
                stale.unlink()

    def path_for(self, digest: bytes) -> Path:
        return self.objects / b64uencode(digest)

    def get(self, digest: bytes) -> bytes | None:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError:
            return None

    def put_file(self, tmp_path: Path, digest: bytes) -> None:
        """Move a fully written, fsynced temporary file into place under its digest."""
        final = self.path_for(digest)
        if final.exists():
            tmp_path.unlink()
            return
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, final)
        fsync_dir(self.objects)

    def put(self, data: bytes) -> bytes:
        digest = sha256(data)
        fd, tmp = tempfile.mkstemp(dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.put_file(Path(tmp), digest)
        return digest


def create_assets_app(
    root_dir: Path, upload_token: str, *, max_upload: int = DEFAULT_MAX_UPLOAD
) -> Starlette:
    """The asset host as a Starlette app, storing under ``root_dir``."""
    if not upload_token:
        raise ValueError("the upload token must not be empty")
    store = AssetStore(root_dir)
    expected = upload_token.encode("utf-8")

    def authorized(request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode("utf-8"), expected)

    async def upload(request: Request) -> Response:
        if not authorized(request):
            return _error(
                401,
                "missing or wrong bearer token: send Authorization: Bearer <token> with the "
                "token from the asset host's token file",
                "unauthorized",
                **{"WWW-Authenticate": 'Bearer realm="waict-assets"'},
            )
        try:
            declared = bounded_number(
                request.headers.get("content-length"),
                "Content-Length",
                low=0,
                high=2**63,
                default=0,
            )
        except HttpError as exc:
            return exc.response()
        if declared > max_upload:
            return _error(413, f"uploads are limited to {max_upload} bytes", "too_large")
        hasher = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=store.tmp)
        tmp_path = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload:
                        raise OverflowError
                    hasher.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            digest = hasher.digest()
            store.put_file(tmp_path, digest)
        except OverflowError:
            tmp_path.unlink(missing_ok=True)
            return _error(413, f"uploads are limited to {max_upload} bytes", "too_large")
        except ClientDisconnect:  # nobody to answer; the partial upload is dropped
            tmp_path.unlink(missing_ok=True)
            log.info("PUT /upload: the client disconnected after %d bytes", size)
            return Response(status_code=400)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return JSONResponse({"digest": DIGEST_PREFIX + b64uencode(digest)})

    async def fetch(request: Request) -> Response:
        text = request.path_params["digest"]
        try:
            digest = parse_digest(text)
        except WaictError as exc:
            return _error(
                400,
                f"{exc}: ask for /fetch/sha256-<base64url SHA-256 without padding>",
                "bad_digest",
            )
        data = store.get(digest)
        if data is None:
            return _error(404, f"no object {text} on this asset host", "not_found")
        headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{text}"'}
        if request.headers.get("if-none-match") == f'"{text}"':
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="application/octet-stream", headers=headers)

    routes = [
        Route("/upload", upload, methods=["PUT"]),
        Route("/fetch/{digest:path}", fetch, methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes, exception_handlers=JSON_HTTP_ERRORS)


# --- command line --------------------------------------------------------------------------


def load_or_create_token(path: Path) -> tuple[str, bool]:
    """Read the upload token from ``path``, creating a random one (mode 0600) if absent."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        return token, True
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteToolError(f"cannot read token file {path}: {exc}") from None
    if not token:
        raise SiteToolError(
            f"token file {path} is empty", "delete it to have a new token generated"
        )
    return token, False


def _cmd_serve_assets(args: argparse.Namespace) -> int:
    from waict.common.serve import Limits, serve, tls_files

    root = Path(args.dir)
    try:
        tls_cert, tls_key = tls_files(args)
    except ValueError as exc:
        print(f"waict serve-assets: {exc}", file=sys.stderr)
        return 2
    try:
        token, created = load_or_create_token(Path(args.token_file))
    except SiteToolError as exc:
        return report_error("serve-assets", exc)
    if created:
        print(f"generated a new upload token in {args.token_file}", file=sys.stderr)
    try:
        app = create_assets_app(root, token, max_upload=args.max_upload)
    except OSError as exc:
        print(f"waict serve-assets: cannot use {root}: {exc}", file=sys.stderr)
        return 2
    scheme = "https" if tls_cert else "http"
    print(
        f"asset host: objects in {root / 'objects'}, upload token in {args.token_file}, "
        f"on {scheme}://{args.host}:{args.port}",
        flush=True,
    )
    serve(
        app,
        args.host,
        args.port,
        log_level=args.log_level,
        tls_cert=tls_cert,
        tls_key=tls_key,
        limits=Limits.from_args(args),
    )
    return 0


def add_serve_assets_parser(subparsers: Subparsers) -> None:
    """Register ``waict serve-assets``."""
    p = subparsers.add_parser(
        "serve-assets",
        help="run an asset host (content-addressed store of logged manifests and assets)",
        description="Serve PUT /upload (bearer token) and GET /fetch/sha256-<b64u> from DIR. "
        "The upload token is read from --token-file, or generated into it when absent.",
    )
    p.add_argument("--dir", required=True, help="storage directory (created if absent)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8021, help="port (default 8021)")
    p.add_argument("--token-file", required=True, help="upload token file (generated if absent)")
    p.add_argument(
        "--max-upload",
        type=number_arg(int, low=1, high=2**40),
        default=DEFAULT_MAX_UPLOAD,
        help="largest upload in bytes",
    )
    add_tls_options(p)
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    add_limit_options(p, body_timeout=600.0)  # uploads may be large
    p.set_defaults(func=_cmd_serve_assets)
