/*
 * The designated-committer (DC) algorithm of an end-to-end encrypted room (MLS), with a
 * group-state identity, checked by Spin.  See docs/room.md for the reading guide.
 *
 * World
 *   - The delivery service (DS) is one total order: the array `log`.  Every message goes
 *     to every member, the sender included; each user reads the log at its own pace
 *     (rd[u]).  The DS appends `JOINED u` (uids 0,1,2,... in join order) and `LEFT u`
 *     (leave, disconnect and missed heartbeats are one event; nothing from u is ordered
 *     after its LEFT).
 *   - A user's view is what it has read of the log, from its own JOINED on, starting from
 *     who was alive when it joined (the DS's hello.members) and, once welcomed, the
 *     Welcome's roster (MLS tells the joiner who is in the group).  From it the user
 *     keeps, as bit masks over uids: vAlive (joined, not left), vAdded (in the group:
 *     created it, in the roster, or an Add commit for it was read; no Remove since),
 *     pAdd (pending adds: alive, not added, in arrival order = uid order) and pRem
 *     (pending removes: added, left).  Messages every alive user has read are dropped.
 *   - Group-state identity: every commit gets a fresh state id `sid` (a commit id from
 *     the counter nsid), so (epoch, parent sid, commit) -> sid is injective: two
 *     different commits at one epoch give two different ids, and a fork is visible.
 *
 * The DC rule (what the local member does next)
 *   - u believes it is the DC when u is the smallest uid that is alive and added in u's
 *     view; so u acts only once it has read the LEFT of every lower added uid.
 *   - The DC acts only on a view that contains its own previous messages (wait[u]).
 *   - Pending adds before removes; adds one at a time in arrival order: Welcome first,
 *     then the Add commit (two steps: the DC may die between them); all pending removes
 *     in one Remove commit.  A new DC simply replays its own pending masks.
 *   - Nobody alive in the group (all added users left, or the room is new): the smallest
 *     alive user in view creates a fresh group (`CREATE`).  The first user does this.
 *
 * Members apply a commit whose parent is their current sid (epoch + 1, sid := commit's);
 * a commit into their current sid was already taken from a Welcome; any other is ignored
 * (stale or another fork).  A joiner takes the state of a Welcome addressed to it:
 *   FIRST_WELCOME_WINS  only its first Welcome (the buggy rule: dead forks)
 *   default             the latest Welcome until its own Add commit is read
 *                       ("latest Welcome wins"; keep the KeyPackage key until then)
 * Deliberately broken variants (tests must catch them):
 *   BUG_ADD_BEFORE_WELCOME  the DC sends the Add commit before the Welcome
 *   BUG_NEWEST_JOIN_FIRST   the DC adds the newest pending joiner first
 *   BUG_MEMBER_AT_WELCOME   a joiner counts itself in the group from its Welcome on
 *                           (with the one above: the published model's DC-uniqueness bug)
 *
 * Parameters: -DN=4 users (2..6), -DMAXLEAVE=N-1 leaves, -DMAXLOG log length.
 */

#ifndef N
#define N 4
#endif
#ifndef MAXLEAVE
/* the N-th leave empties a full room for good: nothing after it to check */
#define MAXLEAVE (N - 1)
#endif
#ifndef MAXLOG
#define MAXLOG (6 * N)
#endif

#define ALL ((1 << N) - 1)
#define BIT(u) (1 << (u))
#define LOWBIT(x) ((x) & (~(x) + 1))
#define ISALIVE(u) ((alive & BIT(u)) != 0)

mtype = { JOINED, LEFT, CREATE, WELCOME, ADD, REMOVE };

typedef Msg {
	mtype kind;
	byte who;    /* sender uid (JOINED/LEFT: the user concerned) */
	byte tgt;    /* target uid mask: Welcome/Add one bit, Remove any bits */
	byte ep;     /* epoch of the new state */
	byte par;    /* parent sid of a commit / of the state a Welcome comes from */
	byte sid;    /* the new state id */
	byte ros     /* Welcome: the uid mask of the state it leads to (its roster) */
};

