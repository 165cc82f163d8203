"""HTTPS on loopback with a local certificate authority (``waict local-ca``): every server
(``serve-site``, ``serve-assets``, ``serve-ts``, ``serve-witness``, ``explore``) started as its real
command with ``--cert/--key``; a real TLS client checks each one presents the leaf signed by
the CA (and that a client without the CA refuses it); then the whole publish path runs over
HTTPS: the witness follows the service, the service fetches the enrollment document from
the site, ``waict publish`` uploads and logs, ``waict verify`` decides, all trusting the CA
through ``SSL_CERT_FILE`` alone.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from cryptography import x509

from waict.common.tls import client_context, spki_hash
from waict.demo.ecosystem import ServerProcess

NAMES = ["127.0.0.1", "localhost", "*.waict.test"]
SITE = "tls.waict.test"


def waict(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "waict.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def peer_certificate(port: int, context: ssl.SSLContext, name: str) -> x509.Certificate:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for p in reversed(started):
        p.stop()


def test_every_server_speaks_tls_with_the_local_ca(
    tmp_path: Path, processes: list[ServerProcess], monkeypatch: Any
) -> None:
    ca_dir = tmp_path / "ca"
    made = json.loads(waict("local-ca", str(ca_dir), *NAMES).stdout)
    ca, cert, key = Path(made["ca"]), made["cert"], made["key"]
    assert made["spki"] == spki_hash(Path(cert))
    assert (ca_dir / "ca.key").stat().st_mode & 0o077 == 0
    again = json.loads(waict("local-ca", str(ca_dir), "other.waict.test", "--label", "o").stdout)
    assert again["ca"] == made["ca"] and again["spki"] != made["spki"]  # same CA, new leaf
    # the servers, their clients (the service's enrollment fetch, the witness) and this
    # process trust the CA through SSL_CERT_FILE only
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))

    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "index.html").write_text("<!doctype html><p>over TLS</p>\n")
    (site_dir / "app.js").write_text("console.log('tls');\n")
    seed_out = json.loads(waict("keygen", "w1.example", "--out", str(tmp_path / "w1.key")).stdout)
    token_file = tmp_path / "assets.token"
    token_file.write_text("tls-upload-token\n")
    site, assets, ts, witness, explorer = free_ports(5)
    tls = ["--cert", cert, "--key", key]
    logs = tmp_path / "logs"

    def start(name: str, args: list[str], ready: str) -> None:
        processes.append(ServerProcess(name, args, ready, logs / f"{name}.log").start(60))

    start("site", ["serve-site", str(site_dir), "--port", str(site), *tls],
          f"https://127.0.0.1:{site}/")  # fmt: skip
    start("assets", ["serve-assets", "--dir", str(tmp_path / "assets"), "--token-file",
                     str(token_file), "--port", str(assets), *tls],
          f"https://127.0.0.1:{assets}/fetch/sha256-{'A' * 43}")  # fmt: skip
    start("ts", ["serve-ts", "--db", str(tmp_path / "ts.sqlite"), "--name", "ts.example",
                 "--witness", f"w1.example={seed_out['key']}", "--quorum", "1",
                 "--port", str(ts), "--batch-interval", "0.1", "--enroll-scheme", "https",
                 "--enroll-port", str(site), "--enroll-connect", "127.0.0.1", *tls],
          f"https://127.0.0.1:{ts}/status")  # fmt: skip
    start("witness", ["serve-witness", "--db", str(tmp_path / "w1.sqlite"), "--name",
                      "w1.example", "--key-file", str(tmp_path / "w1.key"), "--ts",
                      f"https://127.0.0.1:{ts}", "--ts-name", "ts.example",
                      "--port", str(witness), *tls],
          f"https://127.0.0.1:{witness}/status")  # fmt: skip

    start("explore", ["explore", "--ts", f"https://127.0.0.1:{ts}", "--state",
                      str(tmp_path / "monitor.json"), "--listen", f"127.0.0.1:{explorer}",
                      "--ca-file", str(ca), *tls],
          f"https://127.0.0.1:{explorer}/api/overview")  # fmt: skip

    # a real TLS client: each server presents the leaf, which verifies against the CA for
    # the IP address and for a sample host; a client with only the public roots refuses it
    public = ssl.create_default_context(cafile=certifi.where())
    for port in (site, assets, ts, witness, explorer):
        leaf = peer_certificate(port, client_context(ca), "127.0.0.1")
        assert spki_hash(leaf) == made["spki"]
        assert peer_certificate(port, client_context(ca), SITE) == leaf
        with pytest.raises(ssl.SSLCertVerificationError):
            peer_certificate(port, public, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):  # not a name the leaf covers
        peer_certificate(site, client_context(ca), "elsewhere.example")

    # the whole publish path over HTTPS
    trust = tmp_path / "trust.json"
    trust.write_text(
        json.dumps(
            {
                "transparency_services": ["ts.example"],
                "witnesses": [{"name": "w1.example", "key": seed_out["key"]}],
                "quorum": 1,
            }
        )
    )
    origin = f"https://{SITE}:{site}"
    resolve = ["--resolve", f"{SITE}=127.0.0.1"]
    out = waict("publish", str(site_dir), "--origin", origin, "--ts", f"https://127.0.0.1:{ts}",
                "--assets", f"https://127.0.0.1:{assets}", "--assets-token-file",
                str(token_file), "--trust", str(trust), "--timeout", "60", "--quiet",
                *resolve).stdout  # fmt: skip
    assert f"published: {SITE} position 0" in out and "(new enrollment)" in out
    assert "verified against the trust file: ts.example, w1.example" in out
    verdict = json.loads(
        waict("verify", origin + "/", "--trust", str(trust), "--json", *resolve).stdout
    )
    assert verdict["navigation"] == "allow" and verdict["manifest"]["status"] == "valid"
    # a tool trusts the CA with --ca-file alone; without it, the leaf is refused
    plain = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    check = ["verify", origin + "/", "--trust", str(trust), "--json", *resolve]
    assert waict(*check, "--ca-file", str(ca), env=plain).returncode == 0
    refused = waict(*check, env=plain, check=False)
    assert refused.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
