"""Shared pieces of the site-operator tools: errors, progress, content types, HTTP clients,
state-directory layout and small argument parsers.

Nothing here encodes a WAICT format: every format comes from :mod:`verifier`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    import argparse

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

STATE_DIRNAME = ".waict"
WELL_KNOWN_ENROLL = ".well-known/waict-enroll"
MANIFEST_PREFIX = "/.well-known/waict/manifests/"
MANIFEST_ID_LENGTH = 22
MANIFEST_MEDIA_TYPE = "application/waict-integrity-manifest"
HEADER_NAME = "Integrity-Policy-WAICT-v1"


class SiteToolError(Exception):
    """A failure of a site tool: says what went wrong and what to do about it.

    ``exit_code`` is what the command exits with (2: usage, input or network errors).
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = str(self.args[0]) if self.args else ""
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class NetworkError(SiteToolError):
    """A server could not be reached or answered with an error."""


class UnexpectedLogError(SiteToolError):
    """The transparency log answered something that must not happen (history rewritten,
    a head that does not link, a proof that does not verify)."""

    exit_code = 1


def report_error(command: str, exc: SiteToolError) -> int:
    print(f"waict {command}: {exc}", file=sys.stderr)
    return exc.exit_code


# --- progress ------------------------------------------------------------------------------


class Progress:
    """A one-line progress indicator on stderr (rewritten in place on a terminal)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0

    def step(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        final = self.done >= self.total
        if self.tty:
            if final or now - self._last > 0.05:
                self._last = now
                text = f"\r{self.label}: {self.done}/{self.total} {note[:60]}"
                self.stream.write(text.ljust(100)[:100])
                self.stream.flush()
            if final:
                self.stream.write("\n")
        elif final or now - self._last > 2.0:
            self._last = now
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
            self.stream.flush()


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- content types -------------------------------------------------------------------------

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".xsl": "application/xslt+xml",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".vtt": "text/vtt",
    ".pdf": "application/pdf",
}

# Fetch destination a browser gives a resource of this kind when nothing else says
# (used by `waict verify` for manifest URLs the page does not reference itself).
DESTINATIONS_BY_SUFFIX: Mapping[str, str] = {
    ".js": "script",
    ".mjs": "script",
    ".css": "style",
    ".wasm": "wasm",
    ".html": "iframe",
    ".htm": "iframe",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".svg": "image",
    ".webp": "image",
    ".avif": "image",
    ".ico": "image",
    ".woff": "font",
    ".woff2": "font",
    ".ttf": "font",
    ".otf": "font",
    ".mp3": "audio",
    ".ogg": "audio",
    ".wav": "audio",
    ".mp4": "video",
    ".webm": "video",
    ".json": "json",
    ".xsl": "xslt",
}


def content_type_for(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def destination_for_url(url: str) -> str | None:
    """The destination inferred from a URL's file extension (directory URLs are pages)."""
    path = urlsplit(url).path
    if path.endswith("/"):
        return "iframe"
    return DESTINATIONS_BY_SUFFIX.get(os.path.splitext(path)[1].lower())


# --- files ---------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_text_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteToolError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteToolError(f"cannot read {what} {path}: {exc}") from None


def read_bytes_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SiteToolError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise SiteToolError(f"cannot read {what} {path}: {exc}") from None


# --- origins and times -----------------------------------------------------------------------


