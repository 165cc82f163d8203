from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ServerThread


@pytest.fixture
def servers() -> Iterator[list[ServerThread]]:
    started: list[ServerThread] = []
    yield started
    for s in reversed(started):
        s.stop()
