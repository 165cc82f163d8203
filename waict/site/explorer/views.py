"""What the explorer page shows, as JSON: the service, the watched domains, a domain's chain,
a diff of two manifests, the newest checkpoint with each witness, and the verdict on a
head's proof (computed here with :mod:`verifier`, never in the page)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier import mpt
from verifier.chain import Entry
from verifier.encoding import b64encode, b64udecode, b64uencode
from verifier.errors import WaictError
from verifier.note import Cosignature, parse_note, verify_cosignatures
from verifier.transparency import tree_key, tree_value, verify_logged
from verifier.trust import TrustConfig
from waict.common.digests import digest_name
from waict.common.errors import SiteToolError
from waict.site.log_client import TsClient
from waict.site.monitor.manifests import ManifestStore, dev_of, diff_manifests
from waict.site.monitor.watch import WatchState
from waict.site.times import format_age, format_time

#: the chain view shows at most this many entries (the newest)
MAX_ROWS = 1000


@dataclass
class Explorer:
    ts: TsClient
    state_path: Path
    trust: TrustConfig | None

    def state(self) -> WatchState:
        return WatchState.load(self.state_path, self.ts.base)

    @property
    def store(self) -> ManifestStore:
        return self.state().manifest_store

    # --- overview ----------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        state = self.state()
        try:
            status: dict[str, Any] | None = self.ts.status()
        except SiteToolError as exc:
            status = {"error": str(exc)}
        watched = [
            {
                "domain": d,
                "size": w.chain.size,
                "manifests_known": len(w.manifests),
                "checked_at": w.chain.checked_at,
            }
            for d, w in sorted(state.domains.items())
        ]
        return {
            "ts": self.ts.base,
            "status": status,
            "watched": watched,
            # docs/ts-api.md has no listing of domains: only their number, in /status
            "all_domains": None,
            "pending_alerts": [a.to_json() for a in state.pending],
            "trust": self.trust is not None,
        }

    # --- a domain's chain ---------------------------------------------------------------------
    def chain(self, domain: str, now: int) -> dict[str, Any]:
        leaf = self.ts.leaf(domain)
        if leaf is None:
            return {"domain": domain, "enrolled": False, "entries": []}
        size = leaf.head.position + 1
        start = max(0, size - MAX_ROWS)
        entries = self.ts.entries(domain, start, size)
        watch = self.state().domains.get(domain)
        known = watch.manifests if watch else {}
        hosts: dict[bytes, list[str] | None] = {}
        rows = []
        for e in entries:
            if e.asset_hosts_hash not in hosts:
                try:
                    hosts[e.asset_hosts_hash] = self.ts.asset_hosts(e.asset_hosts_hash)
                except SiteToolError:
                    hosts[e.asset_hosts_hash] = None
            rows.append(self._row(e, hosts[e.asset_hosts_hash], known, now))
        return {
            "domain": domain,
            "enrolled": True,
            "size": size,
            "first_shown": start,
            "entries": rows,
        }

    def _row(
        self, e: Entry, hosts: list[str] | None, known: dict[int, str], now: int
    ) -> dict[str, Any]:
        line = self.store.get(e.resource_hash) if e.position in known else None
        dev = dev_of(line) if line is not None else None
        return {
            "position": e.position,
            "time": e.time_created,
            "time_text": format_time(e.time_created),
            "age_text": format_age(max(0, now - e.time_created)),
            "tombstone": e.is_tombstone,
            "resource_hash": b64uencode(e.resource_hash),
            "asset_hosts": hosts,
            "manifest_known": line is not None,
            "asset_digest": digest_name(line) if line is not None else None,
            "dev": dev,
        }

    # --- diff ----------------------------------------------------------------------------------
    def diff(self, domain: str, to: int, frm: int | None) -> dict[str, Any]:
        watch = self.state().domains.get(domain)
        known = watch.manifests if watch else {}
        if to not in known:
            raise KeyError(f"the monitor has no manifest for {domain} #{to}")
        if frm is None:
            frm = max((p for p in known if p < to), default=None)
        new = self.store.get(b64udecode(known[to], what="resource hash"))
        old = None
        if frm is not None:
            if frm not in known:
                raise KeyError(f"the monitor has no manifest for {domain} #{frm}")
            old = self.store.get(b64udecode(known[frm], what="resource hash"))
        if new is None:
            raise KeyError(f"the manifest of {domain} #{to} is missing from the store")
        return {"domain": domain, "from": frm, "to": to, "diff": diff_manifests(old, new)}

    # --- checkpoint ---------------------------------------------------------------------------
    def checkpoint(self, now: int) -> dict[str, Any]:
        note = parse_note(self.ts.checkpoint())
        valid: dict[tuple[str, int], bool] = {}
        trusted_names = {w.name for w in self.trust.witnesses} if self.trust else set()
        if self.trust is not None:
            for c in verify_cosignatures(note, self.trust.witnesses):
                valid[(c.witness, c.timestamp)] = True
        sigs: list[dict[str, Any]] = []
        for s in note.signatures:
            if not isinstance(s, Cosignature):
                sigs.append({"witness": s.name, "kind": "other signature"})
                continue
            sigs.append(
                {
                    "witness": s.name,
                    "kind": "cosignature",
                    "time": s.timestamp,
                    "time_text": format_time(s.timestamp),
                    "age": now - s.timestamp,
                    "age_text": format_age(max(0, now - s.timestamp)),
                    "trusted": s.name in trusted_names,
                    "verified": valid.get((s.name, s.timestamp), False),
                }
            )
        return {
            "ts_domain": note.body.ts_domain,
            "batch_count": note.body.batch_count,
            "root": b64encode(note.body.root),
            "cosignatures": sigs,
            "quorum": self.trust.quorum if self.trust else None,
        }

    # --- proof ---------------------------------------------------------------------------------
    def proof(self, domain: str, now: int) -> dict[str, Any]:
        """The head's proof checked step by step, then as a browser would
        (:func:`verifier.transparency.verify_logged`) when the manifest is known."""
        leaf = self.ts.leaf(domain)
        if leaf is None:
            return {"domain": domain, "verdict": "not_enrolled", "checks": []}
        head = leaf.head
        checks: list[dict[str, Any]] = []
        try:
            note = parse_note(leaf.note)
        except WaictError as exc:
            return {"domain": domain, "verdict": "fail", "checks": [_check("note", False, exc)]}
        try:
            inside = mpt.verify_inclusion(
                note.body.root, tree_key(domain), tree_value(head), leaf.tree_proof
            )
            checks.append(
                _check(
                    "tree proof",
                    inside,
                    f"H(waict-ch || head #{head.position}) is under {domain} in the root after "
                    f"{note.body.batch_count} batches"
                    if inside
                    else "the proof does not place the head under the signed root",
                )
            )
        except WaictError as exc:
            checks.append(_check("tree proof", False, exc))
        result: dict[str, Any] = {
            "domain": domain,
            "head": {
                "position": head.position,
                "time_text": format_time(head.entry.time_created),
                "resource_hash": b64uencode(head.entry.resource_hash),
                "tombstone": head.entry.is_tombstone,
            },
            "batch_count": note.body.batch_count,
            "root": b64encode(note.body.root),
            "ts_domain": note.body.ts_domain,
            "cosignatures": [],
        }
        if self.trust is None:
            checks.append(_check("trust", False, "no --trust: cosignatures are not checked"))
            result.update(verdict="unchecked", checks=checks)
            return result
        trust = self.trust
        checks.append(
            _check(
                "transparency service",
                note.body.ts_domain in trust.transparency_services,
                f"{note.body.ts_domain} is "
                + (
                    "trusted"
                    if note.body.ts_domain in trust.transparency_services
                    else "NOT trusted"
                ),
            )
        )
        try:
            valid = verify_cosignatures(note, trust.witnesses)
        except WaictError as exc:
            checks.append(_check("cosignatures", False, exc))
            valid = []
        fresh = set()
        for c in valid:
            age = now - c.timestamp
            ok = -trust.max_future_skew <= age <= trust.max_cosignature_age
            if ok:
                fresh.add(c.witness)
            result["cosignatures"].append(
                {
                    "witness": c.witness,
                    "time_text": format_time(c.timestamp),
                    "age_text": format_age(max(0, age)),
                    "verified": True,
                    "fresh": ok,
                }
            )
        checks.append(
            _check(
                "quorum",
                len(fresh) >= trust.quorum,
                f"{len(fresh)} trusted witnesses cosigned within "
                f"{format_age(trust.max_cosignature_age)} ({trust.quorum} required)",
            )
        )
        line = self.store.get(head.entry.resource_hash)
        if line is not None or head.entry.is_tombstone:
            try:
                verify_logged(
                    host=domain,
                    line=line or b"",
                    proof_text=b64encode(leaf.encode()),
                    trust=trust,
                    now=now,
                    allow_tombstone_head=True,
                )
                checks.append(
                    _check("as a browser", True, "verifier.transparency.verify_logged accepts")
                )
            except WaictError as exc:
                checks.append(_check("as a browser", False, f"{exc.detail}: {exc}"))
        else:
            checks.append(
                _check(
                    "as a browser",
                    None,
                    "the head's manifest is not known here: the resource hash is not checked",
                )
            )
        failed = any(c["ok"] is False for c in checks)
        result.update(verdict="fail" if failed else "ok", checks=checks)
        return result


def _check(name: str, ok: bool | None, detail: object) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": str(detail)}
