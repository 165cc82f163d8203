"""Running an ASGI app (the servers and ``waict serve-site``) with uvicorn.

:func:`make_server` is the one place a server is configured, for the commands and the
loopback tests alike. A graceful stop first runs the app's stop hooks
(``app.state.stop_hooks``, async callables): long polls and waiting requests answer at once
(503 ``stopping``) instead of being cancelled into a 500 after the graceful-shutdown cap.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

import uvicorn


class _Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        state = getattr(app, "state", None)
        for hook in list(getattr(state, "stop_hooks", ()) if state is not None else ()):
            await hook()
        await super().shutdown(sockets)


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (graceful shutdown capped at 2 s)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        timeout_graceful_shutdown=2,
        lifespan=lifespan,
    )
    return _Server(config)


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> None:
    """Run an ASGI app with uvicorn until interrupted."""
    make_server(app, host, port, log_level=log_level, tls_cert=tls_cert, tls_key=tls_key).run()
