"""The log explorer (``waict explore``) in Debian Chromium, without the extension: a real
transparency service, three witnesses, an asset host and sites on loopback; the monitor
fills its state; the page shows a domain's chain, a manifest diff and a verified proof.
Screenshots: ``test-artifacts/explorer-*.png``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from harness import ARTIFACTS, chromium_path
from monitor_world import MonitorWorld, manifest_line
from servers import ServerThread

from verifier.crypto import sha256
from verifier.encoding import b64uencode
from verifier.trust import parse_trust
from waict.demo.chromium import QUIET_FLAGS
from waict.site.explorer.app import create_explorer_app
from waict.site.http_client import make_client
from waict.site.monitor.command import monitor_once
from waict.site.monitor.watch import WatchConfig

A = "app.waict.test"
B = "blog.waict.test"


@pytest.fixture
def servers() -> Any:
    started: list[ServerThread] = []
    yield started
    for s in reversed(started):
        s.stop()


def test_explorer_shows_chain_diff_and_verified_proof(
    tmp_path: Path, servers: list[ServerThread], _pw_driver: Any
) -> None:
    exe = chromium_path()
    if exe is None:
        pytest.fail("Chromium is not installed: run `bash scripts/setup.sh`", pytrace=False)
    world = MonitorWorld(tmp_path, servers)
    world.enroll(A, manifest_line(A, {"app.js": b"v0", "style.css": b"body{}", "lib.js": b"l"}))
    world.enroll(B, manifest_line(B, {"index.js": b"b0"}))
    world.wait_cosigned_by_all()
    state = tmp_path / "monitor.json"
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(world.trust()))
    config = WatchConfig([A, B], parse_trust(world.trust()), {d: world.origin(d) for d in (A, B)})

    def monitor() -> None:  # a run finds the manifest the site serves at that time
        with make_client(resolve={A: "127.0.0.1", B: "127.0.0.1"}) as client:
            cycle, _ = monitor_once(state, world.ts.url, config, client, out=sys.stderr)
        assert cycle.exit_code == 0

    monitor()
    wasm = b64uencode(sha256(b"wasm"))
    line1 = manifest_line(
        A,
        {"app.js": b"v1", "lib.js": b"l", "new.js": b"n"},
        **{"dev-ids": ["alice@example.com"], "wasm_hashes": [wasm]},
    )
    assert world.append(A, line1).status_code == 200
    world.wait_cosigned_by_all()
    monitor()

    explorer = ServerThread(create_explorer_app(world.ts.url, state, str(trust))).start()
    servers.append(explorer)
    ARTIFACTS.mkdir(exist_ok=True)
    browser = _pw_driver.chromium.launch(executable_path=exe, headless=True, args=list(QUIET_FLAGS))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(explorer.url + "/")
        page.wait_for_selector(f'#domains button[data-domain="{A}"]')
        page.wait_for_selector("#witnesses tbody tr")
        assert page.locator("#witnesses tbody tr").count() == 3
        assert "verified" in page.inner_text("#witnesses")
        assert "2 entries" in page.inner_text("#domains")

        page.click(f'#domains button[data-domain="{A}"]')
        page.wait_for_selector("#chain tbody tr")
        rows = page.locator("#chain tbody tr")
        assert rows.count() == 2
        assert "manifest known" in rows.nth(0).inner_text()
        assert "alice@example.com" in rows.nth(0).inner_text()
        page.screenshot(path=str(ARTIFACTS / "explorer-chain.png"), full_page=True)

        page.click('#chain tr[data-position="1"] .diff-button')
        page.wait_for_selector("#diff h2")
        diff = page.inner_text("#diff")
        assert "from manifest #0 to #1" in diff
        assert f"+ https://{A}/new.js" in diff
        assert f"− https://{A}/style.css" in diff
        assert f"~ https://{A}/app.js" in diff
        assert "1 added, 1 removed, 1 changed, 1 unchanged" in diff
        assert "dev-ids" in diff and "alice@example.com" in diff
        assert "member wasm_hashes" in diff
        page.screenshot(path=str(ARTIFACTS / "explorer-diff.png"), full_page=True)

        page.click("#verify")
        page.wait_for_selector("#verdict")
        assert page.inner_text("#verdict") == "Proof verified"
        checks = page.inner_text("#checks")
        for name in ("tree proof", "transparency service", "quorum", "as a browser"):
            assert name in checks
        assert "FAIL" not in checks
        assert "3 trusted witnesses cosigned within 7.0 d (2 required)" in checks
        page.screenshot(path=str(ARTIFACTS / "explorer-proof.png"), full_page=True)
        assert errors == []
        assert requested and all(u.startswith(explorer.url + "/") for u in requested), requested
    finally:
        browser.close()
