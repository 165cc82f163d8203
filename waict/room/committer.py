"""The designated-committer (DC) rule as a pure state machine: given the room's ordered
stream, what the local member does next.  A port of models/room/designated_committer.pml
(the "latest Welcome wins" rule that Spin checks); the browser's JS port follows this file.

Feed it, in the room's order, what the delivery service sends (``user_joined``,
``user_left``, ``mls`` welcome and commit frames: :func:`event_from_frame`) and ask
:meth:`Committer.next_action`.  The caller does the MLS work (create the group; build an
Add commit and its Welcome, send the Welcome *first*, then the commit; build one Remove
commit) and reports the new group state with :meth:`Committer.committed`.

The rule, as modelled and checked:

- a member believes it is the DC when it is the smallest uid that is alive and in the
  group in its view; it therefore acts only after reading the ``user_left`` of every
  lower member;
- it acts only when it has read back its own previous commit (one commit in flight);
- pending adds before removes; adds one at a time in join order (Welcome, then Add);
  all pending removes in one Remove commit; a new DC just replays its pending lists;
- when nobody alive is in the group, the smallest alive user creates it (the first user
  of a room does so; so does the survivor of a room whose members all left);
- a commit applies when its parent is the member's state; a commit into the state the
  member already holds (it came in a Welcome) and any other commit (stale, or another
  fork) change nothing;
- a joiner takes the *latest* Welcome addressed to it until its own Add commit arrives
  (keeping its KeyPackage key until then); "first Welcome wins" strands a joiner on a
  dead fork when a DC dies between its Welcome and its Add (docs/room.md has the trail).

Knowledge at join time: ``hello.members`` (who is alive) and, once welcomed, the Welcome's
roster (who is in the group: the MLS library reads it from the group state).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

WelcomeRule = Literal["latest", "first"]


@dataclass(frozen=True)
class GroupState:
    """An MLS group state: its epoch and an identity that tells forks apart (e.g. the hex
    of the epoch authenticator), so two commits at one epoch give two states."""

    epoch: int
    state_id: str


@dataclass(frozen=True)
class Joined:
    uid: int


@dataclass(frozen=True)
class Left:
    uid: int


@dataclass(frozen=True)
class Welcome:
    sender: int
    target: int
    state: GroupState  # the state the Welcome puts the joiner into
    parent: str  # the state id it was made from
    roster: frozenset[int] = frozenset()  # the uids in that state (from MLS)


@dataclass(frozen=True)
class Commit:
    sender: int
    op: Literal["add", "remove"]
    targets: frozenset[int]
    parent: str
    state: GroupState


Event = Joined | Left | Welcome | Commit


@dataclass(frozen=True)
class Action:
    """What the local member must do now: ``create`` the group, ``add`` one joiner
    (Welcome first, then the Add commit) or ``remove`` the users that left."""

    kind: Literal["create", "add", "remove"]
    targets: tuple[int, ...] = ()


@dataclass
class Committer:
    uid: int
    members: tuple[int, ...] = ()  # hello.members: alive before this user joined
    welcome_rule: WelcomeRule = "latest"
    alive: set[int] = field(init=False)
    added: set[int] = field(default_factory=set, init=False)  # in the group, in my view
    pending_adds: list[int] = field(default_factory=list, init=False)  # join order
    pending_removes: set[int] = field(default_factory=set, init=False)
    state: GroupState | None = field(default=None, init=False)
    confirmed: bool = field(default=False, init=False)  # created the group or read own Add
    awaiting: str | None = field(default=None, init=False)  # own commit not yet read back
    ignored_commits: int = field(default=0, init=False)  # stale or on another fork

    def __post_init__(self) -> None:
        self.alive = set(self.members)

    # --- what it believes -------------------------------------------------------------

    def believes_dc(self) -> bool:
        """The smallest uid alive and in the group, in this member's view, is its own."""
        in_group = self.alive & self.added
        return self.uid in in_group and min(in_group) == self.uid

    def must_create(self) -> bool:
        return (
            self.uid in self.alive and not (self.alive & self.added) and min(self.alive) == self.uid
        )

    def next_action(self) -> Action | None:
        if self.awaiting is not None or self.uid not in self.alive:
            return None
        if self.confirmed and self.state is not None and self.believes_dc():
            if self.pending_adds:
                return Action("add", (self.pending_adds[0],))
            if self.pending_removes:
                return Action("remove", tuple(sorted(self.pending_removes)))
            return None
        if self.must_create():
            return Action("create")
        return None

    def welcome_roster(self, target: int) -> frozenset[int]:
        """The uids of the state an Add of ``target`` leads to (what its Welcome says)."""
        return frozenset(self.added | {target})

    # --- what it did ------------------------------------------------------------------

    def committed(self, action: Action, new_state: GroupState) -> None:
        """The caller did ``action``; ``new_state`` is the group state it leads to."""
        if action.kind == "create":
            self.state = new_state
            self.confirmed = True
            self.added = {self.uid}
            self.pending_removes = set()
            self.pending_adds = [u for u in self.pending_adds if u != self.uid]
        else:
            self.awaiting = new_state.state_id

    # --- what it reads ----------------------------------------------------------------

    def receive(self, event: Event) -> None:
        if isinstance(event, Joined):
            self.alive.add(event.uid)
            new = event.uid not in self.added and event.uid not in self.pending_adds
            if event.uid != self.uid and new:
                self.pending_adds.append(event.uid)
        elif isinstance(event, Left):
            self.alive.discard(event.uid)
            if event.uid in self.added:
                self.pending_removes.add(event.uid)
            elif event.uid in self.pending_adds:
                self.pending_adds.remove(event.uid)
        elif isinstance(event, Welcome):
            self._welcome(event)
        else:
            self._commit(event)

    def _welcome(self, w: Welcome) -> None:
        if w.target != self.uid:
            return
        takes = self.state is None if self.welcome_rule == "first" else not self.confirmed
        if not takes:
            return
        self.state = w.state
        self.added = set(w.roster) - {self.uid}
        self.pending_adds = [u for u in self.pending_adds if u not in self.added]
        self.pending_removes = {u for u in self.added if u not in self.alive}

    def _commit(self, c: Commit) -> None:
        if c.sender == self.uid and c.state.state_id == self.awaiting:
            self.awaiting = None
        if c.op == "add":
            for t in c.targets:
                if t in self.pending_adds:
                    self.pending_adds.remove(t)
                self.added.add(t)
                if t not in self.alive:
                    self.pending_removes.add(t)
        else:
            self.pending_removes -= c.targets
            self.added -= c.targets
        if self.state is not None and c.parent == self.state.state_id:
            if c.state.epoch != self.state.epoch + 1:
                raise ValueError(f"commit to epoch {c.state.epoch} at epoch {self.state.epoch}")
            self.state = c.state
        elif self.state is None or c.state.state_id != self.state.state_id:
            self.ignored_commits += 1
        if c.op == "add" and self.uid in c.targets:
            self.confirmed = True


