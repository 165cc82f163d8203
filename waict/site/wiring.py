"""The set-up the site commands share (``publish``, ``monitor``, ``explore``, ``verify``):
reading the trust file, the HTTP client's options (``--timeout``, ``--resolve``,
``--ca-file``, ``--insecure``) and the client made from them, and serving a web app on
``HOST:PORT`` (``waict explore --listen``, ``waict monitor --serve``).
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verifier.errors import WaictError
from verifier.trust import TrustConfig, parse_trust
from waict.common.errors import SiteToolError
from waict.common.files import read_text_file
from waict.site.http_client import make_client, parse_resolve


def load_trust(path: str | Path | None) -> TrustConfig | None:
    """The trust configuration in ``path`` (None without a path)."""
    if not path:
        return None
    text = read_text_file(Path(path), "trust file")
    try:
        return parse_trust(json.loads(text))
    except ValueError as exc:
        raise SiteToolError(f"trust file {path} is not JSON: {exc}") from None
    except WaictError as exc:
        raise SiteToolError(f"trust file {path}: {exc}") from None


@dataclass(frozen=True)
class ClientSettings:
    """How the tools' HTTP client connects (see :func:`add_client_options`)."""

    timeout: float = 30.0
    resolve: Mapping[str, str] = field(default_factory=dict)
    verify_tls: bool = True
    ca_file: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClientSettings:
        ca_file = getattr(args, "ca_file", None)
        return cls(
            timeout=args.timeout,
            resolve=parse_resolve(args.resolve),
            verify_tls=not getattr(args, "insecure", False),
            ca_file=Path(ca_file) if ca_file else None,
        )

    def client(self, *, follow_redirects: bool = False) -> httpx.Client:
        return make_client(
            timeout=self.timeout,
            resolve=self.resolve,
            verify_tls=self.verify_tls,
            ca_file=self.ca_file,
            follow_redirects=follow_redirects,
        )


def add_client_options(
    p: argparse.ArgumentParser,
    *,
    timeout: float = 30.0,
    timeout_help: str = "per-request timeout (seconds)",
    insecure: bool = False,
) -> None:
    """``--timeout``, ``--resolve``, ``--ca-file`` (and ``--insecure``): read by
    :meth:`ClientSettings.from_args`."""
    p.add_argument("--timeout", type=float, default=timeout, help=timeout_help)
    p.add_argument(
        "--ca-file",
        default=None,
        metavar="PEM",
        help="trust only these CA certificates for HTTPS (e.g. the ca.pem of `waict local-ca`)",
    )
    p.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST=ADDR",
        help="connect to ADDR for HOST (like curl --resolve)",
    )
    if insecure:
        p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")


def parse_listen(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, host 127.0.0.1) of ``option``."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise SiteToolError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8700")
    return host or "127.0.0.1", number


def serve_app(
    app: Any,
    host: str,
    port: int,
    *,
    background: bool = False,
    name: str = "server",
    tls: tuple[str | None, str | None] = (None, None),
) -> None:
    """Serve ``app`` on ``host:port`` (:func:`waict.common.serve.make_server`; HTTPS with
    ``tls`` = (certificate, key)): in the foreground until interrupted, or with
    ``background`` in a daemon thread."""
    from waict.common.serve import make_server

    server = make_server(app, host, port, tls_cert=tls[0], tls_key=tls[1])
    if background:
        threading.Thread(target=server.run, daemon=True, name=name).start()
    else:
        server.run()
