"""Tile-index paths (docs/ts-api.md), used by the service, the witness and the log client."""

from __future__ import annotations


def encode_index(n: int) -> str:
    """Tile-index path encoding: 3-digit elements, all but the last prefixed with ``x``."""
    if n < 0:
        raise ValueError("index must be non-negative")
    groups: list[str] = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])
