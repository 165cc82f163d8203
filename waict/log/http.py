"""Small HTTP helpers shared by the servers: typed JSON errors, parsing tile-index paths,
clocks, background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse

from waict.common.tiles import encode_index

Clock = Callable[[], int]

_log = logging.getLogger("waict.loop")


def system_clock(offset: int = 0) -> Clock:
    """Unix seconds, shifted by ``offset`` (the demo runs part of its world 48 h in the past)."""

    def now() -> int:
        return int(time.time()) + offset

    return now


class HttpError(Exception):
    """An error with an HTTP status, a message saying what to do, and a detail code."""

    def __init__(self, status: int, message: str, detail: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self), "detail": self.detail}, status_code=self.status)


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
