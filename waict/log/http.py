"""Small HTTP helpers shared by the servers: typed JSON errors, parsing tile-index paths,
clocks, background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from waict.common.tiles import encode_index

Clock = Callable[[], int]

_log = logging.getLogger("waict.loop")


def system_clock(offset: int = 0) -> Clock:
    """Unix seconds, shifted by ``offset`` (the demo runs part of its world 48 h in the past)."""

    def now() -> int:
        return int(time.time()) + offset

    return now


class RateLimitedLog:
    """One log line per cause at most every ``interval`` seconds (a fault that repeats on
    every request or every batch tick must not flood the log); the line says how many
    repeats were left out."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def log(self, level: int, cause: str, message: str) -> bool:
        now = time.monotonic()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval:
            self._left_out[cause] = self._left_out.get(cause, 0) + 1
            return False
        self._last[cause] = now
        left_out = self._left_out.pop(cause, 0)
        suffix = f" ({left_out} more since the last report)" if left_out else ""
        self.logger.log(level, "%s%s", " ".join(message.split()), suffix)
        return True

    def clear(self, cause: str) -> None:
        self._last.pop(cause, None)
        self._left_out.pop(cause, None)


class HttpError(Exception):
    """An error with an HTTP status, a message saying what to do, and a detail code."""

    def __init__(self, status: int, message: str, detail: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": str(self), "detail": self.detail},
            status_code=self.status,
            headers={"Cache-Control": "no-store"},
        )


def bounded_number(
    text: str | None, what: str, *, low: float, high: float, default: float
) -> float:
    """A number from a request (query, path, header, body): finite and within ``[low, high]``,
    else 400 ``bad_request``. The one parser for numbers a client sends to any server here:
    ``nan`` or ``inf`` must never reach a timer, a sleep or a comparison."""
    if text is None:
        return default
    try:
        value = float(text) if len(text) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise HttpError(
            400,
            f"{what} must be a number from {low:g} to {high:g}, got {text[:40]!r}",
            "bad_request",
        )
    return value


async def _json_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    message = {404: "no such route: see docs/ts-api.md", 405: "method not allowed here"}
    return JSONResponse(
        {"error": message.get(exc.status_code, str(exc.detail)), "detail": detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


JSON_HTTP_ERRORS: dict[Any, Any] = {HTTPException: _json_http_error}
"""Starlette ``exception_handlers``: its own 404/405 answers as the servers' JSON errors."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 ``too_large`` as soon as it is known to
    be longer: from Content-Length, else while streaming). Its deadline is the server's
    (``waict.common.serve.Limits.body_timeout``)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        size = bounded_number(declared, "Content-Length", low=0, high=2**63, default=0)
        if size > limit:
            raise HttpError(413, f"this request's body is limited to {limit} bytes", "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HttpError(413, f"this request's body is limited to {limit} bytes", "too_large")
    return bytes(body)


@dataclass(frozen=True)
class TileIndex:
    n: int
    width: int | None  # set for partial tiles (".p/<W>")


def parse_index(path: str, *, limit: int, allow_partial: bool = False) -> TileIndex:
    """Inverse of :func:`encode_index`, with an optional ``.p/<W>`` partial-tile suffix."""
    width: int | None = None
    if allow_partial and ".p/" in path:
        path, _, w = path.partition(".p/")
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < 256:
            raise HttpError(400, f"partial tile width {w!r} must be 1..255", "bad_index")
        width = int(w)
    parts = path.split("/")
    if not parts or any(not p for p in parts):
        raise HttpError(400, f"bad index path {path!r}", "bad_index")
    for p in parts[:-1]:
        if len(p) != 4 or p[0] != "x" or not p[1:].isdigit():
            raise HttpError(400, f"bad index element {p!r} (want x000..x999)", "bad_index")
    if len(parts[-1]) != 3 or not parts[-1].isdigit():
        raise HttpError(400, f"bad index element {parts[-1]!r} (want 000..999)", "bad_index")
    n = 0
    for p in parts:
        n = n * 1000 + int(p.lstrip("x"))
    if encode_index(n) != path:
        raise HttpError(400, f"index path {path!r} is not in canonical form", "bad_index")
    if n >= limit:
        raise HttpError(400, f"index {n} out of range", "bad_index")
    return TileIndex(n, width)


class BackgroundLoop:
    """A server's background coroutine (batch cutting, witnessing), run for the app's life.

    An unexpected exception never ends it silently: it is logged with its traceback, counted
    and kept (:meth:`status`: ``last_error``, ``errors``, ``restarts``), and the body is run
    again after a backoff (``min_backoff`` doubling to ``max_backoff``; reset once a run
    lasted longer than ``max_backoff``). A body that handles its own errors can still report
    them here with :meth:`record_error`, so every loop surfaces errors the same way.
    """

    def __init__(
        self,
        body: Callable[[], Coroutine[Any, Any, None]],
        *,
        name: str = "background loop",
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._body = body
        self.name = name
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._monotonic = monotonic
        self._task: asyncio.Task[None] | None = None
        self.errors = 0
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def record_error(self, exc: BaseException, what: str | None = None) -> None:
        """Log, count and keep an error (with its traceback in the log)."""
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]  # a TaskGroup's single failure: name the real error
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_at = time.time()
        _log.error(
            "%s: %s",
            self.name,
            what or "unexpected error",
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    def clear_error(self) -> None:
        self.last_error = None

    async def _supervise(self) -> None:
        backoff = self.min_backoff
        while True:
            started = self._monotonic()
            try:
                await self._body()
                _log.warning("%s: the loop returned; running it again", self.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.record_error(exc, f"the loop failed; restarting in {backoff:.1f} s")
            if self._monotonic() - started > self.max_backoff:
                backoff = self.min_backoff
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
            self.restarts += 1

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, object]:
        return {
            "running": self.running,
            "errors": self.errors,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def lifespan(self) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
        """A Starlette lifespan that runs the loop while the app serves."""

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.start()
            try:
                yield
            finally:
                await self.stop()

        return lifespan
