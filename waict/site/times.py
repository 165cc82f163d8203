"""Times on the command line: parsing ``now`` / ``+30d`` / unix seconds, and printing times
and ages."""

from __future__ import annotations

import re
import time

from waict.common.errors import SiteToolError


def parse_time(text: str, *, base: int | None = None) -> int:
    """Unix seconds: an integer, ``now``, or ``+N[smhd]`` relative to ``base`` (default now)."""
    text = text.strip()
    now = int(time.time())
    if text == "now":
        return now
    match = re.fullmatch(r"([+-])(\d+)([smhd]?)", text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(3)]
        return (now if base is None else base) + sign * int(match.group(2)) * unit
    if re.fullmatch(r"\d+", text):
        return int(text)
    raise SiteToolError(
        f"{text!r} is not a time", "give unix seconds, 'now', or an offset such as +30d"
    )


def format_time(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def format_age(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 120:
        return f"{sign}{s} s"
    if s < 7200:
        return f"{sign}{s // 60} min"
    if s < 172800:
        return f"{sign}{s / 3600:.1f} h"
    return f"{sign}{s / 86400:.1f} d"