Msg log[MAXLOG];
byte nmsg;       /* messages ordered so far */
byte nsid;       /* last state id handed out (0: none) */
byte joined;     /* users 0..joined-1 have joined */
byte alive;      /* truth: joined and not left */
byte leaves;     /* LEFT events so far */
byte everAdded;  /* truth: users that some Add commit targeted */

/* the users' local state */
byte rd[N];      /* next log index to read */
byte vAlive[N];
byte vAdded[N];
byte pAdd[N];
byte pRem[N];
byte ep[N];      /* epoch of the group state held */
byte sid[N];     /* state id held (0: none) */
byte mep[N];     /* the published model's epoch: latest epoch of a message seen since
                    welcomed (bare integer; blind to forks) */
bool conf[N];    /* a confirmed member: created the group or read its own Add */
byte wait[N];    /* act only when rd[u] >= wait[u] (own messages read back) */
byte inflight[N];/* target mask of a Welcome sent whose Add is not yet sent */
byte ifsid[N];
byte ifep[N];
byte ifpar[N];

/* named invariants: hidden (not in the state vector), assert prints the name */
hidden byte type_ok;
hidden byte dc_unique;
hidden byte epochs_monotonic;
hidden byte targets_unique;
hidden byte pendings_unique;
hidden byte log_bounded;
hidden byte hi;
hidden byte seqno;  /* the DS's sequence number, for the printed trail only */
hidden byte hcount;

inline append(k, w, t, e, p, s, r) {
	log_bounded = (nmsg < MAXLOG);
	assert(log_bounded);
	log[nmsg].kind = k;
	log[nmsg].who = w;
	log[nmsg].tgt = t;
	log[nmsg].ep = e;
	log[nmsg].par = p;
	log[nmsg].sid = s;
	log[nmsg].ros = r;
	nmsg++;
	seqno++
}

/* u believes it is the DC: alive, and the smallest alive+added uid of its view is u */
#define MEMBERS(u) (vAlive[u] & vAdded[u])
#define BELIEVES_DC(u) (ISALIVE(u) && LOWBIT(MEMBERS(u)) == BIT(u))

/* invariants that hold in every state */
inline check_always() {
	hi = 0;
	hcount = 0;
	type_ok = (nmsg <= MAXLOG && joined <= N && (alive & ~ALL) == 0 && leaves <= MAXLEAVE);
	pendings_unique = true;
	do
	:: hi < N ->
		type_ok = type_ok && rd[hi] <= nmsg && (pAdd[hi] & ~ALL) == 0 && sid[hi] <= nsid;
		/* pendings: no uid both to add and to remove; pending adds not added,
		 * pending removes added and not alive (each uid at most once: masks) */
		pendings_unique = (pendings_unique && (pAdd[hi] & pRem[hi]) == 0
			&& (pAdd[hi] & vAdded[hi]) == 0 && (pRem[hi] & ~vAdded[hi]) == 0
			&& (pRem[hi] & vAlive[hi]) == 0);
		if
		:: BELIEVES_DC(hi) -> hcount++
		:: else
		fi;
		hi++
	:: else -> break
	od;
	assert(type_ok);
	assert(pendings_unique);
	/* at most one alive user believes it is the DC, each on its own prefix of the log */
	dc_unique = (hcount <= 1);
	assert(dc_unique)
}

hidden byte lo;
hidden byte hj;

/* Drop the messages every alive user has read: nobody reads them again (a joiner reads
 * from its own JOINED on), so states that differ only in consumed history are one. */
inline compact() {
	lo = nmsg;
	hj = 0;
	do
	:: hj < N ->
		if
		:: ISALIVE(hj) && rd[hj] < lo -> lo = rd[hj]
		:: else
		fi;
		hj++
	:: else -> break
	od;
	if
	:: lo > 0 ->
		hj = 0;
		do
		:: hj + lo < nmsg ->
			log[hj].kind = log[hj + lo].kind;
			log[hj].who = log[hj + lo].who;
			log[hj].tgt = log[hj + lo].tgt;
			log[hj].ep = log[hj + lo].ep;
			log[hj].par = log[hj + lo].par;
			log[hj].sid = log[hj + lo].sid;
			log[hj].ros = log[hj + lo].ros;
			hj++
		:: else -> break
		od;
		do
		:: hj < nmsg ->
			log[hj].kind = 0;
			log[hj].who = 0;
			log[hj].tgt = 0;
			log[hj].ep = 0;
			log[hj].par = 0;
			log[hj].sid = 0;
			log[hj].ros = 0;
			hj++
		:: else -> break
		od;
		nmsg = nmsg - lo;
		hj = 0;
		do
		:: hj < N ->
			if
			:: ISALIVE(hj) ->
				rd[hj] = rd[hj] - lo;
				if
				:: wait[hj] > 0 -> wait[hj] = wait[hj] - lo
				:: else
				fi
			:: else
			fi;
			hj++
		:: else -> break
		od
	:: else
	fi;
	lo = 0;
	hj = 0
}

