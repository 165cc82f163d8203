// The room's MLS client, in a dedicated worker: the WebSocket to the delivery service
// (waict/room, docs/room.md), the MLS group (ts-mls, pinned in web/room/package.json and
// bundled by esbuild at set-up), the designated-committer rule (committer.js, a port of
// waict/room/committer.py with "latest Welcome wins"), the safety number, and the frame
// encryption of RTCRtpScriptTransform (every encoded frame becomes an MLS PrivateMessage
// of the current epoch; the VP8 header bytes the SFU needs stay in clear).
//
// The page (room.js) only shows what this worker posts: {type: "ready"} once ts-mls runs
// here, then {type: "status", ...} after every change.
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultAuthenticationService,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroupWithExtensions,
  processPrivateMessage,
} from "ts-mls";
// not in ts-mls's index, but exported by its package ("./*.js"): the sender of a frame
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { Committer, eventFromFrame } from "./committer.js";

const SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
// Set explicitly, for media (the defaults suit chat): a video frame is one MLS message,
// so one sender's generation advances 30 times a second.
export const CLIENT_CONFIG = {
  keyRetentionConfig: {
    // frames reordered or late by up to ~2 s at 30 frames/s still decrypt
    retainKeysForGenerations: 64,
    // frames in flight from the previous epoch right after a commit still decrypt
    retainKeysForEpochs: 2,
    // a gap of up to ~30 s of lost frames at 30 frames/s (the receiver ratchets forward)
    maximumForwardRatchetSteps: 1024,
  },
  // no padding: the default pads every message to 256 bytes, which would double small
  // (audio, delta) frames; frame sizes are visible to the SFU anyway
  paddingConfig: { kind: "alwaysPad", paddingLength: 0 },
  lifetimeConfig: defaultLifetimeConfig,
  keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
  authService: defaultAuthenticationService,
};
// A GroupInfo extension (private-use type) the committer puts in every Welcome: the
// roster of the new state, uid -> credential identity (hex), signed with the GroupInfo.
const ROSTER_EXTENSION = 0xf0a1;
// VP8 bytes left in clear (the payload header: key frames 10, delta frames 3; RFC 6386)
const VP8_CLEAR_KEY = 10;
const VP8_CLEAR_DELTA = 3;

