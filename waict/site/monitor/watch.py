"""Watching several domains: the state file (version 2), one monitoring cycle, the outbox.

The state file holds, in one JSON document written atomically: per domain what
:mod:`waict.site.monitor.chain` saw last, the positions whose manifest is known (lines in
``<state>.d/manifests/``) or still looked for, the last known ``dev-ids``; per witness its
newest cosignature seen; the alerts not yet delivered (the outbox) and the ids of the last
delivered ones. A cycle records new alerts in the outbox *in the same write* that advances
the rest, so a restart neither loses nor repeats an alert (docs/monitor.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verifier.chain import Entry
from verifier.encoding import b64uencode
from verifier.trust import TrustConfig
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write
from waict.site.log_client import TsClient
from waict.site.monitor.alerts import Alert, alert_id
from waict.site.monitor.chain import MonitorResult, MonitorState, monitor_domain
from waict.site.monitor.health import HealthLimits, check_health
from waict.site.monitor.manifests import (
    DEV_MEMBERS,
    Candidates,
    ManifestStore,
    dev_of,
    match_entry,
    site_candidates,
)
from waict.site.times import format_age, format_time

STATE_VERSION = 2
KEEP_DELIVERED = 5000
#: how many entries without a known manifest are looked for again on later runs
MAX_UNMATCHED = 16


@dataclass
class DomainWatch:
    chain: MonitorState
    manifests: dict[int, str] = field(default_factory=dict)  # position -> b64u resource hash
    unmatched: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        obj = self.chain.to_json()
        obj.pop("version", None)
        obj["manifests"] = {str(p): rh for p, rh in sorted(self.manifests.items())}
        obj["unmatched"] = self.unmatched
        return obj


@dataclass
class WatchState:
    path: Path
    ts: str
    domains: dict[str, DomainWatch] = field(default_factory=dict)
    witnesses: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[Alert] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    #: the service's current outage: ``since`` (first failed run), ``error`` (the newest),
    #: ``alerted`` (whether ts_unreachable was raised); None while it answers
    outage: dict[str, Any] | None = None

    @property
    def manifest_store(self) -> ManifestStore:
        return ManifestStore(self.path.with_name(self.path.name + ".d") / "manifests")

    def domain(self, name: str) -> DomainWatch:
        if name not in self.domains:
            self.domains[name] = DomainWatch(MonitorState(name, self.ts))
        return self.domains[name]

    def known(self, alert_id_: str) -> bool:
        return alert_id_ in self.delivered or any(a.id == alert_id_ for a in self.pending)

    def mark_delivered(self, alert: Alert) -> None:
        self.pending = [a for a in self.pending if a.id != alert.id]
        self.delivered = [*self.delivered, alert.id][-KEEP_DELIVERED:]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "ts": self.ts,
            "domains": {d: w.to_json() for d, w in sorted(self.domains.items())},
            "witnesses": self.witnesses,
            "pending_alerts": [a.to_json() for a in self.pending],
            "delivered_alerts": self.delivered,
            "outage": self.outage,
        }

    def save(self) -> None:
        data = json.dumps(self.to_json(), indent=2, sort_keys=True).encode() + b"\n"
        atomic_write(self.path, data)

    @classmethod
    def load(cls, path: Path, ts: str) -> WatchState:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, ts)
        except (OSError, ValueError) as exc:
            raise SiteToolError(
                f"monitor state {path} is unreadable: {exc}",
                "restore it, or delete it to start over (every entry is alerted again)",
            ) from None
        if not isinstance(obj, dict):
            raise SiteToolError(f"monitor state {path} is not a monitor state")
        if obj.get("version") == 1:  # one domain, from before several were watched
            domain = str(obj.get("domain"))
            state = cls(path, str(obj.get("ts") or ts))
            state.domains[domain] = DomainWatch(MonitorState.from_json(obj, domain, ts, str(path)))
            return state
        if obj.get("version") != STATE_VERSION:
            raise SiteToolError(f"monitor state {path} is not a version-2 monitor state")
        state = cls(path, str(obj.get("ts") or ts))
        for domain, d in (obj.get("domains") or {}).items():
            chain = MonitorState.from_json(d, domain, state.ts, str(path))
            state.domains[domain] = DomainWatch(
                chain,
                {int(p): str(rh) for p, rh in (d.get("manifests") or {}).items()},
                [int(p) for p in d.get("unmatched") or []],
            )
        state.witnesses = dict(obj.get("witnesses") or {})
        state.pending = [Alert.from_json(a) for a in obj.get("pending_alerts") or []]
        state.delivered = [str(i) for i in obj.get("delivered_alerts") or []]
        outage = obj.get("outage")
        state.outage = dict(outage) if isinstance(outage, dict) else None
        return state

    def add_alerts(self, alerts: list[Alert], cycle: CycleResult) -> None:
        """Put the alerts not raised before into the outbox (and the cycle's new alerts)."""
        for alert in alerts:
            if not self.known(alert.id):
                self.pending.append(alert)
                cycle.new_alerts.append(alert)


@dataclass
class WatchConfig:
    domains: list[str]
    trust: TrustConfig | None = None
    origins: dict[str, str] = field(default_factory=dict)  # domain -> site origin
    manifest_digests: list[str] = field(default_factory=list)
    limits: HealthLimits = field(default_factory=HealthLimits)
    find_manifests: bool = True

    def origin(self, domain: str) -> str:
        return self.origins.get(domain, f"https://{domain}")


@dataclass
class CycleResult:
    results: dict[str, MonitorResult] = field(default_factory=dict)
    new_alerts: list[Alert] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    unreachable: str | None = None  # the service could not be read this cycle: why

    @property
    def exit_code(self) -> int:
        if self.unreachable is not None:
            return 2
        return 1 if any(r.problems for r in self.results.values()) else 0


_EVENT_KINDS = {"entry": "new_entry", "reenrolled": "reenrolled", "tombstone": "tombstone"}


def _domain_alerts(
    ts: TsClient, domain: str, watch: DomainWatch, result: MonitorResult, now: int
) -> list[Alert]:
    out: list[Alert] = []
    if result.problems:
        for problem in result.problems:
            out.append(
                Alert(
                    alert_id(ts.base, domain, "unexpected", watch.chain.size, problem),
                    "unexpected",
                    domain,
                    problem,
                    {"seen_size": watch.chain.size},
                    now,
                )
            )
        return out
    for event in result.events:
        kind = _EVENT_KINDS.get(event.kind, "asset_hosts")
        out.append(
            Alert(
                alert_id(ts.base, domain, kind, event.position),
                kind,
                domain,
                event.message,
                {"position": event.position, "time_created": event.time_created},
                now,
            )
        )
    return out


def _match_manifests(
    ts: TsClient,
    domain: str,
    watch: DomainWatch,
    store: ManifestStore,
    config: WatchConfig,
    client: httpx.Client,
    now: int,
    info: list[str],
) -> list[Alert]:
    """Find the manifests of the entries still looked for; dev-ids alerts for each found."""
    if not watch.unmatched:
        return []
    first = min(watch.unmatched)
    entries: dict[int, Entry] = {e.position: e for e in ts.entries(domain, first, watch.chain.size)}
    candidates: Candidates | None = None
    hosts_cache: dict[bytes, list[str]] = {}
    fetch_cache: dict[tuple[str, str], bytes | None] = {}
    alerts: list[Alert] = []
    still: list[int] = []
    for position in sorted(watch.unmatched):
        entry = entries.get(position)
        if entry is None or entry.is_tombstone:
            continue
        line = store.get(entry.resource_hash)
        if line is None:
            if candidates is None:
                candidates = site_candidates(config.origin(domain), client, config.manifest_digests)
                info += [f"{domain}: {n}" for n in candidates.notes]
            if entry.asset_hosts_hash not in hosts_cache:
                hosts_cache[entry.asset_hosts_hash] = ts.asset_hosts(entry.asset_hosts_hash)
            hosts = hosts_cache[entry.asset_hosts_hash]
            line, note = match_entry(entry.resource_hash, hosts, candidates, client, fetch_cache)
            if note:
                info.append(f"{domain} #{position}: {note}")
            if line is None:
                still.append(position)
                continue
            store.put(line)
        info.append(f"{domain} #{position}: manifest found")
        previous = max((p for p in watch.manifests if p < position), default=None)
        watch.manifests[position] = b64uencode(entry.resource_hash)
        if previous is None:
            continue  # nothing known to compare with: this manifest is the baseline
        old = store.get(_rh_bytes(watch.manifests[previous]))
        before = dev_of(old) if old is not None else dict.fromkeys(DEV_MEMBERS)
        after = dev_of(line)
        for name in DEV_MEMBERS:
            if before[name] != after[name]:
                kind = name.replace("-", "_")
                alerts.append(
                    Alert(
                        alert_id(ts.base, domain, kind, position),
                        kind,
                        domain,
                        f"#{position}: {name} {before[name]} -> {after[name]}",
                        {
                            "position": position,
                            "compared_with": previous,
                            "before": before[name],
                            "after": after[name],
                        },
                        now,
                    )
                )
    newest_known = max(watch.manifests, default=-1)
    gave_up = [p for p in still if p < newest_known]
    if gave_up:
        info.append(f"{domain}: no manifest found for {gave_up}; a later one was found")
    kept = [p for p in still if p > newest_known]
    watch.unmatched = kept[-MAX_UNMATCHED:]
    return alerts


def _rh_bytes(text: str) -> bytes:
    from verifier.encoding import b64udecode

    return b64udecode(text, what="resource hash")


def run_cycle(
    state: WatchState, config: WatchConfig, ts: TsClient, client: httpx.Client, now: int
) -> CycleResult:
    """One pass over every watched domain and the service's health. New alerts are added
    to ``state.pending`` (not yet saved, not yet delivered)."""
    cycle = CycleResult()
    alerts: list[Alert] = []
    for domain in config.domains:
        watch = state.domain(domain)
        result = monitor_domain(domain, ts, watch.chain, trust=config.trust, now=now)
        cycle.results[domain] = result
        alerts += _domain_alerts(ts, domain, watch, result, now)
        if result.problems or result.state is None:
            continue
        old_size = watch.chain.size
        watch.chain = result.state
        if result.state.size < old_size:  # dropped and not enrolled: start over
            watch.manifests, watch.unmatched = {}, []
        watch.unmatched += [e.position for e in result.events if e.kind in ("entry", "reenrolled")]
        if config.find_manifests:
            try:
                alerts += _match_manifests(
                    ts, domain, watch, state.manifest_store, config, client, now, cycle.info
                )
            except SiteToolError as exc:
                cycle.info.append(f"{domain}: manifests not matched this time: {exc}")
    if config.trust is not None:
        health = check_health(ts, config.trust, state.witnesses, config.limits, now)
        state.witnesses = health.witnesses
        alerts += health.alerts
        cycle.info += health.info
    state.add_alerts(alerts, cycle)
    return cycle


def outage_cycle(
    state: WatchState, ts_base: str, error: str, limits: HealthLimits, now: int
) -> CycleResult:
    """A cycle cut short because the service is down (the caller reloaded ``state``, so
    nothing of the cut cycle is kept): the outage is recorded, and ``ts_unreachable`` is
    raised once it lasted ``limits.unreachable_after`` seconds, once per outage (its id
    names the outage's start, kept in the state across restarts)."""
    cycle = CycleResult(unreachable=error)
    outage = dict(state.outage or {"since": now, "alerted": False})
    outage["error"] = error
    since = int(outage["since"])
    if not outage.get("alerted") and now - since >= limits.unreachable_after:
        outage["alerted"] = True
        state.add_alerts(
            [
                Alert(
                    alert_id(ts_base, "ts_unreachable", since),
                    "ts_unreachable",
                    None,
                    f"the transparency service {ts_base} is unreachable since "
                    f"{format_time(since)}: "
                    + error.removeprefix(f"transparency service {ts_base}: "),
                    {"since": since, "error": error},
                    now,
                )
            ],
            cycle,
        )
    state.outage = outage
    return cycle


def end_outage(state: WatchState, ts_base: str, cycle: CycleResult, now: int) -> None:
    """The service answered a whole cycle: close the outage, if any; ``ts_recovered`` when
    it had been alerted, otherwise an info line."""
    if state.outage is None:
        return
    since = int(state.outage["since"])
    text = (
        f"the transparency service {ts_base} answers again, after an outage of "
        f"{format_age(now - since)} (since {format_time(since)})"
    )
    if state.outage.get("alerted"):
        state.add_alerts(
            [
                Alert(
                    alert_id(ts_base, "ts_recovered", since),
                    "ts_recovered",
                    None,
                    text,
                    {"since": since, "down_for": now - since},
                    now,
                )
            ],
            cycle,
        )
    else:
        cycle.info.append(text)
    state.outage = None
