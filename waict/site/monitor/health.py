"""The service's health as the monitor sees it: witnesses that fall behind, a log that stops
growing. Reads ``GET /status`` (batches published, newest cosigned count) and
``GET /checkpoint`` (the newest cosigned note, with every cosignature it gathered).

Definitions (docs/monitor.md):

- a trusted witness's *newest cosigned count* ``C_w`` is the largest batch count of a
  checkpoint carrying its valid cosignature, as seen by this monitor (kept in the state);
  its *lag* is ``batches - C_w``. It is **behind** when ``lag >= max_lag``, or when
  ``lag >= 1`` and it has been lagging for longer than ``max_age``: since the earliest of
  the first run that saw it lag and the newest cosignature of the other witnesses on a
  checkpoint it is missing from. An idle log (no new batch) never makes a witness behind.
  One alert per episode: the id names the witness and ``C_w``.
- the log is **stalled** when ``batches > cosigned`` (a published batch still waits for its
  quorum) and the newest cosignature on the newest cosigned checkpoint is older than
  ``stall_after``. An idle log is not stalled. One alert per cosigned count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier.errors import WaictError
from verifier.note import parse_note, verify_cosignatures
from verifier.trust import TrustConfig
from waict.common.errors import SiteToolError
from waict.site.log_client import TsClient
from waict.site.monitor.alerts import Alert, alert_id
from waict.site.times import format_age


@dataclass(frozen=True)
class HealthLimits:
    witness_max_lag: int = 3
    witness_max_age: int = 3600
    stall_after: int = 900
    unreachable_after: int = 0


@dataclass
class HealthResult:
    alerts: list[Alert] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    witnesses: dict[str, dict[str, Any]] = field(default_factory=dict)


def check_health(
    ts: TsClient,
    trust: TrustConfig,
    memory: dict[str, dict[str, Any]],
    limits: HealthLimits,
    now: int,
) -> HealthResult:
    """Alerts for witnesses behind and a stalled log; ``result.witnesses`` is the memory to
    store (per witness: ``count``, ``time``, ``behind_since``)."""
    result = HealthResult()
    try:
        status = ts.status()
        batches = int(status.get("batches") or 0)
        cosigned = int(status.get("cosigned") or 0)
    except (SiteToolError, TypeError, ValueError) as exc:
        result.info.append(f"service status unavailable: {exc}")
        result.witnesses = memory
        return result
    if cosigned == 0:
        result.info.append("the service has no cosigned checkpoint yet")
        result.witnesses = memory
        return result
    try:
        note = parse_note(ts.checkpoint())
        valid = verify_cosignatures(note, trust.witnesses)
    except (SiteToolError, WaictError) as exc:
        result.info.append(f"checkpoint unusable: {exc}")
        result.witnesses = memory
        return result
    count = note.body.batch_count
    on_note: dict[str, int] = {}
    for c in valid:
        on_note[c.witness] = max(on_note.get(c.witness, 0), c.timestamp)
    newest_on_note = max(on_note.values(), default=0)

    for w in sorted({w.name for w in trust.witnesses}):
        seen = dict(memory.get(w) or {})
        c_w, t_w = int(seen.get("count") or 0), int(seen.get("time") or 0)
        if w in on_note and count >= c_w:
            c_w, t_w = count, on_note[w]
        lag = batches - c_w
        since = seen.get("behind_since")
        if lag >= 1:
            start = now if since is None else int(since)
            if w not in on_note and on_note and count > c_w:
                start = min(start, newest_on_note)
            since = start
        else:
            since = None
        result.witnesses[w] = {"count": c_w, "time": t_w, "behind_since": since}
        if lag >= 1:
            age = now - int(since) if since is not None else 0
            result.info.append(
                f"witness {w}: newest cosignature on {c_w} batches "
                f"({format_age(now - t_w) + ' ago' if t_w else 'never seen'}), "
                f"{lag} batches behind for {format_age(age)}"
            )
            if lag >= limits.witness_max_lag or age > limits.witness_max_age:
                result.alerts.append(
                    Alert(
                        alert_id(ts.base, "witness_behind", w, c_w),
                        "witness_behind",
                        None,
                        f"witness {w} is {lag} batches behind (newest cosigned {c_w} of "
                        f"{batches} batches, lagging for {format_age(age)})",
                        {
                            "witness": w,
                            "cosigned_count": c_w,
                            "cosigned_at": t_w or None,
                            "batches": batches,
                            "lag": lag,
                            "lagging_for": age,
                        },
                        now,
                    )
                )
    age = now - newest_on_note
    if batches > cosigned and age > limits.stall_after:
        result.alerts.append(
            Alert(
                alert_id(ts.base, "log_stalled", cosigned),
                "log_stalled",
                None,
                f"the log is stalled: {batches - cosigned} published batches wait for a quorum; "
                f"newest cosigned checkpoint ({cosigned} batches) is {format_age(age)} old",
                {
                    "batches": batches,
                    "cosigned": cosigned,
                    "checkpoint_age": age,
                    "waiting_batches": batches - cosigned,
                },
                now,
            )
        )
    return result
