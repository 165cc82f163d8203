"""The site operator's state directory (default ``DIR/.waict``; never served).

Layout::

    token              the append token (mode 0600); its SHA-256 is bound at enrollment
    manifest           the current manifest response body: line "\\n" proof "\\n"
    header             the current Integrity-Policy-WAICT-v1 value (one line)
    manifests/<id>     every response body ever published, by manifest id (22 chars of
                       b64u SHA-256 of the body): served at /.well-known/waict/manifests/<id>,
                       so pages loaded before a re-publish still find their manifest
    history.jsonl      one JSON object per publish: line, proof (b64), position,
                       time_created, kind, published_at; dev-ids inclusion proofs come from here
    state.json         host, origin, transparency service, asset hosts, the last chain head
    intent.json        write-ahead record of the enroll/append in flight (mode 0600: it may
                       hold the new append token): written before the call to the log,
                       removed once the result is installed; a re-run after a crash finds
                       its own append in the log through it instead of appending again

Every file is written atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.chain import ChainNode
from verifier.encoding import b64decode, b64encode
from verifier.errors import WaictError
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write, fsync_dir
from waict.site.names import manifest_id

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True)
class HistoryEntry:
    line: str
    proof: str  # b64 ChainHeadWithProof ("" when not logged)
    position: int | None
    time_created: int | None
    kind: str  # manifest | line | tombstone | v1 | unlogged
    published_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "proof": self.proof,
            "position": self.position,
            "time_created": self.time_created,
            "kind": self.kind,
            "published_at": self.published_at,
        }

    @classmethod
    def from_json(cls, obj: Any) -> HistoryEntry:
        if not isinstance(obj, dict) or not isinstance(obj.get("line"), str):
            raise ValueError("history entry must be an object with a line")
        return cls(
            obj["line"],
            str(obj.get("proof") or ""),
            obj.get("position"),
            obj.get("time_created"),
            str(obj.get("kind") or "manifest"),
            int(obj.get("published_at") or 0),
        )


@dataclass(frozen=True)
class Intent:
    """An enroll or append about to be sent: what a re-run needs to recognise it in the log."""

    host: str
    line: str
    kind: str
    resource_hash: bytes
    asset_hosts: tuple[str, ...]
    previous: ChainNode | None  # the log's head before the call (None: a new chain)
    token: str | None  # the new append token of an enrollment

    @property
    def position(self) -> int:
        return 0 if self.previous is None else self.previous.position + 1

    def is_entry(self, head: ChainNode) -> bool:
        """Whether ``head`` is the entry this intent appends."""
        return (
            head.position == self.position
            and head.entry.resource_hash == self.resource_hash
            and (self.previous is None or head.chain_hash == self.previous.next_chain_hash())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "line": self.line,
            "kind": self.kind,
            "resource_hash": b64encode(self.resource_hash),
            "asset_hosts": list(self.asset_hosts),
            "previous": None if self.previous is None else b64encode(self.previous.encode()),
            "token": self.token,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Intent:
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        prev = obj.get("previous")
        token = obj.get("token")
        hosts = obj.get("asset_hosts")
        if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
            raise ValueError("asset_hosts must be a list of strings")
        return cls(
            str(obj["host"]),
            str(obj["line"]),
            str(obj["kind"]),
            b64decode(obj["resource_hash"], what="resource_hash"),
            tuple(hosts),
            None if prev is None else ChainNode.decode(b64decode(prev, what="previous")),
            None if token is None else str(token),
        )


class SiteState:
    """Read and write one state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- paths ---------------------------------------------------------------------------
    @property
    def token_file(self) -> Path:
        return self.path / "token"

    @property
    def manifest_file(self) -> Path:
        return self.path / "manifest"

    @property
    def header_file(self) -> Path:
        return self.path / "header"

    @property
    def manifests_dir(self) -> Path:
        return self.path / "manifests"

    @property
    def history_file(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def meta_file(self) -> Path:
        return self.path / "state.json"

    @property
    def intent_file(self) -> Path:
        return self.path / "intent.json"

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)

    # --- token ---------------------------------------------------------------------------
    def read_token(self) -> str | None:
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise SiteToolError(f"cannot read the append token {self.token_file}: {exc}") from None
        return token or None

    def new_token(self) -> str:
        """A fresh random append token (not yet stored: store it once enrollment worked)."""
        return secrets.token_urlsafe(32)

    def write_token(self, token: str) -> None:
        self.ensure()
        atomic_write(self.token_file, token.encode("utf-8") + b"\n", mode=0o600)

    # --- metadata ------------------------------------------------------------------------
    def load_meta(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.meta_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SiteToolError(
                f"state file {self.meta_file} is unreadable: {exc}",
                "restore it from a backup, or remove it to start over (re-enrolls)",
            ) from None
        if not isinstance(obj, dict):
            raise SiteToolError(f"state file {self.meta_file} is not a JSON object")
        return obj

    def save_meta(self, meta: dict[str, Any]) -> None:
        self.ensure()
        atomic_write(self.meta_file, json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n")

    def last_head(self) -> ChainNode | None:
        text = self.load_meta().get("head")
        if not isinstance(text, str):
            return None
        try:
            return ChainNode.decode(b64decode(text, what="head in state.json"))
        except WaictError as exc:
            raise SiteToolError(f"state file {self.meta_file}: {exc}") from None

    @staticmethod
    def encode_head(head: ChainNode) -> str:
        return b64encode(head.encode())

    # --- write-ahead intent ----------------------------------------------------------------
    def write_intent(self, intent: Intent) -> None:
        self.ensure()
        data = json.dumps(intent.to_json(), sort_keys=True).encode() + b"\n"
        atomic_write(self.intent_file, data, mode=0o600)

    def read_intent(self) -> Intent | None:
        try:
            obj = json.loads(self.intent_file.read_text(encoding="utf-8"))
            return Intent.from_json(obj)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, WaictError) as exc:
            raise SiteToolError(
                f"{self.intent_file} is damaged: {exc}",
                "run `waict monitor` to see whether the interrupted publish reached the log, "
                "then remove the file and publish again",
            ) from None

    def clear_intent(self) -> None:
        try:
            os.unlink(self.intent_file)
        except FileNotFoundError:
            return
        fsync_dir(self.path)

    # --- history -------------------------------------------------------------------------
    def history(self) -> list[HistoryEntry]:
        try:
            text = self.history_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise SiteToolError(f"cannot read {self.history_file}: {exc}") from None
        out: list[HistoryEntry] = []
        for n, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                out.append(HistoryEntry.from_json(json.loads(raw)))
            except ValueError as exc:
                raise SiteToolError(f"{self.history_file} line {n} is damaged: {exc}") from None
        return out

    def append_history(self, entry: HistoryEntry) -> None:
        self.ensure()
        existing = self.history_file.read_bytes() if self.history_file.exists() else b""
        line = json.dumps(entry.to_json(), separators=(",", ":"), sort_keys=True).encode()
        atomic_write(self.history_file, existing + line + b"\n")

    # --- what is served ------------------------------------------------------------------
    def install(self, body: bytes, header: str) -> str:
        """Make ``body`` the served manifest response and ``header`` the served header;
        returns the manifest id."""
        self.ensure()
        mid = manifest_id(body)
        atomic_write(self.manifests_dir / mid, body)
        atomic_write(self.manifest_file, body)
        atomic_write(self.header_file, header.encode("ascii") + b"\n")
        return mid

    def read_header(self) -> str | None:
        try:
            text = self.header_file.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    def read_manifest(self, mid: str) -> bytes | None:
        if not _ID_RE.match(mid):
            return None
        try:
            return (self.manifests_dir / mid).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def current_manifest(self) -> bytes | None:
        try:
            return self.manifest_file.read_bytes()
        except FileNotFoundError:
            return None
