// The designated-committer (DC) rule as a pure state machine: a line-by-line port of
// waict/room/committer.py (itself a port of models/room/designated_committer.pml, the
// "latest Welcome wins" rule that Spin checks). Keep the two in step:
// tests/unit/test_room_committer_js.py replays random schedules through both.
//
// Feed it, in the room's order, what the delivery service sends (eventFromFrame), ask
// nextAction(), do the MLS work (create the group; an Add: the Welcome FIRST, then the
// commit; one Remove commit for every pending removal) and report the new group state
// with committed(action, state). A group state is {epoch, stateId}; stateId is the hex
// of the MLS epoch authenticator, so two commits at one epoch give two states (forks).

export class Committer {
  constructor(uid, members = [], welcomeRule = "latest") {
    this.uid = uid;
    this.welcomeRule = welcomeRule;
    this.alive = new Set(members);
    this.added = new Set(); // in the group, in my view
    this.pendingAdds = []; // join order
    this.pendingRemoves = new Set();
    this.state = null; // {epoch, stateId}
    this.confirmed = false; // created the group, or read my own Add
    this.awaiting = null; // the state id of my own commit, until I read it back
    this.ignoredCommits = 0; // stale, or on another fork
  }

  // --- what it believes ------------------------------------------------------------

  believesDc() {
    const inGroup = [...this.alive].filter((u) => this.added.has(u));
    return inGroup.includes(this.uid) && Math.min(...inGroup) === this.uid;
  }

  mustCreate() {
    const inGroup = [...this.alive].filter((u) => this.added.has(u));
    return this.alive.has(this.uid) && inGroup.length === 0 && Math.min(...this.alive) === this.uid;
  }

  nextAction() {
    if (this.awaiting !== null || !this.alive.has(this.uid)) return null;
    if (this.confirmed && this.state !== null && this.believesDc()) {
      if (this.pendingAdds.length) return { kind: "add", targets: [this.pendingAdds[0]] };
      if (this.pendingRemoves.size) {
        return { kind: "remove", targets: [...this.pendingRemoves].sort((a, b) => a - b) };
      }
      return null;
    }
    if (this.mustCreate()) return { kind: "create", targets: [] };
    return null;
  }

  welcomeRoster(target) {
    return new Set([...this.added, target]);
  }

  // --- what it did -------------------------------------------------------------------

  committed(action, newState) {
    if (action.kind === "create") {
      this.state = newState;
      this.confirmed = true;
      this.added = new Set([this.uid]);
      this.pendingRemoves = new Set();
      this.pendingAdds = this.pendingAdds.filter((u) => u !== this.uid);
    } else {
      this.awaiting = newState.stateId;
    }
  }

  // --- what it reads -----------------------------------------------------------------

  // Whether a Welcome addressed to me is taken (the caller joins the MLS group from it
  // first, then calls receive with the roster it read).
  takesWelcome(w) {
    if (w.target !== this.uid) return false;
    return this.welcomeRule === "first" ? this.state === null : !this.confirmed;
  }

  receive(event) {
    switch (event.type) {
      case "joined": {
        this.alive.add(event.uid);
        const fresh = !this.added.has(event.uid) && !this.pendingAdds.includes(event.uid);
        if (event.uid !== this.uid && fresh) this.pendingAdds.push(event.uid);
        break;
      }
      case "left":
        this.alive.delete(event.uid);
        if (this.added.has(event.uid)) this.pendingRemoves.add(event.uid);
        else if (this.pendingAdds.includes(event.uid)) {
          this.pendingAdds = this.pendingAdds.filter((u) => u !== event.uid);
        }
        break;
      case "welcome":
        this.welcome(event);
        break;
      case "commit":
        this.commit(event);
        break;
      default:
        throw new Error("unknown event " + event.type);
    }
  }

  welcome(w) {
    if (!this.takesWelcome(w)) return;
    this.state = w.state;
    this.added = new Set([...w.roster].filter((u) => u !== this.uid));
    this.pendingAdds = this.pendingAdds.filter((u) => !this.added.has(u));
    this.pendingRemoves = new Set([...this.added].filter((u) => !this.alive.has(u)));
  }

  // What a commit does to my group state: "apply" (its parent is my state), "held" (it
  // leads to the state I already hold: it came in a Welcome) or "ignore".
  commitEffect(c) {
    if (this.state !== null && c.parent === this.state.stateId) return "apply";
    if (this.state !== null && c.state.stateId === this.state.stateId) return "held";
    return "ignore";
  }

  commit(c) {
    if (c.sender === this.uid && c.state.stateId === this.awaiting) this.awaiting = null;
    if (c.op === "add") {
      for (const t of c.targets) {
        this.pendingAdds = this.pendingAdds.filter((u) => u !== t);
        this.added.add(t);
        if (!this.alive.has(t)) this.pendingRemoves.add(t);
      }
    } else {
      for (const t of c.targets) {
        this.pendingRemoves.delete(t);
        this.added.delete(t);
      }
    }
    const effect = this.commitEffect(c);
    if (effect === "apply") {
      if (c.state.epoch !== this.state.epoch + 1) {
        throw new Error(`commit to epoch ${c.state.epoch} at epoch ${this.state.epoch}`);
      }
      this.state = c.state;
    } else if (effect === "ignore") {
      this.ignoredCommits += 1;
    }
    if (c.op === "add" && c.targets.includes(this.uid)) this.confirmed = true;
  }
}

// A server frame (waict/room/protocol.py) -> an event; null for frames the rule does not
// read. `roster`: the uids the member's MLS library read from a Welcome addressed to it.
export function eventFromFrame(frame, roster = new Set()) {
  if (frame.type === "user_joined") return { type: "joined", uid: frame.uid };
  if (frame.type === "user_left") return { type: "left", uid: frame.uid };
  if (frame.type !== "mls" || (frame.kind !== "welcome" && frame.kind !== "commit")) return null;
  const state = { epoch: frame.epoch, stateId: frame.state };
  const targets = [...(frame.targets || [])];
  if (frame.kind === "welcome") {
    if (targets.length !== 1) throw new Error("a Welcome has one target");
    return { type: "welcome", sender: frame.from, target: targets[0], state, parent: frame.parent, roster };
  }
  if (frame.op !== "add" && frame.op !== "remove") return null;
  return { type: "commit", sender: frame.from, op: frame.op, targets, parent: frame.parent, state };
}
