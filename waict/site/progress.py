"""Progress of the site tools on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line progress indicator on stderr (rewritten in place on a terminal)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0

    def step(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        final = self.done >= self.total
        if self.tty:
            if final or now - self._last > 0.05:
                self._last = now
                text = f"\r{self.label}: {self.done}/{self.total} {note[:60]}"
                self.stream.write(text.ljust(100)[:100])
                self.stream.flush()
            if final:
                self.stream.write("\n")
        elif final or now - self._last > 2.0:
            self._last = now
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
            self.stream.flush()


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
