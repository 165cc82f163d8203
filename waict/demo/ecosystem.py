"""The local WAICT ecosystem with the sample sites of ``web/``, for the demo and the tests.

``waict demo`` starts, as real processes on loopback: a transparency service, two witnesses
(quorum 2), an asset host, and one virtual-host web server for every sample site; then it
publishes the sites the way their ``site.json`` says, in two phases:

1. the service and witnesses run with their clocks 48 hours in the past (``--clock-offset``)
   and the "old" steps are published (old tombstones, dev-ids announced long ago);
2. both are restarted on the real clock (same databases: the restart is part of the demo)
   and the "now" steps are published, the preload list last;

then it copies the tampered files over the published ones, writes ``demo.json`` (where each
site is, its expected verdict, the trust file and the preload list), checks every site with
``waict verify`` (the browser's own decision) and prints a table.

Host names are ``<site>.waict.test``: the browser maps them to 127.0.0.1
(``--host-resolver-rules``); the tools use their ``--resolve`` equivalent.

Everything is HTTPS: a local certificate authority (:mod:`waict.common.tls`, in
``<workdir>/tls``) issues one leaf for ``127.0.0.1``, ``localhost`` and ``*.waict.test`` that
every server presents (``--cert/--key``). The servers' own clients (the service's enrollment
fetch, the witnesses) trust the CA through ``SSL_CERT_FILE``, the demo's tools through
``ca_file``, and Chromium by the leaf's key (``--ignore-certificate-errors-spki-list``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from verifier.trust import parse_trust
from waict.common.tls import Leaf, client_context, issue_leaf
from waict.demo.sites import DemoSite, say
from waict.log.keys import load_or_create_seed, public_key_b64
from waict.site.http_client import make_client
from waict.site.preload import build_preload_line, parse_hosts, preload_body_from_state
from waict.site.publish import AssetUpload, PublishOptions, publish
from waict.site.report import VerifyReport
from waict.site.verify import verify_site

TS_NAME = "ts.waict.test"
WITNESSES = ("w1.waict.test", "w2.waict.test")
PRELOAD_DOMAIN = "preload.waict.test"
OLD_OFFSET = -48 * 3600
ASSET_TOKEN = "demo-asset-upload-token"
DEFAULT_WEB = Path(__file__).resolve().parents[2] / "web"
#: what the servers' one leaf certificate covers
TLS_NAMES = ("127.0.0.1", "localhost", "*.waict.test")

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Ports:
    sites: int = 8100
    ts: int = 8101
    assets: int = 8102
    witness_base: int = 8111

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(base, base + 1, base + 2, base + 11)

    @classmethod
    def free(cls, start: int = 21000) -> Ports:
        """Ports that are free now on 127.0.0.1 (tests run beside a running demo)."""
        import socket

        for base in range(start, 60000, 97):
            try:
                for offset in (0, 1, 2, 11, 12):
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return cls.from_base(base)
        raise RuntimeError("no free ports on 127.0.0.1")


class ServerProcess:
    """One `waict` server as a child process, started and stopped cleanly."""

    def __init__(
        self,
        name: str,
        args: list[str],
        ready_url: str,
        log: Path,
        *,
        ca_file: Path | None = None,
    ) -> None:
        """``ca_file``: an https ``ready_url`` is checked against it, and the process
        trusts it (``SSL_CERT_FILE``) for its own requests."""
        self.name = name
        self.args = args
        self.ready_url = ready_url
        self.log = log
        self.ca_file = ca_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        env = None
        verify: bool | ssl.SSLContext = True
        if self.ca_file is not None:
            env = {**os.environ, "SSL_CERT_FILE": str(self.ca_file)}
            verify = client_context(self.ca_file)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waict.cli", *self.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.ready_url, timeout=1.0, verify=verify)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_url} in {timeout} s")

    def kill(self) -> None:
        """SIGKILL: a crash, no chance to clean up (tests of durability)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class DemoEcosystem:
    workdir: Path
    ports: Ports = field(default_factory=Ports)
    web: Path = DEFAULT_WEB
    quiet: bool = False
    servers: dict[str, ServerProcess] = field(default_factory=dict)
    sites: dict[str, DemoSite] = field(default_factory=dict)
    preload_body: bytes | None = None
    tls: Leaf | None = None  # the leaf every server presents (made by _prepare)

    # --- layout -------------------------------------------------------------------------
    @property
    def trust_path(self) -> Path:
        return self.workdir / "trust.json"

    @property
    def ca_file(self) -> Path:
        """The local CA's certificate (``<workdir>/tls/ca.pem``)."""
        return self.workdir / "tls" / "ca.pem"

    @property
    def spki(self) -> str:
        """The hash Chromium trusts the servers' leaf by."""
        assert self.tls is not None, "start the ecosystem first"
        return self.tls.spki

    def local(self, port: int) -> str:
        """The base URL of a server on 127.0.0.1."""
        return f"https://127.0.0.1:{port}"

    @property
    def preload_path(self) -> Path:
        return self.workdir / "preload.waict"

    def origin(self, host: str) -> str:
        return f"https://{host}:{self.ports.sites}"

    def url(self, site: DemoSite) -> str:
        return self.origin(site.host) + "/"

    def trust(self) -> dict[str, Any]:
        return dict(json.loads(self.trust_path.read_text()))

    def _prepare(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "sites").mkdir(parents=True)
        self.tls = issue_leaf(self.workdir / "tls", "servers", TLS_NAMES)
        witnesses = []
        for name in WITNESSES:
            seed = load_or_create_seed(self.workdir / "keys" / f"{name}.key")
            witnesses.append({"name": name, "key": public_key_b64(seed)})
        trust = {
            "transparency_services": [TS_NAME],
            "witnesses": witnesses,
            "quorum": 2,
            "max_cosignature_age": 7 * 24 * 3600,
            "max_future_skew": 600,
            "cooldown": 24 * 3600,
            "preload_domain": PRELOAD_DOMAIN,
        }
        self.trust_path.write_text(json.dumps(trust, indent=2) + "\n")
        for spec_path in sorted(self.web.glob("*/site.json")):
            spec = json.loads(spec_path.read_text())
            root = self.workdir / "sites" / spec["name"]
            shutil.copytree(spec_path.parent / "public", root)
            expected_path = spec_path.parent / "expected.json"
            expected = json.loads(expected_path.read_text()) if expected_path.exists() else None
            self.sites[spec["name"]] = DemoSite(spec["name"], spec["host"], root, spec, expected)

    # --- servers ------------------------------------------------------------------------
    def _start(self, name: str, args: list[str], ready: str) -> None:
        assert self.tls is not None
        args = [*args, "--cert", str(self.tls.cert), "--key", str(self.tls.key)]
        log = self.workdir / "logs" / f"{name}.log"
        server = ServerProcess(name, args, ready, log, ca_file=self.ca_file)
        self.servers[name] = server.start()

    def _stop(self, name: str) -> None:
        server = self.servers.pop(name, None)
        if server is not None:
            server.stop()

    def _start_log(self, offset: int) -> None:
        p = self.ports
        witness_args = [
            f"{name}={public_key_b64(load_or_create_seed(self.workdir / 'keys' / f'{name}.key'))}"
            for name in WITNESSES
        ]
        args = [
            "serve-ts", "--db", str(self.workdir / "ts.sqlite"), "--name", TS_NAME,
            "--quorum", "2", "--port", str(p.ts), "--batch-interval", "0.1",
            "--enroll-scheme", "https", "--enroll-port", str(p.sites),
            "--enroll-connect", "127.0.0.1", "--clock-offset", str(offset),
        ]  # fmt: skip
        for w in witness_args:
            args += ["--witness", w]
        self._start("ts", args, f"{self.local(p.ts)}/status")
        for i, name in enumerate(WITNESSES):
            port = p.witness_base + i
            self._start(
                name,
                [
                    "serve-witness",
                    "--db",
                    str(self.workdir / f"{name}.sqlite"),
                    "--name",
                    name,
                    "--key-file",
                    str(self.workdir / "keys" / f"{name}.key"),
                    "--ts",
                    self.local(p.ts),
                    "--ts-name",
                    TS_NAME,
                    "--port",
                    str(port),
                    "--clock-offset",
                    str(offset),
                ],
                f"{self.local(port)}/status",
            )

    def _stop_log(self) -> None:
        for name in (*WITNESSES, "ts"):
            self._stop(name)

    # --- publishing ---------------------------------------------------------------------
    def _publish_step(self, site: DemoSite, step: dict[str, Any], now: int) -> None:
        from waict.site.commands import add_site_tool_parsers

        preload_json = self.workdir / "preload.json"
        args = [a.replace("{preload_json}", str(preload_json)) for a in step["args"]]
        parser = argparse.ArgumentParser()
        add_site_tool_parsers(parser.add_subparsers())
        ns = parser.parse_args(["publish", str(site.root), "--origin", "https://x.test", *args])
        opts = PublishOptions(
            site_dir=site.root,
            origin=self.origin(site.host),
            ts_url=None if ns.v1 is not None else self.local(self.ports.ts),
            assets=(AssetUpload(self.local(self.ports.assets), ASSET_TOKEN),),
            max_age=ns.max_age,
            mode=ns.mode,
            inline=ns.inline,
            unenroll=ns.unenroll,
            v1=tuple(ns.v1) if ns.v1 is not None else None,
            dev_ids=tuple(ns.dev_ids) if ns.dev_ids is not None else None,
            dev_ids_next=tuple(ns.dev_ids_next) if ns.dev_ids_next is not None else None,
            line_file=Path(ns.line) if ns.line else None,
            trust=parse_trust(self.trust()),
            now=now,
            timeout=60,
            resolve={site.host: "127.0.0.1"},
            ca_file=self.ca_file,
            quiet=True,
        )
        publish(opts)

    def _publish_phase(self, clock: str, offset: int) -> None:
        for site in self.sites.values():
            for step in site.spec.get("steps", []):
                if step["clock"] == clock and site.name != "preload":
                    if not self.quiet:
                        say(f"publish {site.host} ({clock}): {' '.join(step['args']) or '-'}")
                    self._publish_step(site, step, int(time.time()) + offset)

    def _publish_preload(self) -> None:
        site = self.sites["preload"]
        plist = site.spec["preload_list"]
        entries = parse_hosts((self.web / "preload" / plist["hosts"]).read_text())
        issued = int(time.time()) - 3600
        line = build_preload_line(entries, issued, issued + int(plist["expires_in"]))
        (self.workdir / "preload.json").write_bytes(line + b"\n")
        for step in site.spec["steps"]:
            if not self.quiet:
                say(f"publish the preload list on {site.host}: {', '.join(sorted(entries))}")
            self._publish_step(site, step, int(time.time()))
        self.preload_body = preload_body_from_state(site.root / ".waict")
        self.preload_path.write_bytes(self.preload_body)

    def _tamper(self) -> None:
        for site in self.sites.values():
            tamper = site.spec.get("tamper")
            if tamper:
                source = self.web / site.name / tamper["with"]
                shutil.copyfile(source, site.root / tamper["file"])
                if not self.quiet:
                    say(f"tamper {site.host}: {tamper['file']} replaced after publishing")

    # --- the whole thing ----------------------------------------------------------------
    def start(self) -> DemoEcosystem:
        self._prepare()
        p = self.ports
        say(f"work directory {self.workdir}")
        self._start(
            "assets",
            [
                "serve-assets",
                "--dir",
                str(self.workdir / "assets"),
                "--token-file",
                str(self._asset_token_file()),
                "--port",
                str(p.assets),
            ],
            f"{self.local(p.assets)}/fetch/sha256-{'A' * 43}",
        )
        site_args = ["serve-site", "--port", str(p.sites)]
        for site in self.sites.values():
            site_args += ["--site", f"{site.host}={site.root}"]
        self._start("sites", site_args, f"{self.local(p.sites)}/")
        say("phase 1: transparency service and witnesses 48 h in the past")
        self._start_log(OLD_OFFSET)
        self._publish_phase("old", OLD_OFFSET)
        self._stop_log()
        say("phase 2: restart them on the real clock (same databases)")
        self._start_log(0)
        self._publish_phase("now", 0)
        self._publish_preload()
        self._tamper()
        self._write_summary()
        return self

    def _asset_token_file(self) -> Path:
        path = self.workdir / "assets.token"
        path.write_text(ASSET_TOKEN + "\n")
        os.chmod(path, 0o600)
        return path

    def _write_summary(self) -> None:
        summary = {
            "trust": str(self.trust_path),
            "preload": str(self.preload_path),
            "host_resolver_rules": "MAP *.waict.test 127.0.0.1",
            "ca": str(self.ca_file),
            "spki": self.spki,
            "transparency_service": self.local(self.ports.ts),
            "sites": {
                s.name: {"host": s.host, "url": self.url(s), "expected": s.expected}
                for s in self.sites.values()
                if s.expected is not None
            },
        }
        (self.workdir / "demo.json").write_text(json.dumps(summary, indent=2) + "\n")

    def verify(self, site: DemoSite) -> VerifyReport:
        with make_client(
            resolve={site.host: "127.0.0.1"}, ca_file=self.ca_file, follow_redirects=True
        ) as client:
            return verify_site(
                self.url(site), self.trust(), preload=self.preload_body, client=client
            )

    def stop(self) -> None:
        for name in list(self.servers)[::-1]:
            self._stop(name)


def compare(expected: dict[str, Any], verdict: dict[str, Any]) -> list[str]:
    """Differences between a site's expected.json and a verdict (empty: as expected)."""
    problems: list[str] = []
    if verdict["navigation"] != expected["navigation"]:
        problems.append(f"navigation {verdict['navigation']} != {expected['navigation']}")
    if verdict["manifest"] != expected["manifest"]:
        problems.append(f"manifest {verdict['manifest']} != {expected['manifest']}")
    default = expected["resources"].get("*", {"allowed": True, "reason": None})
    for r in verdict["resources"]:
        path = httpx.URL(r["url"]).path
        want = expected["resources"].get(path, default)
        if (r["allowed"], r["reason"]) != (want["allowed"], want["reason"]):
            problems.append(f"{path}: allowed={r['allowed']} reason={r['reason']}")
    return problems


@contextlib.contextmanager
def running(
    workdir: Path, ports: Ports | None = None, quiet: bool = True
) -> Iterator[DemoEcosystem]:
    eco = DemoEcosystem(workdir, ports or Ports(), quiet=quiet)
    try:
        yield eco.start()
    finally:
        eco.stop()
