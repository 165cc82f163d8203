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
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from verifier.chain import (
    ZERO_HASH,
    ChainNode,
    asset_hosts_hash,
    encode_asset_hosts,
    verify_chain,
)
from verifier.crypto import ed25519_verify, sha256
from verifier.encoding import b64encode
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
from waict.log.store import BatchWrite, StorageError, TransparencyStore
from waict.log.tree import PrefixTree

log = logging.getLogger("waict.ts")


def stopping_error() -> HttpError:
    return HttpError(503, "the service is stopping; try again shortly", "stopping")


WELL_KNOWN_ENROLL = "/.well-known/waict-enroll"

EnrollFetcher = Callable[[str], Awaitable[bytes]]


@dataclass(eq=False)
class _Pending:
    """An accepted event waiting for its batch (held in memory until it is stored)."""

    domain: str
    event: TreeEvent
    node: ChainNode
    token: bytes | None  # the append token's hash, bound by this event (enrolment)
    batch: int | None = None  # set once its batch is stored


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
        self._pending: list[_Pending] = []  # accepted, not yet stored; in acceptance order
        self._tip: dict[str, _Pending] = {}  # newest pending event per domain
        self._tokens: dict[str, _Pending] = {}  # newest pending enrolment per domain
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
            self._hold(_Pending(domain, event, node, None))

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

    def _stored_head(self, domain: str) -> tuple[ChainNode, int] | None:
        """The domain's newest stored node and its batch."""
        recent = self._recent.get(domain)
        return recent if recent is not None else self.store.head(domain)

    def _newest_node(self, domain: str) -> ChainNode | None:
        pending = self._tip.get(domain)
        if pending is not None:
            return pending.node
        stored = self._stored_head(domain)
        return stored[0] if stored else None

    def _hold(self, pending: _Pending) -> None:
        self._pending.append(pending)
        self._tip[pending.domain] = pending
        if pending.token is not None:
            self._tokens[pending.domain] = pending

    @property
    def pending(self) -> int:
        """Accepted events not yet in a stored batch."""
        return len(self._pending)

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

    async def wait_for_proof(self, domain: str, ref: _Pending | int) -> ChainHeadWithProof:
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

    # --- enroll and append --------------------------------------------------------------------
    def _retry_of_newest(
        self, domain: str, entry: NewEntry, bind_token: bytes | None
    ) -> _Pending | int | None:
        """The newest event of ``domain`` (held, or its stored batch) if ``entry`` is the
        request that made it, sent again (same prev, resource hash, asset hosts and, for an
        enrollment document, token): it is answered with that entry, nothing is added."""
        pending = self._tip.get(domain)
        ref: _Pending | int
        if pending is not None:
            node, ref = pending.node, pending
        else:
            stored = self._stored_head(domain)
            if stored is None:
                return None
            node, ref = stored[0], stored[1]
        if (
            node.entry.resource_hash != entry.resource_hash
            or node.entry.asset_hosts_hash != asset_hosts_hash(entry.asset_hosts)
        ):
            return None
        if bind_token is None:  # append
            return ref if node.position > 0 and entry.prev == node.chain_hash else None
        if self.token_of(domain) != bind_token:
            return None
        same_place = node.position == 0 if entry.prev is None else entry.prev == node.chain_hash
        return ref if same_place else None

    async def _accept(
        self, domain: str, entry: NewEntry, *, bind_token: bytes | None = None
    ) -> _Pending | int:
        """Check the entry against the domain's newest node and hold its event for the next
        batch (binding the append token at enrollment in the same batch). Every bound is
        checked before anything is held: a refused entry changes nothing. Returns what to
        wait for: the held event, or the stored batch of an identical earlier request.

        The rule for enrollment (docs/decisions.md): a domain without a chain is enrolled by
        its document; a domain with a chain (even a tombstoned one) changes only through its
        token (``/append``) or through a document whose ``prev`` names the current head, so a
        stranger calling ``/enroll`` can neither roll the chain back nor grow it: each
        document applies at most once (sent again, it is answered with the entry it made)."""
        async with self._lock:
            retry = self._retry_of_newest(domain, entry, bind_token)
            if retry is not None:
                return retry
            previous = self._newest_node(domain)
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
            if len(self._pending) >= self.max_pending:
                raise HttpError(
                    503,
                    f"{len(self._pending)} appends are waiting for their batch; try again shortly",
                    "busy",
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
                event.encode()  # every bound of the wire form, before it is held
            except EventError as exc:
                raise HttpError(400, str(exc), exc.detail) from None
            pending = _Pending(domain, event, node, bind_token)
            self._hold(pending)
            return pending

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
        ref = await self._accept(domain, entry, bind_token=entry.token_sha256)
        return await self.wait_for_proof(domain, ref)

    def token_of(self, domain: str) -> bytes | None:
        """The append token's hash bound to ``domain`` (by a held enrolment, or stored)."""
        pending = self._tokens.get(domain)
        if pending is not None:
            return pending.token
        token = self._token_cache.get(domain)
        if token is not None:
            self._token_cache.move_to_end(domain)
            return token
        token = self.store.token_hash(domain)
        if token is not None:
            self._token_cache[domain] = token
            if len(self._token_cache) > 65536:
                self._token_cache.popitem(last=False)
        return token

    def authorize(self, domain: str, token: str | None) -> str:
        """The normalized domain if ``token`` is its append token (400 / 401 otherwise):
        checked before a request body is read."""
        domain = normalize_domain(domain)
        bound = self.token_of(domain)
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
        ref = await self._accept(domain, entry)
        return await self.wait_for_proof(domain, ref)
