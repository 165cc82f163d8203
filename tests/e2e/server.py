"""A real HTTPS server on loopback for the fixture sites (virtual hosts by ``Host``).

It presents a leaf for ``*.waict.test`` from a local certificate authority
(:mod:`waict.common.tls`, made in a temporary directory); Chromium trusts it by the leaf's
key (``tls.spki``, ``--ignore-certificate-errors-spki-list``). The TLS handshake runs in the
connection's own thread, so a client that connects and says nothing holds up nobody.

One ``ThreadingHTTPServer`` serves every site of a :class:`sites.Fixture`: the ``Host``
header picks the site, the path picks the file. Documents (``/`` and ``*.html``) carry the
site's ``Integrity-Policy-WAICT-v1`` header; the manifest path answers the manifest
response. A site with ``manifest_gate`` holds its manifest until :meth:`FixtureServer.release`
is called (the service-worker-kill test). A site with ``manifest_stream`` streams its
manifest (``sites.STREAMS``: a huge one, a one-byte drip) and counts what it could send
(``streamed``, ``stream_done``). A path in a site's ``responses`` is answered exactly as
given (status, headers, body: redirects, a 3xx without ``Location``, cacheable documents);
any path ending in ``/waict-manifest`` answers the manifest. Every request is logged
(``requests``); every POST (the extension's ``waict-violation`` reports) is recorded with
its headers and body (``posts``) and answered ``204``.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sites

from waict.common.tls import Leaf, issue_leaf

HANDSHAKE_TIMEOUT = 30.0


class TlsThreadingHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` over TLS, the handshake done in the connection's thread."""

    def __init__(self, address: tuple[str, int], handler: Any, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return  # a client that gave up, or does not trust us: nothing to serve
        request.settimeout(None)
        super().finish_request(request, client_address)


def make_tls(directory: Path | None = None) -> Leaf:
    """A leaf for the fixture sites (and 127.0.0.1) from a fresh local CA."""
    where = directory or Path(tempfile.mkdtemp(prefix="waict-e2e-tls-"))
    return issue_leaf(where, "sites", [f"*.{sites.DOMAIN}", "127.0.0.1", "localhost"])


@dataclass(frozen=True)
class Post:
    host: str
    path: str
    headers: dict[str, str]
    body: bytes


class FixtureServer:
    def __init__(self) -> None:
        self.fixture: sites.Fixture | None = None
        self.requests: list[tuple[str, str]] = []
        self.methods: list[tuple[str, str, str]] = []  # (host, method, path) of every request
        self.posts: list[Post] = []
        self.post_delays: dict[str, float] = {}  # path prefix -> seconds before answering
        self.manifest_requested: dict[str, threading.Event] = {}
        self.gates: dict[str, threading.Event] = {}
        self.streamed: dict[str, int] = {}  # label -> manifest bytes sent (streamed sites)
        self.stream_done: dict[str, threading.Event] = {}  # the client stopped reading
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes: with Nagle's algorithm the body waits
            # for the client's (delayed) ACK of the headers, up to tens of milliseconds per
            # response on loopback, which no production server imposes (TCP_NODELAY)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle_post(self)

        self.tls = make_tls()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self.httpd = TlsThreadingHTTPServer(("127.0.0.1", 0), Handler, context)
        self.httpd.daemon_threads = True
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self, fixture: sites.Fixture) -> None:
        self.fixture = fixture
        for label in fixture.sites:
            self.manifest_requested[label] = threading.Event()
            gate = threading.Event()
            if not fixture.sites[label].manifest_gate:
                gate.set()
            self.gates[label] = gate
            self.stream_done[label] = threading.Event()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for gate in self.gates.values():
            gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def release(self, label: str) -> None:
        self.gates[label].set()

    def hold(self, label: str) -> None:
        self.gates[label].clear()
        self.manifest_requested[label].clear()

    def requested(self, label: str) -> list[str]:
        host = f"{label}.{sites.DOMAIN}"
        with self._lock:
            return [path for h, path in self.requests if h == host]

    def requested_with(self, label: str, path: str) -> list[str]:
        """The methods of the requests for ``path`` of the site ``label``, in order."""
        host = f"{label}.{sites.DOMAIN}"
        with self._lock:
            return [m for h, m, p in self.methods if h == host and p.split("?", 1)[0] == path]

    def posted(self, path_prefix: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.path.startswith(path_prefix)]

    def wait_posts(self, path_prefix: str, count: int = 1, timeout: float = 15) -> list[Post]:
        """The POSTs to paths starting with ``path_prefix``, once there are ``count``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posted(path_prefix)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.posted(path_prefix)

    def handle_post(self, req: BaseHTTPRequestHandler) -> None:
        host = (req.headers.get("Host") or "").split(":")[0].lower()
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length > 0 else b""
        post = Post(host, req.path, {k.lower(): v for k, v in req.headers.items()}, body)
        with self._lock:
            self.requests.append((host, req.path))
            self.methods.append((host, "POST", req.path))
            self.posts.append(post)
            delay = max(
                (d for prefix, d in self.post_delays.items() if req.path.startswith(prefix)),
                default=0.0,
            )
        if delay:
            time.sleep(delay)  # a slow endpoint (the page must not wait for it)
        req.send_response(204)
        req.send_header("Content-Length", "0")
        req.end_headers()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        assert self.fixture is not None
        host = (req.headers.get("Host") or "").split(":")[0].lower()
        path = req.path.split("?", 1)[0]
        with self._lock:
            self.requests.append((host, path))
            self.methods.append((host, req.command, path))
        label = host.removesuffix("." + sites.DOMAIN)
        site = self.fixture.sites.get(label)
        if site is None:
            self._send(req, 404, b"no such site\n", "text/plain")
            return
        if path == sites.MANIFEST_PATH or path.endswith("/waict-manifest"):
            self.manifest_requested[label].set()
            self.gates[label].wait(timeout=60)
            if site.manifest_stream is not None:
                self._stream(req, label, site.manifest_stream)
                return
            if site.manifest_response is None:
                self._send(req, 404, b"no manifest\n", "text/plain")
            else:
                self._send(req, 200, site.manifest_response, "application/waict-integrity-manifest")
            return
        special = site.responses.get(path)
        if special is not None:  # a response given whole: status, headers, body
            status, headers, body = special
            req.send_response(status)
            sent = {k.lower() for k in headers}
            if "content-length" not in sent:
                req.send_header("Content-Length", str(len(body)))
            if "cache-control" not in sent:
                req.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                req.send_header(name, value)
            req.end_headers()
            req.wfile.write(body)
            return
        body = site.files.get(path)
        if body is None:
            self._send(req, 404, b"not found\n", "text/plain")
            return
        headers = dict(site.extra_headers)
        is_document = path == "/" or path.endswith(".html")
        if is_document and site.header is not None:
            headers["Integrity-Policy-WAICT-v1"] = site.header
        self._send(req, 200, body, sites.content_type(path), headers)

    def _stream(self, req: BaseHTTPRequestHandler, label: str, mode: str) -> None:
        """A chunked manifest with no Content-Length: ``huge`` (as fast as the client
        reads) or ``drip`` (one byte every 200 ms); stops when the client goes away."""
        self.streamed[label] = 0
        self.stream_done[label].clear()
        req.send_response(200)
        req.send_header("Content-Type", "application/waict-integrity-manifest")
        req.send_header("Transfer-Encoding", "chunked")
        req.send_header("Cache-Control", "no-store")
        req.end_headers()
        size, pause = (64 << 10, 0.0) if mode == "huge" else (1, 0.2)
        limit = sites.HUGE_STREAM_BYTES if mode == "huge" else 300
        chunk = b"{" + b" " * (size - 1) if size > 1 else b"{"
        try:
            while self.streamed[label] < limit and not self._stopping.is_set():
                req.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                req.wfile.flush()
                self.streamed[label] += len(chunk)
                if pause:
                    time.sleep(pause)
                chunk = b" " * size
            req.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client stopped reading
        finally:
            self.stream_done[label].set()
            req.close_connection = True

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(body)


@contextmanager
def serving(fixture_factory: Any) -> Iterator[FixtureServer]:
    """Start a server whose fixture is built by ``fixture_factory(port)``."""
    server = FixtureServer()
    server.start(fixture_factory(server.port))
    try:
        yield server
    finally:
        server.stop()
