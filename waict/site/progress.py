"""Progress of the site tools on stderr: a ``rich`` bar on a terminal, plain lines elsewhere
(CI logs: one line every 2 s at most, and the last one)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    """Progress of ``total`` steps labelled ``label``; :meth:`step` after each one."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._bar: RichProgress | None = None
        self._task = None
        if self.tty:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.fields[note]}"),
                console=Console(file=self.stream),
                auto_refresh=False,  # no refresh thread: nothing lingers if a step raises
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, note="")

    def step(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        final = self.done >= self.total
        if self._bar is not None and self._task is not None:
            if self.done == 1:
                self._bar.start()
            self._bar.update(self._task, completed=self.done, note=note[:40])
            if final or now - self._last > 0.05:
                self._last = now
                self._bar.refresh()
            if final:
                self._bar.stop()
        elif final or now - self._last > 2.0:
            self._last = now
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
            self.stream.flush()


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
