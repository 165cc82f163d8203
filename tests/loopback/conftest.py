from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pg
import pytest
from servers import ServerThread


@pytest.fixture
def servers() -> Iterator[list[ServerThread]]:
    started: list[ServerThread] = []
    yield started
    for s in reversed(started):
        s.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the transparency service keeps its state, once per store: a SQLite file, or a
    fresh database in the session's throwaway PostgreSQL cluster (tests/pg.py)."""
    if request.param == "sqlite":
        return str(tmp_path / "ts.sqlite")
    return pg.cluster().new_database()