/* after every step: the invariants, then forget what nobody will read */
inline step_done() {
	check_always();
	compact()
}

/* a confirmed member's epoch never goes down */
hidden byte newEp;
hidden byte newSid;

inline set_state(u) {
	epochs_monotonic = (!conf[u] || newEp >= ep[u]);
	assert(epochs_monotonic);
	ep[u] = newEp;
	sid[u] = newSid
}

inline apply_commit(u, m) {
	if
	:: sid[u] != 0 && log[m].par == sid[u] ->
		epochs_monotonic = (log[m].ep == ep[u] + 1);
		assert(epochs_monotonic);
		newEp = log[m].ep;
		newSid = log[m].sid;
		set_state(u)
	:: else -> skip  /* already in it (Welcome), stale, or another fork: ignored */
	fi
}

inline seen_epoch(u, m) {
	if
	:: sid[u] != 0 && log[m].ep > mep[u] -> mep[u] = log[m].ep
	:: else
	fi
}

/* u reads log[rd[u]] */
inline read_one(u) {
	byte m = rd[u];
	rd[u]++;
	if
	:: rd[u] >= wait[u] -> wait[u] = 0  /* own messages read back: forget where */
	:: else
	fi;
	if
	:: log[m].kind == JOINED ->
		vAlive[u] = vAlive[u] | log[m].tgt;
		if
		:: log[m].who != u -> pAdd[u] = pAdd[u] | log[m].tgt
		:: else
		fi
	:: log[m].kind == LEFT ->
		vAlive[u] = vAlive[u] & ~log[m].tgt;
		if
		:: (vAdded[u] & log[m].tgt) != 0 -> pRem[u] = pRem[u] | log[m].tgt
		:: else -> pAdd[u] = pAdd[u] & ~log[m].tgt
		fi
	:: log[m].kind == CREATE ->
		/* a fresh group holding only its creator; the old group is gone */
		vAdded[u] = log[m].tgt;
		pAdd[u] = pAdd[u] & ~log[m].tgt;
		pRem[u] = 0
	:: log[m].kind == WELCOME ->
		if
#ifdef FIRST_WELCOME_WINS
		:: log[m].tgt == BIT(u) && sid[u] == 0 ->
#else
		:: log[m].tgt == BIT(u) && !conf[u] ->
#endif
			newEp = log[m].ep;
			newSid = log[m].sid;
			set_state(u);
			mep[u] = log[m].ep;
			/* who is in the group: the Welcome's roster (MLS tells the joiner) */
			vAdded[u] = log[m].ros & ~BIT(u);
			pAdd[u] = pAdd[u] & ~vAdded[u];
			pRem[u] = vAdded[u] & ~vAlive[u]
#ifdef BUG_MEMBER_AT_WELCOME
			;
			vAdded[u] = log[m].ros;  /* counts itself in the group before its Add */
			conf[u] = true
#endif
		:: else
		fi
	:: log[m].kind == ADD ->
		pAdd[u] = pAdd[u] & ~log[m].tgt;
		vAdded[u] = vAdded[u] | log[m].tgt;
		if
		:: (vAlive[u] & log[m].tgt) == 0 -> pRem[u] = pRem[u] | log[m].tgt
		:: else
		fi;
		apply_commit(u, m);
		seen_epoch(u, m);
		if
		:: log[m].tgt == BIT(u) -> conf[u] = true
		:: else
		fi
	:: log[m].kind == REMOVE ->
		pRem[u] = pRem[u] & ~log[m].tgt;
		vAdded[u] = vAdded[u] & ~log[m].tgt;
		apply_commit(u, m);
		seen_epoch(u, m)
	fi;
	m = 0
}