const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const b64 = (b) => {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

let impl = null;
let keyPackage = null; // {publicPackage, privatePackage}: kept until my own Add arrives
let identity = ""; // my credential identity (hex)
let ws = null;
let uid = 0;
let committer = null;
let group = null; // ts-mls ClientState of the state the committer holds
let groupId = null;
const ownCommits = new Map(); // state id -> ClientState of a commit I sent, until read back
const keyPackages = new Map(); // uid -> KeyPackage (from user_joined)
const identities = new Map(); // uid -> identity hex
let safety = "";
let removed = false;
let failures = [];
let encryptFrames = true;
let welcomeRule = "latest"; // "first": the published rule, which strands joiners (tests)
let dieAfterWelcomeTo = 0; // a uid: crash right after sending its Welcome (tests)
let dead = false;
let welcomesTaken = 0;
let initKeyErased = false;
const stats = {
  sent: 0, // frames encrypted and sent
  decrypted: {}, // sender uid -> frames decrypted
  undecryptable: 0,
  dropped: 0, // frames of senders not in the group: never rendered
  mislabeled: 0, // frames whose MLS sender is not the member the SFU said: never rendered
  chatSent: 0,
  chatDecrypted: {},
  chatUndecryptable: 0,
};
let chain = Promise.resolve(); // every MLS operation runs in order, one at a time

let queued = 0; // operations waiting in the chain (shown in the status)

function serial(fn) {
  queued += 1;
  const run = chain.then(fn).finally(() => {
    queued -= 1;
  });
  chain = run.catch((e) => fail(String(e && e.stack ? e.stack : e)));
  return run;
}

function fail(message) {
  failures.push(message);
  if (failures.length > 20) failures = failures.slice(-20);
  postStatus();
}

function stateOf(s) {
  return { epoch: Number(s.groupContext.epoch), stateId: hex(s.keySchedule.epochAuthenticator) };
}

async function safetyNumber(authenticator) {
  // 30 digits, six groups of five, from SHA-256 over a label and the epoch authenticator:
  // everyone in one group state sees the same number; another state (a fork, a
  // man in the middle) gives another number.
  const data = new Uint8Array([...enc.encode("waict-room safety number v1\0"), ...authenticator]);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const groups = [];
  for (let i = 0; i < 6; i++) {
    let n = 0;
    for (let j = 0; j < 5; j++) n = (n * 256 + d[i * 5 + j]) % 100000;
    groups.push(String(n).padStart(5, "0"));
  }
  return groups.join(" ");
}

function rosterUids() {
  if (!committer || !committer.state) return [];
  return [...committer.added].sort((a, b) => a - b);
}

function postStatus() {
  postMessage({
    type: "status",
    uid,
    epoch: committer && committer.state ? committer.state.epoch : null,
    stateId: committer && committer.state ? committer.state.stateId : null,
    safety,
    members: rosterUids(),
    alive: committer ? [...committer.alive].sort((a, b) => a - b) : [],
    confirmed: committer ? committer.confirmed : false,
    dc: committer ? committer.believesDc() : false,
    removed,
    ignoredCommits: committer ? committer.ignoredCommits : 0,
    welcomesTaken,
    at: Date.now(),
    queued,
    initKeyErased,
    failures,
    stats,
  });
}

async function setGroup(state) {
  group = state;
  safety = state ? await safetyNumber(state.keySchedule.epochAuthenticator) : "";
}

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

// --- the roster extension --------------------------------------------------------------

function rosterExtension(uids) {
  const map = {};
  for (const u of uids) map[u] = identities.get(u);
  return { extensionType: ROSTER_EXTENSION, extensionData: enc.encode(JSON.stringify(map)) };
}

function leafIdentities(state) {
  // leaf index -> identity hex, from the ratchet tree (leaves are the even nodes)
  const out = new Map();
  state.ratchetTree.forEach((node, i) => {
    if (i % 2 === 0 && node && node.nodeType === "leaf") {
      out.set(i / 2, hex(node.leaf.credential.identity));
    }
  });
  return out;
}

// --- reading the room's order ----------------------------------------------------------

async function onFrame(frame) {
  if (dead) return;
  switch (frame.type) {
    case "hello":
      uid = frame.uid;
      identities.set(uid, identity);
      committer = new Committer(uid, frame.members, welcomeRule);
      setInterval(() => send({ type: "heartbeat" }), frame.limits.heartbeat_interval * 1000);
      setInterval(postStatus, 1000); // frame counts move between the room's messages
      break;
    case "user_joined": {
      const msg = decodeMlsMessage(unb64(frame.key_package), 0)[0];
      if (msg.wireformat !== "mls_key_package") throw new Error("user_joined without a KeyPackage");
      keyPackages.set(frame.uid, msg.keyPackage);
      identities.set(frame.uid, hex(msg.keyPackage.leafNode.credential.identity));
      committer.receive(eventFromFrame(frame));
      break;
    }
    case "user_left":
      committer.receive(eventFromFrame(frame));
      keyPackages.delete(frame.uid);
      break;
    case "mls":
      if (frame.kind === "welcome") await onWelcome(frame);
      else if (frame.kind === "commit") await onCommit(frame);
      else if (frame.kind === "application") await onApplication(frame);
      break;
    case "error":
      fail(`delivery service: ${frame.code}: ${frame.message}`);
      break;
    default:
      break;
  }
  await act();
  if (committer && committer.confirmed && !initKeyErased) {
    // my own Add (or the creation) is read: no Welcome will be taken any more, so the
    // KeyPackage's init key, which opens Welcomes, goes ("latest Welcome wins" kept it)
    keyPackage.privatePackage.initPrivateKey.fill(0);
    initKeyErased = true;
  }
  postStatus();
}

async function onWelcome(frame) {
  const event = eventFromFrame(frame);
  if (!committer.takesWelcome(event)) return;
  const msg = decodeMlsMessage(unb64(frame.data), 0)[0];
  if (msg.wireformat !== "mls_welcome") throw new Error("a welcome frame without a Welcome");
  // "latest Welcome wins": the KeyPackage's private keys stay until my own Add arrives
  const [state, extensions] = await joinGroupWithExtensions(
    msg.welcome, keyPackage.publicPackage, keyPackage.privatePackage, emptyPskIndex, impl,
    undefined, undefined, CLIENT_CONFIG,
  );
  const got = stateOf(state);
  if (got.epoch !== frame.epoch || got.stateId !== frame.state) {
    throw new Error(`a Welcome's metadata does not match its MLS state (${got.epoch})`);
  }
  const ext = extensions.find((e) => e.extensionType === ROSTER_EXTENSION);
  if (!ext) throw new Error("a Welcome without the roster extension");
  const roster = JSON.parse(dec.decode(ext.extensionData));
  const byLeaf = new Set(leafIdentities(state).values());
  for (const [u, id] of Object.entries(roster)) {
    if (!byLeaf.has(id)) throw new Error(`roster uid ${u} is not in the ratchet tree`);
    identities.set(Number(u), id);
  }
  if (roster[uid] !== identity) throw new Error("the roster does not name me");
  groupId = state.groupContext.groupId;
  welcomesTaken += 1;
  await setGroup(state);
  committer.receive({ ...event, roster: new Set(Object.keys(roster).map(Number)) });
}

async function onCommit(frame) {
  const event = eventFromFrame(frame);
  if (event === null) return;
  const effect = committer.commitEffect(event);
  if (effect === "apply") {
    let next = null;
    if (event.sender === uid && ownCommits.has(event.state.stateId)) {
      next = ownCommits.get(event.state.stateId);
    } else {
      const msg = decodeMlsMessage(unb64(frame.data), 0)[0];
      if (msg.wireformat !== "mls_private_message") throw new Error("a commit that is not private");
      const result = await processPrivateMessage(group, msg.privateMessage, emptyPskIndex, impl);
      if (result.kind !== "newState") throw new Error("a commit frame carried application data");
      next = result.newState;
    }
    ownCommits.clear();
    if (next.groupActiveState.kind === "removedFromGroup") {
      removed = true;
      await setGroup(null);
    } else {
      const got = stateOf(next);
      if (got.epoch !== event.state.epoch || got.stateId !== event.state.stateId) {
        throw new Error(`commit metadata (${event.state.epoch}) does not match MLS (${got.epoch})`);
      }
      checkTargets(frame, next);
      await setGroup(next);
    }
  }
  committer.receive(event);
  if (removed) committer.state = null;
}

function checkTargets(frame, next) {
  // the relayed op and targets must be what MLS says the commit did
  const leaves = new Set(leafIdentities(next).values());
  for (const t of frame.targets) {
    const id = identities.get(t);
    const present = id !== undefined && leaves.has(id);
    if (frame.op === "add" && !present) throw new Error(`an Add of ${t} that MLS did not add`);
    if (frame.op === "remove" && present) throw new Error(`a Remove of ${t} that MLS kept`);
  }
}

async function onApplication(frame) {
  const msg = decodeMlsMessage(unb64(frame.data), 0)[0];
  if (frame.from === uid) return;
  if (!group || msg.wireformat !== "mls_private_message") {
    stats.chatUndecryptable += 1;
    return;
  }
  try {
    const result = await processPrivateMessage(group, msg.privateMessage, emptyPskIndex, impl);
    group = result.newState;
    if (result.kind === "applicationMessage") {
      stats.chatDecrypted[frame.from] = (stats.chatDecrypted[frame.from] || 0) + 1;
    }
  } catch (e) {
    stats.chatUndecryptable += 1;
  }
}

// --- acting as the designated committer ----------------------------------------------

async function act() {
  for (;;) {
    const action = committer.nextAction();
    if (action === null) return;
    if (action.kind === "create") {
      groupId = crypto.getRandomValues(new Uint8Array(16));
      const state = await createGroup(
        groupId, keyPackage.publicPackage, keyPackage.privatePackage, [], impl, CLIENT_CONFIG,
      );
      await setGroup(state);
      committer.committed(action, stateOf(state));
      continue;
    }
    const parent = committer.state.stateId;
    let proposals;
    const options = { ratchetTreeExtension: true };
    if (action.kind === "add") {
      const target = action.targets[0];
      proposals = [{ proposalType: "add", add: { keyPackage: keyPackages.get(target) } }];
      options.groupInfoExtensions = [rosterExtension(committer.welcomeRoster(target))];
    } else {
      const leaves = leafIdentities(group);
      proposals = [];
      for (const t of action.targets) {
        for (const [leaf, id] of leaves) {
          if (id === identities.get(t)) proposals.push({ proposalType: "remove", remove: { removed: leaf } });
        }
      }
    }
    const result = await createCommit(
      { state: group, cipherSuite: impl, pskIndex: emptyPskIndex },
      { ...options, extraProposals: proposals },
    );
    const next = stateOf(result.newState);
    const meta = { targets: action.targets, epoch: next.epoch, parent, state: next.stateId };
    ownCommits.set(next.stateId, result.newState);
    if (action.kind === "add") {
      const welcome = encodeMlsMessage({ welcome: result.welcome, wireformat: "mls_welcome", version: "mls10" });
      send({ type: "mls", kind: "welcome", ...meta, data: b64(welcome) }); // the Welcome first
      if (action.targets[0] === dieAfterWelcomeTo) {
        // fault injection (tests): the committer dies between the Welcome and the Add
        dead = true;
        ws.close();
        return;
      }
    }
    send({ type: "mls", kind: "commit", op: action.kind, ...meta, data: b64(encodeMlsMessage(result.commit)) });
    committer.committed(action, next);
  }
}

// --- chat: one application message a second, to count what each member decrypts -------

async function sendChat() {
  if (!group || removed || !committer.confirmed) return;
  const text = enc.encode(`chat ${stats.chatSent + 1} from ${uid}`);
  const result = await createApplicationMessage(group, text, impl);
  group = result.newState;
  const data = encodeMlsMessage({
    privateMessage: result.privateMessage, wireformat: "mls_private_message", version: "mls10",
  });
  send({ type: "mls", kind: "application", data: b64(data) });
  stats.chatSent += 1;
}

// --- frame encryption (RTCRtpScriptTransform) ----------------------------------------

function clearBytes(frame) {
  if (frame.type === undefined) return 0; // audio: nothing the SFU needs
  return frame.type === "key" ? VP8_CLEAR_KEY : VP8_CLEAR_DELTA;
}

async function encryptFrame(frame, controller) {
  if (!encryptFrames) {
    controller.enqueue(frame);
    return;
  }
  if (!group || removed) return; // nothing leaves before the group exists
  const data = new Uint8Array(frame.data);
  const n = Math.min(clearBytes(frame), data.length);
  const header = data.subarray(0, n);
  const result = await createApplicationMessage(group, data.subarray(n), impl, header);
  group = result.newState;
  const body = encodeMlsMessage({
    privateMessage: result.privateMessage, wireformat: "mls_private_message", version: "mls10",
  });
  const out = new Uint8Array(n + body.length);
  out.set(header, 0);
  out.set(body, n);
  frame.data = out.buffer;
  stats.sent += 1;
  controller.enqueue(frame);
}

// The uid of a PrivateMessage's sender, from MLS itself (its encrypted sender data names
// a leaf; processPrivateMessage then checks that leaf's signature), if that leaf is a
// member of the current group; null if it is not; undefined if the sender data does not
// decrypt (an epoch this member has no keys for).
async function senderUid(pm) {
  const current = pm.epoch === group.groupContext.epoch;
  const secret = current
    ? group.keySchedule.senderDataSecret
    : group.historicalReceiverData.get(pm.epoch)?.senderDataSecret;
  if (!secret) return undefined;
  let data;
  try {
    data = await decryptSenderData(pm, secret, impl);
  } catch (e) {
    return undefined;
  }
  if (!data) return undefined;
  const id = leafIdentities(group).get(data.leafIndex); // the current tree: no removed leaf
  for (const [u, i] of identities) if (i === id && committer.added.has(u)) return u;
  return null;
}

async function decryptFrame(frame, controller, senderHint) {
  if (!committer || !committer.added.has(senderHint)) {
    stats.dropped += 1; // not a member of the group (removed, or not added yet): not rendered
    return;
  }
  const data = new Uint8Array(frame.data);
  const n = Math.min(clearBytes(frame), data.length);
  let msg;
  try {
    msg = decodeMlsMessage(data.subarray(n), 0)[0];
  } catch (e) {
    msg = null;
  }
  if (!group || removed || !msg || msg.wireformat !== "mls_private_message") {
    stats.undecryptable += 1;
    return; // never rendered
  }
  try {
    // the SFU says whose track this is; MLS says who sent the frame: they must agree, or
    // a member's frames could be shown as another's
    const sender = await senderUid(msg.privateMessage);
    if (sender === undefined) throw new Error("no keys for this epoch");
    if (sender !== senderHint) {
      stats.mislabeled += 1;
      return;
    }
    const result = await processPrivateMessage(group, msg.privateMessage, emptyPskIndex, impl);
    group = result.newState;
    if (result.kind !== "applicationMessage") throw new Error("not application data");
    const plain = result.message;
    const out = new Uint8Array(n + plain.length);
    out.set(data.subarray(0, n), 0);
    out.set(plain, n);
    frame.data = out.buffer;
    stats.decrypted[senderHint] = (stats.decrypted[senderHint] || 0) + 1;
    controller.enqueue(frame);
  } catch (e) {
    stats.undecryptable += 1; // a removed member's frame, another epoch: dropped
  }
}

self.onrtctransform = (event) => {
  const { side, sender } = event.transformer.options;
  const transform = new TransformStream({
    transform: (frame, controller) =>
      serial(() => (side === "send" ? encryptFrame(frame, controller) : decryptFrame(frame, controller, sender))),
  });
  event.transformer.readable.pipeThrough(transform).pipeTo(event.transformer.writable);
};

// --- the page's commands ---------------------------------------------------------------

self.onmessage = (event) => {
  const m = event.data;
  if (m.type === "join") {
    welcomeRule = m.welcomeRule === "first" ? "first" : "latest";
    dieAfterWelcomeTo = Number(m.dieAfterWelcomeTo || 0);
    ws = new WebSocket(m.url);
    ws.onopen = () => {
      const kp = encodeMlsMessage({ keyPackage: keyPackage.publicPackage, wireformat: "mls_key_package", version: "mls10" });
      ws.send(JSON.stringify({ type: "join", key_package: b64(kp) }));
    };
    ws.onmessage = (e) => {
      const frame = JSON.parse(e.data);
      serial(() => onFrame(frame));
    };
    ws.onclose = (e) => fail(`connection closed (${e.code})`);
    if (m.chat) setInterval(() => serial(sendChat), m.chat);
  } else if (m.type === "leave") {
    send({ type: "leave" });
    if (ws) ws.close();
  } else if (m.type === "encrypt") {
    encryptFrames = Boolean(m.on);
  }
};

(async () => {
  try {
    impl = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
    identity = hex(crypto.getRandomValues(new Uint8Array(16)));
    const credential = { credentialType: "basic", identity: enc.encode(identity) };
    keyPackage = await generateKeyPackage(credential, defaultCapabilities(), defaultLifetime, [], impl);
    identity = hex(enc.encode(identity));
    postMessage({ type: "ready", suite: SUITE });
  } catch (e) {
    postMessage({ type: "error", message: String(e) });
  }
})();
