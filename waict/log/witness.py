"""A witness: replays the transparency service's event batches on its own tree and
cosigns each resulting root.

For each batch N, in order: fetch ``/tree-event-batch/N``, parse it strictly, check every
event's timestamp against its own clock, replay the events with the rule of
:mod:`verifier.events` on its own copy of every domain's chain head (refusing unknown
domains without asset hosts, position or chain discontinuities, time going backwards,
malformed lengths), compute the new root, **persist** the new state together with the
signed root, and only then upload the cosignature line for ``N+1``.

It never signs two different roots for one batch count, across crashes and restarts. The
clock window holds for what it signs now: a batch out of the window is replayed unsigned
once a later batch exists (catching up after a long absence). A second task re-sends the
newest cosignature while the service's ``/status`` shows no quorum there (a lost upload).
A service whose history does not extend the witness's (``Waict-Tree-Root`` of a batch, or
``/status``, disagree with its own state) is a fork: recorded, logged once, shown, and
nothing more is signed until ``--clear-fork``. See docs/ts-api.md, docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from verifier.chain import ChainNode
from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64decode, b64encode
from verifier.errors import WaictError
from verifier.events import EventError, TreeEvent, decode_batch, replay
from verifier.mpt import EMPTY_ROOT
from verifier.note import NoteBody, cosign
from verifier.transparency import tree_key
from waict.common.tiles import encode_index
from waict.log.http import BackgroundLoop, Clock
from waict.log.witness_state import open_state, read_heads

log = logging.getLogger("waict.witness")

ROOT_HEADER = "Waict-Tree-Root"  # on /tree-event-batch/N: the service's root after N+1 batches

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS heads (domain TEXT PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signed (
    count INTEGER PRIMARY KEY, root BLOB NOT NULL, timestamp INTEGER NOT NULL, line TEXT NOT NULL,
    batch_sha256 BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS applied (
    count INTEGER PRIMARY KEY, root BLOB NOT NULL, batch_sha256 BLOB NOT NULL);
INSERT OR IGNORE INTO applied(count, root, batch_sha256)
    SELECT count, root, batch_sha256 FROM signed;
"""


class UploadError(Exception):
    """The service did not take a cosignature (answered anything but 204)."""


class ForkError(WaictError):
    """The service's history does not extend the one this witness signed."""

    detail = "fork_detected"


class ConflictingRootError(WaictError):
    """Asked to sign a second, different root for a batch count already signed."""

    detail = "conflicting_root"


@dataclass(frozen=True)
class SignedRoot:
    count: int
    root: bytes
    timestamp: int
    line: str
    batch_sha256: bytes