inline send_welcome(u) {
	append(WELCOME, u, inflight[u], ifep[u], ifpar[u], ifsid[u], vAdded[u] | inflight[u]);
	printf("MSC: #%d u%d -> WELCOME mask %d into (epoch %d, sid %d)\n",
		seqno - 1, u, inflight[u], ifep[u], ifsid[u])
}

inline send_add(u) {
	targets_unique = ((everAdded & inflight[u]) == 0);
	assert(targets_unique);
	everAdded = everAdded | inflight[u];
	append(ADD, u, inflight[u], ifep[u], ifpar[u], ifsid[u], 0);
	printf("MSC: #%d u%d -> ADD mask %d: sid %d -> sid %d (epoch %d)\n",
		seqno - 1, u, inflight[u], ifpar[u], ifsid[u], ifep[u])
}

/* the first half of an add: pick the joiner, make the commit, send its first message */
inline start_add(u) {
#ifdef BUG_NEWEST_JOIN_FIRST
	byte t = pAdd[u];
	do
	:: LOWBIT(t) != t -> t = t & ~LOWBIT(t)
	:: else -> break
	od;
	inflight[u] = t;
	t = 0;
#else
	inflight[u] = LOWBIT(pAdd[u]);
#endif
	nsid++;
	ifsid[u] = nsid;
	ifep[u] = ep[u] + 1;
	ifpar[u] = sid[u];
#ifdef BUG_ADD_BEFORE_WELCOME
	send_add(u)
#else
	send_welcome(u)
#endif
}

inline finish_add(u) {
#ifdef BUG_ADD_BEFORE_WELCOME
	send_welcome(u);
#else
	send_add(u);
#endif
	inflight[u] = 0;
	ifsid[u] = 0;
	ifep[u] = 0;
	ifpar[u] = 0;
	wait[u] = nmsg
}

inline send_remove(u) {
	nsid++;
	append(REMOVE, u, pRem[u], ep[u] + 1, sid[u], nsid, 0);
	printf("MSC: #%d u%d -> REMOVE mask %d: sid %d -> sid %d (epoch %d)\n",
		seqno - 1, u, pRem[u], sid[u], nsid, ep[u] + 1);
	wait[u] = nmsg
}

inline create_group(u) {
	nsid++;
	append(CREATE, u, BIT(u), 0, 0, nsid, 0);
	printf("MSC: #%d u%d -> CREATE group (epoch 0, sid %d)\n", seqno - 1, u, nsid);
	conf[u] = true;
	ep[u] = 0;
	mep[u] = 0;
	sid[u] = nsid;
	wait[u] = nmsg
}

/* a user that left holds nothing any more (fewer distinct states, same behaviours) */
inline forget(u) {
	rd[u] = 0;
	vAlive[u] = 0;
	vAdded[u] = 0;
	pAdd[u] = 0;
	pRem[u] = 0;
	ep[u] = 0;
	mep[u] = 0;
	sid[u] = 0;
	conf[u] = false;
	wait[u] = 0;
	inflight[u] = 0;
	ifsid[u] = 0;
	ifep[u] = 0;
	ifpar[u] = 0
}

#define CAN_ACT(u) (ISALIVE(u) && inflight[u] == 0 && rd[u] >= wait[u])
#define IS_DC(u) (CAN_ACT(u) && conf[u] && sid[u] != 0 && BELIEVES_DC(u))
#define MUST_CREATE(u) (CAN_ACT(u) && MEMBERS(u) == 0 && LOWBIT(vAlive[u]) == BIT(u))

#define ACT_ENABLED(u) ((IS_DC(u) && (pAdd[u] | pRem[u]) != 0) || MUST_CREATE(u))
hidden byte hb;

