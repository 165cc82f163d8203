"""The monitor's rules without a network: witness lag and log stall (health), alert kinds and
ids, webhook retries and backoff, manifest diffs. The whole monitor on real servers is
tests/loopback/test_monitor_alerts.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from world import seed_for

from verifier.crypto import ed25519_public_key
from verifier.note import NoteBody, Witness, cosign
from verifier.trust import TrustConfig
from waict.site.monitor.alerts import ALERT_KINDS, Alert, RetryPolicy, alert_id, deliver
from waict.site.monitor.health import HealthLimits, check_health
from waict.site.monitor.manifests import dev_of, diff_manifests
from waict.site.monitor.watch import CycleResult, WatchState, end_outage, outage_cycle

W = ("w1.example", "w2.example", "w3.example")
T0 = 1_790_000_000
TRUST = TrustConfig(
    ("ts.example",), tuple(Witness(n, ed25519_public_key(seed_for(n))) for n in W), 2
)
LIMITS = HealthLimits(witness_max_lag=3, witness_max_age=3600, stall_after=900)


class FakeTs:
    """Only what :func:`check_health` reads: ``/status`` and ``/checkpoint``."""

    base = "http://ts.test"

    def __init__(self, batches: int, count: int, signers: dict[str, int]) -> None:
        self.batches, self.count, self.signers = batches, count, signers

    def status(self) -> dict[str, Any]:
        return {"batches": self.batches, "cosigned": self.count}

    def checkpoint(self) -> bytes:
        body = NoteBody.for_service("ts.example", self.count, b"\x07" * 32)
        lines = "".join(
            cosign(body, n, seed_for(n), t).line() for n, t in sorted(self.signers.items())
        )
        return body.encode() + b"\n" + lines.encode()


def health(ts: FakeTs, memory: dict[str, Any], now: int) -> tuple[list[Alert], dict[str, Any]]:
    result = check_health(ts, TRUST, memory, LIMITS, now)  # type: ignore[arg-type]
    return result.alerts, result.witnesses


def test_an_idle_log_raises_nothing_however_old() -> None:
    ts = FakeTs(5, 5, dict.fromkeys(W, T0))
    alerts, memory = health(ts, {}, T0 + 30 * 86400)
    assert alerts == [] and memory["w1.example"] == {"count": 5, "time": T0, "behind_since": None}


def test_witness_behind_by_age_then_by_lag_once_per_episode() -> None:
    memory = {"w3.example": {"count": 4, "time": T0 - 50}}
    ts = FakeTs(5, 5, {"w1.example": T0, "w2.example": T0})
    alerts, memory = health(ts, memory, T0 + 100)
    assert alerts == []  # one batch behind for 100 s
    assert memory["w3.example"]["behind_since"] == T0  # the others cosigned without it then
    alerts, memory = health(ts, memory, T0 + 3601)
    assert [a.kind for a in alerts] == ["witness_behind"]
    assert alerts[0].details["lag"] == 1 and alerts[0].details["witness"] == "w3.example"
    first_id = alerts[0].id
    ts.batches = ts.count = 7  # further behind: the same episode, the same id
    again, memory = health(ts, memory, T0 + 3700)
    assert [a.id for a in again] == [first_id]
    ts.signers["w3.example"] = T0 + 3800  # it catches up: the episode ends
    alerts, memory = health(ts, memory, T0 + 3900)
    assert alerts == [] and memory["w3.example"]["behind_since"] is None
    ts.batches = ts.count = 10  # and falls 3 batches behind at once: a new episode
    ts.signers.pop("w3.example")
    alerts, memory = health(ts, memory, T0 + 3901)
    assert [a.kind for a in alerts] == ["witness_behind"] and alerts[0].id != first_id


def test_log_stalled_only_when_a_batch_waits_for_long() -> None:
    ts = FakeTs(6, 5, dict.fromkeys(W, T0))
    assert health(ts, {}, T0 + 899)[0] == []  # not for long yet; nor are witnesses behind
    alerts, _ = health(ts, {}, T0 + 901)
    stalled = [a for a in alerts if a.kind == "log_stalled"]
    assert len(stalled) == 1 and stalled[0].details["waiting_batches"] == 1
    assert stalled[0].id == alert_id(ts.base, "log_stalled", 5)


def test_alert_kinds_are_a_closed_table() -> None:
    assert set(ALERT_KINDS) >= {
        "new_entry",
        "tombstone",
        "dev_ids",
        "dev_ids_next",
        "witness_behind",
        "log_stalled",
        "reenrolled",
        "unexpected",
        "ts_unreachable",
        "ts_recovered",
    }
    with pytest.raises(ValueError):
        Alert("x", "something_else", None, "?")
    assert alert_id("a", 1) == alert_id("a", 1) != alert_id("a", 2)


def test_delivery_retries_with_bounded_backoff_and_stops_in_order() -> None:
    calls: list[dict[str, Any]] = []
    failures = {"n": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        assert request.headers["idempotency-key"] == calls[-1]["id"]
        if failures["n"]:
            failures["n"] -= 1
            return httpx.Response(503)
        return httpx.Response(200)

    slept: list[float] = []
    alerts = [Alert(f"id{i}", "new_entry", "d.test", f"#{i}", {"position": i}) for i in range(2)]
    delivered: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = deliver(
            alerts,
            "http://hook.test/",
            "http://ts.test",
            client,
            policy=RetryPolicy(attempts=4, base=1.0, cap=1.5),
            on_delivered=lambda a: delivered.append(a.id),
            sleep=slept.append,
        )
    assert report.failed is None and delivered == ["id0", "id1"]
    assert slept == [1.0, 1.5]  # base * 2**k, capped
    assert [c["id"] for c in calls] == ["id0", "id0", "id0", "id1"]
    assert calls[0]["kind"] == "new_entry" and calls[0]["details"] == {"position": 0}

    failures["n"] = 100
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = deliver(alerts, "http://hook.test/", "t", client, sleep=slept.append)
    assert report.failed is not None and "id0" in report.failed
    assert alerts[0].attempts == 3 + RetryPolicy().attempts and alerts[1].attempts == 1


def test_manifest_diff_and_dev_members() -> None:
    old = json.dumps(
        {"hashes": {"https://a/x.js": "A", "https://a/y.js": "B", "https://a/z.js": "C"}}
    ).encode()
    new = json.dumps(
        {
            "hashes": {"https://a/x.js": "A", "https://a/y.js": "B2", "https://a/n.js": "N"},
            "dev-ids": ["bob@example.com"],
            "resource_delimiter": "\n",
        }
    ).encode()
    d = diff_manifests(old, new)
    assert d["hashes"] == {
        "added": {"https://a/n.js": "N"},
        "removed": {"https://a/z.js": "C"},
        "changed": {"https://a/y.js": ["B", "B2"]},
    }
    assert d["unchanged"] == 1
    assert d["dev"]["dev-ids"]["added"] == ["bob@example.com"]
    assert d["other"] == {"resource_delimiter": {"before": None, "after": "\n"}}
    assert dev_of(new) == {"dev-ids": ["bob@example.com"], "dev-ids-next": None}
    assert diff_manifests(None, new)["hashes"]["added"] == {
        "https://a/n.js": "N",
        "https://a/x.js": "A",
        "https://a/y.js": "B2",
    }


def test_an_outage_is_alerted_once_after_the_threshold_and_its_end_once(tmp_path: Any) -> None:
    path = tmp_path / "monitor.json"
    limits = HealthLimits(unreachable_after=300)
    ts = "http://ts.test"

    def down(now: int) -> list[str]:
        state = WatchState.load(path, ts)  # every run a restart
        cycle = outage_cycle(state, ts, f"transparency service {ts}: refused", limits, now)
        state.save()
        assert cycle.exit_code == 2 and cycle.unreachable is not None
        return [a.kind for a in cycle.new_alerts]

    def up(now: int) -> tuple[list[str], list[str]]:
        state = WatchState.load(path, ts)
        cycle = CycleResult()
        end_outage(state, ts, cycle, now)
        state.save()
        assert state.outage is None
        return [a.kind for a in cycle.new_alerts], cycle.info

    assert down(T0) == []  # not for long yet
    assert down(T0 + 299) == []
    assert down(T0 + 300) == ["ts_unreachable"]
    assert down(T0 + 900) == []  # the same outage
    alerts, _ = up(T0 + 960)
    assert alerts == ["ts_recovered"]
    assert up(T0 + 1000) == ([], [])  # no outage, nothing to say
    # a short outage, under the threshold: no alert, a line when it ends
    assert down(T0 + 2000) == []
    alerts, info = up(T0 + 2060)
    assert alerts == [] and "answers again, after an outage of" in info[0]
    # a second long outage is a new episode
    assert down(T0 + 3000) == [] and down(T0 + 3400) == ["ts_unreachable"]
    pending = WatchState.load(path, ts).pending
    assert [a.kind for a in pending] == ["ts_unreachable", "ts_recovered", "ts_unreachable"]
    assert len({a.id for a in pending}) == 3
