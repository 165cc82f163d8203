"""The one background-loop mechanism of the servers (waict/log/http.py): an unexpected
error is logged, counted, shown, and the loop runs again after a backoff."""

from __future__ import annotations

import asyncio
import logging

import pytest
from servers import run_async

from waict.log.http import BackgroundLoop


def test_a_failing_loop_is_logged_counted_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def body() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError(f"boom {len(runs)}")
        done.set()
        await asyncio.sleep(3600)

    async def main() -> dict[str, object]:
        loop = BackgroundLoop(body, name="test loop", min_backoff=0.01, max_backoff=0.05)
        loop.start()
        await asyncio.wait_for(done.wait(), 10)
        status = loop.status()
        await loop.stop()
        assert not loop.running
        return status

    with caplog.at_level(logging.ERROR, logger="waict.loop"):
        status = run_async(main)
    assert runs == [0, 1, 2]
    assert status == {
        "running": True,
        "errors": 2,
        "restarts": 2,
        "last_error": "RuntimeError: boom 2",
        "last_error_at": status["last_error_at"],
    }
    messages = [r.getMessage() for r in caplog.records]
    assert sum("test loop: the loop failed" in m for m in messages) == 2
    assert all(r.exc_info for r in caplog.records)
