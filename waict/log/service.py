"""The transparency service: per-domain hash chains, the prefix tree over all domains,
event batches for witnesses, and cosigned proofs for sites.

Life of an append (``POST /append/<domain>``):

1. authenticate (SHA-256 of the bearer token equals the hash bound at enrollment) and check
   ``prev``: the chain hash the new node will carry, i.e. ``H("waict-ch" || current head)``.
   A replayed or concurrent stale append carries an old ``prev`` and is refused (409); the
   identical request that made the domain's newest entry is a retry and is answered with that
   entry (nothing is appended twice: an interrupted client may simply send it again);
2. build the tree event and apply it to the domain's newest node with the replay rule of
   :mod:`verifier.events` (the same code every witness runs); the accepted event is held in
   memory, in order (group commit);
3. every ``batch_interval`` seconds the pending events become the next immutable batch: the
   new heads go into a persistent :class:`~waict.log.tree.PrefixTree` (old versions stay
   valid for proofs) and batch, chain nodes, enrolment tokens and asset hosts are stored in
   ONE transaction, off the event loop (appends keep arriving meanwhile, for the next batch);
4. witnesses fetch the batch, check it, and upload cosignatures of the new root; the service
   verifies each one against its configured witnesses;
5. once a root at or after the event's batch has a quorum, the append answers with the
   domain's ``ChainHeadWithProof`` under that root. Waiting requests wait on one future per
   batch commit and per cosigned count, never on storage.

An event accepted but not yet in a stored batch is lost if the process dies: it was never
acknowledged (step 5), and the client's retry (the same request) is accepted again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from verifier.chain import (
    ChainNode,
    asset_hosts_hash,
    encode_asset_hosts,
    verify_chain,
)
from verifier.crypto import ed25519_verify
from verifier.encoding import b64encode
from verifier.errors import WaictError
from verifier.events import (
    MAX_BATCH_BYTES,
    EventError,
    apply_event,
    decode_event,
    encode_batch,
)
from verifier.note import NoteBody, Witness, parse_note, signed_message
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key
from waict.log.accept import WELL_KNOWN_ENROLL, Admission, EnrollFetcher, Pending
from waict.log.http import BackgroundLoop, Clock, HttpError, RateLimitedLog
from waict.log.store import BatchWrite, StorageError, TransparencyStore
from waict.log.tree import PrefixTree

log = logging.getLogger("waict.ts")


def stopping_error() -> HttpError:
    return HttpError(503, "the service is stopping; try again shortly", "stopping")


__all__ = ["WELL_KNOWN_ENROLL", "EnrollFetcher", "Pending", "TransparencyService", "stopping_error"]


class TransparencyService(Admission):
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
        max_pending: int = 100_000,
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
        self.max_pending = max_pending
        self.append_timeout = append_timeout
        self._pending: list[Pending] = []  # accepted, not yet stored; in acceptance order
        self._tip: dict[str, Pending] = {}  # newest pending event per domain
        self._tokens: dict[str, Pending] = {}  # newest pending enrolment per domain
        self.storage_fault: StorageError | None = None  # the last batch could not be stored
        self.stopping = False  # a graceful stop began: waiting requests answer now
        self.faults = RateLimitedLog(log)
        self._lock = asyncio.Lock()  # accepting (check against the newest node, then hold)
        self._cut_lock = asyncio.Lock()  # one batch at a time
        # waiting requests: one future each, woken by a batch commit (or a storage fault) or by
        # the quorum of a count; a stop wakes every one. (asyncio.wait on shared futures costs
        # O(waiters²) per wake: measured 20 % of the service's time with 1,500 appends waiting.)
        self._commit_waiters: list[asyncio.Future[None]] = []
        self._cosign_waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._notes: dict[int, bytes] = {}  # signed note per count (the newest cosigned)
        self._roots: dict[int, bytes] = {}  # root after count batches (held counts)
        self._bodies: dict[int, bytes] = {}  # the newest batch bodies (witnesses fetch them)
        # the newest stored node (and its batch) of the domains of the last few batches, and
        # the tokens of recently used domains: most requests then need no storage read
        self._recent: dict[str, tuple[ChainNode, int]] = {}
        self._token_cache: OrderedDict[str, bytes] = OrderedDict()
        self.loop = BackgroundLoop(self.run, name="batch cutter")
        self.count = store.batch_count()
        self.domains = store.domain_count()  # enrolled domains, kept up to date per batch
        self.trees: dict[int, PrefixTree] = {}
        self.cosigned = 0
        self._load()

    # --- futures ----------------------------------------------------------------------------
    def _waiter(self, count: int | None = None) -> asyncio.Future[None]:
        """A future woken at the next batch commit (``count`` None) or when ``count`` has a
        quorum; a stop wakes it too."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.stopping:
            fut.set_result(None)
            return fut
        if count is None:
            waiters = self._commit_waiters
        else:
            waiters = self._cosign_waiters.setdefault(count, [])
        if len(waiters) >= 1024 and len(waiters) & (len(waiters) - 1) == 0:
            # timed-out waiters stay until their wake: drop them as the list doubles, so a
            # quorum that never comes (or long polls on an idle log) cannot grow it unbounded
            waiters[:] = [f for f in waiters if not f.done()]
        waiters.append(fut)
        return fut

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _wake_commit(self) -> None:
        waiters, self._commit_waiters = self._commit_waiters, []
        self._wake(waiters)

    async def _sleep_on(self, fut: asyncio.Future[None], deadline: float) -> None:
        """Until ``fut`` is woken (TimeoutError at ``deadline``, loop time): each waiter has
        its own future, so a timeout cancels only that one."""
        async with asyncio.timeout_at(deadline):
            await fut

    # --- start-up ---------------------------------------------------------------------------
    def _tree_at(self, count: int) -> PrefixTree:
        return PrefixTree.build(
            (tree_key(d), node.next_chain_hash()) for d, node in self.store.heads_at(count)
        )

    def _load(self) -> None:
        """Load and check what the service serves from (StorageError ``damaged`` if any of it
        is inconsistent): every chain links from position 0, the tree over the heads has the
        last batch's root, events recovered from an upgraded file apply."""
        heads = self._check_chains()
        self.trees[self.count] = PrefixTree.build(heads)
        del heads
        if self.count:
            root = self.store.batch_root(self.count - 1)
            if root is None or self.trees[self.count].root() != root:
                raise StorageError(
                    f"{self.store.name}: the tree over the stored heads does not have the root "
                    f"of the last batch ({self.count - 1}): storage damaged",
                    "damaged",
                )
            self._roots[self.count] = root
        for c in range(self.count, 0, -1):
            if self._has_quorum(c):
                self.cosigned = c
                break
        if self.cosigned:
            self.tree(self.cosigned)
        for domain, raw in self.store.recovered_events():
            try:
                event = decode_event(raw)
                node = apply_event(self._newest_node(domain), event)
            except EventError as exc:
                raise StorageError(
                    f"{self.store.name}: a recovered event of {domain[:80]} does not apply "
                    f"({exc}): storage damaged",
                    "damaged",
                ) from None
            self._hold(Pending(domain, event, node, None))

    @property
    def store_name(self) -> str:
        return self.store.name

    def _check_chains(self) -> list[tuple[bytes, bytes]]:
        """Check every chain; returns the tree's (key, value) pairs of the heads."""
        pairs: list[tuple[bytes, bytes]] = []
        for domain, nodes in self.store.chains():
            try:
                verify_chain(nodes)
            except WaictError as exc:
                raise StorageError(
                    f"{self.store.name}: the chain of {domain[:80]} is inconsistent "
                    f"({exc}): storage damaged",
                    "damaged",
                ) from None
            pairs.append((tree_key(domain), nodes[-1].next_chain_hash()))
        return pairs

    def tree(self, count: int) -> PrefixTree:
        """The tree after ``count`` batches, rebuilt from storage when it is not held (after a
        restart with a backlog of batches awaiting their quorum, only the newest is)."""
        tree = self.trees.get(count)
        if tree is None:
            tree = self.trees[count] = self._tree_at(count)
        return tree

    def root(self, count: int) -> bytes | None:
        root = self._roots.get(count)
        if root is None and count >= 1:
            root = self.store.batch_root(count - 1)
        return root

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
                self._wake_commit()  # waiting appends answer with the cause

    async def cut_batch(self) -> int | None:
        """Store the pending events (up to ``max_batch``) as the next batch, in one
        transaction run off the event loop; returns its number (or None)."""
        async with self._cut_lock:
            take = self._pending[: self.max_batch]
            if not take:
                return None
            size = 0
            for i, p in enumerate(take):  # a batch body is at most 2^24-1 bytes of events
                size += p.size or len(p.event.encode())
                if size > MAX_BATCH_BYTES and i > 0:
                    take = take[:i]
                    break
            n = self.count
            base = self.tree(n)
            created = self.clock()

            def build_and_store() -> tuple[PrefixTree, bytes, bytes]:
                events = [p.event for p in take]
                body = encode_batch(events)
                newest = {p.domain: p.node for p in take}
                tree = base.set_many(
                    (tree_key(d), nd.next_chain_hash()) for d, nd in newest.items()
                )
                root = tree.root()
                self.store.publish_batch(
                    BatchWrite(
                        n,
                        body,
                        root,
                        created,
                        [(p.domain, p.node) for p in take],
                        [(p.domain, p.token) for p in take if p.token is not None],
                        [
                            (asset_hosts_hash(e.asset_hosts), encode_asset_hosts(e.asset_hosts))
                            for e in events
                            if e.asset_hosts is not None
                        ],
                    )
                )
                return tree, root, body

            # shielded: a cancelled cutter (a stop) must not leave a stored batch unrecorded
            tree, root, body = await asyncio.shield(asyncio.to_thread(build_and_store))
            del self._pending[: len(take)]
            for p in take:
                p.batch = n
                self._recent[p.domain] = (p.node, n)
                if p.token is not None:
                    self._token_cache.pop(p.domain, None)
                if self._tip.get(p.domain) is p:
                    del self._tip[p.domain]
                if self._tokens.get(p.domain) is p:
                    del self._tokens[p.domain]
            self.trees[n + 1] = tree
            self._roots[n + 1] = root
            self._bodies[n] = body
            for old in [b for b in self._bodies if b < n - 3]:
                del self._bodies[old]
            if len(self._recent) > 4 * self.max_batch:
                keep = n - 8
                self._recent = {d: r for d, r in self._recent.items() if r[1] >= keep}
            self.count = n + 1
            self.domains += sum(1 for p in take if p.node.position == 0)
            if self.storage_fault is not None:
                log.warning("storage works again (%s is over)", self.storage_fault.kind)
                self.faults.clear(f"batch:{self.storage_fault.kind}")
                self.storage_fault = None
            self._wake_commit()
        log.info("published batch %d (%d events), root %s", n, len(take), b64encode(root))
        return n

    def batch_body(self, n: int) -> bytes | None:
        body = self._bodies.get(n)
        if body is not None:
            return body
        stored = self.store.batch(n)
        return stored[0] if stored else None

    async def wait_for_batch(self, n: int, timeout: float) -> bytes | None:
        if self.count <= n and timeout > 0:
            deadline = asyncio.get_running_loop().time() + timeout
            try:
                while self.count <= n and not self.stopping:
                    await self._sleep_on(self._waiter(), deadline)
            except TimeoutError:
                return None
            if self.count <= n:
                raise stopping_error()
        return self.batch_body(n) if self.count > n else None

    async def stop_waiting(self) -> None:
        """A graceful stop began: every long poll and waiting append answers now (503
        ``stopping``) instead of being cancelled when the stop's grace period ends."""
        self.stopping = True
        self._wake_commit()
        waiters, self._cosign_waiters = self._cosign_waiters, {}
        for each in waiters.values():
            self._wake(each)

    # --- cosignatures -----------------------------------------------------------------------
    def note_body(self, count: int) -> NoteBody:
        root = self.root(count) if 1 <= count <= self.count else None
        if root is None:
            raise HttpError(404, f"no batch {count - 1} yet", "not_found")
        return NoteBody.for_service(self.name, count, root)

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
        checked = []
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
            checked.append(sig)
        for sig in checked:  # all verified: store them (no sync of their own)
            await asyncio.to_thread(
                self.store.add_cosignature, count, sig.name, sig.timestamp, sig.line()
            )
        self._notes.pop(count, None)
        if count > self.cosigned and self._has_quorum(count):
            self.tree(count)
            self.cosigned = count
            for c in [c for c in self.trees if c < count]:
                del self.trees[c]
            for c in [c for c in self._roots if c < count]:
                del self._roots[c]
            for c in [c for c in self._notes if c < count]:
                del self._notes[c]
            for c in [c for c in self._cosign_waiters if c <= count]:
                self._wake(self._cosign_waiters.pop(c))
            log.info("root after %d batches has a quorum", count)
        return len(checked)

    def signed_note(self, count: int) -> bytes:
        """The note for ``count`` with every stored cosignature (cached until the next
        cosignature for that count arrives)."""
        note = self._notes.get(count)
        if note is None:
            body = self.note_body(count)
            lines = "".join(c.line for c in self.store.cosignatures(count))
            note = body.encode() + b"\n" + lines.encode()
            if count >= self.cosigned:
                self._notes[count] = note
        return note

    # --- proofs -----------------------------------------------------------------------------
    def proof(self, domain: str) -> ChainHeadWithProof:
        if not self.cosigned:
            raise HttpError(503, "no cosigned root yet; try again shortly", "not_cosigned")
        count = self.cosigned
        tree = self.tree(count)
        key = tree_key(domain)
        if tree.get(key) is None:
            raise HttpError(404, f"{domain} is not in the cosigned tree", "not_found")
        recent = self._recent.get(domain)
        if recent is not None and recent[1] < count:
            head: ChainNode | None = recent[0]  # its newest node is in the cosigned tree
        else:
            head = self.store.head_at(domain, count)
        assert head is not None
        return ChainHeadWithProof(head, tree.prove_inclusion(key), self.signed_note(count))

    async def wait_for_proof(self, domain: str, ref: Pending | int) -> ChainHeadWithProof:
        """The domain's proof once the batch holding the event ``ref`` (held, or stored in
        batch ``ref``) has a cosigned root; 503 if that does not come in time."""
        deadline = asyncio.get_running_loop().time() + self.append_timeout
        try:
            while True:
                batch = ref if isinstance(ref, int) else ref.batch
                if batch is not None and self.cosigned >= batch + 1:
                    return self.proof(domain)
                if self.stopping:
                    break
                if batch is None:
                    fault = self.storage_fault
                    if fault is not None:
                        raise HttpError(
                            503,
                            f"the append is accepted but cannot be stored yet: {fault.kind} "
                            f"({fault}); it goes into the next batch that can be stored (a "
                            "restart of the service before that drops it: send it again): "
                            "fetch GET /leaf/<domain> later",
                            fault.kind,
                        )
                    waiter = self._waiter()
                else:
                    waiter = self._waiter(batch + 1)
                await self._sleep_on(waiter, deadline)
        except TimeoutError:
            stored = (ref if isinstance(ref, int) else ref.batch) is not None
            raise HttpError(
                503,
                (
                    "the append is recorded but no quorum of witnesses cosigned it in time; "
                    "fetch GET /leaf/<domain> later"
                    if stored
                    else "the append is accepted but its batch was not stored in time; "
                    "fetch GET /leaf/<domain> later, and send it again if it is not there"
                ),
                "not_cosigned",
            ) from None
        raise HttpError(
            503,
            "the service is stopping; the append is recorded if GET /leaf/<domain> shows it "
            "once the service is back, else send it again",
            "stopping",
        )
