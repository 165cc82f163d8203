"""``waict monitor`` alerts on a real ecosystem: the transparency service, three witnesses
(quorum 2), an asset host, the sites, and a real webhook receiver, all on loopback. The
monitor reads the service through a proxy that can lie (a misbehaving service: the
``unexpected`` alert) and can go off the network (an outage: ``ts_unreachable`` and
``ts_recovered``).

The monitor is driven through every alert kind, with restarts (a fresh load of the state
file every cycle, and one cycle as a separate ``waict monitor`` process); the receiver
counts raw deliveries (no dedupe), and each alert must arrive exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from monitor_world import MonitorWorld, Receiver, TsProxy, manifest_line
from servers import ServerThread, free_port

from verifier.trust import parse_trust
from waict.site.http_client import make_client
from waict.site.monitor.alerts import ALERT_KINDS, RetryPolicy
from waict.site.monitor.command import monitor_once
from waict.site.monitor.health import HealthLimits
from waict.site.monitor.watch import CycleResult, WatchConfig, WatchState

A = "a.waict.test"
B = "b.waict.test"
FAST = RetryPolicy(attempts=4, base=0.05, cap=0.2)


def _key(alert: dict[str, Any]) -> tuple[str, str | None, Any]:
    d = alert["details"]
    if alert["kind"] == "unexpected":  # one per distinct problem
        return (alert["kind"], alert["domain"], alert["summary"])
    return (alert["kind"], alert["domain"], d.get("position", d.get("witness")))


class Driver:
    def __init__(self, world: MonitorWorld, tmp: Path, webhook: str, domains: list[str]) -> None:
        self.world = world
        self.proxy = TsProxy(world.ts.url, world.servers)  # the monitor's view of the service
        self.state = tmp / "monitor.json"
        self.webhook = webhook
        self.trust_file = tmp / "trust.json"
        self.trust_file.write_text(json.dumps(world.trust()))
        self.config = WatchConfig(
            domains,
            parse_trust(world.trust()),
            {d: world.origin(d) for d in domains},
            limits=HealthLimits(witness_max_lag=2, witness_max_age=3600, stall_after=900),
        )
        self.resolve = {d: "127.0.0.1" for d in domains}
        self.last = CycleResult()  # the newest cycle of run()

    def run(self, now: int | None = None, *, exit_code: int = 0) -> list[str]:
        """One cycle, as a monitor that just started (the state is loaded from the file)."""
        with make_client(timeout=30, resolve=self.resolve) as client:
            cycle, _state = monitor_once(
                self.state,
                self.proxy.url,
                self.config,
                client,
                webhook=self.webhook,
                retry=FAST,
                now=now,
                out=sys.stderr,
            )
        assert cycle.exit_code == exit_code, [r.problems for r in cycle.results.values()]
        self.last = cycle
        return [a.kind for a in cycle.new_alerts]

    def run_process(self) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            "-m",
            "waict.cli",
            "monitor",
            "--watch",
            *self.config.domains,
            "--ts",
            self.proxy.url,
            "--state",
            str(self.state),
            "--trust",
            str(self.trust_file),
            "--alert-webhook",
            self.webhook,
            "--witness-max-lag",
            "2",
            "--interval",
            "0.2",
            "--cycles",
            "2",
        ]
        for d in self.config.domains:
            argv += ["--origin", f"{d}={self.world.origin(d)}", "--resolve", f"{d}=127.0.0.1"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def test_every_alert_kind_arrives_exactly_once(tmp_path: Path, servers: list[ServerThread]) -> None:
    world = MonitorWorld(tmp_path, servers)
    receiver = Receiver()
    driver = Driver(world, tmp_path, world.start_receiver(receiver), [A, B])
    files = {"app.js": b"v0", "style.css": b"body{}"}

    world.enroll(A, manifest_line(A, files))
    world.enroll(B, manifest_line(B, {"index.js": b"b0"}))
    world.wait_cosigned_by_all()
    assert sorted(driver.run()) == ["asset_hosts", "asset_hosts", "new_entry", "new_entry"]
    assert driver.run() == []  # nothing new, nothing again

    # dev-ids appear: the manifest is found on the asset host and compared with #0
    files["app.js"] = b"v1"
    r = world.append(A, manifest_line(A, files, **{"dev-ids": ["alice@example.com"]}))
    assert r.status_code == 200
    world.wait_cosigned_by_all()
    assert sorted(driver.run()) == ["dev_ids", "new_entry"]

    # dev-ids-next, seen by a separate `waict monitor` process looping twice
    files["new.js"] = b"n"
    dev = {"dev-ids": ["alice@example.com"], "dev-ids-next": ["bob@example.com"]}
    assert world.append(A, manifest_line(A, files, **dev)).status_code == 200
    world.wait_cosigned_by_all()
    done = driver.run_process()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [x for x in done.stdout.splitlines() if x.startswith("ALERT ")]
    assert sorted(x.split()[1] for x in lines) == ["dev_ids_next", "new_entry"], done.stdout
    assert all("[id " in x for x in lines)
    assert f"{B}: nothing new" in done.stdout and f"{A}: nothing new" in done.stdout

    # a witness falls behind: w3 stops, two more batches are cosigned without it
    world.stop_witness("w3.example")
    files["app.js"] = b"v3"
    assert world.append(A, manifest_line(A, files, **dev)).status_code == 200
    assert driver.run() == ["new_entry"]  # one batch behind: not yet
    files["app.js"] = b"v4"
    assert world.append(A, manifest_line(A, files, **dev)).status_code == 200
    assert sorted(driver.run()) == ["new_entry", "witness_behind"]
    assert world.append(B, manifest_line(B, {"index.js": b"b1"})).status_code == 200
    assert driver.run() == ["new_entry"]  # w3 is further behind: same episode, no repeat

    # a tombstone, then a re-enrollment (the same dev members: no dev-ids alert)
    assert world.append(A, None).status_code == 200
    assert driver.run() == ["tombstone"]
    files["app.js"] = b"v6"
    assert world.append(A, manifest_line(A, files, **dev)).status_code == 200
    assert driver.run() == ["reenrolled"]

    # the service lies: A's leaf is B's head. One alert per distinct problem, not repeated
    # while the lie lasts; the state is not advanced
    driver.proxy.lie(A, B)
    unexpected = driver.run(exit_code=1)
    assert unexpected and set(unexpected) == {"unexpected"}
    problems = [a.summary for a in driver.last.new_alerts]
    assert any("tree proof" in p for p in problems), problems
    assert driver.run(exit_code=1) == []
    driver.proxy.lie(A, None)
    assert driver.run() == []  # honest again: nothing new happened

    # the service is off the network: one alert for the outage, whatever the restarts (a
    # separate process, then more runs), and one recovery line when it answers again
    driver.proxy.stop()
    assert driver.run(exit_code=2) == ["ts_unreachable"]
    assert driver.last.unreachable is not None and "refused" in driver.last.unreachable
    done = driver.run_process()
    assert done.returncode == 2, done.stdout + done.stderr
    assert not [x for x in done.stdout.splitlines() if x.startswith("ALERT ")], done.stdout
    assert "is the transparency service running" in done.stderr
    assert driver.run(exit_code=2) == []
    driver.proxy.start()
    assert driver.run() == ["ts_recovered"]
    assert driver.run() == []

    # the log stalls: w2 stops too, a batch waits for its quorum
    world.stop_witness("w2.example")
    world.append_uncosigned(B, manifest_line(B, {"index.js": b"b2"}))
    status = world.status()
    assert status["batches"] > status["cosigned"]
    assert driver.run() == []  # not for long yet
    later = int(time.time()) + 1000
    assert driver.run(now=later) == ["log_stalled"]
    assert driver.run(now=later + 10) == []

    counts = Counter(_key(a) for a in receiver.received)
    assert counts == {
        ("new_entry", A, 0): 1,
        ("asset_hosts", A, 0): 1,
        ("new_entry", B, 0): 1,
        ("asset_hosts", B, 0): 1,
        ("new_entry", A, 1): 1,
        ("dev_ids", A, 1): 1,
        ("new_entry", A, 2): 1,
        ("dev_ids_next", A, 2): 1,
        ("new_entry", A, 3): 1,
        ("new_entry", A, 4): 1,
        ("witness_behind", None, "w3.example"): 1,
        ("new_entry", B, 1): 1,
        ("tombstone", A, 5): 1,
        ("reenrolled", A, 6): 1,
        **{("unexpected", A, p): 1 for p in problems},
        ("ts_unreachable", None, None): 1,
        ("ts_recovered", None, None): 1,
        ("log_stalled", None, None): 1,
    }
    assert {a["kind"] for a in receiver.received} == set(ALERT_KINDS)  # every kind, once
    assert len({a["id"] for a in receiver.received}) == len(receiver.received)
    assert {a["kind"] for a in receiver.received} <= set(ALERT_KINDS)
    dev = next(a for a in receiver.received if a["kind"] == "dev_ids")
    assert dev["details"]["before"] is None and dev["details"]["after"] == ["alice@example.com"]
    saved = json.loads(driver.state.read_text())
    assert saved["pending_alerts"] == [] and len(saved["delivered_alerts"]) == len(counts)
    assert saved["outage"] is None
    assert sorted(saved["domains"][A]["manifests"]) == ["0", "1", "2", "3", "4", "6"]


@pytest.mark.parametrize("fail_first", [2, 9])
def test_delivery_retries_then_keeps_the_alert(
    tmp_path: Path, servers: list[ServerThread], fail_first: int
) -> None:
    """A receiver that fails first: within one round the alert is retried with backoff
    (2 failures < 4 attempts); when a round gives up (9 failures) the alert stays in the
    outbox and a later run, after a restart, delivers it, once."""
    world = MonitorWorld(tmp_path, servers)
    receiver = Receiver(fail_first=fail_first)
    driver = Driver(world, tmp_path, world.start_receiver(receiver), [A])
    world.enroll(A, manifest_line(A, {"app.js": b"v0"}))
    world.wait_cosigned_by_all()
    driver.run()
    pending = WatchState.load(driver.state, world.ts.url).pending
    if fail_first == 2:
        assert receiver.failed == 2 and pending == []
    else:
        assert receiver.failed == FAST.attempts and [a.kind for a in pending] == [
            "new_entry",
            "asset_hosts",
        ]
        assert pending[0].attempts == FAST.attempts
        while receiver.failed < fail_first:  # later rounds, each a restart
            assert driver.run() == []
        assert WatchState.load(driver.state, world.ts.url).pending == []
    assert sorted(_key(a) for a in receiver.received) == [
        ("asset_hosts", A, 0),
        ("new_entry", A, 0),
    ]


def test_monitor_serves_the_explorer_while_it_loops(
    tmp_path: Path, servers: list[ServerThread]
) -> None:
    world = MonitorWorld(tmp_path, servers)
    world.enroll(A, manifest_line(A, {"app.js": b"v0"}))
    world.wait_cosigned_by_all()
    (tmp_path / "trust.json").write_text(json.dumps(world.trust()))
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "waict.cli",
        "monitor",
        A,
        "--ts",
        world.ts.url,
        "--state",
        str(tmp_path / "monitor.json"),
        "--trust",
        str(tmp_path / "trust.json"),
        "--origin",
        f"{A}={world.origin(A)}",
        "--resolve",
        f"{A}=127.0.0.1",
        "--interval",
        "0.5",
        "--serve",
        f"127.0.0.1:{port}",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        overview: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                overview = httpx.get(f"http://127.0.0.1:{port}/api/overview", timeout=10).json()
            except httpx.HTTPError:
                overview = {}
            if overview.get("watched"):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)
        assert overview["watched"][0]["domain"] == A
        assert overview["watched"][0]["manifests_known"] == 1
        proof = httpx.get(f"http://127.0.0.1:{port}/api/proof/{A}", timeout=30).json()
        assert proof["verdict"] == "ok", proof
        bad = httpx.get(f"http://127.0.0.1:{port}/api/chain/a%20b", timeout=30)
        assert bad.status_code == 400
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
