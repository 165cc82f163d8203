"""The transparency service: per-domain hash chains, the prefix tree over all domains,
event batches for witnesses, and cosigned proofs for sites.

Life of an append (``POST /append/<domain>``):

1. authenticate (SHA-256 of the bearer token equals the hash bound at enrollment) and check
   ``prev``: the chain hash the new node will carry, i.e. ``H("waict-ch" || current head)``.
   A replayed or concurrent stale append carries an old ``prev`` and is refused (409);
2. build the tree event, apply it to the domain's newest node with the replay rule of
   :mod:`verifier.events` (the same code every witness runs) and durably record it;
3. every ``batch_interval`` seconds the pending events become the next immutable batch: the
   service replays them, applies the new heads to a persistent :class:`~waict.log.tree.PrefixTree`
   (old versions stay valid for proofs), and stores batch, nodes and root in one transaction;
4. witnesses fetch the batch, check it, and upload cosignatures of the new root; the service
   verifies each one against its configured witnesses;
5. once a root at or after the event's batch has a quorum, the append answers with the
   domain's ``ChainHeadWithProof`` under that root.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence

from verifier.chain import (
    ZERO_HASH,
    ChainNode,
    asset_hosts_hash,
    encode_asset_hosts,
    verify_chain,
)
from verifier.crypto import ed25519_verify, sha256
from verifier.errors import WaictError
from verifier.events import (
    EventError,
    TreeEvent,
    apply_event,
    decode_event,
    encode_batch,
)
from verifier.note import NoteBody, Witness, parse_note, signed_message
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key
from waict.log.entry import NewEntry, normalize_domain, parse_new_entry
from waict.log.http import BackgroundLoop, Clock, HttpError, RateLimitedLog
from waict.log.store import StorageError, TransparencyStore
from waict.log.tree import PrefixTree

log = logging.getLogger("waict.ts")


def stopping_error() -> HttpError:
    return HttpError(503, "the service is stopping; try again shortly", "stopping")


WELL_KNOWN_ENROLL = "/.well-known/waict-enroll"

EnrollFetcher = Callable[[str], Awaitable[bytes]]


class TransparencyService:
    def __init__(
        self,
        store: TransparencyStore,
        name: str,
        witnesses: Sequence[Witness],
        quorum: int,
        clock: Clock,
        enroll_fetch: EnrollFetcher,
        *,
        batch_interval: float = 0.2,
        max_batch: int = 5000,
        append_timeout: float = 60.0,
    ) -> None:
        if quorum < 1 or quorum > len({w.name for w in witnesses}):
            raise ValueError("quorum must be between 1 and the number of witnesses")
        self.store = store
        self.name = name
        self.witnesses = {(w.name, w.key_id): w for w in witnesses}
        self.quorum = quorum
        self.clock = clock
        self.enroll_fetch = enroll_fetch
        self.batch_interval = batch_interval
        self.max_batch = max_batch
        self.append_timeout = append_timeout
        self._tip: dict[str, ChainNode] = {}  # newest node per domain incl. pending events
        self._changed = asyncio.Condition()
        self.storage_fault: StorageError | None = None  # the last batch could not be stored
        self.stopping = False  # a graceful stop began: waiting requests answer now
        self.faults = RateLimitedLog(log)
        self._lock = asyncio.Lock()
        self.loop = BackgroundLoop(self.run, name="batch cutter")
        self.count = store.batch_count()
        self.trees: dict[int, PrefixTree] = {}
        self.cosigned = 0
        self._load()

    # --- start-up ---------------------------------------------------------------------------
    def _tree_at(self, count: int) -> PrefixTree:
        heads = self.store.heads() if count == self.count else self.store.heads_at(count)
        return PrefixTree.build((tree_key(d), node.next_chain_hash()) for d, node in heads)

    def _load(self) -> None:
        """Load and check what the service serves from (StorageError ``damaged`` if any of it
        is inconsistent): every chain links from position 0, each head is its chain's last
        node, the tree over the heads has the last batch's root, pending events apply."""
        self._check_chains()
        self.trees[self.count] = self._tree_at(self.count)
        if self.count:
            stored = self.store.batch(self.count - 1)
            if stored is None or self.trees[self.count].root() != stored[1]:
                raise StorageError(
                    f"{self.store_name}: the tree over the stored heads does not have the root "
                    f"of the last batch ({self.count - 1}): storage damaged",
                    "damaged",
                )
        for c in range(self.count, 0, -1):
            if self._has_quorum(c):
                self.cosigned = c
                break
        if self.cosigned:
            self.tree(self.cosigned)
        # pending events were already applied to tips when accepted; recompute tips
        for ev in self.store.pending_events(10**9):
            try:
                event = decode_event(ev.event)
                self._tip[ev.domain] = apply_event(self._newest(ev.domain), event)
            except EventError as exc:
                raise StorageError(
                    f"{self.store_name}: pending event {ev.seq} does not apply ({exc}): "
                    "storage damaged",
                    "damaged",
                ) from None

    @property
    def store_name(self) -> str:
        return str(getattr(self.store, "path", type(self.store).__name__))

    def _check_chains(self) -> None:
        heads = dict(self.store.heads())
        for domain, nodes in self.store.chains():
            problem = None
            try:
                verify_chain(nodes)
            except WaictError as exc:
                problem = str(exc)
            if problem is None and heads.pop(domain, None) != nodes[-1]:
                problem = "its head is not the last node of its chain"
            if problem is not None:
                raise StorageError(
                    f"{self.store_name}: the chain of {domain[:80]} is inconsistent "
                    f"({problem}): storage damaged",
                    "damaged",
                )
        if heads:
            raise StorageError(
                f"{self.store_name}: {len(heads)} head(s) without a chain (e.g. "
                f"{next(iter(heads))[:80]}): storage damaged",
                "damaged",
            )

    def tree(self, count: int) -> PrefixTree:
        """The tree after ``count`` batches, rebuilt from storage when it is not held (after a
        restart with a backlog of batches awaiting their quorum, only the newest is)."""
        tree = self.trees.get(count)
        if tree is None:
            tree = self.trees[count] = self._tree_at(count)
        return tree

    def _newest(self, domain: str) -> ChainNode | None:
        return self._tip.get(domain) or self.store.head(domain)

    # --- batches ----------------------------------------------------------------------------
    async def run(self) -> None:
        # an error ends this run; BackgroundLoop logs it, shows it in /status and runs it
        # again after a backoff (waict/log/http.py)
        while True:
            await asyncio.sleep(self.batch_interval)
            try:
                await self.cut_batch()
            except StorageError as exc:  # retried every tick; pending events are kept
                self.storage_fault = exc
                self.faults.log(
                    logging.ERROR,
                    f"batch:{exc.kind}",
                    f"cannot store the next batch ({exc.kind}): {exc}; pending appends wait, "
                    "retrying",
                )
                async with self._changed:
                    self._changed.notify_all()

    async def cut_batch(self) -> int | None:
        """Publish the pending events as the next batch; returns its number (or None)."""
        async with self._lock:
            pending = self.store.pending_events(self.max_batch)
            if not pending:
                return None
            events = [decode_event(p.event) for p in pending]
            heads: dict[str, ChainNode | None] = {}
            nodes: list[tuple[str, ChainNode]] = []
            hosts: list[tuple[bytes, bytes]] = []
            for event in events:
                prev = (
                    heads[event.domain] if event.domain in heads else self.store.head(event.domain)
                )
                node = apply_event(prev, event)
                heads[event.domain] = node
                nodes.append((event.domain, node))
                if event.asset_hosts is not None:
                    hosts.append(
                        (asset_hosts_hash(event.asset_hosts), encode_asset_hosts(event.asset_hosts))
                    )
            tree = self.tree(self.count).set_many(
                (tree_key(d), n.next_chain_hash()) for d, n in heads.items() if n is not None
            )
            n = self.count
            self.store.publish_batch(
                n,
                encode_batch(events),
                tree.root(),
                self.clock(),
                [p.seq for p in pending],
                nodes,
                hosts,
            )
            self.trees[n + 1] = tree
            self.count = n + 1
            if self.storage_fault is not None:
                log.warning("storage works again (%s is over)", self.storage_fault.kind)
                self.faults.clear(f"batch:{self.storage_fault.kind}")
                self.storage_fault = None
        async with self._changed:
            self._changed.notify_all()
        log.info(
            "published batch %d (%d events), root %s",
            n,
            len(events),
            base64.b64encode(tree.root()).decode(),
        )
        return n

    def batch_body(self, n: int) -> bytes | None:
        stored = self.store.batch(n)
        return stored[0] if stored else None

    async def wait_for_batch(self, n: int, timeout: float) -> bytes | None:
        body = self.batch_body(n)
        if body is not None or timeout <= 0:
            return body
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: self.count > n or self.stopping)
        except TimeoutError:
            return None
        body = self.batch_body(n)
        if body is None and self.stopping:
            raise stopping_error()
        return body

    async def stop_waiting(self) -> None:
        """A graceful stop began: every long poll and waiting append answers now (503
        ``stopping``) instead of being cancelled when the stop's grace period ends."""
        self.stopping = True
        async with self._changed:
            self._changed.notify_all()

    # --- cosignatures -----------------------------------------------------------------------
    def note_body(self, count: int) -> NoteBody:
        stored = self.store.batch(count - 1)
        if stored is None:
            raise HttpError(404, f"no batch {count - 1} yet", "not_found")
        return NoteBody.for_service(self.name, count, stored[1])

    def _has_quorum(self, count: int) -> bool:
        return len({c.witness for c in self.store.cosignatures(count)}) >= self.quorum

    async def upload_cosignatures(self, count: int, body: bytes) -> int:
        if not 1 <= count <= self.count:
            raise HttpError(404, f"no tree after {count} batches (have {self.count})", "not_found")
        note_body = self.note_body(count)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpError(400, "cosignature lines must be UTF-8", "bad_cosignature") from None
        if not text.endswith("\n") or not text.strip():
            raise HttpError(
                400,
                "send one or more '— name base64' lines, each ending in a newline",
                "bad_cosignature",
            )
        try:
            note = parse_note(note_body.encode() + b"\n" + body)
        except WaictError as exc:
            raise HttpError(400, f"malformed cosignature line: {exc}", "bad_cosignature") from None
        accepted = 0
        for sig in note.cosignatures:
            witness = self.witnesses.get((sig.name, sig.key_id))
            if witness is None:
                raise HttpError(
                    400, f"{sig.name} is not a witness of this service", "unknown_witness"
                )
            if not ed25519_verify(
                witness.public_key, sig.signature, signed_message(note_body, sig.timestamp)
            ):
                raise HttpError(
                    400,
                    f"cosignature of {sig.name} does not verify for the root after {count} batches",
                    "bad_cosignature",
                )
            self.store.add_cosignature(count, sig.name, sig.timestamp, sig.line())
            accepted += 1
        if count > self.cosigned and self._has_quorum(count):
            self.tree(count)
            self.cosigned = count
            for c in [c for c in self.trees if c < count]:
                del self.trees[c]
            log.info("root after %d batches has a quorum", count)
        async with self._changed:
            self._changed.notify_all()
        return accepted

    def signed_note(self, count: int) -> bytes:
        body = self.note_body(count)
        lines = "".join(c.line for c in self.store.cosignatures(count))
        return body.encode() + b"\n" + lines.encode()

    # --- proofs -----------------------------------------------------------------------------
    def proof(self, domain: str) -> ChainHeadWithProof:
        if not self.cosigned:
            raise HttpError(503, "no cosigned root yet; try again shortly", "not_cosigned")
        count = self.cosigned
        tree = self.tree(count)
        key = tree_key(domain)
        if tree.get(key) is None:
            raise HttpError(404, f"{domain} is not in the cosigned tree", "not_found")
        head = self.store.head(domain) if count == self.count else self.store.head_at(domain, count)
        assert head is not None
        return ChainHeadWithProof(head, tree.prove_inclusion(key), self.signed_note(count))

    async def wait_for_proof(self, domain: str, seq: int) -> ChainHeadWithProof:
        def ready() -> bool:  # cosigned, or not publishable now (the storage fault says why)
            if self.stopping:
                return True
            b = self.store.event_batch(seq)
            if b is None:
                return self.storage_fault is not None
            return self.cosigned >= b + 1

        try:
            async with asyncio.timeout(self.append_timeout):
                async with self._changed:
                    await self._changed.wait_for(ready)
        except TimeoutError:
            raise HttpError(
                503,
                "the append is recorded but no quorum of witnesses cosigned it in time; "
                "fetch GET /leaf/<domain> later",
                "not_cosigned",
            ) from None
        b = self.store.event_batch(seq)
        if self.stopping and (b is None or self.cosigned < b + 1):
            raise HttpError(
                503,
                "the service is stopping; the append is recorded: fetch GET /leaf/<domain> "
                "once it is back",
                "stopping",
            )
        fault = self.storage_fault
        if fault is not None and b is None:
            raise HttpError(
                503,
                f"the append is recorded but cannot be published yet: {fault.kind} "
                f"({fault}); it is published when storage works again: fetch "
                "GET /leaf/<domain> later",
                fault.kind,
            )
        return self.proof(domain)

    # --- enroll and append --------------------------------------------------------------------
    async def _accept(
        self, domain: str, entry: NewEntry, *, bind_token: bytes | None = None
    ) -> int:
        """Check the entry against the domain's newest node and record its event (binding the
        append token at enrollment in the same transaction). Every bound is checked before
        anything is stored: a refused entry changes nothing.

        The rule for enrollment (docs/decisions.md): a domain without a chain is enrolled by
        its document; a domain with a chain (even a tombstoned one) changes only through its
        token (``/append``) or through a document whose ``prev`` names the current head, so a
        stranger calling ``/enroll`` can neither roll the chain back nor grow it: each
        document applies at most once."""
        async with self._lock:
            previous = self._newest(domain)
            if bind_token is not None and previous is not None and entry.prev is None:
                raise HttpError(
                    409,
                    f"{domain} is already enrolled: append with its token; to enroll again "
                    "(a lost token), serve an enrollment document whose prev names the "
                    "current head, H('waict-ch' || head)",
                    "already_enrolled",
                )
            if bind_token is None or previous is not None:
                expected = previous.next_chain_hash() if previous is not None else ZERO_HASH
                if entry.prev != expected:
                    raise HttpError(
                        409,
                        "prev does not match the chain's current head "
                        "(a replayed or stale append?); "
                        "fetch GET /leaf/<domain> and retry with H('waict-ch' || head)",
                        "stale_prev",
                    )
            hosts: tuple[str, ...] | None = entry.asset_hosts
            if previous is not None and previous.entry.asset_hosts_hash == asset_hosts_hash(
                entry.asset_hosts
            ):
                hosts = None
            now = self.clock()
            if previous is not None and previous.entry.time_created > now:
                now = previous.entry.time_created
            event = TreeEvent(domain, hosts, entry.resource_hash, now)
            try:
                node = apply_event(previous, event)
                encoded = event.encode()
            except EventError as exc:
                raise HttpError(400, str(exc), exc.detail) from None
            seq = self.store.add_event(domain, encoded, bind_token=bind_token, now=now)
            self._tip[domain] = node
            return seq

    async def enroll(self, domain: str) -> ChainHeadWithProof:
        domain = normalize_domain(domain)
        try:
            raw = await self.enroll_fetch(domain)
        except Exception as exc:
            raise HttpError(
                502,
                f"could not fetch {WELL_KNOWN_ENROLL} from {domain}: {exc}; "
                "serve New Entry Data there",
                "enroll_fetch_failed",
            ) from None
        entry = parse_new_entry(raw, enrolling=True)
        assert entry.token_sha256 is not None
        seq = await self._accept(domain, entry, bind_token=entry.token_sha256)
        return await self.wait_for_proof(domain, seq)

    def authorize(self, domain: str, token: str | None) -> str:
        """The normalized domain if ``token`` is its append token (400 / 401 otherwise):
        checked before a request body is read."""
        domain = normalize_domain(domain)
        bound = self.store.token_hash(domain)
        if bound is None:
            raise HttpError(
                400, f"{domain} is not enrolled: POST /enroll/{domain} first", "not_enrolled"
            )
        if token is None or not secrets.compare_digest(
            sha256(token.encode("utf-8", "surrogateescape")), bound
        ):
            raise HttpError(401, "missing or wrong bearer token for this domain", "unauthorized")
        return domain

    async def append(self, domain: str, token: str | None, raw: bytes) -> ChainHeadWithProof:
        domain = self.authorize(domain, token)
        entry = parse_new_entry(raw, enrolling=False)
        seq = await self._accept(domain, entry)
        return await self.wait_for_proof(domain, seq)
