"""``waict publish`` killed (SIGKILL, a real subprocess) at every step boundary, then run
again: it converges to exactly one log entry per manifest, and the site is installed
(issue 10). The kill points are named by ``WAICT_TEST_PUBLISH_CRASH_AT`` (tests only):
after each step, after the write-ahead intent, while the log call is in flight, and between
the writes of the install step. The real service and a witness run in this process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from servers import ServerThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from world import seed_for

from verifier.chain import Entry, resource_hash
from verifier.crypto import ed25519_public_key
from verifier.note import Witness
from verifier.proof import ChainHeadWithProof
from waict.log.api import create_ts_app, http_enroll_fetcher
from waict.log.http import system_clock
from waict.log.service import TransparencyService
from waict.log.store import SqliteStore
from waict.log.witness import WitnessService, create_witness_app
from waict.site.publish.faults import CRASH_ENV
from waict.site.state import SiteState

TS_NAME = "ts.example"
WITNESS = "w1.example"
STEPS = ["check_options", "build", "asset_hosts", "upload"]
AROUND_THE_LOG = ["intent", "log:sent", "log", "prove"]
INSTALL = ["install:files", "install:history", "install:meta"]


class Services:
    def __init__(
        self, tmp: Path, servers: list[ServerThread], batch_interval: float = 0.05
    ) -> None:
        self.sites: dict[str, Path] = {}

        async def well_known(request: Request) -> Response:
            root = self.sites.get(request.headers["host"].split(":")[0])
            doc = root / ".well-known" / "waict-enroll" if root else None
            if doc is None or not doc.exists():
                return Response(status_code=404)
            return Response(doc.read_bytes(), media_type="application/json")

        site = ServerThread(Starlette(routes=[Route("/.well-known/waict-enroll", well_known)]))
        servers.append(site.start())
        service = TransparencyService(
            SqliteStore(tmp / "ts.sqlite"),
            TS_NAME,
            [Witness(WITNESS, ed25519_public_key(seed_for(WITNESS)))],
            1,
            system_clock(),
            http_enroll_fetcher("http", site.port, connect="127.0.0.1"),
            batch_interval=batch_interval,
            append_timeout=30,
        )
        self.ts = ServerThread(create_ts_app(service)).start()
        servers.append(self.ts)
        witness = WitnessService(
            tmp / "w.sqlite",
            WITNESS,
            seed_for(WITNESS),
            self.ts.url,
            TS_NAME,
            system_clock(),
            poll_wait=1.0,
        )
        servers.append(ServerThread(create_witness_app(witness)).start())

    def publish(self, site: Path, host: str, crash_at: str | None = None) -> int:
        env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
        if crash_at is not None:
            env[CRASH_ENV] = crash_at
        command = [sys.executable, "-m", "waict.cli", "publish", str(site)]
        command += ["--origin", f"https://{host}", "--ts", self.ts.url, "--quiet"]
        done = subprocess.run(command, env=env, capture_output=True, timeout=180)
        if crash_at is None:
            assert done.returncode == 0, done.stderr.decode()
        return done.returncode

    def chain(self, host: str) -> list[Entry]:
        out: list[Entry] = []
        while True:  # read one entry at a time: the chains here are short
            r = httpx.get(f"{self.ts.url}/entries-tile/{host}/000.p/{len(out) + 1}", timeout=30)
            if r.status_code == 404:
                return out
            out = [Entry.decode(r.content[i : i + 80]) for i in range(0, len(r.content), 80)]


def make_site(tmp: Path, name: str) -> Path:
    root = tmp / name
    root.mkdir()
    (root / "index.html").write_text('<!doctype html><script src="/app.js"></script>\n')
    (root / "app.js").write_text("console.log(0)\n")
    return root


def check_converged(services: Services, site: Path, host: str, manifests: int) -> None:
    """Exactly one entry per manifest published, and the newest one is installed."""
    state = SiteState(site / ".waict")
    entries = services.chain(host)
    body = state.manifest_file.read_bytes()
    line, proof_b64, _ = body.split(b"\n")
    proof = ChainHeadWithProof.from_b64(proof_b64.decode())
    assert len(entries) == manifests, [e.position for e in entries]
    assert entries[-1].resource_hash == resource_hash(line)
    assert proof.head.entry == entries[-1]
    history = state.history()
    assert [h.position for h in history] == list(range(manifests))
    assert len({h.line for h in history}) == manifests  # one entry per distinct manifest
    assert state.last_head() == proof.head
    assert state.read_header() is not None
    assert not (state.path / "intent.json").exists()


@pytest.mark.parametrize("phase", ["enroll", "append"])
def test_publish_killed_at_each_step_converges(
    tmp_path: Path, servers: list[ServerThread], phase: str
) -> None:
    services = Services(tmp_path, servers)
    if phase == "enroll":  # a new domain per kill point: the first publish is killed
        for i, point in enumerate([*STEPS[-1:], *AROUND_THE_LOG, *INSTALL]):
            host = f"e{i}.example"
            site = services.sites[host] = make_site(tmp_path, host)
            assert services.publish(site, host, crash_at=point) == -signal.SIGKILL, point
            services.publish(site, host)
            check_converged(services, site, host, 1)
        return
    host = "a.example"
    site = services.sites[host] = make_site(tmp_path, host)
    services.publish(site, host)
    for k, point in enumerate([*STEPS, *AROUND_THE_LOG, *INSTALL], start=1):
        (site / "app.js").write_text(f"console.log({k})\n")  # a new manifest each time
        assert services.publish(site, host, crash_at=point) == -signal.SIGKILL, point
        services.publish(site, host)
        check_converged(services, site, host, k + 1)


def test_enrolment_rerun_within_the_batch_interval_converges(
    tmp_path: Path, servers: list[ServerThread]
) -> None:
    """Issue 10 remainder: a publish killed with its enrolment in flight, run again while the
    service still holds that enrolment for its next batch (a long batch interval makes the
    window certain): one entry, installed (was: 409 already_enrolled, the re-run failed)."""
    services = Services(tmp_path, servers, batch_interval=4.0)
    host = "window.example"
    site = services.sites[host] = make_site(tmp_path, host)
    assert services.publish(site, host, crash_at="log:sent") == -signal.SIGKILL
    services.publish(site, host)
    check_converged(services, site, host, 1)
