"""Running an ASGI app (the servers and ``waict serve-site``) with uvicorn."""

from __future__ import annotations

from typing import Any


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> None:
    """Run an ASGI app with uvicorn until interrupted (graceful shutdown capped at 2 s, so
    long-polling clients do not hold a stop)."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        timeout_graceful_shutdown=2,
    )
