#!/usr/bin/env python3
"""Check the designated-committer model with Spin and print the result as JSON.

    python3 models/room/check_model.py --users 4                 # the fixed rule (CI)
    python3 models/room/check_model.py --users 3 --variant first-welcome-wins --trail
    python3 models/room/check_model.py --users 5 --pan-flag=-w28  # the documented 5-user run

Runs `spin -a`, `gcc -O2 -DSAFETY pan.c` and `./pan` in a temporary directory (nothing is
written next to the model) and parses pan's report: errors, the named invariant that was
violated, states stored / matched, transitions, depth, memory, time; with --trail, the
ordered messages of the counterexample (the MSC lines of a guided `spin -t` replay).
Standard library only; needs `spin` and `gcc` on PATH (scripts/setup.sh installs spin).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = Path(__file__).resolve().with_name("designated_committer.pml")

# variant name -> preprocessor symbols of designated_committer.pml (none: the fixed rule)
VARIANTS: dict[str, tuple[str, ...]] = {
    "latest-welcome-wins": (),
    "first-welcome-wins": ("FIRST_WELCOME_WINS",),
    "add-before-welcome": ("BUG_ADD_BEFORE_WELCOME",),
    "newest-join-first": ("BUG_NEWEST_JOIN_FIRST",),
    # the published model's lesson: out-of-order Welcomes + "a Welcome makes a member"
    "newest-join-first-member-at-welcome": ("BUG_NEWEST_JOIN_FIRST", "BUG_MEMBER_AT_WELCOME"),
}

# Search depth: far above the deepest path (about 80 steps for 4 users); pan reports when
# it is too small, and the result then says depth_limit_hit.
DEPTH = 100_000


def _number(pattern: str, text: str, kind: type = int) -> Any:
    match = re.search(pattern, text)
    if match is None:
        return None
    return kind(match.group(1))


def _readable(line: str) -> str:
    """'mask 6' (a uid bit mask in the model's printf) -> '{u1,u2}'."""

    def users(match: re.Match[str]) -> str:
        mask = int(match.group(1))
        return "{" + ",".join(f"u{i}" for i in range(8) if mask >> i & 1) + "}"

    return re.sub(r"mask (\d+)", users, line)


def parse_pan(text: str) -> dict[str, Any]:
    """The figures of a pan report (of its progress lines, when it was cut short)."""
    figures: dict[str, Any] = {
        "errors": _number(r"errors: (\d+)", text),
        "violated": sorted(set(re.findall(r"assertion violated (\w+)", text))),
        "states_stored": _number(r"(\d+) states, stored", text),
        "states_matched": _number(r"(\d+) states, matched", text),
        "transitions": _number(r"(\d+) transitions \(= stored\+matched\)", text),
        "depth_reached": _number(r"depth reached (\d+)", text),
        "memory_mb": _number(r"([\d.]+)\s+total actual memory usage", text, float),
        "pan_seconds": _number(r"elapsed time ([\d.e+]+) seconds", text, float),
        "depth_limit_hit": "max search depth too small" in text,
        "out_of_memory": "out of memory" in text or "memory limit" in text.lower(),
        "timed_out": "TIMED OUT" in text,
    }
    if figures["timed_out"]:  # the last progress line: how far the search got
        progress = re.findall(
            r"States=\s*([\d.e+]+) Transitions=\s*([\d.e+]+) Memory=\s*([\d.]+)", text
        )
        if progress:
            states, transitions, memory = progress[-1]
            figures["states_stored"] = int(float(states))
            figures["transitions"] = int(float(transitions))
            figures["memory_mb"] = float(memory)
    return figures


def check(
    users: int,
    variant: str = "latest-welcome-wins",
    *,
    max_leave: int | None = None,
    trail: bool = False,
    shortest: bool = False,
    pan_flags: tuple[str, ...] = (),
    gcc_defines: tuple[str, ...] = (),
    memlim_mb: int = 4096,
    optimize: str = "-O2",
    timeout: float = 600,
) -> dict[str, Any]:
    """Run one verification; returns pan's figures plus the command lines and wall time.

    ``optimize``: gcc's level; -O2 for the big searches, -O0 compiles 10x faster for the
    small ones (a counterexample is found in a few thousand states).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {sorted(VARIANTS)}")
    for tool in ("spin", "gcc"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not on PATH (bash scripts/setup.sh installs it)")
    defines = [f"-DN={users}"]
    if max_leave is not None:
        defines.append(f"-DMAXLEAVE={max_leave}")
    defines += [f"-D{symbol}" for symbol in VARIANTS[variant]]
    gcc_flags = [optimize, "-w", "-DSAFETY", f"-DMEMLIM={memlim_mb}", *gcc_defines]
    pan_args = [f"-m{DEPTH}", *pan_flags]
    if shortest:
        pan_args.append("-i")  # iteratively shorter counterexamples (the last one is kept)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="waict-spin-") as tmp:
        work = Path(tmp)
        shutil.copy(MODEL, work / MODEL.name)

        def run(cmd: list[str]) -> str:
            try:
                done = subprocess.run(
                    cmd, cwd=work, capture_output=True, text=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired as exc:
                if cmd[0] != "./pan":
                    raise
                out = exc.stdout or b""
                text = out.decode() if isinstance(out, bytes) else out
                return text + "\nTIMED OUT\n"  # pan's progress lines so far
            if done.returncode != 0 and cmd[0] != "./pan":
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
            return done.stdout + done.stderr

        run(["spin", "-a", *defines, MODEL.name])
        run(["gcc", *gcc_flags, "-o", "pan", "pan.c"])
        pan_started = time.monotonic()
        report = run(["./pan", *pan_args])
        pan_wall = time.monotonic() - pan_started
        result = parse_pan(report)
        messages: list[str] = []
        result["trail_steps"] = None
        if trail and (work / f"{MODEL.name}.trail").exists():
            replay = run(["spin", "-t", *defines, MODEL.name])
            messages = [
                _readable(line.split("MSC: ", 1)[1].strip())
                for line in replay.splitlines()
                if "MSC: " in line
            ]
            result["trail_steps"] = _number(r"trail ends after (\d+) steps", replay)
    result.update(
        {
            "users": users,
            "variant": variant,
            "max_leave": max_leave if max_leave is not None else users - 1,
            "spin": f"spin -a {' '.join(defines)} {MODEL.name}",
            "gcc": f"gcc {' '.join(gcc_flags)} -o pan pan.c",
            "pan": f"./pan {' '.join(pan_args)}",
            "pan_wall_seconds": round(pan_wall, 2),
            "wall_seconds": round(time.monotonic() - started, 2),
            "trail": messages,
        }
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=4, help="users N (2..6, default 4)")
    parser.add_argument("--variant", default="latest-welcome-wins", choices=sorted(VARIANTS))
    parser.add_argument("--max-leave", type=int, default=None, help="leaves (default N-1)")
    parser.add_argument("--trail", action="store_true", help="print the counterexample")
    parser.add_argument("--shortest", action="store_true", help="pan -i: shortest trail")
    parser.add_argument("--pan-flag", action="append", default=[], help="extra pan flag")
    parser.add_argument(
        "--gcc-define", action="append", default=[], help="e.g. -DBITSTATE (not exhaustive)"
    )
    parser.add_argument("--memlim-mb", type=int, default=4096, help="pan's memory cap")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for pan")
    args = parser.parse_args(argv)
    result = check(
        args.users,
        args.variant,
        max_leave=args.max_leave,
        trail=args.trail,
        shortest=args.shortest,
        pan_flags=tuple(args.pan_flag),
        gcc_defines=tuple(args.gcc_define),
        memlim_mb=args.memlim_mb,
        timeout=args.timeout,
    )
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
