"""waict/room/committer.py replays the model's scenarios and reaches the model's verdicts.

A small world stands in for the delivery service and MLS: one ordered log, users joining
with ``hello.members`` and reading from their own ``user_joined`` on (as the real service
gives them), each at its own pace; a committer's Add is two log entries (Welcome, then
commit) with room for its death in between.  The verdicts are the model's invariants
(models/room/designated_committer.pml): at most one member believes it is the DC in every
state, and in every quiescent state no pendings, equal epochs, one group state, every
join welcomed and every welcome added.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from waict.room.committer import (
    Action,
    Commit,
    Committer,
    Event,
    GroupState,
    Joined,
    Left,
    Welcome,
    WelcomeRule,
    event_from_frame,
)


@dataclass
class World:
    rule: WelcomeRule = "latest"
    users: int = 4
    max_leave: int = 3
    log: list[Event] = field(default_factory=list)
    machines: dict[int, Committer] = field(default_factory=dict)
    rd: dict[int, int] = field(default_factory=dict)
    inflight: dict[int, Commit] = field(default_factory=dict)
    joined: int = 0
    leaves: int = 0
    nsid: int = 0
    dc_unique_violations: int = 0

    # --- the environment ----------------------------------------------------------------

    def join(self) -> int:
        uid = self.joined + 1  # the server's uids start at 1
        self.joined += 1
        self.machines[uid] = Committer(uid, tuple(sorted(self.machines)), self.rule)
        self.rd[uid] = len(self.log)
        self.log.append(Joined(uid))
        return uid

    def leave(self, uid: int) -> None:
        del self.machines[uid]
        self.inflight.pop(uid, None)
        self.leaves += 1
        self.log.append(Left(uid))

    # --- a user's steps ---------------------------------------------------------------

    def read(self, uid: int) -> None:
        self.machines[uid].receive(self.log[self.rd[uid]])
        self.rd[uid] += 1
        self._check_dc()

    def settle(self, *uids: int) -> None:
        for uid in uids or tuple(self.machines):
            while uid in self.machines and self.rd[uid] < len(self.log):
                self.read(uid)

    def act(self, uid: int) -> Action | None:
        """The member's next action; an Add only goes as far as its Welcome."""
        m = self.machines[uid]
        action = m.next_action()
        if action is None:
            return None
        self.nsid += 1
        if action.kind == "create":
            m.committed(action, GroupState(0, f"s{self.nsid}"))
            return action
        assert m.state is not None
        new = GroupState(m.state.epoch + 1, f"s{self.nsid}")
        targets = frozenset(action.targets)
        commit = Commit(uid, action.kind, targets, m.state.state_id, new)  # type: ignore[arg-type]
        if action.kind == "add":
            (target,) = action.targets
            roster = m.welcome_roster(target)
            self.log.append(Welcome(uid, target, new, m.state.state_id, roster))
            self.inflight[uid] = commit
        else:
            self.log.append(commit)
        m.committed(action, new)
        return action

    def finish(self, uid: int) -> None:
        self.log.append(self.inflight.pop(uid))

    # --- the verdicts -----------------------------------------------------------------

    def _check_dc(self) -> None:
        if sum(m.believes_dc() for m in self.machines.values()) > 1:
            self.dc_unique_violations += 1

    def quiescent(self) -> bool:
        return not self.inflight and all(
            self.rd[u] == len(self.log) and m.next_action() is None
            for u, m in self.machines.items()
        )

    def verdict(self) -> dict[str, bool]:
        ms = list(self.machines.values())
        states = {m.state for m in ms}
        epochs = {m.state.epoch for m in ms if m.state is not None}
        return {
            "dc_unique": self.dc_unique_violations == 0,
            "every_join_welcomed": all(m.state is not None for m in ms),
            "every_welcome_added": all(m.confirmed for m in ms),
            "no_pendings": all(not m.pending_adds and not m.pending_removes for m in ms),
            "equal_epochs": len(epochs) <= 1,
            "same_group_state": len(states) <= 1,
        }

    def run_to_quiescence(self) -> None:
        for _ in range(10_000):
            if self.quiescent():
                return
            for uid in list(self.machines):
                if uid in self.inflight:
                    self.finish(uid)
                elif self.rd[uid] < len(self.log):
                    self.read(uid)
                elif self.act(uid) is None:
                    continue
        raise AssertionError("no quiescence")


def dead_fork(rule: WelcomeRule) -> World:
    """The model's counterexample (docs/room.md): u1 creates, adds u2, Welcomes u3 and dies;
    u2 Welcomes u3 again (another state id, same epoch) and adds it."""
    w = World(rule, users=3)
    u1 = w.join()
    w.settle()
    assert w.act(u1) == Action("create")
    u2 = w.join()
    w.settle()
    assert w.act(u1) == Action("add", (u2,))
    w.finish(u1)
    w.settle()
    u3 = w.join()
    w.settle(u1)
    assert w.act(u1) == Action("add", (u3,))  # Welcome into (epoch 2, s3) ...
    w.leave(u1)  # ... and u1 dies before its Add
    w.settle(u3)  # u3 reads the first Welcome
    w.settle(u2)
    assert w.machines[u2].believes_dc()
    assert w.act(u2) == Action("add", (u3,))  # the next DC replays its pending add
    w.finish(u2)
    w.settle()
    assert w.act(u2) == Action("remove", (u1,))
    w.settle()
    assert w.quiescent()
    return w


