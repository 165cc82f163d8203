"""Running an ASGI app (the servers and ``waict serve-site``) with uvicorn.

:func:`make_server` is the one place a server is configured, for the commands and the
loopback tests alike.

- **Graceful stop**: a stop first runs the app's stop hooks (``app.state.stop_hooks``, async
  callables), so long polls and waiting requests answer at once (503 ``stopping``) instead
  of being cancelled into a 500 when the 2 s grace period ends.
- **Limits** (:class:`Limits`; uvicorn has a concurrency limit and a keep-alive timeout but
  no header or body deadline, so the HTTP/1.1 protocol is extended here): a request's
  headers must arrive within ``header_timeout`` seconds of the connection (or of the
  previous response on a kept-alive connection), its body within ``body_timeout`` seconds of
  its headers: one deadline each, not a per-read timeout, so a 1-byte drip does not keep a
  connection. At most ``max_connections`` connections are open: a new one beyond that
  closes the oldest connection still sending its request (or idle), else it is refused
  with 503. Half-open requests therefore cannot starve other clients.
- **HTTP/1.1 parser** (``Limits.parser``, ``--http-parser``): ``httptools`` (C, the default)
  or ``h11`` (pure Python). Both get the same limits (one subclass body, two bases). The
  transparency service measured 1.3x the acknowledged appends per second with httptools
  (2,597 against 1,973/s: docs/benchmarks.md, issue 12); h11 stays selectable.
- **Header size**: a request's line and headers may take at most ``max_header_bytes``
  (16 KiB, h11's own default): beyond that the connection gets 431 and is closed before
  the bytes reach the parser. httptools has no such bound of its own (measured: 13 MB of
  one header accepted until the header deadline), so the bound is here, for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # uvicorn is imported when a server is made: building parsers stays cheap
    import uvicorn

HttpParser = Literal["httptools", "h11"]
HTTP_PARSERS: tuple[HttpParser, ...] = ("httptools", "h11")


@dataclass(frozen=True)
class Limits:
    max_connections: int = 512
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    parser: HttpParser = "httptools"
    max_header_bytes: int = 16 * 1024

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Limits:
        return cls(
            args.max_connections,
            args.header_timeout,
            args.body_timeout,
            parser=args.http_parser,
        )


def number_arg(
    kind: type[int] | type[float], *, low: float, high: float, low_open: bool = False
) -> Any:
    """An argparse ``type``: a finite number in ``[low, high]`` (``(low, high]`` with
    ``low_open``); nan, inf and anything else are a usage error."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low < value if low_open else low <= value) or not value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}")
        return value

    return parse


def add_limit_options(parser: argparse.ArgumentParser, *, body_timeout: float = 30.0) -> None:
    """``--max-connections``, ``--header-timeout``, ``--body-timeout`` (see :class:`Limits`)."""
    d = Limits(body_timeout=body_timeout)

    def positive(kind: type[int] | type[float], high: float) -> Any:
        return number_arg(kind, low=0, high=high, low_open=True)

    parser.add_argument(
        "--max-connections",
        type=positive(int, 1_000_000),
        default=d.max_connections,
        help=f"open connections at most (default {d.max_connections})",
    )
    parser.add_argument(
        "--header-timeout",
        type=positive(float, 3600),
        default=d.header_timeout,
        help=f"seconds for a request's headers to arrive (default {d.header_timeout:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive(float, 3600),
        default=d.body_timeout,
        help=f"seconds for a request's body to arrive (default {d.body_timeout:g})",
    )
    parser.add_argument(
        "--http-parser",
        choices=HTTP_PARSERS,
        default=d.parser,
        help=f"HTTP/1.1 parser: httptools (C) or h11 (pure Python) (default {d.parser})",
    )


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """``--cert FILE --key FILE`` (also spelled ``--tls-cert/--tls-key``): serve HTTPS.
    Read back with :func:`tls_files`; ``waict local-ca`` makes a pair for loopback."""
    parser.add_argument(
        "--cert",
        "--tls-cert",
        dest="tls_cert",
        default=None,
        metavar="PEM",
        help="serve HTTPS with this certificate chain (PEM; `waict local-ca` makes one)",
    )
    parser.add_argument(
        "--key", "--tls-key", dest="tls_key", default=None, metavar="PEM", help="its private key"
    )


