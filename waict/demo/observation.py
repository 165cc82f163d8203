"""What Chromium showed for a sample site (:class:`Observation`), compared with the
``browser`` section of its ``expected.json``, and described for the demo's table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waict.demo.sites import DemoSite

#: The markers of a page where everything ran (web/README.md), in the page's order; the
#: table shows a page's markers as the differences from this.
ALL_RAN = {
    "inline": "ran",
    "app": "ran",
    "worker": "ran",
    "sharedworker": "ran",
    "serviceworker": "ran",
    "wasm": "5",
    "iframe": "ran",
    "image": "loaded",
    "style": "ran",
    "done": "1",
}


ORDER = ("inline", "app", "eval", "worker", "sharedworker", "serviceworker", "wasm", "iframe",
         "image", "style", "tampered", "injected", "done")  # fmt: skip


@dataclass
class Observation:
    """What Chromium with the extension showed for one site."""

    site: str
    url: str
    final_url: str
    block_page: bool
    markers: dict[str, str]
    settled: str | None  # why the page settled ("done", "block page", ...); None: timeout
    seconds: float
    block_reason: str = ""
    block_detail: str = ""
    screenshot: Path | None = None
    error: str | None = None


def expected_browser(site: DemoSite) -> dict[str, Any] | None:
    """The ``browser`` section of the site's expected.json (None: nothing expected)."""
    if site.expected is None or "browser" not in site.expected:
        return None
    return dict(site.expected["browser"])


def compare_browser(expected: dict[str, Any], obs: Observation) -> list[str]:
    """Differences between an expected.json ``browser`` section and an observation."""
    if obs.error:
        return [f"error: {obs.error}"]
    problems: list[str] = []
    if obs.settled is None:
        problems.append("the page did not settle before the timeout")
    if obs.block_page != expected["block_page"]:
        if obs.block_page:
            why = "/".join(x for x in (obs.block_reason, obs.block_detail) if x)
            problems.append(f"block page shown ({why}), not expected")
        else:
            problems.append("no block page, one expected")
    want: dict[str, str] = expected.get("markers", {})
    for name in _ordered(want):
        got = obs.markers.get(name)
        if got != want[name]:
            problems.append(f"{name}: {'absent' if got is None else got} != {want[name]}")
    absent = set(expected.get("absent", []))
    for name in _ordered(obs.markers):
        if name in absent:
            problems.append(f"{name}={obs.markers[name]}, must stay absent")
        elif name not in want:
            problems.append(f"{name}={obs.markers[name]} not expected")
    return problems


def _ordered(markers: Iterable[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(markers, key=lambda n: (rank.get(n, len(ORDER)), n))


def describe_markers(markers: dict[str, str]) -> str:
    """``page ran; eval=blocked worker=error`` or ``only inline=ran`` or ``no markers``."""
    if not markers:
        return "no markers"
    missing = [name for name in ALL_RAN if name not in markers]
    if len(missing) > len(ALL_RAN) // 2:
        return "only " + " ".join(f"{n}={markers[n]}" for n in _ordered(markers))
    parts = [f"{n}={markers[n]}" for n in _ordered(markers) if ALL_RAN.get(n) != markers[n]]
    parts += [f"no {n}" for n in missing]
    return "page ran; " + " ".join(parts) if parts else "page ran"


def describe_expected(expected: dict[str, Any]) -> str:
    return "block page" if expected["block_page"] else describe_markers(expected["markers"])


def describe_observed(obs: Observation) -> str:
    if obs.error and not obs.markers and not obs.block_page:
        return "error"
    if obs.block_page:
        why = "/".join(x for x in (obs.block_reason, obs.block_detail) if x)
        text = f"block page ({why})" if why else "block page"
    else:
        text = describe_markers(obs.markers)
    return text if obs.settled is not None else f"{text} (timeout)"
