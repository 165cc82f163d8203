"""Every sample site of web/ in Debian Chromium with the real extension, against the real
demo ecosystem: the transparency service, two witnesses, the asset host and the site server
as processes on loopback (``waict.demo.ecosystem.running``, free ports, both clock phases,
tampering), the extension built with the demo's ``trust.json`` and ``preload.waict``
(``waict.demo.browser.DemoBrowser``, what ``waict demo`` runs after its `waict verify` table).

Each site must show what the ``browser`` section of its ``expected.json`` says: the block page
or not, and once the page settled exactly the expected ``data-waict-*`` markers on ``<html>``
(web/README.md: a blocked ``app.js`` leaves only ``inline``; ``absent`` markers, such as the
injected inline script's, must never appear). Screenshots: ``<tmp>/demo-browser*/screenshots``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from room_servers import MEDIA_FLAGS, room_stats, running_delivery, running_sfu

from waict.demo.browser import DemoBrowser
from waict.demo.chromium import chromium_path
from waict.demo.command import add_demo_parser
from waict.demo.ecosystem import Ports, running
from waict.demo.observation import Observation, describe_observed

pytestmark = pytest.mark.e2e

WEB = Path(__file__).resolve().parents[2] / "web"
SITES = sorted(p.parent.name for p in WEB.glob("*/expected.json"))
SETUP_HINT = "run `bash scripts/setup.sh` from the repository root"

#: Known gap, not a wrong expectation: Chromium fetches service-worker scripts in the browser
#: process, outside the tab's debugger session (extension/README.md, "Not covered yet").


@pytest.fixture(scope="module")
def demo_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoBrowser]:
    if chromium_path() is None:
        pytest.fail(f"Chromium is not installed: {SETUP_HINT}", pytrace=False)
    workdir = tmp_path_factory.mktemp("demo-browser")
    with (
        running(workdir, Ports.free(31000)) as eco,
        # the room site's test below sends video (a fake camera) through an SFU on the
        # loopback address, which a page of another address space needs the user's
        # permission to reach (Local Network Access): granted here
        DemoBrowser(
            eco,
            headless=True,
            quiet=True,
            extra_args=MEDIA_FLAGS,
            permissions=("local-network-access",),
        ) as browser,
    ):
        yield browser


def test_every_sample_site_has_a_browser_expectation() -> None:
    assert len(SITES) == 20  # 18 of one application, and the room twice (issue 13)
    for name in SITES:
        browser = json.loads((WEB / name / "expected.json").read_text())["browser"]
        assert isinstance(browser["block_page"], bool), name
        assert browser["block_page"] == (browser["markers"] == {}), name


def _context(obs: Observation) -> str:
    return f"{obs.final_url}: {describe_observed(obs)} (screenshot {obs.screenshot})"


@pytest.mark.parametrize("name", SITES)
def test_sample_site_in_chromium_with_the_extension(demo_browser: DemoBrowser, name: str) -> None:
    site = demo_browser.eco.sites[name]
    assert site.expected is not None
    want = site.expected["browser"]

    obs = demo_browser.visit(site)
    context = _context(obs)
    assert obs.error is None, context
    assert obs.settled is not None, f"the page did not settle: {context}"
    assert obs.screenshot is not None and obs.screenshot.is_file(), context

    if want["block_page"]:
        assert obs.block_page, f"expected the block page: {context}"
        assert obs.block_reason, context
        assert obs.markers == {}
        return
    assert not obs.block_page, f"unexpected block page ({obs.block_reason}): {context}"
    assert obs.final_url == demo_browser.eco.url(site), context
    for marker, value in want["markers"].items():
        assert obs.markers.get(marker) == value, f"{marker}: {context}"
    for marker in want.get("absent", []):
        assert marker not in obs.markers, f"{marker} must stay absent: {context}"
    # the exact set: what a blocked asset would have marked is not there (e.g. no `app`
    # and nothing app.js marks when app.js is blocked)
    assert obs.markers == want["markers"], context


def test_waict_demo_has_the_browser_options() -> None:
    parser = argparse.ArgumentParser()
    add_demo_parser(parser.add_subparsers())
    on = parser.parse_args(["demo"])
    assert on.browser is True and on.headless is None
    off = parser.parse_args(["demo", "--no-browser", "--headed"])
    assert off.browser is False and off.headless is False


def test_room_runs_under_waict_and_the_tampered_room_never_joins(
    demo_browser: DemoBrowser, tmp_path: Path
) -> None:
    """The room (published with `waict publish`, checked by the extension) works: two
    members join through the delivery service, agree on a safety number and send video
    through the SFU. A third tab opens the tampered room (its MLS worker changed after
    publishing) on the same room: the extension refuses the worker, so that page never
    joins the room and never publishes a frame (checked at the servers' side)."""
    eco = demo_browser.eco
    with running_delivery(tmp_path) as ds, running_sfu(tmp_path) as sfu:
        query = f"#ds={ds}&room=waict&sfu={sfu}&chat=500"
        room_url = eco.url(eco.sites["room"]) + query
        tampered_url = eco.url(eco.sites["tampered-room"]) + query

        def evaluate(page: Any, expression: str) -> Any:
            """``page.evaluate``, or None while the tab is between documents (the
            extension holds a navigation until it has judged the page)."""
            from playwright.sync_api import Error

            try:
                return page.evaluate(expression)
            except Error:
                return None

        def status(page: Any) -> dict[str, Any]:
            return dict(evaluate(page, "window.roomStatus || {}") or {})

        def scenario(open_tab: Callable[[str], Any]) -> dict[str, Any]:
            members = [open_tab(room_url), open_tab(room_url)]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = [status(p) for p in members]
                frames = [s.get("stats", {}).get("decrypted", {}) for s in states]
                if all(s.get("epoch") == 1 for s in states) and all(frames):
                    break
                time.sleep(0.3)
            tampered = open_tab(tampered_url)
            deadline = time.monotonic() + 20
            dataset = "({...document.documentElement.dataset})"
            while time.monotonic() < deadline:
                if (evaluate(tampered, dataset) or {}).get("waictDone") == "1":
                    break
                time.sleep(0.2)
            time.sleep(3)  # time enough to join and send frames, had the worker run
            markers = evaluate(tampered, dataset) or {}
            return {
                "members": [status(p) for p in members],
                "tampered": markers,
                "urls": [p.url for p in (*members, tampered)],
                "markers": [evaluate(p, dataset) for p in members],
            }

        seen = demo_browser.run(scenario)
        stats = room_stats(sfu, "waict")
    first, second = seen["members"]
    assert first.get("epoch") == second.get("epoch") == 1, seen
    assert first["safety"] == second["safety"] and first["members"] == [1, 2], seen
    assert first["stats"]["decrypted"] and second["stats"]["decrypted"], seen
    # the tampered page itself is allowed (its document is the listed one); its worker not
    assert seen["urls"][2].startswith(eco.url(eco.sites["tampered-room"])), seen
    assert seen["tampered"]["waictWorker"] == "error", seen
    assert "roomEpoch" not in seen["tampered"], seen
    # the servers' side: uid 3 never joined the room, never published a frame
    assert first["alive"] == second["alive"] == [1, 2], seen
    assert set(stats) == {"1", "2"}, stats
    assert all(c["mls"] > 0 and c["not_mls"] == 0 for c in stats.values()), stats