def tls_files(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The ``--cert``/``--key`` pair, both or neither, each an existing file; ``ValueError``
    with the message to print otherwise."""
    cert, key = args.tls_cert, args.tls_key
    if (cert is None) != (key is None):
        raise ValueError("--cert and --key go together (the certificate and its private key)")
    for flag, path in (("--cert", cert), ("--key", key)):
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{flag} {path}: no such file")
    return cert, key


def _raw_error(status: int, reason: str, message: str, detail: str) -> bytes:
    body = json.dumps({"error": message, "detail": detail}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def _guarded_protocol(limits: Limits) -> type[Any]:
    """uvicorn's HTTP/1.1 protocol for ``limits.parser`` with the limits added. Both bases
    keep the request in ``self.cycle`` (``more_body``, ``response_started``), the open
    connections in ``self.connections`` and call ``on_response_complete``."""
    base: type[Any]
    if limits.parser == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    else:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol

    class Guarded(base):  # type: ignore[misc]
        """HTTP/1.1 with one deadline for a request's headers and one for its body, and a
        cap on open connections (see the module docstring)."""

        _phase: str  # "headers", "body" (headers in, body not complete) or "busy"
        _opened: float
        _deadline: asyncio.TimerHandle | None
        _seen: Any
        _head_bytes: int
        _tail: bytes

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._opened = self.loop.time()
            self._deadline = None
            self._seen = None
            self._await_headers()
            if len(self.connections) > limits.max_connections:
                self._shed()

        def _arm(self, delay: float, late: Any) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(delay, late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _await_headers(self) -> None:
            self._phase = "headers"
            self._head_bytes = 0  # of the request line and headers so far
            self._tail = b""  # the last bytes of them (an end of headers split over reads)
            self._arm(limits.header_timeout, self._late)

        def _track(self) -> None:
            cycle: Any = self.cycle
            if cycle is None or cycle is self._seen:
                if self._phase == "body" and cycle is not None and not cycle.more_body:
                    self._phase = "busy"
                    self._disarm()
                return
            self._seen = cycle  # a new request's headers are in
            if cycle.more_body:
                self._phase = "body"
                self._arm(limits.body_timeout, self._late)
            else:
                self._phase = "busy"
                self._disarm()

        def data_received(self, data: bytes) -> None:
            if self._phase == "headers" and not self._headers_fit(data):
                what = f"the request line and headers are over {limits.max_header_bytes} bytes"
                self.transport.write(
                    _raw_error(431, "Request Header Fields Too Large", what, "headers_too_large")
                )
                self.transport.close()
                return
            super().data_received(data)
            self._track()

        def _headers_fit(self, data: bytes) -> bool:
            """Whether the headers end within the bound (or have not reached it yet)."""
            room = limits.max_header_bytes - self._head_bytes
            tail = self._tail
            self._head_bytes += len(data)
            self._tail = data[-3:] if len(data) >= 3 else (tail + data)[-3:]
            if len(data) <= room:
                return True  # (the common case: no copy of the read)
            seen = tail + data
            ends = [i + len(m) for m in (b"\r\n\r\n", b"\n\n") if (i := seen.find(m)) >= 0]
            return bool(ends) and min(ends) - len(tail) <= room

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_headers()
                self._track()  # a pipelined request may have started

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _late(self) -> None:
            if self.transport.is_closing() or self._phase not in ("headers", "body"):
                return
            cycle = self.cycle
            if self._phase == "body" and cycle is not None and not cycle.response_started:
                what = f"the request body did not arrive within {limits.body_timeout:g} s"
                self.transport.write(_raw_error(408, "Request Timeout", what, "timeout"))
            self.transport.close()

        def _shed(self) -> None:
            waiting = [
                c
                for c in self.connections
                if isinstance(c, Guarded)
                and c is not self
                and c._phase in ("headers", "body")
                and not c.transport.is_closing()
            ]
            if waiting:
                min(waiting, key=lambda c: c._opened).transport.close()
                return
            message = "too many open connections; try again shortly"
            self.transport.write(_raw_error(503, "Service Unavailable", message, "busy"))
            self.transport.close()

    return Guarded


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    lifespan: Literal["auto", "on", "off"] = "auto",
    limits: Limits | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with :class:`Limits` (defaults when None)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            state = getattr(self.config.app, "state", None)
            for hook in list(getattr(state, "stop_hooks", ()) if state is not None else ()):
                await hook()
            await super().shutdown(sockets)

    limits = limits or Limits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        timeout_graceful_shutdown=2,
        lifespan=lifespan,
        http=_guarded_protocol(limits),
        limit_concurrency=2 * limits.max_connections,
        # asyncio accepts up to `backlog` connections per wake-up, before any of them can be
        # shed: keep a burst within the cap's order of magnitude (file descriptors)
        backlog=max(16, min(2048, limits.max_connections)),
        timeout_keep_alive=int(max(1, limits.keep_alive)),
    )
    return Server(config)


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    limits: Limits | None = None,
) -> None:
    """Run an ASGI app with uvicorn until interrupted."""
    make_server(
        app, host, port, log_level=log_level, tls_cert=tls_cert, tls_key=tls_key, limits=limits
    ).run()