proctype User(byte u) {
end:
	do
	:: d_step { ISALIVE(u) && inflight[u] == 0 && rd[u] < nmsg ->
		/* Reads are local: nobody else looks at u's view.  So u reads on in one step
		 * while nothing visible happens: it stops where it could act, where its DC
		 * belief changes, and at the end of the log (every such point is a state). */
		hb = BELIEVES_DC(u);
		do
		:: read_one(u);
			check_always();
			if
			:: rd[u] < nmsg && !ACT_ENABLED(u) && BELIEVES_DC(u) == hb -> skip
			:: else -> break
			fi
		od;
		compact();
		hb = 0 }
	:: d_step { IS_DC(u) && pAdd[u] != 0 -> start_add(u); step_done() }
	:: d_step { ISALIVE(u) && inflight[u] != 0 -> finish_add(u); step_done() }
	:: d_step { IS_DC(u) && pAdd[u] == 0 && pRem[u] != 0 -> send_remove(u); step_done() }
	:: d_step { MUST_CREATE(u) -> create_group(u); step_done() }
	:: d_step { ISALIVE(u) && leaves < MAXLEAVE ->
		alive = alive & ~BIT(u);
		leaves++;
		forget(u);
		append(LEFT, u, BIT(u), 0, 0, 0, 0);
		printf("MSC: #%d DS -> LEFT u%d\n", seqno - 1, u);
		step_done() }
	od
}

proctype DeliveryService() {
end:
	do
	:: d_step { joined < N ->
		/* the joiner reads from its own JOINED on, knowing who is alive (hello.members) */
		vAlive[joined] = alive;
		rd[joined] = nmsg;
		alive = alive | BIT(joined);
		append(JOINED, joined, BIT(joined), 0, 0, 0, 0);
		printf("MSC: #%d DS -> JOINED u%d\n", seqno - 1, joined);
		joined++;
		step_done() }
	od
}

/* u has nothing to do: left, or read everything with nothing to send */
#define IDLE(u) (!ISALIVE(u) || (inflight[u] == 0 && rd[u] == nmsg \
	&& !(IS_DC(u) && (pAdd[u] | pRem[u]) != 0) && !MUST_CREATE(u)))
#if N == 2
#define QUIESCENT (IDLE(0) && IDLE(1))
#elif N == 3
#define QUIESCENT (IDLE(0) && IDLE(1) && IDLE(2))
#elif N == 4
#define QUIESCENT (IDLE(0) && IDLE(1) && IDLE(2) && IDLE(3))
#elif N == 5
#define QUIESCENT (IDLE(0) && IDLE(1) && IDLE(2) && IDLE(3) && IDLE(4))
#elif N == 6
#define QUIESCENT (IDLE(0) && IDLE(1) && IDLE(2) && IDLE(3) && IDLE(4) && IDLE(5))
#else
#error "N must be 2..6"
#endif

hidden byte no_pendings;
hidden byte equal_epochs;
hidden byte same_group_state;
hidden byte every_join_welcomed;
hidden byte every_welcome_added;
hidden byte ref;

/* Every quiescent state (all users caught up, nobody has anything to send) is checked as
 * a termination state, even when the DS could still order joins or leaves later. */
active proctype Termination() {
end:
	do
	:: d_step { QUIESCENT ->
		no_pendings = true;
		equal_epochs = true;
		same_group_state = true;
		every_join_welcomed = true;
		every_welcome_added = true;
		ref = 255;
		hi = 0;
		do
		:: hi < N ->
			if
			:: ISALIVE(hi) ->
				no_pendings = (no_pendings && pAdd[hi] == 0 && pRem[hi] == 0);
				every_join_welcomed = (every_join_welcomed && sid[hi] != 0);
				every_welcome_added = (every_welcome_added && conf[hi]);
				if
				:: ref == 255 -> ref = hi
				:: else ->
					equal_epochs = (equal_epochs && mep[hi] == mep[ref]);
					same_group_state = (same_group_state && sid[hi] == sid[ref]
						&& ep[hi] == ep[ref])
				fi
			:: else
			fi;
			hi++
		:: else -> break
		od;
		assert(every_join_welcomed);
		assert(every_welcome_added);
		assert(no_pendings);
		assert(equal_epochs);
		assert(same_group_state) }
	od
}

init {
	atomic {
		byte i = 0;
		do
		:: i < N -> run User(i); i++
		:: else -> break
		od;
		run DeliveryService()
	}
}
