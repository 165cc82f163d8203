"""The designated-committer model (models/room/designated_committer.pml) checked by Spin.

Each test compiles and runs a verifier in a temporary directory through
models/room/check_model.py and reads pan's report: the fixed rule ("latest Welcome wins")
passes exhaustively for 4 users; "first Welcome wins" and two deliberately broken
committers are caught, each by the invariant that names its fault.  The figures go to
the test report (record_property) and to docs/room.md.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "models" / "room" / "check_model.py"


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("room_check_model", DRIVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


check_model = _driver()


@pytest.fixture(autouse=True)
def _tools() -> None:
    missing = [t for t in ("spin", "gcc") if shutil.which(t) is None]
    assert not missing, f"{missing} not on PATH: run `bash scripts/setup.sh` (installs spin)"


def _check(record_property: Any, users: int, variant: str, **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = check_model.check(users, variant, **kw)
    for key in ("states_stored", "states_matched", "transitions", "memory_mb", "pan_seconds"):
        record_property(f"{variant}-{users}-{key}", result[key])
    print(
        f"{variant} N={users}: errors {result['errors']} {result['violated']}, "
        f"{result['states_stored']} stored, {result['states_matched']} matched, "
        f"{result['memory_mb']} MB, pan {result['pan_seconds']} s"
    )
    assert not result["depth_limit_hit"], result
    assert not result["out_of_memory"], result
    assert not result["timed_out"], result
    return result


def test_latest_welcome_wins_passes_exhaustively_for_4_users(record_property: Any) -> None:
    result = _check(record_property, 4, "latest-welcome-wins")
    assert result["errors"] == 0, result
    assert result["violated"] == []
    # the whole space was searched (a shrunken model would check next to nothing)
    assert result["states_stored"] > 100_000, result
    assert result["depth_reached"] > 50, result


def test_latest_welcome_wins_passes_for_3_users_with_every_leave(record_property: Any) -> None:
    result = _check(record_property, 3, "latest-welcome-wins", max_leave=3, optimize="-O0")
    assert result["errors"] == 0, result
    assert result["states_stored"] > 2_000, result


def test_first_welcome_wins_leaves_the_joiner_on_a_dead_fork(record_property: Any) -> None:
    result = _check(record_property, 3, "first-welcome-wins", trail=True, optimize="-O0")
    assert result["errors"] >= 1
    # every published invariant holds (equal bare epochs included): only the group-state
    # identity sees the fork
    assert result["violated"] == ["same_group_state"], result
    # two committers Welcome one joiner into one epoch (two state ids), a LEFT between
    welcome = re.compile(r"#(\d+) (u\d+) -> WELCOME \{(u\d+)\} into \(epoch (\d+), sid (\d+)\)")
    trail = result["trail"]
    welcomes = [m for m in map(welcome.fullmatch, trail) if m]
    assert len(welcomes) >= 2, trail
    first, second = welcomes[-2], welcomes[-1]
    assert first[3] == second[3] and first[4] == second[4], trail  # joiner, epoch
    assert first[2] != second[2] and first[5] != second[5], trail  # committer, state id
    between = trail[int(first[1]) + 1 : int(second[1])]
    assert any(line.endswith(f"LEFT {first[2]}") for line in between), trail


def test_first_welcome_wins_is_caught_for_4_users_too(record_property: Any) -> None:
    result = _check(record_property, 4, "first-welcome-wins", optimize="-O0")
    assert result["errors"] >= 1
    assert result["violated"] == ["same_group_state"], result


def test_add_before_welcome_is_caught(record_property: Any) -> None:
    result = _check(record_property, 3, "add-before-welcome", trail=True, optimize="-O0")
    assert result["errors"] >= 1
    assert result["violated"] == ["every_join_welcomed"], result
    # the committer died between its Add and its Welcome
    assert any("LEFT" in line for line in result["trail"]), result["trail"]


def test_welcoming_the_newest_joiner_first_strands_an_earlier_joiner(
    record_property: Any,
) -> None:
    result = _check(record_property, 3, "newest-join-first", optimize="-O0")
    assert result["errors"] >= 1
    # a joiner reads from its own user_joined on: nobody who joined later knows that the
    # earlier joiner still waits, so it is never added
    assert result["violated"] == ["every_welcome_added"], result


def test_out_of_order_welcomes_that_make_members_break_dc_uniqueness(
    record_property: Any,
) -> None:
    result = _check(
        record_property, 3, "newest-join-first-member-at-welcome", trail=True, optimize="-O0"
    )
    assert result["errors"] >= 1
    assert result["violated"] == ["dc_unique"], result


def test_parse_pan_reads_a_report() -> None:
    report = """pan:1: assertion violated same_group_state (at depth 46)
State-vector 212 byte, depth reached 50, errors: 1
     1117 states, stored
     1111 states, matched
     2228 transitions (= stored+matched)
  136.466	total actual memory usage
pan: elapsed time 0.01 seconds
"""
    got = check_model.parse_pan(report)
    assert got["errors"] == 1
    assert got["violated"] == ["same_group_state"]
    assert got["states_stored"] == 1117 and got["states_matched"] == 1111
    assert got["transitions"] == 2228 and got["depth_reached"] == 50
    assert got["memory_mb"] == 136.466 and got["pan_seconds"] == 0.01
    assert not got["depth_limit_hit"]
