"""What ``publish`` is asked to do (:class:`PublishOptions`) and what it did
(:class:`PublishResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.proof import ChainHeadWithProof
from verifier.transparency import ProvenHead
from verifier.trust import TrustConfig
from waict.site.names import default_state_dir
from waict.site.progress import info
from waict.site.state import SiteState

TOMBSTONE_MEMBERS: dict[str, Any] = {"emergency_opt_out": True, "hashes": {}}


@dataclass(frozen=True)
class AssetUpload:
    """One asset host to upload to: its base URL and its upload token."""

    url: str
    token: str


@dataclass
class PublishOptions:
    site_dir: Path
    origin: str
    ts_url: str | None = None
    state_dir: Path | None = None
    assets: tuple[AssetUpload, ...] = ()  # every host gets every object, and is logged
    max_age: int = 3600
    mode: str = "enforce"
    header_preload: bool = False
    endpoints: tuple[str, ...] = ()
    dev_ids: tuple[str, ...] | None = None
    dev_ids_next: tuple[str, ...] | None = None
    sign: tuple[bytes, ...] = ()  # Ed25519 seeds: dev-sigs by each (--sign KEYFILE)
    line_file: Path | None = None
    unenroll: bool = False
    v1: tuple[str, ...] | None = None
    no_log: bool = False
    wasm_globs: tuple[str, ...] = ()
    fallback: tuple[Path, ...] = ()
    inline: bool = False
    trust: TrustConfig | None = None
    now: int | None = None
    re_enroll: bool = False
    accept_log_head: bool = False
    timeout: float = 120.0
    resolve: dict[str, str] = field(default_factory=dict)
    verify_tls: bool = True
    ca_file: Path | None = None  # trust only these CAs (else the system's roots)
    quiet: bool = False

    @property
    def unlogged(self) -> bool:
        """An unlogged manifest (``--v1`` / ``--no-log``): nothing goes to the log."""
        return self.v1 is not None or self.no_log

    @property
    def state(self) -> SiteState:
        return SiteState(self.state_dir or default_state_dir(self.site_dir))


@dataclass(frozen=True)
class PublishResult:
    host: str
    kind: str  # manifest | line | tombstone | v1 | unlogged
    line: bytes
    body: bytes  # the manifest response body installed (or the logged line + proof)
    header: str | None
    manifest_url: str | None
    proof: ChainHeadWithProof | None
    proven: ProvenHead | None
    enrolled: bool
    warnings: tuple[str, ...] = ()


def say(opts: PublishOptions, message: str) -> None:
    if not opts.quiet:
        info(message)
