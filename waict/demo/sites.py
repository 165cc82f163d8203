"""What the demo's parts share: a sample site (:class:`DemoSite`), the view of a running
ecosystem the browser part needs (:class:`EcosystemView`, which
:class:`~waict.demo.ecosystem.DemoEcosystem` is), and the demo's progress line.

With these, :mod:`waict.demo.ecosystem` and :mod:`waict.demo.browser` need not import each
other; :mod:`waict.demo.command` puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


@dataclass
class DemoSite:
    name: str
    host: str
    root: Path
    spec: dict[str, Any]
    expected: dict[str, Any] | None


class EcosystemView(Protocol):
    """A running demo ecosystem, as the browser part sees it."""

    workdir: Path
    sites: dict[str, DemoSite]

    @property
    def trust_path(self) -> Path: ...

    @property
    def preload_path(self) -> Path: ...

    @property
    def spki(self) -> str: ...

    def origin(self, host: str) -> str: ...

    def url(self, site: DemoSite) -> str: ...
