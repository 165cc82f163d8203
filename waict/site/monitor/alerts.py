"""Monitor alerts: the kinds (a small typed table), their ids, and delivery to a webhook.

Delivery is **at least once**: an alert is written to the state file (the outbox) in the
same atomic write that advances what the monitor has seen, and marked delivered only after
the webhook answered 2xx. A crash between that answer and the next write sends it again, so
every payload carries ``id``, stable for one event (also sent as ``Idempotency-Key``):
receivers dedupe on it. See docs/monitor.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from verifier.crypto import sha256
from verifier.encoding import b64uencode


@dataclass(frozen=True)
class AlertKind:
    name: str
    scope: str  # "domain" | "service" | "witness"
    what: str


#: Every alert kind, with the exact condition that raises it (docs/monitor.md repeats it).
ALERT_KINDS: dict[str, AlertKind] = {
    k.name: k
    for k in (
        AlertKind("new_entry", "domain", "a new entry in the domain's chain (a logged manifest)"),
        AlertKind("reenrolled", "domain", "a new entry right after a transparency tombstone"),
        AlertKind("tombstone", "domain", "a transparency tombstone (the domain unenrolled)"),
        AlertKind("asset_hosts", "domain", "the entry's asset-host list differs from before"),
        AlertKind(
            "dev_ids",
            "domain",
            "the manifest behind an entry has other dev-ids than the previous known manifest",
        ),
        AlertKind(
            "dev_ids_next",
            "domain",
            "the manifest behind an entry has other dev-ids-next than the previous known one",
        ),
        AlertKind(
            "witness_behind",
            "witness",
            "a trusted witness has not cosigned the newest batches: it lags --witness-max-lag "
            "batches or more, or has lagged for longer than --witness-max-age",
        ),
        AlertKind(
            "log_stalled",
            "service",
            "a published batch waits for its quorum and the newest cosigned checkpoint's "
            "newest cosignature is older than --stall-after",
        ),
        AlertKind(
            "ts_unreachable",
            "service",
            "the transparency service cannot be reached (or answers HTTP 5xx) and has not "
            "answered for --unreachable-after seconds; once per outage",
        ),
        AlertKind(
            "ts_recovered",
            "service",
            "the transparency service answers again after an outage that was alerted",
        ),
        AlertKind(
            "unexpected",
            "domain",
            "the service misbehaved: a chain that does not link, a rewritten or shrunk "
            "history, a proof that fails",
        ),
    )
}


def alert_id(*parts: object) -> str:
    """A stable id for one event: the same inputs give the same id on every run."""
    text = "\x1f".join(str(p) for p in parts)
    return b64uencode(sha256(text.encode("utf-8")))[:22]


@dataclass
class Alert:
    id: str
    kind: str
    domain: str | None
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    created: int = 0
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}")

    def payload(self, ts: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "domain": self.domain,
            "summary": self.summary,
            "details": self.details,
            "created": self.created,
            "ts": ts,
            "source": "waict monitor",
        }

    def log_line(self) -> str:
        return f"ALERT {self.kind} {self.domain or '-'}: {self.summary} [id {self.id}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "domain": self.domain,
            "summary": self.summary,
            "details": self.details,
            "created": self.created,
            "attempts": self.attempts,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Alert:
        return cls(
            str(obj["id"]),
            str(obj["kind"]),
            obj.get("domain"),
            str(obj.get("summary", "")),
            dict(obj.get("details") or {}),
            int(obj.get("created") or 0),
            int(obj.get("attempts") or 0),
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Per delivery round: up to ``attempts`` POSTs per alert, waiting ``base * 2**k`` seconds
    (at most ``cap``) between them. What is still undelivered waits for the next round."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.base * (2**attempt)))


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    failed: str | None = None  # why the round stopped, when it did


def deliver(
    pending: list[Alert],
    url: str,
    ts: str,
    client: httpx.Client,
    *,
    policy: RetryPolicy | None = None,
    on_delivered: Callable[[Alert], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """POST each alert (oldest first) as JSON; ``on_delivered`` runs after each 2xx (the
    caller saves the state there). Stops at the first alert that still fails after the
    policy's attempts, so alerts keep their order."""
    policy = policy or RetryPolicy()
    report = DeliveryReport()
    for alert in list(pending):
        ok = False
        why = ""
        for attempt in range(policy.attempts):
            if attempt:
                sleep(policy.delay(attempt - 1))
            alert.attempts += 1
            try:
                response = client.post(
                    url,
                    content=json.dumps(alert.payload(ts), sort_keys=True).encode(),
                    headers={"Content-Type": "application/json", "Idempotency-Key": alert.id},
                )
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= response.status_code < 300:
                ok = True
                break
            why = f"HTTP {response.status_code}"
        if not ok:
            report.failed = f"webhook {url}: alert {alert.id} not delivered ({why}); retried later"
            return report
        report.delivered.append(alert.id)
        if on_delivered is not None:
            on_delivered(alert)
    return report
