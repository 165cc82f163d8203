"""Injected failures for tests: ``WAICT_TEST_PUBLISH_CRASH_AT=<point>`` makes ``publish``
SIGKILL itself at that point (tests/loopback/test_publish_crash.py). Unset, it does nothing.

Points: ``check_options``, ``build``, ``asset_hosts``, ``upload`` (after each step),
``intent`` (after the write-ahead intent, before the call to the log), ``log:sent`` (while
the call is in flight), ``log``, ``prove``, ``install:files``, ``install:history``,
``install:meta`` (between the writes of the install step).
"""

from __future__ import annotations

import os
import signal
import threading

CRASH_ENV = "WAICT_TEST_PUBLISH_CRASH_AT"


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(name: str) -> None:
    """SIGKILL this process now if ``WAICT_TEST_PUBLISH_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        _kill()


def crash_soon(name: str, delay: float = 0.02) -> None:
    """SIGKILL this process ``delay`` seconds from now (a request then in flight) if
    ``WAICT_TEST_PUBLISH_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        threading.Timer(delay, _kill).start()