class WitnessService:
    def __init__(
        self,
        db_path: Path | str,
        name: str,
        seed: bytes,
        ts_url: str,
        ts_name: str,
        clock: Clock,
        *,
        past_window: int = 3600,
        future_skew: int = 600,
        poll_wait: float = 10.0,
        reconcile_interval: float = 1.0,
        reconcile_max: float = 3.0,
        clear_fork: bool = False,
    ) -> None:
        self.name = name
        self.seed = seed
        self.public_key = ed25519_public_key(seed)
        self.ts_url = ts_url.rstrip("/")
        self.ts_name = ts_name
        self.clock = clock
        self.past_window = past_window
        self.future_skew = future_skew
        self.poll_wait = poll_wait
        self.reconcile_interval = reconcile_interval
        self.reconcile_max = reconcile_max
        self.resent = 0
        self._stale_warned = -1
        self._resend = asyncio.Event()
        self.last_error: str | None = None
        self._lock = threading.RLock()
        self.loop = BackgroundLoop(self.run, name=f"witness {name}")
        self._open(str(db_path))
        self.fork: dict[str, object] | None = None
        row = self._db.execute("SELECT v FROM meta WHERE k='fork'").fetchone()
        if row is not None and clear_fork:
            self._db.execute("DELETE FROM meta WHERE k='fork'")
            cleared = bytes(row[0]).decode()
            log.warning("%s: fork record cleared by the operator: %s", name, cleared)
        elif row is not None:
            self.fork = json.loads(bytes(row[0]))
            self.last_error = f"fork_detected: {self.fork.get('message')}"

    # --- state --------------------------------------------------------------------------
    def _open(self, path: str) -> None:
        """Open and check the state (:func:`~waict.log.witness_state.open_state`)."""
        self._db, self.count, self.tree = open_state(path, SCHEMA)

    def _heads(self, domains: set[str]) -> dict[str, ChainNode]:
        return read_heads(self._db, domains)

    def _meta(self) -> tuple[int, bytes]:
        rows = dict(self._db.execute("SELECT k, v FROM meta WHERE k IN ('count', 'root')"))
        count = int(rows.get("count", 0))
        root = bytes(rows.get("root", EMPTY_ROOT))
        return count, root

    def _head(self, domain: str) -> ChainNode | None:
        row = self._db.execute("SELECT node FROM heads WHERE domain=?", (domain,)).fetchone()
        return ChainNode.decode(bytes(row[0])) if row else None

    def signed(self, count: int) -> SignedRoot | None:
        row = self._db.execute(
            "SELECT root, timestamp, line, batch_sha256 FROM signed WHERE count=?", (count,)
        ).fetchone()
        if row is None:
            return None
        return SignedRoot(count, bytes(row[0]), int(row[1]), str(row[2]), bytes(row[3]))

    # --- the rule -----------------------------------------------------------------------
    def applied(self, count: int) -> tuple[bytes, bytes] | None:
        """(root, batch SHA-256) of the state after ``count`` batches, signed or not."""
        row = self._db.execute(
            "SELECT root, batch_sha256 FROM applied WHERE count=?", (count,)
        ).fetchone()
        return (bytes(row[0]), bytes(row[1])) if row else None

    def root_after(self, count: int) -> bytes | None:
        """The root of this witness's own state after ``count`` batches (None if unknown)."""
        if count == 0:
            return EMPTY_ROOT
        applied = self.applied(count)
        return applied[0] if applied else None

    def declare_fork(
        self, kind: str, service_count: int, service_root: bytes | None, message: str
    ) -> None:
        """Record (durably) that the service's history does not extend ours; from now on
        nothing is signed or sent for this log until an operator clears it."""
        with self._lock:
            if self.fork is not None:
                return
            ours = self.root_after(min(service_count, self.count))
            record: dict[str, object] = {
                "kind": kind,
                "message": message,
                "witness_count": self.count,
                "witness_root": b64encode(self.tree.root()),
                "service_count": service_count,
                "service_root": None if service_root is None else b64encode(service_root),
                "witness_root_at_service_count": None if ours is None else b64encode(ours),
                "detected_at": self.clock(),
            }
            self._db.execute(
                "INSERT INTO meta(k, v) VALUES ('fork', ?) "
                "ON CONFLICT(k) DO UPDATE SET v=excluded.v",
                (json.dumps(record, sort_keys=True).encode(),),
            )
            self.fork = record
            self.last_error = f"fork_detected: {message}"
        details = json.dumps(record, sort_keys=True)
        log.error(
            "%s: FORK DETECTED (%s): %s; signing nothing more for %s until an operator clears "
            "it (serve-witness --clear-fork); details: %s",
            *(self.name, kind, message, self.ts_name, details),
        )

    def check_fresh(self, events: list[TreeEvent], now: int) -> None:
        for e in events:
            if not now - self.past_window <= e.timestamp <= now + self.future_skew:
                d = e.timestamp - now
                when = f"{d} s in the future" if d > 0 else f"{-d} s in the past"
                raise EventError(f"event for {e.domain} is dated {when}", "timestamp_out_of_range")

    def process_batch(
        self, n: int, body: bytes, *, sign: bool = True, claimed_root: bytes | None = None
    ) -> SignedRoot | None:
        """Check and apply batch ``n``; returns the persisted signed root for ``n + 1``.

        With ``sign=False`` (an old batch: the service already published a later one) the
        batch is replayed and persisted but not signed, and its events' times are not held
        to the clock window: the window is about what the witness signs now, with its own
        current timestamp, and it signs only fresh batches.

        ``claimed_root`` is the root the service says it has after the batch: one that differs
        from the root of this witness's own replay means the service's history does not
        extend the one this witness follows, a fork (:meth:`declare_fork`).
        """
        with self._lock:
            if self.fork is not None:
                raise ForkError(f"a fork was detected: {self.fork.get('message')}")
            count = n + 1
            digest = sha256(body)
            if n != self.count:
                earlier = self.applied(count)
                if earlier is None:
                    raise EventError(f"batch {n} is out of order: expected batch {self.count}")
                if earlier[1] != digest:
                    # A different batch n means a different history, hence another root for
                    # a count this witness has already signed.
                    raise ConflictingRootError(
                        f"batch {n} differs from the one cosigned for {count} batches; refusing"
                    )
                return self.signed(count)
            events = decode_batch(body)
            now = self.clock()
            if sign:
                self.check_fresh(events, now)
            known = self._heads({e.domain for e in events})
            new = replay(known.get, events)
            tree = self.tree.set_many(
                (tree_key(d), nodes[-1].next_chain_hash()) for d, nodes in new.items()
            )
            root = tree.root()
            if claimed_root is not None and claimed_root != root:
                self.declare_fork(
                    "fork",
                    count,
                    claimed_root,
                    f"the service's root after {count} batches is not the root of this "
                    "witness's replay of its batches",
                )
                raise ForkError(f"the service's root after {count} batches differs from ours")
            earlier_signed = self.signed(count)
            if earlier_signed is not None and earlier_signed.root != root:
                raise ConflictingRootError(
                    f"already signed a different root for {count} batches; refusing"
                )
            result: SignedRoot | None = None
            if sign:
                timestamp = now
                note_body = NoteBody.for_service(self.ts_name, count, root)
                line = cosign(note_body, self.name, self.seed, timestamp).line()
                result = SignedRoot(count, root, timestamp, line, digest)
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO heads(domain, node) VALUES (?,?) "
                    "ON CONFLICT(domain) DO UPDATE SET node=excluded.node",
                    [(d, nodes[-1].encode()) for d, nodes in new.items()],
                )
                db.executemany(
                    "INSERT INTO meta(k, v) VALUES (?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v",
                    [("count", str(count).encode()), ("root", root)],
                )
                db.execute(
                    "INSERT INTO applied(count, root, batch_sha256) VALUES (?,?,?)",
                    (count, root, digest),
                )
                if result is not None:
                    db.execute(
                        "INSERT INTO signed(count, root, timestamp, line, batch_sha256) "
                        "VALUES (?,?,?,?,?)",
                        (count, root, result.timestamp, result.line, digest),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.tree = tree
            self.count = count
            return result

    # --- the loop -----------------------------------------------------------------------
    async def upload(self, client: httpx.AsyncClient, signed: SignedRoot) -> None:
        url = f"{self.ts_url}/upload-cosignature/{encode_index(signed.count)}"
        response = await client.post(url, content=signed.line.encode())
        if response.status_code != 204:
            raise UploadError(f"upload refused: HTTP {response.status_code} {response.text[:200]}")

    def latest_signed(self) -> SignedRoot | None:
        row = self._db.execute("SELECT max(count) FROM signed").fetchone()
        return self.signed(int(row[0])) if row and row[0] is not None else None

    async def step(self, client: httpx.AsyncClient) -> bool:
        """Fetch, check and cosign the next batch; False when none was available."""
        url = f"{self.ts_url}/tree-event-batch/{encode_index(self.count)}"
        response = await client.get(url, params={"wait": str(self.poll_wait)})
        if response.status_code == 404:
            return False
        response.raise_for_status()
        n, body = self.count, response.content
        claimed = response.headers.get(ROOT_HEADER)
        claimed_root = b64decode(claimed, what=ROOT_HEADER) if claimed is not None else None
        try:
            signed = await asyncio.to_thread(self.process_batch, n, body, claimed_root=claimed_root)
        except EventError as exc:
            if exc.detail != "timestamp_out_of_range":
                raise
            # The newest batch is signed now, so its times must be fresh; an older one (the
            # service published a later batch) is replayed without signing it.
            if not await self._published(client, n + 1, wait=self.poll_wait):
                if self._stale_warned != n:
                    self._stale_warned = n
                    log.warning(
                        "%s does not sign batch %d (%s); replaying it once a later batch "
                        "is published",
                        self.name,
                        n,
                        exc,
                    )
                return False
            await asyncio.to_thread(
                self.process_batch, n, body, sign=False, claimed_root=claimed_root
            )
            log.info("%s replayed old batch %d without signing it", self.name, n)
            return True
        assert signed is not None
        try:
            await self.upload(client, signed)
        finally:
            self._resend.set()  # lost or not, the reconciler checks the service has it
        log.info("%s cosigned the root after %d batches", self.name, signed.count)
        return True

    async def _published(self, client: httpx.AsyncClient, n: int, wait: float) -> bool:
        """Whether the service has published batch ``n`` (long-polls up to ``wait`` s)."""
        url = f"{self.ts_url}/tree-event-batch/{encode_index(n)}"
        response = await client.get(url, params={"wait": str(wait)})
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    async def follow(self, client: httpx.AsyncClient) -> None:
        """Fetch, check and cosign batch after batch."""
        while True:
            if self.fork is not None:  # signs nothing more; the ERROR was logged once
                await asyncio.sleep(self.reconcile_max)
                continue
            try:
                await self.step(client)
                self.last_error = None
            except WaictError as exc:
                self.last_error = f"{exc.detail}: {exc}"
                log.error("%s refuses batch %d: %s", self.name, self.count, exc)
                await asyncio.sleep(2.0)
            except (httpx.HTTPError, UploadError) as exc:
                self.last_error = f"transport: {exc}"
                await asyncio.sleep(0.5)

    async def reconcile_once(self, client: httpx.AsyncClient) -> None:
        """Ask the service where it stands; send our newest cosignature again while the
        service has no quorum at its count (an upload lost in a crash, a 5xx, a timeout)."""
        if self.fork is not None:
            return
        before = self.count  # the service had at least this many batches before we asked
        response = await client.get(f"{self.ts_url}/status", timeout=10.0)
        response.raise_for_status()
        status = response.json()
        if not isinstance(status, dict):
            raise UploadError("the service's /status is not a JSON object")
        cosigned, batches, root_text = (status.get(k) for k in ("cosigned", "batches", "root"))
        if not isinstance(cosigned, int) or not isinstance(batches, int):
            raise UploadError("the service's /status has no cosigned or batch count")
        root = b64decode(root_text, what="root") if isinstance(root_text, str) else None
        ours = self.root_after(batches)
        if ours is not None and root is not None and ours != root:
            self.declare_fork(
                "fork",
                batches,
                root,
                f"the service's root after {batches} batches is not this witness's root there",
            )
            return
        if batches < before:
            self.declare_fork(
                "rollback",
                batches,
                root,
                f"the service has {batches} batches, this witness applied {before}: "
                "its history was rolled back",
            )
            return
        latest = self.latest_signed()
        if latest is not None and cosigned < latest.count:
            await self.upload(client, latest)
            self.resent += 1
            log.info("%s sent its cosignature for %d batches again", self.name, latest.count)

    async def reconcile(self, client: httpx.AsyncClient) -> None:
        """Every ``reconcile_interval`` seconds, at once after an upload, and with a backoff
        (doubling up to ``reconcile_max``) while the service does not answer."""
        delay = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._resend.wait()
                    await asyncio.sleep(0.2)  # let the other witnesses' uploads land
            self._resend.clear()
            try:
                await self.reconcile_once(client)
                delay = self.reconcile_interval
            except (httpx.HTTPError, ValueError, WaictError, UploadError) as exc:
                self.last_error = f"transport: {exc}"
                delay = min(max(delay, self.reconcile_interval / 2) * 2, self.reconcile_max)

    async def run(self) -> None:
        self._resend = asyncio.Event()
        async with (
            httpx.AsyncClient(timeout=self.poll_wait + 10) as client,
            asyncio.TaskGroup() as group,
        ):
            group.create_task(self.follow(client))
            group.create_task(self.reconcile(client))

    def close(self) -> None:
        self._db.close()

    def status(self) -> dict[str, object]:
        return {
            "name": self.name,
            "key": base64.b64encode(self.public_key).decode(),
            "transparency_service": self.ts_name,
            "count": self.count,
            "root": base64.b64encode(self.tree.root()).decode(),
            "last_error": self.last_error or self.loop.last_error,
            "resent": self.resent,
            "loop": self.loop.status(),
            "fork_detected": self.fork,
        }

    def healthy(self) -> bool:
        return self.fork is None and self.loop.running


def create_witness_app(service: WitnessService) -> Starlette:
    async def status(request: Request) -> JSONResponse:
        return JSONResponse(service.status())

    async def health(request: Request) -> JSONResponse:
        """200 while the witness works; 503 after a fork or while its loop is down."""
        ok = service.healthy()
        body = {
            "ok": ok,
            "fork_detected": service.fork,
            "loop_running": service.loop.running,
            "last_error": service.last_error or service.loop.last_error,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return Starlette(
        routes=[Route("/status", status), Route("/health", health)],
        lifespan=service.loop.lifespan(),
    )