def parse_origin(text: str) -> str:
    """``scheme://host[:port]`` in canonical form (lower case, default port dropped)."""
    from verifier import urls
    from verifier.errors import WaictError

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SiteToolError(
            f"origin {text!r} is not an http(s) origin",
            "give it as https://host or http://host:port, with no path",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SiteToolError(f"origin {text!r} must not have a path, query or fragment")
    try:
        return urls.origin_of(urlunsplit((parts.scheme, parts.netloc, "/", "", "")))
    except WaictError as exc:
        raise SiteToolError(f"origin {text!r}: {exc}") from None


def parse_time(text: str, *, base: int | None = None) -> int:
    """Unix seconds: an integer, ``now``, or ``+N[smhd]`` relative to ``base`` (default now)."""
    text = text.strip()
    now = int(time.time())
    if text == "now":
        return now
    match = re.fullmatch(r"([+-])(\d+)([smhd]?)", text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(3)]
        return (now if base is None else base) + sign * int(match.group(2)) * unit
    if re.fullmatch(r"\d+", text):
        return int(text)
    raise SiteToolError(
        f"{text!r} is not a time", "give unix seconds, 'now', or an offset such as +30d"
    )


def format_time(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def format_age(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 120:
        return f"{sign}{s} s"
    if s < 7200:
        return f"{sign}{s // 60} min"
    if s < 172800:
        return f"{sign}{s / 3600:.1f} h"
    return f"{sign}{s / 86400:.1f} d"


# --- HTTP clients --------------------------------------------------------------------------


def parse_resolve(items: list[str] | None) -> dict[str, str]:
    """``HOST=ADDRESS`` pairs (like curl --resolve): connect to ADDRESS for HOST."""
    out: dict[str, str] = {}
    for item in items or []:
        host, sep, address = item.partition("=")
        if not sep or not host or not address:
            raise SiteToolError(f"--resolve {item!r}: use HOST=ADDRESS, e.g. site.test=127.0.0.1")
        out[host.lower().rstrip(".")] = address
    return out


class ResolvingTransport(httpx.HTTPTransport):
    """An httpx transport that connects to a fixed address for some host names.

    The URL keeps its host name (so ``Host`` and TLS SNI stay right); only the TCP connection
    goes elsewhere, like ``curl --resolve`` or the browser's ``--host-resolver-rules``.
    """

    def __init__(self, resolve: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resolve = dict(resolve)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = self.resolve.get(host)
        if address is None:
            return super().handle_request(request)
        headers = httpx.Headers(request.headers)
        headers["Host"] = host if request.url.port is None else f"{host}:{request.url.port}"
        routed = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return super().handle_request(routed)


def make_client(
    *,
    timeout: float = 30.0,
    resolve: Mapping[str, str] | None = None,
    verify_tls: bool = True,
    follow_redirects: bool = False,
) -> httpx.Client:
    transport = ResolvingTransport(resolve or {}, verify=verify_tls)
    return httpx.Client(
        timeout=timeout,
        transport=transport,
        follow_redirects=follow_redirects,
        headers={"User-Agent": "waict-tools/0.1"},
    )


def error_text(response: httpx.Response) -> str:
    """The ``error`` of a JSON error answer (docs/ts-api.md), or the start of the body."""
    try:
        obj = response.json()
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("error"), str):
        detail = obj.get("detail")
        return f"{obj['error']}" + (f" ({detail})" if isinstance(detail, str) else "")
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase


@contextlib.contextmanager
def network_errors(what: str) -> Iterator[None]:
    """Turn transport failures into a :class:`NetworkError` that names the server."""
    try:
        yield
    except httpx.TimeoutException:
        raise NetworkError(f"{what}: timed out", "is the server running and reachable?") from None
    except httpx.HTTPError as exc:
        raise NetworkError(f"{what}: {exc}", "is the server running and reachable?") from None


# --- state directory -------------------------------------------------------------------------


def default_state_dir(site_dir: Path) -> Path:
    return site_dir / STATE_DIRNAME


def manifest_id(body: bytes) -> str:
    """The manifest URL's last path element: first 22 chars of b64u SHA-256 of the body."""
    from verifier.crypto import sha256
    from verifier.encoding import b64uencode

    return b64uencode(sha256(body))[:MANIFEST_ID_LENGTH]


def manifest_path(body: bytes) -> str:
    return MANIFEST_PREFIX + manifest_id(body)
