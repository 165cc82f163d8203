"""Every sample site of web/, published through the real ecosystem (transparency service,
two witnesses, asset host, site server as separate processes, with the 48-hour clock phase
and a restart), gives its expected verdict under `waict verify` (the browser's decide)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from verifier.proof import ChainHeadWithProof
from waict.common.tls import client_context
from waict.demo.ecosystem import DemoEcosystem, Ports, compare, running

WEB = Path(__file__).resolve().parents[2] / "web"
SITES = sorted(p.parent.name for p in WEB.glob("*/expected.json"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEcosystem]:
    with running(tmp_path_factory.mktemp("demo"), Ports.free(21000)) as eco:
        yield eco


def test_all_sample_sites_are_covered() -> None:
    assert len(SITES) == 20  # 18 of one application, and the room twice (issue 13)


@pytest.mark.parametrize("name", SITES)
def test_sample_site_verdict_through_the_real_ecosystem(demo: DemoEcosystem, name: str) -> None:
    site = demo.sites[name]
    assert site.expected is not None
    report = demo.verify(site)
    assert compare(site.expected, report.verdict) == [], report.manifest_verdict.message


def test_demo_summary_and_log_state(demo: DemoEcosystem) -> None:
    summary = json.loads((demo.workdir / "demo.json").read_text())
    assert set(summary["sites"]) == set(SITES)
    # everything is HTTPS, with the local CA
    ts = summary["transparency_service"]
    assert ts.startswith("https://") and summary["spki"] == demo.spki
    assert all(s["url"].startswith("https://") for s in summary["sites"].values())
    tls = client_context(Path(summary["ca"]))
    status = httpx.get(f"{ts}/status", verify=tls).json()
    assert status["cosigned"] == status["batches"] > 0
    leaf = httpx.get(f"{ts}/leaf/tombstone-old.waict.test", verify=tls)
    head = ChainHeadWithProof.decode(leaf.content).head
    assert head.entry.is_tombstone and head.position == 1
