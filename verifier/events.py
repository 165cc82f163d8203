"""Tree events and event batches: how the transparency service tells witnesses what changed.

Byte layout (TLS presentation language, big-endian)::

    AssetHost       = u16 len (1..511) | URL bytes
    NewAssetHosts   = u8 tag | (tag 0 "changed": u16 len | AssetHost*)   (tag 1 "unchanged")
    TreeEvent       = u8 len (1..255) | domain | NewAssetHosts
                      | new_resource_hash[32] | u64 timestamp
    TreeEventBatch  = u16 num_events (>= 1) | u24 len | TreeEvent*

``domain`` is a public DNS name (:func:`check_domain`, the one rule of the service and every
witness): lower-case letters, digits and inner hyphens, labels of 1 to 63 characters, at
least two labels, at most 253 characters, no trailing dot; not an IP literal (a last label
that is a number) and not ``localhost`` or a name under it. A "changed" list may be empty
(a site with no asset host; our choice, the spec's lower bound of 1 would forbid it). Strict
parsing: exact lengths, ``num_events`` equal to the events present, no trailing bytes.

Replay (:func:`apply_event`), the one rule that the transparency service and every witness
run: an event for a domain with no chain must carry asset hosts ("changed"); the new node is
``Entry(previous position + 1 or 0, timestamp, new_resource_hash, asset-hosts hash)`` with the
previous node's chain hash (``verifier.chain.append_node``: time must not go backwards);
"unchanged" keeps the previous asset-hosts hash. An all-zero resource hash is a transparency
tombstone; a later event re-enrolls the domain, continuing the same chain.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifier.chain import ChainNode, Entry, append_node, asset_hosts_hash
from verifier.errors import ChainError, WaictError

TAG_CHANGED = 0
TAG_UNCHANGED = 1
MAX_URL = 511
MAX_HOSTS_BYTES = 2**13 - 1
MAX_BATCH_BYTES = 2**24 - 1
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
_NUMBER_RE = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a WHATWG IPv4 part: such a name is an address


class EventError(WaictError):
    """A tree event or batch is malformed, or does not apply to the chain state."""

    detail = "invalid_event"


def check_domain(domain: str) -> str:
    """``domain`` if it is a name a site can enroll under (see the module docstring), else
    :class:`EventError`. Whole-string matches only: no trailing newline slips through."""
    if (
        not isinstance(domain, str)
        or len(domain) > 253
        or not _DOMAIN_RE.fullmatch(domain)
        or _NUMBER_RE.fullmatch(domain.rpartition(".")[2])
        or domain == "localhost"
        or domain.endswith(".localhost")
    ):
        raise EventError(
            f"{domain[:80]!r} is not a public DNS name (lower-case letters, digits, inner "
            "hyphens, two labels or more; no IP address, no localhost)"
        )
    return domain


@dataclass(frozen=True)
class TreeEvent:
    domain: str
    asset_hosts: tuple[str, ...] | None  # None = unchanged
    new_resource_hash: bytes
    timestamp: int

    def encode(self) -> bytes:
        domain = check_domain(self.domain).encode("ascii")
        out = bytes((len(domain),)) + domain
        if self.asset_hosts is None:
            out += bytes((TAG_UNCHANGED,))
        else:
            hosts = b""
            for url in self.asset_hosts:
                raw = url.encode("utf-8")
                if not 1 <= len(raw) <= MAX_URL:
                    raise EventError("an asset-host URL must be 1 to 511 bytes")
                hosts += struct.pack(">H", len(raw)) + raw
            if len(hosts) > MAX_HOSTS_BYTES:
                raise EventError("the asset-host list is longer than 8191 bytes")
            out += bytes((TAG_CHANGED,)) + struct.pack(">H", len(hosts)) + hosts
        if len(self.new_resource_hash) != 32:
            raise EventError("new_resource_hash must be 32 bytes")
        return out + self.new_resource_hash + struct.pack(">Q", self.timestamp)


def _decode_event(data: bytes, i: int) -> tuple[TreeEvent, int]:
    def need(n: int) -> None:
        if i + n > len(data):
            raise EventError("tree event truncated")

    need(1)
    n = data[i]
    i += 1
    if n == 0:
        raise EventError("tree event domain is empty")
    need(n)
    try:
        domain = check_domain(data[i : i + n].decode("ascii"))
    except UnicodeDecodeError:
        raise EventError("tree event domain is not ASCII") from None
    i += n
    need(1)
    tag = data[i]
    i += 1
    hosts: tuple[str, ...] | None = None
    if tag == TAG_CHANGED:
        need(2)
        (total,) = struct.unpack(">H", data[i : i + 2])
        i += 2
        if total > MAX_HOSTS_BYTES:
            raise EventError("asset-host list longer than 8191 bytes")
        need(total)
        end = i + total
        urls: list[str] = []
        while i < end:
            if i + 2 > end:
                raise EventError("asset-host entry truncated")
            (m,) = struct.unpack(">H", data[i : i + 2])
            i += 2
            if not 1 <= m <= MAX_URL or i + m > end:
                raise EventError("asset-host URL length out of range")
            try:
                urls.append(data[i : i + m].decode("utf-8"))
            except UnicodeDecodeError:
                raise EventError("asset-host URL is not UTF-8") from None
            i += m
        hosts = tuple(urls)
    elif tag != TAG_UNCHANGED:
        raise EventError(f"unknown asset-hosts tag {tag}")
    need(40)
    rh = bytes(data[i : i + 32])
    (ts,) = struct.unpack(">Q", data[i + 32 : i + 40])
    return TreeEvent(domain, hosts, rh, ts), i + 40


def decode_event(data: bytes) -> TreeEvent:
    event, end = _decode_event(data, 0)
    if end != len(data):
        raise EventError("trailing bytes after the tree event")
    return event


def encode_batch(events: Sequence[TreeEvent]) -> bytes:
    if not 1 <= len(events) <= 0xFFFF:
        raise EventError("a batch holds 1 to 65535 events")
    body = b"".join(e.encode() for e in events)
    if len(body) > MAX_BATCH_BYTES:
        raise EventError("a batch is at most 2^24-1 bytes of events")
    return struct.pack(">H", len(events)) + len(body).to_bytes(3, "big") + body


def decode_batch(data: bytes) -> list[TreeEvent]:
    if len(data) < 5:
        raise EventError("tree event batch shorter than its header")
    (count,) = struct.unpack(">H", data[:2])
    total = int.from_bytes(data[2:5], "big")
    if count == 0:
        raise EventError("a batch holds at least one event")
    if 5 + total != len(data):
        raise EventError(f"tree event batch says {total} bytes of events, has {len(data) - 5}")
    events: list[TreeEvent] = []
    i = 5
    while i < len(data):
        event, i = _decode_event(data, i)
        events.append(event)
    if len(events) != count:
        raise EventError(f"tree event batch says {count} events, holds {len(events)}")
    return events


def apply_event(previous: ChainNode | None, event: TreeEvent) -> ChainNode:
    """The domain's new head after ``event`` (the replay rule; see the module docstring)."""
    if event.asset_hosts is None:
        if previous is None:
            raise EventError(
                f"event for unknown domain {event.domain} does not carry asset hosts",
                detail="unknown_domain_without_hosts",
            )
        ah = previous.entry.asset_hosts_hash
    else:
        ah = asset_hosts_hash(event.asset_hosts)
    position = 0 if previous is None else previous.position + 1
    try:
        return append_node(previous, Entry(position, event.timestamp, event.new_resource_hash, ah))
    except ChainError as exc:
        raise EventError(f"{event.domain}: {exc}", detail="chain_discontinuity") from None


def replay(
    head_of: Callable[[str], ChainNode | None], events: Sequence[TreeEvent]
) -> dict[str, list[ChainNode]]:
    """Apply a batch in order; returns every new node per domain (last one = new head)."""
    out: dict[str, list[ChainNode]] = {}
    for event in events:
        nodes = out.get(event.domain)
        previous = nodes[-1] if nodes else head_of(event.domain)
        out.setdefault(event.domain, []).append(apply_event(previous, event))
    return out
