"""The sparse file format of the extension's Pyodide memory snapshot (scripts/make_snapshot.py;
python.js expands it the same way in the service worker)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "scripts" / "make_snapshot.py"
spec = importlib.util.spec_from_file_location("waict_make_snapshot", PATH)
assert spec is not None and spec.loader is not None
make_snapshot = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = make_snapshot
spec.loader.exec_module(make_snapshot)

PAGE = make_snapshot.PAGE


@pytest.mark.parametrize(
    "memory",
    [
        b"",
        bytes(PAGE * 3),
        os.urandom(PAGE * 2 + 17),
        bytes(PAGE) + b"x" + bytes(PAGE * 2) + os.urandom(5),
        os.urandom(PAGE) + bytes(PAGE - 1) + b"\x01",
    ],
)
def test_sparse_expands_to_the_same_memory(memory: bytes) -> None:
    packed = make_snapshot.sparse(memory)
    assert packed[:8] == b"WAICTSS1"
    assert make_snapshot.expand(packed) == memory
    zero_pages = sum(1 for i in range(0, len(memory), PAGE) if not any(memory[i : i + PAGE]))
    assert len(packed) <= 20 + (len(memory) // PAGE + 8) // 8 + len(memory) - zero_pages * PAGE


def test_not_a_snapshot_is_refused() -> None:
    with pytest.raises(ValueError):
        make_snapshot.expand(b"NOTSNAP!" + bytes(12))