def test_dead_fork_first_welcome_wins_strands_the_joiner() -> None:
    w = dead_fork("first")
    assert w.verdict() == {
        "dc_unique": True,
        "every_join_welcomed": True,
        "every_welcome_added": True,
        "no_pendings": True,
        "equal_epochs": False,  # the held epochs differ (the model's bare epochs did not)
        "same_group_state": False,
    }
    joiner = w.machines[3]
    assert joiner.state == GroupState(2, "s3")  # the dead committer's fork
    assert w.machines[2].state == GroupState(3, "s5")
    assert joiner.ignored_commits == 2


def test_dead_fork_latest_welcome_wins_passes() -> None:
    w = dead_fork("latest")
    assert all(w.verdict().values()), w.verdict()
    assert w.machines[3].state == w.machines[2].state == GroupState(3, "s5")


def test_a_removal_the_joiner_never_saw_comes_from_the_roster() -> None:
    """u2 leaves before u3 joins; u1 adds u3 (adds before removes) and dies: u3, the new
    DC, removes u1 and u2, which it knows only from its Welcome's roster."""
    w = World()
    u1 = w.join()
    w.settle()
    w.act(u1)
    u2 = w.join()
    w.settle()
    w.act(u1)
    w.finish(u1)
    w.settle()
    w.leave(u2)
    u3 = w.join()
    w.settle(u1)
    assert w.act(u1) == Action("add", (u3,))
    w.finish(u1)
    w.leave(u1)
    w.settle()
    assert w.act(u3) == Action("remove", (u1, u2))
    w.settle()
    assert w.quiescent() and all(w.verdict().values()), w.verdict()
    assert w.machines[u3].state == GroupState(3, "s4")


def test_a_survivor_recreates_the_group_when_every_member_left() -> None:
    w = World()
    u1 = w.join()
    w.settle()
    w.act(u1)
    u2 = w.join()
    w.leave(u1)  # before anyone added u2
    w.settle()
    assert w.act(u2) == Action("create")
    u3 = w.join()
    w.run_to_quiescence()
    assert all(w.verdict().values()), w.verdict()
    assert w.machines[u3].state == GroupState(1, "s3")


def explore(rule: WelcomeRule, seed: int, users: int = 4) -> dict[str, bool]:
    """One random schedule of the model's world; the verdict at every quiescent state."""
    rnd = random.Random(seed)
    w = World(rule, users=users, max_leave=users - 1)
    seen = {k: True for k in w.verdict()}
    for _ in range(400):
        moves: list[tuple[str, int]] = []
        if w.joined < w.users:
            moves.append(("join", 0))
        for uid, m in w.machines.items():
            if w.leaves < w.max_leave:
                moves.append(("leave", uid))
            if uid in w.inflight:
                moves.append(("finish", uid))
                continue
            if w.rd[uid] < len(w.log):
                moves.append(("read", uid))
            if m.next_action() is not None:
                moves.append(("act", uid))
        if w.quiescent():
            for k, v in w.verdict().items():
                seen[k] = seen[k] and v
        if not moves:
            break
        # leaves are rarer than the rest, so that rooms live long enough to do something
        weights = [0.15 if m == "leave" else 1.0 for m, _ in moves]
        move, uid = rnd.choices(moves, weights)[0]
        if move == "join":
            w.join()
        elif move == "leave":
            w.leave(uid)
        elif move == "finish":
            w.finish(uid)
        elif move == "read":
            w.read(uid)
        else:
            w.act(uid)
    seen["dc_unique"] = w.dc_unique_violations == 0
    return seen


def test_random_schedules_latest_welcome_wins_keep_every_invariant() -> None:
    for seed in range(1500):
        verdict = explore("latest", seed)
        assert all(verdict.values()), (seed, verdict)


def test_random_schedules_find_the_first_welcome_wins_fork() -> None:
    failures = [s for s in range(1500) if not explore("first", s)["same_group_state"]]
    assert failures, "the dead fork should show up in some schedule"
    for seed in failures:
        verdict = explore("first", seed)
        assert verdict["dc_unique"] and verdict["every_welcome_added"], (seed, verdict)


def test_events_from_server_frames() -> None:
    assert event_from_frame({"type": "user_joined", "seq": 0, "uid": 4, "key_package": ""}) == (
        Joined(4)
    )
    assert event_from_frame({"type": "user_left", "seq": 1, "uid": 4, "reason": "x"}) == Left(4)
    welcome = {"type": "mls", "seq": 2, "from": 1, "kind": "welcome", "targets": [5],
               "epoch": 3, "parent": "aa", "state": "bb", "data": ""}  # fmt: skip
    assert event_from_frame(welcome, frozenset({1, 5})) == Welcome(
        1, 5, GroupState(3, "bb"), "aa", frozenset({1, 5})
    )
    commit = {**welcome, "kind": "commit", "op": "remove", "targets": [2, 3]}
    assert event_from_frame(commit) == Commit(
        1, "remove", frozenset({2, 3}), "aa", GroupState(3, "bb")
    )
    assert event_from_frame({**commit, "op": "update"}) is None
    assert event_from_frame({"type": "mls", "kind": "application", "data": ""}) is None
    assert event_from_frame({"type": "hello"}) is None


@pytest.mark.parametrize("rule", ["latest", "first"])
def test_only_the_dc_acts(rule: WelcomeRule) -> None:
    w = World(rule)
    u1 = w.join()
    u2 = w.join()
    w.settle()
    assert w.machines[u2].next_action() is None  # u1 is alive and lower
    assert w.act(u1) == Action("create")
    assert w.machines[u1].believes_dc() and not w.machines[u2].believes_dc()
    assert w.act(u1) == Action("add", (u2,))
    assert w.act(u1) is None  # its Add is in flight / not read back
