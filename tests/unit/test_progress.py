"""waict.site.progress: a rich bar on a terminal, plain lines in logs (CI)."""

from __future__ import annotations

import io

from waict.site.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress("hashing", 3, out)
    for name in ("a", "b", "c"):
        p.step(name)
    lines = out.getvalue().splitlines()
    assert lines[0] == "hashing: 1/3" and lines[-1] == "hashing: 3/3"
    assert all(line.startswith("hashing: ") for line in lines)


def test_a_bar_on_a_terminal_that_ends_complete() -> None:
    out = Tty()
    p = Progress("uploading", 2, out)
    p.step("one.js")
    p.step("two.js")
    text = out.getvalue()
    assert "uploading" in text and "2/2" in text and "two.js" in text
