"""One domain's chain in a transparency service, compared with what was seen last time.

Each run reports what changed since the previous run (kept in ``--state FILE``): every new
entry (a logged manifest, a transparency tombstone, a re-enrollment after one) and every
change of the domain's asset hosts. It reads ``GET /leaf/<domain>`` (the head under the
newest cosigned root), the new entries from ``GET /entries-tile/<domain>/<N>[.p/<W>]``,
and asset-host lists from ``GET /asset-hosts/sha256-<digest>``.

What it checks (any failure is "unexpected": exit 1, and the state file is not advanced, so
the alarm repeats on the next run):

- the head's tree proof places it under the signed root; with ``--trust``, the root is
  signed by a trusted service and cosigned by a quorum of trusted witnesses (any age);
- the new entries link to the head seen last time (:func:`verifier.chain.verify_chain`:
  consecutive positions, chain hashes, time never going backwards), and the rebuilt chain
  ends exactly in the head the service proves;
- the log never shrinks and the head seen last time is never replaced (a rewritten history;
  ``GET /chain-hash/<domain>/<N>`` pinpoints it);
- every asset-host vector hashes to the digest the entry commits to.

The chain holds only ``H("waict-rh" || line)``: :mod:`waict.site.monitor.manifests` finds
the manifest behind an entry.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import mpt
from verifier.chain import ChainNode, Entry, append_node, verify_chain
from verifier.encoding import b64decode, b64encode, b64uencode
from verifier.errors import WaictError
from verifier.note import parse_note, verify_cosignatures
from verifier.proof import ChainHeadWithProof
from verifier.transparency import tree_key, tree_value
from verifier.trust import TrustConfig
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write
from waict.site.log_client import TsClient
from waict.site.times import format_age, format_time

STATE_VERSION = 1


@dataclass
class MonitorState:
    domain: str
    ts: str
    size: int = 0
    head: ChainNode | None = None
    asset_hosts: list[str] | None = None
    checked_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "domain": self.domain,
            "ts": self.ts,
            "size": self.size,
            "head": b64encode(self.head.encode()) if self.head else None,
            "asset_hosts": self.asset_hosts,
            "checked_at": self.checked_at,
        }

    @classmethod
    def load(cls, path: Path, domain: str, ts: str) -> MonitorState:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(domain, ts)
        except (OSError, ValueError) as exc:
            raise SiteToolError(
                f"monitor state {path} is unreadable: {exc}",
                "restore it, or delete it to start over (every entry is reported again)",
            ) from None
        if not isinstance(obj, dict) or obj.get("version") != STATE_VERSION:
            raise SiteToolError(f"monitor state {path} is not a version-1 monitor state")
        if obj.get("domain") != domain:
            raise SiteToolError(
                f"monitor state {path} belongs to {obj.get('domain')!r}, not {domain!r}",
                "use one state file per domain",
            )
        return cls.from_json(obj, domain, ts, str(path))

    @classmethod
    def from_json(cls, obj: dict[str, Any], domain: str, ts: str, where: str) -> MonitorState:
        """The state of one domain from its JSON object (checked by the caller)."""
        head = None
        if obj.get("head"):
            try:
                head = ChainNode.decode(b64decode(obj["head"], what="head"))
            except WaictError as exc:
                raise SiteToolError(f"monitor state {where}: {exc}") from None
        hosts = obj.get("asset_hosts")
        return cls(
            domain,
            str(obj.get("ts") or ts),
            int(obj.get("size") or 0),
            head,
            list(hosts) if isinstance(hosts, list) else None,
            obj.get("checked_at"),
        )

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.to_json(), indent=2, sort_keys=True).encode() + b"\n")


@dataclass
class MonitorEvent:
    kind: str  # entry | tombstone | reenrolled | asset_hosts
    position: int
    time_created: int
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "position": self.position,
            "time_created": self.time_created,
            "message": self.message,
        }


@dataclass
class MonitorResult:
    domain: str
    events: list[MonitorEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    state: MonitorState | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "events": [e.as_json() for e in self.events],
            "problems": self.problems,
            "info": self.info,
            "size": self.state.size if self.state else None,
        }


def _check_head_proof(
    proof: ChainHeadWithProof, domain: str, trust: TrustConfig | None, now: int
) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    try:
        note = parse_note(proof.note)
    except WaictError as exc:
        return [f"the head's signed note is malformed: {exc}"], notes
    try:
        ok = mpt.verify_inclusion(
            note.body.root, tree_key(domain), tree_value(proof.head), proof.tree_proof
        )
    except WaictError as exc:
        return [f"the head's tree proof is malformed: {exc}"], notes
    if not ok:
        problems.append("the head's tree proof does not place it under the signed root")
    if trust is None:
        return problems, notes
    if note.body.ts_domain not in trust.transparency_services:
        problems.append(f"the root is signed by {note.body.ts_domain!r}, which is not trusted")
    try:
        valid = verify_cosignatures(note, trust.witnesses)
    except WaictError as exc:
        return [*problems, f"a cosignature of a trusted witness fails: {exc}"], notes
    newest: dict[str, int] = {}
    for c in valid:
        newest[c.witness] = max(newest.get(c.witness, 0), c.timestamp)
    if len(newest) < trust.quorum:
        problems.append(
            f"only {len(newest)} of the {trust.quorum} required trusted witnesses cosigned the root"
        )
    for name, t in sorted(newest.items()):
        notes.append(
            f"root after {note.body.batch_count} batches cosigned by {name} "
            f"{format_age(now - t)} ago"
        )
    return problems, notes


def monitor_domain(
    domain: str,
    ts: TsClient,
    state: MonitorState,
    *,
    trust: TrustConfig | None = None,
    now: int | None = None,
) -> MonitorResult:
    """Compare the service's view of ``domain`` with ``state``; returns events, problems and
    the state to store (only meaningful when there are no problems)."""
    now = int(time.time()) if now is None else now
    result = MonitorResult(domain)
    leaf = ts.leaf(domain)
    if leaf is None:
        if state.size > 0:
            result.problems.append(
                f"{domain} is no longer in the service's tree, but {state.size} entries were "
                "seen before: the log dropped the domain"
            )
        else:
            result.info.append(f"{domain} is not enrolled at this service")
            result.state = MonitorState(domain, state.ts, checked_at=now)
        return result
    head = leaf.head
    problems, notes = _check_head_proof(leaf, domain, trust, now)
    result.problems += problems
    result.info += notes
    new_size = head.position + 1
    old = state.head
    if new_size < state.size:
        result.problems.append(
            f"the log shrank: {domain} had {state.size} entries, now {new_size} "
            "(history was rewritten)"
        )
        return result
    if new_size == state.size:
        if old is not None and head.encode() != old.encode():
            result.problems.append(
                f"the head of {domain} at position {head.position} changed since the last "
                "check (history was rewritten)"
            )
        else:
            result.info.append(f"no new entries (size {new_size})")
            result.state = MonitorState(domain, state.ts, new_size, head, state.asset_hosts, now)
        return result

    entries = ts.entries(domain, state.size, new_size)
    nodes: list[ChainNode] = []
    previous = old
    try:
        for entry in entries:
            node = append_node(previous, entry)
            nodes.append(node)
            previous = node
        verify_chain([*nodes[:-1], head] if nodes else [head], old)
    except WaictError as exc:
        result.problems.append(f"the chain of {domain} does not link: {exc}")
    if nodes and nodes[-1].encode() != head.encode():
        result.problems.append(
            f"the entries of {domain} do not rebuild the head the service proves "
            f"(position {head.position})"
        )
    if old is not None and result.problems:
        try:
            served = ts.chain_hash(domain, old.position)
        except SiteToolError:
            served = None
        if served is not None and served != old.next_chain_hash():
            result.problems.append(
                f"the service's chain hash after position {old.position} differs from the "
                "one seen at the last check: history before it was rewritten"
            )
    if result.problems:
        return result

    hosts_now = state.asset_hosts
    previous_entry: Entry | None = old.entry if old is not None else None
    for entry in entries:
        when = format_time(entry.time_created)
        if entry.is_tombstone:
            result.events.append(
                MonitorEvent(
                    "tombstone",
                    entry.position,
                    entry.time_created,
                    f"#{entry.position} {when}: transparency tombstone ({domain} unenrolled)",
                )
            )
        else:
            kind = "entry"
            text = f"#{entry.position} {when}: new entry, resource hash " + b64uencode(
                entry.resource_hash
            )
            if previous_entry is not None and previous_entry.is_tombstone:
                kind, text = "reenrolled", text + " (re-enrolled after a tombstone)"
            result.events.append(MonitorEvent(kind, entry.position, entry.time_created, text))
        if previous_entry is None or entry.asset_hosts_hash != previous_entry.asset_hosts_hash:
            hosts = ts.asset_hosts(entry.asset_hosts_hash)
            if hosts != hosts_now:
                result.events.append(
                    MonitorEvent(
                        "asset_hosts",
                        entry.position,
                        entry.time_created,
                        f"#{entry.position} {when}: asset hosts "
                        + (f"{hosts_now} -> " if hosts_now is not None else "")
                        + f"{hosts}",
                    )
                )
            hosts_now = hosts
        previous_entry = entry
    result.state = MonitorState(domain, state.ts, new_size, head, hosts_now, now)
    return result