def event_from_frame(frame: dict[str, Any], roster: frozenset[int] = frozenset()) -> Event | None:
    """A server frame (waict/room/protocol.py) -> an event; None for frames the rule does
    not read (hello, application messages, update commits, errors).  ``roster`` is what
    the member's MLS library read from a Welcome addressed to it."""
    kind = frame.get("type")
    if kind == "user_joined":
        return Joined(int(frame["uid"]))
    if kind == "user_left":
        return Left(int(frame["uid"]))
    if kind != "mls" or frame.get("kind") not in ("welcome", "commit"):
        return None
    state = GroupState(int(frame["epoch"]), str(frame["state"]))
    targets = frozenset(int(t) for t in frame.get("targets", ()))
    if frame["kind"] == "welcome":
        (target,) = targets
        return Welcome(int(frame["from"]), target, state, str(frame["parent"]), roster)
    if frame.get("op") not in ("add", "remove"):
        return None
    op: Literal["add", "remove"] = "add" if frame["op"] == "add" else "remove"
    return Commit(int(frame["from"]), op, targets, str(frame["parent"]), state)


def frame_payload(frame: dict[str, Any]) -> bytes:
    """The MLS bytes of an ``mls`` frame (for the MLS library)."""
    return base64.b64decode(frame["data"], validate=True)
