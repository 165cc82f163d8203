"""Admission of enrolments and appends (a part of :class:`~waict.log.service.TransparencyService`):
check a request against the domain's newest node, answer an identical retry with the entry
it made, and hold the accepted event for the next batch (group commit)."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from verifier.chain import ZERO_HASH, ChainNode, asset_hosts_hash
from verifier.crypto import sha256
from verifier.events import EventError, TreeEvent, apply_event
from verifier.proof import ChainHeadWithProof
from waict.log.entry import NewEntry, normalize_domain, parse_new_entry
from waict.log.http import Clock, HttpError
from waict.log.storage import TransparencyStore

WELL_KNOWN_ENROLL = "/.well-known/waict-enroll"

EnrollFetcher = Callable[[str], Awaitable[bytes]]


@dataclass(eq=False)
class Pending:
    """An accepted event waiting for its batch (held in memory until it is stored)."""

    domain: str
    event: TreeEvent
    node: ChainNode
    token: bytes | None  # the append token's hash, bound by this event (enrolment)
    batch: int | None = None  # set once its batch is stored
    size: int = 0  # bytes of the encoded event (a batch's events are at most 2^24-1 bytes)


class Admission:
    """Enrolment and append admission; the service provides the state below."""

    store: TransparencyStore
    clock: Clock
    enroll_fetch: EnrollFetcher
    max_pending: int
    _lock: asyncio.Lock
    _pending: list[Pending]
    _tip: dict[str, Pending]
    _tokens: dict[str, Pending]
    _token_cache: OrderedDict[str, bytes]
    _recent: dict[str, tuple[ChainNode, int]]

    async def wait_for_proof(self, domain: str, ref: Pending | int) -> ChainHeadWithProof:
        raise NotImplementedError

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

    def _hold(self, pending: Pending) -> None:
        self._pending.append(pending)
        self._tip[pending.domain] = pending
        if pending.token is not None:
            self._tokens[pending.domain] = pending

    @property
    def pending(self) -> int:
        """Accepted events not yet in a stored batch."""
        return len(self._pending)

    # --- enroll and append --------------------------------------------------------------------
    def _retry_of_newest(
        self, domain: str, entry: NewEntry, bind_token: bytes | None
    ) -> Pending | int | None:
        """The newest event of ``domain`` (held, or its stored batch) if ``entry`` is the
        request that made it, sent again (same prev, resource hash, asset hosts and, for an
        enrollment document, token): it is answered with that entry, nothing is added."""
        pending = self._tip.get(domain)
        ref: Pending | int
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
    ) -> Pending | int:
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
                size = len(event.encode())  # every bound of the wire form, before it is held
            except EventError as exc:
                raise HttpError(400, str(exc), exc.detail) from None
            pending = Pending(domain, event, node, bind_token, size=size)
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
