"""The HTTP/1.1 limits of ``waict/common/serve.py`` on both parsers: a request's line and
headers are bounded (httptools alone buffered any size, measured: 13 MB of one header
taken until the header deadline); a body beyond that bound in the same read, and several
requests on one connection, are not mistaken for oversized headers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from servers import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from waict.common.serve import HTTP_PARSERS, Limits, make_server


async def length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


@pytest.fixture(params=HTTP_PARSERS)
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    app = Starlette(routes=[Route("/", length, methods=["GET", "POST"])])
    number = free_port()
    server = make_server(app, "127.0.0.1", number, limits=Limits(parser=request.param))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    yield number
    server.should_exit = True
    thread.join(timeout=15)


def read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_oversized_headers_get_431_and_the_connection_closes(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ")
        sent = 0
        with pytest.raises(OSError):  # closed by the server long before 8 MB
            while sent < 8 << 20:
                s.sendall(b"a" * 4096)
                sent += 4096
        assert sent <= 4 << 20
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["detail"] == "headers_too_large"


def test_a_large_body_in_the_same_read_and_several_requests_are_fine(port: int) -> None:
    body = b"b" * (200 * 1024)  # far over the header bound, sent with the headers at once
    filler = "f" * (Limits().max_header_bytes // 2)  # two of these on one connection: over it
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        for _ in range(2):
            s.sendall(f"GET / HTTP/1.1\r\nHost: t\r\nX-Fill: {filler}\r\n\r\n".encode())
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answer = read_all(s)
    assert answer.count(b"HTTP/1.1 200 ") == 4, answer[:400]
    assert answer.split(b"\r\n\r\n", 1)[1].startswith(b"%d" % len(body))
