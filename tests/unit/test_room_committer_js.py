"""The room page's JS port of the committer rule (web/room/src/committer.js) does what
waict/room/committer.py does, step by step, on the model's scenarios and random schedules.

The world of tests/unit/test_room_committer.py runs with recording committers: every
call a member gets (its creation, each event it reads, each action it reports) and, after
each, what it then believes and would do. Node replays every member's calls on the JS
class and must produce the same beliefs and actions at every step.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from waict.room.committer import Action, Commit, Committer, Event, GroupState, Joined, Left

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "web" / "room" / "src" / "committer.js"

REPLAY = """
import { readFileSync } from "node:fs";
import { Committer } from "./committer.mjs";
const traces = JSON.parse(readFileSync(process.argv[2], "utf8"));
const snap = (m) => ({
  action: m.nextAction(),
  dc: m.believesDc(),
  state: m.state,
  confirmed: m.confirmed,
  added: [...m.added].sort((a, b) => a - b),
  pendingAdds: [...m.pendingAdds],
  pendingRemoves: [...m.pendingRemoves].sort((a, b) => a - b),
  awaiting: m.awaiting,
  ignored: m.ignoredCommits,
});
const out = traces.map((trace) => {
  let m = null;
  return trace.map((call) => {
    if (call.op === "init") m = new Committer(call.uid, call.members, call.rule);
    else if (call.op === "receive") {
      const e = call.event;
      m.receive(e.type === "welcome" ? { ...e, roster: new Set(e.roster) } : e);
    } else m.committed(call.action, call.state);
    return snap(m);
  });
});
process.stdout.write(JSON.stringify(out));
"""


def _state(s: GroupState | None) -> dict[str, Any] | None:
    return None if s is None else {"epoch": s.epoch, "stateId": s.state_id}


def _event(e: Event) -> dict[str, Any]:
    if isinstance(e, Joined):
        return {"type": "joined", "uid": e.uid}
    if isinstance(e, Left):
        return {"type": "left", "uid": e.uid}
    if isinstance(e, Commit):
        return {
            "type": "commit",
            "sender": e.sender,
            "op": e.op,
            "targets": sorted(e.targets),
            "parent": e.parent,
            "state": _state(e.state),
        }
    return {
        "type": "welcome",
        "sender": e.sender,
        "target": e.target,
        "state": _state(e.state),
        "parent": e.parent,
        "roster": sorted(e.roster),
    }


def _snap(m: Committer) -> dict[str, Any]:
    action = m.next_action()
    return {
        "action": None
        if action is None
        else {"kind": action.kind, "targets": list(action.targets)},
        "dc": m.believes_dc(),
        "state": _state(m.state),
        "confirmed": m.confirmed,
        "added": sorted(m.added),
        "pendingAdds": list(m.pending_adds),
        "pendingRemoves": sorted(m.pending_removes),
        "awaiting": m.awaiting,
        "ignored": m.ignored_commits,
    }


TRACES: list[list[dict[str, Any]]] = []


class Recording(Committer):
    """A committer that writes down every call it gets and what it then believes."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.trace: list[dict[str, Any]] = []
        TRACES.append(self.trace)
        init = {"op": "init", "uid": self.uid, "members": list(self.members)}
        self.trace.append({**init, "rule": self.welcome_rule, "after": _snap(self)})

    def receive(self, event: Event) -> None:
        super().receive(event)
        self.trace.append({"op": "receive", "event": _event(event), "after": _snap(self)})

    def committed(self, action: Action, new_state: GroupState) -> None:
        super().committed(action, new_state)
        call = {"kind": action.kind, "targets": list(action.targets)}
        self.trace.append(
            {"op": "committed", "action": call, "state": _state(new_state), "after": _snap(self)}
        )


def _world_module() -> Any:
    path = Path(__file__).with_name("test_room_committer.py")
    spec = importlib.util.spec_from_file_location("room_committer_world", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    module.Committer = Recording  # the world builds its members with this name
    return module


@pytest.mark.parametrize("rule", ["latest", "first"])
def test_js_committer_matches_python(rule: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run `bash scripts/setup.sh`", pytrace=False)
    TRACES.clear()
    module = _world_module()
    module.dead_fork(rule)  # docs/room.md's counterexample
    for seed in range(1500):  # the random schedules test_room_committer.py checks
        module.explore(rule, seed)
    traces = [t for t in TRACES if len(t) > 1]
    assert len(traces) > 2000
    shutil.copyfile(JS, tmp_path / "committer.mjs")
    (tmp_path / "replay.mjs").write_text(REPLAY)
    (tmp_path / "traces.json").write_text(json.dumps([[dict(c) for c in t] for t in traces]))
    run = subprocess.run(
        [node, str(tmp_path / "replay.mjs"), str(tmp_path / "traces.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    steps = 0
    for trace, js in zip(traces, got, strict=True):
        for call, after in zip(trace, js, strict=True):
            assert after == call["after"], (call, after)
            steps += 1
    assert steps > 12000, steps
